//! Small builders shared by the child builders: object skeletons, Secret data, config hashes.

use super::crd::ZuulSpec;
use super::names::Names;
use base64::Engine as _;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// An object of `kind` named `name`, labelled as `component` of the Zuul; `body` is merged in.
pub fn object(names: &Names, api_version: &str, kind: &str, name: &str, component: &str, body: Value) -> Value {
    let mut object = json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": names.namespace, "labels": names.labels(component)},
    });
    if let (Some(target), Value::Object(body)) = (object.as_object_mut(), body) {
        target.extend(body);
    }
    object
}

/// A Secret with `data` (plain text, base64-encoded here).
pub fn secret(names: &Names, name: &str, component: &str, data: &BTreeMap<String, String>) -> Value {
    let engine = base64::engine::general_purpose::STANDARD;
    let data: Map<String, Value> = data.iter().map(|(k, v)| (k.clone(), Value::String(engine.encode(v)))).collect();
    object(names, "v1", "Secret", name, component, json!({"type": "Opaque", "data": data}))
}

/// The SHA-256 (hex) of `parts`, each length-prefixed: the value of a pod's config-hash
/// annotation.
pub fn hash<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in parts {
        context.update(&(part.len() as u64).to_le_bytes());
        context.update(part.as_bytes());
    }
    context.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A pod spec's `imagePullSecrets`: the Zuul's well-formed ones (malformed items are reported by
/// the input checks).
pub fn pull_secrets(spec: &ZuulSpec) -> Vec<Value> {
    spec.image_pull_secrets.iter().flatten().filter_map(|s| s.name()).map(|name| json!({"name": name})).collect()
}

/// `httpGet` probe on `path` at the named port.
pub fn http_probe(path: &str, port: &str, initial_delay: i32) -> Value {
    json!({
        "httpGet": {"path": path, "port": port},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 6,
    })
}

/// The pod-level `securityContext` of every pod but the executor's: OpenShift's restricted SCC
/// (`restricted-v2`) admits it, and it runs on plain Kubernetes too. No `runAsUser`,
/// `runAsGroup` or `fsGroup`: OpenShift assigns arbitrary UIDs, and the images' numeric `USER`
/// (uid 10001 or ZooKeeper's, group 0) satisfies `runAsNonRoot` elsewhere.
pub fn restricted_pod_context() -> Value {
    json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}})
}

/// The container-level `securityContext` of every container but the executor's (see
/// [`restricted_pod_context`]).
pub fn restricted_container_context() -> Value {
    json!({
        "allowPrivilegeEscalation": false,
        "privileged": false,
        "runAsNonRoot": true,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_tell_part_boundaries_apart() {
        assert_ne!(super::hash(["ab", "c"]), super::hash(["a", "bc"]));
        assert_eq!(super::hash(["x"]).len(), 64);
    }
}
