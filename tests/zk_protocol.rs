//! Nodepool's ZooKeeper protocol against the real ZooKeeper and the real Python peers
//! (reference §2): requests written by Zuul's code, nodes read by Zuul's executor path and by
//! Nodepool 11 (`nodepool list` too), and kazoo's lock recipe in both directions.
//!
//! Needs the test bed's environment (`KUBEPOOL_TEST_ZK`, `KUBEPOOL_TEST_ZK_TLS`, …; source
//! `~/.cache/kubepool/testbed.env`) and the venv of `tests/setup-python.sh`.

mod common;
mod zk_support;

use kubepool::zk::lock::{self, Wait};
use kubepool::zk::{
    Change, ComponentRegistration, Node, NodeRequest, NodeState, PoolComponent, RequestState, Store, WatchEvent,
    Watcher, ZkError, paths,
};
use serde_json::{Value, json};
use std::time::Duration;
use zk_support::{RunningPeer, TestZk, run_peer};
use zookeeper_client::{Acls, CreateMode};

const POOL_ID: &str = "kubepool-test-PoolWorker.k8s-main-0123456789abcdef";

fn args(base: Vec<String>, more: &[&str]) -> Vec<String> {
    base.into_iter().chain(more.iter().map(|s| s.to_string())).collect()
}

fn k8s_connection(pod: &str) -> Value {
    json!({"name": "ns-1", "namespace": "ns-1", "host": "https://127.0.0.1:6443", "skiptls": false,
           "token": "secret-token", "user": "zuul-worker", "ca_crt": "Y2E=", "pod": pod})
}

/// A node the way the launcher stores one for `request` (§2.8 step 11), left `ready`.
fn ready_node(label: &str, request: Option<(&str, &NodeRequest)>) -> Node {
    let mut node = Node::new(label);
    node.provider = Some("k8s".into());
    node.pool = Some("main".into());
    node.launcher = Some(POOL_ID.into());
    if let Some((id, request)) = request {
        node.allocated_to = Some(id.into());
        node.tenant_name = request.tenant_name.clone();
        node.requestor = request.requestor.clone();
    }
    node.attributes = json!({"executor-zone": "zone-a"}).as_object().cloned();
    node.resources = json!({"cores": 1, "instances": 1, "ram": 512}).as_object().cloned();
    node.connection_type = Some("kubectl".into());
    node.interface_ip = Some(format!("{label}-pod"));
    node.connection_port = k8s_connection(&format!("{label}-pod"));
    node.python_path = Some("auto".into());
    node.set_state(NodeState::Ready);
    node
}

async fn lock_children(store: &Store, dir: &str) -> Vec<String> {
    store.children(dir).await.expect("list lock children")
}

