//! Fixtures of the ZooKeeper protocol tests: a private chroot on the test ZooKeeper per test,
//! and the Python peers of `tests/peers/` (real Zuul, Nodepool and kazoo code) run with the
//! test venv's python.

#![allow(dead_code)]

use crate::common::{required_env, unique_name, zookeeper_options};
use kubepool::zk::{Client, NodeState, Store, Wait};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Runs `op` on `store`. If the store's session has expired (on this 2-core machine a loaded
/// test process can miss its pings past the session timeout), a new session in the same chroot
/// replaces it and `op` runs again, as the launcher does: a test helper must not be the part
/// that dies of a ZooKeeper hiccup.
pub async fn surviving<T, F, Fut>(store: &Store, op: F) -> Result<T, kubepool::zk::ZkError>
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = Result<T, kubepool::zk::ZkError>>,
{
    match op(store.clone()).await {
        Err(error) if store.client().state().is_terminated() => {
            let mut options = zookeeper_options(false);
            let chroot = store.client().path().to_string();
            options.chroot = (chroot != "/").then_some(chroot);
            eprintln!("test ZooKeeper session ended ({error}); opening a new one");
            store.replace_session(kubepool::zk::connect(&options).await?);
            op(store.clone()).await
        }
        result => result,
    }
}

/// How long any peer may take for one step.
const PEER_TIMEOUT: Duration = Duration::from_secs(60);

/// A chroot `/kubepool-test-<random>` of its own, so tests run in parallel with anybody's.
pub struct TestZk {
    pub chroot: String,
    pub client: Client,
    pub store: Store,
    cleaned: bool,
}

impl TestZk {
    pub async fn new() -> Self {
        let chroot = format!("/{}", unique_name("kubepool-test-zk"));
        let mut options = zookeeper_options(false);
        options.chroot = Some(chroot.clone());
        let client = kubepool::zk::connect(&options).await.expect("connect to the test ZooKeeper");
        Self { chroot, store: Store::new(client.clone()), client, cleaned: false }
    }

    /// How to open a session in this chroot (a launcher engine opens its own).
    pub fn options(&self) -> kubepool::zk::ConnectOptions {
        let mut options = zookeeper_options(false);
        options.chroot = Some(self.chroot.clone());
        options
    }

    /// Another session in the same chroot (e.g. to lose it on purpose).
    pub async fn second_session(&self) -> Client {
        kubepool::zk::connect(&self.options()).await.expect("connect to the test ZooKeeper")
    }

    /// kazoo's `hosts` for the plain port, with the chroot.
    pub fn hosts(&self) -> Vec<String> {
        vec!["--hosts".into(), format!("{}{}", required_env("KUBEPOOL_TEST_ZK"), self.chroot)]
    }

    /// kazoo's `hosts` for the TLS port with the client certificate (Nodepool insists on TLS).
    pub fn tls_hosts(&self) -> Vec<String> {
        vec![
            "--hosts".into(),
            format!("{}{}", required_env("KUBEPOOL_TEST_ZK_TLS"), self.chroot),
            "--tls-ca".into(),
            required_env("KUBEPOOL_TEST_ZK_CA"),
            "--tls-cert".into(),
            required_env("KUBEPOOL_TEST_ZK_CERT"),
            "--tls-key".into(),
            required_env("KUBEPOOL_TEST_ZK_KEY"),
        ]
    }

    /// Writes `dir/nodepool.yaml` pointing at this chroot on the test ZooKeeper's plain port, with
    /// no labels and no providers (what the CLI commands need); returns its path.
    pub fn write_nodepool_yaml(&self, dir: &std::path::Path) -> PathBuf {
        let server = required_env("KUBEPOOL_TEST_ZK");
        let (host, port) = server.rsplit_once(':').expect("KUBEPOOL_TEST_ZK is host:port");
        let path = dir.join("nodepool.yaml");
        let text = format!(
            "zookeeper-servers:\n  - host: {host}\n    port: {port}\n    chroot: {}\nlabels: []\nproviders: []\n",
            self.chroot
        );
        std::fs::write(&path, text).expect("write nodepool.yaml");
        path
    }

    /// Removes the chroot with everything in it.
    pub async fn cleanup(mut self) {
        self.cleaned = true;
        delete_chroot(&self.chroot).await.expect("delete the test chroot");
    }
}

async fn delete_chroot(chroot: &str) -> Result<(), kubepool::zk::ZkError> {
    let root = kubepool::zk::connect(&zookeeper_options(false)).await?;
    Store::new(root).delete_recursive(chroot).await
}

impl Drop for TestZk {
    /// A failed test does not reach `cleanup`: remove its chroot anyway (best effort).
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        let chroot = self.chroot.clone();
        let removed = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(delete_chroot(&chroot)).ok()
        })
        .join();
        if !matches!(removed, Ok(Some(()))) {
            eprintln!("could not remove the test chroot {}", self.chroot);
        }
    }
}

/// The test venv's python (`$KUBEPOOL_TEST_VENV`, default `~/.cache/kubepool/venv`).
pub fn python() -> PathBuf {
    let venv = std::env::var("KUBEPOOL_TEST_VENV")
        .ok()
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(required_env("HOME")).join(".cache/kubepool/venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} does not exist: create the test venv with tests/setup-python.sh or set KUBEPOOL_TEST_VENV",
        python.display()
    );
    python
}

