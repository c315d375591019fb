//! `kubepool exec` against pods of the real test cluster (Kubernetes 1.20: the kubelet speaks
//! `v4.channel.k8s.io` at most, so stdin goes framed to the in-pod supervisor):
//!
//! * the command's own exit status, stdout and stderr, directly and through the agent;
//! * stdin binary-safe with its end delivered (`cat` of 8 MB of random bytes);
//! * a container without `/bin/sh` is an error (255), never success;
//! * the persistent channel: one exec stream runs command after command (one server in the
//!   pod), stdin of a known length goes with its command; a channel whose server was killed
//!   while idle costs the next command nothing (it starts once, on a fresh stream);
//! * an API connection cut twice (by a TCP proxy) while a 60 s command runs: kubepool still
//!   reports the command's exit status and all of its output; `kubectl exec` through the same
//!   proxy is run alongside, and what happens to it is printed.
//!
//! Every test works in its own `ans-…` namespace, deleted at the end even on failure.

mod common;
#[path = "support/tcp_cut_proxy.rs"]
mod tcp_cut_proxy;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

use common::NamespaceGuard;

struct Fixture {
    _guard: NamespaceGuard,
    namespace: String,
    dir: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Also ends an agent started on a socket in it.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Fixture {
    async fn start(image: &str) -> Fixture {
        common::init_logging();
        let client = common::admin_client().await;
        let namespace = common::unique_name("ans-exec");
        let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
        let body = serde_json::from_value(serde_json::json!({"metadata": {"name": namespace}})).expect("namespace");
        namespaces.create(&kube::api::PostParams::default(), &body).await.expect("create namespace");
        let guard = NamespaceGuard(namespace.clone());
        let pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "node"},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": false,
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "main", "image": image, "imagePullPolicy": "IfNotPresent",
                                "command": ["sleep", "infinity"]}],
            }
        }))
        .expect("pod");
        common::start_pod(&client, &namespace, &pod).await;
        let dir = std::env::temp_dir().join(common::unique_name("kubepool-exec-test"));
        std::fs::create_dir_all(&dir).expect("dir");
        Fixture { _guard: guard, namespace, dir }
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("agent/agent.sock")
    }

    /// `kubepool exec` of `command` in the pod, with `stdin` if given.
    async fn exec(&self, kubeconfig: &Path, agent: bool, stdin: Option<&[u8]>, command: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubepool"));
        cmd.arg("exec").arg("--kubeconfig").arg(kubeconfig).args(["-n", &self.namespace]);
        cmd.arg("--agent-socket").arg(self.socket());
        if !agent {
            cmd.arg("--no-agent");
        }
        if stdin.is_some() {
            cmd.arg("-i");
        }
        cmd.arg("node").arg("--").args(command);
        cmd.env("RUST_LOG", "warn").env_remove("KUBEPOOL_EXEC_NO_AGENT");
        run(cmd, stdin).await
    }
}

async fn run(mut cmd: tokio::process::Command, stdin: Option<&[u8]>) -> Output {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn");
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let data = data.to_vec();
        tokio::spawn(async move {
            let _ = pipe.write_all(&data).await;
            let _ = pipe.shutdown().await;
        });
    }
    tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .expect("command done within 300 s")
        .expect("wait")
}

