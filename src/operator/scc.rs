//! OpenShift's SecurityContextConstraints: the executors' grant, and the restricted-SCC rules
//! every other pod the operator makes must pass.
//!
//! The executors run bubblewrap, so their container is privileged; on OpenShift the SCC that
//! allows it (`deploy/operator/openshift-scc.yaml`) is granted to their own ServiceAccount
//! through a RoleBinding the operator makes when the `security.openshift.io` API is served.

use super::names::Names;
use super::objects::object;
use serde_json::{Value, json};

/// The SCC for the executors (shipped in `deploy/operator/openshift-scc.yaml`).
pub const EXECUTOR_SCC: &str = "kubepool-zuul-executor";
/// The ClusterRole that allows `use` of [`EXECUTOR_SCC`] (same file).
pub const EXECUTOR_SCC_ROLE: &str = "kubepool-zuul-executor-scc";

/// The RoleBinding that lets the executors' ServiceAccount `<zuul>-executor` use
/// [`EXECUTOR_SCC`] (OpenShift only).
pub fn executor_binding(names: &Names) -> Value {
    object(
        names,
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        &names.child("executor-scc"),
        "executor",
        json!({
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": EXECUTOR_SCC_ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": names.child("executor"), "namespace": names.namespace}],
        }),
    )
}

fn is_true(value: &Value) -> bool {
    value.as_bool() == Some(true)
}

/// What a pod spec does that OpenShift's `restricted-v2` SCC refuses (empty: it passes):
/// privileged or privilege-escalating containers (`allowPrivilegeEscalation` must be set to
/// false), host namespaces, ports or paths, a fixed `runAsUser`/`runAsGroup`/`fsGroup` (the SCC
/// assigns arbitrary ones), `runAsNonRoot` not true, capabilities not dropping `ALL` or adding
/// any but `NET_BIND_SERVICE`, a seccomp profile other than `RuntimeDefault`.
pub fn restricted_violations(pod: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        if is_true(&pod[key]) {
            found.push(format!("spec.{key}"));
        }
    }
    for volume in pod["volumes"].as_array().into_iter().flatten() {
        if volume.get("hostPath").is_some() {
            found.push(format!("volume {}: hostPath", volume["name"]));
        }
    }
    let pod_context = &pod["securityContext"];
    for key in ["runAsUser", "runAsGroup", "fsGroup"] {
        if pod_context.get(key).is_some() {
            found.push(format!("spec.securityContext.{key}: a fixed id"));
        }
    }
    if pod_context["supplementalGroups"].as_array().is_some_and(|g| !g.is_empty()) {
        found.push("spec.securityContext.supplementalGroups: fixed ids".to_string());
    }
    let pod_seccomp = pod_context["seccompProfile"]["type"].as_str();
    let containers = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|key| pod[*key].as_array().into_iter().flatten().map(move |c| (*key, c)));
    for (key, container) in containers {
        let at = format!("{key}[{}]", container["name"].as_str().unwrap_or("?"));
        let context = &container["securityContext"];
        if is_true(&context["privileged"]) {
            found.push(format!("{at}: privileged"));
        }
        if context["allowPrivilegeEscalation"].as_bool() != Some(false) {
            found.push(format!("{at}: allowPrivilegeEscalation is not false"));
        }
        for id in ["runAsUser", "runAsGroup"] {
            if context.get(id).is_some() {
                found.push(format!("{at}: securityContext.{id}: a fixed id"));
            }
        }
        let non_root = context["runAsNonRoot"].as_bool().or_else(|| pod_context["runAsNonRoot"].as_bool());
        if non_root != Some(true) {
            found.push(format!("{at}: runAsNonRoot is not true"));
        }
        let drops = context["capabilities"]["drop"].as_array();
        if !drops.is_some_and(|d| d.iter().any(|c| c == "ALL")) {
            found.push(format!("{at}: capabilities do not drop ALL"));
        }
        for added in context["capabilities"]["add"].as_array().into_iter().flatten() {
            if added != "NET_BIND_SERVICE" {
                found.push(format!("{at}: adds capability {added}"));
            }
        }
        let seccomp = context["seccompProfile"]["type"].as_str().or(pod_seccomp);
        if seccomp != Some("RuntimeDefault") {
            found.push(format!("{at}: seccompProfile is {seccomp:?}, not RuntimeDefault"));
        }
        for port in container["ports"].as_array().into_iter().flatten() {
            if port.get("hostPort").is_some() {
                found.push(format!("{at}: hostPort {}", port["hostPort"]));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests;
