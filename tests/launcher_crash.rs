//! Crash safety of the real `kubepool launcher` process: killed with SIGKILL at random moments
//! while a burst of 50 requests from Zuul's own code is served, then restarted. Every request
//! ends fulfilled (or cleanly failed), no node is allocated to two requests, and once the
//! nodes are returned the cleanup leaves no namespace without a node.

mod common;
#[path = "support/launcher_process.rs"]
mod launcher_process;
mod zk_support;

use launcher_process::start;

use kubepool::zk::{NodeState, RequestState};
use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::{Duration, Instant};
use zk_support::{TestZk, run_peer};

const REQUESTS: usize = 50;
const PROVIDER: &str = "kubepool-crash";

fn write_config(zk: &TestZk, dir: &std::path::Path, pool: &str) -> std::path::PathBuf {
    write_config_with(zk, dir, pool, 60)
}

fn write_config_with(zk: &TestZk, dir: &std::path::Path, pool: &str, max_servers: usize) -> std::path::PathBuf {
    let server = common::required_env("KUBEPOOL_TEST_ZK_TLS");
    let (host, port) = server.rsplit_once(':').expect("host:port");
    let path = dir.join("nodepool.yaml");
    let context = String::from_utf8(
        Command::new(common::kubectl()).args(["config", "current-context"]).output().expect("kubectl").stdout,
    )
    .expect("utf-8");
    std::fs::write(
        &path,
        format!(
            "zookeeper-servers:\n  - host: {host}\n    port: {port}\n    chroot: {chroot}\n\
             zookeeper-tls:\n  ca: {ca}\n  cert: {cert}\n  key: {key}\n\
             labels:\n  - name: k8s-namespace\n\
             providers:\n  - name: {PROVIDER}\n    driver: kubernetes\n    context: {context}\n\
             \x20   pools:\n      - name: {pool}\n        max-servers: {max_servers}\n        labels:\n\
             \x20         - name: k8s-namespace\n            type: namespace\n",
            chroot = zk.chroot,
            ca = common::required_env("KUBEPOOL_TEST_ZK_CA"),
            cert = common::required_env("KUBEPOOL_TEST_ZK_CERT"),
            key = common::required_env("KUBEPOOL_TEST_ZK_KEY"),
            context = context.trim(),
        ),
    )
    .expect("write config");
    path
}

