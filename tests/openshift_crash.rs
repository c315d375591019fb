//! Crash safety of the openshift and openshiftpods drivers with the real `kubepool launcher`
//! process: killed with SIGKILL while it launches projects and pods, restarted, and given two
//! objects a crashed launcher left without node records (a requested project, a pod with its
//! service account). Every request is fulfilled, and once the nodes are returned one cleanup
//! pass leaves nothing: no project, namespace, pod, service account, token, Role or RoleBinding.

mod common;
#[path = "support/launcher_process.rs"]
mod launcher_process;
#[path = "support/openshift.rs"]
mod openshift;
#[path = "support/project_api.rs"]
mod project_api;
mod zk_support;

use launcher_process::start;

use common::Scratch;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kubepool::drivers::openshift::kinds::{Project, ProjectRequest};
use kubepool::zk::{NodeState, RequestState};
use openshift::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use zk_support::{TestZk, run_peer};

fn tls_zookeeper(zk: &TestZk) -> String {
    let server = common::required_env("KUBEPOOL_TEST_ZK_TLS");
    let (host, port) = server.rsplit_once(':').expect("host:port");
    format!(
        "zookeeper-servers:\n  - host: {host}\n    port: {port}\n    chroot: {chroot}\n\
         zookeeper-tls:\n  ca: {ca}\n  cert: {cert}\n  key: {key}",
        chroot = zk.chroot,
        ca = common::required_env("KUBEPOOL_TEST_ZK_CA"),
        cert = common::required_env("KUBEPOOL_TEST_ZK_CERT"),
        key = common::required_env("KUBEPOOL_TEST_ZK_KEY"),
    )
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// What is left of the test's nodes in the cluster, by kind.
async fn leftovers(client: &kube::Client, pool: &str, pods_namespace: &str) -> Vec<String> {
    let mut left = Vec::new();
    let projects: Api<Project> = Api::all(client.clone());
    for project in projects.list(&ListParams::default()).await.expect("projects").items {
        let name = project.metadata.name.unwrap_or_default();
        if name.starts_with(pool) {
            left.push(format!("project {name}"));
        }
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for namespace in namespaces.list_metadata(&ListParams::default()).await.expect("namespaces").items {
        let name = namespace.metadata.name.unwrap_or_default();
        if name.starts_with(pool) {
            left.push(format!("namespace {name}"));
        }
    }
    let selector = ListParams::default().labels(&format!("nodepool_provider_name={PODS_PROVIDER}"));
    let names = |kind: &str, items: Vec<ObjectMeta>| -> Vec<String> {
        items.into_iter().map(|m| format!("{kind} {}", m.name.unwrap_or_default())).collect()
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), pods_namespace);
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), pods_namespace);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), pods_namespace);
    let roles: Api<Role> = Api::namespaced(client.clone(), pods_namespace);
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), pods_namespace);
    left.extend(names("pod", metas(pods.list_metadata(&selector).await.expect("pods"))));
    left.extend(names("serviceaccount", metas(accounts.list_metadata(&selector).await.expect("accounts"))));
    left.extend(names("secret", metas(secrets.list_metadata(&selector).await.expect("secrets"))));
    left.extend(names("role", metas(roles.list_metadata(&selector).await.expect("roles"))));
    left.extend(names("rolebinding", metas(bindings.list_metadata(&selector).await.expect("bindings"))));
    left
}

fn metas<K: Clone>(list: kube::api::ObjectList<kube::api::PartialObjectMeta<K>>) -> Vec<ObjectMeta> {
    list.items.into_iter().map(|o| o.metadata).collect()
}

/// What a launcher that died after creating them (and whose node records are gone) leaves:
/// a requested project, and a pod with its service account.
async fn plant_leaks(client: &kube::Client, pool: &str, pods_namespace: &str) -> (String, String) {
    let project = format!("{pool}-9000000001");
    let requests: Api<ProjectRequest> = Api::all(client.clone());
    let request = ProjectRequest::new(ObjectMeta { name: Some(project.clone()), ..Default::default() });
    requests.create(&PostParams::default(), &request).await.expect("request the leaked project");
    let node_id = "9000000002";
    let pod_name = format!("{PODS_LABEL}-{node_id}");
    let labels = BTreeMap::from([
        ("nodepool_node_id".to_string(), node_id.to_string()),
        ("nodepool_provider_name".to_string(), PODS_PROVIDER.to_string()),
        ("nodepool_pool_name".to_string(), pods_namespace.to_string()),
        ("nodepool_node_label".to_string(), PODS_LABEL.to_string()),
    ]);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": pod_name, "labels": labels},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
            "name": "c", "image": common::test_image(), "imagePullPolicy": "Never", "command": ["sleep", "3600"],
        }]},
    }))
    .expect("pod body");
    let pods: Api<Pod> = Api::namespaced(client.clone(), pods_namespace);
    let created = pods.create(&PostParams::default(), &pod).await.expect("create the leaked pod");
    let owner = kubepool::drivers::openshiftpods::access::owned_by_pod(&pod_name, &created.metadata.uid.expect("uid"));
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(pod_name.clone()),
            labels: Some(labels),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        ..Default::default()
    };
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), pods_namespace);
    accounts.create(&PostParams::default(), &account).await.expect("create the leaked account");
    (project, pod_name)
}

