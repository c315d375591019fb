//! The driver trait: what the launcher asks of a provider's driver.
//!
//! A driver creates the cloud resources of one node, deletes them, lists what it created (for
//! leak detection) and says whether its cloud answers. It never touches ZooKeeper: the launcher
//! records progress ([`LaunchProgress`]) and results ([`LaunchedNode`]) in node records. Every
//! object a driver creates carries the labels the front end names it by (Nodepool's: node id,
//! provider, pool and label), so that after a crash the front end can find it again from the
//! cluster alone. What a label costs in quota is the front end's own arithmetic ([`Resources`]).

#[cfg(doc)]
use crate::resources::Resources;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// What a launch is for: the node id allocated in ZooKeeper, where it belongs, and the request
/// attributes a label's `dynamic-labels` may use (reference §2.4, `{request.X}`).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    pub node_id: String,
    pub provider: String,
    pub pool: String,
    pub label: String,
    pub request: RequestAttributes,
}

/// The request attributes exposed to `dynamic-labels` templates (`getSafeAttributes`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestAttributes {
    pub id: String,
    pub labels: Vec<String>,
    pub requestor: Option<String>,
    pub requestor_data: Option<serde_json::Value>,
    pub relative_priority: i64,
    pub event_id: Option<String>,
    pub created_time: Option<f64>,
    pub tenant_name: Option<String>,
}

/// What a ready node looks like to Zuul (the connection fields of the node record, §2.5/§5).
///
/// Its `Debug` output hides the credentials in `connection_port`.
#[derive(Clone, PartialEq)]
pub struct LaunchedNode {
    /// The resource's name in the cloud (namespace, project, or pool-qualified pod name).
    pub external_id: String,
    /// `kubectl`, `namespace`, `project` (or `ssh`).
    pub connection_type: String,
    /// The credentials dict Zuul's executor builds its kubeconfig from.
    pub connection_port: serde_json::Value,
    /// The pod name for kubectl nodes (it becomes `ansible_host`).
    pub interface_ip: Option<String>,
    /// The Kubernetes node a pod runs on.
    pub host_id: Option<String>,
    pub python_path: Option<String>,
    pub shell_type: Option<String>,
    pub username: Option<String>,
    pub host_keys: Vec<String>,
}

impl std::fmt::Debug for LaunchedNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaunchedNode")
            .field("external_id", &self.external_id)
            .field("connection_type", &self.connection_type)
            .field("connection_port", &redacted(&self.connection_port))
            .field("interface_ip", &self.interface_ip)
            .field("host_id", &self.host_id)
            .field("python_path", &self.python_path)
            .field("shell_type", &self.shell_type)
            .field("username", &self.username)
            .field("host_keys", &self.host_keys)
            .finish()
    }
}

/// `value` with every `token` entry replaced, for logs and debug output.
pub fn redacted(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if k == "token" && !v.is_null() { "<redacted>".into() } else { redacted(v) };
                    (k.clone(), v)
                })
                .collect(),
        ),
        serde_json::Value::Array(items) => serde_json::Value::Array(items.iter().map(redacted).collect()),
        other => other.clone(),
    }
}

/// Progress a launch reports while it runs, so the launcher can record it before going on.
#[async_trait]
pub trait LaunchProgress: Send + Sync {
    /// The resource's external id is known (its first object exists or is about to be made).
    async fn external_id(&self, external_id: &str);
}

/// A [`LaunchProgress`] that records nothing (for tests and tools).
pub struct NoProgress;

#[async_trait]
impl LaunchProgress for NoProgress {
    async fn external_id(&self, _: &str) {}
}

/// Why a launch did not produce a node. The launcher decides what follows from the kind.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// Worth another attempt (`launch-retries`): an API fault, a timeout, a race.
    #[error("{0}")]
    Transient(String),
    /// The cloud's quota is exhausted: the node is `aborted`, not failed, and the request
    /// waits for capacity (§2.7).
    #[error("quota exceeded: {0}")]
    Quota(String),
    /// It can never work as configured (missing image with `image-pull: Never`, a pod that can
    /// never be scheduled, a label the driver does not know): fail at once, with this reason.
    #[error("{0}")]
    Permanent(String),
}

impl LaunchError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, LaunchError::Transient(_))
    }
}

/// Why a deletion did not complete; the launcher keeps the node record and tries again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DeleteError(pub String);

/// Why listing resources failed; the cleanup pass is skipped and tried again later.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ListError(pub String);

/// A resource the driver created, as found in the cloud: enough to match it to a node record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    pub external_id: String,
    /// The node id the resource was made for (a Kubernetes label), if it carries one.
    pub node_id: Option<String>,
    /// True while the cloud is already deleting it.
    pub deleting: bool,
}

/// A provider's driver. One value serves every pool of the provider.
#[async_trait]
pub trait Driver: Send + Sync {
    /// Creates everything node `spec` needs and waits until it is usable. On error the driver
    /// has already removed what it created in this attempt (or the cleanup worker will, by label).
    async fn launch(&self, spec: &NodeSpec, progress: &dyn LaunchProgress) -> Result<LaunchedNode, LaunchError>;

    /// Deletes the resource `external_id` and waits until it is gone. Deleting something that
    /// does not exist succeeds.
    async fn delete(&self, external_id: &str) -> Result<(), DeleteError>;

    /// Every resource of this provider that the driver created.
    async fn list_resources(&self) -> Result<Vec<ResourceRef>, ListError>;

    /// Does the provider's cloud answer now? `Err(why)` when it does not: the launcher then
    /// pauses this provider's pools (and only these) until it answers again.
    async fn check_health(&self) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_of_a_node_hides_its_token() {
        let node = LaunchedNode {
            external_id: "ns".into(),
            connection_type: "kubectl".into(),
            connection_port: serde_json::json!({"token": "s3cr3t", "namespace": "ns", "pod": "p"}),
            interface_ip: Some("p".into()),
            host_id: None,
            python_path: None,
            shell_type: None,
            username: None,
            host_keys: Vec::new(),
        };
        let text = format!("{node:?}");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("<redacted>") && text.contains("\"pod\""), "{text}");
    }
}
