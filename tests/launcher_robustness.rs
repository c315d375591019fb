//! The launcher under conditions Nodepool deployments meet: two launchers on one request
//! stream, bad data in ZooKeeper, leaked namespaces, and requests lost by a dead launcher.

mod common;
#[path = "support/launcher.rs"]
mod launcher_support;
mod zk_support;

use k8s_openapi::api::core::v1::Namespace;
use kubepool::zk::{Node, NodeRequest, NodeState, RequestState, Store};
use launcher_support::{Launcher, Options, PROVIDER, namespace_exists, submit, wait_for_state, wait_until_gone};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};
use zk_support::TestZk;

/// Marks the nodes `used` (as Zuul's executor does at the end of a job) so the launcher
/// deletes them, and waits until they are gone.
async fn return_nodes(store: &Store, ids: &[String]) {
    zk_support::zuul_returns(store, &[], ids).await;
    wait_until_gone(store, ids, Duration::from_secs(180)).await;
}

#[tokio::test]
async fn two_launchers_on_one_pool_never_double_allocate_and_share_its_quota() {
    let zk = TestZk::new().await;
    let first = Launcher::start(&zk, 4, None).await;
    let second = Launcher::start(&zk, 4, Some(&first.pool)).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(submit(&zk, &["k8s-namespace"]).await);
    }
    // Four fit the pool's max-servers; watch that the pool never holds more than four nodes.
    let (fulfilled, mut most) =
        zk_support::await_fulfilled(&zk.store, &ids, 4, Duration::from_secs(120), String::new).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    most = most.max(zk.store.node_ids().await.expect("ids").len());
    let mut waiting = 0;
    for id in &ids {
        let request = zk.store.get_request(id).await.expect("read").expect("request").value;
        match request.state {
            RequestState::Fulfilled => {}
            RequestState::Requested => waiting += 1,
            other => panic!("request {id} is {other:?}"),
        }
    }
    assert_eq!(fulfilled.len(), 4, "exactly max-servers requests served");
    assert_eq!(waiting, 2, "the rest wait for quota");
    assert!(most <= 4, "the pool held {most} nodes, max-servers is 4");
    let nodes: Vec<String> = fulfilled.iter().flat_map(|(_, r)| r.nodes.clone()).collect();
    assert_eq!(nodes.iter().collect::<HashSet<_>>().len(), nodes.len(), "no node given to two requests");
    for (id, request) in &fulfilled {
        let node = zk.store.get_node(&request.nodes[0]).await.expect("read").expect("node").value;
        assert_eq!(node.allocated_to.as_deref(), Some(id.as_str()), "node allocated to the request it was given to");
    }
    // Returning two nodes lets the two waiting requests through.
    return_nodes(&zk.store, &nodes[..2]).await;
    for id in &ids {
        assert_eq!(wait_for_state(&zk.store, id, Duration::from_secs(120)).await.state, RequestState::Fulfilled);
    }
    let all: Vec<String> = zk.store.node_ids().await.expect("ids");
    return_nodes(&zk.store, &all).await;
    first.stop().await;
    second.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn bad_zookeeper_data_is_skipped_or_declined_and_the_launcher_keeps_serving() {
    let zk = TestZk::new().await;
    zk.store.ensure_roots().await.expect("roots");
    let raw = |path: &'static str, data: &'static [u8]| {
        let client = zk.client.clone();
        async move {
            client
                .create(
                    path,
                    data,
                    &zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all()),
                )
                .await
                .expect("create raw znode");
        }
    };
    raw("/nodepool/requests/100-0000000001", b"{not json").await;
    raw("/nodepool/requests/100-0000000002", br#"{"state": "requested", "state_time": 1}"#).await;
    raw("/nodepool/requests/100-0000000003", br#"{"state": "requested", "node_types": ["no-such-label"]}"#).await;
    raw("/nodepool/requests/100-0000000004", br#"{"state": "requested", "node_types": "k8s-namespace"}"#).await;
    raw("/nodepool/requests/not-a-request-id", br#"{"state": "requested", "node_types": ["k8s-namespace"]}"#).await;
    raw("/nodepool/nodes/0000000099", b"\x00\xff garbage").await;
    let launcher = Launcher::start(&zk, 10, None).await;

    let good = submit(&zk, &["k8s-namespace"]).await;
    let served = wait_for_state(&zk.store, &good, Duration::from_secs(60)).await;
    assert_eq!(served.state, RequestState::Fulfilled, "a good request is served despite the bad ones");
    for id in ["100-0000000002", "100-0000000003"] {
        let request = wait_for_state(&zk.store, id, Duration::from_secs(30)).await;
        assert_eq!(request.state, RequestState::Failed, "{id} declined by the only pool");
    }
    // Undecodable data is left as it was (never lost, never overwritten).
    let (data, _) = zk.client.get_data("/nodepool/requests/100-0000000001").await.expect("still there");
    assert_eq!(data, b"{not json");
    let (data, _) = zk.client.get_data("/nodepool/nodes/0000000099").await.expect("still there");
    assert_eq!(data, b"\x00\xff garbage");
    return_nodes(&zk.store, &served.nodes).await;
    launcher.stop().await;
    zk.cleanup().await;
}

async fn labelled_namespace(name: &str, pool: &str, node_id: &str) {
    let namespaces: kube::Api<Namespace> = kube::Api::all(common::admin_client().await);
    let labels = BTreeMap::from([
        ("nodepool_provider_name".to_string(), PROVIDER.to_string()),
        ("nodepool_pool_name".to_string(), pool.to_string()),
        ("nodepool_node_id".to_string(), node_id.to_string()),
        ("nodepool_node_label".to_string(), "k8s-namespace".to_string()),
    ]);
    let ns = Namespace {
        metadata: kube::api::ObjectMeta { name: Some(name.into()), labels: Some(labels), ..Default::default() },
        ..Default::default()
    };
    namespaces.create(&Default::default(), &ns).await.expect("create namespace");
}

#[tokio::test]
async fn leaked_namespaces_are_deleted_and_namespaces_with_a_node_are_kept() {
    let zk = TestZk::new().await;
    zk.store.ensure_roots().await.expect("roots");
    let pool = common::unique_name("kpl");
    // A namespace whose node record exists (a launch in progress) and one whose record is gone.
    let mut node = Node::new("k8s-namespace");
    node.provider = Some(PROVIDER.into());
    node.pool = Some(pool.clone());
    node.state = NodeState::Hold;
    let kept = zk.store.create_node(&node).await.expect("create node");
    let kept_ns = format!("{pool}-{}", kept.id);
    let leaked_ns = format!("{pool}-9999999999");
    labelled_namespace(&kept_ns, &pool, &kept.id).await;
    labelled_namespace(&leaked_ns, &pool, "9999999999").await;

    let launcher = Launcher::start_with(
        &zk,
        Options { pool: Some(pool.clone()), cleanup_interval: Duration::from_secs(2), ..Options::default() },
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while namespace_exists(&leaked_ns).await {
        assert!(Instant::now() < deadline, "leaked namespace {leaked_ns} still there");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(namespace_exists(&kept_ns).await, "a namespace with a node record is not a leak");
    launcher.stop().await;
    let namespaces: kube::Api<Namespace> = kube::Api::all(common::admin_client().await);
    namespaces.delete(&kept_ns, &kube::api::DeleteParams::background()).await.expect("delete kept namespace");
    zk.cleanup().await;
}

#[tokio::test]
async fn a_request_lost_by_a_dead_launcher_is_served_again() {
    let zk = TestZk::new().await;
    zk.store.ensure_roots().await.expect("roots");
    // What a launcher killed mid-launch leaves: a pending request nobody holds, and a building
    // node allocated to it that nobody holds.
    let mut request = NodeRequest::new(vec!["k8s-namespace".into()]);
    request.set_state(RequestState::Pending);
    let lost = zk.store.create_request("200", &request, false).await.expect("create request");
    let mut node = Node::new("k8s-namespace");
    node.provider = Some(PROVIDER.into());
    node.pool = Some("dead-launchers-pool".into());
    node.allocated_to = Some(lost.id.clone());
    node.state = NodeState::Building;
    let orphan = zk.store.create_node(&node).await.expect("create node");

    let launcher =
        Launcher::start_with(&zk, Options { cleanup_interval: Duration::from_secs(2), ..Options::default() }).await;
    let served = wait_for_state(&zk.store, &lost.id, Duration::from_secs(60)).await;
    assert_eq!(served.state, RequestState::Fulfilled);
    assert!(!served.nodes.contains(&orphan.id), "the dead launcher's node is not handed out");
    wait_until_gone(&zk.store, std::slice::from_ref(&orphan.id), Duration::from_secs(30)).await;
    return_nodes(&zk.store, &served.nodes).await;
    launcher.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn an_unused_node_past_max_ready_age_is_deleted() {
    let zk = TestZk::new().await;
    let policies = kubepool::launcher::policies::Policies {
        max_ready_age: BTreeMap::from([("k8s-namespace".to_string(), 2)]),
        ..Default::default()
    };
    let launcher =
        Launcher::start_with(&zk, Options { cleanup_interval: Duration::from_secs(1), policies, ..Options::default() })
            .await;
    let id = submit(&zk, &["k8s-namespace"]).await;
    let request = wait_for_state(&zk.store, &id, Duration::from_secs(60)).await;
    assert_eq!(request.state, RequestState::Fulfilled);
    // Zuul cancels the build: the request goes, the node is released, unused, and ages out.
    zk.store.delete_request(&id).await.expect("delete request");
    wait_until_gone(&zk.store, &request.nodes, Duration::from_secs(60)).await;
    assert!(!namespace_exists(&format!("{}-{}", launcher.pool, request.nodes[0])).await);
    launcher.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn a_tenant_at_its_limit_waits_while_other_tenants_are_served() {
    let zk = TestZk::new().await;
    let policies = kubepool::launcher::policies::Policies {
        tenant_limits: BTreeMap::from([(
            "example-tenant".to_string(),
            kubepool_driver_api::Limits::unlimited().with("instances", 1),
        )]),
        ..Default::default()
    };
    let launcher = Launcher::start_with(&zk, Options { policies, ..Options::default() }).await;
    let first = submit(&zk, &["k8s-namespace"]).await;
    let second = submit(&zk, &["k8s-namespace"]).await;
    let served = wait_for_state(&zk.store, &first, Duration::from_secs(60)).await;
    assert_eq!(served.state, RequestState::Fulfilled);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let waiting = zk.store.get_request(&second).await.expect("read").expect("request").value;
    assert_eq!(waiting.state, RequestState::Requested, "the tenant's second request waits");
    return_nodes(&zk.store, &served.nodes).await;
    let second_served = wait_for_state(&zk.store, &second, Duration::from_secs(60)).await;
    assert_eq!(second_served.state, RequestState::Fulfilled);
    return_nodes(&zk.store, &second_served.nodes).await;
    launcher.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn max_concurrency_bounds_the_launches_in_flight() {
    let zk = TestZk::new().await;
    let launcher = Launcher::start_with(&zk, Options { max_concurrency: Some(1), ..Options::default() }).await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(submit(&zk, &["k8s-namespace"]).await);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut most_building = 0;
    loop {
        let mut building = 0;
        for node in zk.store.list_nodes().await.expect("nodes") {
            if node.value.state == NodeState::Building {
                building += 1;
            }
        }
        most_building = most_building.max(building);
        let mut done = 0;
        for id in &ids {
            if zk.store.get_request(id).await.expect("read").expect("request").value.state == RequestState::Fulfilled {
                done += 1;
            }
        }
        if done == ids.len() {
            break;
        }
        assert!(Instant::now() < deadline, "{done} of {} fulfilled", ids.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(most_building <= 1, "{most_building} nodes were building at once with max-concurrency 1");
    let all = zk.store.node_ids().await.expect("ids");
    return_nodes(&zk.store, &all).await;
    launcher.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn min_ready_keeps_ready_nodes_that_zuul_requests_then_reuse() {
    let zk = TestZk::new().await;
    let policies = kubepool::launcher::policies::Policies {
        min_ready: BTreeMap::from([("k8s-namespace".to_string(), 2)]),
        ..Default::default()
    };
    let launcher = Launcher::start_with(&zk, Options { policies, ..Options::default() }).await;
    let ready_unallocated = |nodes: Vec<kubepool::zk::Versioned<Node>>| -> Vec<String> {
        nodes
            .into_iter()
            .filter(|n| n.value.state == NodeState::Ready && n.value.allocated_to.is_none())
            .map(|n| n.id)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let waiting = loop {
        let ready = ready_unallocated(zk.store.list_nodes().await.expect("nodes"));
        if ready.len() >= 2 {
            break ready;
        }
        assert!(Instant::now() < deadline, "min-ready nodes not made: {ready:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(waiting.len(), 2, "exactly min-ready nodes");
    // The min-ready requests are gone once their nodes are released.
    let requests = zk.store.list_requests().await.expect("requests");
    assert!(requests.iter().all(
        |r| r.value.requestor.as_deref() != Some("NodePool:min-ready") || r.value.state != RequestState::Fulfilled
    ));

    // A Zuul request is served from a waiting node; the pool is then topped up again.
    let id = submit(&zk, &["k8s-namespace"]).await;
    let served = wait_for_state(&zk.store, &id, Duration::from_secs(60)).await;
    assert_eq!(served.state, RequestState::Fulfilled);
    assert!(waiting.contains(&served.nodes[0]), "reused a min-ready node: {:?} from {waiting:?}", served.nodes);
    let deadline = Instant::now() + Duration::from_secs(60);
    while ready_unallocated(zk.store.list_nodes().await.expect("nodes")).len() < 2 {
        assert!(Instant::now() < deadline, "min-ready not restored");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pool = launcher.pool.clone();
    launcher.stop().await;
    common::delete_pool_namespaces(&pool).await;
    zk.cleanup().await;
}

#[tokio::test]
async fn at_quota_a_ready_node_is_reused_and_an_unused_one_of_another_label_is_freed() {
    let zk = TestZk::new().await;
    let launcher = Launcher::start(&zk, 1, None).await;
    // A cancelled build leaves a ready, unallocated node: the pool is full (max-servers 1).
    let first = submit(&zk, &["k8s-namespace"]).await;
    let first_served = wait_for_state(&zk.store, &first, Duration::from_secs(60)).await;
    zk.store.delete_request(&first).await.expect("cancel");
    let deadline = Instant::now() + Duration::from_secs(30);
    while zk.store.get_node(&first_served.nodes[0]).await.expect("read").expect("node").value.allocated_to.is_some() {
        assert!(Instant::now() < deadline, "node not released");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Same label: served from that node although the pool is at quota.
    let second = submit(&zk, &["k8s-namespace"]).await;
    let second_served = wait_for_state(&zk.store, &second, Duration::from_secs(30)).await;
    assert_eq!(second_served.state, RequestState::Fulfilled);
    assert_eq!(second_served.nodes, first_served.nodes, "the ready node was reused");
    zk.store.delete_request(&second).await.expect("cancel");
    // Another label: the unused node is deleted to make room, then the request is served.
    let third = submit(&zk, &["k8s-namespace-b"]).await;
    let third_served = wait_for_state(&zk.store, &third, Duration::from_secs(120)).await;
    assert_eq!(third_served.state, RequestState::Fulfilled);
    assert!(zk.store.get_node(&first_served.nodes[0]).await.expect("read").is_none(), "unused node freed");
    return_nodes(&zk.store, &third_served.nodes).await;
    launcher.stop().await;
    zk.cleanup().await;
}
