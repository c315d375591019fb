//! The kubeconfig, inventory and `zuul.resources` kubepool writes for a node set are exactly
//! what Zuul 14.3.0's executor code writes for the same node records: the real Zuul functions
//! render each node set (tests/peers/zuul_executor_render.py) and the texts are compared byte
//! for byte — for hand-written node sets and for randomly generated ones full of YAML-hostile
//! values (quoting, folding, escapes, anchors, missing vs null fields).

mod common;
mod zk_support;

use kubepool::executor::{self, NodeRecord};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

fn pod_node(name: &str, namespace: &str, pod: &str, extra: Value) -> Value {
    let mut node = json!({
        "state": "in-use", "type": ["pod-fedora"], "provider": "kubepool-k8s", "pool": "main",
        "cloud": "admin-context", "connection_type": "kubectl", "external_id": namespace, "interface_ip": pod,
        "host_id": "kube-node-1", "python_path": "auto", "shell_type": null, "username": null, "host_keys": [],
        "resources": {"cores": 2, "instances": 1, "ram": 2048},
        "node_properties": {}, "attributes": {"executor-zone": "a"},
        "connection_port": {"name": namespace, "namespace": namespace, "host": "https://k8s.example.com:6443",
            "skiptls": false, "token": "eyJhbGciOiJSUzI1NiJ9.token", "user": "zuul-worker",
            "ca_crt": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM=", "pod": pod},
    });
    merge(&mut node, extra);
    json!({"name": name, "node": node})
}

fn merge(target: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) {
        target.extend(extra);
    }
}

fn namespace_node(name: &str, namespace: &str, kind: &str, extra: Value) -> Value {
    let mut node = json!({
        "state": "in-use", "type": ["k8s-namespace"], "provider": "kubepool-k8s", "connection_type": kind,
        "external_id": namespace, "resources": {"instances": 1},
        "connection_port": {"name": namespace, "namespace": namespace, "host": "https://10.0.0.1:6443",
            "skiptls": true, "token": "t0ken", "user": "zuul-worker"},
    });
    merge(&mut node, extra);
    json!({"name": name, "node": node})
}

/// Hand-written node sets: the shapes of §5 (kubernetes pod and namespace, openshift project,
/// openshiftpods pod with a null `ca_crt`), shared and separate clusters, optional fields.
fn fixed_cases() -> Vec<Value> {
    vec![
        json!({"nodes": [pod_node("controller", "main-0000000001", "pod-fedora", json!({}))],
               "ports": {"pod-fedora": [40001, 40002]}}),
        json!({"nodes": [
            pod_node("a", "main-0000000002", "pod-a", json!({"shell_type": "sh", "python_path": "/usr/bin/python3"})),
            namespace_node("ns", "main-0000000003", "namespace", json!({})),
            namespace_node("project", "proj-0000000004", "project", json!({"node_properties": {"spot": false}})),
            pod_node("b", "pool", "pod-b", json!({"connection_port": {"namespace": "pool", "host": "https://k8s.example.com:6443",
                "skiptls": false, "token": "x", "user": "zuul-worker", "ca_crt": null, "pod": "pod-b"}})),
        ], "ports": {"pod-a": [40003, 40004]}}),
        // Minimal records: every optional field missing (Zuul's model defaults apply).
        json!({"nodes": [{"name": "bare", "label": "given-label", "node": {"state": "ready", "connection_type": "kubectl",
            "connection_port": {"namespace": "n", "host": "https://h", "skiptls": false, "token": "t", "user": "u", "pod": "p"}}}],
            "ports": {}}),
    ]
}

const WORDS: &[&str] = &[
    "",
    " ",
    "true",
    "False",
    "yes",
    "off",
    "null",
    "~",
    "123",
    "-1",
    "0x1F",
    "0755",
    "1.5",
    "1e3",
    ".inf",
    "2001-12-14",
    "1:30",
    "<<",
    "=",
    "*",
    "&a",
    "!tag",
    "- x",
    "? x",
    "a: b",
    "a:b",
    "a #b",
    "#x",
    "'quoted'",
    "\"dq\"",
    "[x]",
    "{y}",
    "x,y",
    "---",
    "...",
    "@at",
    "`tick",
    "%pct",
    "|bar",
    ">gt",
    "tab\there",
    "nl\nhere",
    "trail ",
    " lead",
    "two  spaces",
    "back\\slash",
    "é",
    "snow☃man",
    "clef𝄞",
    "nbsp\u{a0}x",
    "nel\u{85}x",
    "ls\u{2028}x",
    "bom\u{feff}x",
    "bell\u{7}",
    "cr\rx",
    "nul\u{0}x",
    "k8s-example-com:6443",
    "pod-1",
    "main-0000000001",
];

