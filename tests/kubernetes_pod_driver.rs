//! The kubernetes driver's pod labels against the real test cluster, one failure path each: a
//! pod that can never start fails at once with the cluster's reason, a quota refusal by the
//! API server becomes a quota error (an `aborted` node), and no attempt leaves its namespace.

mod common;

use kubepool::drivers::common::pod_body::PodBody;
use kubepool::drivers::spec::{DriverKind, LabelKind, LabelSpec, PodTemplate, PoolSpec, Timeouts};
use kubepool_driver_api::{Driver, LaunchError, NoProgress, NodeSpec, RequestAttributes};
use std::collections::BTreeMap;
use std::sync::Arc;

const PROVIDER: &str = "kubepool-pod-driver";

fn template(image: &str) -> PodTemplate {
    PodTemplate::with_image(image.to_string(), "Never")
}

/// The labels under test: each can never give a usable pod on the test cluster.
fn labels() -> Vec<LabelSpec> {
    let image = common::test_image();
    let mut unschedulable = template(&image);
    unschedulable.node_selector = serde_json::json!({"kubepool.test/nowhere": "true"}).as_object().cloned();
    let over_quota = serde_json::json!({"containers": [{
        "name": "c", "image": image, "imagePullPolicy": "Never", "command": ["sleep", "3600"],
        "resources": {"requests": {"kubepool.test/quota-limited": "1"}, "limits": {"kubepool.test/quota-limited": "1"}},
    }]});
    // An image that runs (its entrypoint sleeps) but has no shell to exec.
    let no_shell_image =
        std::env::var("KUBEPOOL_TEST_NOSHELL_IMAGE").unwrap_or_else(|_| "localhost/kubepool-noshell:1".into());
    let no_shell = serde_json::json!({"terminationGracePeriodSeconds": 1, "containers": [{
        "name": "c", "image": no_shell_image, "imagePullPolicy": "IfNotPresent",
    }]});
    vec![
        common::label_spec("missing-image", LabelKind::Pod(Box::new(template("localhost/kp-none:1")))),
        common::label_spec("unschedulable", LabelKind::Pod(Box::new(unschedulable))),
        common::label_spec("over-quota", LabelKind::Spec(over_quota)),
        common::label_spec("no-shell", LabelKind::Spec(no_shell)),
    ]
}

async fn driver(pool: &str) -> Arc<dyn Driver> {
    let cluster = kubepool::k8s::connect(None).await.expect("cluster");
    let pools = vec![PoolSpec { name: pool.into(), labels: labels() }];
    common::nodepool_driver(DriverKind::Kubernetes, PROVIDER, pools, cluster, Timeouts::default())
}

fn spec(pool: &str, label: &str, node_id: &str) -> NodeSpec {
    NodeSpec {
        node_id: node_id.into(),
        provider: PROVIDER.into(),
        pool: pool.into(),
        label: label.into(),
        request: RequestAttributes { id: "200-0000000001".into(), ..Default::default() },
    }
}

/// Launches `label` once; returns the error and checks that its namespace is gone.
async fn launch_fails(label: &str, node_id: &str) -> LaunchError {
    common::init_logging();
    let pool = common::unique_name("kpd");
    let driver = driver(&pool).await;
    let error = driver.launch(&spec(&pool, label, node_id), &NoProgress).await.expect_err("launch must fail");
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(common::admin_client().await);
    let namespace = format!("{pool}-{node_id}");
    assert!(namespaces.get_opt(&namespace).await.expect("get").is_none(), "namespace {namespace} left behind");
    error
}

