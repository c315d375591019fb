//! A launched node's record and its `connection_port` (reference §5), for all three drivers:
//! the namespace, the API URL, the node's own credentials, and for pod nodes the pod name.

use super::objects::SERVICE_ACCOUNT;
use super::token::Credentials;
use crate::drivers::spec::LabelSpec;
use crate::k8s::ClusterInfo;
use kubepool_driver_api::LaunchedNode;

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

/// What a node's commands reach: its namespace, or a pod in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach<'a> {
    /// No pod: Zuul reaches the namespace with `connection_type` (`namespace`, `project`).
    Namespace { connection_type: &'static str },
    /// The pod of a node with a namespace of its own. The kubeconfig user is Nodepool's
    /// `zuul-worker`, whatever the service account is called.
    Pod(&'a str),
    /// A pod that shares its namespace with other nodes (openshiftpods, kubernetes buildset
    /// pods). Zuul's executor names kubeconfig users and contexts `<namespace>:<user>`: one
    /// `user` for two such nodes of a job gives duplicate names, which kubectl refuses (printing
    /// the kubeconfig, tokens included). The user is the pod's name, which its own service
    /// account also has: unique.
    SharedNamespacePod(&'a str),
}

/// A launched node's record: where it is and how Zuul reaches it.
pub struct NodeRecord<'a> {
    pub cluster: &'a ClusterInfo,
    pub flavor: Flavor,
    pub namespace: &'a str,
    pub reach: Reach<'a>,
}

impl NodeRecord<'_> {
    fn pod(&self) -> Option<&str> {
        match self.reach {
            Reach::Namespace { .. } => None,
            Reach::Pod(pod) | Reach::SharedNamespacePod(pod) => Some(pod),
        }
    }

    /// The `connection_port` dict Zuul's executor builds the node's kubeconfig from.
    pub fn connection_port(&self, credentials: Credentials) -> serde_json::Value {
        let user = match self.reach {
            Reach::SharedNamespacePod(pod) => pod,
            Reach::Namespace { .. } | Reach::Pod(_) => SERVICE_ACCOUNT,
        };
        let mut port = serde_json::Map::new();
        if self.flavor == Flavor::Kubernetes {
            port.insert("name".into(), self.namespace.into());
        }
        port.insert("namespace".into(), self.namespace.into());
        port.insert("host".into(), self.cluster.server.clone().into());
        port.insert("skiptls".into(), self.cluster.skip_tls_verify.into());
        port.insert("token".into(), credentials.token.into());
        port.insert("user".into(), user.into());
        if self.flavor == Flavor::OpenshiftPods || !self.cluster.skip_tls_verify {
            port.insert("ca_crt".into(), credentials.ca_crt_base64.into());
        }
        if let Some(pod) = self.pod() {
            port.insert("pod".into(), pod.into());
        }
        serde_json::Value::Object(port)
    }

    /// The launcher's record of the node: `connection_port`, the pod as `interface_ip` and
    /// `kubectl` as the connection type for pod nodes, and the label's Python and shell.
    pub fn launched(
        &self,
        external_id: String,
        credentials: Credentials,
        host_id: Option<String>,
        label: &LabelSpec,
    ) -> LaunchedNode {
        let connection_type = match self.reach {
            Reach::Namespace { connection_type } => connection_type,
            Reach::Pod(_) | Reach::SharedNamespacePod(_) => "kubectl",
        };
        LaunchedNode {
            external_id,
            connection_type: connection_type.to_string(),
            connection_port: self.connection_port(credentials),
            interface_ip: self.pod().map(str::to_string),
            host_id,
            python_path: Some(label.python_path.clone()),
            shell_type: label.shell_type.clone(),
            username: None,
            host_keys: Vec::new(),
        }
    }
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

    fn record<'a>(cluster: &'a ClusterInfo, flavor: Flavor, reach: Reach<'a>) -> NodeRecord<'a> {
        NodeRecord { cluster, flavor, namespace: "ns", reach }
    }

    #[tokio::test]
    async fn the_three_flavors_differ_only_in_name_and_ca() {
        let verified = cluster(false).await;
        let k8s = record(&verified, Flavor::Kubernetes, Reach::Pod("p")).connection_port(credentials());
        assert_eq!(k8s["name"], "ns");
        assert_eq!(k8s["ca_crt"], "UEVN");
        assert_eq!(k8s["pod"], "p");
        assert_eq!(k8s["user"], "zuul-worker");
        let project = Reach::Namespace { connection_type: "project" };
        let os = record(&verified, Flavor::Openshift, project).connection_port(credentials());
        assert!(os.get("name").is_none() && os.get("pod").is_none(), "{os}");
        assert_eq!(os["user"], "zuul-worker");

        let skipping = cluster(true).await;
        let os = record(&skipping, Flavor::Openshift, project).connection_port(credentials());
        assert!(os.get("ca_crt").is_none(), "no CA when TLS is not verified: {os}");
        let pods =
            record(&skipping, Flavor::OpenshiftPods, Reach::SharedNamespacePod("p")).connection_port(credentials());
        assert_eq!(pods["ca_crt"], "UEVN", "openshiftpods always carries ca_crt");
        assert_eq!(pods["skiptls"], true);
        assert_eq!(pods["user"], "p", "a pod sharing its namespace is its own user");
    }
}
