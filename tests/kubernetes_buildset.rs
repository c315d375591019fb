//! Buildset pods against the real test cluster (docs/config.md, "Buildset pods"): a pod node of
//! a label with `kubepool.io/buildset-namespace`, launched for a request of buildset X, goes
//! into the namespace of the namespace node of buildset X with credentials of its own; without
//! such a namespace it gets a fresh one; deleting it leaves the namespace and the parent's
//! objects; and the launcher's leak pass deletes its objects, not the namespace, once its node
//! record is gone. The drivers are built from a nodepool.yaml text, as `kubepool launcher`
//! builds them.

mod common;
mod zk_support;

use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Api;
use kubepool::launcher::engine::{self, Setup};
use kubepool::zk::{Node, NodeState, RequestState};
use kubepool_driver_api::{Driver, LaunchedNode, NoProgress, NodeSpec, RequestAttributes};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zk_support::TestZk;

const NAMESPACE_LABEL: &str = "bs-namespace";
const POD_LABEL: &str = "bs-pod";

/// A nodepool.yaml with one kubernetes provider: a namespace label and a buildset pod label.
fn nodepool_yaml(provider: &str, pool: &str) -> String {
    format!(
        "zookeeper-servers:\n  - host: localhost\n\
         labels:\n  - name: {NAMESPACE_LABEL}\n  - name: {POD_LABEL}\n\
         providers:\n  - name: {provider}\n    driver: kubernetes\n    pools:\n      - name: {pool}\n        labels:\n\
         \x20         - name: {NAMESPACE_LABEL}\n            type: namespace\n\
         \x20         - name: {POD_LABEL}\n            type: pod\n            image: {image}\n            image-pull: Never\n\
         \x20           annotations:\n              kubepool.io/buildset-namespace: true\n",
        image = common::test_image()
    )
}

/// The drivers and pool plans of that file, set up as the launcher does.
async fn providers(provider: &str, pool: &str) -> kubepool::launcher::setup::Providers {
    common::init_logging();
    let yaml = nodepool_yaml(provider, pool);
    let config = kubepool::config::parse(std::path::Path::new("nodepool.yaml"), &yaml).expect("valid config");
    assert!(config.providers[0].pools[0].labels[1].buildset_namespace, "the option is read");
    let metrics = kubepool::metrics::Metrics::new();
    let settings = kubepool::launcher::setup::ClusterSettings::default();
    kubepool::launcher::setup::providers(&config, &metrics, &settings).await.expect("providers")
}

/// A launcher engine in the test process on the test's ZooKeeper chroot, set up from
/// [`providers`], with a cleanup pass every `cleanup_interval`.
struct Engine {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), kubepool::zk::ZkError>>,
}

