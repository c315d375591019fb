//! Which container a command runs in when none is named: as `kubectl exec` chooses, the one the
//! pod's `kubectl.kubernetes.io/default-container` annotation names, else the pod's first. (The
//! API server itself refuses an exec without a container in a pod of more than one.)

use super::{ExecError, Target};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

/// The annotation kubectl reads for the default container.
pub const DEFAULT_CONTAINER: &str = "kubectl.kubernetes.io/default-container";

/// Attempts to read the pod when the API server cannot be reached (nothing ran yet).
const READ_ATTEMPTS: u32 = 3;

/// `target` with its container chosen, reading the pod only when none is named. A connection
/// that fails (not an answer of the API server, such as 404) is tried again: the command has
/// not started, so nothing can run twice.
pub async fn with_container(client: &kube::Client, mut target: Target) -> Result<Target, ExecError> {
    if target.container.is_none() {
        let pods: Api<Pod> = Api::namespaced(client.clone(), &target.namespace);
        let mut tries = 0;
        let pod = loop {
            tries += 1;
            match pods.get(&target.pod).await {
                Ok(pod) => break pod,
                Err(error) if tries < READ_ATTEMPTS && !matches!(error, kube::Error::Api(_)) => {
                    tracing::debug!(pod = %target.pod, %error, "cannot read the pod; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(tries))).await;
                }
                Err(source) => return Err(ExecError::ReadPod { pod: target.pod.clone(), source }),
            }
        };
        target.container =
            Some(default_container(&pod).ok_or_else(|| ExecError::NoContainer { pod: target.pod.clone() })?);
    }
    Ok(target)
}

/// The container kubectl would exec into.
pub fn default_container(pod: &Pod) -> Option<String> {
    let names: Vec<&str> =
        pod.spec.as_ref().map(|s| s.containers.iter().map(|c| c.name.as_str()).collect()).unwrap_or_default();
    let annotated = pod.metadata.annotations.as_ref().and_then(|a| a.get(DEFAULT_CONTAINER));
    match annotated {
        Some(name) if names.contains(&name.as_str()) => Some(name.clone()),
        _ => names.first().map(|n| n.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(annotation: Option<&str>) -> Pod {
        let mut value = serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "main"}, {"name": "sidecar"}]},
        });
        if let Some(name) = annotation {
            value["metadata"]["annotations"] = serde_json::json!({DEFAULT_CONTAINER: name});
        }
        serde_json::from_value(value).expect("pod")
    }

    #[test]
    fn the_annotation_wins_else_the_first_container() {
        assert_eq!(default_container(&pod(None)).as_deref(), Some("main"));
        assert_eq!(default_container(&pod(Some("sidecar"))).as_deref(), Some("sidecar"));
        assert_eq!(default_container(&pod(Some("gone"))).as_deref(), Some("main"), "as kubectl: a stale annotation");
    }
}
