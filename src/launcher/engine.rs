//! The running launcher: one task per pool worker, the deleted-node worker, the cleanup
//! worker, and a watcher that turns ZooKeeper changes into wake-ups — event-driven, with a
//! slow timer only as a safety net.
//!
//! The engine outlives its ZooKeeper sessions. It opens one (retrying for as long as it takes),
//! registers the launcher component and watches; when the session expires it opens a new one
//! and moves every task onto it ([`Store::replace_session`]), registering again, as after a
//! restart. Workers keep running throughout: their ZooKeeper calls fail while there is no
//! session and succeed again on the next one. Request handlers re-take their locks before
//! their next write (see [`super::handler`]).

use super::context::Context;
use super::plan::PoolPlan;
use super::wake::WakeUp;
use super::{cleanup, deleter, health, min_ready, pool_worker::PoolWorker};
use crate::metrics::Metrics;
use crate::zk::{
    Backoff, Client, ComponentRegistration, ConnectOptions, LauncherComponent, Store, WatchEvent, Watcher, ZkError,
};
use kubepool_driver_api::Driver;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{info, warn};

/// Everything the engine needs, resolved from the config.
pub struct Setup {
    /// How to open a ZooKeeper session (at start and whenever one expired).
    pub zookeeper: ConnectOptions,
    pub hostname: String,
    pub metrics: Metrics,
    pub drivers: BTreeMap<String, Arc<dyn Driver>>,
    pub clouds: BTreeMap<String, Option<String>>,
    pub pools: Vec<PoolPlan>,
    pub cleanup_interval: Duration,
    pub policies: super::policies::Policies,
    /// How long work in flight may take to finish after shutdown starts.
    pub shutdown_grace: Duration,
    /// New settings from config reloads (see [`super::reload`]).
    pub reloads: Option<mpsc::Receiver<Reload>>,
    /// Where the engine puts its ZooKeeper store for the status web app, once it has a session.
    pub store_slot: Option<crate::webapp::StoreSlot>,
}

/// What a config reload changes: the providers' drivers, the pools and the policies. Pools
/// that are new start serving, removed ones stop taking requests (their ready nodes are
/// deleted), changed ones apply their settings to the nodes launched from then on.
pub struct Reload {
    pub drivers: BTreeMap<String, Arc<dyn Driver>>,
    pub clouds: BTreeMap<String, Option<String>>,
    pub pools: Vec<PoolPlan>,
    pub policies: super::policies::Policies,
}

/// Nodepool's `nodepool.provider.P.max_servers` statsd gauge (`updateProviderLimits`): the sum of
/// the provider's pools' `max-servers`, unlimited pools counting 0.
fn send_max_servers(metrics: &Metrics, pools: &[PoolPlan]) {
    let Some(statsd) = metrics.statsd() else { return };
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    for plan in pools {
        *sums.entry(plan.provider.as_str()).or_default() += plan.limits.get("instances").unwrap_or(0).max(0);
    }
    let gauges: Vec<(String, i64)> =
        sums.into_iter().map(|(provider, sum)| (format!("nodepool.provider.{provider}.max_servers"), sum)).collect();
    statsd.gauges(&gauges);
}

/// The engine's tasks, and a handle on each pool worker's settings.
struct Workers {
    tasks: JoinSet<()>,
    pools: BTreeMap<(String, String), watch::Sender<Option<PoolPlan>>>,
    /// Providers with a health watcher.
    watched: std::collections::BTreeSet<String>,
}

impl Workers {
    fn start_pool(&mut self, ctx: &Arc<Context>, plan: PoolPlan) {
        let (updates, receiver) = watch::channel(Some(plan.clone()));
        self.pools.insert((plan.provider.clone(), plan.pool.clone()), updates);
        let worker = PoolWorker::new(ctx.clone(), plan, receiver);
        self.tasks.spawn(async move {
            if let Err(error) = worker.run().await {
                warn!(%error, "pool worker ended with an error");
            }
        });
    }

    fn watch_providers(&mut self, ctx: &Arc<Context>) {
        for (provider, _) in ctx.drivers() {
            if self.watched.insert(provider.clone()) {
                self.tasks.spawn(health::watch_provider(ctx.clone(), provider));
            }
        }
    }

