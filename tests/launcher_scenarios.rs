//! Launcher scenarios without a cluster: the real engine on the real ZooKeeper, with a scripted
//! fake driver in place of kubepool's Kubernetes drivers (tests/support/fake_driver.rs). Fast
//! and deterministic: quota, declines, retries, a request withdrawn mid-launch, ZooKeeper
//! unreachable at start, and sessions lost mid-launch — with and without another launcher
//! taking the work over meanwhile.
//!
//! Faults come from a TCP proxy between the launcher and the real ZooKeeper that cuts every
//! connection and refuses new ones (tests/support/tcp_cut_proxy.rs).

mod common;
#[path = "support/fake_driver.rs"]
mod fake_driver;
#[path = "support/tcp_cut_proxy.rs"]
mod tcp_cut_proxy;
mod zk_support;

use fake_driver::{FakeCloud, FakeDriver, Gate, Script, Step};
use kubepool::launcher::engine::{self, Setup};
use kubepool::launcher::plan::PoolPlan;
use kubepool::launcher::policies::Policies;
use kubepool::zk::paths::LAUNCHER_COMPONENT_ROOT;
use kubepool::zk::{ConnectOptions, NodeRequest, NodeState, RequestState, Store};
use kubepool_driver_api::{Driver, Limits, Resources};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tcp_cut_proxy::TcpCutProxy;
use zk_support::TestZk;

const PROVIDER: &str = "fake";
const LABEL: &str = "fake-label";
/// The smallest session timeout the test ZooKeeper grants (2 × tickTime of 2 s).
const SHORT_SESSION: Duration = Duration::from_secs(4);

struct FakeLauncher {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), kubepool::zk::ZkError>>,
    metrics: kubepool::metrics::Metrics,
}

struct Config {
    zookeeper: ConnectOptions,
    hostname: &'static str,
    pool: String,
    max_servers: i64,
    script: Script,
    cleanup_interval: Duration,
    shutdown_grace: Duration,
    /// More providers (one pool each, of the same name, serving `<provider>-label`), sharing the
    /// fake cloud.
    more_providers: Vec<&'static str>,
    /// Config reloads the test sends.
    reloads: Option<tokio::sync::mpsc::Receiver<engine::Reload>>,
    /// Where Nodepool's statsd metrics go, if anywhere.
    statsd: Option<std::net::SocketAddr>,
    policies: Policies,
}

impl Config {
    fn new(zk: &TestZk, script: Script) -> Self {
        Self {
            zookeeper: zk.options(),
            hostname: "fake-host-a",
            pool: common::unique_name("fakepool"),
            max_servers: 10,
            script,
            cleanup_interval: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(60),
            more_providers: Vec::new(),
            reloads: None,
            statsd: None,
            policies: Policies::default(),
        }
    }
}

impl FakeLauncher {
    fn start(config: Config, cloud: &Arc<FakeCloud>) -> Self {
        common::init_logging();
        let mut drivers = BTreeMap::new();
        let mut pools = Vec::new();
        let providers = std::iter::once((PROVIDER, LABEL.to_string(), config.script))
            .chain(config.more_providers.iter().map(|p| (*p, format!("{p}-label"), Script::default())));
        for (provider, label, script) in providers {
            let driver = FakeDriver::new(provider, cloud.clone(), BTreeMap::from([(label.clone(), script)]));
            drivers.insert(provider.to_string(), Arc::new(driver) as Arc<dyn Driver>);
            pools.push(plan(provider, &config.pool, &[&label], config.max_servers));
        }
        let mut metrics = kubepool::metrics::Metrics::new();
        if let Some(addr) = config.statsd {
            metrics = metrics.with_statsd(kubepool::statsd::Statsd::new(addr).expect("statsd client"));
        }
        let setup = Setup {
            zookeeper: config.zookeeper,
            hostname: config.hostname.into(),
            metrics: metrics.clone(),
            drivers,
            clouds: BTreeMap::new(),
            pools,
            cleanup_interval: config.cleanup_interval,
            policies: config.policies,
            shutdown_grace: config.shutdown_grace,
            reloads: config.reloads,
            store_slot: None,
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(engine::run(setup, async {
            let _ = rx.await;
        }));
        Self { stop: Some(tx), task, metrics }
    }

    fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Stops the engine; returns how long it took.
    async fn stop(mut self) -> Duration {
        let started = Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(120), self.task)
            .await
            .expect("launcher stops within 120 s")
            .expect("launcher task")
            .expect("launcher result");
        started.elapsed()
    }
}

