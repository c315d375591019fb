//! Console log streaming from a pod through kubepool's forwarder, against the real test cluster
//! and the real `zuul_console` daemon (the module file of the `zuul` package, run with python3
//! in a pod of the test image). The test client speaks zuul_console's protocol (reference
//! §6.5): `v:0` → version, `s:<log id>` → the log from its start, followed.
//!
//! * the log arrives complete and in order through `kubepool executor prepare --forward`, a
//!   pod that is deleted is reported once, and SIGTERM ends the command;
//! * an API connection cut mid-stream (by a TCP proxy between kubepool and the API server) is
//!   re-established with backoff on the same local port, and the `s:` stream resumes with no
//!   line lost;
//! * Zuul's own `KubeFwd` accepts `kubepool port-forward` in place of `kubectl port-forward`.
//!
//! Every test works in its own `exec-…` namespace, deleted at the end even on failure.

mod common;
#[path = "support/tcp_cut_proxy.rs"]
mod tcp_cut_proxy;
mod zk_support;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kubepool::drivers::spec::{DriverKind, LabelKind, PoolSpec, Timeouts};
use kubepool_driver_api::{NoProgress, NodeSpec, RequestAttributes};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const LOG_ID: &str = "c0ffee00-0000-4000-8000-000000000001-1-node";
const EXIT_LINE: &str = "[Zuul] Task exit code: 0";

use common::NamespaceGuard;

/// A namespace node launched by kubepool's own driver (service account `zuul-worker` with its
/// token), and a pod in it running zuul_console and a writer of one console log.
struct Fixture {
    _guard: NamespaceGuard,
    namespace: String,
    pod: String,
    /// The node's credentials dict (§5), as the launcher stores it.
    connection_port: Value,
    dir: PathBuf,
}

/// The real zuul_console module file from the test venv's `zuul` package.
fn zuul_console_source() -> String {
    let output = std::process::Command::new(zk_support::python())
        .args(["-c", "import importlib.util as u; print(u.find_spec('zuul.ansible.base.library.zuul_console').origin)"])
        .output()
        .expect("run python");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// Runs the module's own `Server` (its `test()` entry point) without Ansible: the module only
/// needs `ansible.module_utils.basic` to import, and `main()` is not called.
const BOOT: &str = r#"
import importlib.util, sys, types
for name in ("ansible", "ansible.module_utils", "ansible.module_utils.basic"):
    sys.modules[name] = types.ModuleType(name)
sys.modules["ansible.module_utils.basic"].AnsibleModule = object
spec = importlib.util.spec_from_file_location("zuul_console", "/zuul/zuul_console.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.test()
"#;

/// Appends `lines` numbered lines to the console log in batches of `batch`, pausing `pause`
/// seconds between batches, then Zuul's exit code line; every line is about 100 bytes.
fn writer_script(lines: usize, batch: usize, pause: &str) -> String {
    format!(
        r#"python3 /zuul/boot.py &
f=/tmp/console-{LOG_ID}.log
i=0
while [ $i -lt {lines} ]; do
  end=$((i+{batch}))
  seq $((i+1)) $end | sed "s/^/$(date +%T.%N) | line /; s/$/ {pad}/" >> $f
  i=$end
  sleep {pause}
done
echo "$(date +%T.%N) | {EXIT_LINE}" >> $f
exec sleep 100000
"#,
        pad = "x".repeat(64)
    )
}

impl Drop for Fixture {
    /// The directory holds a kubeconfig with the node's token.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Fixture {
    async fn start(lines: usize, batch: usize, pause: &str) -> Fixture {
        common::init_logging();
        let pool_name = common::unique_name("exec");
        let cluster = kubepool::k8s::connect(None).await.expect("connect");
        let pool = PoolSpec {
            name: pool_name.clone(),
            labels: vec![common::label_spec("k8s-namespace", LabelKind::Namespace)],
        };
        let driver = common::nodepool_driver(
            DriverKind::Kubernetes,
            "kubepool-test",
            vec![pool],
            cluster.clone(),
            Timeouts::default(),
        );
        let namespace = format!("{pool_name}-0000000001");
        let guard = NamespaceGuard(namespace.clone());
        let spec = NodeSpec {
            node_id: "0000000001".into(),
            provider: "kubepool-test".into(),
            pool: pool_name.clone(),
            label: "k8s-namespace".into(),
            request: RequestAttributes { id: "200-0000000001".into(), ..Default::default() },
        };
        let node = driver.launch(&spec, &NoProgress).await.expect("launch the namespace node");
        assert_eq!(node.external_id, namespace);

        let configmap: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "zuul-console"},
            "data": {"zuul_console.py": zuul_console_source(), "boot.py": BOOT},
        }))
        .expect("configmap");
        kube::Api::<ConfigMap>::namespaced(cluster.client.clone(), &namespace)
            .create(&Default::default(), &configmap)
            .await
            .expect("create configmap");
        let pod_name = "console".to_string();
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": pod_name},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": false,
                "terminationGracePeriodSeconds": 1,
                "volumes": [{"name": "zuul", "configMap": {"name": "zuul-console"}}],
                "containers": [{
                    "name": "node",
                    "image": common::test_image(),
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sh", "-c", writer_script(lines, batch, pause)],
                    "volumeMounts": [{"name": "zuul", "mountPath": "/zuul"}],
                }]
            }
        }))
        .expect("pod");
        common::start_pod(&cluster.client, &namespace, &pod).await;
        let dir = std::env::temp_dir().join(common::unique_name("kubepool-exec"));
        std::fs::create_dir_all(&dir).expect("dir");
        Fixture { _guard: guard, namespace, pod: pod_name, connection_port: node.connection_port, dir }
    }

    /// The pod's node record (kubectl node with the namespace's credentials), with `host`
    /// replaced if given; written to `<dir>/nodes.json`.
    fn node_file(&self, host: Option<String>) -> PathBuf {
        let mut port = self.connection_port.clone();
        port["pod"] = json!(self.pod);
        if let Some(host) = host {
            port["host"] = json!(host);
        }
        let nodes = json!([{"name": "node", "label": "pod-console", "node": {
            "state": "in-use", "type": ["pod-console"], "provider": "kubepool-test", "connection_type": "kubectl",
            "connection_port": port, "interface_ip": self.pod, "external_id": self.namespace,
            "python_path": "auto", "resources": {"instances": 1},
        }}]);
        let path = self.dir.join("nodes.json");
        std::fs::write(&path, serde_json::to_vec(&nodes).expect("json")).expect("write nodes");
        path
    }

    fn token(&self) -> String {
        self.connection_port["token"].as_str().expect("token").to_string()
    }
}

