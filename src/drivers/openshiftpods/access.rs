//! The credentials of an openshiftpods node. Nodepool hands every node the launcher's own
//! token (reference §4.5); kubepool gives each node a service account of its own, named after
//! its pod, with a Role that names only that pod (`resourceNames`): the node can get, exec
//! into, attach to, read the logs of and port-forward to its pod — and nothing else in the
//! shared namespace (it cannot even list pods). Every object is owned by the pod, so deleting
//! the pod garbage-collects them ([`pod_account`]).

use crate::drivers::common::pod_account::{self, STREAM_VERBS, only_the_pod};
use crate::drivers::common::token;
use k8s_openapi::api::rbac::v1::Role;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kubepool_driver_api::LaunchError;
use std::collections::BTreeMap;
use std::time::Duration;

pub use crate::drivers::common::pod_account::owned_by_pod;

/// The node's Role: its own pod only.
pub fn pod_role(namespace: &str, pod: &str, labels: &BTreeMap<String, String>, owner: &OwnerReference) -> Role {
    let rules = vec![
        only_the_pod(pod, &["pods"], &["get"]),
        only_the_pod(pod, &["pods/exec", "pods/attach", "pods/log", "pods/portforward"], &STREAM_VERBS),
    ];
    pod_account::pod_role(namespace, pod, labels, owner, rules)
}

/// Creates the node's service account, token, Role and RoleBinding, all owned by the pod;
/// returns the credentials once the token is there.
pub async fn grant(
    cluster: &crate::k8s::ClusterInfo,
    namespace: &str,
    pod: &str,
    pod_uid: &str,
    labels: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<token::Credentials, LaunchError> {
    let owner = owned_by_pod(pod, pod_uid);
    let role = pod_role(namespace, pod, labels, &owner);
    pod_account::grant(cluster, namespace, pod, &owner, labels, role, timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_names_only_the_nodes_pod_and_cannot_list() {
        let owner = owned_by_pod("fedora-0000000007", "uid-1");
        let role = pod_role("ci", "fedora-0000000007", &BTreeMap::new(), &owner);
        let rules = role.rules.expect("rules");
        for rule in &rules {
            assert_eq!(rule.resource_names.as_deref(), Some(&["fedora-0000000007".to_string()][..]));
            assert!(!rule.verbs.iter().any(|v| v == "list" || v == "watch" || v == "delete"), "{rule:?}");
        }
        let subresources: Vec<&String> = rules.iter().flat_map(|r| r.resources.iter().flatten()).collect();
        assert!(subresources.iter().any(|r| *r == "pods/exec") && subresources.iter().any(|r| *r == "pods/log"));
        assert_eq!(role.metadata.owner_references.expect("owner")[0].uid, "uid-1");
    }
}