#[tokio::test]
async fn sigkill_mid_launch_and_planted_leaks_leave_nothing_after_restart_and_cleanup() {
    let zk = TestZk::new().await;
    let pool = common::unique_name("os-c");
    let api = project_api::ProjectApi::start(&pool).await;
    let namespace = PodsNamespace::create("os-cpods").await;
    let scratch = Scratch::new("os-e2e");
    let config = scratch.0.join("nodepool.yaml");
    std::fs::write(&config, every_key_config(&tls_zookeeper(&zk), &pool, &namespace.name, 10)).expect("write config");
    let log = scratch.0.join("launcher.log");
    let admin = common::admin_client().await;

    let mut launcher = start(&config, &log);
    let mut ids = Vec::new();
    for (labels, count) in [(vec![PROJECT_LABEL, POD_LABEL], "2"), (vec![PODS_LABEL], "3")] {
        let mut args = zk.hosts();
        for label in labels {
            args.extend(["--label".to_string(), label.to_string()]);
        }
        args.extend(["--count".to_string(), count.to_string()]);
        let submitted = run_peer("zuul_submit_request.py", &args).await;
        ids.extend(submitted["ids"].as_array().expect("ids").iter().map(|v| v.as_str().expect("id").to_string()));
    }
    assert_eq!(ids.len(), 5);

    // Kill it twice in the middle of launches: as soon as a node is being built with its first
    // object made (its external id recorded) — each time a launch the previous process did not
    // start — restarting it each time.
    let started = Instant::now();
    let mut killed_during: Vec<String> = Vec::new();
    for kill in 0..2 {
        let deadline = Instant::now() + Duration::from_secs(90);
        let building = loop {
            let building: Vec<String> = zk
                .store
                .list_nodes()
                .await
                .expect("nodes")
                .into_iter()
                .filter(|n| n.value.state == NodeState::Building && n.value.external_id.is_some())
                .filter_map(|n| n.value.external_id)
                .filter(|e| !killed_during.contains(e))
                .collect();
            if !building.is_empty() {
                break building;
            }
            assert!(Instant::now() < deadline, "no launch in flight to kill");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        tokio::time::sleep(Duration::from_millis(rand::random::<u64>() % 500)).await;
        launcher.0.kill().expect("SIGKILL");
        launcher.0.wait().expect("reap");
        eprintln!(
            "crash: kill {kill} at {:?} with {} launches in flight: {building:?}",
            started.elapsed(),
            building.len()
        );
        killed_during.extend(building);
        launcher = start(&config, &log);
    }
    let (leaked_project, leaked_pod) = plant_leaks(&admin, &pool, &namespace.name).await;

    // Every request is fulfilled once the killed launchers' sessions expire.
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut nodes = Vec::new();
    for id in &ids {
        loop {
            let request = zk.store.get_request(id).await.expect("read").expect("request never lost").value;
            if request.state == RequestState::Fulfilled {
                nodes.extend(request.nodes);
                break;
            }
            assert_ne!(
                request.state,
                RequestState::Failed,
                "{id} failed\n{}",
                tail(&std::fs::read_to_string(&log).unwrap_or_default())
            );
            assert!(
                Instant::now() < deadline,
                "{id} is {:?}\n{}",
                request.state,
                tail(&std::fs::read_to_string(&log).unwrap_or_default())
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    eprintln!(
        "crash: 5 requests ({} nodes) fulfilled {:?} after submission, with 2 kills",
        nodes.len(),
        started.elapsed()
    );
    assert_eq!(nodes.len(), 7);

    // Zuul is done with them.
    zk_support::zuul_returns(&zk.store, &ids, &nodes).await;
    let returned = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let records = zk.store.node_ids().await.expect("ids");
        let left = leftovers(&admin, &pool, &namespace.name).await;
        if records.is_empty() && left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left: {} node records, {left:?}\n{}",
            records.len(),
            tail(&std::fs::read_to_string(&log).unwrap_or_default())
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eprintln!("crash: everything deleted {:?} after the nodes were returned", returned.elapsed());
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    for leaked in [&leaked_project, &format!("{}-{leaked_pod}", namespace.name)] {
        assert!(
            text.lines().any(|l| l.contains("deleting leaked resource") && l.contains(leaked.as_str())),
            "{leaked} removed by the leak cleanup\n{}",
            tail(&text)
        );
    }
    launcher.0.kill().expect("stop");
    launcher.0.wait().expect("reap");
    api.stop().await;
    zk.cleanup().await;
}
