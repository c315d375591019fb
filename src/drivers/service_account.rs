//! A node's own API credentials: a service account and a token Secret for it, created
//! explicitly (no reliance on auto-generated token secrets, which Kubernetes 1.24+ and
//! OpenShift 4.11+ no longer make), then awaited by watch until the token controller fills it.
//!
//! Shared by all three drivers; the grants (Role/RoleBinding) are each driver's own.

use super::kubernetes::token::{self, Credentials};
use super::kubernetes::{api, objects};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::Api;
use kubepool_driver_api::LaunchError;
use std::collections::BTreeMap;
use std::time::Duration;
use tracing::debug;

/// The service account of one node.
#[derive(Debug, Clone)]
pub struct NodeAccount<'a> {
    pub namespace: &'a str,
    /// The service account's name.
    pub name: &'a str,
    /// The token Secret's name.
    pub secret: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    /// Set when the account lives in a shared namespace: deleting the owner (the node's pod)
    /// garbage-collects the account and its token.
    pub owner: Option<OwnerReference>,
}

/// Creates the service account and its token Secret (idempotently) and returns the credentials
/// once the cluster has filled in the token and CA.
pub async fn create_and_wait(
    client: &kube::Client,
    account: &NodeAccount<'_>,
    timeout: Duration,
) -> Result<Credentials, LaunchError> {
    let service_accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), account.namespace);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), account.namespace);
    let mut service_account = objects::named_service_account(account.namespace, account.name, account.labels);
    let mut secret = objects::named_token_secret(account.namespace, account.secret, account.name, account.labels);
    if let Some(owner) = &account.owner {
        service_account.metadata.owner_references = Some(vec![owner.clone()]);
        secret.metadata.owner_references = Some(vec![owner.clone()]);
    }
    api::create_idempotent(&service_accounts, &service_account)
        .await
        .map_err(|e| api::launch_error("create service account", e))?;
    api::create_idempotent(&secrets, &secret).await.map_err(|e| api::launch_error("create token secret", e))?;
    let credentials =
        token::wait_for_credentials(&secrets, account.secret, timeout).await.map_err(LaunchError::Transient)?;
    debug!(namespace = account.namespace, account = account.name, "credentials ready");
    Ok(credentials)
}
