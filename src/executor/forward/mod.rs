//! Console log streaming from pods (reference §6.3–§6.5), in place of Zuul's
//! `while ! kubectl port-forward …; do :; done` loop.
//!
//! For each pod, local loopback ports are forwarded through the API server's port-forward
//! (kube-rs, WebSocket) to `zuul_console`'s ports 19885 and 19886 in the pod. Every local
//! connection gets its own upstream stream ([`session`]); when the API connection under one
//! drops, that local connection ends and the next one opens a fresh stream, retrying with
//! backoff while the API server is unreachable — the local ports never change. A pod that is
//! gone (deleted, or finished) is reported once, and its ports are closed.

mod session;
mod upstream;

use crate::executor::ExecutorError;
use k8s_openapi::api::core::v1::Pod;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// `zuul_console`'s ports in the pod: 19885 (Linux), 19886 (Windows actions).
pub const ZUUL_CONSOLE_PORTS: [u16; 2] = [19885, 19886];

#[derive(Debug, Clone)]
pub struct ForwardOptions {
    /// First and longest wait between attempts to open an upstream stream.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a local connection waits for the API server before it is closed.
    pub connect_deadline: Duration,
    /// Also listen on `[::1]` (as `kubectl port-forward` does), where IPv6 is available.
    pub ipv6_loopback: bool,
}

impl Default for ForwardOptions {
    fn default() -> Self {
        Self {
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            connect_deadline: Duration::from_secs(300),
            ipv6_loopback: false,
        }
    }
}

/// What a forward reports besides its logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardEvent {
    /// A local connection was accepted on `local_port`.
    Connection { local_port: u16 },
    /// The pod is gone; the forward has stopped. Sent once.
    Gone { reason: String },
}

/// State shared by a pod's listeners and connections.
pub(crate) struct Shared {
    pub pods: kube::Api<Pod>,
    pub namespace: String,
    pub pod: String,
    pub options: ForwardOptions,
    gone: watch::Sender<bool>,
    reported: AtomicBool,
    events: Option<mpsc::UnboundedSender<ForwardEvent>>,
}

impl Shared {
    /// Marks the pod gone; the first call logs and reports it.
    pub fn report_gone(&self, reason: &str) {
        if !self.reported.swap(true, Ordering::SeqCst) {
            tracing::error!(
                namespace = %self.namespace,
                pod = %self.pod,
                reason,
                "pod is gone: its console log forwarding stops and its local ports are closed"
            );
            if let Some(events) = &self.events {
                let _ = events.send(ForwardEvent::Gone { reason: reason.to_string() });
            }
        }
        self.gone.send_replace(true);
    }

    pub fn is_gone(&self) -> bool {
        *self.gone.borrow()
    }
}

/// The forward of one pod's ports; dropping it stops everything.
pub struct PodForward {
    /// `(local port, port in the pod)`, in the order asked for.
    pub ports: Vec<(u16, u16)>,
    shared: Arc<Shared>,
    tasks: JoinSet<()>,
}

impl std::fmt::Debug for PodForward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodForward")
            .field("namespace", &self.shared.namespace)
            .field("pod", &self.shared.pod)
            .field("ports", &self.ports)
            .finish_non_exhaustive()
    }
}

impl PodForward {
    /// Listens on 127.0.0.1 for each `(local, remote)` pair (local 0: any free port) and
    /// forwards every connection to `remote` in `namespace/pod`.
    pub async fn start(
        client: kube::Client,
        namespace: &str,
        pod: &str,
        mappings: &[(u16, u16)],
        options: ForwardOptions,
        events: Option<mpsc::UnboundedSender<ForwardEvent>>,
    ) -> Result<PodForward, ExecutorError> {
        let shared = Arc::new(Shared {
            pods: kube::Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            pod: pod.to_string(),
            options: options.clone(),
            gone: watch::channel(false).0,
            reported: AtomicBool::new(false),
            events,
        });
        let mut listeners = Vec::new();
        let mut ports = Vec::new();
        for &(local, remote) in mappings {
            let (port, bound) = loopback_listeners(local, options.ipv6_loopback)?;
            listeners.extend(bound.into_iter().map(|listener| (listener, remote)));
            ports.push((port, remote));
        }
        let mut tasks = JoinSet::new();
        for (listener, remote) in listeners {
            tasks.spawn(accept_loop(shared.clone(), listener, remote));
        }
        // Debug only: `kubepool port-forward` must print its first stdout line before any log line
        // (Zuul reads stdout and stderr together and checks the first line).
        let forwarded: Vec<String> = ports.iter().map(|(local, remote)| format!("{local}->{remote}")).collect();
        tracing::debug!(namespace, pod, ports = %forwarded.join(", "), "forwarding console ports");
        Ok(PodForward { ports, shared, tasks })
    }

