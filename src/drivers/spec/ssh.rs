//! What an SSH node label asks for (docs/config.md, "SSH nodes").

use std::collections::BTreeMap;
use std::path::PathBuf;

/// What an SSH node label asks for, defaults resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshOptions {
    /// The account sshd lets the executor into (created in the container if missing).
    pub username: String,
    /// Where the executor's public key(s) come from.
    pub authorized_keys: AuthorizedKeys,
    pub service: ServiceType,
    /// A fixed `nodePort` (NodePort and LoadBalancer only); `None`: the cluster picks one.
    pub node_port: Option<i32>,
    /// The address to report instead of the one kubepool finds (ClusterIP: the cluster IP,
    /// NodePort: the node's InternalIP, LoadBalancer: the load balancer's ingress).
    pub address: Option<String>,
    pub ingress: Option<IngressOptions>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizedKeys {
    /// A key of a Secret the launcher can read.
    Secret { namespace: String, name: String, key: String },
    /// A file on the launcher's host.
    File(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceType {
    ClusterIp,
    NodePort,
    LoadBalancer,
}

impl ServiceType {
    pub fn kubernetes_name(self) -> &'static str {
        match self {
            ServiceType::ClusterIp => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}

/// An Ingress in front of the Service; the node record then names `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressOptions {
    /// `spec.ingressClassName`.
    pub class: Option<String>,
    /// The rule's host, and the address reported to Zuul.
    pub host: String,
    /// The port reported to Zuul (where the ingress controller passes SSH through).
    pub port: u16,
    pub annotations: BTreeMap<String, String>,
}
