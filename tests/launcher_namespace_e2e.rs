//! The launcher end to end, with real parts on both sides: requests submitted by Zuul's own
//! scheduler code, fulfilled with namespaces on the real test cluster, accepted, used and
//! returned by Zuul's own executor code, then deleted by the launcher.

mod common;
#[path = "support/launcher.rs"]
mod launcher_support;
mod zk_support;

use launcher_support::{Launcher, namespace_exists, submit, wait_for_state, wait_until_gone};

use kubepool::zk::RequestState;
use serde_json::Value;
use std::time::Duration;
use zk_support::{RunningPeer, TestZk};

#[tokio::test]
async fn zuul_request_is_fulfilled_used_returned_and_cleaned_up() {
    let zk = TestZk::new().await;
    let launcher = Launcher::start(&zk, 10, None).await;
    let id = submit(&zk, &["k8s-namespace", "k8s-namespace"]).await;

    let request = wait_for_state(&zk.store, &id, Duration::from_secs(90)).await;
    assert_eq!(request.state, RequestState::Fulfilled, "{request:?}");
    assert_eq!(request.nodes.len(), 2);
    for node_id in &request.nodes {
        let node = zk.store.get_node(node_id).await.expect("read").expect("node").value;
        assert_eq!(node.allocated_to.as_deref(), Some(id.as_str()));
        assert_eq!(node.connection_type.as_deref(), Some("namespace"));
        assert_eq!(node.external_id.as_deref(), Some(format!("{}-{node_id}", launcher.pool).as_str()));
        assert_eq!(node.cloud.as_deref(), Some("admin@kubepool-testbed"));
        assert_eq!(node.tenant_name.as_deref(), Some("example-tenant"));
        assert!(namespace_exists(&format!("{}-{node_id}", launcher.pool)).await);
    }

    // The real `nodepool list` and Nodepool's own ZooKeeper code see the launcher's nodes.
    let seen = zk_support::run_peer("nodepool_read.py", &zk.tls_hosts()).await;
    for node_id in &request.nodes {
        let dict = &seen["nodes"][node_id]["to_dict"];
        assert_eq!(dict["state"], "ready", "{seen}");
        assert_eq!(dict["provider"], launcher_support::PROVIDER);
        assert_eq!(dict["connection_type"], "namespace");
        assert_eq!(dict["allocated_to"], id.as_str());
        assert!(seen["list"].as_str().is_some_and(|list| list.contains(node_id.as_str())), "nodepool list: {seen}");
    }
    assert!(seen["pools"].as_array().is_some_and(|pools| !pools.is_empty()), "Nodepool sees our pool: {seen}");

    // Zuul's executor accepts the nodes exactly as it does for Nodepool's.
    let mut executor =
        RunningPeer::start("zuul_accept_nodes.py", &[zk.hosts(), vec!["--request".into(), id.clone()]].concat());
    let accepted = executor.next().await;
    assert_eq!(accepted["accepted"], Value::Bool(true), "{accepted}");
    assert_eq!(accepted["request_left"], Value::Bool(false), "the executor deletes the request");
    let nodes = accepted["nodes"].as_array().expect("nodes");
    assert!(nodes.iter().all(|n| n["state"] == "in-use" && n["locked"] == true), "{accepted}");
    assert!(nodes.iter().all(|n| n["attributes"]["executor-zone"] == "zone-a"), "{accepted}");
    assert!(nodes.iter().all(|n| n["connection_port"]["token"].as_str().is_some_and(|t| !t.is_empty())));

    // While Zuul holds the nodes, the launcher leaves them alone.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for node_id in &request.nodes {
        assert!(zk.store.get_node(node_id).await.expect("read").is_some(), "in-use node kept");
    }
    executor.proceed().await;
    let returned = executor.next().await;
    assert_eq!(returned["returned"], Value::Bool(true));
    executor.finish().await;

    let metrics = launcher.metrics.encode();
    assert!(
        metrics.contains(r#"kubepool_node_requests_total{provider="kubepool-e2e",outcome="fulfilled"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"kubepool_launch_seconds_count{provider="kubepool-e2e",label="k8s-namespace"} 2"#),
        "{metrics}"
    );
    wait_until_gone(&zk.store, &request.nodes, Duration::from_secs(120)).await;
    for node_id in &request.nodes {
        assert!(!namespace_exists(&format!("{}-{node_id}", launcher.pool)).await, "namespace deleted with its node");
    }
    launcher.stop().await;
    let components = zk.store.list_pool_components().await.expect("components");
    assert!(components.is_empty(), "pool component removed on shutdown: {components:?}");
    zk.cleanup().await;
}

