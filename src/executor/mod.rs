//! The executor side of pod and namespace nodes (reference §6): what a Zuul executor, or a
//! person debugging a node, needs once a node request is fulfilled.
//!
//! * [`records`]: the node records, from ZooKeeper (a fulfilled request) or a JSON file.
//! * [`connection`]: a node's credentials dict (§5); the token is never logged.
//! * [`kubeconfig`]: the kubeconfig Zuul writes (§6.1).
//! * [`inventory`]: the Ansible inventory and `zuul.resources` (§6.2).
//! * [`pyyaml`]: YAML text byte for byte as Zuul's PyYAML/libyaml writes it.
//! * [`forward`]: console log streaming from pods (§6.3–§6.5) through the API server's
//!   port-forward, replacing Zuul's `kubectl port-forward` loop.
//! * [`output`]: writing the files (kubeconfig mode 0600).

pub mod connection;
pub mod forward;
pub mod inventory;
pub mod kubeconfig;
pub mod output;
pub mod pyyaml;
pub mod records;

pub use forward::{ForwardOptions, PodForward, ZUUL_CONSOLE_PORTS};
pub use inventory::{PodTarget, Prepared, prepare};
pub use kubeconfig::KubeConfig;
pub use records::NodeRecord;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error("cannot read node file {path}: {source}")]
    NodeFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("node file {path} is not a JSON list of {{\"name\", \"label\", \"node\"}} objects: {source}")]
    NodeFileFormat {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("request {id} {reason}")]
    Request { id: String, reason: String },

    #[error("node {name}: {reason}")]
    Node { name: String, reason: String },

    #[error(transparent)]
    ZooKeeper(#[from] crate::zk::ZkError),

    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the generated kubeconfig cannot be used: {0}")]
    Kubeconfig(String),

    #[error(transparent)]
    Kubernetes(#[from] crate::k8s::K8sError),

    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}
