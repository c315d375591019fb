//! Where Zuul's executor reaches a node's sshd, and waiting until it does: the Service has a
//! ready endpoint, then the reported address answers with the node's host key.

use super::host_key::HostKey;
use super::objects::{NAME, SSH_PORT};
use super::probe::{self, ProbeError};
use crate::drivers::spec::{ServiceType, SshOptions};
use k8s_openapi::api::core::v1::{Endpoints, Service};
use kube::api::Api;
use kube::runtime::wait::await_condition;
use kubepool_driver_api::LaunchError;
use std::time::Duration;
use tokio::time::Instant;
use tracing::debug;

/// An address and port, as the node record reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reachable {
    pub address: String,
    pub port: u16,
}

/// Waits (by watch) until the Service has a ready address on the SSH port.
pub async fn wait_for_endpoints(client: &kube::Client, namespace: &str, deadline: Instant) -> Result<(), LaunchError> {
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), namespace);
    let ready = await_condition(endpoints, NAME, |e: Option<&Endpoints>| {
        e.and_then(|e| e.subsets.as_ref())
            .is_some_and(|subsets| subsets.iter().any(|s| s.addresses.as_ref().is_some_and(|a| !a.is_empty())))
    });
    match tokio::time::timeout_at(deadline, ready).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(LaunchError::Transient(format!("watching the SSH Service's endpoints: {e}"))),
        Err(_) => Err(LaunchError::Transient("the SSH Service got no ready endpoint in time".into())),
    }
}

/// The address and port to report: the Ingress's host and port if there is one; else the
/// configured `address` or the Service's own (ClusterIP: its cluster IP and port 22; NodePort:
/// the pod's node (`host_ip`) and the node port; LoadBalancer: the balancer's ingress and 22,
/// waited for by watch).
pub async fn reachable(
    client: &kube::Client,
    namespace: &str,
    options: &SshOptions,
    host_ip: Option<&str>,
    deadline: Instant,
) -> Result<Reachable, LaunchError> {
    if let Some(ingress) = &options.ingress {
        return Ok(Reachable { address: ingress.host.clone(), port: ingress.port });
    }
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let service = match options.service {
        ServiceType::LoadBalancer if options.address.is_none() => {
            let balanced = await_condition(services, NAME, |s: Option<&Service>| balancer_address(s).is_some());
            match tokio::time::timeout_at(deadline, balanced).await {
                Ok(Ok(service)) => service,
                Ok(Err(e)) => return Err(LaunchError::Transient(format!("watching the SSH Service: {e}"))),
                Err(_) => return Err(LaunchError::Transient("the LoadBalancer got no address in time".into())),
            }
        }
        _ => Some(services.get(NAME).await.map_err(|e| LaunchError::Transient(format!("read the SSH Service: {e}")))?),
    };
    let spec = service.as_ref().and_then(|s| s.spec.as_ref());
    let missing = |what: &str| LaunchError::Transient(format!("the SSH Service has no {what}"));
    let (address, port) = match options.service {
        ServiceType::ClusterIp => {
            (spec.and_then(|s| s.cluster_ip.clone()).ok_or_else(|| missing("cluster IP"))?, SSH_PORT)
        }
        ServiceType::NodePort => {
            let port = spec
                .and_then(|s| s.ports.as_ref())
                .and_then(|p| p.first())
                .and_then(|p| p.node_port)
                .ok_or_else(|| missing("node port"))?;
            (host_ip.map(str::to_string).ok_or_else(|| missing("node address (the pod has no hostIP)"))?, port)
        }
        ServiceType::LoadBalancer => (balancer_address(service.as_ref()).unwrap_or_default(), SSH_PORT),
    };
    let address = options.address.clone().unwrap_or(address);
    let port = u16::try_from(port).map_err(|_| LaunchError::Permanent(format!("port {port} is out of range")))?;
    Ok(Reachable { address, port })
}

fn balancer_address(service: Option<&Service>) -> Option<String> {
    let ingress = service?.status.as_ref()?.load_balancer.as_ref()?.ingress.as_ref()?.first()?;
    ingress.ip.clone().or_else(|| ingress.hostname.clone())
}

/// Probes `at` until its sshd answers with `key` or the deadline passes. A server with another
/// key fails at once: the address reaches something else.
pub async fn wait_for_host_key(at: &Reachable, key: &HostKey, deadline: Instant) -> Result<(), LaunchError> {
    let mut delay = Duration::from_millis(100);
    loop {
        match probe::check_host_key(&at.address, at.port, key, Duration::from_secs(10)).await {
            Ok(()) => return Ok(()),
            Err(ProbeError::WrongKey(why)) => {
                return Err(LaunchError::Transient(format!("{}:{}: {why}", at.address, at.port)));
            }
            Err(ProbeError::NotYet(why)) => {
                if Instant::now() + delay >= deadline {
                    return Err(LaunchError::Transient(format!(
                        "sshd at {}:{} did not answer in time: {why}",
                        at.address, at.port
                    )));
                }
                debug!(address = %at.address, port = at.port, %why, "sshd not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        }
    }
}
