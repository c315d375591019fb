//! The project of a node and its credentials (reference §4.4 steps 1–4): a `ProjectRequest`
//! `<pool>-<node id>`, awaited (by watch) until its `Project` is active; then service account
//! `zuul-worker` with an explicitly created token Secret and RoleBinding `admin-0` to the
//! cluster role `admin` — the same grant for project and pod labels, as Nodepool.

use super::OpenshiftDriver;
use super::kinds::{Project, ProjectRequest};
use crate::drivers::common::objects::{self, SERVICE_ACCOUNT, TOKEN_SECRET};
use crate::drivers::common::service_account::{self, NodeAccount};
use crate::drivers::common::{api, token};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use kube::api::Api;
use kube::runtime::wait::await_condition;
use kubepool_driver_api::LaunchError;
use std::collections::BTreeMap;
use tracing::debug;

/// The RoleBinding that makes the node's service account admin of its project.
pub const ADMIN_BINDING: &str = "admin-0";
/// The cluster role it binds (OpenShift's and Kubernetes' default `admin`).
pub const ADMIN_ROLE: &str = "admin";

/// Requests project `name` and waits until it is active.
pub async fn create_project(
    driver: &OpenshiftDriver,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Result<(), LaunchError> {
    let requests: Api<ProjectRequest> = Api::all(driver.provider.cluster.client.clone());
    let request = ProjectRequest::new(objects::meta(name, None, labels));
    api::create_idempotent(&requests, &request).await.map_err(|e| api::launch_error("request project", e))?;
    debug!(project = name, "project requested");
    let active = await_condition(driver.projects(), name, |p: Option<&Project>| p.is_some_and(Project::is_active));
    match tokio::time::timeout(driver.provider.timeouts.token, active).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(LaunchError::Transient(format!("watching project {name}: {e}"))),
        Err(_) => Err(LaunchError::Transient(format!(
            "project {name} not active {}s after it was requested",
            driver.provider.timeouts.token.as_secs()
        ))),
    }
}

/// The RoleBinding `admin-0`: cluster role `admin` for the node's service account, in its
/// project only.
pub fn admin_binding(namespace: &str, labels: &BTreeMap<String, String>) -> RoleBinding {
    RoleBinding {
        metadata: objects::meta(ADMIN_BINDING, Some(namespace), labels),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: ADMIN_ROLE.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: SERVICE_ACCOUNT.into(),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        }]),
    }
}

/// Creates the service account, its token and the admin binding in project `name`; returns
/// the credentials once the token is there.
pub async fn grant(
    driver: &OpenshiftDriver,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Result<token::Credentials, LaunchError> {
    let client = &driver.provider.cluster.client;
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), name);
    let rbac = async {
        api::create_idempotent(&bindings, &admin_binding(name, labels))
            .await
            .map_err(|e| api::launch_error("create the admin role binding", e))
    };
    let account = NodeAccount { namespace: name, name: SERVICE_ACCOUNT, secret: TOKEN_SECRET, labels, owner: None };
    let credentials =
        service_account::create_and_wait(&driver.provider.cluster, &account, driver.provider.timeouts.token);
    let ((), credentials) = tokio::try_join!(rbac, credentials)?;
    Ok(credentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_binding_is_for_the_nodes_account_in_its_project() {
        let binding = admin_binding("main-0000000001", &BTreeMap::new());
        assert_eq!(binding.metadata.name.as_deref(), Some("admin-0"));
        assert_eq!(binding.metadata.namespace.as_deref(), Some("main-0000000001"));
        assert_eq!((binding.role_ref.kind.as_str(), binding.role_ref.name.as_str()), ("ClusterRole", "admin"));
        let subjects = binding.subjects.expect("subjects");
        assert_eq!(subjects.len(), 1);
        assert_eq!(subjects[0].name, "zuul-worker");
        assert_eq!(subjects[0].namespace.as_deref(), Some("main-0000000001"));
    }
}
