//! kubepool's SSH node option: the key [`SSH_KEY`] inside a kubernetes pod label's
//! `annotations` map (docs/config.md, "SSH nodes").
//!
//! It lives in `annotations` because Nodepool's schema accepts any mapping there, so a file
//! using it still passes the real `nodepool config-validate`; kubepool takes the key out before
//! the map becomes the pod's annotations.

use super::check::child;
use super::error::Diagnostic;
use super::pool_labels::pool_labels;
use super::yaml::Node;
use super::yaml::to_json;
pub use crate::drivers::spec::{AuthorizedKeys, IngressOptions, ServiceType, SshOptions};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The annotation key that turns a pod label into an SSH node.
pub const SSH_KEY: &str = "kubepool.io/ssh";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    #[serde(default)]
    username: Option<String>,
    authorized_keys: RawKeys,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    node_port: Option<i32>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    ingress: Option<RawIngress>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    #[serde(default)]
    secret: Option<RawSecret>,
    #[serde(default)]
    file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecret {
    namespace: String,
    name: String,
    #[serde(default)]
    key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIngress {
    #[serde(default)]
    class: Option<String>,
    host: String,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Parses the value of [`SSH_KEY`]; the error says what is wrong.
pub fn parse(value: &serde_json::Value) -> Result<SshOptions, String> {
    let raw: Raw = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    let authorized_keys = match (raw.authorized_keys.secret, raw.authorized_keys.file) {
        (Some(s), None) => AuthorizedKeys::Secret {
            namespace: s.namespace,
            name: s.name,
            key: s.key.unwrap_or_else(|| "authorized_keys".into()),
        },
        (None, Some(file)) => AuthorizedKeys::File(file),
        _ => return Err("authorized-keys: give exactly one of `secret` and `file`".into()),
    };
    let service = match raw.service.as_deref() {
        None | Some("ClusterIP") => ServiceType::ClusterIp,
        Some("NodePort") => ServiceType::NodePort,
        Some("LoadBalancer") => ServiceType::LoadBalancer,
        Some(other) => return Err(format!("service: {other:?} is not ClusterIP, NodePort or LoadBalancer")),
    };
    if raw.node_port.is_some() && service == ServiceType::ClusterIp {
        return Err("node-port: needs service NodePort or LoadBalancer".into());
    }
    let username = raw.username.unwrap_or_else(|| "zuul".into());
    if username.is_empty() || !username.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
        return Err(format!("username: {username:?} is not a plain account name"));
    }
    let ingress = raw.ingress.map(|i| IngressOptions {
        class: i.class,
        host: i.host,
        port: i.port.unwrap_or(22),
        annotations: i.annotations,
    });
    Ok(SshOptions { username, authorized_keys, service, node_port: raw.node_port, address: raw.address, ingress })
}

/// Every problem of an [`SSH_KEY`] value in the file: a malformed value, or one on a label that
/// is not a form-A pod label of a kubernetes provider.
pub fn check(root: &Node, out: &mut Vec<Diagnostic>) {
    for entry in pool_labels(root) {
        let label = entry.label;
        let Some(value) = label.get("annotations").and_then(|a| a.get(SSH_KEY)) else { continue };
        let form_a_pod = label.get("spec").is_none() && label.get("type").and_then(Node::as_str) != Some("namespace");
        let problem = if !entry.kubernetes() || !form_a_pod {
            Some("SSH nodes are made from form-A pod labels of kubernetes providers only".to_string())
        } else {
            parse(&to_json(value)).err()
        };
        if let Some(message) = problem {
            out.push(Diagnostic::at(value.pos, &child(&child(&entry.path, "annotations"), SSH_KEY), message));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_a_secret_source() {
        let o = parse(&json!({"authorized-keys": {"secret": {"namespace": "zuul", "name": "exec"}}})).expect("ok");
        assert_eq!(o.username, "zuul");
        assert_eq!(o.service, ServiceType::ClusterIp);
        assert_eq!(
            o.authorized_keys,
            AuthorizedKeys::Secret { namespace: "zuul".into(), name: "exec".into(), key: "authorized_keys".into() }
        );
        assert!(o.ingress.is_none());
    }

    #[test]
    fn ingress_and_node_port() {
        let o = parse(&json!({
            "authorized-keys": {"file": "/k.pub"}, "service": "NodePort", "node-port": 30022,
            "ingress": {"class": "tcp", "host": "ssh.example.org", "annotations": {"a": "b"}}
        }))
        .expect("ok");
        assert_eq!(o.service, ServiceType::NodePort);
        assert_eq!(o.node_port, Some(30022));
        let ingress = o.ingress.expect("ingress");
        assert_eq!((ingress.host.as_str(), ingress.port), ("ssh.example.org", 22));
        assert_eq!(ingress.annotations["a"], "b");
    }

    #[test]
    fn rejects_what_cannot_work() {
        for (value, needle) in [
            (json!({"authorized-keys": {}}), "exactly one"),
            (json!({"authorized-keys": {"file": "/k", "secret": {"namespace": "a", "name": "b"}}}), "exactly one"),
            (json!({"authorized-keys": {"file": "/k"}, "service": "External"}), "not ClusterIP"),
            (json!({"authorized-keys": {"file": "/k"}, "node-port": 30000}), "node-port"),
            (json!({"authorized-keys": {"file": "/k"}, "username": "a b"}), "username"),
            (json!({"authorized-keys": {"file": "/k"}, "typo": 1}), "unknown field"),
            (json!("yes"), "invalid type"),
        ] {
            let error = parse(&value).expect_err("rejected");
            assert!(error.contains(needle), "{value}: {error}");
        }
    }
}
