//! The launcher: where ZooKeeper and the drivers meet.
//!
//! [`run`] sets up every provider's driver ([`setup`]) and runs the [`engine`], which keeps a
//! ZooKeeper session (a new one whenever one expires), registers the launcher component and
//! runs a pool worker per pool ([`pool_worker`], [`decide`], [`handler`]), the deleted-node
//! worker ([`deleter`]), the cleanup worker ([`cleanup`]) and a health watcher per provider
//! ([`health`]), applying config reloads ([`reload`]), until SIGINT or SIGTERM.

pub mod cleanup;
pub mod context;
pub mod decide;
pub mod deleter;
pub mod engine;
pub mod handler;
pub mod health;
pub mod min_ready;
pub mod naming;
pub mod plan;
pub mod policies;
pub mod pool_worker;
pub mod provider_health;
pub mod quota;
pub mod reload;
pub mod setup;
pub mod wake;

use crate::Error;
use crate::config::Config;
use crate::metrics::Metrics;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;
use tracing::info;

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
    /// The file the config came from: reloaded when it changes and on SIGHUP.
    pub config_file: Option<PathBuf>,
    /// Whether a ZooKeeper TLS server's certificate must name the host it is reached by.
    pub zookeeper_tls_verify_hostname: bool,
    /// Filled with the ZooKeeper store once there is a session (for the status web app).
    pub store_slot: Option<crate::webapp::StoreSlot>,
}

/// Runs the launcher until `shutdown` completes.
pub async fn run(
    config: &Config,
    options: Options,
    metrics: Metrics,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let parts = reload::engine_parts(config, &metrics, &options.cluster).await?;
    let reloads = options.config_file.map(|path| {
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        tokio::spawn(reload::watch(path, config.clone(), metrics.clone(), options.cluster, sender));
        receiver
    });
    let setup = engine::Setup {
        zookeeper: crate::zk::zookeeper_options(config, options.zookeeper_tls_verify_hostname),
        hostname: hostname(),
        metrics,
        drivers: parts.drivers,
        clouds: parts.clouds,
        pools: parts.pools,
        cleanup_interval: options.cleanup_interval,
        policies: parts.policies,
        shutdown_grace: options.shutdown_grace,
        reloads,
        store_slot: options.store_slot,
    };
    engine::run(setup, async {
        shutdown.await;
        info!("shutting down");
    })
    .await?;
    info!("stopped");
    Ok(())
}
