//! The running launcher: one task per pool worker, the deleted-node worker, the cleanup
//! worker, and a watcher that turns ZooKeeper changes into wake-ups — event-driven, with a
//! slow timer only as a safety net.

use super::context::Context;
use super::plan::PoolPlan;
use super::signal::Signal;
use super::{cleanup, deleter, min_ready, pool_worker::PoolWorker};
use crate::metrics::Metrics;
use crate::zk::{Client, Store, WatchEvent, Watcher, ZkError};
use kubepool_driver_api::Driver;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

/// Everything the engine needs, resolved from the config.
pub struct Setup {
    pub zk: Client,
    pub hostname: String,
    pub metrics: Metrics,
    pub drivers: BTreeMap<String, Arc<dyn Driver>>,
    pub clouds: BTreeMap<String, Option<String>>,
    pub pools: Vec<PoolPlan>,
    pub cleanup_interval: Duration,
    pub policies: super::policies::Policies,
}

/// Serves requests until `shutdown` completes, then stops taking requests, lets the work in
/// flight finish and removes the pool registrations. Returns an error if the ZooKeeper session
/// ends (a restart then begins afresh from what ZooKeeper and the cluster hold).
pub async fn run(setup: Setup, shutdown: impl Future<Output = ()>) -> Result<(), ZkError> {
    let store = Store::new(setup.zk.clone());
    store.ensure_roots().await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let ctx = Arc::new(Context {
        store,
        hostname: setup.hostname,
        metrics: setup.metrics,
        drivers: setup.drivers,
        clouds: setup.clouds,
        policies: setup.policies,
        launching: Default::default(),
        changed: Signal::default(),
        nodes_changed: Signal::default(),
        stopping: stop_rx,
    });
    let mut watcher = Watcher::start(&setup.zk).await?;

    let mut tasks = JoinSet::new();
    for plan in setup.pools {
        let worker = PoolWorker::new(ctx.clone(), plan);
        tasks.spawn(async move {
            if let Err(error) = worker.run().await {
                warn!(%error, "pool worker ended with an error");
            }
        });
    }
    tasks.spawn(deleter::run(ctx.clone()));
    tasks.spawn(cleanup::run(ctx.clone(), setup.cleanup_interval));
    tasks.spawn(min_ready::run(ctx.clone()));

    tokio::pin!(shutdown);
    let result = loop {
        tokio::select! {
            _ = &mut shutdown => break Ok(()),
            event = watcher.next() => match event {
                Ok(WatchEvent::Node { .. }) | Ok(WatchEvent::NodeLock { .. }) => {
                    ctx.nodes_changed.raise();
                    ctx.changed.raise();
                }
                Ok(WatchEvent::Disconnected) => warn!("ZooKeeper connection lost; waiting for the session to come back"),
                Ok(_) => ctx.changed.raise(),
                Err(error) => break Err(error),
            },
        }
    };
    info!("stopping: no new requests; finishing work in flight");
    let _ = stop_tx.send(true);
    drop(watcher);
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(330), drain).await.is_err() {
        warn!("work in flight did not finish in time; its locks end with the session and another launcher recovers it");
    }
    result
}
