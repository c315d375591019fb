//! `NodeRequest` JSON (reference §2.4; NP `NodeRequest.toDict`/`updateFromDict`).

use super::{Extra, Opaque, RequestState, ZkError, decode_with_extra, encode_with_extra, now};
use serde::{Deserialize, Serialize};

/// A node request as stored in `/nodepool/requests/<id>`.
///
/// Only `state` is required; every other key defaults the way Nodepool's `updateFromDict`
/// defaults it. Serialising writes every key of §2.4 (including `state_time` and `event_id`,
/// which Zuul reads without a default) plus the unknown keys kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRequest {
    pub state: RequestState,
    /// Epoch seconds of the last state change; `null` only if the writer left it out.
    #[serde(default)]
    pub state_time: Option<f64>,
    /// Requested labels; order matters, duplicates allowed.
    #[serde(default)]
    pub node_types: Vec<String>,
    /// Node ids, in the order of `node_types`.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Pool-worker ids (`PoolComponent::id`) that declined.
    #[serde(default)]
    pub declined_by: Vec<String>,
    /// May an existing READY unallocated node be used (absent → true).
    #[serde(default = "default_reuse")]
    pub reuse: bool,
    #[serde(default)]
    pub requestor: Option<String>,
    /// Opaque to the launcher; kept byte for byte (Zuul stores 128-bit integers in it).
    #[serde(default)]
    pub requestor_data: Option<Opaque>,
    /// Provider affinity.
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub relative_priority: i64,
    #[serde(default)]
    pub event_id: Option<String>,
    #[serde(default)]
    pub created_time: Option<f64>,
    #[serde(default)]
    pub tenant_name: Option<String>,
    /// Keys this model does not know, written back unchanged.
    #[serde(skip)]
    pub extra: Extra,
}

fn default_reuse() -> bool {
    true
}

impl NodeRequest {
    /// A request for `node_types` in state `requested` (what Zuul submits; used by tests and
    /// min-ready requests).
    pub fn new(node_types: Vec<String>) -> Self {
        let time = now();
        Self {
            state: RequestState::Requested,
            state_time: Some(time),
            node_types,
            nodes: Vec::new(),
            declined_by: Vec::new(),
            reuse: true,
            requestor: None,
            requestor_data: None,
            provider: None,
            relative_priority: 0,
            event_id: None,
            created_time: Some(time),
            tenant_name: None,
            extra: Extra::new(),
        }
    }

    /// Decodes the JSON stored at `path`.
    pub fn from_json(path: &str, data: &[u8]) -> Result<Self, ZkError> {
        let (mut request, extra): (Self, Extra) = decode_with_extra(path, data)?;
        request.extra = extra;
        Ok(request)
    }

    /// Encodes the full object (§2.4).
    pub fn to_json(&self) -> Result<Vec<u8>, ZkError> {
        encode_with_extra("node request", self, &self.extra)
    }

    /// Sets `state` and stamps `state_time` with the current time, as Nodepool's setter does.
    pub fn set_state(&mut self, state: RequestState) {
        self.state = state;
        self.state_time = Some(now());
    }

