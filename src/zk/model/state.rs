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

impl RequestState {
    /// The name as stored in ZooKeeper.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Pending => "pending",
            Self::Fulfilled => "fulfilled",
            Self::Failed => "failed",
        }
    }
}

impl NodeState {
    /// The name as stored in ZooKeeper.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::Building => "building",
            Self::Testing => "testing",
            Self::Ready => "ready",
            Self::InUse => "in-use",
            Self::Used => "used",
            Self::Hold => "hold",
            Self::Deleting => "deleting",
            Self::Failed => "failed",
            Self::Aborted => "aborted",
            Self::Deleted => "deleted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_is_the_stored_name() {
        use NodeState::*;
        for state in [Init, Building, Testing, Ready, InUse, Used, Hold, Deleting, Failed, Aborted, Deleted] {
            assert_eq!(serde_json::to_value(state).expect("json"), state.as_str());
        }
        for state in [RequestState::Requested, RequestState::Pending, RequestState::Fulfilled, RequestState::Failed] {
            assert_eq!(serde_json::to_value(state).expect("json"), state.as_str());
        }
    }

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
