//! The namespace a buildset pod goes into: a namespace node's namespace of the same provider
//! labelled with the buildset, active and not being deleted; the oldest when there are several.

use super::super::KubernetesDriver;
use super::BUILDSET_LABEL;
use crate::drivers::common::api;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::ListParams;
use kubepool_driver_api::LaunchError;

/// The name of the buildset's namespace, if there is one.
pub async fn find(driver: &KubernetesDriver, uuid: &str) -> Result<Option<String>, LaunchError> {
    let provider = &driver.provider;
    let selector = format!("{}={},{BUILDSET_LABEL}={uuid}", provider.naming.provider_key(), provider.name);
    let list = driver
        .namespaces()
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| api::launch_error("list the buildset's namespaces", e))?;
    Ok(oldest_active(list.items))
}

fn oldest_active(namespaces: Vec<Namespace>) -> Option<String> {
    namespaces
        .into_iter()
        .filter(|ns| ns.metadata.deletion_timestamp.is_none())
        .filter(|ns| ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Active"))
        .filter_map(|ns| Some((ns.metadata.creation_timestamp.map(|t| t.0), ns.metadata.name?)))
        .min()
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespace(name: &str, created: &str, phase: &str, deleting: bool) -> Namespace {
        let mut ns: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "creationTimestamp": created},
            "status": {"phase": phase},
        }))
        .expect("namespace");
        if deleting {
            ns.metadata.deletion_timestamp = ns.metadata.creation_timestamp.clone();
        }
        ns
    }

    #[test]
    fn the_oldest_active_namespace_not_being_deleted() {
        let found = oldest_active(vec![
            namespace("young", "2026-12-07T10:00:02Z", "Active", false),
            namespace("old-terminating", "2026-12-07T10:00:00Z", "Terminating", false),
            namespace("old-deleting", "2026-12-07T10:00:00Z", "Active", true),
            namespace("old", "2026-12-07T10:00:01Z", "Active", false),
        ]);
        assert_eq!(found.as_deref(), Some("old"));
        assert_eq!(oldest_active(vec![namespace("t", "2026-12-07T10:00:00Z", "Terminating", false)]), None);
    }
}
