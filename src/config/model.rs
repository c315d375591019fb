//! The typed configuration, with every default already resolved (docs/config.md).

pub use crate::drivers::spec::{Compute, PodTemplate};
use kubepool_driver_api::{Limits, Resources};
use std::fmt;
use std::path::PathBuf;

/// The parts of `nodepool.yaml` kubepool uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub zookeeper_servers: Vec<ZooKeeperServer>,
    pub zookeeper_tls: Option<ZooKeeperTls>,
    /// Session timeout in seconds (default 10.0).
    pub zookeeper_timeout: f64,
    /// Top-level labels (min-ready, max-ready-age).
    pub labels: Vec<Label>,
    /// Seconds a held node is kept; `None`: unlimited.
    pub max_hold_age: Option<i64>,
    pub tenant_resource_limits: Vec<TenantLimits>,
    /// Nodepool's status web app; `None` when the file has no `webapp` key (Nodepool serves
    /// it on 0.0.0.0:8005 even then: kubepool serves it only when asked).
    pub webapp: Option<WebApp>,
    /// The kubernetes, openshift and openshiftpods providers.
    pub providers: Vec<Provider>,
    /// Providers of other drivers, loaded but not served.
    pub ignored_providers: Vec<IgnoredProvider>,
}

impl Config {
    /// The providers kubepool serves (drivers `kubernetes`, `openshift`, `openshiftpods`).
    pub fn kubepool_providers(&self) -> impl Iterator<Item = &Provider> {
        self.providers.iter()
    }

    /// The top-level label called `name`.
    pub fn label(&self, name: &str) -> Option<&Label> {
        self.labels.iter().find(|l| l.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZooKeeperServer {
    pub host: String,
    /// Default 2181.
    pub port: u16,
    pub chroot: Option<String>,
}

/// Paths of the TLS files; the files themselves are read only when connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZooKeeperTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub name: String,
    /// Default 0.
    pub min_ready: i64,
    /// Seconds; 0 (default): no limit.
    pub max_ready_age: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLimits {
    pub tenant_name: String,
    /// `max-servers` → `instances`, `max-cores` → `cores`, `max-ram` → `ram`, others as named.
    pub limits: Limits,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebApp {
    /// Default 8005.
    pub port: i64,
    /// Default `0.0.0.0`.
    pub listen_address: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredProvider {
    pub name: String,
    pub driver: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Kubernetes,
    Openshift,
    OpenshiftPods,
}

impl Driver {
    pub fn from_name(name: &str) -> Option<Driver> {
        match name {
            "kubernetes" => Some(Driver::Kubernetes),
            "openshift" => Some(Driver::Openshift),
            "openshiftpods" => Some(Driver::OpenshiftPods),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Driver::Kubernetes => "kubernetes",
            Driver::Openshift => "openshift",
            Driver::OpenshiftPods => "openshiftpods",
        }
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub name: String,
    pub driver: Driver,
    /// kubeconfig context (a name, not credentials); `None`: the current context or in-cluster.
    pub context: Option<String>,
    /// Attempts per node (default 3).
    pub launch_retries: i64,
    /// Concurrent launches; -1 (default): unlimited, 0: no request handling.
    pub max_concurrency: i64,
    pub pools: Vec<Pool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    /// For kubernetes/openshift the namespace-name prefix; for openshiftpods the namespace.
    pub name: String,
    /// Pool priority ← provider priority ← 100 (lower is served first).
    pub priority: i64,
    /// Copied into each node's `attributes`.
    pub node_attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// `instances` (max-servers), `cores`, `ram` and `max-resources`, inherited from the provider.
    pub limits: Limits,
    pub labels: Vec<PoolLabel>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolLabel {
    pub name: String,
    pub kind: LabelKind,
    /// Node `python_path` (default `auto`).
    pub python_path: String,
    /// Node `shell_type` (none unless set).
    pub shell_type: Option<String>,
    /// Kubernetes metadata labels for the namespace and pod.
    pub labels: serde_json::Map<String, serde_json::Value>,
    /// Format strings over `{request.<attr>}`.
    pub dynamic_labels: serde_json::Map<String, serde_json::Value>,
    /// Pod annotations (without kubepool's own `kubepool.io/ssh`).
    pub annotations: serde_json::Map<String, serde_json::Value>,
    /// `kubepool.io/ssh` in `annotations`: the pod is an SSH node (docs/config.md).
    pub ssh: Option<super::ssh::SshOptions>,
    /// `kubepool.io/buildset-namespace: true` in `annotations`: a node of a buildset goes into
    /// the namespace of a namespace node of the same buildset (docs/config.md).
    pub buildset_namespace: bool,
    /// The quota one node of this label needs (instances 1, cores, ram, ephemeral-storage,
    /// the gpu resource, extra resources).
    pub resources: Resources,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LabelKind {
    /// A namespace (kubernetes `type: namespace`, openshift `type: project`).
    Namespace,
    /// A pod Nodepool-style: kubepool builds it from these keys.
    Pod(Box<PodTemplate>),
    /// A pod whose spec the user supplied.
    Spec(serde_json::Value),
}
