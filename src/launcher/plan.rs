//! What the launcher needs to know about each pool it serves, resolved once from the config.

use kubepool_driver_api::{Limits, Resources};
use std::collections::BTreeMap;

/// One pool of one provider, as the request handling of reference §2.8 sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolPlan {
    pub provider: String,
    pub pool: String,
    /// Pool priority (lower is preferred): pool, else provider, else 100.
    pub priority: i64,
    /// The labels the pool serves, with what one node of each counts against quota.
    pub labels: BTreeMap<String, Resources>,
    /// `max-servers` (as `instances`), `max-cores`, `max-ram`, `max-resources`.
    pub limits: Limits,
    /// `node-attributes`, copied to every node's `attributes`.
    pub node_attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// Attempts per node (`launch-retries`, default 3).
    pub launch_retries: u32,
    /// The provider's `max-concurrency`: nodes it may launch at once (`None`: unlimited).
    pub max_concurrency: Option<usize>,
}

impl PoolPlan {
    /// The quota a request's `labels` would need as new nodes, or the first unknown label.
    pub fn needed<'a>(&self, labels: impl IntoIterator<Item = &'a String>) -> Result<Resources, String> {
        let mut total = Resources::new();
        for label in labels {
            total.add(self.labels.get(label).ok_or_else(|| label.clone())?);
        }
        Ok(total)
    }

    /// `max-servers: 0` disables the pool (Nodepool: "pool is disabled").
    pub fn disabled(&self) -> bool {
        self.limits.get("instances").is_some_and(|max| max <= 0)
    }
}
