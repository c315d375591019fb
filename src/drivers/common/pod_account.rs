//! The credentials of a pod node that shares its namespace with others (openshiftpods, and a
//! kubernetes buildset pod): a service account named after the node's pod, its token, and a
//! Role and RoleBinding of that name. Every object is owned by the pod, so deleting the pod
//! garbage-collects them; each driver says what its Role grants.

use super::objects::{self, meta};
use super::service_account::{self, NodeAccount};
use super::{api, token};
use crate::k8s::ClusterInfo;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::Api;
use kubepool_driver_api::LaunchError;
use std::collections::BTreeMap;
use std::time::Duration;

/// Verbs for a pod's subresources: `create` for SPDY (POST) streams, `get` for WebSocket
/// (GET) streams and logs.
pub const STREAM_VERBS: [&str; 2] = ["create", "get"];

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

/// A rule of the core group that names only pod `pod` (`resourceNames`).
pub fn only_the_pod(pod: &str, resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule { resource_names: Some(vec![pod.to_string()]), ..objects::rule("", resources, verbs) }
}

/// The node's Role `pod` with `rules`, owned by the pod.
pub fn pod_role(
    namespace: &str,
    pod: &str,
    labels: &BTreeMap<String, String>,
    owner: &OwnerReference,
    rules: Vec<PolicyRule>,
) -> Role {
    let mut metadata = meta(pod, Some(namespace), labels);
    metadata.owner_references = Some(vec![owner.clone()]);
    Role { metadata, rules: Some(rules) }
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

/// Creates the node's service account (named after the pod), its token, the Role `role` and
/// its RoleBinding, all owned by the pod; returns the credentials once the token is there.
pub async fn grant(
    cluster: &ClusterInfo,
    namespace: &str,
    pod: &str,
    owner: &OwnerReference,
    labels: &BTreeMap<String, String>,
    role: Role,
    timeout: Duration,
) -> Result<token::Credentials, LaunchError> {
    let client = &cluster.client;
    let roles: Api<Role> = Api::namespaced(client.clone(), namespace);
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), namespace);
    let rbac = async {
        api::create_idempotent(&roles, &role).await.map_err(|e| api::launch_error("create the pod's role", e))?;
        api::create_idempotent(&bindings, &pod_role_binding(namespace, pod, labels, owner))
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
    fn the_binding_is_for_the_pods_own_account() {
        let owner = owned_by_pod("p-1", "u");
        let binding = pod_role_binding("ci", "p-1", &BTreeMap::new(), &owner);
        assert_eq!(binding.role_ref.name, "p-1");
        let subject = &binding.subjects.expect("subjects")[0];
        assert_eq!((subject.name.as_str(), subject.namespace.as_deref()), ("p-1", Some("ci")));
        assert_eq!(binding.metadata.owner_references.expect("owner")[0].uid, "u");
    }
}
