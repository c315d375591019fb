//! A launcher that keeps serving: the real `kubepool launcher` process against the real test-bed
//! cluster and a real ZooKeeper, with requests written by Zuul's own code, through the faults a
//! production site sees. Faults come from a TCP proxy in front of the real server or from
//! stopping the real process.
//!
//! In every scenario: the launcher process never exits (but where it is told to), every request
//! ends fulfilled (or cleanly failed where a provider is down), no node is handed to two
//! requests, and once Zuul returns the nodes, the cleanup leaves no namespace behind. Each
//! scenario prints the time from the end of its fault to the next request fulfilled.

mod common;
#[path = "support/launcher_process.rs"]
mod launcher_process;
#[path = "support/private_zookeeper.rs"]
mod private_zookeeper;
#[path = "support/tcp_cut_proxy.rs"]
mod tcp_cut_proxy;
mod zk_support;

use kubepool::zk::{NodeState, RequestState, Store};
use launcher_process::{LauncherProcess, start_with};
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tcp_cut_proxy::TcpCutProxy;
use zk_support::{TestZk, run_peer};

/// The launcher's ZooKeeper session timeout here (`zookeeper-timeout`): the smallest the test
/// bed's ZooKeeper grants (2 × its tickTime of 2 s), so that a stall of 2.5× it stays short.
const SESSION_TIMEOUT: Duration = Duration::from_secs(4);

/// How long any scenario may take to settle (the normal case is seconds).
const SETTLE: Duration = Duration::from_secs(240);

/// An image no node can pull: nothing listens on port 1 of the loopback.
const UNPULLABLE_IMAGE: &str = "127.0.0.1:1/kubepool/missing:1";

// ------------------------------------------------------------------------------------ the site

enum Kind {
    Namespace,
    Pod { image: String },
}

struct Label {
    name: String,
    kind: Kind,
    min_ready: u32,
}

struct Pool {
    name: String,
    labels: Vec<Label>,
}

struct Provider {
    name: String,
    context: String,
    pools: Vec<Pool>,
}

/// A nodepool.yaml: `zookeeper` is `host:port`, the chroot is the test's own.
fn nodepool_yaml(zookeeper: SocketAddr, chroot: &str, providers: &[Provider]) -> String {
    let mut yaml = format!(
        "zookeeper-servers:\n  - host: {host}\n    port: {port}\n    chroot: {chroot}\n\
         zookeeper-timeout: {timeout:.1}\nlabels:\n",
        host = zookeeper.ip(),
        port = zookeeper.port(),
        timeout = SESSION_TIMEOUT.as_secs_f64(),
    );
    for label in providers.iter().flat_map(|p| &p.pools).flat_map(|p| &p.labels) {
        yaml.push_str(&format!("  - name: {}\n    min-ready: {}\n", label.name, label.min_ready));
    }
    yaml.push_str("providers:\n");
    for provider in providers {
        yaml.push_str(&format!(
            "  - name: {}\n    driver: kubernetes\n    context: {}\n    pools:\n",
            provider.name, provider.context
        ));
        for pool in &provider.pools {
            yaml.push_str(&format!("      - name: {}\n        max-servers: 60\n        labels:\n", pool.name));
            for label in &pool.labels {
                match &label.kind {
                    Kind::Namespace => {
                        yaml.push_str(&format!("          - name: {}\n            type: namespace\n", label.name))
                    }
                    Kind::Pod { image } => yaml.push_str(&format!(
                        "          - name: {}\n            type: pod\n            image: {image}\n\
                         \x20           image-pull: IfNotPresent\n",
                        label.name
                    )),
                }
            }
        }
    }
    yaml
}

fn namespace_label(name: &str) -> Label {
    Label { name: name.to_string(), kind: Kind::Namespace, min_ready: 0 }
}

