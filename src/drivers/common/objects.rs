//! The Kubernetes objects of a node (reference §4.2/§4.3), as typed bodies.
//!
//! Differences from Nodepool 11, on purpose: the Role grants `deployments`/`replicasets` in the
//! `apps` group and `jobs`/`cronjobs` in `batch` (Nodepool lists them under the core group,
//! where they grant nothing), the log subresource is `pods/log` (Nodepool's `pods/logs` does not
//! exist), and the RoleBinding has no legacy `userNames` field.

use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::ObjectMeta;
use std::collections::BTreeMap;

/// The service account (and kubeconfig user) a node's credentials belong to.
pub const SERVICE_ACCOUNT: &str = "zuul-worker";
/// The token Secret of that service account.
pub const TOKEN_SECRET: &str = "zuul-worker";
/// The Role and RoleBinding of a namespace node.
pub const NAMESPACE_ROLE: &str = "zuul";
pub const NAMESPACE_ROLE_BINDING: &str = "zuul-role";
/// The Role and RoleBinding of a pod node: exec into and read its pod only.
pub const RESTRICTED_ROLE: &str = "zuul-restricted";
pub const RESTRICTED_ROLE_BINDING: &str = "zuul-restricted-role";

const ALL_VERBS: [&str; 7] = ["create", "delete", "get", "list", "patch", "update", "watch"];

pub fn meta(name: &str, namespace: Option<&str>, labels: &BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(labels.clone()),
        ..Default::default()
    }
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub fn namespace(name: &str, labels: &BTreeMap<String, String>) -> Namespace {
    Namespace { metadata: meta(name, None, labels), ..Default::default() }
}

pub fn service_account(namespace: &str, labels: &BTreeMap<String, String>) -> ServiceAccount {
    named_service_account(namespace, SERVICE_ACCOUNT, labels)
}

/// A service account `name` for a node's credentials.
pub fn named_service_account(namespace: &str, name: &str, labels: &BTreeMap<String, String>) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(name, Some(namespace), labels),
        // Pods of the node do not need the node's API credentials mounted.
        automount_service_account_token: Some(false),
        ..Default::default()
    }
}

/// A long-lived token Secret for the service account, created explicitly: Kubernetes 1.24+
/// and OpenShift 4.11+ no longer create one by themselves, and this works on every version.
pub fn token_secret(namespace: &str, labels: &BTreeMap<String, String>) -> Secret {
    named_token_secret(namespace, TOKEN_SECRET, SERVICE_ACCOUNT, labels)
}

/// The token Secret `name` of service account `account`.
pub fn named_token_secret(namespace: &str, name: &str, account: &str, labels: &BTreeMap<String, String>) -> Secret {
    let mut metadata = meta(name, Some(namespace), labels);
    metadata.annotations =
        Some(BTreeMap::from([("kubernetes.io/service-account.name".to_string(), account.to_string())]));
    Secret { metadata, type_: Some("kubernetes.io/service-account-token".to_string()), ..Default::default() }
}

pub fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(strings(resources)),
        verbs: strings(verbs),
        ..Default::default()
    }
}

/// The Role of a namespace node: Nodepool's grants, in the API groups where they take effect.
pub fn namespace_role(namespace: &str, labels: &BTreeMap<String, String>) -> Role {
    Role {
        metadata: meta(NAMESPACE_ROLE, Some(namespace), labels),
        rules: Some(vec![
            rule(
                "",
                &[
                    "pods",
                    "pods/exec",
                    "pods/log",
                    "pods/portforward",
                    "pods/attach",
                    "services",
                    "endpoints",
                    "configmaps",
                    "secrets",
                    "persistentvolumeclaims",
                ],
                &ALL_VERBS,
            ),
            rule("apps", &["deployments", "replicasets", "statefulsets"], &ALL_VERBS),
            rule("batch", &["jobs", "cronjobs"], &ALL_VERBS),
        ]),
    }
}

/// The Role of a pod node (§4.3): see its pods, and exec, attach, read logs and port-forward.
pub fn restricted_role(namespace: &str, labels: &BTreeMap<String, String>) -> Role {
    Role {
        metadata: meta(RESTRICTED_ROLE, Some(namespace), labels),
        rules: Some(vec![
            rule("", &["pods"], &["get", "list", "watch"]),
            rule("", &["pods/exec", "pods/log", "pods/portforward", "pods/attach"], &ALL_VERBS),
        ]),
    }
}

pub fn role_binding(namespace: &str, name: &str, role: &str, labels: &BTreeMap<String, String>) -> RoleBinding {
    RoleBinding {
        metadata: meta(name, Some(namespace), labels),
        role_ref: RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: "Role".into(), name: role.into() },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: SERVICE_ACCOUNT.into(),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(role: &Role, group: &str, resource: &str, verb: &str) -> bool {
        role.rules.iter().flatten().any(|r| {
            r.api_groups.iter().flatten().any(|g| g == group)
                && r.resources.iter().flatten().any(|x| x == resource)
                && r.verbs.iter().any(|v| v == verb)
        })
    }

    #[test]
    fn namespace_role_grants_apps_and_batch_in_their_groups() {
        let role = namespace_role("main-0000000001", &BTreeMap::new());
        assert!(grants(&role, "apps", "deployments", "create"));
        assert!(grants(&role, "batch", "jobs", "create"));
        assert!(grants(&role, "", "pods/log", "get"));
        assert!(!grants(&role, "", "deployments", "create"), "no core-group deployments");
        assert!(!grants(&role, "", "namespaces", "list"));
    }

    #[test]
    fn restricted_role_cannot_create_pods_but_can_exec_and_read_logs() {
        let role = restricted_role("main-0000000001", &BTreeMap::new());
        assert!(grants(&role, "", "pods/exec", "create"));
        assert!(grants(&role, "", "pods/log", "get"));
        assert!(grants(&role, "", "pods/portforward", "create"));
        assert!(!grants(&role, "", "pods", "create"));
        assert!(!grants(&role, "", "pods/logs", "get"), "the subresource is pods/log");
    }

    #[test]
    fn token_secret_names_its_service_account() {
        let secret = token_secret("ns", &BTreeMap::new());
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/service-account-token"));
        let annotations = secret.metadata.annotations.expect("annotations");
        assert_eq!(annotations["kubernetes.io/service-account.name"], SERVICE_ACCOUNT);
    }
}
