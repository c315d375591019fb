//! `kubepool launcher`: the nodepool-launcher replacement.

use crate::metrics::{self, Metrics};
use crate::{Error, config, launcher};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct LauncherArgs {
    /// The nodepool.yaml to serve.
    #[arg(short = 'c', long = "config", default_value = "/etc/nodepool/nodepool.yaml", env = "KUBEPOOL_CONFIG")]
    pub config: PathBuf,

    /// How often the cleanup worker looks for leaked resources and lost requests. A leaked
    /// resource is deleted when two passes in a row find it.
    #[arg(long, default_value_t = 60, env = "KUBEPOOL_CLEANUP_INTERVAL")]
    pub cleanup_interval_seconds: u64,

    /// Kubernetes API requests per second each provider's client may make (token bucket).
    #[arg(long, default_value_t = crate::k8s::discipline::DEFAULT_QPS, env = "KUBEPOOL_API_QPS")]
    pub api_qps: u32,

    /// How many Kubernetes API requests may go at once above the rate, after a quiet spell.
    #[arg(long, default_value_t = crate::k8s::discipline::DEFAULT_BURST, env = "KUBEPOOL_API_BURST")]
    pub api_burst: u32,

    /// Where a node's service-account token comes from: `request` (the TokenRequest API: in
    /// the reply to one call, expires after --node-token-hours or the cluster's cap) or `secret`
    /// (a token Secret filled in by the controller-manager, as Nodepool does: never expires,
    /// slower under load).
    #[arg(long, value_enum, default_value_t = NodeToken::Request, env = "KUBEPOOL_NODE_TOKEN")]
    pub node_token: NodeToken,

    /// Lifetime asked for a requested node token, in hours (default one year: it dies with
    /// the node's service account anyway).
    #[arg(long, default_value_t = crate::k8s::DEFAULT_TOKEN_LIFETIME.as_secs() / 3600,
          value_parser = clap::value_parser!(u64).range(1..), env = "KUBEPOOL_NODE_TOKEN_HOURS")]
    pub node_token_hours: u64,

    /// After SIGTERM or SIGINT: how many seconds the work in flight may take before the launcher
    /// exits anyway (a second signal exits at once). What is left is recovered by the next
    /// launcher's cleanup pass. The default fits Kubernetes' 30 s termination grace.
    #[arg(long, default_value_t = 25, env = "KUBEPOOL_SHUTDOWN_GRACE")]
    pub shutdown_grace: u64,

    /// Serve Prometheus metrics on this address at /metrics, readiness at /ready and liveness at
    /// /healthz (e.g. 127.0.0.1:9105); off if unset.
    #[arg(long, env = "KUBEPOOL_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// The global `--zookeeper-tls-verify-hostname`.
    #[arg(from_global)]
    pub zookeeper_tls_verify_hostname: bool,
}

/// `--node-token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NodeToken {
    Request,
    Secret,
}

pub async fn run(args: LauncherArgs) -> Result<(), Error> {
    tracing::info!(version = env!("CARGO_PKG_VERSION"), config = %args.config.display(), "kubepool launcher starting");
    let config = config::load(&args.config)?;
    if config.zookeeper_servers.is_empty() {
        // `config validate` accepts such a file, as `nodepool config-validate` does.
        return Err(Error::Setup(format!(
            "{}: no zookeeper-servers: the launcher needs at least one ZooKeeper server",
            args.config.display()
        )));
    }
    let shutdown = shutdown_signal()?;
    let metrics = match crate::statsd::Statsd::from_env() {
        None => Metrics::new(),
        Some(Ok(statsd)) => {
            tracing::info!(target_addr = %statsd.target(), "reporting Nodepool's statsd metrics");
            Metrics::new().with_statsd(statsd)
        }
        Some(Err(error)) => return Err(Error::Setup(error.to_string())),
    };
    let _server = match args.metrics_addr {
        Some(addr) => Some(
            metrics::serve(addr, metrics.clone())
                .await
                .map_err(|source| Error::Listen { addr: addr.to_string(), source })?,
        ),
        None => None,
    };
    // Nodepool's status web app, when the config has a `webapp` key.
    let store_slot = crate::webapp::StoreSlot::default();
    let _webapp = match &config.webapp {
        Some(webapp) => {
            let addr = webapp_addr(webapp)?;
            let app = crate::webapp::WebApp::new(store_slot.clone(), metrics.clone());
            Some(
                crate::webapp::serve(addr, app)
                    .await
                    .map_err(|source| Error::Listen { addr: addr.to_string(), source })?,
            )
        }
        None => None,
    };
    let options = launcher::Options {
        cleanup_interval: Duration::from_secs(args.cleanup_interval_seconds.max(1)),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        config_file: Some(args.config.clone()),
        zookeeper_tls_verify_hostname: args.zookeeper_tls_verify_hostname,
        store_slot: Some(store_slot),
        cluster: launcher::setup::ClusterSettings {
            api_qps: args.api_qps,
            api_burst: args.api_burst,
            node_token: match args.node_token {
                NodeToken::Request => crate::k8s::TokenSource::Request {
                    lifetime: Duration::from_secs(args.node_token_hours.saturating_mul(3600)),
                },
                NodeToken::Secret => crate::k8s::TokenSource::Secret,
            },
        },
    };
    launcher::run(&config, options, metrics, shutdown).await
}

/// The socket address of the `webapp` key (`listen_address` an IP address or a host name).
fn webapp_addr(webapp: &crate::config::WebApp) -> Result<std::net::SocketAddr, Error> {
    use std::net::ToSocketAddrs;
    let invalid = |why: String| {
        Error::Setup(format!("webapp: cannot listen on {}:{}: {why}", webapp.listen_address, webapp.port))
    };
    let port = u16::try_from(webapp.port).map_err(|_| invalid("the port is not in 0..65535".into()))?;
    let host = webapp.listen_address.trim_matches(['[', ']']);
    (host, port)
        .to_socket_addrs()
        .map_err(|e| invalid(e.to_string()))?
        .next()
        .ok_or_else(|| invalid("the address does not resolve".into()))
}

/// Completes on the first SIGINT or SIGTERM. A second one exits the process at once (status
/// 130 or 143, as a shell reports a signal): whatever was in flight is recovered by the next
/// launcher, as after a crash.
pub(super) fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|source| Error::Signal { signal: "SIGINT", source })?;
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|source| Error::Signal { signal: "SIGTERM", source })?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received; stopping (a second signal exits at once)"),
            _ = terminate.recv() => tracing::info!("SIGTERM received; stopping (a second signal exits at once)"),
        }
        tokio::spawn(async move {
            let code = tokio::select! {
                _ = interrupt.recv() => 130,
                _ = terminate.recv() => 143,
            };
            tracing::warn!("second signal: exiting now; the next launcher recovers the work in flight");
            std::process::exit(code);
        });
    })
}
