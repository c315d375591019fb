//! kubepool's buildset option: the key [`BUILDSET_NAMESPACE_KEY`] inside a kubernetes pod
//! label's `annotations` map (docs/config.md, "Buildset pods").
//!
//! Like `kubepool.io/ssh` it lives in `annotations` because Nodepool's schema accepts any
//! mapping there, so a file using it still passes the real `nodepool config-validate`;
//! kubepool takes the key out before the map becomes the pod's annotations.

use super::check::child;
use super::error::Diagnostic;
use super::pool_labels::pool_labels;
use super::yaml::{Node, to_json};

/// The annotation key that puts a pod label's nodes of a buildset into the namespace of a
/// namespace node of the same buildset.
pub const BUILDSET_NAMESPACE_KEY: &str = "kubepool.io/buildset-namespace";

/// The value of [`BUILDSET_NAMESPACE_KEY`]: a boolean.
pub fn parse(value: &serde_json::Value) -> Result<bool, String> {
    value.as_bool().ok_or_else(|| format!("expected true or false, got {value}"))
}

/// Every problem of a [`BUILDSET_NAMESPACE_KEY`] value in the file: not a boolean, or on a
/// label that is not a pod label of a kubernetes provider (a namespace label, an SSH node, a
/// label of another driver).
pub fn check(root: &Node, out: &mut Vec<Diagnostic>) {
    for entry in pool_labels(root) {
        let annotations = entry.label.get("annotations");
        let Some(value) = annotations.and_then(|a| a.get(BUILDSET_NAMESPACE_KEY)) else { continue };
        let namespace_label = entry.label.get("type").and_then(Node::as_str) == Some("namespace");
        let ssh = annotations.and_then(|a| a.get(super::ssh::SSH_KEY)).is_some();
        let problem = if !entry.kubernetes() || namespace_label {
            Some(format!("{BUILDSET_NAMESPACE_KEY} is an option of kubernetes pod labels only"))
        } else if ssh {
            Some(format!("{BUILDSET_NAMESPACE_KEY} cannot be combined with {}", super::ssh::SSH_KEY))
        } else {
            parse(&to_json(value)).err()
        };
        if let Some(message) = problem {
            let path = child(&child(&entry.path, "annotations"), BUILDSET_NAMESPACE_KEY);
            out.push(Diagnostic::at(value.pos, &path, message));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_booleans() {
        assert_eq!(parse(&json!(true)), Ok(true));
        assert_eq!(parse(&json!(false)), Ok(false));
        assert!(parse(&json!("true")).expect_err("a string").contains("expected true or false"));
        assert!(parse(&json!(1)).is_err());
    }
}