fn plan(provider: &str, pool: &str, labels: &[&str], max_servers: i64) -> PoolPlan {
    let quota = Resources::new().with("instances", 1);
    PoolPlan {
        provider: provider.into(),
        pool: pool.into(),
        priority: 100,
        labels: labels.iter().map(|l| (l.to_string(), quota.clone())).collect(),
        limits: Limits::unlimited().with("instances", max_servers),
        node_attributes: None,
        launch_retries: 3,
        max_concurrency: None,
    }
}

async fn submit(store: &Store) -> String {
    submit_label(store, LABEL).await
}

async fn submit_label(store: &Store, label: &str) -> String {
    store.create_request("100", &NodeRequest::new(vec![label.into()]), false).await.expect("submit").id
}

async fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn settled(store: &Store, id: &str) -> NodeRequest {
    wait_for(&format!("request {id} settled"), Duration::from_secs(60), async || {
        let request = zk_support::surviving(store, |s| async move { s.get_request(id).await }).await.ok()??.value;
        matches!(request.state, RequestState::Fulfilled | RequestState::Failed).then_some(request)
    })
    .await
}

/// Returns the nodes as Zuul does and waits until the launcher removed them.
async fn return_nodes(store: &Store, requests: &[String], nodes: &[String]) {
    zk_support::zuul_returns(store, requests, nodes).await;
    wait_for("returned nodes deleted", Duration::from_secs(60), async || {
        let ids = store.node_ids().await.ok()?;
        nodes.iter().all(|n| !ids.contains(n)).then_some(())
    })
    .await;
}

async fn launcher_components(store: &Store) -> Vec<String> {
    store.children(LAUNCHER_COMPONENT_ROOT).await.expect("components")
}

