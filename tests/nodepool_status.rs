//! Nodepool's status web app and CLI listings, compared with what the real Nodepool 11 code
//! renders for the same ZooKeeper state (tests/peers/nodepool_status.py): `/node-list`,
//! `/request-list`, `/label-list` of `kubepool::webapp` (text and JSON, by Accept header and
//! `.json` suffix), `/ready`, and the columns of `kubepool list [--detail]`, `request-list`,
//! `info PROVIDER` beside `nodepool`'s. `kubepool hold` with a reason and an expiry.

mod common;
mod zk_support;

use kubepool::zk::{ComponentRegistration, Node, NodeRequest, NodeState, PoolComponent, Wait};
use serde_json::{Value, json};
use std::process::Command;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zk_support::{TestZk, run_peer};

const POOL_ID: &str = "kubepool-status-test-main-0123456789abcdef";

/// The state to list: a Kubernetes pod node (credentials as its port), a held node with Nodepool
/// fields filled in, a locked node, two requests and a pool component.
async fn state(zk: &TestZk) -> (Vec<String>, kubepool::zk::HeldLock, ComponentRegistration) {
    let mut pod = Node::new("pod-fedora");
    pod.provider = Some("k8s".into());
    pod.pool = Some("main".into());
    pod.launcher = Some(POOL_ID.into());
    pod.external_id = Some("k8s-pod-fedora-0000000000".into());
    pod.interface_ip = Some("pod-fedora-0000000000".into());
    pod.connection_port = json!({"token": "secret-token", "pod": "pod-fedora-0000000000"});
    pod.allocated_to = Some("100-0000000000".into());
    pod.set_state(NodeState::Ready);
    let pod = zk.store.create_node(&pod).await.expect("create node");

    let mut held = Node::new("ssh-debian");
    held.node_type = vec!["ssh-debian".into(), "extra".into()];
    held.provider = Some("k8s".into());
    held.pool = Some("main".into());
    held.external_id = Some("k8s-ssh-debian".into());
    held.public_ipv4 = Some("192.0.2.10".into());
    held.public_ipv6 = Some("2001:db8::10".into());
    held.private_ipv4 = Some("10.0.0.10".into());
    held.hostname = Some("ssh-debian-host".into());
    held.az = Some("zone-a".into());
    held.username = Some("zuul".into());
    held.connection_port = json!(2022);
    held.hold_job = Some("tenant/project/job".into());
    held.comment = Some("why it is held: 100% é".into());
    held.user_data = Some(json!("user data"));
    held.set_state(NodeState::Hold);
    let held = zk.store.create_node(&held).await.expect("create node");

    let mut busy = Node::new("pod-fedora");
    busy.provider = Some("other".into());
    busy.pool = Some("second".into());
    busy.set_state(NodeState::InUse);
    let busy = zk.store.create_node(&busy).await.expect("create node");
    let lock = zk.store.lock_node(&busy.id, Wait::No).await.expect("lock").expect("free");

    let mut request = NodeRequest::new(vec!["pod-fedora".into(), "ssh-debian".into()]);
    request.requestor = Some("zuul-scheduler".into());
    request.event_id = Some("0123abcd".into());
    request.relative_priority = 2;
    request.declined_by = vec!["launcher-a".into(), "launcher-b".into()];
    zk.store.create_request("100", &request, false).await.expect("request");
    zk.store.create_request("200", &NodeRequest::new(vec!["pod-fedora".into()]), false).await.expect("request");

    let mut pool = PoolComponent::running("kubepool-test", POOL_ID, "k8s", "main");
    pool.supported_labels = vec!["pod-fedora".into(), "ssh-debian".into()];
    let registration = ComponentRegistration::register(&zk.client, &pool).await.expect("register pool");
    (vec![pod.id, held.id, busy.id], lock, registration)
}

/// A GET on the web app: (status, content type, body).
async fn get(addr: std::net::SocketAddr, path: &str, accept: Option<&str>) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{accept}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: ").or_else(|| l.strip_prefix("Content-Type: ")))
        .unwrap_or("")
        .to_string();
    (status, content_type, body.to_string())
}

/// Ages (`DD:HH:MM:SS`) differ by the second the two sides read the state: masked.
fn masked(text: &str) -> String {
    let age = regex::Regex::new(r"\d\d:\d\d:\d\d:\d\d").expect("regex");
    age.replace_all(text, "DD:HH:MM:SS").into_owned()
}

