//! The shared Kubernetes client: finding the cluster, and (with the launcher issue) the rate
//! limit and retry layers, watch helpers, exec and port-forward streams.
//!
//! Named `k8s` rather than `kube` so that it does not shadow the `kube` crate.

mod client;
pub mod discipline;
mod load;
mod node_credentials;
mod token_source;
mod typed;

pub use client::{ClusterInfo, connect, connect_config, connect_kubeconfig, connect_with};
pub use discipline::{ApiDiscipline, ApiErrorObserver};
pub use load::{KubeconfigSource, environment_kubeconfig, load};
pub use node_credentials::NodeCredentials;
pub use token_source::{DEFAULT_TOKEN_LIFETIME, TokenSource, ca_bundle_base64};
pub use typed::typed;

#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    #[error("kubeconfig{}: {source}", context_suffix(.context))]
    Kubeconfig {
        context: Option<String>,
        #[source]
        source: kube::config::KubeconfigError,
    },

    #[error("no kubeconfig found (KUBECONFIG, ~/.kube/config) and not running in a cluster: {source}")]
    InCluster {
        #[source]
        source: kube::config::InClusterError,
    },

    #[error("cannot build a client for {server}: {source}")]
    Client {
        server: String,
        #[source]
        source: kube::Error,
    },

    #[error("{what} on {server}: {source}")]
    Api {
        what: &'static str,
        server: String,
        #[source]
        source: kube::Error,
    },
}

fn context_suffix(context: &Option<String>) -> String {
    context.as_ref().map(|c| format!(" (context {c})")).unwrap_or_default()
}
