//! A node's own API credentials: a service account and a token for it.
//!
//! The token comes from the TokenRequest API by default: minted by the API server in the reply
//! to one call, with the cluster CA the launcher's kubeconfig trusts. With
//! [`TokenSource::Secret`] (or when the kubeconfig names no CA, or the launcher may not request
//! tokens) it comes as Nodepool's does: an explicitly created token Secret (no reliance on
//! auto-generated ones, which Kubernetes 1.24+ and OpenShift 4.11+ no longer make), awaited by
//! watch until the token controller fills it in.
//!
//! Shared by all three drivers; the grants (Role/RoleBinding) are each driver's own.

use super::token::{self, Credentials};
use super::{api, objects};
use crate::k8s::{ClusterInfo, TokenSource};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, PostParams};
use kubepool_driver_api::LaunchError;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tracing::{debug, warn};

/// The service account of one node.
#[derive(Debug, Clone)]
pub struct NodeAccount<'a> {
    pub namespace: &'a str,
    /// The service account's name.
    pub name: &'a str,
    /// The token Secret's name (used when the token comes from a Secret).
    pub secret: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    /// Set when the account lives in a shared namespace: deleting the owner (the node's pod)
    /// garbage-collects the account and its token.
    pub owner: Option<OwnerReference>,
}

/// Creates the service account (idempotently) and returns its credentials: from a
/// TokenRequest, or from a token Secret once the cluster has filled it in (see the module
/// documentation for which).
pub async fn create_and_wait(
    cluster: &ClusterInfo,
    account: &NodeAccount<'_>,
    timeout: Duration,
) -> Result<Credentials, LaunchError> {
    let service_accounts: Api<ServiceAccount> = Api::namespaced(cluster.client.clone(), account.namespace);
    let mut service_account = objects::named_service_account(account.namespace, account.name, account.labels);
    service_account.metadata.owner_references = account.owner.clone().map(|owner| vec![owner]);
    api::create_idempotent(&service_accounts, &service_account)
        .await
        .map_err(|e| api::launch_error("create service account", e))?;
    if let (TokenSource::Request { lifetime }, Some(ca)) = (cluster.node_token, &cluster.ca_crt_base64) {
        match request_token(&service_accounts, account.name, lifetime).await? {
            Ok(token) => {
                debug!(namespace = account.namespace, account = account.name, "token requested");
                return Ok(Credentials { token, ca_crt_base64: ca.clone() });
            }
            Err(RequestRefused(why)) => warn_once(
                &REQUEST_REFUSED,
                &format!("the TokenRequest API refused ({why}); node tokens come from token Secrets instead"),
            ),
        }
    }
    secret_token(cluster, account, timeout).await
}

/// The cluster would not mint a token (no permission, or no TokenRequest API): the launch
/// goes on with a token Secret.
struct RequestRefused(String);

static REQUEST_REFUSED: AtomicBool = AtomicBool::new(false);
static LIFETIME_CAPPED: AtomicBool = AtomicBool::new(false);

fn warn_once(flag: &AtomicBool, message: &str) {
    if !flag.swap(true, Ordering::Relaxed) {
        warn!("{message}");
    }
}

/// The token of a TokenRequest; `Ok(Err(_))` when the cluster will not mint one, `Err(_)` when
/// the call failed in a way worth another attempt.
async fn request_token(
    service_accounts: &Api<ServiceAccount>,
    name: &str,
    lifetime: Duration,
) -> Result<Result<String, RequestRefused>, LaunchError> {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)),
            ..Default::default()
        },
        ..Default::default()
    };
    let reply = match service_accounts.create_token_request(name, &PostParams::default(), &request).await {
        Ok(reply) => reply,
        Err(kube::Error::Api(status)) if (403..=405).contains(&status.code) => {
            return Ok(Err(RequestRefused(format!("{} {}", status.code, status.message))));
        }
        Err(error) => return Err(api::launch_error("request a service-account token", error)),
    };
    let Some(status) = reply.status.filter(|s| !s.token.is_empty()) else {
        return Ok(Err(RequestRefused("the reply carried no token".to_string())));
    };
    let granted = status.expiration_timestamp.0.as_second() - k8s_openapi::jiff::Timestamp::now().as_second();
    if granted + 60 < i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX) {
        warn_once(
            &LIFETIME_CAPPED,
            &format!(
                "the cluster caps service-account token lifetimes at about {}h (kubepool asked for {}h): a node \
                 older than that loses API access; --node-token secret gives tokens that do not expire",
                granted / 3600,
                lifetime.as_secs() / 3600
            ),
        );
    }
    Ok(Ok(status.token))
}

/// Nodepool's way: an explicitly created token Secret, awaited until the token controller
/// fills in the token and CA.
async fn secret_token(
    cluster: &ClusterInfo,
    account: &NodeAccount<'_>,
    timeout: Duration,
) -> Result<Credentials, LaunchError> {
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), account.namespace);
    let mut secret = objects::named_token_secret(account.namespace, account.secret, account.name, account.labels);
    secret.metadata.owner_references = account.owner.clone().map(|owner| vec![owner]);
    api::create_idempotent(&secrets, &secret).await.map_err(|e| api::launch_error("create token secret", e))?;
    let credentials =
        token::wait_for_credentials(&secrets, account.secret, timeout).await.map_err(LaunchError::Transient)?;
    debug!(namespace = account.namespace, account = account.name, "token secret filled in");
    Ok(credentials)
}