/// `kubepool executor prepare --forward` running in the background.
struct Forwarder {
    child: tokio::process::Child,
    resources: Value,
    stderr: PathBuf,
}

impl Forwarder {
    async fn start(nodes: &Path, dir: &Path) -> Forwarder {
        let stderr = dir.join("forwarder.log");
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubepool"))
            .args(["executor", "prepare", "--forward", "--nodes"])
            .arg(nodes)
            .arg("--dir")
            .arg(dir.join("out"))
            .env("RUST_LOG", "kubepool=debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("log file"))
            .kill_on_drop(true)
            .spawn()
            .expect("start kubepool");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("resources printed within 60 s")
            .expect("read stdout")
            .expect("a line");
        let resources: Value = serde_json::from_str(&line).expect("resources JSON");
        Forwarder { child, resources, stderr }
    }

    fn port(&self) -> u16 {
        self.resources["node"]["stream_port1"].as_u64().and_then(|p| u16::try_from(p).ok()).expect("stream_port1")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGTERM, then the exit status.
    async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill");
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("exits within 20 s of SIGTERM")
            .expect("wait")
    }
}

/// A zuul_console client on a local port.
struct ConsoleClient {
    lines: tokio::io::Lines<BufReader<tokio::io::ReadHalf<TcpStream>>>,
    _writer: tokio::io::WriteHalf<TcpStream>,
}

impl ConsoleClient {
    /// Connects (retrying every 0.1 s, like zuul_stream), asks for the version and then for
    /// the log. A connection that ends before the version arrives (zuul_console not listening
    /// yet, or the API server unreachable) is retried too, until `deadline`.
    async fn open(port: u16, deadline: Duration) -> ConsoleClient {
        let until = Instant::now() + deadline;
        loop {
            assert!(Instant::now() < until, "no zuul_console version on port {port} within {deadline:?}");
            let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let (reader, mut writer) = tokio::io::split(stream);
            let mut lines = BufReader::new(reader).lines();
            if writer.write_all(b"v:0\n").await.is_err() {
                continue;
            }
            match tokio::time::timeout(until.saturating_duration_since(Instant::now()), lines.next_line()).await {
                Ok(Ok(Some(version))) => {
                    assert_eq!(version.trim(), "1", "zuul_console protocol version");
                    writer.write_all(format!("s:{LOG_ID}\n").as_bytes()).await.expect("send s:");
                    return ConsoleClient { lines, _writer: writer };
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// The next log line (`None` at the end of the connection); "Log not found" lines are skipped.
    async fn next(&mut self) -> Option<String> {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
                .await
                .expect("a line within 60 s")
                .ok()??;
            if line != "[Zuul] Log not found" {
                return Some(line);
            }
        }
    }
}

/// The number of a log line, `None` for the exit code line.
fn line_number(line: &str) -> Option<usize> {
    if line.ends_with(EXIT_LINE) {
        return None;
    }
    let after = line.split(" | line ").nth(1).unwrap_or_else(|| panic!("unexpected line {line:?}"));
    Some(after.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("bad line {line:?}")))
}

/// Reads to the exit code line; asserts lines 1..=n arrived, each once, in order.
async fn read_complete(client: &mut ConsoleClient, first_expected: usize, n: usize) -> usize {
    let mut expected = first_expected;
    let mut bytes = 0;
    while let Some(line) = client.next().await {
        bytes += line.len() + 1;
        match line_number(&line) {
            Some(number) => {
                assert_eq!(number, expected, "line {expected} expected, got {line:?}");
                expected += 1;
            }
            None => {
                assert_eq!(expected, n + 1, "exit line after {} of {n} lines", expected - 1);
                return bytes;
            }
        }
    }
    panic!("the stream ended after line {} of {n}", expected - 1);
}

#[tokio::test]
async fn a_console_log_streams_complete_and_in_order_and_a_deleted_pod_is_reported_once() {
    const LINES: usize = 20_000;
    let fixture = Fixture::start(LINES, 1000, "0.1").await;
    let forwarder = Forwarder::start(&fixture.node_file(None), &fixture.dir).await;
    let resources = &forwarder.resources["node"];
    assert_eq!(resources["pod"], fixture.pod.as_str());
    assert_eq!(resources["namespace"], fixture.namespace.as_str());
    assert!(resources["stream_port2"].as_u64().is_some(), "{resources}");
    let port = forwarder.port();

    let started = Instant::now();
    let mut client = ConsoleClient::open(port, Duration::from_secs(60)).await;
    let bytes = read_complete(&mut client, 1, LINES).await;
    let elapsed = started.elapsed();
    eprintln!(
        "streamed {LINES} lines ({bytes} bytes) complete and in order, {elapsed:?} from connecting to the exit \
         line while the pod was still writing ({:.1} MB/s)",
        bytes as f64 / elapsed.as_secs_f64() / 1e6
    );
    drop(client);

    // A second client gets the whole (now complete) log again from the start, through its own
    // stream: the forwarding throughput without the writer.
    let started = Instant::now();
    let mut again = ConsoleClient::open(port, Duration::from_secs(30)).await;
    let bytes = read_complete(&mut again, 1, LINES).await;
    let elapsed = started.elapsed();
    eprintln!(
        "again, the complete log: {bytes} bytes in {elapsed:?} ({:.1} MB/s)",
        bytes as f64 / elapsed.as_secs_f64() / 1e6
    );
    drop(again);

    // Delete the pod: the next connections find it gone; that is reported once, the ports close.
    let pods: kube::Api<Pod> = kube::Api::namespaced(common::admin_client().await, &fixture.namespace);
    pods.delete(&fixture.pod, &kube::api::DeleteParams { grace_period_seconds: Some(0), ..Default::default() })
        .await
        .expect("delete pod");
    kube::runtime::wait::await_condition(pods.clone(), &fixture.pod, kube::runtime::wait::conditions::is_deleted(""))
        .await
        .expect("pod deleted");
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < until, "the forwarder still accepts connections 30 s after the pod went away");
        match TcpStream::connect(("127.0.0.1", port)).await {
            Err(_) => break, // closed: the pod is gone
            Ok(mut stream) => {
                let _ = stream.write_all(b"v:0\n").await;
                let mut buffer = [0u8; 16];
                let _ = tokio::time::timeout(
                    Duration::from_secs(5),
                    tokio::io::AsyncReadExt::read(&mut stream, &mut buffer),
                )
                .await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let log = forwarder.log();
    assert_eq!(log.matches("pod is gone").count(), 1, "reported exactly once:\n{log}");
    assert!(!log.contains(&fixture.token()), "the token appears in the log");

    let status = forwarder.terminate().await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[tokio::test]
async fn a_cut_api_connection_is_reestablished_and_the_stream_resumes_without_losing_a_line() {
    const LINES: usize = 1000;
    let fixture = Fixture::start(LINES, 5, "0.05").await;
    let server = url_addr(fixture.connection_port["host"].as_str().expect("host"));
    let proxy = tcp_cut_proxy::TcpCutProxy::start(server).await;
    let forwarder = Forwarder::start(&fixture.node_file(Some(format!("https://{}", proxy.addr))), &fixture.dir).await;
    let port = forwarder.port();

    let mut first = ConsoleClient::open(port, Duration::from_secs(60)).await;
    let mut received = 0;
    while received < 100 {
        let line = first.next().await.expect("a line before the cut");
        assert_eq!(line_number(&line), Some(received + 1), "{line:?}");
        received += 1;
    }
    // Cut everything between kubepool and the API server, and keep it unreachable for 2 s.
    proxy.set_refusing(true);
    proxy.cut_all();
    let cut = Instant::now();
    while let Some(line) = first.next().await {
        if let Some(number) = line_number(&line) {
            assert_eq!(number, received + 1, "{line:?}");
            received = number;
        }
    }
    let first_ended = cut.elapsed();
    let unblock = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        proxy.set_refusing(false);
        proxy
    });

    // The client reconnects to the same local port; kubepool opens a new stream once the API
    // server is reachable again, and `s:` streams the log from its start.
    let mut second = ConsoleClient::open(port, Duration::from_secs(60)).await;
    let resumed = cut.elapsed();
    let line = second.next().await.expect("first line after reconnecting");
    assert_eq!(line_number(&line), Some(1), "{line:?}");
    read_complete(&mut second, 2, LINES).await;
    let proxy = unblock.await.expect("proxy");
    eprintln!(
        "cut after {received} lines; first connection closed {first_ended:?} after the cut; stream resumed \
         {resumed:?} after the cut (API unreachable for 2 s); all {LINES} lines arrived on the same port {port}; \
         proxy connections forwarded: {}, refused while cut: {}",
        proxy.accepted(),
        proxy.refused()
    );
    assert!(proxy.refused() >= 2, "kubepool did not retry while the API server was unreachable");
    assert!(received < LINES, "the cut came after the whole log ({received} lines)");
    assert!(resumed >= Duration::from_secs(2), "resumed while the API server was unreachable?");
    let log = forwarder.log();
    assert!(log.contains("cannot open a port-forward stream"), "no retry logged:\n{log}");
    assert!(log.contains("API connection re-established"), "no re-establishment logged:\n{log}");
    assert!(!log.contains(&fixture.token()), "the token appears in the log");
    assert!(forwarder.terminate().await.success());
}

#[tokio::test]
async fn zuul_kubefwd_runs_kubepool_port_forward_in_place_of_kubectl() {
    let fixture = Fixture::start(200, 50, "0.1").await;
    // The kubeconfig Zuul's executor would write, from kubepool's prepare.
    let records: Vec<kubepool::executor::NodeRecord> =
        serde_json::from_slice(&std::fs::read(fixture.node_file(None)).expect("read nodes")).expect("records");
    let prepared = kubepool::executor::prepare(&records).expect("prepare");
    let kubeconfig = fixture.dir.join("kubeconfig");
    kubepool::executor::output::write_file(&kubeconfig, &prepared.kubeconfig.render(), 0o600).expect("kubeconfig");
    let wrapper = fixture.dir.join("kubectl");
    std::fs::write(&wrapper, format!("#!/bin/sh\nexec {} port-forward \"$@\"\n", env!("CARGO_BIN_EXE_kubepool")))
        .expect("wrapper");
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");

    let target = &prepared.pods[0];
    let mut peer = zk_support::RunningPeer::start(
        "zuul_kubefwd.py",
        &[
            "--kubectl".into(),
            wrapper.display().to_string(),
            "--kubeconfig".into(),
            kubeconfig.display().to_string(),
            "--context".into(),
            target.context.clone(),
            "--namespace".into(),
            target.namespace.clone(),
            "--pod".into(),
            target.pod.clone(),
        ],
    );
    let started = peer.next().await;
    assert!(started.get("error").is_none(), "KubeFwd refused kubepool port-forward: {started}");
    let port = started["port1"].as_u64().and_then(|p| u16::try_from(p).ok()).expect("port1");
    let mut client = ConsoleClient::open(port, Duration::from_secs(60)).await;
    read_complete(&mut client, 1, 200).await;
    drop(client);
    peer.proceed().await;
    let stopped = peer.next().await;
    assert_eq!(stopped["stopped"], true);
    peer.finish().await;
}

/// host:port of an `https://host:port` URL.
fn url_addr(url: &str) -> std::net::SocketAddr {
    let rest = url.trim_start_matches("https://").trim_end_matches('/');
    rest.parse().unwrap_or_else(|e| panic!("API server address {rest}: {e}"))
}
