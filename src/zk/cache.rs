//! An in-memory copy of the requests, nodes and pool components, kept current from the
//! watch events (as kube-runtime's reflector store is from a Kubernetes watch), so that a
//! worker woken by one change does not re-read every znode.
//!
//! The engine feeds it: [`ZkCache::rebuild`] on every [`super::WatchEvent::Resync`] (a new
//! session, a reconnection), [`ZkCache::apply`] on every other event (one read of the znode
//! that changed), [`ZkCache::invalidate`] when the session is lost. While it is not in sync
//! (before the first rebuild, after a failed read, between sessions) every read falls back
//! to ZooKeeper itself, so a reader never sees a half-built cache.
//!
//! What the cache answers is "what is there to do?". A decision that must be exact re-reads
//! ZooKeeper: a request or node is re-read under its lock before it is written, and the pool
//! quota and the min-ready shortfall are counted from ZooKeeper before nodes are launched or
//! requested (events of another launcher's writes may still be on their way).

use super::store::Versioned;
use super::{Node, NodeRequest, PoolComponent, Store, WatchEvent, ZkError};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

#[derive(Debug, Default)]
struct Contents {
    synced: bool,
    requests: BTreeMap<String, Versioned<NodeRequest>>,
    nodes: BTreeMap<String, Versioned<Node>>,
    pools: BTreeMap<String, Versioned<PoolComponent>>,
}

/// Clones share one cache.
#[derive(Debug, Clone, Default)]
pub struct ZkCache {
    contents: Arc<RwLock<Contents>>,
}

impl ZkCache {
    fn read<T>(&self, f: impl FnOnce(&Contents) -> T) -> T {
        match self.contents.read() {
            Ok(contents) => f(&contents),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut Contents) -> T) -> T {
        match self.contents.write() {
            Ok(mut contents) => f(&mut contents),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Whether reads are served from memory.
    pub fn is_synced(&self) -> bool {
        self.read(|c| c.synced)
    }

    /// The session is gone (or an event could not be applied): reads go to ZooKeeper until the
    /// next [`ZkCache::rebuild`].
    pub fn invalidate(&self) {
        self.write(|c| c.synced = false);
    }

    /// Reads everything again from `store` and serves reads from memory from now on. Events
    /// that arrive meanwhile are applied after it (they re-read their znode), so nothing that
    /// changes during the rebuild is missed.
    pub async fn rebuild(&self, store: &Store) -> Result<(), ZkError> {
        self.invalidate();
        let requests = store.list_requests().await?;
        let nodes = store.list_nodes().await?;
        let pools = store.list_pool_components().await?;
        self.write(|c| {
            c.requests = requests.into_iter().map(|r| (r.id.clone(), r)).collect();
            c.nodes = nodes.into_iter().map(|n| (n.id.clone(), n)).collect();
            c.pools = pools.into_iter().map(|p| (p.id.clone(), p)).collect();
            c.synced = true;
        });
        tracing::debug!(
            requests = self.read(|c| c.requests.len()),
            nodes = self.read(|c| c.nodes.len()),
            "ZooKeeper cache rebuilt"
        );
        Ok(())
    }

    /// Brings the cache up to date with one event: the znode it names is read again (events
    /// carry no data, and a read gives the latest, which is what the cache wants). A failed
    /// read leaves the cache out of sync (reads go to ZooKeeper) until the next rebuild.
    pub async fn apply(&self, store: &Store, event: &WatchEvent) {
        if !self.is_synced() {
            return;
        }
        let applied = match event {
            WatchEvent::Request { id, .. } => store.get_request(id).await.map(|found| {
                self.write(|c| set(&mut c.requests, id, found));
            }),
            WatchEvent::Node { id, .. } => store.get_node(id).await.map(|found| {
                self.write(|c| set(&mut c.nodes, id, found));
            }),
            WatchEvent::PoolComponent { name, .. } => store.get_pool_component(name).await.map(|found| {
                self.write(|c| set(&mut c.pools, name, found));
            }),
            WatchEvent::NodeLock { .. } | WatchEvent::Resync | WatchEvent::Disconnected => Ok(()),
        };
        if let Err(error) = applied {
            if let ZkError::Decode { .. } = error {
                // As listings do: an undecodable znode is skipped, not a reason to stop caching.
                tracing::warn!(%error, "skipping undecodable znode");
                self.write(|c| match event {
                    WatchEvent::Request { id, .. } => set(&mut c.requests, id, None),
                    WatchEvent::Node { id, .. } => set(&mut c.nodes, id, None),
                    WatchEvent::PoolComponent { name, .. } => set(&mut c.pools, name, None),
                    _ => {}
                });
                return;
            }
            tracing::debug!(%error, "cannot update the ZooKeeper cache; reading ZooKeeper until the next resync");
            self.invalidate();
        }
    }

    /// Every request, from memory when in sync.
    pub async fn requests(&self, store: &Store) -> Result<Vec<Versioned<NodeRequest>>, ZkError> {
        match self.read(|c| c.synced.then(|| c.requests.values().cloned().collect::<Vec<_>>())) {
            Some(mut requests) => {
                super::sort_requests(&mut requests);
                Ok(requests)
            }
            None => store.list_requests().await,
        }
    }

    /// Every node record, from memory when in sync.
    pub async fn nodes(&self, store: &Store) -> Result<Vec<Versioned<Node>>, ZkError> {
        match self.read(|c| c.synced.then(|| c.nodes.values().cloned().collect())) {
            Some(nodes) => Ok(nodes),
            None => store.list_nodes().await,
        }
    }

    /// Every registered pool component, from memory when in sync.
    pub async fn pool_components(&self, store: &Store) -> Result<Vec<PoolComponent>, ZkError> {
        match self.read(|c| c.synced.then(|| c.pools.values().map(|p| p.value.clone()).collect())) {
            Some(pools) => Ok(pools),
            None => Ok(store.list_pool_components().await?.into_iter().map(|p| p.value).collect()),
        }
    }
}

fn set<T>(map: &mut BTreeMap<String, Versioned<T>>, id: &str, found: Option<Versioned<T>>) {
    match found {
        Some(item) => {
            map.insert(id.to_string(), item);
        }
        None => {
            map.remove(id);
        }
    }
}