    /// Has the pool worker `pool_id` declined this request?
    pub fn declined_by(&self, pool_id: &str) -> bool {
        self.declined_by.iter().any(|id| id == pool_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const PATH: &str = "/nodepool/requests/100-0000000001";

    /// What Zuul 14.3.0's `submitNodeRequest` stores (§2.4), as Python's `json.dumps` writes
    /// it, plus a key from the future.
    const ZUUL_REQUEST: &str = concat!(
        r#"{"requestor_data": {"build_set_uuid": "b1", "tenant_name": "t", "pipeline_name": "check", "#,
        r#""job_uuid": "j1", "job_name": "job", "span_info": {"name": "RequestNodes", "parent": null, "#,
        r#""span_id": 9262928063076086977, "trace_id": 66096653307018640883071232725686971478}}, "#,
        r#""node_types": ["pod-fedora", "pod-fedora"], "requestor": "0123456789abcdef", "#,
        r#""created_time": 1700000000.5, "provider": null, "state": "requested", "#,
        r#""state_time": 1700000000.25, "relative_priority": 3, "event_id": "e1", "tenant_name": "t", "#,
        r#""future_key": {"nested": [1, 2]}}"#
    );

    fn zuul_request() -> Value {
        serde_json::from_str(ZUUL_REQUEST).expect("json")
    }

    #[test]
    fn zuul_request_is_read_with_nodepool_defaults() {
        let request = NodeRequest::from_json(PATH, ZUUL_REQUEST.as_bytes()).expect("decode");
        assert_eq!(request.state, RequestState::Requested);
        assert_eq!(request.state_time, Some(1700000000.25));
        assert_eq!(request.node_types, ["pod-fedora", "pod-fedora"]);
        assert!(request.nodes.is_empty() && request.declined_by.is_empty());
        assert!(request.reuse, "reuse defaults to true when Zuul leaves it out");
        assert_eq!(request.requestor.as_deref(), Some("0123456789abcdef"));
        assert_eq!(request.relative_priority, 3);
        assert_eq!(request.event_id.as_deref(), Some("e1"));
        assert_eq!(request.tenant_name.as_deref(), Some("t"));
        assert_eq!(request.provider, None);
        assert_eq!(request.extra.get("future_key").map(Opaque::get), Some(r#"{"nested": [1, 2]}"#));
    }

    #[test]
    fn round_trip_writes_every_key_and_keeps_unknown_ones() {
        let mut request = NodeRequest::from_json(PATH, ZUUL_REQUEST.as_bytes()).expect("decode");
        request.set_state(RequestState::Fulfilled);
        request.nodes.push("0000000001".into());
        let written: Value = serde_json::from_slice(&request.to_json().expect("encode")).expect("json");
        let object = written.as_object().expect("object");
        for key in [
            "state",
            "state_time",
            "declined_by",
            "node_types",
            "nodes",
            "reuse",
            "requestor",
            "requestor_data",
            "provider",
            "relative_priority",
            "event_id",
            "created_time",
            "tenant_name",
            "future_key",
        ] {
            assert!(object.contains_key(key), "{key} missing from {written}");
        }
        assert_eq!(written["state"], "fulfilled");
        assert_eq!(written["nodes"], json!(["0000000001"]));
        assert_eq!(written["requestor_data"], zuul_request()["requestor_data"]);
        assert_eq!(written["future_key"], json!({"nested": [1, 2]}));
        let text = String::from_utf8(request.to_json().expect("encode")).expect("utf8");
        assert!(text.contains(r#""trace_id": 66096653307018640883071232725686971478"#), "{text}");
        assert!(written["state_time"].as_f64().expect("number") > 1700000000.25);
        assert_eq!(NodeRequest::from_json(PATH, &request.to_json().expect("encode")).expect("decode"), request);
    }

    #[test]
    fn event_id_and_state_time_are_written_even_when_unset() {
        let request = NodeRequest::from_json(PATH, br#"{"state": "requested"}"#).expect("decode");
        let written: Value = serde_json::from_slice(&request.to_json().expect("encode")).expect("json");
        assert_eq!(written["event_id"], Value::Null);
        assert_eq!(written["state_time"], Value::Null);
        assert!(written.as_object().expect("object").contains_key("event_id"));
    }

    #[test]
    fn bad_data_is_an_error_naming_the_path() {
        for bad in [
            &b"not json"[..],
            br#"{"node_types": []}"#,
            br#"{"state": "bogus"}"#,
            br#"{"state": "requested", "node_types": "label"}"#,
            br#"{"state": "requested", "relative_priority": "high"}"#,
            br#"{"state": "requested", "state_time": "yesterday"}"#,
            br#"["state"]"#,
            b"",
        ] {
            match NodeRequest::from_json(PATH, bad) {
                Err(error @ ZkError::Decode { .. }) => {
                    assert!(error.to_string().contains(PATH), "{error}")
                }
                other => panic!("{} decoded as {other:?}", String::from_utf8_lossy(bad)),
            }
        }
    }
}
