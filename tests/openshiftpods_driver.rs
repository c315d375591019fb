//! The openshiftpods driver's failure paths against the real test cluster: a namespace quota
//! that refuses the pod is a quota error (the node is `aborted`, not failed) and the attempt
//! leaves nothing; an external id of no pool cannot be deleted by mistake.

mod common;

use k8s_openapi::api::core::v1::{Namespace, Pod, ResourceQuota, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::wait::await_condition;
use kubepool::drivers::spec::{DriverKind, LabelKind, LabelSpec, PodTemplate, PoolSpec, Timeouts};
use kubepool_driver_api::{LaunchError, NoProgress, NodeSpec, RequestAttributes};
use std::time::Duration;

const PROVIDER: &str = "os-pods-driver";
const LABEL: &str = "os-quota-pod";

/// The test's namespace, deleted when dropped.
struct TestNamespace(String);

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let name = self.0.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let client = kubepool::k8s::connect(None).await.ok()?.client;
                Api::<Namespace>::all(client).delete(&name, &DeleteParams::background()).await.ok()
            })
        })
        .join();
    }
}

fn label() -> LabelSpec {
    let template = PodTemplate::with_image(common::test_image(), "Never");
    common::label_spec(LABEL, LabelKind::Pod(Box::new(template)))
}

#[tokio::test]
async fn a_namespace_quota_refusal_is_a_quota_error_and_leaves_nothing() {
    common::init_logging();
    let admin = common::admin_client().await;
    let namespace = TestNamespace(common::unique_name("os-pq"));
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let body: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": namespace.0}})).expect("body");
    namespaces.create(&PostParams::default(), &body).await.expect("create namespace");
    let quotas: Api<ResourceQuota> = Api::namespaced(admin.clone(), &namespace.0);
    let quota: ResourceQuota =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}}))
            .expect("quota");
    quotas.create(&PostParams::default(), &quota).await.expect("create quota");
    // Admission refuses with "status unknown" until the quota controller has counted.
    let counted = await_condition(quotas, "no-pods", |q: Option<&ResourceQuota>| {
        q.and_then(|q| q.status.as_ref()).and_then(|s| s.used.as_ref()).is_some_and(|u| u.contains_key("pods"))
    });
    tokio::time::timeout(Duration::from_secs(60), counted).await.expect("quota counted").expect("watch");

    let cluster = kubepool::k8s::connect(None).await.expect("cluster");
    let driver = common::nodepool_driver(
        DriverKind::OpenshiftPods,
        PROVIDER,
        vec![PoolSpec { name: namespace.0.clone(), labels: vec![label()] }],
        cluster,
        Timeouts::default(),
    );
    let spec = NodeSpec {
        node_id: "0000000001".into(),
        provider: PROVIDER.into(),
        pool: namespace.0.clone(),
        label: LABEL.into(),
        request: RequestAttributes { id: "200-0000000001".into(), ..Default::default() },
    };
    match driver.launch(&spec, &NoProgress).await {
        Err(LaunchError::Quota(why)) => assert!(why.contains("create pod") && why.contains("exceeded quota"), "{why}"),
        other => panic!("expected a quota error, got {other:?}"),
    }
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &namespace.0);
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), &namespace.0);
    let selector = ListParams::default().labels(&format!("nodepool_provider_name={PROVIDER}"));
    assert!(pods.list_metadata(&selector).await.expect("pods").items.is_empty());
    assert!(accounts.list_metadata(&selector).await.expect("accounts").items.is_empty());
    assert!(driver.list_resources().await.expect("list").is_empty());

    // Deleting an id of no pool is refused instead of guessed; a pod that is gone is deleted.
    let error = driver.delete("elsewhere-os-quota-pod-0000000001").await.expect_err("no such pool");
    assert!(error.0.contains("not a pod of any pool"), "{error}");
    driver.delete(&format!("{}-{LABEL}-0000000009", namespace.0)).await.expect("a missing pod is deleted");
}
