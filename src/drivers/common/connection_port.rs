//! A node record's `connection_port` (reference §5), for all three drivers: the namespace, the
//! API URL, the node's own credentials, and for pod nodes the pod name.

use super::objects::SERVICE_ACCOUNT;
use super::token::Credentials;
use crate::k8s::ClusterInfo;

/// Which driver's variant of the dict (they differ in two keys, §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// kubernetes: has `name` (= the namespace); `ca_crt` only when TLS is verified.
    Kubernetes,
    /// openshift: no `name`; `ca_crt` only when TLS is verified.
    Openshift,
    /// openshiftpods: no `name`; `ca_crt` always present.
    OpenshiftPods,
}

/// The `connection_port` dict Zuul's executor builds the node's kubeconfig from. `user` is
/// `zuul-worker` (it names the kubeconfig user, whatever the service account is called); pods
/// that share a namespace with other nodes (openshiftpods, kubernetes buildset pods) replace it
/// with a name of their own.
pub fn connection_port(
    cluster: &ClusterInfo,
    flavor: Flavor,
    namespace: &str,
    credentials: Credentials,
    pod: Option<&str>,
) -> serde_json::Value {
    let mut port = serde_json::Map::new();
    if flavor == Flavor::Kubernetes {
        port.insert("name".into(), namespace.into());
    }
    port.insert("namespace".into(), namespace.into());
    port.insert("host".into(), cluster.server.clone().into());
    port.insert("skiptls".into(), cluster.skip_tls_verify.into());
    port.insert("token".into(), credentials.token.into());
    port.insert("user".into(), SERVICE_ACCOUNT.into());
    if flavor == Flavor::OpenshiftPods || !cluster.skip_tls_verify {
        port.insert("ca_crt".into(), credentials.ca_crt_base64.into());
    }
    if let Some(pod) = pod {
        port.insert("pod".into(), pod.into());
    }
    serde_json::Value::Object(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn cluster(skip_tls_verify: bool) -> ClusterInfo {
        let config = kube::Config::new("https://127.0.0.1:6443".parse().expect("url"));
        let client = kube::Client::try_from(config).expect("client");
        ClusterInfo {
            client,
            server: "https://127.0.0.1:6443".into(),
            skip_tls_verify,
            ca_crt_base64: None,
            node_token: crate::k8s::TokenSource::Secret,
        }
    }

    fn credentials() -> Credentials {
        Credentials { token: "t".into(), ca_crt_base64: "UEVN".into() }
    }

    #[tokio::test]
    async fn the_three_flavors_differ_only_in_name_and_ca() {
        let verified = cluster(false).await;
        let k8s = connection_port(&verified, Flavor::Kubernetes, "ns", credentials(), Some("p"));
        assert_eq!(k8s["name"], "ns");
        assert_eq!(k8s["ca_crt"], "UEVN");
        assert_eq!(k8s["pod"], "p");
        let os = connection_port(&verified, Flavor::Openshift, "ns", credentials(), None);
        assert!(os.get("name").is_none() && os.get("pod").is_none(), "{os}");
        assert_eq!(os["user"], "zuul-worker");

        let skipping = cluster(true).await;
        let os = connection_port(&skipping, Flavor::Openshift, "ns", credentials(), None);
        assert!(os.get("ca_crt").is_none(), "no CA when TLS is not verified: {os}");
        let pods = connection_port(&skipping, Flavor::OpenshiftPods, "ns", credentials(), Some("p"));
        assert_eq!(pods["ca_crt"], "UEVN", "openshiftpods always carries ca_crt");
        assert_eq!(pods["skiptls"], true);
    }
}
