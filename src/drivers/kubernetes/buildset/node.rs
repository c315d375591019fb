//! A buildset pod node: its pod in the buildset's namespace, with credentials of its own
//! ([`access`]), ready when they can exec into it. Without a buildset uuid or a namespace of
//! the buildset it is an ordinary pod node in a namespace of its own.
//!
//! The pod is made first (everything else is owned by it). A failed attempt, and deleting
//! the node, remove the pod, service account, token, Role and RoleBinding — never the
//! namespace; an object already gone (the parent's namespace deleted first) counts as
//! removed.

use super::super::{KubernetesDriver, pod_node};
use super::{BUILDSET_LABEL, access, external_id, parent};
use crate::drivers::common::connection_port::{Flavor, NodeRecord, Reach};
use crate::drivers::common::label::Label;
use crate::drivers::common::pod_body::PodBody;
use crate::drivers::common::{api, launch_attempt, pod_account, pod_launch};
use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, DeleteParams};
use kubepool_driver_api::{LaunchError, LaunchProgress, LaunchedNode, NodeSpec};
use tokio::time::Instant;
use tracing::info;

pub async fn launch(
    driver: &KubernetesDriver,
    spec: &NodeSpec,
    label: &Label,
    body: &PodBody,
    progress: &dyn LaunchProgress,
) -> Result<LaunchedNode, LaunchError> {
    // Boxed: the fallback's future inside this one would double its size on the stack.
    let fallback = || Box::pin(pod_node::launch(driver, spec, label, body, progress));
    let Some(uuid) = super::uuid(spec) else {
        return fallback().await;
    };
    let Some(namespace) = parent::find(driver, &uuid).await? else {
        info!(buildset = %uuid, node = %spec.node_id, "no namespace of the buildset: the pod gets a namespace of its own");
        return fallback().await;
    };
    let provider = &driver.provider;
    let pod = provider.naming.pod(spec);
    let id = external_id(&namespace, &pod);
    progress.external_id(&id).await;
    let started = Instant::now();
    let deadline = started + provider.timeouts.pod_start;
    let client = &provider.cluster.client;
    let attempt = async {
        let mut labels = provider.object_labels(spec, label)?;
        labels.insert(BUILDSET_LABEL.to_string(), uuid.clone());
        let uid = pod_launch::create_pod(client, &namespace, &pod, body, &labels).await?;
        let owner = pod_account::owned_by_pod(&pod, &uid);
        let role = access::role(&namespace, &pod, &labels, &owner);
        let (credentials, host) = tokio::try_join!(
            pod_account::grant(&provider.cluster, &namespace, &pod, &owner, &labels, role, provider.timeouts.token),
            pod_launch::wait_running(client, &namespace, &pod, body, deadline),
        )?;
        pod_launch::wait_exec_works(&provider.cluster, &namespace, &credentials, &pod, body.container(), deadline)
            .await?;
        Ok((credentials, host))
    };
    let (credentials, host) = launch_attempt::or_undo("pod", &id, attempt, || delete(driver, &namespace, &pod)).await?;
    info!(namespace = %namespace, pod = %pod, buildset = %uuid, host = host.as_deref(),
        elapsed_ms = started.elapsed().as_millis() as u64, "pod ready in the buildset's namespace");
    let reach = Reach::SharedNamespacePod(&pod);
    let record = NodeRecord { cluster: &provider.cluster, flavor: Flavor::Kubernetes, namespace: &namespace, reach };
    Ok(record.launched(id, credentials, host, &label.spec))
}

/// Deletes the node's pod (1 s grace: its job is over), service account, token Secret, Role
/// and RoleBinding in `namespace`, and waits until the pod is gone.
pub async fn delete(driver: &KubernetesDriver, namespace: &str, pod: &str) -> Result<(), String> {
    let client = &driver.provider.cluster.client;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let quick = DeleteParams { grace_period_seconds: Some(1), ..DeleteParams::background() };
    api::delete_if_present(&pods, pod, &quick).await?;
    let background = DeleteParams::background();
    let secret = pod_account::token_secret_name(pod);
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), namespace);
    let roles: Api<Role> = Api::namespaced(client.clone(), namespace);
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    tokio::try_join!(
        api::delete_if_present(&bindings, pod, &background),
        api::delete_if_present(&roles, pod, &background),
        api::delete_if_present(&accounts, pod, &background),
        api::delete_if_present(&secrets, &secret, &background),
    )?;
    api::delete_and_wait(&pods, pod, driver.provider.timeouts.delete).await
}
