//! Pod labels end to end, with the real parts on both sides: a nodepool.yaml with pod labels,
//! the launcher set up from it, requests submitted by Zuul's own scheduler code, nodes accepted
//! by Zuul's own executor code, the kubeconfig written by Zuul's own `prepareKubeConfig`, and
//! the real `kubectl` using the node's credentials.

mod common;
#[path = "support/launcher.rs"]
mod launcher_support;
mod zk_support;

use common::Scratch;

use kubepool::zk::RequestState;
use launcher_support::{Launcher, namespace_exists, submit, wait_for_state, wait_until_gone};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use zk_support::{RunningPeer, TestZk};

const LABEL: &str = "python-container";

/// A pool of one form-A pod label (plus one whose image is missing) on the test cluster.
fn config(pool: &str) -> String {
    let image = common::test_image();
    format!(
        r#"
zookeeper-servers:
  - host: 127.0.0.1
labels:
  - name: {LABEL}
  - name: missing-image
providers:
  - name: kubepool-pods
    driver: kubernetes
    pools:
      - name: {pool}
        max-servers: 4
        labels:
          - name: {LABEL}
            type: pod
            image: {image}
            image-pull: Never
            memory: 64
            python-path: /usr/bin/python3
            env:
              - name: GREETING
                value: hello
            labels:
              team: ci
            dynamic-labels:
              tenant: "{{request.tenant_name}}"
            annotations:
              kubepool.test/purpose: e2e
          - name: missing-image
            type: pod
            image: localhost/kubepool-no-such-image:1
            image-pull: Never
"#
    )
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(common::kubectl()).env("KUBECONFIG", kubeconfig).args(args).output().expect("run kubectl")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Port-forwards to `port` in the pod with the node's kubeconfig and fetches `/` over HTTP
/// through the local end; returns the response's status line.
fn http_through_port_forward(kubeconfig: &Path, pod: &str, port: u16) -> String {
    let mut forward = Command::new(common::kubectl())
        .env("KUBECONFIG", kubeconfig)
        .args(["port-forward", &format!("pod/{pod}"), &format!(":{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kubectl port-forward");
    let mut first = String::new();
    let mut stdout = BufReader::new(forward.stdout.take().expect("stdout"));
    stdout.read_line(&mut first).expect("read");
    // Keep reading: kubectl reports each connection on stdout and dies if nobody listens.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let local: u16 = first
        .strip_prefix("Forwarding from 127.0.0.1:")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            let _ = forward.kill();
            let mut err = String::new();
            let _ = forward.stderr.take().map(|mut e| e.read_to_string(&mut err));
            panic!("unexpected port-forward output {first:?}; stderr: {err}")
        });
    let mut status = String::new();
    for _ in 0..50 {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", local)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.write_all(b"GET / HTTP/1.0\r\nHost: pod\r\n\r\n");
            let mut line = String::new();
            let _ = BufReader::new(stream).read_line(&mut line);
            if line.starts_with("HTTP/") {
                status = line.trim().to_string();
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = forward.kill();
    let _ = forward.wait();
    if status.is_empty() {
        let mut err = String::new();
        let _ = forward.stderr.take().map(|mut e| e.read_to_string(&mut err));
        status = format!("no HTTP response; port-forward said: {err}");
    }
    status
}

#[tokio::test]
async fn zuul_gets_a_pod_it_can_exec_into_with_the_nodes_own_credentials() {
    let zk = TestZk::new().await;
    let pool = common::unique_name("kpp");
    let launcher = Launcher::from_config(&zk, &config(&pool)).await;
    let id = submit(&zk, &[LABEL]).await;
    let request = wait_for_state(&zk.store, &id, Duration::from_secs(180)).await;
    assert_eq!(request.state, RequestState::Fulfilled, "{request:?}");
    let node_id = request.nodes[0].clone();
    let namespace = format!("{pool}-{node_id}");

    // The node record of reference §4.3/§5.
    let node = zk.store.get_node(&node_id).await.expect("read").expect("node").value;
    assert_eq!(node.connection_type.as_deref(), Some("kubectl"));
    assert_eq!(node.interface_ip.as_deref(), Some(LABEL), "interface_ip is the pod name");
    assert_eq!(node.external_id.as_deref(), Some(namespace.as_str()));
    assert_eq!(node.python_path.as_deref(), Some("/usr/bin/python3"));
    assert!(node.host_id.as_deref().is_some_and(|h| !h.is_empty()), "host_id is the k8s node: {node:?}");
    let port = &node.connection_port;
    assert_eq!(port["pod"], LABEL);
    assert_eq!(port["namespace"], namespace.as_str());
    assert_eq!(port["user"], "zuul-worker");
    assert_eq!(serde_json::to_value(&node.resources).expect("json"), serde_json::json!({"instances": 1, "ram": 64}));

    // Zuul's executor accepts the node; its own prepareKubeConfig writes the kubeconfig.
    let mut executor =
        RunningPeer::start("zuul_accept_nodes.py", &[zk.hosts(), vec!["--request".into(), id.clone()]].concat());
    let accepted = executor.next().await;
    assert_eq!(accepted["accepted"], Value::Bool(true), "{accepted}");
    let ports: Vec<&Value> =
        accepted["nodes"].as_array().expect("nodes").iter().map(|n| &n["connection_port"]).collect();
    let scratch = Scratch::new("kp-pod-e2e");
    let kubeconfig = scratch.0.join("kubeconfig");
    let contexts = zk_support::zuul_kubeconfig(&ports, &kubeconfig).await;
    assert_eq!(contexts.len(), 1, "{contexts:?}");
    let mode = std::fs::metadata(&kubeconfig).expect("kubeconfig").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // exec: both streams and the real exit status.
    let out = kubectl(&kubeconfig, &["exec", LABEL, "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(text(&out.stdout), "out\n");
    assert!(text(&out.stderr).starts_with("err\n"), "{out:?}");
    let out = kubectl(&kubeconfig, &["exec", LABEL, "--", "sh", "-c", "echo $GREETING; id -u"]);
    assert!(out.status.success() && text(&out.stdout).starts_with("hello\n"), "{out:?}");

    // logs: what PID 1 writes is readable with the node's credentials (pods/log).
    let out = kubectl(&kubeconfig, &["exec", LABEL, "--", "sh", "-c", "echo from-the-job > /proc/1/fd/1"]);
    assert!(out.status.success(), "{out:?}");
    let out = kubectl(&kubeconfig, &["logs", LABEL]);
    assert!(out.status.success(), "kubectl logs: {out:?}");
    assert!(text(&out.stdout).contains("from-the-job"), "{out:?}");

    // port-forward: to a server started in the pod.
    let out =
        kubectl(&kubeconfig, &["exec", LABEL, "--", "sh", "-c", "nohup python3 -m http.server 8080 >/dev/null 2>&1 &"]);
    assert!(out.status.success(), "{out:?}");
    let status = http_through_port_forward(&kubeconfig, LABEL, 8080);
    assert!(status.starts_with("HTTP/1.0 200"), "HTTP through kubectl port-forward: {status:?}");

    // Its own pods are visible; nothing else is, and it cannot delete or create pods.
    let out = kubectl(&kubeconfig, &["get", "pods", "-o", "name"]);
    assert_eq!(text(&out.stdout).trim(), format!("pod/{LABEL}"), "{out:?}");
    for args in [
        vec!["get", "pods", "-n", "default"],
        vec!["get", "secrets"],
        vec!["delete", "pod", LABEL, "--wait=false"],
        vec!["get", "namespaces"],
    ] {
        let out = kubectl(&kubeconfig, &args);
        assert!(!out.status.success() && text(&out.stderr).contains("Forbidden"), "{args:?} allowed: {out:?}");
    }

    // The pod's metadata carries the label's labels, rendered dynamic labels and annotations.
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(common::admin_client().await, &namespace);
    let pod = pods.get(LABEL).await.expect("pod");
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("team").map(String::as_str), Some("ci"));
    assert_eq!(labels.get("tenant").map(String::as_str), Some("example-tenant"));
    assert_eq!(labels.get("nodepool_node_id"), Some(&node_id));
    let annotations = pod.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations.get("kubepool.test/purpose").map(String::as_str), Some("e2e"));
    let spec = pod.spec.expect("spec");
    assert_eq!(spec.restart_policy.as_deref(), Some("Never"), "restartPolicy takes effect");

    // Returning the node deletes it and its namespace.
    executor.proceed().await;
    assert_eq!(executor.next().await["returned"], Value::Bool(true));
    executor.finish().await;
    wait_until_gone(&zk.store, &request.nodes, Duration::from_secs(120)).await;
    assert!(!namespace_exists(&namespace).await, "namespace deleted with its node");
    launcher.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn a_pod_that_can_never_start_fails_its_request_fast_and_leaves_nothing() {
    let zk = TestZk::new().await;
    let pool = common::unique_name("kpp");
    let launcher = Launcher::from_config(&zk, &config(&pool)).await;
    let id = submit(&zk, &["missing-image"]).await;
    // Well under the 300 s start timeout (and its three attempts): the pod's status says it
    // can never start, so the node fails at once.
    let request = wait_for_state(&zk.store, &id, Duration::from_secs(90)).await;
    assert_eq!(request.state, RequestState::Failed, "{request:?}");
    let metrics = launcher.metrics.encode();
    assert!(
        metrics.contains(r#"kubepool_launch_errors_total{provider="kubepool-pods",kind="permanent"} 1"#),
        "{metrics}"
    );
    launcher.stop().await;
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(common::admin_client().await);
    let selector = format!("nodepool_pool_name={pool}");
    let left = namespaces.list_metadata(&kube::api::ListParams::default().labels(&selector)).await.expect("list");
    assert!(left.items.is_empty(), "no namespace left: {:?}", left.items);
    zk.cleanup().await;
}
