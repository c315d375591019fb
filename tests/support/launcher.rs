//! A launcher engine in the test process, for end-to-end tests: one pool of the namespace
//! labels `k8s-namespace` and `k8s-namespace-b` on the real test cluster, on its own ZooKeeper
//! session.

#![allow(dead_code)]

use crate::common;
use crate::zk_support::{TestZk, run_peer, surviving};
use kubepool::drivers::spec::{DriverKind, LabelKind, LabelSpec, PoolSpec, Timeouts};
use kubepool::launcher::engine::{self, Setup};
use kubepool::launcher::plan::PoolPlan;
use kubepool::zk::{RequestState, Store};
use kubepool_driver_api::{Limits, Resources};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What a test launcher is configured with.
pub struct Options {
    pub max_servers: i64,
    pub pool: Option<String>,
    pub cleanup_interval: Duration,
    pub policies: kubepool::launcher::policies::Policies,
    pub max_concurrency: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_servers: 10,
            pool: None,
            cleanup_interval: Duration::from_secs(60),
            policies: Default::default(),
            max_concurrency: None,
        }
    }
}

pub const PROVIDER: &str = "kubepool-e2e";

pub struct Launcher {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), kubepool::zk::ZkError>>,
    pub pool: String,
    pub metrics: kubepool::metrics::Metrics,
}

impl Launcher {
    /// Starts an engine for one pool of the `k8s-namespace` label. `pool`: a name to share
    /// with another launcher (default: a new one).
    pub async fn start(zk: &TestZk, max_servers: i64, pool: Option<&str>) -> Self {
        Self::start_with(zk, Options { max_servers, pool: pool.map(str::to_string), ..Options::default() }).await
    }

    pub async fn start_with(zk: &TestZk, options: Options) -> Self {
        let Options { max_servers, pool, cleanup_interval, policies, max_concurrency } = options;
        common::init_logging();
        let pool = pool.unwrap_or_else(|| common::unique_name("kpe"));
        let cluster = kubepool::k8s::connect(None).await.expect("cluster");
        let quota = Resources::new().with("instances", 1);
        let label = common::label_spec("k8s-namespace", LabelKind::Namespace);
        let driver = common::nodepool_driver(
            DriverKind::Kubernetes,
            PROVIDER,
            vec![PoolSpec {
                name: pool.clone(),
                labels: vec![label.clone(), LabelSpec { name: "k8s-namespace-b".into(), ..label }],
            }],
            cluster,
            Timeouts::default(),
        );
        let plan = PoolPlan {
            provider: PROVIDER.into(),
            pool: pool.clone(),
            priority: 100,
            labels: BTreeMap::from([
                ("k8s-namespace".to_string(), quota.clone()),
                ("k8s-namespace-b".to_string(), quota),
            ]),
            limits: Limits::unlimited().with("instances", max_servers),
            node_attributes: serde_json::json!({"executor-zone": "zone-a"}).as_object().cloned(),
            launch_retries: 3,
            max_concurrency,
        };
        let metrics = kubepool::metrics::Metrics::new();
        let setup = Setup {
            zookeeper: zk.options(),
            hostname: "e2e-host".into(),
            metrics: metrics.clone(),
            drivers: BTreeMap::from([(PROVIDER.to_string(), driver)]),
            clouds: BTreeMap::from([(PROVIDER.to_string(), Some("admin@kubepool-testbed".to_string()))]),
            pools: vec![plan],
            cleanup_interval,
            policies,
            shutdown_grace: Duration::from_secs(120),
            reloads: None,
            store_slot: None,
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(engine::run(setup, async {
            let _ = rx.await;
        }));
        Self { stop: Some(tx), task, pool, metrics }
    }

    /// Starts an engine from a nodepool.yaml text, set up exactly as `kubepool launcher` does
    /// (config → drivers and pool plans); `pool` is the name of its (first) pool.
    pub async fn from_config(zk: &TestZk, yaml: &str) -> Self {
        common::init_logging();
        let config = kubepool::config::parse(std::path::Path::new("test-nodepool.yaml"), yaml).expect("valid config");
        let pool = config.providers[0].pools[0].name.clone();
        let metrics = kubepool::metrics::Metrics::new();
        let settings = kubepool::launcher::setup::ClusterSettings::default();
        let providers = kubepool::launcher::setup::providers(&config, &metrics, &settings).await.expect("providers");
        let setup = Setup {
            zookeeper: zk.options(),
            hostname: "e2e-host".into(),
            metrics: metrics.clone(),
            drivers: providers.drivers,
            clouds: providers.clouds,
            pools: providers.pools,
            cleanup_interval: Duration::from_secs(60),
            policies: Default::default(),
            shutdown_grace: Duration::from_secs(120),
            reloads: None,
            store_slot: None,
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(engine::run(setup, async {
            let _ = rx.await;
        }));
        Self { stop: Some(tx), task, pool, metrics }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(120), self.task)
            .await
            .expect("launcher stops within 120 s")
            .expect("launcher task")
            .expect("launcher result");
    }
}

pub async fn submit(zk: &TestZk, labels: &[&str]) -> String {
    let mut args = zk.hosts();
    for label in labels {
        args.extend(["--label".to_string(), label.to_string()]);
    }
    let submitted = run_peer("zuul_submit_request.py", &args).await;
    submitted["id"].as_str().expect("request id").to_string()
}

pub async fn wait_for_state(store: &Store, id: &str, timeout: Duration) -> kubepool::zk::NodeRequest {
    let deadline = Instant::now() + timeout;
    loop {
        let request = surviving(store, |s| async move { s.get_request(id).await })
            .await
            .expect("read request")
            .expect("request exists")
            .value;
        if matches!(request.state, RequestState::Fulfilled | RequestState::Failed) {
            return request;
        }
        assert!(Instant::now() < deadline, "request {id} still {:?} after {timeout:?}", request.state);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn wait_until_gone(store: &Store, node_ids: &[String], timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let ids = surviving(store, |s| async move { s.node_ids().await }).await.expect("node ids");
        if node_ids.iter().all(|id| !ids.contains(id)) {
            return;
        }
        assert!(Instant::now() < deadline, "nodes {node_ids:?} not deleted after {timeout:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn namespace_exists(name: &str) -> bool {
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(common::admin_client().await);
    namespaces.get_opt(name).await.expect("get namespace").is_some()
}
