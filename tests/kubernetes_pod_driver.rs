//! The kubernetes driver's pod labels against the real test cluster, one failure path each: a
//! pod that can never start fails at once with the cluster's reason, a quota refusal by the
//! API server becomes a quota error (an `aborted` node), and no attempt leaves its namespace.

mod common;

use kubepool::config::PodTemplate;
use kubepool::drivers::kubernetes::{KubernetesDriver, LabelKind, LabelSpec, PodBody, PoolSpec, Timeouts};
use kubepool_driver_api::{Driver, LaunchError, NoProgress, NodeSpec, RequestAttributes, Resources};
use std::collections::BTreeMap;

const PROVIDER: &str = "kubepool-pod-driver";

fn template(image: &str) -> PodTemplate {
    PodTemplate::with_image(image.to_string(), "Never")
}

fn label(name: &str, body: PodBody) -> LabelSpec {
    LabelSpec {
        name: name.to_string(),
        kind: LabelKind::Pod(Box::new(body)),
        labels: BTreeMap::new(),
        dynamic_labels: BTreeMap::new(),
        python_path: "auto".into(),
        shell_type: None,
        quota: Resources::new().with("instances", 1),
    }
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
        label(
            "missing-image",
            PodBody::from_template("missing-image", &template("localhost/kp-none:1"), BTreeMap::new()).expect("body"),
        ),
        label("unschedulable", PodBody::from_template("unschedulable", &unschedulable, BTreeMap::new()).expect("body")),
        label("over-quota", PodBody::from_user_spec(&over_quota, BTreeMap::new()).expect("body")),
        label("no-shell", PodBody::from_user_spec(&no_shell, BTreeMap::new()).expect("body")),
    ]
}

async fn driver(pool: &str) -> KubernetesDriver {
    let cluster = kubepool::k8s::connect(None).await.expect("cluster");
    KubernetesDriver::new(
        PROVIDER,
        vec![PoolSpec { name: pool.into(), labels: labels() }],
        cluster,
        Timeouts::default(),
    )
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