    fn apply(&mut self, ctx: &Arc<Context>, reload: Reload) {
        send_max_servers(&ctx.metrics, &reload.pools);
        {
            // Replaced and added drivers; removed providers keep theirs for deleting their nodes.
            let mut drivers = super::context::write(&ctx.drivers);
            drivers.extend(reload.drivers);
        }
        super::context::write(&ctx.clouds).extend(reload.clouds);
        *super::context::write(&ctx.policies) = Arc::new(reload.policies);
        let mut wanted: BTreeMap<(String, String), PoolPlan> =
            reload.pools.into_iter().map(|plan| ((plan.provider.clone(), plan.pool.clone()), plan)).collect();
        let current: Vec<(String, String)> = self.pools.keys().cloned().collect();
        for key in current {
            match wanted.remove(&key) {
                Some(plan) => {
                    if let Some(updates) = self.pools.get(&key) {
                        updates.send_if_modified(|old| {
                            let changed = old.as_ref() != Some(&plan);
                            *old = Some(plan);
                            changed
                        });
                    }
                }
                None => {
                    info!(provider = %key.0, pool = %key.1, "pool removed from the config; it stops taking requests");
                    if let Some(updates) = self.pools.remove(&key) {
                        updates.send_replace(None);
                    }
                }
            }
        }
        for (key, plan) in wanted {
            info!(provider = %key.0, pool = %key.1, "pool added by the config; it starts serving");
            self.start_pool(ctx, plan);
        }
        self.watch_providers(ctx);
        ctx.changed.raise();
    }
}

/// How the engine stopped.
enum Stop {
    /// `shutdown` completed: stop taking requests, give work in flight its grace.
    Requested,
    /// The session expired: open a new one.
    SessionLost,
}