impl Engine {
    fn start(zk: &TestZk, providers: kubepool::launcher::setup::Providers, cleanup_interval: Duration) -> Self {
        let setup = Setup {
            zookeeper: zk.options(),
            hostname: "buildset-test".into(),
            metrics: kubepool::metrics::Metrics::new(),
            drivers: providers.drivers,
            clouds: providers.clouds,
            pools: providers.pools,
            cleanup_interval,
            policies: Default::default(),
            shutdown_grace: Duration::from_secs(30),
            reloads: None,
            store_slot: None,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(engine::run(setup, async {
            let _ = stopped.await;
        }));
        Self { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("engine stops")
            .expect("engine task")
            .expect("engine result");
    }
}

async fn driver(provider: &str, pool: &str) -> Arc<dyn Driver> {
    providers(provider, pool).await.drivers.remove(provider).expect("the provider's driver")
}

fn spec(provider: &str, pool: &str, label: &str, node_id: &str, buildset: Option<&str>) -> NodeSpec {
    NodeSpec {
        node_id: node_id.into(),
        provider: provider.into(),
        pool: pool.into(),
        label: label.into(),
        request: RequestAttributes {
            id: "200-0000000001".into(),
            requestor_data: buildset.map(|uuid| serde_json::json!({"build_set_uuid": uuid, "job_name": "child"})),
            ..Default::default()
        },
    }
}

/// A buildset uuid as Zuul makes them (`uuid4().hex`), unique to the test.
fn buildset_uuid() -> String {
    format!("{:032x}", rand::random::<u128>())
}

struct Names {
    provider: String,
    pool: String,
}

impl Names {
    fn new(prefix: &str) -> Self {
        Self { provider: common::unique_name(&format!("{prefix}-provider")), pool: common::unique_name(prefix) }
    }
}

impl Drop for Names {
    /// Whatever a failed test left: its pool's namespaces.
    fn drop(&mut self) {
        let _ = std::process::Command::new(common::kubectl())
            .args(["delete", "namespace", "-l", &format!("nodepool_pool_name={}", self.pool), "--wait=false"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Which of the node `pod`'s own objects (pod, service account, Role, RoleBinding) exist in
/// `namespace`.
async fn own_objects(namespace: &str, pod: &str) -> Vec<&'static str> {
    let client = common::admin_client().await;
    let mut found = Vec::new();
    if Api::<Pod>::namespaced(client.clone(), namespace).get_opt(pod).await.expect("get pod").is_some() {
        found.push("pod");
    }
    if Api::<ServiceAccount>::namespaced(client.clone(), namespace).get_opt(pod).await.expect("get sa").is_some() {
        found.push("serviceaccount");
    }
    if Api::<Role>::namespaced(client.clone(), namespace).get_opt(pod).await.expect("get role").is_some() {
        found.push("role");
    }
    if Api::<RoleBinding>::namespaced(client.clone(), namespace).get_opt(pod).await.expect("get binding").is_some() {
        found.push("rolebinding");
    }
    found
}

async fn namespace_exists(name: &str) -> bool {
    let namespaces: Api<Namespace> = Api::all(common::admin_client().await);
    namespaces.get_opt(name).await.expect("get namespace").is_some_and(|ns| ns.metadata.deletion_timestamp.is_none())
}

/// The parent's own objects (its service account and Role `zuul`) are still in `namespace`.
async fn parent_objects_exist(namespace: &str) -> bool {
    let client = common::admin_client().await;
    let account = Api::<ServiceAccount>::namespaced(client.clone(), namespace).get_opt("zuul-worker").await;
    let role = Api::<Role>::namespaced(client, namespace).get_opt("zuul").await;
    account.expect("get").is_some() && role.expect("get").is_some()
}

/// What the child's own credentials may and may not do, with the real kubectl and the
/// kubeconfig Zuul's executor writes; returns the mismatches.
fn child_rights(child: &LaunchedNode, pod: &str, other_namespace: &str) -> Vec<String> {
    let scratch = common::Scratch::new("kp-buildset");
    let kubeconfig = scratch.0.join("config");
    common::executor_kubeconfig(child, &kubeconfig);
    let job_pod = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"from-parent-image"}},"spec":{{"automountServiceAccountToken":false,"terminationGracePeriodSeconds":1,"containers":[{{"name":"c","image":"{}","imagePullPolicy":"Never","command":["sleep","60"]}}]}}}}"#,
        common::test_image()
    );
    let checks: Vec<(&str, Vec<&str>, Option<&str>, bool)> = vec![
        ("exec into its own pod", vec!["exec", pod, "--", "true"], None, true),
        ("read its own pod's log", vec!["logs", pod], None, true),
        ("start a pod in the namespace", vec!["create", "-f", "-"], Some(job_pod.as_str()), true),
        ("list the namespace's pods", vec!["get", "pods"], None, true),
        ("delete the pod it started", vec!["delete", "pod", "from-parent-image", "--wait=false"], None, true),
        ("read secrets", vec!["get", "secrets"], None, false),
        ("create a configmap", vec!["create", "configmap", "x", "--from-literal=a=b"], None, false),
        ("create a service", vec!["create", "service", "clusterip", "x", "--tcp=80:80"], None, false),
        ("read another namespace", vec!["-n", other_namespace, "get", "pods"], None, false),
        ("create a role (escalation)", vec!["create", "role", "x", "--verb=get", "--resource=pods"], None, false),
    ];
    common::rbac_failures(&kubeconfig, &checks)
}

/// The kubeconfig Zuul's executor writes (its own `prepareKubeConfig`) for `nodes` of one job;
/// with each node's context, kubectl execs into that node's pod. Returns the failures.
async fn one_job_kubeconfig(nodes: &[(&LaunchedNode, &str)]) -> Vec<String> {
    let scratch = common::Scratch::new("kp-buildset-zuul");
    let ports: Vec<&serde_json::Value> = nodes.iter().map(|(node, _)| &node.connection_port).collect();
    let kubeconfig = scratch.0.join("kubeconfig");
    let contexts = zk_support::zuul_kubeconfig(&ports, &kubeconfig).await;
    let mut failures = Vec::new();
    for ((_, pod), context) in nodes.iter().zip(&contexts) {
        let (ok, output) = common::kubectl_as(&kubeconfig, &["--context", context, "exec", pod, "--", "true"], None);
        if !ok {
            failures.push(format!("exec into {pod} with context {context}: {output}"));
        }
    }
    failures
}