#[tokio::test]
async fn missing_image_with_image_pull_never_fails_at_once_with_the_kubelets_reason() {
    match launch_fails("missing-image", "0000000001").await {
        LaunchError::Permanent(why) => {
            assert!(why.contains("ErrImageNeverPull"), "{why}");
            assert!(why.contains("localhost/kp-none:1"), "names the image: {why}");
        }
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_pod_no_node_can_take_fails_at_once_with_the_schedulers_reason() {
    match launch_fails("unschedulable", "0000000002").await {
        LaunchError::Permanent(why) => {
            assert!(why.contains("can never be scheduled"), "{why}");
            assert!(why.contains("node selector") || why.contains("node affinity"), "scheduler's words: {why}");
        }
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_quota_refusal_by_the_api_server_is_a_quota_error() {
    match launch_fails("over-quota", "0000000003").await {
        LaunchError::Quota(why) => {
            assert!(why.contains("create pod"), "{why}");
            assert!(why.contains("quota"), "{why}");
        }
        other => panic!("expected a quota error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_container_without_a_shell_is_not_reported_ready() {
    match launch_fails("no-shell", "0000000004").await {
        LaunchError::Permanent(why) => assert!(why.contains("cannot run /bin/sh"), "{why}"),
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

/// Log lines captured by a test's own subscriber.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut lines) = self.0.lock() {
            lines.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        self.0.lock().map(|l| String::from_utf8_lossy(&l).into_owned()).unwrap_or_default()
    }
}

#[tokio::test]
async fn a_pod_stuck_pulling_its_image_logs_its_reasons_and_events_as_they_come() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("kubepool=info")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let client = common::admin_client().await;
    let namespace = common::unique_name("kubepool-test-pull");
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    let ns: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": namespace}})).expect("namespace");
    namespaces.create(&Default::default(), &ns).await.expect("create namespace");
    // A registry nobody listens on: the kubelet's pulls fail, then back off, again and again
    // (not an image that is missing, which fails the launch at once).
    let template = PodTemplate::with_image("127.0.0.1:1/kubepool-unreachable:1".to_string(), "Always");
    let body = PodBody::from_template("c", &template, BTreeMap::new()).expect("body");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let started = std::time::Instant::now();
    kubepool::drivers::common::pod_launch::wait_for_default_account(&client, &namespace, deadline)
        .await
        .expect("account");
    kubepool::drivers::common::pod_launch::create_pod(&client, &namespace, "stuck", &body, &BTreeMap::new())
        .await
        .expect("create pod");
    let result =
        kubepool::drivers::common::pod_launch::wait_running(&client, &namespace, "stuck", &body, deadline).await;
    let _ = namespaces.delete(&namespace, &Default::default()).await;
    let logs = captured.text();
    match result {
        Err(LaunchError::Transient(why)) => assert!(why.contains("did not start in time"), "{why}"),
        other => panic!("expected a time-out, got {other:?}\n{logs}"),
    }
    assert!(started.elapsed() >= std::time::Duration::from_secs(25), "waited until the deadline");
    let progress: Vec<&str> = logs.lines().filter(|l| l.contains("pod not running yet")).collect();
    assert!(
        progress.iter().any(|l| l.contains("ErrImagePull") || l.contains("ImagePullBackOff")),
        "the pull failures are logged while waiting:\n{logs}"
    );
    assert!(logs.lines().any(|l| l.contains("pod warning event") && l.contains("127.0.0.1:1")), "events:\n{logs}");
    // And every 10 s, whether or not anything changed: still waiting, and what was seen last.
    let periodic: Vec<&str> = logs.lines().filter(|l| l.contains("waiting for the pod to run")).collect();
    assert!(periodic.len() >= 2, "a progress line every 10 s of the 30:\n{logs}");
    assert!(
        periodic.iter().all(|l| l.contains("waited_seconds=") && l.contains("last_seen=")),
        "how long and what was seen last:\n{logs}"
    );
    assert!(periodic.iter().any(|l| l.contains("ImagePull")), "the last reason:\n{logs}");
    for line in logs.lines() {
        assert!(!line.contains("Some(") && !line.contains("from=Deleting"), "Rust Debug formatting: {line}");
    }
}
