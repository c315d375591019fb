//! Nodepool's ZooKeeper protocol (reference §2). Knows nothing of Kubernetes.
//!
//! * [`connect`]: a session (plain or TLS, chroot); [`connect_patiently`] retries forever and
//!   [`reach`] says why a server cannot be reached.
//! * [`paths`]: the znode tree (§2.1) and request ids with Nodepool's order (§2.2).
//! * [`model`]: the JSON of requests, nodes and pool components (§2.4–§2.7).
//! * [`lock`]: kazoo's lock recipe, shared with Nodepool and Zuul (§2.3).
//! * [`Store`]: reading, writing, creating and deleting requests and nodes (§2.8, §2.11).
//! * [`ComponentRegistration`]: launcher and pool components (§2.6).
//! * [`Watcher`]: change events from persistent recursive watches.

mod cache;
mod components;
mod connect;
pub mod lock;
pub mod model;
mod options;
pub mod paths;
pub mod reach;
mod store;
mod watch;

pub use cache::ZkCache;
pub use components::{Component, ComponentRegistration, LauncherComponent, MODEL_API};
pub use connect::{Backoff, connect, connect_patiently};
pub use lock::{HeldLock, Wait};
pub use model::{ComponentState, Node, NodeRequest, NodeState, PoolComponent, RequestState};
pub use options::{ConnectOptions, TlsFiles, zookeeper_options};
pub use paths::RequestId;
pub use store::{LOCK_CLEANUP, Store, Versioned, sort_requests};
pub use watch::{Change, WatchEvent, Watcher};
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

    /// Invalid JSON, a missing required key or a wrong type in a znode.
    #[error("bad data in {path}: {source}")]
    Decode {
        path: String,
        #[source]
        source: serde_json::Error,
    },

    /// Not `<priority>-<sequence>`.
    #[error("{0:?} is not a node request id")]
    BadRequestId(String),

    /// A write with a version check lost against another writer: re-read and retry.
    #[error("{path} was changed by somebody else")]
    VersionConflict { path: String },

    /// The znode to write was deleted meanwhile.
    #[error("{path} does not exist")]
    Gone { path: String },

    /// A blocking lock acquire ran out of time.
    #[error("timed out waiting for lock {path}")]
    LockTimeout { path: String },

    /// Our lock contender vanished while acquiring (the session was lost).
    #[error("lock contender {path} vanished")]
    LockLost { path: String },

    /// The session expired or was closed; watches and ephemeral znodes are gone.
    #[error("ZooKeeper session ended ({state})")]
    SessionEnded { state: String },
}

impl ZkError {
    pub(crate) fn op<'a>(
        operation: &'static str,
        path: &'a str,
    ) -> impl FnOnce(zookeeper_client::Error) -> ZkError + 'a {
        move |source| ZkError::Operation { operation, path: path.to_string(), source }
    }
}
