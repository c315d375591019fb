//! What a driver is built from, in no front end's terms: a provider's pools, their labels, and
//! how long to wait for what the cluster does on its own. A front end (the launcher maps
//! nodepool.yaml onto these) hands a [`DriverSpec`] to [`crate::drivers::factory::build`].

mod pod;
mod ssh;

pub use pod::{Compute, PodTemplate};
pub use ssh::{AuthorizedKeys, IngressOptions, ServiceType, SshOptions};

use std::collections::BTreeMap;
use std::time::Duration;

/// Which driver serves a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverKind {
    /// Namespace and pod labels, each node in a namespace of its own.
    Kubernetes,
    /// Project and pod labels, each node in a project of its own.
    Openshift,
    /// Pods in an existing namespace: the pool's name.
    OpenshiftPods,
}

/// One provider's driver: everything the factory needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverSpec {
    pub provider: String,
    pub kind: DriverKind,
    pub pools: Vec<PoolSpec>,
    pub timeouts: Timeouts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    /// For `openshiftpods`, the namespace its pods go to.
    pub name: String,
    pub labels: Vec<LabelSpec>,
}

/// One label of a pool.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSpec {
    pub name: String,
    pub kind: LabelKind,
    /// Added to every object's metadata labels.
    pub labels: BTreeMap<String, String>,
    /// Templates over the request's attributes (`{request.id}`), added to the labels.
    pub dynamic_labels: BTreeMap<String, String>,
    /// The pod's annotations (pod labels only).
    pub annotations: BTreeMap<String, String>,
    /// The node's `python-path` (Nodepool's default: `auto`).
    pub python_path: String,
    pub shell_type: Option<String>,
    /// kubernetes pod labels: a node launched for a request of a buildset goes into the
    /// namespace of a namespace node of the same buildset and provider, when there is one
    /// (`kubepool.io/buildset-namespace`, docs/config.md).
    pub buildset_namespace: bool,
}

/// What kind of node a label makes.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelKind {
    /// A namespace (openshift: a project) with its own service account and RBAC.
    Namespace,
    /// A pod built from the label's keys, reached with `kubectl exec`.
    Pod(Box<PodTemplate>),
    /// A pod whose spec the user wrote (a Kubernetes PodSpec as JSON).
    Spec(serde_json::Value),
    /// A pod built from the label's keys that runs sshd behind a Service, reached over SSH
    /// (kubernetes only).
    Ssh(Box<PodTemplate>, Box<SshOptions>),
}

/// How long the driver waits for things that the cluster does on its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    /// Until the token controller fills a service-account token Secret (Nodepool: 30 × 1 s).
    pub token: Duration,
    /// Until a deleted namespace is gone (Nodepool: 300 × 1 s).
    pub delete: Duration,
    /// From the start of a launch until the pod's credentials can exec into it (Nodepool waits
    /// 300 × 1 s for `Running`).
    pub pod_start: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { token: Duration::from_secs(30), delete: Duration::from_secs(300), pod_start: Duration::from_secs(300) }
    }
}
