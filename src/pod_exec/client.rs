//! The API client an exec uses: from an explicit kubeconfig (a path, or a `:`-separated list
//! like `KUBECONFIG`) or the environment's, with a context. No retry layer: an exec is not
//! idempotent, and [`super::session`] decides itself what may be tried again.

use crate::k8s::{K8sError, KubeconfigSource};
use kube::Client;
use std::path::PathBuf;
use std::time::SystemTime;

/// Which cluster and user: what `kubectl --kubeconfig --context` select.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ClientSpec {
    pub kubeconfig: Option<String>,
    pub context: Option<String>,
}

impl ClientSpec {
    /// The kubeconfig files this spec reads (empty: the environment decides).
    pub fn files(&self) -> Vec<PathBuf> {
        match KubeconfigSource::from_list(self.kubeconfig.as_deref()) {
            KubeconfigSource::Files(files) => files,
            _ => Vec::new(),
        }
    }

    /// The files' modification times: a changed kubeconfig must not reuse an old client.
    pub fn version(&self) -> Vec<Option<SystemTime>> {
        self.files().iter().map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok()).collect()
    }

    /// Fills `kubeconfig` from `KUBECONFIG` when not given, so that an agent started by another
    /// environment uses the caller's.
    pub fn resolved(mut self) -> Self {
        if self.kubeconfig.is_none() {
            self.kubeconfig = crate::k8s::environment_kubeconfig();
        }
        self
    }
}

/// A client for `spec` and the namespace of its context.
pub async fn connect(spec: &ClientSpec) -> Result<(Client, String), K8sError> {
    let source = KubeconfigSource::from_list(spec.kubeconfig.as_deref());
    let mut config = crate::k8s::load(source, spec.context.as_deref(), None).await?;
    config.default_retry = false;
    let namespace = config.default_namespace.clone();
    let server = config.cluster_url.to_string();
    let client = nodelay_client(config).map_err(|source| K8sError::Client { server, source })?;
    Ok((client, namespace))
}

/// kube's client stack (base URI, authentication, extra headers, rustls) over a connector
/// that sets TCP_NODELAY: an exec stream sends small messages one after another (a command
/// line, then stdin; rsync's protocol turns), and with Nagle's algorithm each would wait for
/// the API server's delayed acknowledgement (about 40 ms).
fn nodelay_client(config: kube::Config) -> Result<Client, kube::Error> {
    use kube::client::ConfigExt;
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.enforce_http(false);
    connector.set_nodelay(true);
    connector.set_connect_timeout(config.connect_timeout);
    let https = config.rustls_https_connector_with_connector(connector)?;
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(tower::BoxError::from)
        .service(http);
    Ok(Client::new(service, config.default_namespace))
}
