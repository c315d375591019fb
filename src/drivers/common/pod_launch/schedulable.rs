//! Could a pod the scheduler turned away ever run in this cluster? A pod whose node selector
//! matches no node, or that needs more than any matching node can hold, or whose taints it does
//! not tolerate, never will: its node fails at once with the scheduler's reason. A pod that only
//! waits for capacity to free up keeps waiting.

use k8s_openapi::api::core::v1::{Node, PodSpec, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

/// True if at least one node could hold `spec` once it is otherwise empty.
pub fn fits_some_node(spec: &PodSpec, nodes: &[Node]) -> bool {
    let needed = requests(spec);
    nodes.iter().any(|node| selector_matches(spec, node) && tolerates(spec, node) && holds(node, &needed))
}

/// The pod's requests: the sum over its containers, or the largest init container if that is
/// more (as the scheduler counts them).
pub fn requests(spec: &PodSpec) -> BTreeMap<String, f64> {
    let of = |c: &k8s_openapi::api::core::v1::Container| -> BTreeMap<String, f64> {
        let resources = c.resources.as_ref();
        // A limit without a request defaults the request to the limit.
        let mut out: BTreeMap<String, f64> = BTreeMap::new();
        for (name, q) in resources.and_then(|r| r.limits.as_ref()).into_iter().flatten() {
            out.insert(name.clone(), parse(q).unwrap_or(0.0));
        }
        for (name, q) in resources.and_then(|r| r.requests.as_ref()).into_iter().flatten() {
            out.insert(name.clone(), parse(q).unwrap_or(0.0));
        }
        out
    };
    let mut total: BTreeMap<String, f64> = BTreeMap::new();
    for c in &spec.containers {
        for (name, amount) in of(c) {
            *total.entry(name).or_insert(0.0) += amount;
        }
    }
    for c in spec.init_containers.iter().flatten() {
        for (name, amount) in of(c) {
            let entry = total.entry(name).or_insert(0.0);
            *entry = entry.max(amount);
        }
    }
    total
}

fn selector_matches(spec: &PodSpec, node: &Node) -> bool {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    spec.node_selector.iter().flatten().all(|(k, v)| labels.get(k) == Some(v))
}

fn tolerates(spec: &PodSpec, node: &Node) -> bool {
    let tolerations = spec.tolerations.clone().unwrap_or_default();
    node.spec
        .iter()
        .flat_map(|s| s.taints.iter().flatten())
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|taint| tolerations.iter().any(|t| toleration_matches(t, taint)))
}

fn toleration_matches(t: &Toleration, taint: &Taint) -> bool {
    if t.effect.as_deref().is_some_and(|e| !e.is_empty() && e != taint.effect) {
        return false;
    }
    let key_matches = match t.key.as_deref() {
        None | Some("") => t.operator.as_deref() == Some("Exists"),
        Some(key) => key == taint.key,
    };
    key_matches
        && match t.operator.as_deref() {
            Some("Exists") => true,
            _ => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        }
}

fn holds(node: &Node, needed: &BTreeMap<String, f64>) -> bool {
    let allocatable = node.status.as_ref().and_then(|s| s.allocatable.clone()).unwrap_or_default();
    needed
        .iter()
        .filter(|(_, amount)| **amount > 0.0)
        .all(|(name, amount)| allocatable.get(name).and_then(parse).is_some_and(|have| have + 1e-9 >= *amount))
}

/// A Kubernetes quantity (`500m`, `1Gi`, `1024M`, `0.50`, `1e3`) as a number of base units.
pub fn parse(q: &Quantity) -> Option<f64> {
    let s = q.0.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent if exponent.starts_with(['e', 'E']) => 10f64.powi(exponent[1..].parse().ok()?),
        _ => return None,
    };
    Some(number * factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(labels: serde_json::Value, allocatable: serde_json::Value, taints: serde_json::Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n", "labels": labels},
            "spec": {"taints": taints},
            "status": {"allocatable": allocatable},
        }))
        .expect("node")
    }

    fn spec(v: serde_json::Value) -> PodSpec {
        serde_json::from_value(v).expect("spec")
    }

    #[test]
    fn quantities() {
        let q = |s: &str| parse(&Quantity(s.into()));
        assert_eq!(q("500m"), Some(0.5));
        assert_eq!(q("2"), Some(2.0));
        assert_eq!(q("512Mi"), Some(512.0 * 1024.0 * 1024.0));
        assert_eq!(q("1024M"), Some(1.024e9));
        assert_eq!(q("0.50"), Some(0.5));
        assert_eq!(q("1e3"), Some(1000.0));
        assert_eq!(q("lots"), None);
    }

    #[test]
    fn selector_that_matches_no_node_never_fits() {
        let nodes = [node(json!({"kubernetes.io/os": "linux"}), json!({"cpu": "2"}), json!([]))];
        assert!(fits_some_node(&spec(json!({"containers": [{"name": "c"}]})), &nodes));
        let s = spec(json!({"containers": [{"name": "c"}], "nodeSelector": {"disk": "ssd"}}));
        assert!(!fits_some_node(&s, &nodes));
    }

    #[test]
    fn requests_beyond_every_node_never_fit_but_within_do() {
        let nodes = [node(json!({}), json!({"cpu": "2", "memory": "4Gi"}), json!([]))];
        let with = |cpu: &str| {
            spec(json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": "1Gi"}}}]}))
        };
        assert!(fits_some_node(&with("1500m"), &nodes));
        assert!(!fits_some_node(&with("3"), &nodes));
        let gpu = spec(json!({"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}));
        assert!(!fits_some_node(&gpu, &nodes), "a limit without a request is the request");
    }

    #[test]
    fn untolerated_taint_never_fits() {
        let taints = json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]);
        let nodes = [node(json!({}), json!({"cpu": "2"}), taints)];
        assert!(!fits_some_node(&spec(json!({"containers": [{"name": "c"}]})), &nodes));
        let tolerant = spec(json!({"containers": [{"name": "c"}],
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}));
        assert!(fits_some_node(&tolerant, &nodes));
        let all = spec(json!({"containers": [{"name": "c"}], "tolerations": [{"operator": "Exists"}]}));
        assert!(fits_some_node(&all, &nodes));
    }
}
