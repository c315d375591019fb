//! Labels every object a driver creates carries (reference §4.1): the user's `labels`, then the
//! rendered `dynamic-labels`, then the front end's identity labels (Nodepool's four
//! `nodepool_*`), which win. Leak detection and crash recovery find objects by these.

use crate::drivers::naming::NodeNaming;
use kubepool_driver_api::{NodeSpec, RequestAttributes};
use std::collections::BTreeMap;

/// Added by kubepool (Nodepool does not set it): which program made the object.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "kubepool";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dynamic label {key}: {message}")]
pub struct TemplateError {
    pub key: String,
    pub message: String,
}

/// A dynamic label that cannot be rendered fails the launch at once: no retry renders it.
impl From<TemplateError> for kubepool_driver_api::LaunchError {
    fn from(error: TemplateError) -> Self {
        kubepool_driver_api::LaunchError::Permanent(error.to_string())
    }
}

/// The metadata labels of an object made for `spec`.
pub fn object_labels(
    naming: &dyn NodeNaming,
    spec: &NodeSpec,
    labels: &BTreeMap<String, String>,
    dynamic_labels: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, TemplateError> {
    let mut out = labels.clone();
    for (key, template) in dynamic_labels {
        let value = render(template, &spec.request).map_err(|message| TemplateError { key: key.clone(), message })?;
        out.insert(key.clone(), value);
    }
    out.extend(naming.identity_labels(spec));
    out.insert(MANAGED_BY.into(), MANAGED_BY_VALUE.into());
    Ok(out)
}

/// Renders a Python `str.format` template over `{request.<attr>}` (with `{{`/`}}` escapes), as
/// Nodepool does for `dynamic-labels`. `requestor_data` entries are reachable as
/// `{request.requestor_data[key]}`.
pub fn render(template: &str, request: &RequestAttributes) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => field.push(c),
                        None => return Err(format!("unclosed {{ in {template:?}")),
                    }
                }
                out.push_str(&field_value(&field, request)?);
            }
            '}' => return Err(format!("single }} in {template:?}")),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn field_value(field: &str, request: &RequestAttributes) -> Result<String, String> {
    let Some(attribute) = field.strip_prefix("request.") else {
        return Err(format!("unknown field {{{field}}}: only {{request.<attribute>}} is available"));
    };
    let (name, key) = match attribute.split_once('[') {
        Some((name, rest)) => (name, Some(rest.strip_suffix(']').ok_or_else(|| format!("bad index in {{{field}}}"))?)),
        None => (attribute, None),
    };
    let optional = |v: &Option<String>| v.clone().unwrap_or_else(|| "None".to_string());
    let value = match (name, key) {
        ("id", None) => request.id.clone(),
        ("labels", None) => format!("{:?}", request.labels),
        ("requestor", None) => optional(&request.requestor),
        ("relative_priority", None) => request.relative_priority.to_string(),
        ("event_id", None) => optional(&request.event_id),
        ("tenant_name", None) => optional(&request.tenant_name),
        ("created_time", None) => request.created_time.map(|t| t.to_string()).unwrap_or_else(|| "None".into()),
        ("requestor_data", Some(key)) => match request.requestor_data.as_ref().and_then(|d| d.get(key)) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => return Err(format!("requestor_data has no key {key:?}")),
        },
        _ => return Err(format!("request has no attribute {attribute:?}")),
    };
    Ok(value)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A node of a request with every attribute a template may use.
    pub(crate) fn spec() -> NodeSpec {
        NodeSpec {
            node_id: "0000000042".into(),
            provider: "k8s".into(),
            pool: "main".into(),
            label: "pod-fedora".into(),
            request: RequestAttributes {
                id: "200-0000000007".into(),
                labels: vec!["pod-fedora".into()],
                requestor: Some("3f2a".into()),
                requestor_data: Some(serde_json::json!({"job_name": "tox-py311", "tenant_name": "openstack"})),
                relative_priority: 2,
                event_id: None,
                created_time: None,
                tenant_name: Some("openstack".into()),
            },
        }
    }

    #[test]
    fn templates_render_request_attributes_and_escapes() {
        let r = &spec().request;
        assert_eq!(render("{request.id}-{request.relative_priority}", r).expect("ok"), "200-0000000007-2");
        assert_eq!(render("{request.requestor_data[job_name]}", r).expect("ok"), "tox-py311");
        assert_eq!(render("{{literal}}", r).expect("ok"), "{literal}");
        assert_eq!(render("{request.event_id}", r).expect("ok"), "None");
    }

    #[test]
    fn bad_templates_are_errors_not_panics() {
        let r = &spec().request;
        assert!(render("{request.nope}", r).is_err());
        assert!(render("{node.id}", r).is_err());
        assert!(render("{request.id", r).is_err());
        assert!(render("a}b", r).is_err());
        assert!(render("{request.requestor_data[missing]}", r).is_err());
        assert!(render("{request.requestor_data[x}", r).is_err());
    }
}
