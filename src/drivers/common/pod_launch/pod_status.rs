//! What a pod's status says about a node that is starting: still starting, usable, or never
//! going to start (and why). Pure functions over the pod object, so every case is unit-tested.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// Where a starting pod stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodProgress {
    /// Not there yet; the reason the pod or its container gives, if any.
    Starting(Option<String>),
    /// The container to exec into is running, on this Kubernetes node.
    Running { host: Option<String> },
    /// The scheduler cannot place it now (its message). Whether it ever could is decided
    /// against the cluster's nodes ([`super::schedulable`]).
    Unschedulable(String),
    /// It will never run as configured.
    CannotStart(String),
}

/// Container waiting reasons that no amount of waiting fixes.
const HOPELESS_WAITING: [&str; 6] = [
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "CrashLoopBackOff",
];

/// Image pull messages that mean the image is not there (as opposed to a registry hiccup).
const IMAGE_MISSING: [&str; 5] =
    ["not found", "manifest unknown", "repository does not exist", "pull access denied", "unauthorized"];

/// Where the pod stands; `container` is the one the node's user execs into.
pub fn assess(pod: &Pod, container: &str) -> PodProgress {
    let Some(status) = pod.status.as_ref() else { return PodProgress::Starting(None) };
    let statuses = || status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
    for c in statuses() {
        if let Some(reason) = hopeless(c) {
            return PodProgress::CannotStart(reason);
        }
    }
    match status.phase.as_deref() {
        Some(phase @ ("Failed" | "Succeeded")) => {
            let why = status.message.clone().or_else(|| status.reason.clone());
            return PodProgress::CannotStart(match why {
                Some(why) => format!("the pod {} before it could be used: {why}", phase.to_lowercase()),
                None => format!("the pod {} before it could be used", phase.to_lowercase()),
            });
        }
        Some("Running") => {
            let running = status
                .container_statuses
                .iter()
                .flatten()
                .any(|c| c.name == container && c.state.as_ref().is_some_and(|s| s.running.is_some()));
            if running {
                return PodProgress::Running { host: pod.spec.as_ref().and_then(|s| s.node_name.clone()) };
            }
        }
        _ => {}
    }
    let unschedulable = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable"));
    if let Some(condition) = unschedulable {
        return PodProgress::Unschedulable(condition.message.clone().unwrap_or_else(|| "unschedulable".into()));
    }
    let waiting = statuses().find_map(|c| {
        let w = c.state.as_ref()?.waiting.as_ref()?;
        let reason = w.reason.clone()?;
        Some(match &w.message {
            Some(message) => format!("container {}: {reason}: {message}", c.name),
            None => format!("container {}: {reason}", c.name),
        })
    });
    PodProgress::Starting(waiting)
}

/// Why this container can never run, if that is what its state says.
fn hopeless(c: &ContainerStatus) -> Option<String> {
    let state = c.state.as_ref()?;
    if let Some(t) = &state.terminated {
        let mut why = format!("container {} exited with code {}", c.name, t.exit_code);
        if let Some(reason) = &t.reason {
            why.push_str(&format!(" ({reason})"));
        }
        if let Some(message) = t.message.as_deref().filter(|m| !m.is_empty()) {
            why.push_str(&format!(": {message}"));
        }
        return Some(why);
    }
    let waiting = state.waiting.as_ref()?;
    let reason = waiting.reason.as_deref()?;
    let message = waiting.message.as_deref().unwrap_or("");
    let image_missing = matches!(reason, "ErrImagePull" | "ImagePullBackOff")
        && IMAGE_MISSING.iter().any(|m| message.to_lowercase().contains(m));
    (HOPELESS_WAITING.contains(&reason) || image_missing).then(|| {
        if message.is_empty() {
            format!("container {}: {reason}", c.name)
        } else {
            format!("container {}: {reason}: {message}", c.name)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c"}], "nodeName": "node-1"},
            "status": status,
        }))
        .expect("pod")
    }

    #[test]
    fn running_container_is_usable() {
        let p = pod(json!({"phase": "Running", "containerStatuses": [
            {"name": "c", "ready": true, "restartCount": 0, "image": "i", "imageID": "",
             "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}));
        assert_eq!(assess(&p, "c"), PodProgress::Running { host: Some("node-1".into()) });
    }

    #[test]
    fn running_pod_whose_exec_container_is_not_running_is_starting() {
        let p = pod(json!({"phase": "Running", "containerStatuses": [
            {"name": "c", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
             "state": {"waiting": {"reason": "ContainerCreating"}}}]}));
        assert_eq!(assess(&p, "c"), PodProgress::Starting(Some("container c: ContainerCreating".into())));
    }

    #[test]
    fn never_pull_of_a_missing_image_cannot_start() {
        let p = pod(json!({"phase": "Pending", "containerStatuses": [
            {"name": "c", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
             "state": {"waiting": {"reason": "ErrImageNeverPull",
                                   "message": "Container image \"x\" is not present with pull policy of Never"}}}]}));
        match assess(&p, "c") {
            PodProgress::CannotStart(why) => assert!(why.contains("ErrImageNeverPull") && why.contains("not present")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pull_backoff_is_hopeless_only_when_the_image_is_missing() {
        let status = |message: &str| {
            json!({"phase": "Pending", "containerStatuses": [
                {"name": "c", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                 "state": {"waiting": {"reason": "ImagePullBackOff", "message": message}}}]})
        };
        assert!(matches!(assess(&pod(status("manifest unknown")), "c"), PodProgress::CannotStart(_)));
        assert!(matches!(assess(&pod(status("i/o timeout")), "c"), PodProgress::Starting(Some(_))));
    }

    #[test]
    fn exited_container_cannot_start() {
        let p = pod(json!({"phase": "Failed", "containerStatuses": [
            {"name": "c", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
             "state": {"terminated": {"exitCode": 127, "reason": "Error"}}}]}));
        assert_eq!(assess(&p, "c"), PodProgress::CannotStart("container c exited with code 127 (Error)".into()));
    }

    #[test]
    fn failed_pod_without_container_status_cannot_start() {
        let p = pod(json!({"phase": "Failed", "reason": "Evicted", "message": "low on ephemeral-storage"}));
        assert_eq!(
            assess(&p, "c"),
            PodProgress::CannotStart("the pod failed before it could be used: low on ephemeral-storage".into())
        );
    }

    #[test]
    fn unschedulable_carries_the_schedulers_message() {
        let p = pod(json!({"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
             "message": "0/1 nodes are available: 1 node(s) didn't match node selector."}]}));
        assert_eq!(
            assess(&p, "c"),
            PodProgress::Unschedulable("0/1 nodes are available: 1 node(s) didn't match node selector.".into())
        );
    }

    #[test]
    fn no_status_yet_is_starting() {
        assert_eq!(assess(&Pod::default(), "c"), PodProgress::Starting(None));
    }
}