    /// The local port forwarded to `remote`.
    pub fn local_port(&self, remote: u16) -> Option<u16> {
        self.ports.iter().find(|(_, r)| *r == remote).map(|(l, _)| *l)
    }

    pub fn is_gone(&self) -> bool {
        self.shared.is_gone()
    }

    /// Stops listening and closes every forwarded connection.
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
    }
}

/// Listeners on `127.0.0.1:<local>` (0: a free port) and, with `ipv6`, on `[::1]` at the same
/// port where IPv6 is available (as `kubectl port-forward` listens); returns the port.
pub fn loopback_listeners(local: u16, ipv6: bool) -> Result<(u16, Vec<TcpListener>), ExecutorError> {
    let v4 = listen(SocketAddr::from((Ipv4Addr::LOCALHOST, local)))?;
    let port = v4.local_addr().map(|a| a.port()).unwrap_or(local);
    let mut listeners = vec![v4];
    if ipv6 {
        match listen(SocketAddr::from((Ipv6Addr::LOCALHOST, port))) {
            Ok(v6) => listeners.push(v6),
            Err(error) => tracing::debug!(port, %error, "no IPv6 loopback listener"),
        }
    }
    Ok((port, listeners))
}

/// A listener with `SO_REUSEADDR`, so that ports Zuul's executor reserved (bound, not
/// listening, also with `SO_REUSEADDR`) can be taken over, as kubectl does.
fn listen(addr: SocketAddr) -> Result<TcpListener, ExecutorError> {
    let error = |source| ExecutorError::Listen { addr: addr.to_string(), source };
    let socket = if addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }.map_err(error)?;
    socket.set_reuseaddr(true).map_err(error)?;
    socket.bind(addr).map_err(error)?;
    socket.listen(128).map_err(error)
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, remote: u16) {
    let local_port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut gone = shared.gone.subscribe();
    // Connections end with this loop (JoinSet aborts them when dropped).
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::debug!(pod = %shared.pod, local_port, %peer, "local connection");
                    if let Some(events) = &shared.events {
                        let _ = events.send(ForwardEvent::Connection { local_port });
                    }
                    connections.spawn(session::serve(shared.clone(), stream, remote));
                }
                Err(error) => {
                    tracing::warn!(local_port, %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = async { gone.wait_for(|gone| *gone).await.map(|_| ()) } => break,
        }
    }
}

/// A client for a console forward. Retries inside the client are few and short: [`session`]
/// retries with its own backoff and never gives up early.
pub fn client(config: kube::Config) -> Result<kube::Client, ExecutorError> {
    let discipline = crate::k8s::ApiDiscipline {
        max_retries: 1,
        min_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        ..Default::default()
    };
    Ok(crate::k8s::connect_config(config, discipline)?.client)
}

/// Starts the console forwards of every pod of a prepared node set, by node name; each pod
/// gets two free local ports (its `stream_port1` and `stream_port2`).
pub async fn forward_pods(
    prepared: &crate::executor::Prepared,
    options: &ForwardOptions,
) -> Result<std::collections::BTreeMap<String, PodForward>, ExecutorError> {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&prepared.kubeconfig.render())
        .map_err(|e| ExecutorError::Kubeconfig(e.to_string()))?;
    let mut forwards = std::collections::BTreeMap::new();
    for target in &prepared.pods {
        let config = crate::k8s::load(
            crate::k8s::KubeconfigSource::Parsed(Box::new(kubeconfig.clone())),
            Some(&target.context),
            None,
        )
        .await?;
        let client = client(config)?;
        let mappings = ZUUL_CONSOLE_PORTS.map(|remote| (0, remote));
        let forward =
            PodForward::start(client, &target.namespace, &target.pod, &mappings, options.clone(), None).await?;
        forwards.insert(target.node.clone(), forward);
    }
    Ok(forwards)
}

/// `stream_port1`/`stream_port2` of each forward, for [`crate::executor::Prepared::resources`].
pub fn stream_ports(
    forwards: &std::collections::BTreeMap<String, PodForward>,
) -> std::collections::BTreeMap<String, (u16, u16)> {
    forwards
        .iter()
        .filter_map(|(node, forward)| {
            Some((
                node.clone(),
                (forward.local_port(ZUUL_CONSOLE_PORTS[0])?, forward.local_port(ZUUL_CONSOLE_PORTS[1])?),
            ))
        })
        .collect()
}
