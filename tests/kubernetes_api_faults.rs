//! The client discipline against injected API faults: a launch succeeds through 500s and 429s
//! from a proxy in front of the real API server because the client retries them, and fails
//! when retries are switched off (so it is the retry layer that saved it).

mod common;
#[path = "support/api_fault_proxy.rs"]
mod proxy;

use http::Method;
use kubepool::drivers::spec::{DriverKind, LabelKind, PoolSpec, Timeouts};
use kubepool::k8s::ApiDiscipline;
use kubepool_driver_api::{Driver, LaunchError, NoProgress, NodeSpec, RequestAttributes};
use proxy::{ApiFaultProxy, Fault};
use std::sync::Arc;
use std::time::Duration;

fn faults() -> Vec<Fault> {
    vec![
        Fault {
            method: Method::POST,
            path: "/api/v1/namespaces".into(),
            status: 500,
            times: 2,
            retry_after_seconds: None,
        },
        Fault {
            method: Method::POST,
            path: "/serviceaccounts".into(),
            status: 429,
            times: 1,
            retry_after_seconds: Some(1),
        },
        Fault { method: Method::POST, path: "/roles".into(), status: 503, times: 1, retry_after_seconds: None },
    ]
}

fn driver(pool: &str, cluster: kubepool::k8s::ClusterInfo) -> Arc<dyn Driver> {
    let label = common::label_spec("ns", LabelKind::Namespace);
    common::nodepool_driver(
        DriverKind::Kubernetes,
        "kubepool-faults",
        vec![PoolSpec { name: pool.into(), labels: vec![label] }],
        cluster,
        Timeouts { token: Duration::from_secs(30), delete: Duration::from_secs(120), ..Timeouts::default() },
    )
}

fn spec(pool: &str) -> NodeSpec {
    NodeSpec {
        node_id: "0000000001".into(),
        provider: "kubepool-faults".into(),
        pool: pool.into(),
        label: "ns".into(),
        request: RequestAttributes::default(),
    }
}

fn fast_retries(max_retries: u32) -> ApiDiscipline {
    ApiDiscipline { max_retries, min_backoff: Duration::from_millis(50), ..ApiDiscipline::default() }
}

#[tokio::test]
async fn launch_succeeds_through_injected_500_429_and_503() {
    common::init_logging();
    let proxy = ApiFaultProxy::start(common::admin_client().await, faults()).await;
    let metrics = kubepool::metrics::Metrics::new();
    let discipline = ApiDiscipline { observer: Some(metrics.api_error_observer("faulty")), ..fast_retries(6) };
    let cluster = kubepool::k8s::connect_kubeconfig(proxy.kubeconfig.clone(), Some("proxy"), discipline)
        .await
        .expect("client through the proxy");
    let pool = common::unique_name("kpf");
    let driver = driver(&pool, cluster);
    let result = driver.launch(&spec(&pool), &NoProgress).await;
    let seen = proxy.seen();
    let text = metrics.encode();
    assert!(
        text.contains(r#"kubepool_kubernetes_api_errors_total{provider="faulty",kind="server"} 3"#),
        "{text} {seen:#?}"
    );
    assert!(text.contains(r#"kubepool_kubernetes_api_errors_total{provider="faulty",kind="throttled"} 1"#), "{text}");
    let cleanup = driver.delete(&format!("{pool}-0000000001")).await;
    let node = result.expect("launch through faults");
    cleanup.expect("delete");

    assert_eq!(proxy.injected(), 4, "{seen:#?}");
    // Each faulted call was repeated until the real server answered.
    let namespace_posts: Vec<_> =
        seen.iter().filter(|s| s.method == Method::POST && s.path == "/api/v1/namespaces").map(|s| s.status).collect();
    assert_eq!(namespace_posts, [500, 500, 201]);
    assert_eq!(node.external_id, format!("{pool}-0000000001"));
}

#[tokio::test]
async fn without_retries_the_same_fault_fails_the_launch_as_transient() {
    let proxy = ApiFaultProxy::start(common::admin_client().await, faults()).await;
    let cluster = kubepool::k8s::connect_kubeconfig(proxy.kubeconfig.clone(), Some("proxy"), fast_retries(0))
        .await
        .expect("client through the proxy");
    let pool = common::unique_name("kpf");
    let driver = driver(&pool, cluster);
    let result = driver.launch(&spec(&pool), &NoProgress).await;
    assert!(matches!(result, Err(LaunchError::Transient(_))), "{result:?}");
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(common::admin_client().await);
    assert!(namespaces.get_opt(&format!("{pool}-0000000001")).await.expect("get").is_none(), "nothing left behind");
}
