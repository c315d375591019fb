//! Deployment-wide rules from the top of `nodepool.yaml` (reference §3.1, §2.10, §2.11):
//! how long an unused ready node may wait (`labels[].max-ready-age`), how long a held node is
//! kept (`max-hold-age`, the node's `hold_expiration`), and each tenant's share
//! (`tenant-resource-limits`). Pure decisions; the cleanup worker and pool workers apply them.

use super::quota::used_by;
use crate::zk::{Node, NodeState, Versioned};
use kubepool_driver_api::{Limits, Resources};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policies {
    /// Seconds an unallocated ready node of a label may exist (0 or absent: forever).
    pub max_ready_age: BTreeMap<String, i64>,
    /// Upper bound on any hold, in seconds (absent: unlimited).
    pub max_hold_age: Option<i64>,
    /// Limits per tenant name.
    pub tenant_limits: BTreeMap<String, Limits>,
    /// Ready, unallocated nodes to keep per label (`labels[].min-ready`).
    pub min_ready: BTreeMap<String, i64>,
}

impl Policies {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            max_ready_age: config
                .labels
                .iter()
                .filter(|l| l.max_ready_age > 0)
                .map(|l| (l.name.clone(), l.max_ready_age))
                .collect(),
            max_hold_age: config.max_hold_age.filter(|age| *age > 0),
            min_ready: config
                .labels
                .iter()
                .filter(|l| l.min_ready > 0)
                .map(|l| (l.name.clone(), l.min_ready))
                .collect(),
            tenant_limits: config
                .tenant_resource_limits
                .iter()
                .map(|t| (t.tenant_name.clone(), t.limits.clone()))
                .collect(),
        }
    }

    /// Why `node` should be deleted now, if it should: an unused ready node past its label's
    /// `max-ready-age`, or a held node past its `hold_expiration` or `max-hold-age`.
    pub fn expired(&self, node: &Node, now: f64) -> Option<String> {
        let age = now - node.state_time?;
        match node.state {
            NodeState::Ready if node.allocated_to.is_none() => {
                let max = *self.max_ready_age.get(node.label()?)?;
                (age > max as f64).then(|| format!("unused for {age:.0}s (max-ready-age {max}s)"))
            }
            NodeState::Hold => {
                let own = node.hold_expiration_secs().filter(|s| *s > 0);
                let max = match (own, self.max_hold_age) {
                    (Some(a), Some(b)) => a.min(b),
                    (Some(a), None) | (None, Some(a)) => a,
                    (None, None) => return None,
                };
                (age > max as f64).then(|| format!("held for {age:.0}s (limit {max}s)"))
            }
            _ => None,
        }
    }

    /// The tenant limits `needed` would exceed given every node in ZooKeeper (all providers),
    /// or an empty list when the tenant has no limits or it fits.
    pub fn tenant_exceeded(&self, tenant: Option<&str>, nodes: &[Versioned<Node>], needed: &Resources) -> Vec<String> {
        let Some(limits) = tenant.and_then(|t| self.tenant_limits.get(t)) else { return Vec::new() };
        let used = used_by(nodes, |n| n.tenant_name.as_deref() == tenant);
        limits.exceeded_by(&used, needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(state: NodeState, label: &str, state_time: f64) -> Node {
        let mut node = Node::new(label);
        node.state = state;
        node.state_time = Some(state_time);
        node
    }

    fn policies() -> Policies {
        Policies {
            max_ready_age: BTreeMap::from([("ns".to_string(), 60)]),
            max_hold_age: Some(3600),
            tenant_limits: BTreeMap::from([("t1".to_string(), Limits::unlimited().with("instances", 2))]),
            min_ready: BTreeMap::new(),
        }
    }

    #[test]
    fn unused_ready_nodes_expire_after_their_labels_max_ready_age() {
        let p = policies();
        assert!(p.expired(&node(NodeState::Ready, "ns", 1000.0), 1061.0).is_some());
        assert!(p.expired(&node(NodeState::Ready, "ns", 1000.0), 1059.0).is_none());
        assert!(p.expired(&node(NodeState::Ready, "other", 0.0), 1e9).is_none(), "no max-ready-age");
        let mut allocated = node(NodeState::Ready, "ns", 0.0);
        allocated.allocated_to = Some("200-0000000001".into());
        assert!(p.expired(&allocated, 1e9).is_none(), "an allocated node waits for its job");
    }

    #[test]
    fn holds_expire_at_the_smaller_of_their_own_expiration_and_max_hold_age() {
        let p = policies();
        let mut held = node(NodeState::Hold, "ns", 0.0);
        assert!(p.expired(&held, 3599.0).is_none());
        assert!(p.expired(&held, 3601.0).is_some(), "max-hold-age");
        held.hold_expiration = Some(serde_json::json!(100));
        assert!(p.expired(&held, 101.0).is_some(), "own expiration shorter");
        let unlimited = Policies::default();
        held.hold_expiration = None;
        assert!(unlimited.expired(&held, 1e9).is_none(), "held forever without limits");
    }

    #[test]
    fn tenant_limits_count_every_node_of_the_tenant() {
        let p = policies();
        let mut mine = Node::new("ns");
        mine.tenant_name = Some("t1".into());
        mine.resources = serde_json::json!({"instances": 1}).as_object().cloned();
        let nodes = vec![Versioned { id: "1".into(), version: 0, mtime_ms: 0, value: mine }];
        let one = Resources::new().with("instances", 1);
        assert!(p.tenant_exceeded(Some("t1"), &nodes, &one).is_empty());
        assert_eq!(p.tenant_exceeded(Some("t1"), &nodes, &Resources::new().with("instances", 2)), ["instances"]);
        assert!(p.tenant_exceeded(Some("t2"), &nodes, &Resources::new().with("instances", 99)).is_empty());
        assert!(p.tenant_exceeded(None, &nodes, &Resources::new().with("instances", 99)).is_empty());
    }
}