/// Serves requests until `shutdown` completes, then stops taking requests, gives the work in
/// flight `shutdown_grace` to finish and removes the registrations. ZooKeeper outages, at start
/// or later, are waited out. An error is returned only for a ZooKeeper configuration that can
/// never work (no servers, an invalid chroot, unusable TLS material).
pub async fn run(setup: Setup, shutdown: impl Future<Output = ()>) -> Result<(), ZkError> {
    tokio::pin!(shutdown);
    let metrics = setup.metrics.clone();
    metrics.set_zookeeper_connected(false);
    let first = tokio::select! {
        client = crate::zk::connect_patiently(&setup.zookeeper) => client?,
        _ = &mut shutdown => {
            info!("shutdown before ZooKeeper was reached");
            return Ok(());
        }
    };
    info!(
        servers = %setup.zookeeper.servers.join(","),
        tls = setup.zookeeper.tls.is_some(),
        session_id = first.session_id().0,
        "connected to ZooKeeper"
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let ctx = Arc::new(Context {
        store: Store::new(first),
        cache: Default::default(),
        hostname: setup.hostname,
        metrics: setup.metrics,
        drivers: setup.drivers.into(),
        clouds: setup.clouds.into(),
        policies: Arc::new(setup.policies).into(),
        held: Default::default(),
        health: Default::default(),
        launching: Default::default(),
        changed: WakeUp::default(),
        nodes_changed: WakeUp::default(),
        stopping: stop_rx,
    });
    if let Some(slot) = &setup.store_slot {
        // The store follows every new session (`replace_session`): set once.
        let _ = slot.set(ctx.store.clone());
    }

    let mut workers = Workers { tasks: JoinSet::new(), pools: BTreeMap::new(), watched: Default::default() };
    send_max_servers(&metrics, &setup.pools);
    for plan in setup.pools {
        workers.start_pool(&ctx, plan);
    }
    workers.watch_providers(&ctx);
    workers.tasks.spawn(deleter::run(ctx.clone()));
    workers.tasks.spawn(cleanup::run(ctx.clone(), setup.cleanup_interval));
    workers.tasks.spawn(min_ready::run(ctx.clone()));
    let mut reloads = setup.reloads;

    let mut registration = None;
    loop {
        match serve_session(&ctx, &mut registration, &mut workers, &mut reloads, &mut shutdown).await {
            Stop::Requested => break,
            Stop::SessionLost => {
                metrics.set_zookeeper_connected(false);
                ctx.cache.invalidate();
                // Its ephemeral znode died with the session.
                registration.take();
                warn!("ZooKeeper session lost; opening a new one (work in flight goes on)");
                let client = tokio::select! {
                    client = crate::zk::connect_patiently(&setup.zookeeper) => client,
                    _ = &mut shutdown => break,
                };
                match client {
                    Ok(client) => {
                        info!(session_id = client.session_id().0, "new ZooKeeper session; registering again");
                        ctx.store.replace_session(client);
                        ctx.changed.raise();
                        ctx.nodes_changed.raise();
                    }
                    Err(error) => {
                        warn!(%error, "cannot open a new ZooKeeper session");
                        let _ = stop_tx.send(true);
                        workers.tasks.abort_all();
                        return Err(error);
                    }
                }
            }
        }
    }
    info!(grace_seconds = setup.shutdown_grace.as_secs_f64(), "stopping: no new requests; finishing work in flight");
    let _ = stop_tx.send(true);
    let tasks = &mut workers.tasks;
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(setup.shutdown_grace, drain).await.is_err() {
        warn!(
            in_flight = workers.tasks.len(),
            "work in flight did not finish within the grace; its locks end with the session and the next launcher's cleanup pass recovers it"
        );
        workers.tasks.abort_all();
    }
    if let Some(registration) = registration {
        let _ = registration.remove(&ctx.store.client()).await;
    }
    metrics.set_zookeeper_connected(false);
    Ok(())
}

/// Serves one session: registers the launcher (if this session has no registration yet),
/// starts the watches and turns their events into wake-ups until the session ends or
/// `shutdown` completes.
async fn serve_session(
    ctx: &Arc<Context>,
    registration: &mut Option<ComponentRegistration>,
    workers: &mut Workers,
    reloads: &mut Option<mpsc::Receiver<Reload>>,
    shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Stop {
    let client = ctx.store.client();
    let mut backoff = Backoff::new();
    let mut watcher = loop {
        let prepared = tokio::select! {
            prepared = prepare(ctx, &client, registration) => prepared,
            _ = shutdown.as_mut() => return Stop::Requested,
        };
        match prepared {
            Ok(watcher) => break watcher,
            Err(_) if client.state().is_terminated() => return Stop::SessionLost,
            Err(error) => {
                let delay = backoff.next_delay();
                warn!(%error, retry_in_seconds = delay.as_secs_f64(), "cannot set up the ZooKeeper session; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.as_mut() => return Stop::Requested,
                }
            }
        }
    };
    ctx.metrics.set_zookeeper_connected(true);
    loop {
        let reload = async {
            match reloads.as_mut() {
                Some(receiver) => receiver.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.as_mut() => return Stop::Requested,
            reload = reload => match reload {
                Some(reload) => workers.apply(ctx, reload),
                None => *reloads = None,
            },
            // The cache is brought up to date before the workers are woken, so a worker woken
            // by an event sees it.
            event = watcher.next() => match event {
                Ok(event @ (WatchEvent::Node { .. } | WatchEvent::NodeLock { .. })) => {
                    ctx.cache.apply(&ctx.store, &event).await;
                    ctx.nodes_changed.raise();
                    ctx.changed.raise();
                }
                Ok(WatchEvent::Disconnected) => {
                    ctx.metrics.set_zookeeper_connected(false);
                    // Events may be lost until the next resync (ZOOKEEPER-4698).
                    ctx.cache.invalidate();
                    warn!("ZooKeeper connection lost; waiting for the session to come back");
                }
                Ok(WatchEvent::Resync) => {
                    ctx.metrics.set_zookeeper_connected(true);
                    if let Err(error) = ctx.cache.rebuild(&ctx.store).await {
                        warn!(%error, "cannot read ZooKeeper into the cache; workers read ZooKeeper directly until the next resync");
                    }
                    ctx.changed.raise();
                    ctx.nodes_changed.raise();
                }
                Ok(event) => {
                    ctx.cache.apply(&ctx.store, &event).await;
                    ctx.changed.raise();
                }
                Err(error) => {
                    warn!(%error, "ZooKeeper watches ended");
                    return Stop::SessionLost;
                }
            },
        }
    }
}

/// The roots, the launcher component and the watches of a (new) session.
async fn prepare(
    ctx: &Context,
    client: &Client,
    registration: &mut Option<ComponentRegistration>,
) -> Result<Watcher, ZkError> {
    ctx.store.ensure_roots().await?;
    if registration.as_ref().is_none_or(|r| !r.is_on(client)) {
        let registered = ComponentRegistration::register(client, &LauncherComponent::running(&ctx.hostname)).await?;
        info!(component = %registered.path, "launcher registered");
        *registration = Some(registered);
    }
    Watcher::start(client).await
}
