//! Nodepool's ZooKeeper protocol (reference §2). Knows nothing of Kubernetes.
//!
//! Today: connecting (plain or TLS, chroot, session timeout) and registering a launcher
//! component. Requests, nodes, locks and pool components follow with the launcher issue.

mod components;
mod connect;

pub use components::{ComponentRegistration, LauncherComponent, MODEL_API};
pub use connect::{ConnectOptions, TlsFiles, connect};
pub use zookeeper_client::Client;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    #[error("no zookeeper-servers configured")]
    NoServers,

    #[error("invalid ZooKeeper chroot {0:?}")]
    InvalidChroot(String),

    #[error("cannot read TLS file {path} ({what}): {source}")]
    TlsFile {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("TLS {what} is not usable: {source}")]
    TlsMaterial {
        what: &'static str,
        #[source]
        source: zookeeper_client::Error,
    },

    #[error("cannot connect to {servers}: {source}")]
    Connect {
        servers: String,
        #[source]
        source: zookeeper_client::Error,
    },

    #[error("{operation} {path}: {source}")]
    Operation {
        operation: &'static str,
        path: String,
        #[source]
        source: zookeeper_client::Error,
    },

    #[error("cannot encode {what}: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl ZkError {
    pub(crate) fn op<'a>(
        operation: &'static str,
        path: &'a str,
    ) -> impl FnOnce(zookeeper_client::Error) -> ZkError + 'a {
        move |source| ZkError::Operation { operation, path: path.to_string(), source }
    }
}
