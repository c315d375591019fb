//! Requested-to-ready latency of a pod label, against the same pod created directly with
//! `kubectl apply` + `kubectl wait --for=condition=Ready`, measured in the same run on the same
//! cluster (the ratio is kubepool's overhead: namespace, service account, token, RBAC, pod, and
//! the exec probe with the node's own credentials).
//!
//! Run with `make bench` (brings the test bed up), or `cargo bench --bench pod_ready` with the
//! test bed's environment (`KUBECONFIG`, `KUBEPOOL_TEST_ZK`). `KUBEPOOL_BENCH_SAMPLES` sets the
//! number of samples of each (default 10). Samples alternate between the two, and each waits
//! until the previous one's namespace is gone.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/launcher.rs"]
mod launcher_support;
#[path = "../tests/zk_support/mod.rs"]
mod zk_support;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams};
use kubepool::config::{Compute, PodTemplate};
use kubepool::drivers::common::pod_body::PodBody;
use kubepool::zk::{NodeRequest, NodeState, RequestState};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

const LABEL: &str = "python-container";

fn config(pool: &str, image: &str) -> String {
    format!(
        r#"
zookeeper-servers:
  - host: 127.0.0.1
labels:
  - name: {LABEL}
providers:
  - name: kubepool-bench
    driver: kubernetes
    pools:
      - name: {pool}
        labels:
          - name: {LABEL}
            type: pod
            image: {image}
            image-pull: IfNotPresent
            memory: 64
            python-path: /usr/bin/python3
"#
    )
}

/// The pod kubepool creates for the label, as a manifest for `kubectl apply`.
fn same_pod(image: &str, namespace: &str) -> String {
    let template = PodTemplate {
        requests: Compute { memory: Some(64), ..Compute::default() },
        limits: Compute { memory: Some(64), ..Compute::default() },
        ..PodTemplate::with_image(image, "IfNotPresent")
    };
    let body = PodBody::from_template(LABEL, &template, BTreeMap::new()).expect("pod body");
    let mut pod = serde_json::to_value(body.pod(LABEL, namespace, &BTreeMap::new())).expect("json");
    pod["apiVersion"] = "v1".into();
    pod["kind"] = "Pod".into();
    pod.to_string()
}

fn kubectl(args: &[&str], stdin: Option<&str>) {
    use std::io::Write;
    let mut child = Command::new(common::kubectl())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run kubectl");
    if let Some(text) = stdin {
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write manifest");
    }
    drop(child.stdin.take());
    assert!(child.wait().expect("kubectl").success(), "kubectl {args:?} failed");
}

async fn baseline_sample(namespaces: &Api<Namespace>, image: &str, i: usize) -> Duration {
    let name = common::unique_name(&format!("kpbench-base-{i}"));
    let ns = Namespace {
        metadata: kube::api::ObjectMeta { name: Some(name.clone()), ..Default::default() },
        ..Default::default()
    };
    namespaces.create(&PostParams::default(), &ns).await.expect("namespace");
    // The namespace's default service account must exist before a pod is admitted.
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(namespaces.clone().into_client(), &name);
    kube::runtime::wait::await_condition(accounts, "default", |a: Option<&_>| a.is_some()).await.expect("default sa");
    let manifest = same_pod(image, &name);
    let started = Instant::now();
    kubectl(&["apply", "-f", "-"], Some(&manifest));
    kubectl(&["wait", "-n", &name, "--for=condition=Ready", &format!("pod/{LABEL}"), "--timeout=120s"], None);
    let elapsed = started.elapsed();
    namespaces.delete(&name, &DeleteParams::background()).await.expect("delete namespace");
    wait_gone(namespaces, &name).await;
    elapsed
}

async fn wait_gone(namespaces: &Api<Namespace>, name: &str) {
    let gone = kube::runtime::wait::await_condition(namespaces.clone(), name, |n: Option<&Namespace>| n.is_none());
    tokio::time::timeout(Duration::from_secs(300), gone).await.expect("namespace deleted in time").expect("watch");
}

async fn kubepool_sample(zk: &zk_support::TestZk, namespaces: &Api<Namespace>, pool: &str) -> Duration {
    let started = Instant::now();
    let request = zk.store.create_request("100", &NodeRequest::new(vec![LABEL.into()]), false).await.expect("submit");
    let fulfilled = loop {
        let current = zk.store.get_request(&request.id).await.expect("read").expect("request").value;
        match current.state {
            RequestState::Fulfilled => break current,
            RequestState::Failed => panic!("request failed: {current:?}"),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    };
    let elapsed = started.elapsed();
    // Return the node as Zuul's executor does: used, then the request deleted.
    let node_id = fulfilled.nodes[0].clone();
    let mut node = zk.store.get_node(&node_id).await.expect("read").expect("node");
    node.value.set_state(NodeState::Used);
    zk.store.update_node(&mut node).await.expect("mark used");
    zk.store.delete_request(&request.id).await.expect("delete request");
    wait_gone(namespaces, &format!("{pool}-{node_id}")).await;
    elapsed
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    let n = samples.len();
    if n % 2 == 1 { samples[n / 2] } else { (samples[n / 2 - 1] + samples[n / 2]) / 2 }
}

fn seconds(samples: &[Duration]) -> String {
    samples.iter().map(|d| format!("{:.3}", d.as_secs_f64())).collect::<Vec<_>>().join(" ")
}

#[tokio::main]
async fn main() {
    let samples: usize = std::env::var("KUBEPOOL_BENCH_SAMPLES").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let image = common::test_image();
    let zk = zk_support::TestZk::new().await;
    let pool = common::unique_name("kpbench");
    let launcher = launcher_support::Launcher::from_config(&zk, &config(&pool, &image)).await;
    let namespaces: Api<Namespace> = Api::all(common::admin_client().await);

    // One warm-up of each (image already on the node, informers and connections warm).
    baseline_sample(&namespaces, &image, 0).await;
    kubepool_sample(&zk, &namespaces, &pool).await;

    let (mut base, mut ours) = (Vec::new(), Vec::new());
    for i in 1..=samples {
        base.push(baseline_sample(&namespaces, &image, i).await);
        ours.push(kubepool_sample(&zk, &namespaces, &pool).await);
    }
    println!("pod label requested -> ready, {samples} samples each (seconds)");
    println!("  kubectl apply + wait Ready : {}", seconds(&base));
    println!("  kubepool request fulfilled : {}", seconds(&ours));
    let (b, k) = (median(&mut base), median(&mut ours));
    println!("  median kubectl apply + wait: {:.3} s", b.as_secs_f64());
    println!("  median kubepool            : {:.3} s", k.as_secs_f64());
    println!("  ratio kubepool / baseline  : {:.2}", k.as_secs_f64() / b.as_secs_f64());
    launcher.stop().await;
    zk.cleanup().await;
}
