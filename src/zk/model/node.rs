//! `Node` JSON (reference §2.5; NP `Node.toDict`/`updateFromDict`, ZU `model.Node`).

use super::Opaque;
use super::{Extra, NodeState, ZkError, decode_with_extra, encode_with_extra, now};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A node as stored in `/nodepool/nodes/<id>` (the id is the znode name, not a field).
///
/// Only `state` is required; other keys default as in Nodepool's `updateFromDict`.
/// [`Node::to_json`] writes every key of Nodepool's `toDict`, `ssh_port` as a copy of
/// `connection_port`, and the unknown keys kept in `extra` (Zuul writes back `id`, for one).
///
/// Its `Debug` output is the JSON of the known fields with the credentials hidden.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub state: NodeState,
    #[serde(default)]
    pub state_time: Option<f64>,
    #[serde(default)]
    pub cloud: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub pool: Option<String>,
    /// Labels (`[label]`); a bare string is read as a one-element list, like Nodepool's `as_list`.
    #[serde(rename = "type", default, deserialize_with = "as_list")]
    pub node_type: Vec<String>,
    /// Request id the node is allocated to.
    #[serde(default)]
    pub allocated_to: Option<String>,
    #[serde(default)]
    pub az: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub public_ipv4: Option<String>,
    #[serde(default)]
    pub private_ipv4: Option<String>,
    #[serde(default)]
    pub public_ipv6: Option<String>,
    #[serde(default)]
    pub host_id: Option<String>,
    /// Pod name for kubectl nodes (becomes `ansible_host`).
    #[serde(default)]
    pub interface_ip: Option<String>,
    /// A credentials dict for k8s drivers (§5), an int for ssh drivers; absent → `ssh_port`,
    /// else 22.
    #[serde(default = "default_port")]
    pub connection_port: Value,
    #[serde(default)]
    pub image_id: Option<String>,
    /// Pool-worker id of the launcher that created the node.
    #[serde(default)]
    pub launcher: Option<String>,
    #[serde(default)]
    pub created_time: Option<f64>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub user_data: Option<Value>,
    #[serde(default)]
    pub hold_job: Option<String>,
    #[serde(default)]
    pub host_keys: Vec<String>,
    #[serde(default)]
    pub username: Option<String>,
    /// `kubectl`, `namespace` or `project` for the k8s drivers.
    #[serde(default)]
    pub connection_type: Option<String>,
    #[serde(default)]
    pub shell_type: Option<String>,
    /// Seconds; kept as written (Nodepool coerces it with `int()`), see [`Node::hold_expiration_secs`].
    #[serde(default)]
    pub hold_expiration: Option<Value>,
    /// Quota used by the node (§2.10), e.g. `{"cores": 1, "instances": 1, "ram": 512}`.
    #[serde(default)]
    pub resources: Option<Map<String, Value>>,
    #[serde(default)]
    pub slot: Option<Value>,
    /// Pool `node-attributes`; Zuul reads `executor-zone` from it.
    #[serde(default)]
    pub attributes: Option<Map<String, Value>>,
    #[serde(default)]
    pub python_path: Option<String>,
    #[serde(default)]
    pub tenant_name: Option<String>,
    #[serde(default)]
    pub driver_data: Option<Value>,
    #[serde(default)]
    pub requestor: Option<String>,
    #[serde(default)]
    pub node_properties: Option<Map<String, Value>>,
    /// Keys this model does not know, written back unchanged.
    #[serde(skip)]
    pub extra: Extra,
}

const SSH_PORT: &str = "ssh_port";

fn default_port() -> Value {
    Value::from(22)
}

fn as_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(OneOrMany::One(label)) => vec![label],
        Some(OneOrMany::Many(labels)) => labels,
    })
}

