//! The Role of a pod node in a buildset's namespace. On its own pod it may do what a pod
//! node may (get, exec, attach, read logs, port-forward); in the namespace it may start,
//! watch, exec into, read the logs of and delete pods — a child job starts a pod from an
//! image its parent built — and nothing else: no Secrets, Services, ConfigMaps or RBAC.
//!
//! The service account, token, Role and RoleBinding are named after the node's pod and owned
//! by it ([`pod_account`]).

use crate::drivers::common::objects::rule;
use crate::drivers::common::pod_account::{self, STREAM_VERBS, only_the_pod};
use k8s_openapi::api::rbac::v1::Role;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use std::collections::BTreeMap;

/// What the node may do with pods of the namespace (its own included).
const POD_VERBS: [&str; 5] = ["create", "get", "list", "watch", "delete"];

pub fn role(namespace: &str, pod: &str, labels: &BTreeMap<String, String>, owner: &OwnerReference) -> Role {
    let rules = vec![
        rule("", &["pods"], &POD_VERBS),
        rule("", &["pods/exec", "pods/log"], &STREAM_VERBS),
        only_the_pod(pod, &["pods/attach", "pods/portforward"], &STREAM_VERBS),
    ];
    pod_account::pod_role(namespace, pod, labels, owner, rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(role: &Role, resource: &str, verb: &str, pod: Option<&str>) -> bool {
        role.rules.iter().flatten().any(|r| {
            r.resources.iter().flatten().any(|x| x == resource)
                && r.verbs.iter().any(|v| v == verb)
                && match (&r.resource_names, pod) {
                    (None, _) => true,
                    (Some(names), Some(pod)) => names.iter().any(|n| n == pod),
                    (Some(_), None) => false,
                }
        })
    }

    #[test]
    fn pods_in_the_namespace_port_forward_only_to_its_own_and_nothing_else() {
        let owner = pod_account::owned_by_pod("child-0000000002", "uid");
        let role = role("main-0000000001", "child-0000000002", &BTreeMap::new(), &owner);
        for verb in POD_VERBS {
            assert!(grants(&role, "pods", verb, None), "{verb}");
        }
        assert!(grants(&role, "pods/exec", "create", None) && grants(&role, "pods/log", "get", None));
        assert!(grants(&role, "pods/portforward", "create", Some("child-0000000002")));
        assert!(!grants(&role, "pods/portforward", "create", Some("registry")));
        let resources: Vec<&String> = role.rules.iter().flatten().flat_map(|r| r.resources.iter().flatten()).collect();
        assert!(resources.iter().all(|r| r.starts_with("pods")), "{resources:?}");
        assert!(role.rules.iter().flatten().all(|r| r.api_groups.as_deref() == Some(&[String::new()][..])));
        assert_eq!(role.metadata.owner_references.expect("owner")[0].name, "child-0000000002");
    }
}
