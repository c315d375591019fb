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
    let client = Client::try_from(config).map_err(|source| K8sError::Client { server, source })?;
    Ok((client, namespace))
}