fn test_bed_context() -> String {
    let output = std::process::Command::new(common::kubectl())
        .args(["config", "current-context"])
        .output()
        .expect("kubectl config current-context");
    String::from_utf8(output.stdout).expect("utf-8").trim().to_string()
}

fn plain_zookeeper() -> SocketAddr {
    common::required_env("KUBEPOOL_TEST_ZK").parse().expect("KUBEPOOL_TEST_ZK is host:port")
}

/// One scenario's files: its nodepool.yaml and the launcher's log.
struct Files {
    dir: common::Scratch,
}

impl Files {
    fn new() -> Self {
        Self { dir: common::Scratch::new("kubepool-outage") }
    }
    fn config(&self) -> PathBuf {
        self.dir.0.join("nodepool.yaml")
    }
    fn log(&self) -> PathBuf {
        self.dir.0.join("launcher.log")
    }
    /// Writes the config as an editor would: a new file renamed over the old one.
    fn write_config(&self, yaml: &str) {
        let next = self.dir.0.join("nodepool.yaml.new");
        std::fs::write(&next, yaml).expect("write config");
        std::fs::rename(&next, self.config()).expect("replace config");
    }
    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }
    fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }
    fn launcher(&self, args: &[&str], env: &[(&str, &OsStr)]) -> LauncherProcess {
        start_with(&self.config(), &self.log(), args, env)
    }
}

// ------------------------------------------------------------------------------ Zuul's side

/// Submits `count` requests for `label` with Zuul's own code, as the scheduler does.
async fn zuul_submits(hosts: Vec<String>, label: &str, count: usize) -> Vec<String> {
    let submitted = run_peer(
        "zuul_submit_request.py",
        &[hosts, vec!["--label".into(), label.into(), "--count".into(), count.to_string()]].concat(),
    )
    .await;
    submitted["ids"].as_array().expect("ids").iter().map(|v| v.as_str().expect("id").to_string()).collect()
}

/// Reads the request's state; `None` while the test's own session is being replaced.
async fn request_state(store: &Store, id: &str) -> RequestState {
    let request = zk_support::surviving(store, |s| {
        let id = id.to_string();
        async move { s.get_request(&id).await }
    })
    .await
    .expect("read request");
    request.expect("a request is never lost").value.state
}

async fn states(store: &Store, ids: &[String]) -> HashMap<String, RequestState> {
    let mut states = HashMap::new();
    for id in ids {
        states.insert(id.clone(), request_state(store, id).await);
    }
    states
}

fn done(state: &RequestState) -> bool {
    matches!(state, RequestState::Fulfilled | RequestState::Failed)
}