impl Node {
    /// A new node in state `init` (§2.8 step 11), stamped now, with the k8s drivers' defaults
    /// (`host_keys: []`, `node_properties: {}`).
    pub fn new(label: impl Into<String>) -> Self {
        let time = now();
        Self {
            state: NodeState::Init,
            state_time: Some(time),
            cloud: None,
            provider: None,
            pool: None,
            node_type: vec![label.into()],
            allocated_to: None,
            az: None,
            region: None,
            public_ipv4: None,
            private_ipv4: None,
            public_ipv6: None,
            host_id: None,
            interface_ip: None,
            connection_port: default_port(),
            image_id: None,
            launcher: None,
            created_time: Some(time),
            external_id: None,
            hostname: None,
            comment: None,
            user_data: None,
            hold_job: None,
            host_keys: Vec::new(),
            username: None,
            connection_type: None,
            shell_type: None,
            hold_expiration: None,
            resources: None,
            slot: None,
            attributes: None,
            python_path: None,
            tenant_name: None,
            driver_data: None,
            requestor: None,
            node_properties: Some(Map::new()),
            extra: Extra::new(),
        }
    }

    /// Decodes the JSON stored at `path`. A missing `connection_port` falls back to `ssh_port`.
    pub fn from_json(path: &str, data: &[u8]) -> Result<Self, ZkError> {
        let (mut node, mut extra): (Self, Extra) = decode_with_extra(path, data)?;
        if let Some(port) = extra.remove(SSH_PORT) {
            let raw: BTreeMap<String, IgnoredAny> =
                serde_json::from_slice(data).map_err(|source| ZkError::Decode { path: path.to_string(), source })?;
            if !raw.contains_key("connection_port") {
                node.connection_port = port.parse().ok_or_else(|| ZkError::Decode {
                    path: path.to_string(),
                    source: serde::de::Error::custom("bad ssh_port"),
                })?;
            }
        }
        node.extra = extra;
        Ok(node)
    }

    /// Encodes every key of Nodepool's `toDict`, with `ssh_port` equal to `connection_port`.
    pub fn to_json(&self) -> Result<Vec<u8>, ZkError> {
        let mut extra = self.extra.clone();
        extra.insert(SSH_PORT.to_string(), Opaque::from_value(&self.connection_port)?);
        encode_with_extra("node", self, &extra)
    }

    /// Sets `state` and stamps `state_time` with the current time.
    pub fn set_state(&mut self, state: NodeState) {
        self.state = state;
        self.state_time = Some(now());
    }

