//! Checks that the parts of a label handed to the Kubernetes API verbatim have the shape the
//! API expects: a form-B `spec` is a PodSpec, `volumes` are Volumes, `volume-mounts` are
//! VolumeMounts, `image-pull-secrets` are references, `node-selector` values are strings.
//! Nodepool passes them on unchecked and the launch fails later; kubepool reports them with the
//! file position when the config is loaded.

use super::check::{child, item};
use super::error::Diagnostic;
use super::pool_labels::pool_labels;
use super::yaml::to_json;
use super::yaml::{Node, Value};
use crate::k8s::typed;
use k8s_openapi::api::core::v1::{LocalObjectReference, PodSpec, Volume, VolumeMount};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// Checks one YAML node against one Kubernetes type.
type ShapeCheck = fn(&Node, &str, &mut Vec<Diagnostic>);

/// Every shape problem of the labels of every provider.
pub fn check(root: &Node, out: &mut Vec<Diagnostic>) {
    for entry in pool_labels(root) {
        check_label(entry.label, &entry.path, out);
    }
}

fn check_label(label: &Node, path: &str, out: &mut Vec<Diagnostic>) {
    if let Some(spec) = label.get("spec").filter(|s| matches!(s.value, Value::Map(_))) {
        shape::<PodSpec>(spec, &child(path, "spec"), "a Kubernetes PodSpec", out);
    }
    let lists: [(&str, ShapeCheck); 3] = [
        ("volumes", |n, p, o| shape::<Volume>(n, p, "a Kubernetes Volume", o)),
        ("volume-mounts", |n, p, o| shape::<VolumeMount>(n, p, "a Kubernetes VolumeMount", o)),
        ("image-pull-secrets", |n, p, o| shape::<LocalObjectReference>(n, p, "a secret reference ({name: ...})", o)),
    ];
    for (key, check_item) in lists {
        for (i, entry) in label.get(key).and_then(Node::as_seq).unwrap_or_default().iter().enumerate() {
            check_item(entry, &item(&child(path, key), i), out);
        }
    }
    if let Some(selector) = label.get("node-selector").filter(|s| matches!(s.value, Value::Map(_))) {
        shape::<BTreeMap<String, String>>(selector, &child(path, "node-selector"), "a map of strings", out);
    }
}

fn shape<T: DeserializeOwned>(node: &Node, path: &str, what: &str, out: &mut Vec<Diagnostic>) {
    if let Err(error) = typed::<T>(&to_json(node)) {
        out.push(Diagnostic::at(node.pos, path, format!("not {what}: {error}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<String> {
        let root = crate::config::yaml::parse(yaml).expect("yaml");
        let mut out = Vec::new();
        check(&root, &mut out);
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn reports_each_bad_shape_with_its_position() {
        let found = problems(
            "providers:\n  - name: k\n    driver: kubernetes\n    pools:\n      - name: main\n        labels:\n\
             \x20         - name: a\n            type: pod\n            spec:\n              containers: 3\n\
             \x20         - name: b\n            type: pod\n            volumes:\n              - name: v\n\
             \x20               emptyDir: []\n            node-selector:\n              disk: {ssd: 1}\n",
        );
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].starts_with("10:15: providers[0].pools[0].labels[0].spec: not a Kubernetes PodSpec"));
        assert!(found[1].contains("labels[1].volumes[0]: not a Kubernetes Volume: emptyDir"), "{found:?}");
        assert!(found[2].contains("labels[1].node-selector: not a map of strings"), "{found:?}");
    }

    #[test]
    fn good_shapes_pass() {
        let found = problems(
            "providers:\n  - name: k\n    driver: kubernetes\n    pools:\n      - name: main\n        labels:\n\
             \x20         - name: a\n            type: pod\n            spec:\n              containers:\n\
             \x20               - name: c\n                  image: x\n",
        );
        assert!(found.is_empty(), "{found:?}");
    }
}
