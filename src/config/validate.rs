//! The whole-document check, as `nodepool config-validate` does it: the top-level schema,
//! then each provider against its driver's schema. Of the drivers kubepool does not serve,
//! openstack (what a provider without `driver` is) is checked against its schema; the others
//! are recognised but not checked (kubepool ignores them). Pool labels missing from the
//! top-level `labels` are errors for every driver (Nodepool's validator checks openstack
//! only; its launcher fails on the others with a `KeyError`).

use super::check::{self, child, item};
use super::error::Diagnostic;
use super::model::Driver;
use super::schema;
use super::yaml::{Node, Value};

/// Every driver Nodepool 11.0.0 ships (`nodepool/driver/*`).
pub const NODEPOOL_DRIVERS: [&str; 13] = [
    "aws",
    "azure",
    "example",
    "fake",
    "gce",
    "ibmvpc",
    "kubernetes",
    "metastatic",
    "openshift",
    "openshiftpods",
    "openstack",
    "static",
    "test",
];

/// What a `providers` entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    Served(Driver),
    /// Another Nodepool driver: loaded, not served.
    Other(String),
}

/// The driver of a provider entry, as Nodepool picks it (`nodepool.config.get_provider_config`):
/// `driver` defaults to `openstack`, and a provider whose name starts with `fake` is of the
/// `fake` driver whatever it says.
pub fn provider_kind(node: &Node, path: &str) -> Result<ProviderKind, Diagnostic> {
    if node.as_map().is_none() {
        return Err(Diagnostic::at(
            node.pos,
            path,
            format!("expected dict (a provider), got {}", node.value.type_name()),
        ));
    }
    if let Some(name) = node.get("name") {
        match &name.value {
            Value::Str(s) if s.starts_with("fake") => return Ok(ProviderKind::Other("fake".into())),
            Value::Str(_) => {}
            other => {
                return Err(Diagnostic::at(
                    name.pos,
                    &child(path, "name"),
                    format!("expected str, got {}", other.type_name()),
                ));
            }
        }
    }
    let Some(driver) = node.get("driver") else {
        return Ok(ProviderKind::Other("openstack".into()));
    };
    let driver_path = child(path, "driver");
    let Some(name) = driver.as_str() else {
        return Err(Diagnostic::at(
            driver.pos,
            &driver_path,
            format!("expected str, got {}", driver.value.type_name()),
        ));
    };
    if let Some(served) = Driver::from_name(name) {
        return Ok(ProviderKind::Served(served));
    }
    if NODEPOOL_DRIVERS.contains(&name) {
        return Ok(ProviderKind::Other(name.to_string()));
    }
    Err(Diagnostic::at(
        driver.pos,
        &driver_path,
        format!("unknown driver {name:?} (Nodepool 11.0.0 drivers: {})", NODEPOOL_DRIVERS.join(", ")),
    ))
}

/// Every problem of the document; empty if it is valid.
pub fn validate(root: &Node) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    check::check(root, &schema::TOP_LEVEL, "", &mut out);
    diskimage_parents(root, &mut out);
    let labels: Option<Vec<&str>> = match root.get("labels") {
        None => Some(Vec::new()),
        Some(labels) => {
            labels.as_seq().map(|labels| labels.iter().filter_map(|l| l.get("name").and_then(Node::as_str)).collect())
        }
    };
    if let Some(providers) = root.get("providers").and_then(Node::as_seq) {
        for (i, provider) in providers.iter().enumerate() {
            let path = item("providers", i);
            match provider_kind(provider, &path) {
                Ok(ProviderKind::Served(driver)) => check::check(provider, schema::provider(driver), &path, &mut out),
                Ok(ProviderKind::Other(driver)) if driver == "openstack" => openstack(provider, &path, &mut out),
                Ok(ProviderKind::Other(_)) => {}
                Err(problem) => {
                    out.push(problem);
                    continue;
                }
            }
            if let Some(labels) = &labels {
                pool_labels_defined(provider, &path, labels, &mut out);
            }
        }
    }
    out
}

/// An openstack provider against Nodepool's openstack schema. Without `driver`, its problems
/// come with a hint: it may be meant as a Kubernetes provider.
fn openstack(provider: &Node, path: &str, out: &mut Vec<Diagnostic>) {
    let mut problems = Vec::new();
    check::check(provider, &schema::OPENSTACK_PROVIDER, path, &mut problems);
    if !problems.is_empty() && provider.get("driver").is_none() {
        problems.push(Diagnostic::at(
            provider.pos,
            path,
            "a provider without `driver` is an OpenStack provider, as in Nodepool; for a Kubernetes \
             provider add `driver: kubernetes` (or openshift, openshiftpods)"
                .into(),
        ));
    }
    out.extend(problems);
}

/// Every label of every pool of `provider` must be a top-level label. Pool labels are
/// `labels[].name` (or plain names), and for the static driver `nodes[].labels`.
fn pool_labels_defined(provider: &Node, path: &str, labels: &[&str], out: &mut Vec<Diagnostic>) {
    let Some(pools) = provider.get("pools").and_then(Node::as_seq) else { return };
    let provider_name = provider.get("name").and_then(Node::as_str).unwrap_or("?");
    let mut report = |label: &Node, label_path: String| {
        let name = match label.get("name") {
            Some(name) => name.as_str(),
            None => label.as_str(),
        };
        if let Some(name) = name.filter(|name| !labels.contains(name)) {
            out.push(Diagnostic::at(
                label.pos,
                &label_path,
                format!("label {name:?} of provider {provider_name:?} is not in the top-level labels"),
            ));
        }
    };
    for (p, pool) in pools.iter().enumerate() {
        let pool_path = item(&child(path, "pools"), p);
        if let Some(pool_labels) = pool.get("labels").and_then(Node::as_seq) {
            for (l, label) in pool_labels.iter().enumerate() {
                report(label, item(&child(&pool_path, "labels"), l));
            }
        }
        for (n, node) in pool.get("nodes").and_then(Node::as_seq).unwrap_or_default().iter().enumerate() {
            let labels_path = child(&item(&child(&pool_path, "nodes"), n), "labels");
            let Some(node_labels) = node.get("labels") else { continue };
            match node_labels.as_seq() {
                Some(items) => {
                    for (l, label) in items.iter().enumerate() {
                        report(label, item(&labels_path, l));
                    }
                }
                None => report(node_labels, labels_path),
            }
        }
    }
}

/// A diskimage's `parent` must be another diskimage (Nodepool: "diskimage X has non-existant
/// parent: Y").
fn diskimage_parents(root: &Node, out: &mut Vec<Diagnostic>) {
    let Some(images) = root.get("diskimages").and_then(Node::as_seq) else { return };
    let names: Vec<&str> = images.iter().filter_map(|i| i.get("name").and_then(Node::as_str)).collect();
    for (i, image) in images.iter().enumerate() {
        let Some(parent) = image.get("parent") else { continue };
        let Some(name) = parent.as_str() else { continue }; // a wrong type is the schema's finding
        if !names.contains(&name) {
            let path = child(&item("diskimages", i), "parent");
            out.push(Diagnostic::at(
                parent.pos,
                &path,
                format!("diskimage parent {name:?} is not a diskimage of this file"),
            ));
        }
    }
}
