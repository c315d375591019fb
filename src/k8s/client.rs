//! A provider's cluster client: found as Nodepool finds it ([`super::load`]: the kubeconfig with
//! the provider's `context`, or the in-cluster service account), behind kubepool's rate limit
//! and retry layers.

use super::K8sError;
use super::discipline::{ApiDiscipline, RateLimitLayer, RetryTransient};
use super::load::{KubeconfigSource, load};
use kube::client::ClientBuilder;
use kube::config::Kubeconfig;
use kube::{Client, Config};
use tower::buffer::BufferLayer;
use tower::retry::RetryLayer;

/// A connected client and what the launcher logs about it.
#[derive(Clone)]
pub struct ClusterInfo {
    pub client: Client,
    /// The API server URL, as written into node records.
    pub server: String,
    /// True when the kubeconfig says not to verify the server certificate.
    pub skip_tls_verify: bool,
    /// The CA bundle the kubeconfig trusts for this server (base64 of PEM), if it names one.
    pub ca_crt_base64: Option<String>,
    /// How node tokens are minted on this cluster.
    pub node_token: super::TokenSource,
}

impl std::fmt::Debug for ClusterInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the client: its config holds credentials.
        f.debug_struct("ClusterInfo").field("server", &self.server).finish_non_exhaustive()
    }
}

/// Connects to the cluster of `context` in an explicit kubeconfig (not the environment's).
pub async fn connect_kubeconfig(
    kubeconfig: Kubeconfig,
    context: Option<&str>,
    discipline: ApiDiscipline,
) -> Result<ClusterInfo, K8sError> {
    connect_config(load(KubeconfigSource::Parsed(Box::new(kubeconfig)), context, None).await?, discipline)
}

/// Connects to the cluster of `context` with the default [`ApiDiscipline`].
pub async fn connect(context: Option<&str>) -> Result<ClusterInfo, K8sError> {
    connect_with(context, ApiDiscipline::default()).await
}

/// Connects to the cluster of `context`; every request goes through the retry and rate-limit
/// layers of [`super::discipline`].
pub async fn connect_with(context: Option<&str>, discipline: ApiDiscipline) -> Result<ClusterInfo, K8sError> {
    connect_config(load(KubeconfigSource::Environment, context, None).await?, discipline)
}

/// A client for `config`; every request goes through the retry and rate-limit layers of
/// [`super::discipline`].
pub fn connect_config(mut config: Config, discipline: ApiDiscipline) -> Result<ClusterInfo, K8sError> {
    // kube-client 5 retries 429/503/504 by itself (up to 15 times, backing off to 1000 s);
    // ours is the one bounded, observed retry.
    config.default_retry = false;
    let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
    let skip_tls_verify = config.accept_invalid_certs;
    let ca_crt_base64 = super::ca_bundle_base64(config.root_cert.as_deref());
    let client = ClientBuilder::try_from(config)
        .map_err(|source| K8sError::Client { server: server.clone(), source })?
        .with_layer(&BufferLayer::new(1024))
        .with_layer(&RateLimitLayer::new(discipline.qps, discipline.burst))
        .with_layer(&RetryLayer::new(RetryTransient::new(discipline)))
        .build();
    Ok(ClusterInfo { client, server, skip_tls_verify, ca_crt_base64, node_token: super::TokenSource::default() })
}

/// How long a health check may take before the cluster counts as not answering.
pub const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl ClusterInfo {
    /// `GET /version` within [`HEALTH_TIMEOUT`]: does the API server answer?
    pub async fn check_health(&self) -> Result<(), String> {
        match tokio::time::timeout(HEALTH_TIMEOUT, self.client.apiserver_version()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(format!("GET /version on {}: {error}", self.server)),
            Err(_) => Err(format!("GET /version on {}: no answer within {} s", self.server, HEALTH_TIMEOUT.as_secs())),
        }
    }
}
