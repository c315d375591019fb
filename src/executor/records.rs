//! The node records the executor works from: read from ZooKeeper for a fulfilled request, or
//! from a JSON file (`[{"name": …, "label": …, "node": {…node JSON…}}]`).
//!
//! Records are kept as raw JSON objects: Zuul's executor reads every key of a node into
//! attributes, and a missing key is not the same as a `null` one (the inventory shows the
//! difference), so the typed [`crate::zk::Node`] model is not used here.

use super::ExecutorError;
use crate::zk::model::RequestState;
use crate::zk::{Store, paths};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::Path;

/// One node of the node set: its name in the job's nodeset, its label, and its record.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NodeRecord {
    /// The nodeset's name for the node (inventory host, `zuul.resources` key).
    pub name: String,
    /// The requested label; defaults to the record's `type[0]`.
    #[serde(default)]
    pub label: Option<String>,
    /// The node id (only for messages).
    #[serde(default)]
    pub id: Option<String>,
    /// The node JSON as stored in `/nodepool/nodes/<id>`.
    pub node: Map<String, Value>,
}

impl NodeRecord {
    /// The label Zuul's nodeset gives the node.
    pub fn label(&self) -> Option<String> {
        self.label.clone().or_else(|| match self.node.get("type") {
            Some(Value::Array(types)) => types.first().and_then(Value::as_str).map(str::to_string),
            Some(Value::String(label)) => Some(label.clone()),
            _ => None,
        })
    }
}

/// Reads a node file: a JSON list of [`NodeRecord`]s.
pub fn load_file(path: &Path) -> Result<Vec<NodeRecord>, ExecutorError> {
    let text = std::fs::read(path).map_err(|source| ExecutorError::NodeFile { path: path.to_path_buf(), source })?;
    let records: Vec<NodeRecord> = serde_json::from_slice(&text)
        .map_err(|source| ExecutorError::NodeFileFormat { path: path.to_path_buf(), source })?;
    check_names(&records)?;
    Ok(records)
}

/// The nodes of fulfilled request `request_id`, in the request's order. `names` are the
/// nodeset names in that order; missing ones default to the label (`<label>-<index>` when a
/// label is requested more than once).
pub async fn from_request(store: &Store, request_id: &str, names: &[String]) -> Result<Vec<NodeRecord>, ExecutorError> {
    let request_error = |reason: String| ExecutorError::Request { id: request_id.to_string(), reason };
    let request = store.get_request(request_id).await?.ok_or_else(|| request_error("no such request".into()))?;
    let request = request.value;
    if request.state != RequestState::Fulfilled {
        return Err(request_error(format!("is {}, not fulfilled", request.state.as_str())));
    }
    if request.nodes.len() != request.node_types.len() {
        return Err(request_error(format!(
            "has {} nodes for {} labels",
            request.nodes.len(),
            request.node_types.len()
        )));
    }
    if names.len() > request.nodes.len() {
        return Err(request_error(format!("has {} nodes but {} names were given", request.nodes.len(), names.len())));
    }
    let mut records = Vec::with_capacity(request.nodes.len());
    for (index, (node_id, label)) in request.nodes.iter().zip(&request.node_types).enumerate() {
        let path = paths::node(node_id);
        let data = match store.client().get_data(&path).await {
            Ok((data, _)) => data,
            Err(zookeeper_client::Error::NoNode) => {
                return Err(request_error(format!("node {node_id} does not exist")));
            }
            Err(source) => return Err(crate::zk::ZkError::Operation { operation: "get", path, source }.into()),
        };
        let node: Map<String, Value> = serde_json::from_slice(&data)
            .map_err(|e| request_error(format!("node {node_id} is not a JSON object: {e}")))?;
        let name = names.get(index).cloned().unwrap_or_else(|| {
            let repeated = request.node_types.iter().filter(|l| *l == label).count() > 1;
            if repeated { format!("{label}-{index}") } else { label.clone() }
        });
        records.push(NodeRecord { name, label: Some(label.clone()), id: Some(node_id.clone()), node });
    }
    check_names(&records)?;
    tracing::debug!(request = request_id, nodes = records.len(), "node records read");
    Ok(records)
}

fn check_names(records: &[NodeRecord]) -> Result<(), ExecutorError> {
    let mut seen = std::collections::BTreeSet::new();
    for record in records {
        if record.name.is_empty() || !seen.insert(record.name.as_str()) {
            return Err(ExecutorError::Node {
                name: record.name.clone(),
                reason: "node names must be unique and not empty".into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_defaults_to_the_first_type() {
        let record: NodeRecord =
            serde_json::from_value(serde_json::json!({"name": "n", "node": {"type": ["pod-x"]}})).expect("record");
        assert_eq!(record.label().as_deref(), Some("pod-x"));
        let record: NodeRecord =
            serde_json::from_value(serde_json::json!({"name": "n", "label": "l", "node": {"type": ["pod-x"]}}))
                .expect("record");
        assert_eq!(record.label().as_deref(), Some("l"));
    }

    #[test]
    fn duplicate_names_are_refused() {
        let record = |name: &str| NodeRecord { name: name.into(), label: None, id: None, node: Map::new() };
        assert!(check_names(&[record("a"), record("b")]).is_ok());
        assert!(check_names(&[record("a"), record("a")]).is_err());
        assert!(check_names(&[record("")]).is_err());
    }
}
