//! The watch-fed ZooKeeper cache against the real ZooKeeper: fed only by the watch events (as
//! the engine feeds it), it holds what ZooKeeper holds after creations, updates and deletions
//! by another session; out of sync, reads go to ZooKeeper; a new session rebuilds it.

mod common;
mod zk_support;

use kubepool::zk::{Node, NodeRequest, NodeState, RequestState, Store, WatchEvent, Watcher, ZkCache};
use std::time::{Duration, Instant};
use zk_support::TestZk;

/// Feeds `cache` from a watcher on `store`'s session, as the engine does, until aborted.
fn feed(cache: ZkCache, store: Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut watcher = Watcher::start(&store.client()).await.expect("watch");
        while let Ok(event) = watcher.next().await {
            match event {
                WatchEvent::Resync => cache.rebuild(&store).await.expect("rebuild"),
                WatchEvent::Disconnected => cache.invalidate(),
                event => cache.apply(&store, &event).await,
            }
        }
    })
}

/// What the cache serves, as comparable (id, version) lists.
async fn cached(cache: &ZkCache, store: &Store) -> (Vec<(String, i32)>, Vec<(String, i32)>) {
    let requests = cache.requests(store).await.expect("requests").into_iter().map(|r| (r.id, r.version)).collect();
    let mut nodes: Vec<_> = cache.nodes(store).await.expect("nodes").into_iter().map(|n| (n.id, n.version)).collect();
    nodes.sort();
    (requests, nodes)
}

async fn in_zookeeper(store: &Store) -> (Vec<(String, i32)>, Vec<(String, i32)>) {
    let requests = store.list_requests().await.expect("requests").into_iter().map(|r| (r.id, r.version)).collect();
    let mut nodes: Vec<_> = store.list_nodes().await.expect("nodes").into_iter().map(|n| (n.id, n.version)).collect();
    nodes.sort();
    (requests, nodes)
}

/// Waits until the cache (read from memory) equals ZooKeeper.
async fn converges(cache: &ZkCache, reader: &Store, writer: &Store) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let truth = in_zookeeper(writer).await;
        if cache.is_synced() && cached(cache, reader).await == truth {
            return;
        }
        assert!(Instant::now() < deadline, "cache {:?}\nZooKeeper {truth:?}", cached(cache, reader).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_cache_follows_another_sessions_writes() {
    let zk = TestZk::new().await;
    let reader = Store::new(zk.second_session().await);
    reader.ensure_roots().await.expect("roots");
    let cache = ZkCache::default();
    let feeder = feed(cache.clone(), reader.clone());

    // Creations, in priority order as Nodepool lists them.
    let mut requests = Vec::new();
    for priority in ["300", "100", "200"] {
        requests
            .push(zk.store.create_request(priority, &NodeRequest::new(vec!["a".into()]), true).await.expect("create"));
    }
    let mut node = zk.store.create_node(&Node::new("a")).await.expect("node");
    converges(&cache, &reader, &zk.store).await;
    let order: Vec<String> = cache.requests(&reader).await.expect("requests").into_iter().map(|r| r.id).collect();
    assert!(order[0].starts_with("100-") && order[2].starts_with("300-"), "priority order: {order:?}");

    // Updates and deletions.
    requests[0].value.set_state(RequestState::Pending);
    zk.store.update_request(&mut requests[0]).await.expect("update");
    node.value.set_state(NodeState::Ready);
    zk.store.update_node(&mut node).await.expect("update node");
    zk.store.delete_request(&requests[1].id).await.expect("delete");
    converges(&cache, &reader, &zk.store).await;
    let pending = cache.requests(&reader).await.expect("requests").into_iter().find(|r| r.id == requests[0].id);
    assert_eq!(pending.map(|r| r.value.state), Some(RequestState::Pending));
    zk.store.delete_node(&node.id).await.expect("delete node");
    converges(&cache, &reader, &zk.store).await;
    assert!(cache.nodes(&reader).await.expect("nodes").is_empty());

    // Undecodable data is skipped, as listings skip it, and the cache stays in sync.
    zk.client
        .create(
            &format!("{}/{}", kubepool::zk::paths::NODE_ROOT, "0000000099"),
            b"{not json",
            &zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all()),
        )
        .await
        .expect("bad node");
    converges(&cache, &reader, &zk.store).await;
    feeder.abort();
    zk.cleanup().await;
}

#[tokio::test]
async fn out_of_sync_reads_go_to_zookeeper_and_a_rebuild_catches_up() {
    let zk = TestZk::new().await;
    let cache = ZkCache::default();
    // Never fed: every read goes to ZooKeeper.
    let request = zk.store.create_request("100", &NodeRequest::new(vec!["a".into()]), true).await.expect("create");
    assert!(!cache.is_synced());
    assert_eq!(cached(&cache, &zk.store).await, in_zookeeper(&zk.store).await);

    cache.rebuild(&zk.store).await.expect("rebuild");
    assert!(cache.is_synced());
    // Unfed, a synced cache keeps what it read: a later write is not seen...
    zk.store.delete_request(&request.id).await.expect("delete");
    assert_eq!(cache.requests(&zk.store).await.expect("requests").len(), 1);
    // ...until the session is lost (invalidate) or the next rebuild.
    cache.invalidate();
    assert!(cache.requests(&zk.store).await.expect("requests").is_empty());
    cache.rebuild(&zk.store).await.expect("rebuild");
    assert!(cache.requests(&zk.store).await.expect("requests").is_empty());
    zk.cleanup().await;
}