/// (a) and (c): the child lands in the parent's namespace, is ready, has exactly its rights;
/// deleting it leaves the namespace and the parent's objects; deleting the parent deletes the
/// namespace with a second child's objects, and that child's later delete succeeds.
#[tokio::test]
async fn a_buildset_pod_runs_in_its_parents_namespace_and_leaves_it_when_deleted() {
    let names = Names::new("kpbs");
    let (provider, pool) = (names.provider.as_str(), names.pool.as_str());
    let driver = driver(provider, pool).await;
    let uuid = buildset_uuid();
    let parent = driver
        .launch(&spec(provider, pool, NAMESPACE_LABEL, "0000000001", Some(&uuid)), &NoProgress)
        .await
        .expect("launch the parent");
    let namespace = parent.external_id.clone();
    assert_eq!(namespace, format!("{pool}-0000000001"));
    let namespaces: Api<Namespace> = Api::all(common::admin_client().await);
    let labels = namespaces.get(&namespace).await.expect("namespace").metadata.labels.expect("labels");
    assert_eq!(labels.get("kubepool.io/buildset"), Some(&uuid), "{labels:?}");

    let child = driver
        .launch(&spec(provider, pool, POD_LABEL, "0000000002", Some(&uuid)), &NoProgress)
        .await
        .expect("launch the child");
    let pod = format!("{POD_LABEL}-0000000002");
    assert_eq!(child.external_id, format!("{namespace}/{pod}"));
    assert_eq!(child.connection_type, "kubectl");
    assert_eq!(child.interface_ip.as_deref(), Some(pod.as_str()));
    let port = &child.connection_port;
    assert_eq!(
        (port["namespace"].as_str(), port["name"].as_str()),
        (Some(namespace.as_str()), Some(namespace.as_str()))
    );
    assert_eq!(port["pod"], pod.as_str());
    assert_eq!(port["user"], pod.as_str(), "a kubeconfig user of its own");
    let token = port["token"].as_str().expect("token");
    assert_ne!(token, parent.connection_port["token"].as_str().expect("parent token"), "a token of its own");
    assert_eq!(
        common::token_identity(token).await.as_deref(),
        Some(format!("system:serviceaccount:{namespace}:{pod}").as_str())
    );
    let child_pod = Api::<Pod>::namespaced(common::admin_client().await, &namespace).get(&pod).await.expect("pod");
    let pod_labels = child_pod.metadata.labels.expect("labels");
    assert_eq!(pod_labels.get("nodepool_node_id").map(String::as_str), Some("0000000002"));
    assert_eq!(pod_labels.get("nodepool_provider_name").map(String::as_str), Some(provider));
    let ready = child_pod.status.and_then(|s| s.conditions).unwrap_or_default();
    assert!(ready.iter().any(|c| c.type_ == "Ready" && c.status == "True"), "pod Ready: {ready:?}");
    assert_eq!(own_objects(&namespace, &pod).await, ["pod", "serviceaccount", "role", "rolebinding"]);

    // Its rights, checked against another node's namespace of this test.
    let other = driver
        .launch(&spec(provider, pool, NAMESPACE_LABEL, "0000000003", None), &NoProgress)
        .await
        .expect("launch another namespace node");
    let failures = child_rights(&child, &pod, &other.external_id);

    // A second child of the same buildset (a job with two such nodes), still there when the
    // parent goes: Zuul's own executor code writes one kubeconfig for both, and each context
    // reaches its pod.
    let second = driver
        .launch(&spec(provider, pool, POD_LABEL, "0000000004", Some(&uuid)), &NoProgress)
        .await
        .expect("launch a second child");
    let second_pod = format!("{POD_LABEL}-0000000004");
    assert_eq!(second.external_id, format!("{namespace}/{second_pod}"));
    let kubeconfig_failures = one_job_kubeconfig(&[(&child, &pod), (&second, &second_pod)]).await;

    let listed = driver.list_resources().await.expect("list");
    let listed: Vec<_> = listed.into_iter().map(|r| (r.external_id, r.node_id)).collect();

    driver.delete(&child.external_id).await.expect("delete the child");
    let after_child = own_objects(&namespace, &pod).await;
    let namespace_kept = namespace_exists(&namespace).await;
    let parent_kept = parent_objects_exist(&namespace).await;

    driver.delete(&parent.external_id).await.expect("delete the parent");
    let namespace_after_parent = namespaces.get_opt(&namespace).await.expect("get").is_some();
    driver.delete(&second.external_id).await.expect("the second child's delete after its namespace is gone");
    driver.delete(&other.external_id).await.expect("delete the other node");

    assert!(failures.is_empty(), "{failures:#?}");
    assert!(kubeconfig_failures.is_empty(), "{kubeconfig_failures:#?}");
    assert!(listed.contains(&(namespace.clone(), Some("0000000001".into()))), "{listed:?}");
    assert!(listed.contains(&(child.external_id.clone(), Some("0000000002".into()))), "{listed:?}");
    assert!(after_child.is_empty(), "the child's objects left: {after_child:?}");
    assert!(namespace_kept, "deleting the child deleted the namespace");
    assert!(parent_kept, "deleting the child deleted the parent's objects");
    assert!(!namespace_after_parent, "the namespace outlived its parent node");
}

