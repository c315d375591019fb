//! Quota in use (reference §2.10): the sum of the `resources` of every node of a pool in
//! ZooKeeper, whatever its state — a node counts until its record is gone.

use crate::zk::{Node, Versioned};
use kubepool_driver_api::Resources;

/// A node record's `resources` as [`Resources`] (non-integer amounts count as zero).
pub fn resources_of(node: &Node) -> Resources {
    let mut out = Resources::new();
    for (name, value) in node.resources.iter().flatten() {
        if let Some(amount) = value.as_i64().or_else(|| value.as_f64().map(|f| f.ceil() as i64)) {
            out = out.with(name.clone(), amount);
        }
    }
    out
}

/// What the nodes for which `counts` holds use together.
pub fn used_by(nodes: &[Versioned<Node>], counts: impl Fn(&Node) -> bool) -> Resources {
    let mut used = Resources::new();
    for node in nodes.iter().filter(|n| counts(&n.value)) {
        used.add(&resources_of(&node.value));
    }
    used
}

/// What the nodes of `provider`/`pool` use.
pub fn used_by_pool(nodes: &[Versioned<Node>], provider: &str, pool: &str) -> Resources {
    used_by(nodes, |n| n.provider.as_deref() == Some(provider) && n.pool.as_deref() == Some(pool))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zk::NodeState;

    fn node(provider: &str, pool: &str, state: NodeState, resources: serde_json::Value) -> Versioned<Node> {
        let mut node = Node::new("ns");
        node.provider = Some(provider.into());
        node.pool = Some(pool.into());
        node.state = state;
        node.resources = resources.as_object().cloned();
        Versioned { id: "0000000001".into(), version: 0, mtime_ms: 0, value: node }
    }

    #[test]
    fn sums_every_state_of_the_pool_only() {
        let nodes = vec![
            node("k8s", "main", NodeState::Ready, serde_json::json!({"instances": 1, "cores": 2})),
            node("k8s", "main", NodeState::Deleting, serde_json::json!({"instances": 1, "ram": 512})),
            node("k8s", "other", NodeState::Ready, serde_json::json!({"instances": 1})),
            node("aws", "main", NodeState::Ready, serde_json::json!({"instances": 1})),
        ];
        let used = used_by_pool(&nodes, "k8s", "main");
        assert_eq!(used, Resources::new().with("instances", 2).with("cores", 2).with("ram", 512));
    }

    #[test]
    fn fractional_amounts_round_up_and_junk_is_ignored() {
        let n = node("k8s", "main", NodeState::Ready, serde_json::json!({"nvidia.com/gpu": 0.5, "x": "y"}));
        assert_eq!(resources_of(&n.value), Resources::new().with("nvidia.com/gpu", 1));
    }
}