/// A text table with its rows sorted (Nodepool lists nodes and labels in no set order).
fn sorted_table(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = masked(text.trim_end()).lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// A JSON listing with its rows sorted and ages masked.
fn sorted_json(text: &str) -> Vec<Value> {
    let parsed: Value = serde_json::from_str(&masked(text)).unwrap_or_else(|e| panic!("{text}: {e}"));
    let mut rows = parsed.as_array().expect("a list").clone();
    rows.sort_by_key(|row| row.to_string());
    rows
}

fn kubepool(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_kubepool"))
        .arg("-c")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run kubepool");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn webapp_and_cli_listings_match_nodepools_for_the_same_zookeeper_state() {
    let zk = TestZk::new().await;
    let (ids, lock, registration) = state(&zk).await;
    let mut peer_args = zk.tls_hosts();
    peer_args.extend(["--provider".into(), "k8s".into(), "--node-id".into(), ids[1].clone()]);
    let nodepool = run_peer("nodepool_status.py", &peer_args).await;

    // The web app, serving this chroot.
    let slot = kubepool::webapp::StoreSlot::default();
    let metrics = kubepool::metrics::Metrics::new();
    let app = kubepool::webapp::WebApp::new(slot.clone(), metrics.clone());
    let (addr, task) = kubepool::webapp::serve("127.0.0.1:0".parse().expect("addr"), app).await.expect("bind");
    let (status, _, _) = get(addr, "/node-list", None).await;
    assert_eq!(status, 503, "no ZooKeeper session yet");
    let _ = slot.set(zk.store.clone());

    let webapp = nodepool["webapp"].as_object().expect("webapp renderings");
    for (path, rendered) in webapp {
        let pretty = rendered["pretty"].as_str().expect("pretty");
        let (status, content_type, body) = get(addr, path, None).await;
        assert_eq!((status, content_type.as_str()), (200, "text/plain; charset=UTF-8"), "{path}: {body}");
        assert_eq!(sorted_table(&body), sorted_table(pretty), "{path}\nkubepool:\n{body}\nnodepool:\n{pretty}");
        let Some(json) = rendered.get("json").and_then(Value::as_str) else { continue };
        let (status, content_type, body) = get(addr, path, Some("application/json")).await;
        assert_eq!((status, content_type.as_str()), (200, "application/json; charset=UTF-8"), "{path}: {body}");
        assert_eq!(sorted_json(&body), sorted_json(json), "{path}\nkubepool:\n{body}\nnodepool:\n{json}");
        // Byte for byte, rows aside: Python's json.dumps separators and escapes.
        assert_eq!(masked(&body).len(), masked(json).len(), "{path}\nkubepool:\n{body}\nnodepool:\n{json}");
    }
    let (_, content_type, body) = get(addr, "/request-list.json", Some("text/plain")).await;
    assert_eq!(content_type, "application/json; charset=UTF-8");
    assert_eq!(sorted_json(&body), sorted_json(nodepool["webapp"]["/request-list"]["json"].as_str().expect("json")));
    let (_, _, body) = get(addr, "/node-list", Some("application/json, text/plain")).await;
    assert!(body.starts_with("+-"), "a tie goes to text, as webob decides: {body}");
    assert!(body.contains("redacted"), "a Kubernetes node's credentials are not shown: {body}");
    assert!(!body.contains("secret-token"), "{body}");
    assert_eq!(get(addr, "/no-such-list", None).await.0, 404);

    let (status, _, _) = get(addr, "/ready", None).await;
    assert_eq!(status, 503, "not ready before the launcher serves");
    metrics.set_zookeeper_connected(true);
    metrics.set_pool_serving("k8s", "main", true);
    assert_eq!(get(addr, "/ready", None).await, (200, "text/plain; charset=UTF-8".into(), "OK".into()));
    task.abort();

    // The CLI beside `nodepool`'s, with the same columns; nothing on stderr.
    let dir = std::env::temp_dir().join(common::unique_name("kubepool-status"));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = zk.write_nodepool_yaml(&dir);
    for (command, args) in [
        ("list", vec!["list"]),
        ("list --detail", vec!["list", "--detail"]),
        ("request-list", vec!["request-list"]),
        ("info", vec!["info", "k8s"]),
    ] {
        let (code, out, err) = kubepool(&config, &args);
        assert_eq!(code, 0, "kubepool {command}: {err}");
        assert_eq!(err, "", "kubepool {command} writes nothing but its output");
        let expected = nodepool["cli"][command].as_str().expect("nodepool output");
        assert_eq!(sorted_table(&out), sorted_table(expected), "{command}\nkubepool:\n{out}\nnodepool:\n{expected}");
        assert!(out.ends_with('\n'), "{command}");
    }

    // hold, with a reason and an expiry, prints the node's row as `nodepool hold` does.
    let (code, out, err) = kubepool(&config, &["hold", &ids[0], "--reason", "debugging", "--expiry", "3600"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, "");
    assert!(out.contains(&ids[0]) && out.contains("| hold "), "{out}");
    let node = zk.store.get_node(&ids[0]).await.expect("read").expect("node").value;
    assert_eq!(node.state, NodeState::Hold);
    assert_eq!(node.comment.as_deref(), Some("debugging"));
    assert_eq!(node.hold_expiration, Some(json!(3600)));
    let (code, _, err) = kubepool(&config, &["hold", &ids[2], "--wait-seconds", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains("is locked"), "{err}");
    let (code, _, err) = kubepool(&config, &["hold", "0000099999"]);
    assert_eq!(code, 1);
    assert!(err.contains("no node 0000099999"), "{err}");

    lock.release().await.expect("unlock");
    let _ = registration.remove(&zk.client).await;
    let _ = std::fs::remove_dir_all(&dir);
    zk.cleanup().await;
}