/// Waits until one of `ids` not yet fulfilled when called becomes fulfilled; returns how long
/// that took (the time from the end of a fault to the next request fulfilled).
async fn next_fulfilled(store: &Store, ids: &[String], files: &Files) -> Duration {
    let start = Instant::now();
    let before = states(store, ids).await;
    let waiting: Vec<String> = ids.iter().filter(|id| before[*id] != RequestState::Fulfilled).cloned().collect();
    assert!(!waiting.is_empty(), "no request was left waiting at the end of the fault");
    loop {
        for id in &waiting {
            if request_state(store, id).await == RequestState::Fulfilled {
                return start.elapsed();
            }
        }
        assert!(start.elapsed() < SETTLE, "no request fulfilled after the fault\n{}", files.log_tail());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every request in `ids` has ended; returns the states.
async fn all_done(store: &Store, ids: &[String], files: &Files) -> HashMap<String, RequestState> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let states = states(store, ids).await;
        if states.values().all(done) {
            return states;
        }
        let open: Vec<_> = states.iter().filter(|(_, s)| !done(s)).collect();
        assert!(Instant::now() < deadline, "requests not finished: {open:?}\n{}", files.log_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// No node is handed to two requests; each fulfilled request's node is ready and names it.
/// Returns the nodes handed out.
async fn assert_one_owner_per_node(store: &Store, states: &HashMap<String, RequestState>) -> Vec<String> {
    let mut seen = HashSet::new();
    for (id, state) in states {
        if *state != RequestState::Fulfilled {
            continue;
        }
        let request = store.get_request(id).await.expect("read").expect("request").value;
        assert_eq!(request.nodes.len(), 1, "request {id}");
        for node_id in &request.nodes {
            assert!(seen.insert(node_id.clone()), "node {node_id} handed to two requests");
            let node = store.get_node(node_id).await.expect("read").expect("node of a fulfilled request").value;
            assert_eq!(node.allocated_to.as_deref(), Some(id.as_str()), "node {node_id}");
            assert_eq!(node.state, NodeState::Ready, "node {node_id}");
        }
    }
    seen.into_iter().collect()
}

/// Zuul returns every node; the launcher's deleter and one cleanup pass (3 s here) then leave
/// no node record and no namespace of the pools behind.
async fn assert_nothing_leaks(store: &Store, states: &HashMap<String, RequestState>, pools: &[&str], files: &Files) {
    let requests: Vec<String> = states.keys().cloned().collect();
    let nodes = assert_one_owner_per_node(store, states).await;
    zk_support::zuul_returns(store, &requests, &nodes).await;
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(common::admin_client().await);
    let deadline = Instant::now() + SETTLE;
    loop {
        let records = store.node_ids().await.expect("node ids");
        let mut live = Vec::new();
        for pool in pools {
            let selector = format!("nodepool_pool_name={pool}");
            let left = namespaces
                .list_metadata(&kube::api::ListParams::default().labels(&selector))
                .await
                .expect("list namespaces");
            live.extend(
                left.items
                    .into_iter()
                    .filter(|ns| ns.metadata.deletion_timestamp.is_none())
                    .filter_map(|ns| ns.metadata.name),
            );
        }
        if records.is_empty() && live.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "leaked: node records {records:?}, namespaces {live:?}\n{}",
            files.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn report(scenario: &str, figure: &str) {
    eprintln!("[outage figures] {scenario}: {figure}");
}

// -------------------------------------------------------------------------------- scenarios

/// 1. The launcher's ZooKeeper path is blackholed for 2.5× its session timeout in the middle of
///    a burst; Zuul's side is not cut and goes on submitting. The session expires; the launcher
///    opens a new one and finishes everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_path_blackholed_mid_burst() {
    let zk = TestZk::new().await;
    let files = Files::new();
    let proxy = TcpCutProxy::start(plain_zookeeper()).await;
    let pool = common::unique_name("kpo1");
    let label = common::unique_name("ns");
    let provider = Provider {
        name: common::unique_name("outage-zk-path"),
        context: test_bed_context(),
        pools: vec![Pool { name: pool.clone(), labels: vec![namespace_label(&label)] }],
    };
    files.write_config(&nodepool_yaml(proxy.addr, &zk.chroot, &[provider]));
    let mut launcher = files.launcher(&[], &[]);

    let mut ids = zuul_submits(zk.hosts(), &label, 20).await;
    zk_support::await_fulfilled(&zk.store, &ids, 2, SETTLE, || files.log_tail()).await;
    proxy.set_blackhole(true);
    let stall = SESSION_TIMEOUT.mul_f64(2.5);
    // Zuul goes on: more requests arrive while the launcher cannot see ZooKeeper.
    ids.extend(zuul_submits(zk.hosts(), &label, 10).await);
    tokio::time::sleep(stall).await;
    proxy.set_blackhole(false);
    let recovery = next_fulfilled(&zk.store, &ids, &files).await;
    report("1 ZooKeeper path blackholed 10 s", &format!("next request fulfilled {recovery:.2?} after the fault"));

    let states = all_done(&zk.store, &ids, &files).await;
    launcher.assert_running(&files.log());
    assert!(states.values().all(|s| *s == RequestState::Fulfilled), "{states:?}\n{}", files.log_tail());
    let log = files.log_text();
    assert!(log.contains("ZooKeeper session lost; opening a new one"), "{}", files.log_tail());
    assert!(log.contains("new ZooKeeper session; registering again"), "{}", files.log_tail());
    assert_nothing_leaks(&zk.store, &states, &[&pool], &files).await;
    launcher.assert_running(&files.log());
    drop(launcher);
    zk.cleanup().await;
}

/// 2. ZooKeeper itself is killed (`kill -9`) in the middle of a burst and started again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_killed_and_restarted_mid_burst() {
    let files = Files::new();
    let mut server = private_zookeeper::PrivateZookeeper::start(&files.dir.0.join("zookeeper"));
    let chroot = format!("/{}", common::unique_name("outage"));
    let options = kubepool::zk::ConnectOptions {
        servers: vec![server.addr.to_string()],
        chroot: Some(chroot.clone()),
        tls: None,
        session_timeout: Duration::from_secs(10),
    };
    let pool = common::unique_name("kpo2");
    let label = common::unique_name("ns");
    let provider = Provider {
        name: common::unique_name("outage-zk-restart"),
        context: test_bed_context(),
        pools: vec![Pool { name: pool.clone(), labels: vec![namespace_label(&label)] }],
    };
    files.write_config(&nodepool_yaml(server.addr, &chroot, &[provider]));
    let mut launcher = files.launcher(&[], &[]);
    let store = Store::new(kubepool::zk::connect(&options).await.expect("connect"));

    let mut ids = zuul_submits(server.hosts(&chroot), &label, 20).await;
    zk_support::await_fulfilled(&store, &ids, 2, SETTLE, || files.log_tail()).await;
    server.kill();
    tokio::time::sleep(SESSION_TIMEOUT * 2).await;
    server.restart();
    // The test's own session may have expired as well.
    let store = Store::new(kubepool::zk::connect(&options).await.expect("connect after the restart"));
    ids.extend(zuul_submits(server.hosts(&chroot), &label, 5).await);
    let recovery = next_fulfilled(&store, &ids, &files).await;
    report("2 ZooKeeper kill -9, 8 s down", &format!("next request fulfilled {recovery:.2?} after the restart"));

    let states = all_done(&store, &ids, &files).await;
    launcher.assert_running(&files.log());
    assert!(states.values().all(|s| *s == RequestState::Fulfilled), "{states:?}\n{}", files.log_tail());
    assert_nothing_leaks(&store, &states, &[&pool], &files).await;
    launcher.assert_running(&files.log());
}

/// 3. ZooKeeper is unreachable (nothing listens: connections refused) for the launcher's first
///    30 s; Zuul's requests wait in ZooKeeper meanwhile. Each failed attempt names its cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_unreachable_for_the_first_30_seconds() {
    let zk = TestZk::new().await;
    let files = Files::new();
    // A loopback port nothing listens on, until the proxy opens it after 30 s.
    let address = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr");
    let pool = common::unique_name("kpo3");
    let label = common::unique_name("ns");
    let provider = Provider {
        name: common::unique_name("outage-zk-start"),
        context: test_bed_context(),
        pools: vec![Pool { name: pool.clone(), labels: vec![namespace_label(&label)] }],
    };
    files.write_config(&nodepool_yaml(address, &zk.chroot, &[provider]));
    let mut launcher = files.launcher(&[], &[]);
    let ids = zuul_submits(zk.hosts(), &label, 10).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    launcher.assert_running(&files.log());
    let _proxy = TcpCutProxy::start_at(address, plain_zookeeper()).await;
    let recovery = next_fulfilled(&zk.store, &ids, &files).await;
    report("3 ZooKeeper unreachable 30 s at start", &format!("first request fulfilled {recovery:.2?} after"));

    let states = all_done(&zk.store, &ids, &files).await;
    assert!(states.values().all(|s| *s == RequestState::Fulfilled), "{states:?}");
    let log = files.log_text();
    let attempts = log.lines().filter(|l| l.contains("cannot reach ZooKeeper; retrying")).count();
    assert!(attempts >= 3, "the launcher kept trying ({attempts} attempts logged)\n{}", files.log_tail());
    assert!(
        log.lines().filter(|l| l.contains("cannot reach ZooKeeper; retrying")).all(|l| l.contains("refused")),
        "each attempt names its cause:\n{}",
        files.log_tail()
    );
    assert_nothing_leaks(&zk.store, &states, &[&pool], &files).await;
    launcher.assert_running(&files.log());
    drop(launcher);
    zk.cleanup().await;
}

/// A kubeconfig with the test bed's context and a second one, `through-proxy`, whose server is
/// `proxy` (a TCP proxy in front of the API server: its certificate names 127.0.0.1).
fn kubeconfig_with_proxy(proxy: SocketAddr, into: &Path) -> PathBuf {
    let mut config = kube::config::Kubeconfig::read_from(common::required_env("KUBECONFIG")).expect("read KUBECONFIG");
    let current = config.current_context.clone().expect("current context");
    let context = config.contexts.iter().find(|c| c.name == current).expect("context").clone();
    let mut context_body = context.context.clone().expect("context body");
    let cluster = config.clusters.iter().find(|c| c.name == context_body.cluster).expect("cluster").clone();
    let mut proxied = cluster.clone();
    proxied.name = "through-proxy".into();
    if let Some(body) = proxied.cluster.as_mut() {
        body.server = Some(format!("https://{proxy}"));
    }
    context_body.cluster = "through-proxy".into();
    config.clusters.push(proxied);
    let mut named = context.clone();
    named.name = "through-proxy".into();
    named.context = Some(context_body);
    config.contexts.push(named);
    let path = into.join("kubeconfig");
    std::fs::write(&path, serde_json::to_string(&config).expect("kubeconfig as JSON (YAML's subset)"))
        .expect("write kubeconfig");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

/// 4. Two providers; the API path of one is blackholed for 30 s. Only its pools pause; the
///    other keeps fulfilling throughout, and the paused one resumes by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_providers_api_blackholed_the_other_keeps_serving() {
    let zk = TestZk::new().await;
    let files = Files::new();
    let api: SocketAddr = {
        let config = kube::config::Kubeconfig::read_from(common::required_env("KUBECONFIG")).expect("kubeconfig");
        let server = config.clusters[0].cluster.as_ref().and_then(|c| c.server.clone()).expect("server");
        server.trim_start_matches("https://").parse().expect("API server host:port")
    };
    let proxy = TcpCutProxy::start(api).await;
    let kubeconfig = kubeconfig_with_proxy(proxy.addr, &files.dir.0);
    let (healthy_pool, cut_pool) = (common::unique_name("kpo4a"), common::unique_name("kpo4b"));
    let (healthy_label, cut_label) = (common::unique_name("ns-ok"), common::unique_name("ns-cut"));
    let providers = [
        Provider {
            name: common::unique_name("outage-healthy"),
            context: test_bed_context(),
            pools: vec![Pool { name: healthy_pool.clone(), labels: vec![namespace_label(&healthy_label)] }],
        },
        Provider {
            name: common::unique_name("outage-cut"),
            context: "through-proxy".into(),
            pools: vec![Pool { name: cut_pool.clone(), labels: vec![namespace_label(&cut_label)] }],
        },
    ];
    files.write_config(&nodepool_yaml(plain_zookeeper(), &zk.chroot, &providers));
    let mut launcher = files.launcher(&[], &[("KUBECONFIG", kubeconfig.as_os_str())]);

    // Normal latency: one request at a time to the healthy provider.
    let mut ids = Vec::new();
    let mut before = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let one = zuul_submits(zk.hosts(), &healthy_label, 1).await;
        zk_support::await_fulfilled(&zk.store, &one, 1, SETTLE, || files.log_tail()).await;
        before.push(start.elapsed());
        ids.extend(one);
    }
    proxy.set_blackhole(true);
    let fault = Instant::now();
    let cut_ids = zuul_submits(zk.hosts(), &cut_label, 3).await;
    let mut during = Vec::new();
    while fault.elapsed() < Duration::from_secs(25) {
        let start = Instant::now();
        let one = zuul_submits(zk.hosts(), &healthy_label, 1).await;
        zk_support::await_fulfilled(&zk.store, &one, 1, SETTLE, || files.log_tail()).await;
        during.push(start.elapsed());
        ids.extend(one);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    // The cut provider's pool says it is paused, in the log and in ZooKeeper, and takes no
    // request meanwhile (these arrive after the pause).
    log_shows(&files, "the pause", |log| log.contains("provider does not answer; pausing its pools")).await;
    let waiting = zuul_submits(zk.hosts(), &cut_label, 2).await;
    tokio::time::sleep(Duration::from_secs(30).saturating_sub(fault.elapsed())).await;
    let components = zk.store.list_pool_components().await.expect("pool components");
    let cut_component = components.iter().find(|c| c.value.name.as_deref() == Some(cut_pool.as_str()));
    assert!(cut_component.is_some_and(|c| c.value.paused), "the cut pool is registered as paused");
    for id in &waiting {
        assert_eq!(request_state(&zk.store, id).await, RequestState::Requested, "taken while paused: {id}");
    }
    proxy.set_blackhole(false);
    let recovery = next_fulfilled(&zk.store, &waiting, &files).await;
    report(
        "4 one provider's API blackholed 30 s",
        &format!(
            "other provider's request-to-fulfilled before {before:.2?}, during {during:.2?}; \
             a request that waited for the cut provider fulfilled {recovery:.2?} after the fault"
        ),
    );
    ids.extend(cut_ids);
    ids.extend(waiting);
    let states = all_done(&zk.store, &ids, &files).await;
    assert!(states.values().all(|s| *s == RequestState::Fulfilled), "{states:?}\n{}", files.log_tail());
    log_shows(&files, "the resumption", |log| log.contains("provider answers again; its pools resume")).await;
    assert_nothing_leaks(&zk.store, &states, &[&healthy_pool, &cut_pool], &files).await;
    launcher.assert_running(&files.log());
    drop(launcher);
    zk.cleanup().await;
}

/// Waits until `check` holds of the launcher's log.
async fn log_shows(files: &Files, what: &str, check: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check(&files.log_text()) {
        assert!(Instant::now() < deadline, "the log never showed {what}:\n{}", files.log_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// 5. nodepool.yaml edited in place: a new label is served; an invalid edit is rejected with
///    its errors while serving goes on; a removed pool stops serving and its ready nodes go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_edits_apply_while_serving() {
    let zk = TestZk::new().await;
    let files = Files::new();
    let context = test_bed_context();
    let (pool, spare_pool) = (common::unique_name("kpo5"), common::unique_name("kpo5s"));
    let (label, added, spare) =
        (common::unique_name("ns"), common::unique_name("ns-new"), common::unique_name("ns-sp"));
    let site = |labels: &[&str], with_spare: bool| {
        let mut providers = vec![Provider {
            name: "outage-reload".into(),
            context: context.clone(),
            pools: vec![Pool { name: pool.clone(), labels: labels.iter().map(|l| namespace_label(l)).collect() }],
        }];
        if with_spare {
            providers.push(Provider {
                name: "outage-reload-spare".into(),
                context: context.clone(),
                pools: vec![Pool {
                    name: spare_pool.clone(),
                    labels: vec![Label { name: spare.clone(), kind: Kind::Namespace, min_ready: 2 }],
                }],
            });
        }
        nodepool_yaml(plain_zookeeper(), &zk.chroot, &providers)
    };
    files.write_config(&site(&[&label], true));
    let mut launcher = files.launcher(&[], &[]);
    let mut ids = zuul_submits(zk.hosts(), &label, 5).await;
    zk_support::await_fulfilled(&zk.store, &ids, 5, SETTLE, || files.log_tail()).await;
    // The spare pool keeps two ready nodes (min-ready).
    let spare_nodes = wait_ready_nodes(&zk.store, &spare_pool, 2, &files).await;

    // A label added to the file is served: once the pool's component advertises it (what Zuul
    // and other launchers go by; a request for a label no launcher has yet is declined and
    // fails, with Nodepool too), a request for it is fulfilled.
    let edited = Instant::now();
    files.write_config(&site(&[&label, &added], true));
    let advertised = loop {
        let pools = zk.store.list_pool_components().await.expect("pool components");
        if pools.iter().any(|p| p.value.supported_labels.contains(&added)) {
            break edited.elapsed();
        }
        assert!(edited.elapsed() < SETTLE, "the new label is never advertised\n{}", files.log_tail());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let new = zuul_submits(zk.hosts(), &added, 1).await;
    zk_support::await_fulfilled(&zk.store, &new, 1, SETTLE, || files.log_tail()).await;
    report(
        "5 label added to nodepool.yaml",
        &format!(
            "advertised {advertised:.2?} after the edit, its first request fulfilled {:.2?} after it",
            edited.elapsed()
        ),
    );
    ids.extend(new);

    // An invalid edit: rejected with its errors (file, line, key), the old config serves on.
    let valid = site(&[&label, &added], true);
    files.write_config(&valid.replace("max-servers: 60", "max-servers: lots"));
    log_shows(&files, "the rejected reload", |log| {
        log.lines()
            .any(|l| l.contains("config reload rejected") && l.contains("nodepool.yaml:") && l.contains("max-servers"))
    })
    .await;
    let served = zuul_submits(zk.hosts(), &added, 2).await;
    zk_support::await_fulfilled(&zk.store, &served, 2, SETTLE, || files.log_tail()).await;
    ids.extend(served);

    // The spare pool removed: its ready nodes are deleted, its component unregistered.
    files.write_config(&site(&[&label, &added], false));
    let deadline = Instant::now() + SETTLE;
    loop {
        let mut left = Vec::new();
        for id in &spare_nodes {
            if zk.store.get_node(id).await.expect("read node").is_some() {
                left.push(id.clone());
            }
        }
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "ready nodes of the removed pool remain: {left:?}\n{}", files.log_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pools = zk.store.list_pool_components().await.expect("pool components");
    assert!(
        !pools.iter().any(|p| p.value.name.as_deref() == Some(spare_pool.as_str())),
        "the removed pool is still registered: {:?}",
        pools.iter().map(|p| &p.value.name).collect::<Vec<_>>()
    );
    let after = zuul_submits(zk.hosts(), &label, 2).await;
    ids.extend(after);

    let states = all_done(&zk.store, &ids, &files).await;
    assert!(states.values().all(|s| *s == RequestState::Fulfilled), "{states:?}\n{}", files.log_tail());
    assert_nothing_leaks(&zk.store, &states, &[&pool, &spare_pool], &files).await;
    launcher.assert_running(&files.log());
    drop(launcher);
    zk.cleanup().await;
}

/// Waits until `pool` has `count` ready, unallocated nodes; returns their ids.
async fn wait_ready_nodes(store: &Store, pool: &str, count: usize, files: &Files) -> Vec<String> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let mut ready = Vec::new();
        for node in store.list_nodes().await.expect("nodes") {
            if node.value.pool.as_deref() == Some(pool)
                && node.value.state == NodeState::Ready
                && node.value.allocated_to.is_none()
            {
                ready.push(node.id);
            }
        }
        if ready.len() >= count {
            return ready;
        }
        assert!(Instant::now() < deadline, "{} of {count} ready nodes in {pool}\n{}", ready.len(), files.log_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until a pod of `pool` waits for an image it cannot pull.
async fn wait_pod_stuck_pulling(pool: &str, files: &Files) {
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::all(common::admin_client().await);
    let selector = format!("nodepool_pool_name={pool}");
    let deadline = Instant::now() + SETTLE;
    loop {
        let list = pods.list(&kube::api::ListParams::default().labels(&selector)).await.expect("list pods");
        let stuck =
            list.items.iter().flat_map(|p| p.status.iter().flat_map(|s| s.container_statuses.iter().flatten())).any(
                |c| {
                    c.state
                        .as_ref()
                        .and_then(|s| s.waiting.as_ref())
                        .and_then(|w| w.reason.as_deref())
                        .is_some_and(|r| r == "ErrImagePull" || r == "ImagePullBackOff")
                },
            );
        if stuck {
            return;
        }
        assert!(Instant::now() < deadline, "no pod of {pool} got stuck pulling\n{}", files.log_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// 6. SIGTERM during a burst while one pod cannot pull its image: the launcher stops within its
///    grace period; a second launcher (with a pullable image) finishes the burst, leaking nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_burst_exits_within_the_grace_period() {
    let zk = TestZk::new().await;
    let files = Files::new();
    let pool = common::unique_name("kpo6");
    let (ns_label, pod_label) = (common::unique_name("ns"), common::unique_name("pod"));
    let site = |image: &str| {
        nodepool_yaml(
            plain_zookeeper(),
            &zk.chroot,
            &[Provider {
                name: "outage-sigterm".into(),
                context: test_bed_context(),
                pools: vec![Pool {
                    name: pool.clone(),
                    labels: vec![
                        namespace_label(&ns_label),
                        Label { name: pod_label.clone(), kind: Kind::Pod { image: image.into() }, min_ready: 0 },
                    ],
                }],
            }],
        )
    };
    files.write_config(&site(UNPULLABLE_IMAGE));
    const GRACE: Duration = Duration::from_secs(10);
    let grace = GRACE.as_secs().to_string();
    let mut launcher = files.launcher(&["--shutdown-grace", &grace], &[]);
    let mut ids = zuul_submits(zk.hosts(), &pod_label, 2).await;
    ids.extend(zuul_submits(zk.hosts(), &ns_label, 10).await);
    // Mid-burst: some namespace nodes are handed out, a pod is stuck pulling its image.
    zk_support::await_fulfilled(&zk.store, &ids, 3, SETTLE, || files.log_tail()).await;
    wait_pod_stuck_pulling(&pool, &files).await;
    launcher.signal("TERM");
    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = launcher.try_wait().expect("wait") {
            break status;
        }
        assert!(
            signalled.elapsed() < GRACE + Duration::from_secs(5),
            "still running {:.1?} after SIGTERM (grace {GRACE:?})\n{}",
            signalled.elapsed(),
            files.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let stopped = signalled.elapsed();
    assert!(status.success(), "a SIGTERM'd launcher exits 0 after its grace: {status}\n{}", files.log_tail());
    assert!(files.log_text().contains("stopping: no new requests"), "{}", files.log_tail());

    // The next launcher, with an image that can be pulled, finishes the burst.
    files.write_config(&site(&common::test_image()));
    let restarted = Instant::now();
    let mut second = files.launcher(&[], &[]);
    let _ = next_fulfilled(&zk.store, &ids, &files).await;
    report(
        "6 SIGTERM mid-burst (grace 10 s)",
        &format!(
            "exited {stopped:.2?} after SIGTERM; the next launcher fulfilled a request {:.2?} after its start",
            restarted.elapsed()
        ),
    );
    let states = all_done(&zk.store, &ids, &files).await;
    assert!(states.values().all(|s| *s == RequestState::Fulfilled), "{states:?}\n{}", files.log_tail());
    assert_nothing_leaks(&zk.store, &states, &[&pool], &files).await;
    second.assert_running(&files.log());
    drop(second);
    zk.cleanup().await;
}
