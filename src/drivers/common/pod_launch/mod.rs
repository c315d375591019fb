//! The steps of a pod node that every driver shares (reference §4.3 step 3–4, §4.4 step 5,
//! §4.5): create the pod, watch it until its container runs (failing fast with the cluster's
//! reason and recent warning events), and prove the node's *own* credentials can exec into it.

pub mod pod_start;
pub mod pod_status;
pub mod schedulable;

use crate::drivers::common::api;
use crate::drivers::common::pod_body::PodBody;
use crate::drivers::common::token::Credentials;
use crate::drivers::common::wait_progress::{self, Ticker};
use crate::k8s::{ClusterInfo, NodeCredentials};
use k8s_openapi::api::core::v1::{Event, Node, Pod, ServiceAccount};
use kube::api::Api;
use kube::runtime::wait::await_condition;
use kubepool_driver_api::LaunchError;
use std::collections::BTreeMap;
use tokio::time::Instant;
use tracing::{debug, info};

/// Starts the pod of a node that has a namespace of its own: waits for the namespace's `default`
/// service account, creates the pod and watches it until its exec container runs. Returns the
/// Kubernetes node it runs on.
pub async fn start(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    body: &PodBody,
    labels: &BTreeMap<String, String>,
    deadline: Instant,
) -> Result<Option<String>, LaunchError> {
    wait_for_default_account(client, namespace, deadline).await?;
    create_pod(client, namespace, name, body, labels).await?;
    wait_running(client, namespace, name, body, deadline).await
}

/// Waits (by watch) until namespace `namespace` has its `default` service account: the API
/// refuses pods in a namespace whose service-account controller has not made it yet.
pub async fn wait_for_default_account(
    client: &kube::Client,
    namespace: &str,
    deadline: Instant,
) -> Result<(), LaunchError> {
    let service_accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let default_account = await_condition(service_accounts, "default", |sa: Option<&ServiceAccount>| sa.is_some());
    let waited = wait_progress::until(default_account, deadline, wait_progress::EVERY, |waited| {
        info!(namespace, waited_seconds = waited.as_secs(), "waiting for the namespace's default service account");
    });
    match waited.await {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(LaunchError::Transient(format!("watching the default service account: {e}"))),
        None => Err(LaunchError::Transient("the namespace got no default service account in time".into())),
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
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    match pod_start::wait_until_running(&pods, &nodes, &events, name, body.container(), body.spec(), deadline).await {
        Err(error) => Err(with_events(error, &events, name).await),
        ok => ok,
    }
}

/// A client acting with the node's own credentials in `namespace`, as its user will.
async fn node_client(
    cluster: &ClusterInfo,
    namespace: &str,
    credentials: &Credentials,
) -> Result<ClusterInfo, LaunchError> {
    NodeCredentials::on(cluster, namespace, &credentials.token, &credentials.ca_crt_base64)
        .client()
        .await
        .map_err(|e| LaunchError::Transient(format!("client with the node's credentials: {e}")))
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
    let node_client = node_client(cluster, namespace, credentials).await?;
    pod_start::wait_until_exec_works(&Api::namespaced(node_client.client, namespace), pod, container, deadline).await
}

/// How often a refused admission check is tried again (the refusals it waits out last a few
/// hundred milliseconds: the service-account controller, the RBAC authorizer's cache).
const ADMISSION_RETRY: std::time::Duration = std::time::Duration::from_millis(250);

/// Waits until the node's *own* credentials can create a pod in `namespace`, by a server-side
/// dry run: it passes authentication, RBAC and every admission plugin (ServiceAccount admission
/// among them, which refuses pods until the namespace's `default` account — and before
/// Kubernetes 1.24 its token — exists) and leaves nothing behind. A namespace node is ready
/// only then: a job that creates a pod at once must not be refused. Refusals other than
/// those (a quota or policy of the cluster's own) are no reason to hold the node back.
pub async fn wait_pods_admitted(
    cluster: &ClusterInfo,
    namespace: &str,
    credentials: &Credentials,
    deadline: Instant,
) -> Result<(), LaunchError> {
    wait_for_default_account(&cluster.client, namespace, deadline).await?;
    let node_client = node_client(cluster, namespace, credentials).await?;
    let pods: Api<Pod> = Api::namespaced(node_client.client, namespace);
    let probe: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kubepool-admission-check"},
        "spec": {"containers": [{"name": "check", "image": "kubepool-admission-check", "imagePullPolicy": "Never"}]},
    }))
    .map_err(|e| LaunchError::Permanent(format!("admission check pod: {e}")))?;
    let dry_run = kube::api::PostParams { dry_run: true, ..Default::default() };
    let mut ticker = Ticker::new(wait_progress::EVERY);
    loop {
        let refusal = match pods.create(&dry_run, &probe).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if not_yet_admitted(status.code, &status.message) => status.message,
            Err(kube::Error::Api(status)) => {
                debug!(namespace, code = status.code, message = %status.message, "admission check refused for another reason; the node is usable");
                return Ok(());
            }
            Err(error) => error.to_string(),
        };
        if Instant::now() + ADMISSION_RETRY >= deadline {
            return Err(LaunchError::Transient(format!("the node's credentials cannot create pods yet: {refusal}")));
        }
        match ticker.due(Instant::now()) {
            Some(waited) => info!(
                namespace,
                waited_seconds = waited.as_secs(),
                %refusal,
                "waiting until the node's credentials may create pods"
            ),
            None => debug!(namespace, %refusal, "pods not admitted yet"),
        }
        tokio::time::sleep(ADMISSION_RETRY).await;
    }
}

/// A refusal that goes away by itself shortly after a namespace and its credentials are made.
fn not_yet_admitted(code: u16, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    code == 401
        || (code == 403 && (message.contains("cannot create resource") || message.contains("service account")))
        || message.contains("no api token found")
        || message.contains("serviceaccount \"default\" not found")
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

#[cfg(test)]
mod tests {
    use super::not_yet_admitted;

    #[test]
    fn passing_refusals_are_told_from_lasting_ones() {
        // Kubernetes 1.20's ServiceAccount admission and RBAC, and Nodepool's burst failure.
        assert!(not_yet_admitted(
            403,
            r#"pods "x" is forbidden: error looking up service account ns/default: serviceaccount "default" not found"#
        ));
        assert!(not_yet_admitted(
            403,
            r#"pods is forbidden: User "system:serviceaccount:ns:ns" cannot create resource "pods" in API group "" in the namespace "ns""#
        ));
        assert!(not_yet_admitted(
            500,
            "No API token found for service account \"default\", retry after the token is automatically created"
        ));
        assert!(not_yet_admitted(401, "Unauthorized"));
        assert!(!not_yet_admitted(403, r#"pods "x" is forbidden: exceeded quota: compute, requested: pods=1"#));
        assert!(!not_yet_admitted(422, "Pod is invalid"));
    }
}
