//! What every launcher task shares: the ZooKeeper store, the drivers, the metrics, and the
//! signals that wake tasks (a ZooKeeper change) or stop them (shutdown).

use super::wake::WakeUp;
use crate::metrics::Metrics;
use crate::zk::Store;
use kubepool_driver_api::Driver;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

pub struct Context {
    pub store: Store,
    /// The requests, nodes and pool components as the watches last reported them.
    pub cache: crate::zk::ZkCache,
    /// This machine's host name (component registration, pool-worker ids).
    pub hostname: String,
    pub metrics: Metrics,
    /// One driver per provider, by provider name. A config reload replaces a provider's driver
    /// (launches in flight keep the one they started with) and keeps the drivers of removed
    /// providers, whose nodes still need deleting.
    pub drivers: RwLock<BTreeMap<String, Arc<dyn Driver>>>,
    /// The provider's `context` (copied to the node's `cloud`), by provider name.
    pub clouds: RwLock<BTreeMap<String, Option<String>>>,
    /// Requests and nodes a request handler holds now, by znode id. Their locks die with a lost
    /// session and the handler takes them again on the next one; until then this launcher's own
    /// deleter and cleanup passes leave them alone.
    pub held: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Which providers' clouds do not answer now (their pools pause).
    pub health: super::provider_health::ProviderHealth,
    /// Nodes being launched now, per provider (for `max-concurrency`).
    pub launching: std::sync::Mutex<BTreeMap<String, usize>>,
    /// max-ready-age, hold expiry, tenant limits, min-ready (replaced by a config reload).
    pub policies: RwLock<Arc<super::policies::Policies>>,
    /// Notified on every relevant ZooKeeper change (requests, nodes, locks, components).
    pub changed: WakeUp,
    /// Notified when a node may need deleting or releasing.
    pub nodes_changed: WakeUp,
    /// Becomes true once shutdown starts.
    pub stopping: watch::Receiver<bool>,
}

impl Context {
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Completes when shutdown starts.
    pub async fn stopped(&self) {
        let mut stopping = self.stopping.clone();
        let _ = stopping.wait_for(|s| *s).await;
    }

    pub fn driver(&self, provider: &str) -> Option<Arc<dyn Driver>> {
        read(&self.drivers).get(provider).cloned()
    }

    /// Every provider's driver, as of now.
    pub fn drivers(&self) -> Vec<(String, Arc<dyn Driver>)> {
        read(&self.drivers).iter().map(|(name, driver)| (name.clone(), driver.clone())).collect()
    }

    /// The policies in force now.
    pub fn policies(&self) -> Arc<super::policies::Policies> {
        read(&self.policies).clone()
    }

    /// Nodes of `provider` being launched now.
    pub fn launching(&self, provider: &str) -> usize {
        self.launching.lock().map(|m| m.get(provider).copied().unwrap_or(0)).unwrap_or(0)
    }

    /// Adds `delta` (may be negative) to the launches in flight of `provider`.
    pub fn count_launches(&self, provider: &str, delta: isize) {
        if let Ok(mut map) = self.launching.lock() {
            let entry = map.entry(provider.to_string()).or_insert(0);
            *entry = entry.saturating_add_signed(delta);
        }
    }

    /// Is `id` (a request or node) held by one of our request handlers?
    pub fn is_held(&self, id: &str) -> bool {
        self.held.lock().map(|held| held.contains(id)).unwrap_or(false)
    }

    /// Marks `ids` held (`true`) or let go (`false`).
    pub fn hold(&self, ids: impl IntoIterator<Item = String>, held: bool) {
        if let Ok(mut set) = self.held.lock() {
            for id in ids {
                if held {
                    set.insert(id);
                } else {
                    set.remove(&id);
                }
            }
        }
    }

    /// The node record's `cloud` for `provider`: its kubeconfig context, if configured.
    pub fn driver_cloud(&self, provider: &str) -> Option<String> {
        read(&self.clouds).get(provider).cloned().flatten()
    }
}

/// Reads a lock that a panicking writer cannot poison for good (the data is replaced whole).
pub fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes such a lock.
pub fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}
