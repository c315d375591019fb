//! A Kubernetes node's connection dict (`connection_port`, reference §5), as the executor
//! reads it: `host`, `namespace`, `user`, `token`, `skiptls`, `ca_crt`, and `pod` for kubectl
//! nodes. The token is a secret: it is never logged or printed ([`std::fmt::Debug`] hides it).

use super::pyyaml::Yaml;
use serde_json::{Map, Value};

/// How Zuul treats a node (`connection_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A pod: in the inventory, with log streaming.
    Kubectl,
    /// A namespace or OpenShift project: only in `zuul.resources`.
    Namespace,
}

#[derive(Clone)]
pub struct Connection {
    pub kind: Kind,
    pub host: String,
    pub namespace: String,
    pub user: String,
    token: Yaml,
    /// `ca_crt` when it is set and not empty (base64 PEM).
    pub ca_crt: Option<Yaml>,
    pub skiptls: bool,
    /// The pod of a kubectl node.
    pub pod: Option<String>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("namespace", &self.namespace)
            .field("user", &self.user)
            .field("token", &"<hidden>")
            .field("skiptls", &self.skiptls)
            .field("pod", &self.pod)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// The connection of a node record; `Ok(None)` for a node that is not a Kubernetes node.
    pub fn of(record: &Map<String, Value>) -> Result<Option<Connection>, String> {
        let kind = match record.get("connection_type").and_then(Value::as_str) {
            Some("kubectl") => Kind::Kubectl,
            Some("namespace" | "project") => Kind::Namespace,
            _ => return Ok(None),
        };
        let data = match record.get("connection_port") {
            Some(Value::Object(data)) => data,
            _ => return Err("connection_port is not a dict of credentials".into()),
        };
        let text = |key: &str| match data.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(format!("connection_port.{key} is not a string")),
            None => Err(format!("connection_port.{key} is missing")),
        };
        let skiptls = match data.get("skiptls") {
            Some(value) => Yaml::from(value).is_truthy(),
            None => return Err("connection_port.skiptls is missing".into()),
        };
        let ca_crt = data.get("ca_crt").map(Yaml::from).filter(Yaml::is_truthy);
        let pod = match kind {
            Kind::Kubectl => Some(text("pod")?),
            Kind::Namespace => None,
        };
        let token = match data.get("token") {
            Some(token) => Yaml::from(token),
            None => return Err("connection_port.token is missing".into()),
        };
        Ok(Some(Connection {
            kind,
            host: text("host")?,
            namespace: text("namespace")?,
            user: text("user")?,
            token,
            ca_crt,
            skiptls,
            pod,
        }))
    }

    /// The token, for the kubeconfig only.
    pub(super) fn token(&self) -> &Yaml {
        &self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(port: Value, kind: &str) -> Map<String, Value> {
        let value = serde_json::json!({"connection_type": kind, "connection_port": port});
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_pod_node_needs_its_pod_and_hides_its_token() {
        let port = serde_json::json!({"host": "https://k8s:6443", "namespace": "ns", "user": "zuul-worker",
            "token": "s3cret", "skiptls": false, "ca_crt": "Q0E=", "pod": "p"});
        let connection = Connection::of(&record(port.clone(), "kubectl")).expect("valid").expect("k8s node");
        assert_eq!(connection.kind, Kind::Kubectl);
        assert_eq!(connection.pod.as_deref(), Some("p"));
        assert_eq!(connection.ca_crt, Some(Yaml::str("Q0E=")));
        assert!(!format!("{connection:?}").contains("s3cret"));

        let mut no_pod = port;
        if let Some(m) = no_pod.as_object_mut() {
            m.remove("pod");
        }
        assert_eq!(Connection::of(&record(no_pod, "kubectl")).err().as_deref(), Some("connection_port.pod is missing"));
    }

    #[test]
    fn namespaces_and_projects_have_no_pod_and_an_empty_ca_is_none() {
        let port = serde_json::json!({"host": "https://k8s", "namespace": "ns", "user": "u", "token": "t",
            "skiptls": true, "ca_crt": ""});
        for kind in ["namespace", "project"] {
            let connection = Connection::of(&record(port.clone(), kind)).expect("valid").expect("k8s node");
            assert_eq!(connection.kind, Kind::Namespace);
            assert_eq!(connection.pod, None);
            assert_eq!(connection.ca_crt, None);
            assert!(connection.skiptls);
        }
        assert!(Connection::of(&record(port, "ssh")).expect("valid").is_none());
    }
}
