//! A pod node (reference §4.3): the namespace with restricted credentials ([`access`]) and one
//! pod named after the label, ready only when the node's own credentials can exec into it.
//!
//! The credentials and the pod are made concurrently once the namespace exists. A failed
//! attempt deletes the namespace (with the pod) and waits until it is gone.

use super::access::{self, Grant};
use super::namespace_node::connection_port;
use super::pod_body::PodBody;
use super::{KubernetesDriver, LabelSpec, api, pod_start};
use crate::drivers::metadata;
use crate::k8s::NodeCredentials;
use k8s_openapi::api::core::v1::{Event, Node, Pod, ServiceAccount};
use kube::api::Api;
use kube::runtime::wait::await_condition;
use kubepool_driver_api::{LaunchError, LaunchProgress, LaunchedNode, NodeSpec};
use std::collections::BTreeMap;
use tokio::time::Instant;
use tracing::{debug, info};

pub async fn launch(
    driver: &KubernetesDriver,
    spec: &NodeSpec,
    label: &LabelSpec,
    body: &PodBody,
    progress: &dyn LaunchProgress,
) -> Result<LaunchedNode, LaunchError> {
    let namespace = KubernetesDriver::namespace_name(&spec.pool, &spec.node_id);
    let pod_name = label.name.as_str();
    progress.external_id(&namespace).await;
    let started = Instant::now();
    let attempt = async {
        let labels = metadata::object_labels(spec, &label.labels, &label.dynamic_labels)
            .map_err(|e| LaunchError::Permanent(e.to_string()))?;
        access::create_namespace(driver, &namespace, &labels).await?;
        let (credentials, host) = tokio::try_join!(
            access::grant(driver, &namespace, &labels, Grant::Pod),
            start_pod(driver, &namespace, pod_name, body, &labels),
        )?;
        let node_credentials = NodeCredentials {
            server: driver.cluster.server.clone(),
            namespace: namespace.clone(),
            token: credentials.token.clone(),
            ca_crt_base64: Some(credentials.ca_crt_base64.clone()),
            skip_tls_verify: driver.cluster.skip_tls_verify,
        };
        let node_client = node_credentials
            .client()
            .await
            .map_err(|e| LaunchError::Transient(format!("client with the node's credentials: {e}")))?;
        let deadline = started + driver.timeouts.pod_start;
        pod_start::wait_until_exec_works(
            &Api::namespaced(node_client.client, &namespace),
            pod_name,
            body.container(),
            deadline,
        )
        .await?;
        Ok((credentials, host))
    };
    let (credentials, host) = driver.clean_up_on_failure(&namespace, attempt).await?;
    info!(namespace = %namespace, pod = pod_name, host = ?host, elapsed_ms = started.elapsed().as_millis() as u64,
        "pod ready: its credentials can exec into it");
    Ok(LaunchedNode {
        external_id: namespace.clone(),
        connection_type: "kubectl".to_string(),
        connection_port: connection_port(driver, &namespace, credentials, Some(pod_name)),
        interface_ip: Some(pod_name.to_string()),
        host_id: host,
        python_path: Some(label.python_path.clone()),
        shell_type: label.shell_type.clone(),
        username: None,
        host_keys: Vec::new(),
    })
}

/// Creates the pod and waits until its container runs; returns the Kubernetes node.
async fn start_pod(
    driver: &KubernetesDriver,
    namespace: &str,
    pod_name: &str,
    body: &PodBody,
    labels: &BTreeMap<String, String>,
) -> Result<Option<String>, LaunchError> {
    let client = &driver.cluster.client;
    let deadline = Instant::now() + driver.timeouts.pod_start;
    // The API refuses pods in a namespace whose `default` service account the controller has
    // not made yet; wait for it by watch.
    let service_accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let default_account = await_condition(service_accounts, "default", |sa: Option<&ServiceAccount>| sa.is_some());
    match tokio::time::timeout_at(deadline, default_account).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(LaunchError::Transient(format!("watching the default service account: {e}"))),
        Err(_) => return Err(LaunchError::Transient("the namespace got no default service account in time".into())),
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    api::create_idempotent(&pods, &body.pod(pod_name, namespace, labels))
        .await
        .map_err(|e| api::launch_error("create pod", e))?;
    debug!(namespace, pod = pod_name, "pod created");
    let nodes: Api<Node> = Api::all(client.clone());
    let result = pod_start::wait_until_running(&pods, &nodes, pod_name, body.container(), body.spec(), deadline).await;
    match result {
        Err(error) => Err(with_events(error, &Api::namespaced(client.clone(), namespace), pod_name).await),
        ok => ok,
    }
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
