//! Request and node states (reference §2.7), spelled exactly as Nodepool's constants.

use serde::{Deserialize, Serialize};

/// State of a node request. Zuul only reacts to `fulfilled` and `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestState {
    Requested,
    Pending,
    Fulfilled,
    Failed,
}

/// State of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeState {
    Init,
    Building,
    Testing,
    Ready,
    InUse,
    Used,
    Hold,
    Deleting,
    Failed,
    Aborted,
    Deleted,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_use_nodepools_spelling() {
        let json = serde_json::to_string(&[NodeState::InUse, NodeState::Init, NodeState::Deleted]).expect("encode");
        assert_eq!(json, r#"["in-use","init","deleted"]"#);
        let json = serde_json::to_string(&[RequestState::Requested, RequestState::Fulfilled]).expect("encode");
        assert_eq!(json, r#"["requested","fulfilled"]"#);
        assert!(serde_json::from_str::<NodeState>(r#""in_use""#).is_err());
        assert!(serde_json::from_str::<RequestState>(r#""done""#).is_err());
    }
}
