//! The credentials of an openshiftpods node. Nodepool hands every node the launcher's own
//! token (reference §4.5); kubepool gives each node a service account of its own, named after
//! its pod, with a Role that names only that pod (`resourceNames`): the node can get, exec
//! into, attach to, read the logs of and port-forward to its pod — and nothing else in the
//! shared namespace (it cannot even list pods). Every object is owned by the pod, so deleting
//! the pod garbage-collects them.

use crate::drivers::common::objects::{self, meta};
use crate::drivers::common::service_account::{self, NodeAccount};
use crate::drivers::common::{api, token};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::Api;
use kubepool_driver_api::LaunchError;
use std::collections::BTreeMap;
use std::time::Duration;

/// Verbs for the pod's subresources: `create` for SPDY (POST) streams, `get` for WebSocket
/// (GET) streams and logs.
const STREAM_VERBS: [&str; 2] = ["create", "get"];

/// The owner reference that ties an object to the node's pod.
pub fn owned_by_pod(pod: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "Pod".into(),
        name: pod.to_string(),
        uid: uid.to_string(),
        ..Default::default()
    }
}

/// The node's Role: its own pod only.
pub fn pod_role(namespace: &str, pod: &str, labels: &BTreeMap<String, String>, owner: &OwnerReference) -> Role {
    let only_the_pod = |resources: &[&str], verbs: &[&str]| PolicyRule {
        resource_names: Some(vec![pod.to_string()]),
        ..objects::rule("", resources, verbs)
    };
    let mut metadata = meta(pod, Some(namespace), labels);
    metadata.owner_references = Some(vec![owner.clone()]);
    Role {
        metadata,
        rules: Some(vec![
            only_the_pod(&["pods"], &["get"]),
            only_the_pod(&["pods/exec", "pods/attach", "pods/log", "pods/portforward"], &STREAM_VERBS),
        ]),
    }
}

pub fn pod_role_binding(
    namespace: &str,
    pod: &str,
    labels: &BTreeMap<String, String>,
    owner: &OwnerReference,
) -> RoleBinding {
    let mut metadata = meta(pod, Some(namespace), labels);
    metadata.owner_references = Some(vec![owner.clone()]);
    RoleBinding {
        metadata,
        role_ref: RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: "Role".into(), name: pod.into() },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: pod.into(),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        }]),
    }
}

/// The token Secret of the node's service account.
pub fn token_secret_name(pod: &str) -> String {
    format!("{pod}-token")
}

/// Creates the node's service account (named after the pod), its token, Role and RoleBinding,
/// all owned by the pod; returns the credentials once the token is there.
pub async fn grant(
    cluster: &crate::k8s::ClusterInfo,
    namespace: &str,
    pod: &str,
    pod_uid: &str,
    labels: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<token::Credentials, LaunchError> {
    let client = &cluster.client;
    let owner = owned_by_pod(pod, pod_uid);
    let roles: Api<Role> = Api::namespaced(client.clone(), namespace);
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), namespace);
    let rbac = async {
        api::create_idempotent(&roles, &pod_role(namespace, pod, labels, &owner))
            .await
            .map_err(|e| api::launch_error("create the pod's role", e))?;
        api::create_idempotent(&bindings, &pod_role_binding(namespace, pod, labels, &owner))
            .await
            .map_err(|e| api::launch_error("create the pod's role binding", e))
    };
    let secret = token_secret_name(pod);
    let account = NodeAccount { namespace, name: pod, secret: &secret, labels, owner: Some(owner.clone()) };
    let credentials = service_account::create_and_wait(cluster, &account, timeout);
    let ((), credentials) = tokio::try_join!(rbac, credentials)?;
    Ok(credentials)
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

    #[test]
    fn the_binding_is_for_the_pods_own_account() {
        let owner = owned_by_pod("p-1", "u");
        let binding = pod_role_binding("ci", "p-1", &BTreeMap::new(), &owner);
        assert_eq!(binding.role_ref.name, "p-1");
        let subject = &binding.subjects.expect("subjects")[0];
        assert_eq!((subject.name.as_str(), subject.namespace.as_deref()), ("p-1", Some("ci")));
    }
}