/// (b): no namespace of the buildset (none at all, or only of another buildset or provider) —
/// the pod node gets a namespace of its own, as an ordinary pod node.
#[tokio::test]
async fn without_a_namespace_of_its_buildset_a_buildset_pod_gets_a_fresh_namespace() {
    let names = Names::new("kpbsf");
    let (provider, pool) = (names.provider.as_str(), names.pool.as_str());
    let driver = driver(provider, pool).await;
    let other_buildset = driver
        .launch(&spec(provider, pool, NAMESPACE_LABEL, "0000000001", Some(&buildset_uuid())), &NoProgress)
        .await
        .expect("a namespace node of another buildset");
    let child = driver
        .launch(&spec(provider, pool, POD_LABEL, "0000000002", Some(&buildset_uuid())), &NoProgress)
        .await
        .expect("launch the child");
    let fresh = format!("{pool}-0000000002");
    assert_eq!(child.external_id, fresh);
    assert_eq!(child.connection_port["namespace"], fresh.as_str());
    assert_eq!(child.connection_port["pod"], POD_LABEL, "an ordinary pod node's pod");
    let no_buildset = driver
        .launch(&spec(provider, pool, POD_LABEL, "0000000003", None), &NoProgress)
        .await
        .expect("launch without a buildset");
    assert_eq!(no_buildset.external_id, format!("{pool}-0000000003"));
    for node in [&child, &no_buildset, &other_buildset] {
        driver.delete(&node.external_id).await.expect("delete");
    }
    assert!(!namespace_exists(&fresh).await);
}

/// (d): the launcher's leak pass (a real engine on a ZooKeeper chroot of its own, a pass every
/// 2 s) deletes the objects of a buildset pod whose node record is gone — not the namespace,
/// whose parent's record exists, nor the parent's objects.
#[tokio::test]
async fn the_leak_pass_deletes_a_gone_childs_objects_but_not_the_shared_namespace() {
    let names = Names::new("kpbsl");
    let (provider, pool) = (names.provider.as_str(), names.pool.as_str());
    let zk = TestZk::new().await;
    zk.store.ensure_roots().await.expect("roots");
    let providers = providers(provider, pool).await;
    let driver = providers.drivers.get(provider).expect("driver").clone();

    // The parent's node record exists (held); the child's never did (a launcher died).
    let mut record = Node::new(NAMESPACE_LABEL);
    record.provider = Some(provider.to_string());
    record.pool = Some(pool.to_string());
    record.state = NodeState::Hold;
    let parent_id = zk.store.create_node(&record).await.expect("create node").id;
    let uuid = buildset_uuid();
    let parent = driver
        .launch(&spec(provider, pool, NAMESPACE_LABEL, &parent_id, Some(&uuid)), &NoProgress)
        .await
        .expect("launch the parent");
    let namespace = parent.external_id.clone();
    let leaked = driver
        .launch(&spec(provider, pool, POD_LABEL, "9999999998", Some(&uuid)), &NoProgress)
        .await
        .expect("launch the child");
    let pod = format!("{POD_LABEL}-9999999998");
    assert_eq!(leaked.external_id, format!("{namespace}/{pod}"));

    let engine = Engine::start(&zk, providers, Duration::from_secs(2));
    // Two passes 2 s apart, then the pod's deletion (a loaded 2-core node may be slow to stop it).
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut left = own_objects(&namespace, &pod).await;
    while !left.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        left = own_objects(&namespace, &pod).await;
    }
    // Two more passes: the namespace must survive them too.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let namespace_kept = namespace_exists(&namespace).await;
    let parent_kept = parent_objects_exist(&namespace).await;
    engine.stop().await;
    driver.delete(&namespace).await.expect("delete the parent");
    zk.cleanup().await;

    assert!(left.is_empty(), "the leaked child's objects are still there: {left:?}");
    assert!(namespace_kept, "the leak pass deleted the namespace of a live parent");
    assert!(parent_kept, "the leak pass deleted the parent's objects");
}

