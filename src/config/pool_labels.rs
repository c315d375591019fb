//! Every label of every provider's pools in a nodepool.yaml, with its key path, for the checks
//! that look at labels (Kubernetes shapes, kubepool's options in `annotations`).

use super::check::{child, item};
use super::yaml::Node;

/// One entry of `providers[p].pools[q].labels`.
pub struct PoolLabel<'a> {
    pub provider: &'a Node,
    pub label: &'a Node,
    /// `providers[p].pools[q].labels[l]`
    pub path: String,
}

impl PoolLabel<'_> {
    /// Whether the label's provider uses the kubernetes driver.
    pub fn kubernetes(&self) -> bool {
        self.provider.get("driver").and_then(Node::as_str) == Some("kubernetes")
    }
}

/// The labels of the file, in file order.
pub fn pool_labels(root: &Node) -> Vec<PoolLabel<'_>> {
    let mut labels = Vec::new();
    for (p, provider) in root.get("providers").and_then(Node::as_seq).unwrap_or_default().iter().enumerate() {
        let provider_path = item("providers", p);
        for (q, pool) in provider.get("pools").and_then(Node::as_seq).unwrap_or_default().iter().enumerate() {
            let labels_path = child(&item(&child(&provider_path, "pools"), q), "labels");
            for (l, label) in pool.get("labels").and_then(Node::as_seq).unwrap_or_default().iter().enumerate() {
                labels.push(PoolLabel { provider, label, path: item(&labels_path, l) });
            }
        }
    }
    labels
}