    /// `hold_expiration` as Nodepool reads it: an integer, 0 when it cannot be coerced,
    /// `None` when unset.
    pub fn hold_expiration_secs(&self) -> Option<i64> {
        match self.hold_expiration.as_ref()? {
            Value::Null => None,
            Value::Number(n) => Some(n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).unwrap_or(0)),
            Value::String(s) => Some(s.trim().parse().unwrap_or(0)),
            _ => Some(0),
        }
    }

    /// The node's single label (k8s drivers store exactly one).
    pub fn label(&self) -> Option<&str> {
        self.node_type.first().map(String::as_str)
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_value(self) {
            Ok(value) => write!(f, "Node {}", kubepool_driver_api::driver::redacted(&value)),
            Err(_) => f.write_str("Node { .. }"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PATH: &str = "/nodepool/nodes/0000000042";

    /// Every key of Nodepool 11's `Node.toDict` (§2.5).
    const NODEPOOL_KEYS: [&str; 37] = [
        "state",
        "state_time",
        "cloud",
        "provider",
        "pool",
        "type",
        "allocated_to",
        "az",
        "region",
        "public_ipv4",
        "private_ipv4",
        "public_ipv6",
        "host_id",
        "interface_ip",
        "connection_port",
        "ssh_port",
        "image_id",
        "launcher",
        "created_time",
        "external_id",
        "hostname",
        "comment",
        "user_data",
        "hold_job",
        "host_keys",
        "username",
        "connection_type",
        "shell_type",
        "hold_expiration",
        "resources",
        "slot",
        "attributes",
        "python_path",
        "tenant_name",
        "driver_data",
        "requestor",
        "node_properties",
    ];

    fn k8s_node() -> Node {
        let mut node = Node::new("pod-fedora");
        node.set_state(NodeState::Ready);
        node.provider = Some("kubespray".into());
        node.pool = Some("main".into());
        node.connection_type = Some("kubectl".into());
        node.interface_ip = Some("pod-fedora-0000000042".into());
        node.connection_port = json!({"name": "ns", "namespace": "ns", "host": "https://k8s", "skiptls": true,
                                      "token": "t", "user": "zuul-worker", "pod": "pod-fedora-0000000042"});
        node.resources = json!({"cores": 1, "instances": 1, "ram": 512}).as_object().cloned();
        node
    }

    #[test]
    fn written_node_has_every_nodepool_key_and_ssh_port_copy() {
        let written: Value = serde_json::from_slice(&k8s_node().to_json().expect("encode")).expect("json");
        let object = written.as_object().expect("object");
        for key in NODEPOOL_KEYS {
            assert!(object.contains_key(key), "{key} missing");
        }
        assert_eq!(object.len(), NODEPOOL_KEYS.len(), "unexpected keys in {written}");
        assert_eq!(written["ssh_port"], written["connection_port"]);
        assert_eq!(written["connection_port"]["pod"], "pod-fedora-0000000042");
        assert_eq!(written["state"], "ready");
        assert_eq!(written["type"], json!(["pod-fedora"]));
        assert_eq!(written["host_keys"], json!([]));
        assert_eq!(written["node_properties"], json!({}));
    }

    #[test]
    fn round_trip_keeps_unknown_keys_such_as_zuuls_id() {
        let mut value: Value = serde_json::from_slice(&k8s_node().to_json().expect("encode")).expect("json");
        value["id"] = json!("0000000042");
        value["future"] = json!({"a": [true]});
        value["state"] = json!("in-use");
        value["user_data"] = json!({"zuul_system": "abc", "project_name": "p"});
        let node = Node::from_json(PATH, value.to_string().as_bytes()).expect("decode");
        assert_eq!(node.state, NodeState::InUse);
        assert_eq!(node.extra.get("id").map(Opaque::get), Some(r#""0000000042""#));
        assert!(!node.extra.contains_key("ssh_port"), "ssh_port is derived, not extra");
        let again: Value = serde_json::from_slice(&node.to_json().expect("encode")).expect("json");
        assert_eq!(again, value);
    }

    #[test]
    fn nodepool_defaults_for_old_or_sparse_data() {
        let node = Node::from_json(PATH, br#"{"state": "ready", "type": "label", "ssh_port": 2222}"#).expect("decode");
        assert_eq!(node.node_type, ["label"]);
        assert_eq!(node.connection_port, json!(2222));
        let node = Node::from_json(PATH, br#"{"state": "ready", "type": null}"#).expect("decode");
        assert!(node.node_type.is_empty());
        assert_eq!(node.connection_port, json!(22));
        assert_eq!(node.label(), None);
        let node = Node::from_json(
            PATH,
            br#"{"state": "hold", "connection_port": 1, "ssh_port": 2, "hold_expiration": "60"}"#,
        )
        .expect("decode");
        assert_eq!(node.connection_port, json!(1));
        assert_eq!(node.hold_expiration_secs(), Some(60));
    }

    #[test]
    fn bad_data_is_an_error_naming_the_path() {
        for bad in [
            &b"{"[..],
            br#"{"type": ["x"]}"#,
            br#"{"state": "in_use"}"#,
            br#"{"state": "ready", "type": 3}"#,
            br#"{"state": "ready", "resources": []}"#,
            br#"{"state": "ready", "host_keys": "key"}"#,
            br#"{"state": "ready", "ssh_port": 22, "allocated_to": 5}"#,
            b"null",
        ] {
            match Node::from_json(PATH, bad) {
                Err(error @ ZkError::Decode { .. }) => assert!(error.to_string().contains(PATH), "{error}"),
                other => panic!("{} decoded as {other:?}", String::from_utf8_lossy(bad)),
            }
        }
    }
}
