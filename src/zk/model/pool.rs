//! Pool component JSON (reference §2.6; NP `zk/components.py` `PoolComponent`).

use super::{Extra, ZkError, decode_with_extra, encode_with_extra};
use crate::zk::MODEL_API;
use serde::{Deserialize, Serialize};

/// A component's state (NP `BaseComponent` constants). Pools use `running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentState {
    Initializing,
    Running,
    Paused,
    Stopped,
}

/// One launcher pool worker, registered at `/nodepool/components/pool/<hostname><SEQ10>`.
///
/// Reading is lenient like Nodepool's `updateFromDict` over its defaults (components of real
/// Nodepool launchers, written by other versions, must not break the launcher); unknown keys
/// are kept. [`PoolComponent::to_json`] writes the keys sorted, as `json.dumps(sort_keys=True)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolComponent {
    #[serde(default = "default_kind")]
    pub kind: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default = "default_state")]
    pub state: ComponentState,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub model_api: u32,
    /// The pool-worker id; what goes into a request's `declined_by`.
    #[serde(default)]
    pub id: Option<String>,
    /// Pool name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub provider_name: Option<String>,
    #[serde(default)]
    pub supported_labels: Vec<String>,
    /// Lower is preferred; Nodepool's default is 100.
    #[serde(default = "default_priority")]
    pub priority: i64,
    /// True while the pool is paused at quota.
    #[serde(default)]
    pub paused: bool,
    /// Keys this model does not know, written back unchanged.
    #[serde(skip)]
    pub extra: Extra,
}

fn default_kind() -> String {
    "pool".to_string()
}

fn default_state() -> ComponentState {
    ComponentState::Stopped
}

fn default_priority() -> i64 {
    100
}

impl PoolComponent {
    /// A running pool component of this implementation (`model_api` 0, our version).
    pub fn running(
        hostname: impl Into<String>,
        id: impl Into<String>,
        provider_name: impl Into<String>,
        pool_name: impl Into<String>,
    ) -> Self {
        Self {
            kind: default_kind(),
            hostname: hostname.into(),
            state: ComponentState::Running,
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            model_api: MODEL_API,
            id: Some(id.into()),
            name: Some(pool_name.into()),
            provider_name: Some(provider_name.into()),
            supported_labels: Vec::new(),
            priority: default_priority(),
            paused: false,
            extra: Extra::new(),
        }
    }

    /// Decodes the JSON stored at `path`.
    pub fn from_json(path: &str, data: &[u8]) -> Result<Self, ZkError> {
        let (mut pool, extra): (Self, Extra) = decode_with_extra(path, data)?;
        pool.extra = extra;
        Ok(pool)
    }

    /// Encodes with sorted keys (the encoder writes an ordered map).
    pub fn to_json(&self) -> Result<Vec<u8>, ZkError> {
        encode_with_extra("pool component", self, &self.extra)
    }

    /// Does this pool serve every label of `labels`?
    pub fn supports_all<'a>(&self, labels: impl IntoIterator<Item = &'a String>) -> bool {
        labels.into_iter().all(|label| self.supported_labels.contains(label))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zk::model::Opaque;
    use serde_json::json;

    const PATH: &str = "/nodepool/components/pool/host0000000001";

    #[test]
    fn json_has_sorted_keys_and_nodepools_values() {
        let mut pool = PoolComponent::running("host", "host-PoolWorker.k8s-main-abc", "k8s", "main");
        pool.supported_labels = vec!["pod".into()];
        pool.extra.insert("aaa".into(), Opaque::from_value(&json!(1)).expect("value"));
        let json = String::from_utf8(pool.to_json().expect("encode")).expect("utf8");
        assert_eq!(
            json,
            format!(
                concat!(
                    r#"{{"aaa":1,"hostname":"host","id":"host-PoolWorker.k8s-main-abc","kind":"pool","model_api":0,"#,
                    r#""name":"main","paused":false,"priority":100,"provider_name":"k8s","state":"running","#,
                    r#""supported_labels":["pod"],"version":"{}"}}"#
                ),
                env!("CARGO_PKG_VERSION")
            )
        );
        assert_eq!(PoolComponent::from_json(PATH, json.as_bytes()).expect("decode"), pool);
    }

    #[test]
    fn nodepool_written_component_is_read() {
        let data = br#"{"hostname": "np", "id": "np-PoolWorker.p-main-1", "kind": "pool", "model_api": 0,
                        "name": "main", "paused": true, "priority": 5, "provider_name": "p", "state": "running",
                        "supported_labels": ["a", "b"], "version": "11.0.0"}"#;
        let pool = PoolComponent::from_json(PATH, data).expect("decode");
        assert!(pool.paused);
        assert_eq!(pool.priority, 5);
        assert!(pool.supports_all(&["b".to_string(), "a".to_string()]));
        assert!(!pool.supports_all(&["c".to_string()]));
    }

    #[test]
    fn bad_component_is_an_error_naming_the_path() {
        for bad in [&b"x"[..], br#"{"supported_labels": "a"}"#, br#"{"priority": "high"}"#] {
            match PoolComponent::from_json(PATH, bad) {
                Err(error @ ZkError::Decode { .. }) => assert!(error.to_string().contains(PATH)),
                other => panic!("decoded as {other:?}"),
            }
        }
    }
}