fn kubeconfig() -> PathBuf {
    PathBuf::from(common::required_env("KUBECONFIG"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn the_exit_status_stdout_and_stderr_are_the_commands_own() {
    let fixture = Fixture::start(&common::test_image()).await;
    for agent in [false, true] {
        let out = fixture.exec(&kubeconfig(), agent, None, &["sh", "-c", "echo out; echo err >&2; exit 3"]).await;
        assert_eq!(out.status.code(), Some(3), "agent {agent}: {}", text(&out.stderr));
        assert_eq!((text(&out.stdout), text(&out.stderr)), ("out\n".into(), "err\n".into()), "agent {agent}");

        let out = fixture.exec(&kubeconfig(), agent, None, &["true"]).await;
        assert_eq!(out.status.code(), Some(0), "agent {agent}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "agent {agent}: {out:?}");

        let out = fixture.exec(&kubeconfig(), agent, None, &["no-such-binary"]).await;
        assert_eq!(out.status.code(), Some(127), "agent {agent}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("not found"), "{}", text(&out.stderr));

        // Arguments pass through untouched (no shell in between).
        let out = fixture.exec(&kubeconfig(), agent, None, &["printf", "%s|", "a b", "$HOME", "'q'", ""]).await;
        assert_eq!(text(&out.stdout), "a b|$HOME|'q'||", "agent {agent}");
    }
    // The agent made its socket private.
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(fixture.socket()).expect("socket").permissions());
    assert_eq!(mode & 0o077, 0, "socket mode {mode:o}");
}

#[tokio::test]
async fn stdin_is_binary_safe_and_its_end_reaches_the_command() {
    let fixture = Fixture::start(&common::test_image()).await;
    let data: Vec<u8> = (0..8 * 1024 * 1024).map(|_| rand::random::<u8>()).collect();
    for agent in [false, true] {
        // `cat` ends only when stdin ends.
        let out = fixture.exec(&kubeconfig(), agent, Some(&data), &["cat"]).await;
        assert_eq!(out.status.code(), Some(0), "agent {agent}: {}", text(&out.stderr));
        assert_eq!(out.stdout.len(), data.len(), "agent {agent}");
        assert!(out.stdout == data, "agent {agent}: the bytes differ");
    }
    let out = fixture.exec(&kubeconfig(), true, Some(b""), &["sh", "-c", "wc -c; exit 5"]).await;
    assert_eq!((out.status.code(), text(&out.stdout).trim()), (Some(5), "0"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn a_container_without_a_shell_is_an_error_never_success() {
    let image = std::env::var("KUBEPOOL_TEST_NOSHELL_IMAGE").unwrap_or_else(|_| "localhost/kubepool-noshell:1".into());
    let fixture = Fixture::start(&image).await;
    let out = fixture.exec(&kubeconfig(), false, None, &["true"]).await;
    assert_eq!(out.status.code(), Some(255), "stdout {:?} stderr {:?}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stderr).starts_with("kubepool exec: "), "{}", text(&out.stderr));
}

/// A pod of two containers, each of which knows its name (`$WHO`); `default` is the
/// `kubectl.kubernetes.io/default-container` annotation, if any.
fn two_container_pod(name: &str, image: &str, default: Option<&str>) -> k8s_openapi::api::core::v1::Pod {
    let container = |who: &str| {
        serde_json::json!({"name": who, "image": image, "imagePullPolicy": "IfNotPresent",
                           "command": ["sleep", "infinity"], "env": [{"name": "WHO", "value": who}]})
    };
    let mut pod = serde_json::json!({
        "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "automountServiceAccountToken": false,
                 "terminationGracePeriodSeconds": 1, "containers": [container("main"), container("sidecar")]},
    });
    if let Some(default) = default {
        pod["metadata"]["annotations"] = serde_json::json!({"kubectl.kubernetes.io/default-container": default});
    }
    serde_json::from_value(pod).expect("pod")
}

#[tokio::test]
async fn without_a_container_the_command_runs_where_kubectl_would_run_it() {
    let fixture = Fixture::start(&common::test_image()).await;
    let client = common::admin_client().await;
    let image = common::test_image();
    common::start_pod(&client, &fixture.namespace, &two_container_pod("duo", &image, None)).await;
    common::start_pod(&client, &fixture.namespace, &two_container_pod("duo-annotated", &image, Some("sidecar"))).await;
    let mut seen = Vec::new();
    for (pod, agent) in
        [("duo", false), ("duo", true), ("duo", true), ("duo-annotated", false), ("duo-annotated", true)]
    {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubepool"));
        cmd.arg("exec").arg("--kubeconfig").arg(kubeconfig()).args(["-n", &fixture.namespace]);
        cmd.arg("--agent-socket").arg(fixture.socket());
        if !agent {
            cmd.arg("--no-agent");
        }
        cmd.args([pod, "--", "sh", "-c", "echo $WHO"]).env("RUST_LOG", "warn").env_remove("KUBEPOOL_EXEC_NO_AGENT");
        let out = run(cmd, None).await;
        assert_eq!(out.status.code(), Some(0), "{pod}: {}", text(&out.stderr));
        seen.push((pod, agent, text(&out.stdout)));
    }
    let expected = [
        ("duo", false, "main\n".to_string()),
        ("duo", true, "main\n".to_string()),
        ("duo", true, "main\n".to_string()),
        ("duo-annotated", false, "sidecar\n".to_string()),
        ("duo-annotated", true, "sidecar\n".to_string()),
    ];
    assert_eq!(seen, expected);
}

/// The admin kubeconfig with its server replaced by `server`, written into `dir`.
fn kubeconfig_via(server: &str, dir: &Path) -> PathBuf {
    let mut config = kube::config::Kubeconfig::read_from(kubeconfig()).expect("read kubeconfig");
    for cluster in &mut config.clusters {
        if let Some(cluster) = cluster.cluster.as_mut() {
            cluster.server = Some(server.to_string());
        }
    }
    let path = dir.join("proxied.kubeconfig");
    std::fs::write(&path, serde_json::to_vec(&config).expect("json")).expect("write kubeconfig");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    path
}

fn api_server_addr() -> std::net::SocketAddr {
    let config = kube::config::Kubeconfig::read_from(kubeconfig()).expect("read kubeconfig");
    let server = config.clusters[0].cluster.as_ref().and_then(|c| c.server.clone()).expect("server");
    let rest = server.trim_start_matches("https://").trim_end_matches('/');
    rest.parse().unwrap_or_else(|e| panic!("API server address {rest}: {e}"))
}

/// Lines of `output` that start with `prefix`, as their numbers.
fn numbered(output: &[u8], prefix: &str) -> Vec<u32> {
    text(output).lines().filter_map(|l| l.strip_prefix(prefix)).filter_map(|n| n.trim().parse().ok()).collect()
}

#[tokio::test]
async fn a_cut_api_connection_during_a_60_s_command_loses_neither_output_nor_exit_status() {
    const SCRIPT: &str = "for i in $(seq 1 60); do echo \"line $i\"; echo \"err $i\" >&2; sleep 1; done; exit 7";
    let fixture = Fixture::start(&common::test_image()).await;
    let proxy = tcp_cut_proxy::TcpCutProxy::start(api_server_addr()).await;
    let proxied = kubeconfig_via(&format!("https://{}", proxy.addr), &fixture.dir);

    let started = Instant::now();
    let kubepool = fixture.exec(&proxied, false, None, &["sh", "-c", SCRIPT]);
    let mut stock = tokio::process::Command::new(common::kubectl());
    stock.arg("--kubeconfig").arg(&proxied).args(["-n", &fixture.namespace, "exec", "node", "--", "sh", "-c", SCRIPT]);
    let stock = run(stock, None);
    let cutter = async {
        for at in [10, 30] {
            tokio::time::sleep_until((started + Duration::from_secs(at)).into()).await;
            // Cut every connection and refuse new ones for 3 s.
            proxy.set_refusing(true);
            proxy.cut_all();
            tokio::time::sleep(Duration::from_secs(3)).await;
            proxy.set_refusing(false);
        }
    };
    let (kubepool, stock, ()) = tokio::join!(kubepool, stock, cutter);
    let elapsed = started.elapsed();

    let expected: Vec<u32> = (1..=60).collect();
    println!(
        "kubepool exec: exit {:?} after {:.1} s, {} of 60 stdout lines, {} of 60 stderr lines",
        kubepool.status.code(),
        elapsed.as_secs_f64(),
        numbered(&kubepool.stdout, "line ").len(),
        numbered(&kubepool.stderr, "err ").len()
    );
    println!(
        "kubectl exec (stock): exit {:?}, {} of 60 stdout lines, {} of 60 stderr lines, stderr tail: {:?}",
        stock.status.code(),
        numbered(&stock.stdout, "line ").len(),
        numbered(&stock.stderr, "err ").len(),
        text(&stock.stderr).lines().rfind(|l| !l.starts_with("err ")).unwrap_or_default().to_string()
    );
    assert_eq!(kubepool.status.code(), Some(7), "{}", text(&kubepool.stderr));
    assert_eq!(numbered(&kubepool.stdout, "line "), expected, "stdout: every line once, in order");
    assert_eq!(numbered(&kubepool.stderr, "err "), expected, "stderr: every line once, in order");
    assert!(text(&kubepool.stderr).contains("re-attaching"), "the cut was noticed: {}", text(&kubepool.stderr));
    assert!(proxy.refused() > 0, "the proxy refused connections while cut");
}

/// Output captured in memory.
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("capture")).into_owned()
    }
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.lock().expect("capture").extend_from_slice(data);
        std::task::Poll::Ready(Ok(data.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Runs `command` (with `stdin`, its length announced) on `channel`: exit code, stdout,
/// stderr, and the channel if it can take the next command.
async fn on_channel(
    client: &kube::Client,
    target: &kubepool::pod_exec::Target,
    channel: kubepool::pod_exec::channel::Channel,
    stdin: Option<&[u8]>,
    command: &[&str],
) -> (i32, String, String, Option<kubepool::pod_exec::channel::Channel>) {
    use kubepool::pod_exec::session::{ExecRequest, run_on_channel};
    let request = ExecRequest {
        target: target.clone(),
        command: command.iter().map(|s| s.to_string()).collect(),
        stdin: stdin.is_some(),
        resume_seconds: 30,
        stdin_bytes: stdin.map(|data| data.len() as u64),
    };
    let feed = stdin.map(|data| {
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        let data = bytes::Bytes::copy_from_slice(data);
        tokio::spawn(async move { sender.send(Ok(data)).await });
        receiver
    });
    let (out, err) = (Capture::default(), Capture::default());
    let mut sinks = kubepool::pod_exec::Sinks { stdout: Box::new(out.clone()), stderr: Box::new(err.clone()) };
    let (result, channel) = run_on_channel(client, &request, feed, &mut sinks, &[], channel).await;
    let code = result.expect("the command's exit code").code;
    (code, out.text(), err.text(), channel)
}

#[tokio::test]
async fn one_persistent_channel_runs_command_after_command_and_a_dead_one_costs_nothing() {
    let fixture = Fixture::start(&common::test_image()).await;
    let client = common::admin_client().await;
    let target = kubepool::pod_exec::Target {
        namespace: fixture.namespace.clone(),
        pod: "node".into(),
        container: Some("main".into()),
    };
    // (exec'd processes have no parent in the pod; subshells of a server share its arguments)
    let servers = "ps -eo ppid=,args= | grep -c '^ *0 /bin/sh -c .*kubepool-exe[c] channel$' || true";
    let mut channel = kubepool::pod_exec::channel::open(&client, &target).await.expect("open a channel");
    let data: Vec<u8> = (0..3 * 1024 * 1024).map(|_| rand::random::<u8>()).collect();
    for round in 0..3 {
        let (code, out, err, next) = on_channel(
            &client,
            &target,
            channel,
            None,
            &["sh", "-c", "printf out; printf err >&2; exit \"$0\"", &round.to_string()],
        )
        .await;
        assert_eq!((code, out.as_str(), err.as_str()), (round, "out", "err"));
        let (code, out, _, next) =
            on_channel(&client, &target, next.expect("the channel goes on"), Some(&data), &["od", "-An", "-tx1", "-v"])
                .await;
        let sent: String = data.iter().map(|b| format!(" {b:02x}")).collect();
        assert_eq!(code, 0);
        assert!(out.split_whitespace().eq(sent.split_whitespace()), "stdin reached the command byte for byte");
        // Only this channel's server (the command itself runs under its own supervisor).
        let (code, out, _, next) =
            on_channel(&client, &target, next.expect("the channel goes on"), None, &["sh", "-c", servers]).await;
        assert_eq!((code, out.trim()), (0, "1"), "one channel server in the pod, round {round}");
        channel = next.expect("the channel goes on");
    }
    // Its server killed while idle: the channel says it is closed, and a command sent on it
    // anyway runs once, on a fresh stream, with its own exit code.
    let kill = kubepool::pod_exec::ExecRequest {
        target: target.clone(),
        command: vec!["sh".into(), "-c".into(), "pkill -9 -f 'kubepool-exe[c] channel'".into()],
        stdin: false,
        resume_seconds: 30,
        stdin_bytes: None,
    };
    let mut sinks =
        kubepool::pod_exec::Sinks { stdout: Box::new(tokio::io::sink()), stderr: Box::new(tokio::io::sink()) };
    kubepool::pod_exec::run(&client, &kill, None, &mut sinks).await.expect("pkill");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !channel.closed() {
        assert!(Instant::now() < deadline, "the killed channel still looks open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, out, _, next) =
        on_channel(&client, &target, channel, None, &["sh", "-c", "echo ran >>/tmp/once; cat /tmp/once; exit 4"]).await;
    assert_eq!((code, out.as_str()), (4, "ran\n"), "ran exactly once");
    assert!(next.is_none(), "a dead channel is not given back");
}
