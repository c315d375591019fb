//! The steps of a pod node that every driver shares (reference §4.3 step 3–4, §4.4 step 5,
//! §4.5): create the pod, watch it until its container runs (failing fast with the cluster's
//! reason and recent warning events), and prove the node's *own* credentials can exec into it.

use super::kubernetes::pod_body::PodBody;
use super::kubernetes::token::Credentials;
use super::kubernetes::{api, pod_start};
use crate::k8s::{ClusterInfo, NodeCredentials};
use k8s_openapi::api::core::v1::{Event, Node, Pod, ServiceAccount};
use kube::api::Api;
use kube::runtime::wait::await_condition;
use kubepool_driver_api::LaunchError;
use std::collections::BTreeMap;
use tokio::time::Instant;
use tracing::debug;

/// Waits (by watch) until namespace `namespace` has its `default` service account: the API
/// refuses pods in a namespace whose service-account controller has not made it yet.
pub async fn wait_for_default_account(
    client: &kube::Client,
    namespace: &str,
    deadline: Instant,
) -> Result<(), LaunchError> {
    let service_accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let default_account = await_condition(service_accounts, "default", |sa: Option<&ServiceAccount>| sa.is_some());
    match tokio::time::timeout_at(deadline, default_account).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(LaunchError::Transient(format!("watching the default service account: {e}"))),
        Err(_) => Err(LaunchError::Transient("the namespace got no default service account in time".into())),
    }
}

/// Creates the pod `name` of `body` in `namespace` (an existing one counts as created) and
/// returns its UID, for owner references.
pub async fn create_pod(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    body: &PodBody,
    labels: &BTreeMap<String, String>,
) -> Result<String, LaunchError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let created = api::create_or_existing(&pods, &body.pod(name, namespace, labels))
        .await
        .map_err(|e| api::launch_error("create pod", e))?;
    debug!(namespace, pod = name, "pod created");
    let pod = match created {
        Some(pod) => pod,
        None => pods.get(name).await.map_err(|e| api::launch_error("read the existing pod", e))?,
    };
    pod.metadata.uid.ok_or_else(|| LaunchError::Transient(format!("pod {name} has no uid")))
}

/// Watches pod `name` until its exec container runs; returns the Kubernetes node it runs on.
pub async fn wait_running(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    body: &PodBody,
    deadline: Instant,
) -> Result<Option<String>, LaunchError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let nodes: Api<Node> = Api::all(client.clone());
    match pod_start::wait_until_running(&pods, &nodes, name, body.container(), body.spec(), deadline).await {
        Err(error) => Err(with_events(error, &Api::namespaced(client.clone(), namespace), name).await),
        ok => ok,
    }
}

/// Waits until `credentials` (the node's own) can exec into the pod's container.
pub async fn wait_exec_works(
    cluster: &ClusterInfo,
    namespace: &str,
    credentials: &Credentials,
    pod: &str,
    container: &str,
    deadline: Instant,
) -> Result<(), LaunchError> {
    let node_credentials = NodeCredentials {
        server: cluster.server.clone(),
        namespace: namespace.to_string(),
        token: credentials.token.clone(),
        ca_crt_base64: Some(credentials.ca_crt_base64.clone()),
        skip_tls_verify: cluster.skip_tls_verify,
    };
    let node_client = node_credentials
        .client()
        .await
        .map_err(|e| LaunchError::Transient(format!("client with the node's credentials: {e}")))?;
    pod_start::wait_until_exec_works(&Api::namespaced(node_client.client, namespace), pod, container, deadline).await
}

/// Adds the pod's recent warning events to a launch error's reason.
async fn with_events(error: LaunchError, events: &Api<Event>, pod: &str) -> LaunchError {
    let events = pod_start::warning_events(events, pod).await;
    if events.is_empty() {
        return error;
    }
    let suffix = format!(" [events: {}]", events.join("; "));
    match error {
        LaunchError::Permanent(why) => LaunchError::Permanent(why + &suffix),
        LaunchError::Transient(why) => LaunchError::Transient(why + &suffix),
        LaunchError::Quota(why) => LaunchError::Quota(why + &suffix),
    }
}
