//! Reading and writing Nodepool's znodes (reference §2.1, §2.4–§2.6, §2.11).
//!
//! [`Store`] wraps a session; every read returns a [`Versioned`] model (id, znode version,
//! value). Reads of a single znode give a typed error for bad data; listings log and skip
//! znodes that vanished, are empty or cannot be decoded, so one bad znode never stops a
//! launcher.

mod cleanup;
mod components;
mod nodes;
mod requests;

pub use cleanup::LOCK_CLEANUP;
pub use requests::sort_requests;

use super::{Client, ZkError};
use std::sync::{Arc, RwLock};
use zookeeper_client::{Acls, CreateMode, Stat};

/// How many reads of a directory's children are in flight at once.
const READ_PIPELINE: usize = 64;

/// A model read from (or just written to) ZooKeeper.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The znode name: request id, node id or component name.
    pub id: String,
    /// The znode data version, for writes with a version check.
    pub version: i32,
    /// Milliseconds since the epoch of the last data change.
    pub mtime_ms: i64,
    pub value: T,
}

impl<T> Versioned<T> {
    fn new(id: &str, stat: &Stat, value: T) -> Self {
        Self { id: id.to_string(), version: stat.version, mtime_ms: stat.mtime, value }
    }
}

/// The protocol operations on the current ZooKeeper session. Clones share the session, and
/// [`Store::replace_session`] moves them all to a new one (after the old one expired): a
/// long-running task keeps its `Store` and simply works on the new session from then on.
#[derive(Debug, Clone)]
pub struct Store {
    client: Arc<RwLock<Client>>,
}

impl Store {
    pub fn new(client: Client) -> Self {
        Self { client: Arc::new(RwLock::new(client)) }
    }

    /// The current session, e.g. for [`crate::zk::lock`].
    pub fn client(&self) -> Client {
        match self.client.read() {
            Ok(client) => client.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The id of the current session (locks and registrations made on another one are void).
    pub fn session_id(&self) -> i64 {
        self.client().session_id().0
    }

    /// From now on every clone of this store works on `client` (a new session).
    pub fn replace_session(&self, client: Client) {
        match self.client.write() {
            Ok(mut current) => *current = client,
            Err(poisoned) => *poisoned.into_inner() = client,
        }
    }

    /// Creates the request, request-lock and node roots if they are missing.
    pub async fn ensure_roots(&self) -> Result<(), ZkError> {
        for root in [super::paths::REQUEST_ROOT, super::paths::REQUEST_LOCK_ROOT, super::paths::NODE_ROOT] {
            self.client().mkdir(root, &persistent()).await.map_err(ZkError::op("create", root))?;
        }
        Ok(())
    }

    /// Children of `dir`; a missing directory has none.
    pub async fn children(&self, dir: &str) -> Result<Vec<String>, ZkError> {
        match self.client().list_children(dir).await {
            Ok(mut children) => {
                children.sort();
                Ok(children)
            }
            Err(zookeeper_client::Error::NoNode) => Ok(Vec::new()),
            Err(source) => Err(ZkError::Operation { operation: "list", path: dir.to_string(), source }),
        }
    }

    /// Data and stat of `path`, `None` if it does not exist.
    async fn data(&self, path: &str) -> Result<Option<(Vec<u8>, Stat)>, ZkError> {
        match self.client().get_data(path).await {
            Ok(found) => Ok(Some(found)),
            Err(zookeeper_client::Error::NoNode) => Ok(None),
            Err(source) => Err(ZkError::Operation { operation: "get", path: path.to_string(), source }),
        }
    }

    /// Reads and decodes `<dir>/<id>`: `None` if missing or empty (Nodepool ignores empty
    /// znodes too), a [`ZkError::Decode`] for bad data.
    async fn read<T>(
        &self,
        dir: &str,
        id: &str,
        decode: fn(&str, &[u8]) -> Result<T, ZkError>,
    ) -> Result<Option<Versioned<T>>, ZkError> {
        let path = format!("{dir}/{id}");
        let Some((data, stat)) = self.data(&path).await? else {
            return Ok(None);
        };
        if data.is_empty() {
            return Ok(None);
        }
        Ok(Some(Versioned::new(id, &stat, decode(&path, &data)?)))
    }

    /// Reads every child of `dir`, skipping (with a warning) the ones that cannot be decoded.
    async fn read_all<T>(
        &self,
        dir: &str,
        decode: fn(&str, &[u8]) -> Result<T, ZkError>,
    ) -> Result<Vec<Versioned<T>>, ZkError> {
        let children = self.children(dir).await?;
        let mut found = Vec::new();
        // Pipelined on the one session (ZooKeeper answers a session's requests in order): a pass
        // over 100 requests is not 100 round trips one after the other.
        let mut reads = Vec::new();
        for chunk in children.chunks(READ_PIPELINE) {
            let pending: Vec<_> = chunk.iter().map(|id| self.read(dir, id, decode)).collect();
            reads.extend(futures::future::join_all(pending).await);
        }
        for read in reads {
            match read {
                Ok(Some(item)) => found.push(item),
                Ok(None) => {}
                Err(error @ ZkError::Decode { .. }) => tracing::warn!(%error, "skipping undecodable znode"),
                Err(error) => return Err(error),
            }
        }
        Ok(found)
    }

    /// Writes `data` to `path`, checking `version` if given; returns the new version.
    async fn write(&self, path: &str, data: &[u8], version: Option<i32>) -> Result<i32, ZkError> {
        match self.client().set_data(path, data, version).await {
            Ok(stat) => Ok(stat.version),
            Err(zookeeper_client::Error::NoNode) => Err(ZkError::Gone { path: path.to_string() }),
            Err(zookeeper_client::Error::BadVersion) => Err(ZkError::VersionConflict { path: path.to_string() }),
            Err(source) => Err(ZkError::Operation { operation: "set", path: path.to_string(), source }),
        }
    }

    /// Deletes `path` and everything below it (kazoo's `delete(recursive=True)`); a znode
    /// that is already gone is fine.
    pub async fn delete_recursive(&self, path: &str) -> Result<(), ZkError> {
        let mut pending = vec![path.to_string()];
        let mut order = Vec::new();
        while let Some(current) = pending.pop() {
            for child in self.children(&current).await? {
                pending.push(format!("{current}/{child}"));
            }
            order.push(current);
        }
        for znode in order.iter().rev() {
            match self.client().delete(znode, None).await {
                Ok(()) | Err(zookeeper_client::Error::NoNode) => {}
                Err(source) => return Err(ZkError::Operation { operation: "delete", path: znode.clone(), source }),
            }
        }
        Ok(())
    }
}

fn persistent() -> zookeeper_client::CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}