#[tokio::test]
async fn sigkill_at_random_moments_loses_no_request_and_double_allocates_no_node() {
    let zk = TestZk::new().await;
    let dir = std::env::temp_dir().join(common::unique_name("kubepool-crash"));
    std::fs::create_dir_all(&dir).expect("dir");
    let pool = common::unique_name("kpc");
    let config = write_config(&zk, &dir, &pool);
    let log = dir.join("launcher.log");

    let mut launcher = start(&config, &log);
    let submitted = run_peer(
        "zuul_submit_request.py",
        &[zk.hosts(), vec!["--label".into(), "k8s-namespace".into(), "--count".into(), REQUESTS.to_string()]].concat(),
    )
    .await;
    let ids: Vec<String> =
        submitted["ids"].as_array().expect("ids").iter().map(|v| v.as_str().expect("id").to_string()).collect();
    assert_eq!(ids.len(), REQUESTS);

    // Kill it at random moments while it works, restarting it each time.
    let mut kills = 0;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(300 + rand::random::<u64>() % 2500)).await;
        launcher.kill().expect("SIGKILL");
        launcher.wait().expect("reap");
        kills += 1;
        launcher = start(&config, &log);
    }

    // Every request ends; the ZooKeeper session of a killed launcher expires after its timeout
    // (10 s), which frees its locks for the next one.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut states: HashMap<String, RequestState>;
    loop {
        states = HashMap::new();
        for id in &ids {
            let request = zk.store.get_request(id).await.expect("read").expect("request never lost");
            states.insert(id.clone(), request.value.state);
        }
        if states.values().all(|s| matches!(s, RequestState::Fulfilled | RequestState::Failed)) {
            break;
        }
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(Instant::now() < deadline, "requests not finished: {states:?}\n{}", tail(&log_text));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let fulfilled: Vec<&String> = ids.iter().filter(|id| states[*id] == RequestState::Fulfilled).collect();
    assert_eq!(fulfilled.len(), REQUESTS, "every request fulfilled after {kills} kills: {states:?}");

    // No node is given to two requests, and each node belongs to the request that lists it.
    let mut seen = HashSet::new();
    for id in &fulfilled {
        let request = zk.store.get_request(id).await.expect("read").expect("request").value;
        assert_eq!(request.nodes.len(), 1);
        for node_id in &request.nodes {
            assert!(seen.insert(node_id.clone()), "node {node_id} handed to two requests");
            let node = zk.store.get_node(node_id).await.expect("read").expect("node").value;
            assert_eq!(node.allocated_to.as_deref(), Some(id.as_str()));
            assert_eq!(node.state, NodeState::Ready);
        }
    }

    // Zuul is done with them.
    let nodes: Vec<String> = seen.iter().cloned().collect();
    zk_support::zuul_returns(&zk.store, &ids, &nodes).await;
    // The deleter removes every node; the cleanup removes any namespace whose node is gone.
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(common::admin_client().await);
    let selector = format!("nodepool_pool_name={pool}");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let nodes = zk.store.node_ids().await.expect("ids");
        let left = namespaces.list_metadata(&kube::api::ListParams::default().labels(&selector)).await.expect("list");
        let live: Vec<_> = left.items.iter().filter(|ns| ns.metadata.deletion_timestamp.is_none()).collect();
        if nodes.is_empty() && live.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left: {} node records, namespaces {:?}",
            nodes.len(),
            live.iter().map(|n| n.metadata.name.clone()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    launcher.kill().expect("stop");
    launcher.wait().expect("reap");
    let _ = std::fs::remove_dir_all(&dir);
    zk.cleanup().await;
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[tokio::test]
async fn two_launcher_processes_with_one_config_share_the_stream_and_the_quota() {
    let zk = TestZk::new().await;
    let dir = std::env::temp_dir().join(common::unique_name("kubepool-two"));
    std::fs::create_dir_all(&dir).expect("dir");
    let pool = common::unique_name("kpt");
    let config = write_config_with(&zk, &dir, &pool, 12);
    let log = dir.join("launchers.log");
    let mut first = start(&config, &log);
    let mut second = start(&config, &log);
    let submitted = run_peer(
        "zuul_submit_request.py",
        &[zk.hosts(), vec!["--label".into(), "k8s-namespace".into(), "--count".into(), "20".into()]].concat(),
    )
    .await;
    let ids: Vec<String> =
        submitted["ids"].as_array().expect("ids").iter().map(|v| v.as_str().expect("id").to_string()).collect();

    // Twelve fit max-servers; the pool never holds more, whichever process made them.
    let (fulfilled, mut most) = zk_support::await_fulfilled(&zk.store, &ids, 12, Duration::from_secs(120), || {
        tail(&std::fs::read_to_string(&log).unwrap_or_default())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    most = most.max(zk.store.node_ids().await.expect("ids").len());
    assert!(most <= 12, "{most} nodes with max-servers 12");
    let mut launchers = HashSet::new();
    let mut seen = HashSet::new();
    for (id, request) in &fulfilled {
        for node_id in &request.nodes {
            assert!(seen.insert(node_id.clone()), "node {node_id} handed to two requests");
            let node = zk.store.get_node(node_id).await.expect("read").expect("node").value;
            assert_eq!(node.allocated_to.as_deref(), Some(id.as_str()));
            launchers.insert(node.launcher.unwrap_or_default());
        }
    }
    let waiting = ids.len() - fulfilled.len();
    assert_eq!(waiting, 8, "the others wait for quota");
    // Return the served nodes: the waiting requests are then served too.
    for (id, request) in &fulfilled {
        zk_support::zuul_returns(&zk.store, std::slice::from_ref(id), &request.nodes).await;
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    for id in &ids[..] {
        if fulfilled.iter().any(|(f, _)| f == id) {
            continue;
        }
        loop {
            let request = zk.store.get_request(id).await.expect("read").expect("request").value;
            if request.state == RequestState::Fulfilled {
                break;
            }
            assert!(Instant::now() < deadline, "{id} is {:?}", request.state);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // SIGTERM: both stop cleanly.
    for child in [&first, &second] {
        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill").success());
    }
    for child in [&mut first, &mut second] {
        let status = child.wait().expect("wait");
        assert!(status.success(), "launcher exit {status}");
    }
    eprintln!("pool workers that made nodes: {launchers:?}");
    common::delete_pool_namespaces(&pool).await;
    let _ = std::fs::remove_dir_all(&dir);
    zk.cleanup().await;
}