#[tokio::test]
async fn a_request_no_pool_can_serve_fails_with_our_decline() {
    let zk = TestZk::new().await;
    let launcher = Launcher::start(&zk, 10, None).await;
    let id = submit(&zk, &["no-such-label"]).await;
    let request = wait_for_state(&zk.store, &id, Duration::from_secs(30)).await;
    assert_eq!(request.state, RequestState::Failed);
    assert_eq!(request.declined_by.len(), 1);
    assert!(request.declined_by[0].starts_with("e2e-host-PoolWorker.kubepool-e2e-"), "{:?}", request.declined_by);
    launcher.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn quota_holds_a_request_until_a_node_is_returned() {
    let zk = TestZk::new().await;
    let launcher = Launcher::start(&zk, 1, None).await;
    let first = submit(&zk, &["k8s-namespace"]).await;
    let first_request = wait_for_state(&zk.store, &first, Duration::from_secs(90)).await;
    assert_eq!(first_request.state, RequestState::Fulfilled);
    let second = submit(&zk, &["k8s-namespace"]).await;
    // With max-servers 1 and the first node in use, the second waits (not declined, not failed).
    let mut executor =
        RunningPeer::start("zuul_accept_nodes.py", &[zk.hosts(), vec!["--request".into(), first.clone()]].concat());
    assert_eq!(executor.next().await["accepted"], Value::Bool(true));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let waiting = zk.store.get_request(&second).await.expect("read").expect("request").value;
    assert_eq!(waiting.state, RequestState::Requested, "{waiting:?}");
    assert!(waiting.declined_by.is_empty());
    let components = zk.store.list_pool_components().await.expect("components");
    assert!(components.iter().all(|c| c.value.paused), "pool reports paused at quota");
    // Returning the first node frees the quota once it is deleted; then the second is served.
    executor.proceed().await;
    executor.next().await;
    executor.finish().await;
    let second_request = wait_for_state(&zk.store, &second, Duration::from_secs(150)).await;
    assert_eq!(second_request.state, RequestState::Fulfilled);
    assert!(zk.store.get_node(&first_request.nodes[0]).await.expect("read").is_none(), "first node deleted first");
    let pool = launcher.pool.clone();
    launcher.stop().await;
    // Nobody accepts the second node: remove its namespace here.
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(common::admin_client().await);
    namespaces
        .delete(&format!("{pool}-{}", second_request.nodes[0]), &kube::api::DeleteParams::background())
        .await
        .expect("delete the second namespace");
    zk.cleanup().await;
}

/// Ready means usable: in a burst of 20, each namespace node's own credentials get a pod
/// admitted the moment its request is fulfilled (Nodepool's pods were refused by ServiceAccount
/// admission in such bursts: "No API token found for service account default"). The pods are
/// bound to a node that does not exist, so the kubelet never runs them.
#[tokio::test]
async fn in_a_burst_every_namespace_node_admits_a_pod_the_moment_it_is_fulfilled() {
    use k8s_openapi::api::core::v1::Pod;
    use kubepool::zk::NodeRequest;
    let zk = TestZk::new().await;
    let launcher = Launcher::start(&zk, 20, None).await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        let request = NodeRequest::new(vec!["k8s-namespace".into()]);
        ids.push(zk.store.create_request("100", &request, false).await.expect("submit").id);
    }
    let mut waiting: std::collections::BTreeSet<String> = ids.iter().cloned().collect();
    let mut nodes = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while !waiting.is_empty() {
        assert!(std::time::Instant::now() < deadline, "still waiting for {waiting:?}");
        for id in waiting.clone() {
            let request = zk.store.get_request(&id).await.expect("read").expect("request").value;
            match request.state {
                RequestState::Fulfilled => {}
                RequestState::Failed => panic!("request {id} failed"),
                _ => continue,
            }
            waiting.remove(&id);
            let node = zk.store.get_node(&request.nodes[0]).await.expect("read").expect("node").value;
            let port = node.connection_port.clone();
            let credentials = kubepool::k8s::NodeCredentials {
                server: port["host"].as_str().expect("host").to_string(),
                namespace: port["namespace"].as_str().expect("namespace").to_string(),
                token: port["token"].as_str().expect("token").to_string(),
                ca_crt_base64: port["ca_crt"].as_str().map(str::to_string),
                skip_tls_verify: port["skiptls"].as_bool().unwrap_or(false),
            };
            let client = credentials.client().await.expect("client from the node's credentials");
            let pods: kube::Api<Pod> = kube::Api::namespaced(client.client, &credentials.namespace);
            let pod: Pod = serde_json::from_value(serde_json::json!({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "first"},
                "spec": {"nodeName": "kubepool-nowhere", "containers": [{"name": "c", "image": common::test_image(), "imagePullPolicy": "Never"}]},
            }))
            .expect("pod");
            // One try, no retry: the node is usable the moment it is handed out.
            pods.create(&kube::api::PostParams::default(), &pod)
                .await
                .unwrap_or_else(|e| panic!("node {} refused its first pod: {e}", request.nodes[0]));
            nodes.push(request.nodes[0].clone());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    zk_support::zuul_returns(&zk.store, &ids, &nodes).await;
    wait_until_gone(&zk.store, &nodes, Duration::from_secs(240)).await;
    launcher.stop().await;
    zk.cleanup().await;
}