/// Submits a request for `label` of buildset `uuid` with Zuul's own code; a child of a paused
/// parent names the parent's provider.
async fn zuul_submits(zk: &TestZk, label: &str, uuid: &str, provider: Option<&str>) -> String {
    let mut args = zk.hosts();
    args.extend(["--label".into(), label.into(), "--build-set-uuid".into(), uuid.into()]);
    if let Some(provider) = provider {
        args.extend(["--provider".into(), provider.into()]);
    }
    let submitted = zk_support::run_peer("zuul_submit_request.py", &args).await;
    submitted["id"].as_str().expect("request id").to_string()
}

/// Waits until request `id` is fulfilled; returns its node's id and record.
async fn fulfilled_node(zk: &TestZk, id: &str) -> (String, Node) {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let request = zk.store.get_request(id).await.expect("read request").expect("request").value;
        match request.state {
            RequestState::Fulfilled => {
                let node_id = request.nodes.first().expect("a node").clone();
                let node = zk.store.get_node(&node_id).await.expect("read node").expect("node").value;
                return (node_id, node);
            }
            RequestState::Failed => panic!("request {id} failed"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "request {id} still {:?}", request.state);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_until_gone(zk: &TestZk, node_id: &str) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while zk.store.node_ids().await.expect("node ids").iter().any(|id| id == node_id) {
        assert!(Instant::now() < deadline, "node {node_id} not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// End to end with Zuul's own requests and the real launcher set up from nodepool.yaml: the
/// parent's namespace node of buildset X, then the child's request (Zuul's child of a paused
/// parent: provider = the parent's, same buildset) — its node record names the parent's
/// namespace, its own pod and token; returning the child leaves the namespace, returning the
/// parent removes it.
#[tokio::test]
async fn zuuls_requests_of_one_buildset_put_the_child_into_the_parents_namespace() {
    let names = Names::new("kpbsz");
    let (provider, pool) = (names.provider.as_str(), names.pool.as_str());
    let zk = TestZk::new().await;
    zk.store.ensure_roots().await.expect("roots");
    let engine = Engine::start(&zk, providers(provider, pool).await, Duration::from_secs(60));
    let uuid = buildset_uuid();

    let parent_request = zuul_submits(&zk, NAMESPACE_LABEL, &uuid, None).await;
    let (parent_id, parent) = fulfilled_node(&zk, &parent_request).await;
    let namespace = parent.external_id.clone().expect("external id");
    let child_request = zuul_submits(&zk, POD_LABEL, &uuid, Some(provider)).await;
    let (child_id, child) = fulfilled_node(&zk, &child_request).await;
    let pod = format!("{POD_LABEL}-{child_id}");

    let port = &child.connection_port;
    let child_seen = (
        child.external_id.clone(),
        child.connection_type.clone(),
        port["namespace"].as_str().map(str::to_string),
        port["pod"].as_str().map(str::to_string),
        port["token"] != parent.connection_port["token"],
    );
    zk_support::zuul_returns(&zk.store, &[child_request], std::slice::from_ref(&child_id)).await;
    wait_until_gone(&zk, &child_id).await;
    let after_child = own_objects(&namespace, &pod).await;
    let namespace_kept = namespace_exists(&namespace).await;
    zk_support::zuul_returns(&zk.store, &[parent_request], std::slice::from_ref(&parent_id)).await;
    wait_until_gone(&zk, &parent_id).await;
    let namespace_after_parent = namespace_exists(&namespace).await;
    engine.stop().await;
    zk.cleanup().await;

    assert_eq!(
        child_seen,
        (
            Some(format!("{namespace}/{pod}")),
            Some("kubectl".to_string()),
            Some(namespace.clone()),
            Some(pod.clone()),
            true
        )
    );
    assert!(after_child.is_empty(), "the child's objects left: {after_child:?}");
    assert!(namespace_kept, "returning the child deleted the namespace");
    assert!(!namespace_after_parent, "the namespace outlived its parent node");
}
