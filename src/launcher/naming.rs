//! How Nodepool names and marks a node's objects (reference §4.1–§4.5), handed to the drivers: a
//! namespace or project `<pool>-<node id>`, an openshiftpods pod `<label>-<node id>`, and the four
//! `nodepool_*` labels on every object, by which leak detection and crash recovery find them.

use crate::drivers::naming::NodeNaming;
use kubepool_driver_api::NodeSpec;
use std::collections::BTreeMap;

pub const NODE_ID: &str = "nodepool_node_id";
pub const PROVIDER: &str = "nodepool_provider_name";
pub const POOL: &str = "nodepool_pool_name";
pub const LABEL: &str = "nodepool_node_label";

/// Nodepool's names and labels.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodepoolNaming;

impl NodeNaming for NodepoolNaming {
    fn namespace(&self, spec: &NodeSpec) -> String {
        format!("{}-{}", spec.pool, spec.node_id)
    }

    fn pod(&self, spec: &NodeSpec) -> String {
        format!("{}-{}", spec.label, spec.node_id)
    }

    fn identity_labels(&self, spec: &NodeSpec) -> BTreeMap<String, String> {
        BTreeMap::from([
            (NODE_ID.to_string(), spec.node_id.clone()),
            (PROVIDER.to_string(), spec.provider.clone()),
            (POOL.to_string(), spec.pool.clone()),
            (LABEL.to_string(), spec.label.clone()),
        ])
    }

    fn provider_key(&self) -> &str {
        PROVIDER
    }

    fn node_id_key(&self) -> &str {
        NODE_ID
    }

    /// `<pool>-<node id>` with the longest pool that fits, the node id being ten or more digits
    /// (Nodepool's own rule for kubernetes namespaces).
    fn node_id_in_namespace(&self, name: &str, pools: &[&str]) -> Option<String> {
        pools
            .iter()
            .filter_map(|pool| {
                let id = name.strip_prefix(pool)?.strip_prefix('-')?;
                (id.len() >= 10 && id.bytes().all(|b| b.is_ascii_digit())).then_some((pool.len(), id))
            })
            .max_by_key(|(pool_len, _)| *pool_len)
            .map(|(_, id)| id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::common::metadata::object_labels;
    use crate::drivers::common::metadata::tests::spec;

    #[test]
    fn nodepool_labels_win_over_user_labels() {
        let user =
            BTreeMap::from([("nodepool_node_id".to_string(), "spoof".to_string()), ("team".into(), "ci".into())]);
        let dynamic = BTreeMap::from([("tenant".to_string(), "{request.tenant_name}".to_string())]);
        let labels = object_labels(&NodepoolNaming, &spec(), &user, &dynamic).expect("labels");
        assert_eq!(labels[NODE_ID], "0000000042");
        assert_eq!(labels[PROVIDER], "k8s");
        assert_eq!(labels[POOL], "main");
        assert_eq!(labels[LABEL], "pod-fedora");
        assert_eq!(labels["team"], "ci");
        assert_eq!(labels["tenant"], "openstack");
    }

    #[test]
    fn names_are_nodepools() {
        assert_eq!(NodepoolNaming.namespace(&spec()), "main-0000000042");
        assert_eq!(NodepoolNaming.pod(&spec()), "pod-fedora-0000000042");
    }

    #[test]
    fn names_need_one_of_our_pools_and_a_node_id() {
        let pools = ["main", "main-big"];
        let id = |name| NodepoolNaming.node_id_in_namespace(name, &pools);
        assert_eq!(id("main-0000000042").as_deref(), Some("0000000042"));
        assert_eq!(id("main-big-0000000042").as_deref(), Some("0000000042"));
        assert_eq!(id("main-42"), None, "too short for a node id");
        assert_eq!(id("main-00000000x2"), None);
        assert_eq!(id("other-0000000042"), None);
        assert_eq!(id("main0000000042"), None);
    }
}
