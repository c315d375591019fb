//! Buildset resources: a child job of a paused parent (Zuul's buildset registry) runs next to
//! the parent. A namespace node launched for a request whose `requestor_data.build_set_uuid`
//! is set carries that uuid in the label [`BUILDSET_LABEL`] on its namespace; a pod node of a
//! label with `buildset_namespace`, launched for a request of the same buildset, is created in
//! the oldest active such namespace of the same provider ([`parent`]) instead of a fresh one.
//! There it makes only its own pod, service account, token, Role and RoleBinding ([`access`],
//! [`node`]); deleting the node deletes only those. The namespace lives until the parent's
//! node is deleted. Its objects carry the node's identity labels and [`BUILDSET_LABEL`], so
//! the leak pass finds them inside a live namespace ([`leaks`]).

mod access;
pub mod leaks;
pub mod node;
mod parent;

use kubepool_driver_api::NodeSpec;
use tracing::warn;

/// The label whose value is the buildset uuid: on a namespace node's namespace, and on every
/// object of a pod node in a buildset's namespace.
pub const BUILDSET_LABEL: &str = "kubepool.io/buildset";

/// The `requestor_data` key Zuul puts the buildset's uuid under.
const BUILD_SET_UUID: &str = "build_set_uuid";

/// The buildset uuid of the request `spec` is for, when it has one that is a legal label value;
/// one that is not is logged and ignored (the node is then launched as if it had none).
pub fn uuid(spec: &NodeSpec) -> Option<String> {
    let value = spec.request.requestor_data.as_ref()?.get(BUILD_SET_UUID)?;
    match value.as_str().filter(|v| legal_label_value(v)) {
        Some(uuid) => Some(uuid.to_string()),
        None => {
            warn!(request = %spec.request.id, node = %spec.node_id, value = %value,
                "requestor_data.build_set_uuid is not a legal label value; the node is not tied to its buildset");
            None
        }
    }
}

/// A Kubernetes label value: at most 63 characters, alphanumerics with `-`, `_`, `.` inside,
/// starting and ending with an alphanumeric. (An empty value is legal too, but names no
/// buildset.)
fn legal_label_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    !value.is_empty()
        && value.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// The external id of a pod node in a shared namespace: `<namespace>/<pod>` (a namespace name
/// has no `/`, so it never looks like a namespace node's).
pub fn external_id(namespace: &str, pod: &str) -> String {
    format!("{namespace}/{pod}")
}

/// The namespace and pod of an external id made by [`external_id`]; `None` for a namespace.
pub fn parse_external_id(external_id: &str) -> Option<(&str, &str)> {
    external_id.split_once('/').filter(|(namespace, pod)| !namespace.is_empty() && !pod.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubepool_driver_api::RequestAttributes;

    fn spec(requestor_data: serde_json::Value) -> NodeSpec {
        NodeSpec {
            node_id: "0000000001".into(),
            provider: "k8s".into(),
            pool: "main".into(),
            label: "pod".into(),
            request: RequestAttributes { requestor_data: Some(requestor_data), ..Default::default() },
        }
    }

    #[test]
    fn the_uuid_is_taken_only_when_it_is_a_legal_label_value() {
        let zuul = "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99";
        assert_eq!(uuid(&spec(serde_json::json!({"build_set_uuid": zuul}))).as_deref(), Some(zuul));
        assert_eq!(uuid(&spec(serde_json::json!({"job_name": "x"}))), None);
        for bad in [serde_json::json!("a b"), serde_json::json!("x".repeat(64)), serde_json::json!("-a"), 7.into()] {
            assert_eq!(uuid(&spec(serde_json::json!({"build_set_uuid": bad}))), None, "{bad}");
        }
        assert!(legal_label_value("a.b_c-d") && !legal_label_value("a.") && !legal_label_value(""));
    }

    #[test]
    fn external_ids_of_shared_namespaces_split_at_the_slash() {
        assert_eq!(
            parse_external_id(&external_id("main-0000000001", "pod-0000000002")),
            Some(("main-0000000001", "pod-0000000002"))
        );
        assert_eq!(parse_external_id("main-0000000001"), None);
        assert_eq!(parse_external_id("/p"), None);
    }
}