fn random_text(rng: &mut StdRng) -> String {
    match rng.random_range(0..4) {
        0 => WORDS[rng.random_range(0..WORDS.len())].to_string(),
        1 => {
            // Long enough to be folded at column 80, with single and double spaces.
            let n = rng.random_range(5..40);
            (0..n).map(|_| WORDS[rng.random_range(0..WORDS.len())]).collect::<Vec<_>>().join(if rng.random_bool(0.8) {
                " "
            } else {
                "  "
            })
        }
        2 => {
            let palette: Vec<char> = "ab Z9:-#'\"\n\t\\{[,?!&*%@`|>.~é☃𝄞\u{85}".chars().collect();
            let n = rng.random_range(0..30);
            (0..n).map(|_| palette[rng.random_range(0..palette.len())]).collect()
        }
        _ => format!("word{}", rng.random_range(0..1000)),
    }
}

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.random_range(0..if depth > 1 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.random_bool(0.5)),
        2 => json!(rng.random_range(-5i64..100_000)),
        3 => json!([0.5, 1e16, 1e-7, 2.0, -0.0, 123.456][rng.random_range(0..6)]),
        4 | 5 => json!(random_text(rng)),
        6 => Value::Array((0..rng.random_range(0..3)).map(|_| random_value(rng, depth + 1)).collect()),
        _ => Value::Object(
            (0..rng.random_range(0..3)).map(|_| (random_text(rng), random_value(rng, depth + 1))).collect(),
        ),
    }
}

/// An optional field: absent, null, or a random value.
fn maybe(rng: &mut StdRng, node: &mut serde_json::Map<String, Value>, key: &str) {
    match rng.random_range(0..3) {
        0 => {}
        1 => {
            node.insert(key.into(), Value::Null);
        }
        _ => {
            node.insert(key.into(), random_value(rng, 0));
        }
    }
}

fn random_case(rng: &mut StdRng) -> Value {
    let mut nodes = Vec::new();
    let mut ports = serde_json::Map::new();
    let hosts = ["https://k8s.example.com:6443", "https://10.0.0.1:6443/prefix", "http://API.Example.ORG", "https://h"];
    for i in 0..rng.random_range(1..4) {
        let kubectl = rng.random_bool(0.7);
        let pod = format!("{}-{i}", random_text(rng));
        let mut port = serde_json::Map::new();
        port.insert("host".into(), json!(hosts[rng.random_range(0..hosts.len())]));
        port.insert("namespace".into(), json!(random_text(rng)));
        port.insert(
            "user".into(),
            json!(if rng.random_bool(0.5) { "zuul-worker".to_string() } else { random_text(rng) }),
        );
        port.insert("token".into(), json!(random_text(rng)));
        port.insert("skiptls".into(), random_value(rng, 2));
        match rng.random_range(0..3) {
            0 => {}
            1 => {
                port.insert("ca_crt".into(), Value::Null);
            }
            _ => {
                port.insert("ca_crt".into(), json!(random_text(rng)));
            }
        }
        if kubectl {
            port.insert("pod".into(), json!(pod));
        }
        let mut node = serde_json::Map::new();
        node.insert("state".into(), json!("in-use"));
        node.insert("type".into(), json!([random_text(rng)]));
        node.insert("connection_type".into(), json!(if kubectl { "kubectl" } else { "namespace" }));
        node.insert("connection_port".into(), Value::Object(port));
        for key in [
            "provider",
            "cloud",
            "az",
            "region",
            "host_id",
            "external_id",
            "slot",
            "interface_ip",
            "public_ipv4",
            "private_ipv4",
            "public_ipv6",
            "private_ipv6",
            "python_path",
            "shell_type",
            "username",
            "resources",
            "node_properties",
            "reuse",
            "uuid",
        ] {
            maybe(rng, &mut node, key);
        }
        // Zuul iterates host_keys (a null one fails the job there): absent, empty or keys.
        match rng.random_range(0..3) {
            0 => {}
            1 => {
                node.insert("host_keys".into(), json!([]));
            }
            _ => {
                node.insert("host_keys".into(), json!(["ssh-ed25519 AAAA"]));
            }
        }
        let name =
            if rng.random_bool(0.1) { format!("{}{i}", "n".repeat(130)) } else { format!("{}{i}", random_text(rng)) };
        if kubectl && rng.random_bool(0.7) {
            ports.insert(pod.clone(), json!([rng.random_range(1024..65535), rng.random_range(1024..65535)]));
        }
        nodes.push(json!({"name": name, "node": node}));
    }
    json!({"nodes": nodes, "ports": ports})
}