/// Waits until `dir` has `count` lock children (a peer created its contender).
async fn wait_for_children(store: &Store, dir: &str, count: usize) {
    for _ in 0..200 {
        if lock_children(store, dir).await.len() == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{dir} never had {count} children: {:?}", lock_children(store, dir).await);
}

#[tokio::test]
async fn request_submitted_by_zuul_is_read_by_the_rust_model_and_sorted_like_nodepool() {
    let zk = TestZk::new().await;
    let low = run_peer("zuul_submit_request.py", &args(zk.hosts(), &["--label", "pod", "--priority", "300"])).await;
    let high = run_peer(
        "zuul_submit_request.py",
        &args(
            zk.hosts(),
            &["--label", "pod", "--label", "ns", "--priority", "100", "--relative-priority", "2", "--event-id", "ev"],
        ),
    )
    .await;
    let high_id = high["id"].as_str().expect("id");
    let stored = &high["stored"];

    let request = zk.store.get_request(high_id).await.expect("read").expect("request exists").value;
    assert_eq!(request.state, RequestState::Requested);
    assert_eq!(Some(request.state_time.expect("state_time")), stored["state_time"].as_f64());
    assert_eq!(Some(request.created_time.expect("created_time")), stored["created_time"].as_f64());
    assert_eq!(request.node_types, ["pod", "ns"]);
    assert_eq!(request.requestor.as_deref(), stored["requestor"].as_str());
    assert_eq!(request.tenant_name.as_deref(), Some("example-tenant"));
    assert_eq!(request.event_id.as_deref(), Some("ev"));
    assert_eq!(request.relative_priority, 2);
    assert_eq!(request.provider, None);
    assert!(request.reuse && request.nodes.is_empty() && request.declined_by.is_empty());
    let requestor_data: Value = request.requestor_data.as_ref().and_then(|d| d.parse()).expect("requestor_data");
    assert_eq!(requestor_data["job_name"], "example-job");
    assert!(request.extra.is_empty(), "Zuul wrote keys the model does not know: {:?}", request.extra);

    // Written back, every key Zuul stored is still there with the same value (the 128-bit
    // trace id in span_info included: compare the text, JSON numbers would lose it).
    let raw = zk.client.get_data(&paths::request(high_id)).await.expect("raw data").0;
    let trace_id = String::from_utf8_lossy(&raw)
        .split("\"trace_id\": ")
        .nth(1)
        .and_then(|rest| rest.split(['}', ',']).next())
        .expect("Zuul stores a trace_id")
        .to_string();
    let written = String::from_utf8(request.to_json().expect("encode")).expect("utf8");
    assert!(written.contains(&format!("\"trace_id\": {trace_id}")), "trace id {trace_id} lost: {written}");
    let written: Value = serde_json::from_str(&written).expect("json");
    for (key, value) in stored.as_object().expect("object") {
        assert_eq!(&written[key], value, "{key} changed on write-back");
    }

    let order: Vec<String> = zk.store.list_requests().await.expect("list").into_iter().map(|r| r.id).collect();
    assert_eq!(order, [high_id, low["id"].as_str().expect("id")]);
    zk.cleanup().await;
}

#[tokio::test]
async fn fulfilled_request_and_rust_nodes_pass_the_zuul_executor_accept_path() {
    let zk = TestZk::new().await;
    let submitted =
        run_peer("zuul_submit_request.py", &args(zk.hosts(), &["--label", "pod-a", "--label", "pod-b"])).await;
    let request_id = submitted["id"].as_str().expect("id").to_string();

    // The launcher's accept path (§2.8 step 9-11, step 4).
    let mut request = zk.store.get_request(&request_id).await.expect("read").expect("exists");
    let request_lock = zk.store.lock_request(&request_id, Wait::No).await.expect("lock").expect("free");
    request.value.set_state(RequestState::Pending);
    zk.store.update_request(&mut request).await.expect("store pending");
    let mut node_locks = Vec::new();
    for label in request.value.node_types.clone() {
        let mut node = ready_node(&label, Some((&request_id, &request.value)));
        node.set_state(NodeState::Init);
        let mut node = zk.store.create_node(&node).await.expect("create node");
        assert!(node.id.len() == 10 && node.id.bytes().all(|b| b.is_ascii_digit()), "node id {}", node.id);
        node_locks.push(zk.store.lock_node(&node.id, Wait::No).await.expect("lock node").expect("free"));
        node.value = ready_node(&label, Some((&request_id, &request.value)));
        zk.store.update_node(&mut node).await.expect("store ready");
        request.value.nodes.push(node.id);
    }
    request.value.set_state(RequestState::Fulfilled);
    for held in node_locks {
        held.release().await.expect("unlock node");
    }
    zk.store.update_request(&mut request).await.expect("store fulfilled");
    request_lock.release().await.expect("unlock request");
    let node_ids = request.value.nodes.clone();

    // Zuul's executor: lock the nodes, delete the request, mark them in-use.
    let mut zuul = RunningPeer::start("zuul_accept_nodes.py", &args(zk.hosts(), &["--request", &request_id]));
    let accepted = zuul.next().await;
    assert_eq!(accepted["accepted"], true, "{accepted}");
    assert_eq!(accepted["request_left"], false);
    let nodes = accepted["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 2);
    for ((node, id), label) in nodes.iter().zip(&node_ids).zip(["pod-a", "pod-b"]) {
        assert_eq!(node["id"], id.as_str());
        assert_eq!(node["label"], label);
        assert_eq!(node["state"], "in-use");
        assert_eq!(node["locked"], true);
        assert_eq!(node["allocated_to"], request_id.as_str());
        assert_eq!(node["provider"], "k8s");
        assert_eq!(node["connection_type"], "kubectl");
        assert_eq!(node["interface_ip"], format!("{label}-pod"));
        assert_eq!(node["connection_port"], k8s_connection(&format!("{label}-pod")));
        assert_eq!(node["attributes"]["executor-zone"], "zone-a");
        assert_eq!(node["resources"]["ram"], 512);
    }
    assert!(zk.store.get_request(&request_id).await.expect("read").is_none(), "Zuul deletes the request");

    // While Zuul holds the node lock, Rust cannot take it and sees Zuul's write.
    let first = &node_ids[0];
    assert!(zk.store.node_is_locked(first).await.expect("contenders"));
    assert!(zk.store.lock_node(first, Wait::No).await.expect("try lock").is_none());
    assert_eq!(lock_children(&zk.store, &paths::node_lock(first)).await.len(), 1, "failed try left a contender");
    let in_use = zk.store.get_node(first).await.expect("read").expect("exists").value;
    assert_eq!(in_use.state, NodeState::InUse);
    assert_eq!(in_use.user_data.as_ref().and_then(|d| d.get("project_name")), Some(&json!("org/project")));
    assert_eq!(in_use.extra.get("id").map(|id| id.get().to_string()), Some(format!("\"{first}\"")));
    assert_eq!(in_use.connection_port, k8s_connection("pod-a-pod"));

    zuul.proceed().await;
    let returned = zuul.next().await;
    assert_eq!(returned["returned"], true);
    zuul.finish().await;
    for id in &node_ids {
        let node = zk.store.get_node(id).await.expect("read").expect("exists").value;
        assert_eq!(node.state, NodeState::Used);
        assert!(!zk.store.node_is_locked(id).await.expect("contenders"), "Zuul unlocks at the end");
        zk.store.delete_node(id).await.expect("delete node");
        assert!(zk.store.get_node(id).await.expect("read").is_none());
    }
    assert!(zk.store.node_ids().await.expect("list").is_empty());
    zk.cleanup().await;
}

#[tokio::test]
async fn rust_nodes_requests_and_pool_components_are_read_by_nodepool_nodepool_list_and_zuul() {
    let zk = TestZk::new().await;
    let free = zk.store.create_node(&ready_node("pod-free", None)).await.expect("create");
    let locked = zk.store.create_node(&ready_node("pod-locked", None)).await.expect("create");
    let held = zk.store.lock_node(&locked.id, Wait::No).await.expect("lock").expect("free");
    let mut pool = PoolComponent::running("kubepool-test", POOL_ID, "k8s", "main");
    pool.supported_labels = vec!["pod-free".into(), "pod-locked".into()];
    let registration = ComponentRegistration::register(&zk.client, &pool).await.expect("register pool");
    let request =
        zk.store.create_request("100", &NodeRequest::new(vec!["pod-free".into()]), false).await.expect("request");

    let seen = run_peer("nodepool_read.py", &zk.tls_hosts()).await;

    let free_seen = &seen["nodes"][&free.id];
    let dict = &free_seen["to_dict"];
    assert_eq!(dict["state"], "ready");
    assert_eq!(free_seen["type"], json!(["pod-free"]));
    assert_eq!(dict["provider"], "k8s");
    assert_eq!(dict["pool"], "main");
    assert_eq!(dict["launcher"], POOL_ID);
    assert_eq!(dict["connection_type"], "kubectl");
    assert_eq!(dict["connection_port"], k8s_connection("pod-free-pod"));
    assert_eq!(dict["ssh_port"], k8s_connection("pod-free-pod"));
    assert_eq!(dict["interface_ip"], "pod-free-pod");
    assert_eq!(dict["resources"], json!({"cores": 1, "instances": 1, "ram": 512}));
    assert_eq!(dict["attributes"], json!({"executor-zone": "zone-a"}));
    assert_eq!(dict["host_keys"], json!([]));
    assert_eq!(dict["username"], Value::Null, "k8s drivers leave it unset; Zuul then uses its default");
    assert_eq!(free_seen["contenders"], 0);
    assert_eq!(seen["nodes"][&locked.id]["contenders"], 1);

    let request_seen = &seen["requests"][&request.id];
    assert_eq!(request_seen["to_dict"]["state"], "requested");
    assert_eq!(request_seen["to_dict"]["node_types"], json!(["pod-free"]));
    assert_eq!(
        request_seen["priority"],
        json!(["100", 0, paths::RequestId::parse(&request.id).expect("id").sequence()])
    );

    let pools = seen["pools"].as_array().expect("pools");
    assert_eq!(pools.len(), 1, "{pools:?}");
    assert_eq!(pools[0]["id"], POOL_ID);
    assert_eq!(pools[0]["supported_labels"], json!(["pod-free", "pod-locked"]));
    assert_eq!(pools[0]["model_api"], 0);
    assert_eq!(pools[0]["priority"], 100);
    let zuul = run_peer("zuul_launchers.py", &zk.hosts()).await;
    assert_eq!(zuul["launchers"], json!([{"id": POOL_ID, "supported_labels": ["pod-free", "pod-locked"]}]));

    let listing = seen["list"].as_str().expect("nodepool list output");
    let row =
        |id: &str| listing.lines().find(|line| line.contains(id)).unwrap_or_else(|| panic!("{id} not in\n{listing}"));
    for (id, label, lock_state) in [(&free.id, "pod-free", "unlocked"), (&locked.id, "pod-locked", "locked")] {
        let cells: Vec<&str> = row(id).split('|').map(str::trim).collect();
        for expected in [id.as_str(), "k8s", label, "ready", lock_state, "main", POOL_ID] {
            assert!(cells.contains(&expected), "{expected} missing in {cells:?}");
        }
        assert!(cells.contains(&"redacted"), "the credentials dict must not be printed: {cells:?}");
    }

    held.release().await.expect("unlock");
    registration.remove(&zk.client).await.expect("unregister");
    zk.cleanup().await;
}

#[tokio::test]
async fn kazoo_and_rust_locks_exclude_each_other_both_ways() {
    let zk = TestZk::new().await;
    let dir = paths::node_lock("0000000099");
    let kazoo = |mode: &str, more: &[&str]| args(args(zk.hosts(), &[mode, &dir]), more);

    // Rust holds: kazoo's non-blocking acquire fails and removes its contender again.
    let held = lock::try_lock(&zk.client, &dir).await.expect("lock").expect("free");
    assert!(held.node().contains("__lock__"));
    let own = paths::last_segment(held.node()).to_string();
    assert_eq!(own.len(), 32 + "__lock__".len() + 10, "uuid4 hex + __lock__ + sequence: {own}");
    let tried = run_peer("kazoo_lock.py", &kazoo("try", &[])).await;
    assert_eq!(tried["acquired"], false);
    assert_eq!(lock_children(&zk.store, &dir).await, [own]);
    let contenders = run_peer("kazoo_lock.py", &kazoo("contenders", &[])).await;
    assert_eq!(contenders["contenders"], json!([""]), "one contender with Nodepool's empty identifier");

    // kazoo blocks (as Zuul's executor does) until Rust releases.
    let mut waiter = RunningPeer::start("kazoo_lock.py", &kazoo("wait", &["--timeout", "30"]));
    wait_for_children(&zk.store, &dir, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    held.release().await.expect("release");
    let waited = waiter.next().await;
    assert_eq!(waited["acquired"], true, "{waited}");
    waiter.finish().await;
    assert!(!lock::has_contenders(&zk.client, &dir).await.expect("contenders"));

    // kazoo holds: Rust's non-blocking acquire fails without leaving a contender, a blocking
    // one times out, and one without a short timeout succeeds once kazoo releases.
    let mut holder = RunningPeer::start("kazoo_lock.py", &kazoo("hold", &[]));
    let holding = holder.next().await;
    assert_eq!(holding["acquired"], true);
    assert!(lock::try_lock(&zk.client, &dir).await.expect("try").is_none());
    assert_eq!(lock_children(&zk.store, &dir).await.len(), 1);
    match lock::lock(&zk.client, &dir, Wait::Upto(Duration::from_millis(500))).await {
        Err(ZkError::LockTimeout { path }) => assert_eq!(path, dir),
        other => panic!("expected a lock timeout, got {other:?}"),
    }
    assert_eq!(lock_children(&zk.store, &dir).await.len(), 1, "timed-out acquire left a contender");
    let client = zk.client.clone();
    let waiting_dir = dir.clone();
    let rust_waiter =
        tokio::spawn(async move { lock::lock(&client, &waiting_dir, Wait::Upto(Duration::from_secs(30))).await });
    wait_for_children(&zk.store, &dir, 2).await;
    holder.proceed().await;
    assert_eq!(holder.next().await["released"], true);
    holder.finish().await;
    let held = rust_waiter.await.expect("join").expect("lock").expect("acquired after kazoo released");
    assert!(held.is_still_held().await.expect("stat"));
    let tried = run_peer("kazoo_lock.py", &kazoo("try", &[])).await;
    assert_eq!(tried["acquired"], false);
    held.release().await.expect("release");
    let tried = run_peer("kazoo_lock.py", &kazoo("try", &[])).await;
    assert_eq!(tried["acquired"], true);
    zk.cleanup().await;
}

#[tokio::test]
async fn store_checks_versions_reports_bad_data_and_cleans_up() {
    let zk = TestZk::new().await;
    zk.store.ensure_roots().await.expect("roots");

    // Version check on requests; a deleted request is Gone.
    let mut request = zk.store.create_request("200", &NodeRequest::new(vec!["a".into()]), false).await.expect("create");
    let mut stale = request.clone();
    request.value.declined_by.push(POOL_ID.into());
    zk.store.update_request(&mut request).await.expect("store");
    assert_eq!(request.version, 1);
    stale.value.set_state(RequestState::Pending);
    assert!(matches!(zk.store.update_request(&mut stale).await, Err(ZkError::VersionConflict { .. })));
    let reread = zk.store.get_request(&request.id).await.expect("read").expect("exists");
    assert_eq!(reread.value.state, RequestState::Requested);
    assert!(reread.value.declined_by(POOL_ID));

    // Bad data: a typed error naming the znode; listings skip it.
    let bad_path = paths::request("100-0000009999");
    zk.client
        .create(&bad_path, b"{not json", &CreateMode::Persistent.with_acls(Acls::anyone_all()))
        .await
        .expect("create");
    match zk.store.get_request("100-0000009999").await {
        Err(error @ ZkError::Decode { .. }) => assert!(error.to_string().contains(&bad_path), "{error}"),
        other => panic!("bad request decoded: {other:?}"),
    }
    let listed: Vec<String> = zk.store.list_requests().await.expect("list").into_iter().map(|r| r.id).collect();
    assert_eq!(listed, [request.id.clone()]);

    // Sequential node ids, recursive delete with the lock directory.
    let first = zk.store.create_node(&ready_node("a", None)).await.expect("create");
    let second = zk.store.create_node(&ready_node("a", None)).await.expect("create");
    assert!(second.id > first.id && second.id.len() == 10);
    let held = zk.store.lock_node(&first.id, Wait::No).await.expect("lock").expect("free");
    zk.store.delete_node(&first.id).await.expect("delete");
    assert_eq!(zk.client.check_stat(&paths::node(&first.id)).await.expect("stat"), None);
    held.release().await.expect("releasing a deleted lock is fine");
    let dropped = zk.store.lock_node(&second.id, Wait::No).await.expect("lock").expect("free");
    drop(dropped);
    wait_for_children(&zk.store, &paths::node_lock(&second.id), 0).await;
    let mut gone = first.clone();
    assert!(matches!(zk.store.update_node(&mut gone).await, Err(ZkError::Gone { .. })));

    // Orphaned request locks: only the one without request and without contender goes.
    zk.store.lock_request(&request.id, Wait::No).await.expect("lock").expect("free").release().await.expect("unlock");
    zk.store
        .lock_request("300-0000000001", Wait::No)
        .await
        .expect("lock")
        .expect("free")
        .release()
        .await
        .expect("unlock");
    let busy = zk.store.lock_request("300-0000000002", Wait::No).await.expect("lock").expect("free");
    assert!(zk.store.delete_orphan_request_locks(Duration::from_secs(3600)).await.expect("cleanup").is_empty());
    let removed = zk.store.delete_orphan_request_locks(Duration::ZERO).await.expect("cleanup");
    assert_eq!(removed, ["300-0000000001"]);
    assert_eq!(
        zk.store.children(paths::REQUEST_LOCK_ROOT).await.expect("list"),
        [request.id.clone(), "300-0000000002".to_string()]
    );
    busy.release().await.expect("unlock");
    zk.cleanup().await;
}

#[tokio::test]
async fn pool_component_is_updated_in_place_and_registered_again_when_lost() {
    let zk = TestZk::new().await;
    let mut pool = PoolComponent::running("kubepool-test", POOL_ID, "k8s", "main");
    let mut registration = ComponentRegistration::register(&zk.client, &pool).await.expect("register");
    assert!(registration.path.starts_with("/nodepool/components/pool/kubepool-test"));
    pool.paused = true;
    pool.supported_labels = vec!["b".into(), "a".into()];
    registration.update(&zk.client, &pool).await.expect("update");
    let (data, stat) = zk.client.get_data(&registration.path).await.expect("read");
    assert_eq!(stat.version, 1, "updated in place");
    assert_eq!(data, pool.to_json().expect("encode"));
    let keys: Vec<String> =
        serde_json::from_slice::<serde_json::Map<String, Value>>(&data).expect("json").keys().cloned().collect();
    let text = String::from_utf8(data).expect("utf8");
    let positions: Vec<usize> = keys.iter().map(|k| text.find(&format!("\"{k}\":")).expect("key")).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "keys not sorted: {text}");
    let listed = zk.store.list_pool_components().await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].value, pool);

    // Another writer changed it: a version conflict. Gone (session replaced): registered again.
    zk.client.set_data(&registration.path, &data_of(&pool), None).await.expect("foreign write");
    assert!(matches!(registration.update(&zk.client, &pool).await, Err(ZkError::VersionConflict { .. })));
    let old_path = registration.path.clone();
    zk.client.delete(&old_path, None).await.expect("delete");
    registration.update(&zk.client, &pool).await.expect("register again");
    assert_ne!(registration.path, old_path);
    assert_eq!(zk.store.list_pool_components().await.expect("list").len(), 1);
    registration.remove(&zk.client).await.expect("remove");
    assert!(zk.store.list_pool_components().await.expect("list").is_empty());
    zk.cleanup().await;
}

