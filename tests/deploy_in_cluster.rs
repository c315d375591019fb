//! The launcher as it ships: the image from tests/cluster/build-kubepool-image.sh (from the
//! binary under test), deployed in the test cluster with the manifests of deploy/ and only the
//! shipped ClusterRole of the kubernetes driver. It serves requests written by Zuul's own code for
//! a namespace label and a pod label, fails an impossible pod at once, deletes the nodes Zuul
//! returns, and answers /healthz, /ready, /metrics and Nodepool's web app (/ready, /label-list,
//! /node-list) through its Service.
//!
//! The least-privilege check deploys it again once per rule of the ClusterRole, with that rule
//! removed, and shows that something real then goes wrong.

mod common;
#[path = "support/launcher.rs"]
mod launcher_support;
mod zk_support;

use base64::Engine;
use futures::StreamExt;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use zk_support::TestZk;

/// The files of deploy/ a kubernetes-driver launcher is made of (the Namespace is the test's own).
const MANIFESTS: &[&str] = &[
    "serviceaccount.yaml",
    "clusterrole-kubernetes.yaml",
    "configmap-nodepool.yaml",
    "deployment.yaml",
    "poddisruptionbudget.yaml",
    "service-metrics.yaml",
];
const PROVIDER: &str = "kubepool-deployed";
const SELECTOR: &str = "app.kubernetes.io/name=kubepool,app.kubernetes.io/component=launcher";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The image, built and imported by the project's script from the binary under test.
fn image() -> String {
    let output = Command::new(repo().join("tests/cluster/build-kubepool-image.sh"))
        .arg(env!("CARGO_BIN_EXE_kubepool"))
        .output()
        .expect("run build-kubepool-image.sh");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The shipped manifests as JSON objects.
async fn shipped() -> Vec<Value> {
    let mut args = vec!["create".to_string(), "--dry-run=client".into(), "-o".into(), "json".into()];
    for file in MANIFESTS {
        args.extend(["-f".to_string(), repo().join("deploy").join(file).display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // One JSON object per manifest, one after the other (a List when a file holds several).
    let text = common::kubectl_async(&args, None).await.expect("read deploy/");
    let mut objects = Vec::new();
    for value in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
        let value = value.expect("kubectl JSON");
        match value["items"].as_array() {
            Some(items) if value["kind"] == "List" => objects.extend(items.iter().cloned()),
            _ => objects.push(value),
        }
    }
    objects
}

/// The rules of the shipped ClusterRole.
async fn shipped_rules() -> Vec<Value> {
    let role = shipped().await.into_iter().find(|o| o["kind"] == "ClusterRole").expect("a ClusterRole");
    role["rules"].as_array().expect("rules").clone()
}

fn nodepool_yaml(zk: &TestZk, pool: &str) -> String {
    // ZooKeeper's TLS port as pods reach it: at an address its certificate does not name, which
    // Zuul's (and now kubepool's) TLS accepts. The files are the shipped Secret mount's.
    let server = common::required_env("KUBEPOOL_TEST_ZK_TLS_FROM_PODS");
    let (host, port) = server.rsplit_once(':').expect("host:port");
    let image = common::test_image();
    format!(
        "zookeeper-servers:\n  - host: {host}\n    port: {port}\n    chroot: {chroot}\n\
         zookeeper-tls:\n  ca: /etc/nodepool/zookeeper-tls/ca.crt\n  cert: /etc/nodepool/zookeeper-tls/tls.crt\n\
         \x20 key: /etc/nodepool/zookeeper-tls/tls.key\n\
         webapp:\n  port: 8005\n\
         labels:\n  - name: ns-label\n  - name: pod-label\n  - name: huge-pod\n\
         providers:\n  - name: {PROVIDER}\n    driver: kubernetes\n    pools:\n      - name: {pool}\n        max-servers: 10\n\
         \x20       labels:\n\
         \x20         - name: ns-label\n            type: namespace\n\
         \x20         - name: pod-label\n            type: pod\n            image: {image}\n            image-pull: IfNotPresent\n\
         \x20         - name: huge-pod\n            type: pod\n            image: {image}\n            image-pull: IfNotPresent\n            cpu: 100000\n",
        chroot = zk.chroot,
    )
}

/// A launcher deployed from deploy/ into a namespace of its own, with its cluster-scoped objects
/// renamed after it; all removed when dropped.
struct Deployed {
    namespace: String,
    pool: String,
}

impl Deployed {
    async fn start(zk: &TestZk, image: &str, replicas: i64, without_rule: Option<usize>) -> Result<Self, String> {
        let namespace = common::unique_name("kubepool-test-deploy");
        let deployed = Deployed { namespace: namespace.clone(), pool: common::unique_name("kpd") };
        common::kubectl_async(&["create", "namespace", &namespace], None).await?;
        let ca = common::required_env("KUBEPOOL_TEST_ZK_CA");
        let cert = common::required_env("KUBEPOOL_TEST_ZK_CERT");
        let key = common::required_env("KUBEPOOL_TEST_ZK_KEY");
        common::kubectl_async(
            &[
                "-n",
                &namespace,
                "create",
                "secret",
                "generic",
                "kubepool-zookeeper-tls",
                &format!("--from-file=ca.crt={ca}"),
                &format!("--from-file=tls.crt={cert}"),
                &format!("--from-file=tls.key={key}"),
            ],
            None,
        )
        .await?;
        let mut items = shipped().await;
        for item in &mut items {
            let kind = item["kind"].as_str().unwrap_or_default().to_string();
            match kind.as_str() {
                "ClusterRole" | "ClusterRoleBinding" => {
                    let name = format!("{}-{namespace}", item["metadata"]["name"].as_str().unwrap_or_default());
                    item["metadata"]["name"] = json!(name);
                }
                _ => item["metadata"]["namespace"] = json!(namespace),
            }
            match kind.as_str() {
                "ClusterRole" => {
                    if let (Some(index), Some(rules)) = (without_rule, item["rules"].as_array_mut()) {
                        rules.remove(index);
                    }
                }
                "ClusterRoleBinding" => {
                    let role = format!("{}-{namespace}", item["roleRef"]["name"].as_str().unwrap_or_default());
                    item["roleRef"]["name"] = json!(role);
                    item["subjects"][0]["namespace"] = json!(namespace);
                }
                "ConfigMap" => item["data"]["nodepool.yaml"] = json!(nodepool_yaml(zk, &deployed.pool)),
                "Deployment" => {
                    item["spec"]["replicas"] = json!(replicas);
                    item["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
                }
                _ => {}
            }
        }
        let list = json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string();
        common::kubectl_async(&["apply", "-f", "-"], Some(&list)).await?;
        common::kubectl_async(
            &["-n", &namespace, "rollout", "status", "deployment/kubepool-launcher", "--timeout=180s"],
            None,
        )
        .await?;
        Ok(deployed)
    }

    /// Stops the launchers (they let go of their ZooKeeper locks), so the test's chroot can go.
    async fn stop(&self) {
        let _ = common::kubectl_async(
            &["-n", &self.namespace, "scale", "deployment/kubepool-launcher", "--replicas=0"],
            None,
        )
        .await;
        let wait = ["-n", &self.namespace, "wait", "--for=delete", "pod", "-l", SELECTOR, "--timeout=120s"];
        let _ = common::kubectl_async(&wait, None).await;
    }

    async fn logs(&self) -> String {
        let args = ["-n", &self.namespace, "logs", "-l", SELECTOR, "--tail=-1", "--prefix"];
        common::kubectl_async(&args, None).await.unwrap_or_else(|e| e)
    }

    /// GET `path` of the metrics Service's `port`, through the API server's service proxy.
    async fn through_service(&self, port: &str, path: &str) -> Result<String, String> {
        let raw = format!("/api/v1/namespaces/{}/services/kubepool-metrics:{port}/proxy{path}", self.namespace);
        common::kubectl_async(&["get", "--raw", &raw], None).await
    }
}

impl Drop for Deployed {
    fn drop(&mut self) {
        let name = format!("kubepool-kubernetes-{}", self.namespace);
        let selector = format!("nodepool_pool_name={}", self.pool);
        for args in [
            vec!["delete", "clusterrolebinding,clusterrole", &name, "--wait=false"],
            vec!["delete", "namespace", &self.namespace, "--wait=false"],
            vec!["delete", "namespace", "-l", &selector, "--wait=false"],
        ] {
            let _ = Command::new(common::kubectl()).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }
}

/// The payload of a JWT.
fn jwt_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn wait_for_state(zk: &TestZk, id: &str, timeout: Duration) -> Option<kubepool::zk::NodeRequest> {
    let deadline = Instant::now() + timeout;
    loop {
        let request = zk.store.get_request(id).await.ok()??.value;
        if matches!(request.state, kubepool::zk::RequestState::Fulfilled | kubepool::zk::RequestState::Failed) {
            return Some(request);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Zuul's side of a launcher's life, against a deployed launcher: a namespace node and a pod
/// node requested, checked and returned, an impossible pod failed at once. Returns what went
/// wrong (nothing, for a launcher with every right it needs).
async fn zuul_session(zk: &TestZk, deployed: &Deployed) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut fulfilled = Vec::new();
    let mut nodes = Vec::new();
    for label in ["ns-label", "pod-label"] {
        let id = launcher_support::submit(zk, &[label]).await;
        match wait_for_state(zk, &id, Duration::from_secs(90)).await {
            Some(request) if request.state == kubepool::zk::RequestState::Fulfilled => {
                nodes.extend(request.nodes.clone());
                fulfilled.push(id);
                let node_id = request.nodes.first().cloned().unwrap_or_default();
                let node = zk.store.get_node(&node_id).await.ok().flatten().map(|n| n.value);
                let node = serde_json::to_value(node).unwrap_or_default();
                if node["state"] != "ready" {
                    wrong.push(format!("{label}: node {node_id} not ready: {node}"));
                }
                let token = node["connection_port"]["token"].as_str().unwrap_or_default();
                match jwt_claims(token) {
                    Some(claims) if claims["exp"].is_number() => {}
                    claims => {
                        wrong.push(format!("{label}: the node's token is not a bound, expiring token: {claims:?}"))
                    }
                }
            }
            Some(request) => wrong.push(format!("{label}: request {id} {:?}", request.state)),
            None => wrong.push(format!("{label}: request {id} not served in 90 s")),
        }
    }
    // A pod no node could ever hold fails at once (the nodes are listed), with the scheduler's
    // events in the launch error.
    let id = launcher_support::submit(zk, &["huge-pod"]).await;
    match wait_for_state(zk, &id, Duration::from_secs(60)).await {
        Some(request) if request.state == kubepool::zk::RequestState::Failed => {
            if !deployed.logs().await.contains("FailedScheduling:") {
                wrong.push("huge-pod: no scheduler event in the launch error".to_string());
            }
        }
        Some(request) => wrong.push(format!("huge-pod: request {id} {:?}", request.state)),
        None => wrong.push(format!("huge-pod: request {id} not failed within 60 s")),
    }
    // Zuul returns the nodes; the launcher deletes them, and their namespaces.
    if !nodes.is_empty() {
        zk_support::zuul_returns(&zk.store, &fulfilled, &nodes).await;
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let left = zk.store.node_ids().await.unwrap_or_default();
            if nodes.iter().all(|n| !left.contains(n)) {
                break;
            }
            if Instant::now() > deadline {
                wrong.push("returned nodes not deleted within 90 s".to_string());
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let logs = deployed.logs().await;
    if logs.contains("could not delete the pods of the namespace first") {
        wrong.push("a returned node's pods were not deleted before its namespace".to_string());
    }
    if logs.contains("forbidden") {
        let line = logs.lines().find(|l| l.contains("forbidden")).unwrap_or_default();
        wrong.push(format!("an API request was forbidden: {line}"));
    }
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_deployment_serves_zuul_with_only_the_shipped_cluster_role() {
    let image = image();
    let zk = TestZk::new().await;
    let started = Instant::now();
    let deployed = Deployed::start(&zk, &image, 2, None).await.expect("deploy");
    eprintln!("image {image}: two launchers ready {:.1} s after the apply", started.elapsed().as_secs_f64());

    let wrong = zuul_session(&zk, &deployed).await;
    assert!(wrong.is_empty(), "{wrong:#?}\n{}", deployed.logs().await);

    assert_eq!(deployed.through_service("metrics", "/healthz").await.expect("/healthz through the Service"), "ok\n");
    let ready = deployed.through_service("metrics", "/ready").await.expect("/ready through the Service");
    assert!(ready.starts_with("ready: serving"), "{ready}");
    let metrics = deployed.through_service("metrics", "/metrics").await.expect("/metrics through the Service");
    assert!(metrics.contains(&format!("kubepool_node_requests_total{{provider=\"{PROVIDER}\"")), "{metrics}");
    // Nodepool's web app through the same Service.
    assert_eq!(deployed.through_service("webapp", "/ready").await.expect("webapp /ready"), "OK");
    let labels = deployed.through_service("webapp", "/label-list.json").await.expect("/label-list.json");
    let labels: Value = serde_json::from_str(&labels).unwrap_or_else(|e| panic!("{labels}: {e}"));
    for label in ["ns-label", "pod-label", "huge-pod"] {
        assert!(labels.as_array().is_some_and(|l| l.contains(&json!({"label": label}))), "{label}: {labels}");
    }
    let nodes = deployed.through_service("webapp", "/node-list").await.expect("/node-list");
    assert!(nodes.starts_with("+----") && nodes.contains("| Provider "), "{nodes}");
    // Every launcher line is JSON (the Deployment asks for it) and none carries a credential.
    let logs = deployed.logs().await;
    for line in logs.lines() {
        let json = line.split_once(' ').map(|(_, rest)| rest).unwrap_or(line);
        assert!(serde_json::from_str::<Value>(json).is_ok(), "not a JSON line: {line}");
    }
    deployed.stop().await;
    drop(deployed);
    zk.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_of_the_shipped_cluster_role_is_needed() {
    let image = image();
    let rules = shipped_rules().await;
    // Four at a time: each is a launcher pod and its nodes on a 2-core test bed.
    let runs = futures::stream::iter((0..rules.len()).map(|index| {
        let image = image.clone();
        async move {
            let zk = TestZk::new().await;
            let wrong = match Deployed::start(&zk, &image, 1, Some(index)).await {
                Ok(deployed) => {
                    let wrong = zuul_session(&zk, &deployed).await;
                    deployed.stop().await;
                    wrong
                }
                Err(error) => vec![format!("not deployed: {error}")],
            };
            zk.cleanup().await;
            (index, wrong)
        }
    }));
    let mut outcomes: Vec<(usize, Vec<String>)> = runs.buffer_unordered(4).collect().await;
    outcomes.sort_by_key(|(index, _)| *index);
    let outcomes: Vec<Vec<String>> = outcomes.into_iter().map(|(_, wrong)| wrong).collect();
    let mut unneeded = Vec::new();
    for (rule, wrong) in rules.iter().zip(&outcomes) {
        eprintln!("without {rule}:\n  {}", wrong.join("\n  "));
        if wrong.is_empty() {
            unneeded.push(rule.to_string());
        }
    }
    assert!(unneeded.is_empty(), "rules nothing needs: {unneeded:#?}");
}
