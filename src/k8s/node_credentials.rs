//! A client that acts with a node's own credentials (the `connection_port` of its record), built
//! the way Zuul's executor builds its kubeconfig (reference §6.1): the API URL, the token, and
//! the CA (base64 PEM) unless TLS verification is skipped.
//!
//! The launcher uses it to prove a pod node usable before it reports it ready.

use super::{ClusterInfo, K8sError, connect_kubeconfig};
use kube::config::{AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext};
use secrecy::SecretString;

/// What a node record hands to its user.
#[derive(Clone)]
pub struct NodeCredentials {
    pub server: String,
    pub namespace: String,
    pub token: String,
    /// Base64-encoded PEM, as in `connection_port.ca_crt`; `None` with `skip_tls_verify`.
    pub ca_crt_base64: Option<String>,
    pub skip_tls_verify: bool,
}

impl std::fmt::Debug for NodeCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCredentials")
            .field("server", &self.server)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl NodeCredentials {
    /// A token (with the CA it was issued with) for `namespace` on `cluster`'s API server, with
    /// the cluster's TLS choice.
    pub fn on(cluster: &ClusterInfo, namespace: &str, token: &str, ca_crt_base64: &str) -> Self {
        NodeCredentials {
            server: cluster.server.clone(),
            namespace: namespace.to_string(),
            token: token.to_string(),
            ca_crt_base64: Some(ca_crt_base64.to_string()),
            skip_tls_verify: cluster.skip_tls_verify,
        }
    }

    /// The in-memory kubeconfig of these credentials (one cluster, user and context).
    pub fn kubeconfig(&self) -> Kubeconfig {
        const NAME: &str = "node";
        Kubeconfig {
            clusters: vec![NamedCluster {
                name: NAME.into(),
                cluster: Some(Cluster {
                    server: Some(self.server.clone()),
                    insecure_skip_tls_verify: self.skip_tls_verify.then_some(true),
                    certificate_authority_data: self.ca_crt_base64.clone().filter(|_| !self.skip_tls_verify),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            auth_infos: vec![NamedAuthInfo {
                name: NAME.into(),
                auth_info: Some(AuthInfo { token: Some(SecretString::from(self.token.clone())), ..Default::default() }),
                ..Default::default()
            }],
            contexts: vec![NamedContext {
                name: NAME.into(),
                context: Some(Context {
                    cluster: NAME.into(),
                    user: Some(NAME.into()),
                    namespace: Some(self.namespace.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            current_context: Some(NAME.into()),
            ..Default::default()
        }
    }

    /// A client with these credentials, with the same rate limit and retry layers as the
    /// launcher's own.
    pub async fn client(&self) -> Result<ClusterInfo, K8sError> {
        connect_kubeconfig(self.kubeconfig(), None, super::ApiDiscipline::default()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(skip: bool) -> NodeCredentials {
        NodeCredentials {
            server: "https://127.0.0.1:6443".into(),
            namespace: "main-0000000001".into(),
            token: "s3cr3t".into(),
            ca_crt_base64: Some("UEVN".into()),
            skip_tls_verify: skip,
        }
    }

    #[test]
    fn verifies_with_the_ca_unless_told_to_skip() {
        let config = credentials(false).kubeconfig();
        let cluster = config.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("UEVN"));
        assert_eq!(cluster.insecure_skip_tls_verify, None);
        let config = credentials(true).kubeconfig();
        let cluster = config.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.certificate_authority_data, None);
        assert_eq!(cluster.insecure_skip_tls_verify, Some(true));
        assert_eq!(config.contexts[0].context.as_ref().and_then(|c| c.namespace.as_deref()), Some("main-0000000001"));
    }

    #[test]
    fn debug_output_hides_the_token() {
        assert!(!format!("{:?}", credentials(false)).contains("s3cr3t"));
    }
}
