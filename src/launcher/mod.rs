//! The launcher: where ZooKeeper and the drivers meet.
//!
//! [`run`] connects to ZooKeeper and to every provider's cluster ([`setup`]), registers the
//! launcher component, and runs the [`engine`]: a pool worker per pool ([`pool_worker`],
//! [`decide`], [`handler`]), the deleted-node worker ([`deleter`]) and the cleanup worker
//! ([`cleanup`]), until SIGINT or SIGTERM.

pub mod cleanup;
pub mod context;
pub mod decide;
pub mod deleter;
pub mod engine;
pub mod handler;
pub mod health;
pub mod min_ready;
pub mod plan;
pub mod policies;
pub mod pool_worker;
pub mod quota;
pub mod setup;
pub mod signal;

use crate::Error;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::zk::{ConnectOptions, TlsFiles};
use std::future::Future;
use std::time::Duration;
use tracing::{info, warn};

/// ZooKeeper connection options from the config's `zookeeper-*` keys.
pub fn zookeeper_options(config: &Config) -> ConnectOptions {
    ConnectOptions {
        servers: config.zookeeper_servers.iter().map(|s| format!("{}:{}", s.host, s.port)).collect(),
        chroot: config.zookeeper_servers.iter().find_map(|s| s.chroot.clone()),
        tls: config.zookeeper_tls.as_ref().map(|t| TlsFiles {
            ca: t.ca.clone(),
            cert: t.cert.clone(),
            key: t.key.clone(),
        }),
        session_timeout: Duration::from_secs_f64(config.zookeeper_timeout.max(1.0)),
    }
}

/// This machine's host name, as Nodepool registers it.
pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Options of `kubepool launcher` beyond the config file.
#[derive(Debug, Clone)]
pub struct Options {
    pub cleanup_interval: Duration,
    /// How each provider's cluster is used: request rate, where node tokens come from.
    pub cluster: setup::ClusterSettings,
    /// How long work in flight may take after shutdown starts.
    pub shutdown_grace: Duration,
}

/// Runs the launcher until `shutdown` completes.
pub async fn run(
    config: &Config,
    options: Options,
    metrics: Metrics,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let providers = setup::providers(config, &metrics, &options.cluster).await?;
    if providers.pools.is_empty() {
        warn!("no pool to serve (no kubernetes provider with namespace labels)");
    }
    let mut policies = policies::Policies::from_config(config);
    // min-ready only for labels a pool of ours serves (another launcher serves the others).
    policies.min_ready.retain(|label, _| providers.pools.iter().any(|p| p.labels.contains_key(label)));
    let setup = engine::Setup {
        zookeeper: zookeeper_options(config),
        hostname: hostname(),
        metrics,
        drivers: providers.drivers,
        clouds: providers.clouds,
        pools: providers.pools,
        cleanup_interval: options.cleanup_interval,
        policies,
        shutdown_grace: options.shutdown_grace,
    };
    engine::run(setup, async {
        shutdown.await;
        info!("shutting down");
    })
    .await?;
    info!("stopped");
    Ok(())
}