#[tokio::test]
async fn requests_are_fulfilled_with_distinct_nodes_and_returned_nodes_deleted() {
    let zk = TestZk::new().await;
    let cloud = Arc::new(FakeCloud::default());
    let launcher = FakeLauncher::start(Config::new(&zk, Script::default()), &cloud);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(submit(&zk.store).await);
    }
    let mut nodes = Vec::new();
    for id in &ids {
        let request = settled(&zk.store, id).await;
        assert_eq!(request.state, RequestState::Fulfilled);
        let node = zk.store.get_node(&request.nodes[0]).await.expect("read").expect("node").value;
        assert_eq!((node.state, node.allocated_to.as_deref()), (NodeState::Ready, Some(id.as_str())));
        nodes.extend(request.nodes);
    }
    assert_eq!(nodes.iter().collect::<HashSet<_>>().len(), 3, "no node given to two requests");
    assert_eq!(cloud.live().len(), 3);
    assert!(launcher.metrics.ready().is_ok(), "ready while serving: {:?}", launcher.metrics.ready());
    return_nodes(&zk.store, &ids, &nodes).await;
    assert!(cloud.live().is_empty(), "resources left: {:?}", cloud.live());
    launcher.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn at_quota_the_pool_pauses_and_serves_the_rest_when_nodes_return() {
    let zk = TestZk::new().await;
    let cloud = Arc::new(FakeCloud::default());
    let launcher = FakeLauncher::start(Config { max_servers: 2, ..Config::new(&zk, Script::default()) }, &cloud);
    let ids = [submit(&zk.store).await, submit(&zk.store).await, submit(&zk.store).await];
    let first = settled(&zk.store, &ids[0]).await;
    let second = settled(&zk.store, &ids[1]).await;
    // The third waits: still requested, and the pool says it is paused.
    wait_for("pool paused", Duration::from_secs(30), async || {
        let pools = zk.store.list_pool_components().await.ok()?;
        pools.iter().any(|p| p.value.paused).then_some(())
    })
    .await;
    let third = zk.store.get_request(&ids[2]).await.expect("read").expect("request").value;
    assert_eq!(third.state, RequestState::Requested);
    assert_eq!(cloud.live().len(), 2, "max-servers 2");
    let metrics = launcher.metrics.encode();
    let paused = metrics.lines().find(|l| l.starts_with("kubepool_pool_paused{") && l.contains(r#"reason="quota""#));
    assert!(paused.is_some_and(|l| l.ends_with(" 1")), "the metric says why: {metrics}");
    return_nodes(&zk.store, &ids[..1], &first.nodes).await;
    let third = settled(&zk.store, &ids[2]).await;
    assert_eq!(third.state, RequestState::Fulfilled);
    return_nodes(&zk.store, &ids[1..], &[second.nodes, third.nodes].concat()).await;
    assert!(cloud.live().is_empty());
    launcher.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn a_cloud_quota_abort_hands_the_request_back_and_it_is_served_later() {
    let zk = TestZk::new().await;
    let cloud = Arc::new(FakeCloud::default());
    let launcher =
        FakeLauncher::start(Config::new(&zk, Script { first: vec![Step::Quota], ..Script::default() }), &cloud);
    let id = submit(&zk.store).await;
    let request = settled(&zk.store, &id).await;
    assert_eq!(request.state, RequestState::Fulfilled);
    assert!(request.declined_by.is_empty(), "an abort is not a decline: {:?}", request.declined_by);
    let launched = cloud.launched();
    assert_eq!(launched.len(), 2, "aborted once, then launched on a new node: {launched:?}");
    assert_ne!(launched[0], launched[1], "the aborted node is not reused");
    return_nodes(&zk.store, &[id], &request.nodes).await;
    wait_for("aborted node deleted", Duration::from_secs(30), async || {
        zk.store.node_ids().await.ok()?.is_empty().then_some(())
    })
    .await;
    assert!(cloud.live().is_empty());
    launcher.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn a_permanent_failure_declines_and_the_last_pool_fails_the_request() {
    let zk = TestZk::new().await;
    let cloud = Arc::new(FakeCloud::default());
    let launcher =
        FakeLauncher::start(Config::new(&zk, Script { first: vec![Step::Permanent], ..Script::default() }), &cloud);
    let id = submit(&zk.store).await;
    let request = settled(&zk.store, &id).await;
    assert_eq!(request.state, RequestState::Failed);
    assert_eq!(request.declined_by.len(), 1, "declined by our one pool: {:?}", request.declined_by);
    assert_eq!(cloud.launched().len(), 1, "a permanent error is not retried");
    wait_for("failed node deleted", Duration::from_secs(30), async || {
        zk.store.node_ids().await.ok()?.is_empty().then_some(())
    })
    .await;
    launcher.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn transient_failures_are_retried_on_the_same_node() {
    let zk = TestZk::new().await;
    let cloud = Arc::new(FakeCloud::default());
    let script = Script { first: vec![Step::Transient, Step::Transient], ..Script::default() };
    let launcher = FakeLauncher::start(Config::new(&zk, script), &cloud);
    let id = submit(&zk.store).await;
    let request = settled(&zk.store, &id).await;
    assert_eq!(request.state, RequestState::Fulfilled);
    let launched = cloud.launched();
    assert_eq!(launched.len(), 3, "two failures, then success (launch-retries 3)");
    assert!(launched.iter().all(|n| n == &request.nodes[0]), "retried on the same node: {launched:?}");
    return_nodes(&zk.store, &[id], &request.nodes).await;
    launcher.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn a_request_withdrawn_mid_launch_leaves_its_node_ready_in_the_pool() {
    let zk = TestZk::new().await;
    let cloud = Arc::new(FakeCloud::default());
    let gate = Gate::default();
    let launcher =
        FakeLauncher::start(Config::new(&zk, Script { gate: Some(gate.clone()), ..Script::default() }), &cloud);
    let id = submit(&zk.store).await;
    gate.until_waiting(1).await;
    zk.store.delete_request(&id).await.expect("withdraw");
    gate.open();
    let node = wait_for("node released to the pool", Duration::from_secs(30), async || {
        let nodes = zk.store.list_nodes().await.ok()?;
        let node = nodes.into_iter().next()?;
        (node.value.state == NodeState::Ready && node.value.allocated_to.is_none()).then_some(node)
    })
    .await;
    assert!(!zk.store.node_is_locked(&node.id).await.expect("lock state"), "unlocked for reuse");
    // Reused by the next request: no new launch.
    let next = submit(&zk.store).await;
    let request = settled(&zk.store, &next).await;
    assert_eq!(request.nodes, vec![node.id.clone()]);
    assert_eq!(cloud.launched().len(), 1);
    return_nodes(&zk.store, &[next], &request.nodes).await;
    launcher.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn zookeeper_unreachable_at_start_is_waited_out() {
    let zk = TestZk::new().await;
    let cloud = Arc::new(FakeCloud::default());
    let proxy = TcpCutProxy::start(zk_addr()).await;
    proxy.set_refusing(true);
    let mut config = Config::new(&zk, Script::default());
    config.zookeeper.servers = vec![proxy.addr.to_string()];
    let launcher = FakeLauncher::start(config, &cloud);
    let id = submit(&zk.store).await;
    wait_for("several refused attempts", Duration::from_secs(30), async || (proxy.refused() >= 3).then_some(())).await;
    assert!(launcher.is_running(), "the launcher waits for ZooKeeper");
    assert_eq!(launcher.metrics.ready(), Err("no ZooKeeper session".into()));
    proxy.set_refusing(false);
    let request = settled(&zk.store, &id).await;
    assert_eq!(request.state, RequestState::Fulfilled);
    return_nodes(&zk.store, &[id], &request.nodes).await;
    launcher.stop().await;
    zk.cleanup().await;
}

/// Cuts the launcher's ZooKeeper path until its session has expired on both sides.
async fn lose_session(proxy: &TcpCutProxy, launcher: &FakeLauncher, store: &Store, components_before: &[String]) {
    proxy.set_refusing(true);
    proxy.cut_all();
    // The server expires the session after its timeout: the launcher's component goes.
    wait_for("the launcher's session expired on the server", Duration::from_secs(30), async || {
        let now = launcher_components(store).await;
        components_before.iter().all(|c| !now.contains(c)).then_some(())
    })
    .await;
    assert!(launcher.is_running(), "the launcher survives the outage");
}

#[tokio::test]
async fn a_session_lost_mid_launch_keeps_the_launch_and_fulfils_the_request() {
    let zk = TestZk::new().await;
    let cloud = Arc::new(FakeCloud::default());
    let proxy = TcpCutProxy::start(zk_addr()).await;
    let gate = Gate::default();
    let mut config = Config::new(&zk, Script { gate: Some(gate.clone()), ..Script::default() });
    config.zookeeper.servers = vec![proxy.addr.to_string()];
    config.zookeeper.session_timeout = SHORT_SESSION;
    let launcher = FakeLauncher::start(config, &cloud);
    let id = submit(&zk.store).await;
    gate.until_waiting(1).await;
    let before = launcher_components(&zk.store).await;
    assert_eq!(before.len(), 1);
    lose_session(&proxy, &launcher, &zk.store, &before).await;
    // Keep the path cut past the client's own expiry (7/5 of the timeout), then restore it.
    tokio::time::sleep(SHORT_SESSION).await;
    proxy.set_refusing(false);
    let outage_end = Instant::now();
    wait_for("launcher registered on a new session", Duration::from_secs(60), async || {
        let now = launcher_components(&zk.store).await;
        (now.len() == 1 && now != before).then_some(())
    })
    .await;
    gate.open();
    let request = settled(&zk.store, &id).await;
    eprintln!("fulfilled {:.1} s after the outage ended", outage_end.elapsed().as_secs_f64());
    assert_eq!(request.state, RequestState::Fulfilled);
    assert_eq!(cloud.launched().len(), 1, "the launch in flight was kept, not redone");
    assert_eq!(cloud.live().len(), 1, "exactly the one node's resource");
    let node = zk.store.get_node(&request.nodes[0]).await.expect("read").expect("node").value;
    assert_eq!((node.state, node.allocated_to.as_deref()), (NodeState::Ready, Some(id.as_str())));
    assert!(launcher.is_running());
    return_nodes(&zk.store, &[id], &request.nodes).await;
    assert!(cloud.live().is_empty());
    launcher.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn work_taken_over_during_a_lost_session_is_never_owned_twice_and_nothing_leaks() {
    let zk = TestZk::new().await;
    let cloud = Arc::new(FakeCloud::default());
    let proxy = TcpCutProxy::start(zk_addr()).await;
    let gate = Gate::default();
    let mut config = Config::new(&zk, Script { gate: Some(gate.clone()), ..Script::default() });
    let pool = config.pool.clone();
    config.zookeeper.servers = vec![proxy.addr.to_string()];
    config.zookeeper.session_timeout = SHORT_SESSION;
    config.cleanup_interval = Duration::from_secs(2);
    let first = FakeLauncher::start(config, &cloud);
    let id = submit(&zk.store).await;
    gate.until_waiting(1).await;
    let first_node = zk.store.node_ids().await.expect("ids");
    let before = launcher_components(&zk.store).await;
    lose_session(&proxy, &first, &zk.store, &before).await;
    // Another launcher of the same pool (same cloud) recovers the lost request and serves it.
    let second = FakeLauncher::start(
        Config {
            hostname: "fake-host-b",
            pool,
            cleanup_interval: Duration::from_secs(2),
            ..Config::new(&zk, Script::default())
        },
        &cloud,
    );
    let request = settled(&zk.store, &id).await;
    assert_eq!(request.state, RequestState::Fulfilled);
    assert_ne!(request.nodes, first_node, "served with a new node of the second launcher");
    // The first launcher comes back and finishes its launch: the node is not its own any more.
    proxy.set_refusing(false);
    gate.open();
    wait_for("the first launcher's node and resource gone", Duration::from_secs(60), async || {
        let ids = zk.store.node_ids().await.ok()?;
        let live = cloud.live();
        (ids == request.nodes && live.len() == 1).then_some(())
    })
    .await;
    let node = zk.store.get_node(&request.nodes[0]).await.expect("read").expect("node").value;
    assert_eq!((node.state, node.allocated_to.as_deref()), (NodeState::Ready, Some(id.as_str())));
    assert_eq!(cloud.resource(&cloud.live()[0]).map(|r| r.node_id), Some(request.nodes[0].clone()));
    let again = zk.store.get_request(&id).await.expect("read").expect("request").value;
    assert_eq!(again.nodes, request.nodes, "the fulfilled request was not touched again");
    assert!(first.is_running() && second.is_running());
    return_nodes(&zk.store, &[id], &request.nodes).await;
    assert!(cloud.live().is_empty(), "leaked: {:?}", cloud.live());
    first.stop().await;
    second.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn shutdown_gives_work_in_flight_its_grace_and_no_more() {
    let zk = TestZk::new().await;
    let cloud = Arc::new(FakeCloud::default());
    let gate = Gate::default();
    let mut config = Config::new(&zk, Script { gate: Some(gate.clone()), ..Script::default() });
    config.shutdown_grace = Duration::from_secs(2);
    let launcher = FakeLauncher::start(config, &cloud);
    submit(&zk.store).await;
    gate.until_waiting(1).await;
    let took = launcher.stop().await;
    // The gate never opens: only the grace ends the launch.
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(30), "stopped after {took:?}");
    zk.cleanup().await;
}

#[tokio::test]
async fn a_provider_that_does_not_answer_pauses_only_its_own_pools() {
    let zk = TestZk::new().await;
    let cloud = Arc::new(FakeCloud::default());
    let launcher =
        FakeLauncher::start(Config { more_providers: vec!["down"], ..Config::new(&zk, Script::default()) }, &cloud);
    wait_for("both pools serving", Duration::from_secs(30), async || {
        launcher.metrics.encode().contains(r#"kubepool_pool_serving{provider="down""#).then_some(())
    })
    .await;
    cloud.set_down("down", true);
    wait_for("the provider's pool paused in ZooKeeper", Duration::from_secs(30), async || {
        let pools = zk.store.list_pool_components().await.ok()?;
        pools.iter().any(|p| p.value.provider_name.as_deref() == Some("down") && p.value.paused).then_some(())
    })
    .await;
    let metrics = launcher.metrics.encode();
    let serving = metrics.lines().find(|l| l.starts_with(r#"kubepool_pool_serving{provider="down","#));
    assert!(serving.is_some_and(|l| l.ends_with(" 0")), "{metrics}");
    assert!(metrics.contains(r#"kubepool_provider_connected{provider="down"} 0"#), "{metrics}");
    // The metric says why.
    let paused = metrics.lines().find(|l| {
        l.starts_with(r#"kubepool_pool_paused{provider="down","#) && l.contains(r#"reason="provider-unreachable""#)
    });
    assert!(paused.is_some_and(|l| l.ends_with(" 1")), "{metrics}");
    assert!(launcher.metrics.ready().is_ok(), "still ready: the other provider serves");
    // The other provider serves as usual; the paused one's request waits (not declined).
    let waiting = submit_label(&zk.store, "down-label").await;
    let served = submit(&zk.store).await;
    let request = settled(&zk.store, &served).await;
    assert_eq!(request.state, RequestState::Fulfilled);
    let still = zk.store.get_request(&waiting).await.expect("read").expect("request").value;
    assert_eq!((still.state, still.declined_by.len()), (RequestState::Requested, 0));
    cloud.set_down("down", false);
    let resumed = settled(&zk.store, &waiting).await;
    assert_eq!(resumed.state, RequestState::Fulfilled);
    assert!(launcher.is_running());
    return_nodes(&zk.store, &[served, waiting], &[request.nodes, resumed.nodes].concat()).await;
    launcher.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn a_reload_adds_labels_and_pools_and_a_removed_pool_deletes_its_ready_nodes() {
    let zk = TestZk::new().await;
    let cloud = Arc::new(FakeCloud::default());
    let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(1);
    let config = Config { reloads: Some(reload_rx), ..Config::new(&zk, Script::default()) };
    let (main_pool, extra_pool) = (config.pool.clone(), common::unique_name("extra"));
    let launcher = FakeLauncher::start(config, &cloud);
    let driver = || Arc::new(FakeDriver::new(PROVIDER, cloud.clone(), BTreeMap::new())) as Arc<dyn Driver>;
    let reload = |pools: Vec<PoolPlan>| engine::Reload {
        drivers: BTreeMap::from([(PROVIDER.to_string(), driver())]),
        clouds: BTreeMap::new(),
        pools,
        policies: Default::default(),
    };
    // A label added to the pool, and a new pool.
    let grown = vec![
        plan(PROVIDER, &main_pool, &[LABEL, "added-label"], 10),
        plan(PROVIDER, &extra_pool, &["extra-label"], 10),
    ];
    reload_tx.send(reload(grown)).await.expect("send reload");
    // Applied once the pool components in ZooKeeper say so (what Zuul and other launchers see).
    wait_for("the reload applied", Duration::from_secs(30), async || {
        let pools = zk.store.list_pool_components().await.ok()?;
        let labels: HashSet<&String> = pools.iter().flat_map(|p| &p.value.supported_labels).collect();
        (labels.iter().any(|l| *l == "added-label") && labels.iter().any(|l| *l == "extra-label")).then_some(())
    })
    .await;
    let added = submit_label(&zk.store, "added-label").await;
    let extra = submit_label(&zk.store, "extra-label").await;
    let added_request = settled(&zk.store, &added).await;
    let extra_request = settled(&zk.store, &extra).await;
    assert_eq!((added_request.state, extra_request.state), (RequestState::Fulfilled, RequestState::Fulfilled));
    let extra_node = extra_request.nodes[0].clone();
    // Zuul is done with the extra request without using its node: it goes back to the pool ready.
    zk.store.delete_request(&extra).await.expect("delete");
    wait_for("extra node back in its pool", Duration::from_secs(30), async || {
        let node = zk.store.get_node(&extra_node).await.ok()??.value;
        (node.state == NodeState::Ready && node.allocated_to.is_none()).then_some(())
    })
    .await;
    // The extra pool leaves the config: it unregisters and its ready node is deleted.
    reload_tx.send(reload(vec![plan(PROVIDER, &main_pool, &[LABEL, "added-label"], 10)])).await.expect("send reload");
    wait_for("the removed pool's ready node deleted", Duration::from_secs(30), async || {
        let ids = zk.store.node_ids().await.ok()?;
        (!ids.contains(&extra_node)).then_some(())
    })
    .await;
    let pools = zk.store.list_pool_components().await.expect("pools");
    assert!(pools.iter().all(|p| p.value.name.as_deref() != Some(extra_pool.as_str())), "extra pool unregistered");
    assert_eq!(cloud.live().len(), 1, "only the added label's node is left: {:?}", cloud.live());
    let refused = submit_label(&zk.store, "extra-label").await;
    assert_eq!(
        settled(&zk.store, &refused).await.state,
        RequestState::Failed,
        "nobody serves the removed pool's label"
    );
    assert!(launcher.is_running());
    return_nodes(&zk.store, &[added], &added_request.nodes).await;
    launcher.stop().await;
    zk.cleanup().await;
}

fn zk_addr() -> std::net::SocketAddr {
    common::required_env("KUBEPOOL_TEST_ZK").parse().expect("KUBEPOOL_TEST_ZK is host:port")
}

/// Every statsd line a UDP listener receives, from a thread of its own.
fn statsd_listener() -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind statsd listener");
    let addr = socket.local_addr().expect("address");
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let received = lines.clone();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok((n, _)) = socket.recv_from(&mut buffer) {
            let datagram = String::from_utf8_lossy(&buffer[..n]).into_owned();
            assert!(n <= 512, "a datagram of {n} bytes");
            if let Ok(mut lines) = received.lock() {
                lines.extend(datagram.lines().map(str::to_string));
            }
        }
    });
    (addr, lines)
}

#[tokio::test]
async fn statsd_gets_nodepools_metric_names() {
    let zk = TestZk::new().await;
    let cloud = Arc::new(FakeCloud::default());
    let (addr, lines) = statsd_listener();
    // A tenant with limits, and a resource no node record knows (left by a launcher that died).
    let tenant_limits = BTreeMap::from([("example.org:main".to_string(), Limits::unlimited().with("instances", 5))]);
    let leak = common::unique_name("leaked");
    cloud.plant(PROVIDER, &leak, "0099999999");
    let config = Config {
        statsd: Some(addr),
        cleanup_interval: Duration::from_millis(500),
        policies: Policies { tenant_limits, ..Policies::default() },
        ..Config::new(&zk, Script { first: vec![Step::Quota], ..Script::default() })
    };
    let pool = config.pool.clone();
    let launcher = FakeLauncher::start(config, &cloud);
    let mut request = NodeRequest::new(vec![LABEL.into()]);
    request.requestor = Some("zuul.example.com:1".into());
    let id = zk.store.create_request("100", &request, false).await.expect("submit").id;
    let served = settled(&zk.store, &id).await;
    assert_eq!(served.state, RequestState::Fulfilled);
    let seen = |line: &str| lines.lock().map(|l| l.iter().any(|seen| seen == line)).unwrap_or(false);
    let seen_prefix =
        |prefix: &str| lines.lock().map(|l| l.iter().any(|seen| seen.starts_with(prefix))).unwrap_or(false);
    wait_for("statsd metrics", Duration::from_secs(30), async || {
        (seen("nodepool.launch.ready:1|c")
            && seen(&format!("nodepool.provider.{PROVIDER}.leaked.nodes:1|c"))
            && seen(&format!("nodepool.provider.{PROVIDER}.nodes.ready:1|g"))
            && seen(&format!("nodepool.label.{LABEL}.nodes.ready:1|g")))
        .then_some(())
    })
    .await;
    for line in [
        "nodepool.launch.error.quota:1|c",
        &format!("nodepool.launch.provider.{PROVIDER}.ready:1|c"),
        &format!("nodepool.launch.provider.{PROVIDER}.error.quota:1|c"),
        "nodepool.launch.requestor.zuul_example_com_1.ready:1|c",
        "nodepool.nodes.ready:1|g",
        "nodepool.nodes.hold:0|g",
        &format!("nodepool.provider.{PROVIDER}.max_servers:10|g"),
        &format!("nodepool.label.{LABEL}.nodes.in-use:0|g"),
        "nodepool.tenant_limits.example_org_main.instances:5|g",
        "nodepool.tenant_limits.example_org_main.cores:inf|g",
        "nodepool.tenant_limits.example_org_main.ram:inf|g",
    ] {
        assert!(seen(line), "{line} not among {:#?}", lines.lock().map(|l| l.clone()).unwrap_or_default());
    }
    for prefix in ["nodepool.launch.ready:", &format!("nodepool.provider.{PROVIDER}.pool.{pool}.addressable_requests:")]
    {
        assert!(seen_prefix(prefix), "{prefix} not among {:#?}", lines.lock().map(|l| l.clone()).unwrap_or_default());
    }
    assert!(
        lines
            .lock()
            .map(|l| l.iter().any(|x| x.starts_with("nodepool.launch.ready:") && x.ends_with("|ms")))
            .unwrap_or(false),
        "a launch timer in milliseconds"
    );
    assert!(!cloud.live().contains(&leak), "the leaked resource was deleted");
    return_nodes(&zk.store, &[id], &served.nodes).await;
    launcher.stop().await;
    zk.cleanup().await;
}
