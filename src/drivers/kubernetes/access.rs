//! The namespace of a node and the credentials in it (reference §4.2 steps 1–6): namespace
//! `<pool>-<node id>`, service account `zuul-worker` with an explicit token Secret
//! ([`crate::drivers::common::service_account`]), and a Role with its RoleBinding — the broad `zuul`
//! Role for namespace nodes, `zuul-restricted` for pods.
//!
//! Objects are created idempotently; the Role and RoleBinding while the token controller fills
//! the Secret, and the token is awaited by watch.

use super::KubernetesDriver;
use crate::drivers::common::objects::{self, SERVICE_ACCOUNT, TOKEN_SECRET};
use crate::drivers::common::service_account::{self, NodeAccount};
use crate::drivers::common::{api, token};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::Api;
use kubepool_driver_api::LaunchError;
use std::collections::BTreeMap;
use tracing::debug;

/// What the node's service account may do in its namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Role `zuul`: manage workloads in the namespace.
    Namespace,
    /// Role `zuul-restricted`: see, exec into, read logs of and port-forward to its pods.
    Pod,
}

pub async fn create_namespace(
    driver: &KubernetesDriver,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Result<(), LaunchError> {
    api::create_idempotent(&driver.namespaces(), &objects::namespace(name, labels))
        .await
        .map_err(|e| api::launch_error("create namespace", e))?;
    debug!(namespace = %name, "namespace created");
    Ok(())
}

/// Creates the service account, its token, the Role and the RoleBinding in namespace `name`,
/// and returns the token once the cluster has filled it in.
pub async fn grant(
    driver: &KubernetesDriver,
    name: &str,
    labels: &BTreeMap<String, String>,
    grant: Grant,
) -> Result<token::Credentials, LaunchError> {
    let client = &driver.provider.cluster.client;
    let roles: Api<Role> = Api::namespaced(client.clone(), name);
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), name);

    let (role, binding) = match grant {
        Grant::Namespace => (objects::namespace_role(name, labels), objects::NAMESPACE_ROLE_BINDING),
        Grant::Pod => (objects::restricted_role(name, labels), objects::RESTRICTED_ROLE_BINDING),
    };
    let role_name = role.metadata.name.clone().unwrap_or_default();
    let rbac = async {
        api::create_idempotent(&roles, &role).await.map_err(|e| api::launch_error("create role", e))?;
        api::create_idempotent(&bindings, &objects::role_binding(name, binding, &role_name, labels))
            .await
            .map_err(|e| api::launch_error("create role binding", e))
    };
    let account = NodeAccount { namespace: name, name: SERVICE_ACCOUNT, secret: TOKEN_SECRET, labels, owner: None };
    let credentials =
        service_account::create_and_wait(&driver.provider.cluster, &account, driver.provider.timeouts.token);
    let ((), credentials) = tokio::try_join!(rbac, credentials)?;
    Ok(credentials)
}