fn command(script: &str, args: &[String]) -> Command {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers").join(script);
    let mut command = Command::new(python());
    command.arg(path).args(args).kill_on_drop(true);
    command
}

/// Runs a peer to completion and returns its last JSON line; a failing peer fails the test.
pub async fn run_peer(script: &str, args: &[String]) -> Value {
    let output = tokio::time::timeout(PEER_TIMEOUT, command(script, args).output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {PEER_TIMEOUT:?}"))
        .unwrap_or_else(|error| panic!("cannot run {script}: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} {args:?} failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().unwrap_or_else(|| panic!("{script} printed nothing"));
    serde_json::from_str(last).unwrap_or_else(|error| panic!("{script} printed {last:?}: {error}"))
}

/// Zuul's own `prepareKubeConfig` (peer `zuul_kubeconfig.py`) writes `kubeconfig` for nodes with
/// these `connection_port`s, as the executor does for one job; returns each node's context, in
/// order. The ports go to `<kubeconfig>.ports.json` beside it.
pub async fn zuul_kubeconfig(ports: &[&Value], kubeconfig: &std::path::Path) -> Vec<String> {
    let ports_file = kubeconfig.with_extension("ports.json");
    std::fs::write(&ports_file, serde_json::to_vec(ports).expect("json")).expect("write ports");
    let written =
        run_peer("zuul_kubeconfig.py", &[kubeconfig.display().to_string(), ports_file.display().to_string()]).await;
    let contexts: Vec<String> = written["contexts"]
        .as_array()
        .unwrap_or_else(|| panic!("no contexts: {written}"))
        .iter()
        .map(|c| c.as_str().expect("context").to_string())
        .collect();
    assert_eq!(contexts.len(), ports.len(), "one context per node: {written}");
    contexts
}

/// A peer that keeps running: read its JSON lines, tell it to go on with a line on stdin.
pub struct RunningPeer {
    script: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl RunningPeer {
    pub fn start(script: &str, args: &[String]) -> Self {
        let mut child = command(script, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {script}: {error}"));
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("peer stdout")).lines();
        Self { script: script.to_string(), child, stdin, stdout }
    }

    /// The next JSON line.
    pub async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(PEER_TIMEOUT, self.stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("{} printed nothing within {PEER_TIMEOUT:?}", self.script))
            .expect("read peer stdout")
            .unwrap_or_else(|| panic!("{} ended early", self.script));
        serde_json::from_str(&line).unwrap_or_else(|error| panic!("{} printed {line:?}: {error}", self.script))
    }

    /// Lets the peer go on.
    pub async fn proceed(&mut self) {
        let stdin = self.stdin.as_mut().expect("peer stdin");
        stdin.write_all(b"go\n").await.expect("write to peer");
        stdin.flush().await.expect("flush peer stdin");
    }

    /// Waits for the peer to exit successfully.
    pub async fn finish(mut self) {
        self.stdin.take();
        let status = tokio::time::timeout(PEER_TIMEOUT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not exit", self.script))
            .expect("wait for peer");
        assert!(status.success(), "{} failed: {status}", self.script);
    }
}

/// Waits until at least `count` of the requests `ids` are fulfilled, and counts node records
/// meanwhile. Returns the fulfilled `(id, request)` pairs and the most node records seen.
/// `context` is added to the failure message on timeout (e.g. a launcher log).
pub async fn await_fulfilled(
    store: &Store,
    ids: &[String],
    count: usize,
    timeout: Duration,
    context: impl Fn() -> String,
) -> (Vec<(String, kubepool::zk::NodeRequest)>, usize) {
    let deadline = std::time::Instant::now() + timeout;
    let mut most = 0;
    loop {
        most = most.max(store.node_ids().await.expect("node ids").len());
        let mut done = Vec::new();
        for id in ids {
            let request = store.get_request(id).await.expect("read request").expect("request exists").value;
            if request.state == kubepool::zk::RequestState::Fulfilled {
                done.push((id.clone(), request));
            }
        }
        if done.len() >= count {
            return (done, most);
        }
        assert!(std::time::Instant::now() < deadline, "{} of {count} fulfilled\n{}", done.len(), context());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What Zuul does when a job is over, in its order: it holds each node's lock, deletes the
/// requests, and marks each node `used` before unlocking it. Writing a node without its lock
/// races the launcher's deleter, which (under the lock) returns a ready node whose request is
/// gone to the pool and would overwrite `used`.
pub async fn zuul_returns(store: &Store, requests: &[String], nodes: &[String]) {
    let mut locks = Vec::new();
    for node_id in nodes {
        let lock = store.lock_node(node_id, Wait::Upto(Duration::from_secs(60))).await.expect("lock node");
        locks.push((node_id, lock.expect("the node is there")));
    }
    for id in requests {
        store.delete_request(id).await.expect("delete request");
    }
    for (node_id, lock) in locks {
        if let Some(mut node) = store.get_node(node_id).await.expect("read node") {
            node.value.set_state(NodeState::Used);
            store.update_node(&mut node).await.expect("mark used");
        }
        lock.release().await.expect("unlock node");
    }
}