fn data_of(pool: &PoolComponent) -> Vec<u8> {
    pool.to_json().expect("encode")
}

/// Reads events until `expected` arrives (other events may come in between).
async fn expect_event(watcher: &mut Watcher, expected: WatchEvent) {
    let result = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = watcher.next().await.expect("watch event");
            if event == expected {
                return;
            }
        }
    })
    .await;
    assert!(result.is_ok(), "no {expected:?} within 10 s");
}

#[tokio::test]
async fn watcher_reports_request_node_lock_and_pool_changes() {
    let zk = TestZk::new().await;
    let mut watcher = Watcher::start(&zk.client).await.expect("watch");
    assert_eq!(watcher.next().await.expect("first event"), WatchEvent::Resync);

    // Changes made by another session (a Zuul, a Nodepool) are seen.
    let other = Store::new(zk.second_session().await);
    let mut request = other.create_request("100", &NodeRequest::new(vec!["a".into()]), false).await.expect("create");
    expect_event(&mut watcher, WatchEvent::Request { id: request.id.clone(), change: Change::Created }).await;
    request.value.set_state(RequestState::Pending);
    other.update_request(&mut request).await.expect("update");
    expect_event(&mut watcher, WatchEvent::Request { id: request.id.clone(), change: Change::Changed }).await;

    let node = other.create_node(&ready_node("a", None)).await.expect("create");
    expect_event(&mut watcher, WatchEvent::Node { id: node.id.clone(), change: Change::Created }).await;
    let held = other.lock_node(&node.id, Wait::No).await.expect("lock").expect("free");
    expect_event(&mut watcher, WatchEvent::NodeLock { id: node.id.clone() }).await;
    held.release().await.expect("unlock");
    expect_event(&mut watcher, WatchEvent::NodeLock { id: node.id.clone() }).await;
    other.delete_node(&node.id).await.expect("delete");
    expect_event(&mut watcher, WatchEvent::Node { id: node.id.clone(), change: Change::Deleted }).await;

    let pool = PoolComponent::running("watched", POOL_ID, "k8s", "main");
    let registration = ComponentRegistration::register(&other.client(), &pool).await.expect("register");
    let name = paths::last_segment(&registration.path).to_string();
    expect_event(&mut watcher, WatchEvent::PoolComponent { name, change: Change::Created }).await;

    other.delete_request(&request.id).await.expect("delete");
    expect_event(&mut watcher, WatchEvent::Request { id: request.id.clone(), change: Change::Deleted }).await;
    registration.remove(&other.client()).await.expect("unregister");
    zk.cleanup().await;
}