/// kubepool's rendering of one case: (kubeconfig, inventory, zuul.resources).
fn kubepool_render(case: &Value) -> (String, String, Value) {
    let records: Vec<NodeRecord> = serde_json::from_value(case["nodes"].clone()).expect("records");
    let prepared = executor::prepare(&records).expect("kubepool prepares the node set");
    let mut ports = BTreeMap::new();
    for pod in &prepared.pods {
        if let Some(pair) = case["ports"].get(&pod.pod).and_then(Value::as_array) {
            let port = |i: usize| pair[i].as_u64().and_then(|p| u16::try_from(p).ok()).expect("port");
            ports.insert(pod.node.clone(), (port(0), port(1)));
        }
    }
    (prepared.kubeconfig.render(), prepared.inventory.clone(), prepared.resources(&ports))
}

async fn zuul_render(cases: &[Value], dir: &Path) -> Vec<Value> {
    let cases_file = dir.join("cases.json");
    std::fs::write(&cases_file, serde_json::to_vec(cases).expect("json")).expect("write cases");
    let out = dir.join("zuul");
    let result = zk_support::run_peer(
        "zuul_executor_render.py",
        &["--cases".into(), cases_file.display().to_string(), "--out".into(), out.display().to_string()],
    )
    .await;
    result["resources"].as_array().expect("resources").clone()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(common::unique_name(name));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn compare(cases: &[Value], zuul_resources: &[Value], dir: &Path) {
    for (i, case) in cases.iter().enumerate() {
        let (kubeconfig, inventory, resources) = kubepool_render(case);
        let zuul_dir = dir.join("zuul").join(i.to_string());
        let context = || format!("case {i}: {}", serde_json::to_string(case).unwrap_or_default());
        assert_eq!(kubeconfig, read(&zuul_dir.join("kubeconfig")), "kubeconfig differs; {}", context());
        assert_eq!(inventory, read(&zuul_dir.join("inventory.yaml")), "inventory differs; {}", context());
        assert_eq!(resources, zuul_resources[i], "zuul.resources differs; {}", context());
    }
}

#[tokio::test]
async fn fixed_node_sets_render_exactly_as_zuul_does() {
    let dir = temp_dir("kubepool-render");
    let cases = fixed_cases();
    let zuul = zuul_render(&cases, &dir).await;
    compare(&cases, &zuul, &dir);
    // The anchors Zuul writes for the node_properties dict shared by `nodepool` and `zuul_node`.
    assert!(read(&dir.join("zuul/0/inventory.yaml")).contains("node_properties: &id001 {}"));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test]
async fn random_node_sets_render_exactly_as_zuul_does() {
    let seed = std::env::var("KUBEPOOL_RENDER_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    let count: usize = std::env::var("KUBEPOOL_RENDER_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    eprintln!("random node sets: seed {seed} (KUBEPOOL_RENDER_SEED), {count} cases");
    let mut rng = StdRng::seed_from_u64(seed);
    let cases: Vec<Value> = (0..count).map(|_| random_case(&mut rng)).collect();
    let dir = temp_dir("kubepool-render-random");
    let zuul = zuul_render(&cases, &dir).await;
    compare(&cases, &zuul, &dir);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// The command writes the same bytes, with the kubeconfig private to its owner.
#[tokio::test]
async fn the_prepare_command_writes_zuuls_files() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("kubepool-render-cli");
    let cases = &fixed_cases()[1..2];
    let zuul = zuul_render(cases, &dir).await;
    let nodes = dir.join("nodes.json");
    std::fs::write(&nodes, serde_json::to_vec(&cases[0]["nodes"]).expect("json")).expect("write nodes");
    let out = dir.join("kubepool");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kubepool"))
        .args(["executor", "prepare", "--nodes"])
        .arg(&nodes)
        .arg("--dir")
        .arg(&out)
        .output()
        .expect("run kubepool");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let zuul_dir = dir.join("zuul/0");
    assert_eq!(read(&out.join("kube/config")), read(&zuul_dir.join("kubeconfig")));
    assert_eq!(read(&out.join("inventory.yaml")), read(&zuul_dir.join("inventory.yaml")));
    let mode = std::fs::metadata(out.join("kube/config")).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Printed and written zuul.resources: Zuul's, less the stream ports (no --forward here).
    let mut expected = zuul[0].clone();
    for entry in expected.as_object_mut().expect("object").values_mut() {
        if let Some(entry) = entry.as_object_mut() {
            entry.retain(|k, _| !k.starts_with("stream_port"));
        }
    }
    let printed: Value = serde_json::from_slice(&output.stdout).expect("printed JSON");
    assert_eq!(printed, expected);
    let written: Value = serde_json::from_str(&read(&out.join("resources.json"))).expect("resources.json");
    assert_eq!(written, expected);
    // No token in what is printed or logged.
    let all_output = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!all_output.contains("t0ken") && !all_output.contains("eyJhbGciOiJSUzI1NiJ9"), "{all_output}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// From a fulfilled request id: the nodes are read from ZooKeeper (as the launcher stored them),
/// in the request's order, and the files are Zuul's for those records.
#[tokio::test]
async fn a_fulfilled_request_read_from_zookeeper_gives_zuuls_files() {
    use kubepool::zk::{Node, NodeRequest, RequestState, paths};
    let zk = zk_support::TestZk::new().await;
    let dir = temp_dir("kubepool-render-zk");
    let config = zk.write_nodepool_yaml(&dir);
    let case = &fixed_cases()[1];
    let mut ids = Vec::new();
    let mut labels = Vec::new();
    let mut names = Vec::new();
    for entry in case["nodes"].as_array().expect("nodes") {
        let raw = serde_json::to_vec(&entry["node"]).expect("json");
        let node = Node::from_json("/test", &raw).expect("node model");
        labels.push(node.node_type[0].clone());
        ids.push(zk.store.create_node(&node).await.expect("create node").id);
        names.push(entry["name"].as_str().expect("name").to_string());
    }
    let mut request = NodeRequest::new(labels.clone());
    request.state = RequestState::Fulfilled;
    request.nodes = ids.clone();
    let request = zk.store.create_request("200", &request, false).await.expect("request");
    let pending = zk.store.create_request("200", &NodeRequest::new(labels.clone()), false).await.expect("request");

    // Zuul renders the records exactly as stored.
    let mut stored = Vec::new();
    for ((id, name), label) in ids.iter().zip(&names).zip(&labels) {
        let (data, _) = zk.client.get_data(&paths::node(id)).await.expect("node data");
        let node: Value = serde_json::from_slice(&data).expect("node JSON");
        stored.push(json!({"name": name, "label": label, "node": node}));
    }
    let cases = vec![json!({"nodes": stored, "ports": {}})];
    let zuul = zuul_render(&cases, &dir).await;

    let out = dir.join("kubepool");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kubepool"));
    command.args(["executor", "prepare", "--request", &request.id, "-c"]).arg(&config).arg("--dir").arg(&out);
    for name in &names {
        command.args(["--name", name]);
    }
    let output = command.output().expect("run kubepool");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let zuul_dir = dir.join("zuul/0");
    assert_eq!(read(&out.join("kube/config")), read(&zuul_dir.join("kubeconfig")));
    assert_eq!(read(&out.join("inventory.yaml")), read(&zuul_dir.join("inventory.yaml")));
    let printed: Value = serde_json::from_slice(&output.stdout).expect("printed JSON");
    assert_eq!(printed, zuul[0]);

    // A request that is not fulfilled is refused, saying so.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kubepool"))
        .args(["executor", "prepare", "--request", &pending.id, "-c"])
        .arg(&config)
        .arg("--dir")
        .arg(dir.join("pending"))
        .output()
        .expect("run kubepool");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("request {} is requested, not fulfilled", pending.id)), "{stderr}");
    assert!(!dir.join("pending").exists(), "files written for a request that is not fulfilled");
    zk.cleanup().await;
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
