//! `min-ready` (reference §2.11): for every label with `min-ready > 0` that our pools serve, keep
//! that many ready, unallocated nodes. Shortfalls are filled as Nodepool fills them: a request
//! per missing node, priority 900, ephemeral (it ends with our session), `reuse: false`,
//! requestor `NodePool:min-ready`. Once fulfilled, its nodes are released (`allocated_to`
//! cleared) and the request deleted, so the nodes wait in the pool for Zuul's requests.

use super::context::Context;
use crate::zk::{Node, NodeRequest, NodeState, RequestState, Versioned, Wait, ZkError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

pub const REQUESTOR: &str = "NodePool:min-ready";
const PRIORITY: &str = "900";
/// Passes run on ZooKeeper changes, at most this often.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// How many requests to submit per label: `min-ready` minus the ready unallocated nodes and
/// the min-ready requests still open.
pub fn shortfall(
    min_ready: &BTreeMap<String, i64>,
    nodes: &[Versioned<Node>],
    requests: &[Versioned<NodeRequest>],
) -> BTreeMap<String, i64> {
    min_ready
        .iter()
        .filter_map(|(label, want)| {
            let ready = nodes
                .iter()
                .filter(|n| n.value.state == NodeState::Ready && n.value.allocated_to.is_none())
                .filter(|n| n.value.label() == Some(label.as_str()))
                .count() as i64;
            let open = requests
                .iter()
                .filter(|r| r.value.requestor.as_deref() == Some(REQUESTOR) && r.value.node_types == [label.clone()])
                .filter(|r| matches!(r.value.state, RequestState::Requested | RequestState::Pending))
                .count() as i64;
            let missing = want - ready - open;
            (missing > 0).then(|| (label.clone(), missing))
        })
        .collect()
}

pub async fn run(ctx: Arc<Context>) {
    if ctx.policies().min_ready.is_empty() {
        return;
    }
    let mut changed = ctx.changed.subscribe();
    while !ctx.is_stopping() {
        if let Err(error) = pass(&ctx).await {
            warn!(%error, "min-ready pass failed");
        }
        tokio::time::sleep(MIN_INTERVAL).await;
        tokio::select! {
            _ = changed.changed() => {}
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            _ = ctx.stopped() => {}
        }
    }
}

async fn pass(ctx: &Context) -> Result<(), ZkError> {
    let store = &ctx.store;
    let requests = ctx.cache.requests(store).await?;
    // Finished min-ready requests: release their nodes into the pool, then remove them.
    for request in requests.iter().filter(|r| r.value.requestor.as_deref() == Some(REQUESTOR)) {
        match request.value.state {
            RequestState::Fulfilled => {
                for node_id in &request.value.nodes {
                    release(ctx, node_id, &request.id).await?;
                }
                store.delete_request(&request.id).await?;
                info!(request = %request.id, nodes = %request.value.nodes.join(","), "min-ready nodes ready");
            }
            RequestState::Failed => store.delete_request(&request.id).await?,
            _ => {}
        }
    }
    let policies = ctx.policies();
    let nodes = ctx.cache.nodes(store).await?;
    let requests = ctx.cache.requests(store).await?;
    if shortfall(&policies.min_ready, &nodes, &requests).is_empty() {
        return Ok(());
    }
    // Counted again from ZooKeeper itself before requesting: the cache may not yet hold a
    // request this worker made in its previous pass.
    let nodes = store.list_nodes().await?;
    let requests = store.list_requests().await?;
    for (label, missing) in shortfall(&policies.min_ready, &nodes, &requests) {
        for _ in 0..missing {
            let mut request = NodeRequest::new(vec![label.clone()]);
            request.reuse = false;
            request.requestor = Some(REQUESTOR.to_string());
            let created = store.create_request(PRIORITY, &request, true).await?;
            info!(request = %created.id, %label, "requested a min-ready node");
        }
    }
    Ok(())
}

async fn release(ctx: &Context, node_id: &str, request_id: &str) -> Result<(), ZkError> {
    let store = &ctx.store;
    let Some(lock) = store.lock_node(node_id, Wait::Upto(Duration::from_secs(10))).await? else {
        return Ok(());
    };
    if let Some(mut node) = store.get_node(node_id).await?
        && node.value.allocated_to.as_deref() == Some(request_id)
    {
        node.value.allocated_to = None;
        store.update_node(&mut node).await?;
    }
    lock.release().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(label: &str, state: NodeState, allocated: bool) -> Versioned<Node> {
        let mut node = Node::new(label);
        node.state = state;
        node.allocated_to = allocated.then(|| "200-0000000001".to_string());
        Versioned { id: "0000000001".into(), version: 0, mtime_ms: 0, value: node }
    }

    fn min_ready_request(label: &str, state: RequestState) -> Versioned<NodeRequest> {
        let mut request = NodeRequest::new(vec![label.into()]);
        request.requestor = Some(REQUESTOR.into());
        request.state = state;
        Versioned { id: "900-0000000001".into(), version: 0, mtime_ms: 0, value: request }
    }

    #[test]
    fn counts_ready_unallocated_nodes_and_open_min_ready_requests() {
        let want = BTreeMap::from([("ns".to_string(), 3), ("pod".to_string(), 1)]);
        let nodes = vec![
            node("ns", NodeState::Ready, false),
            node("ns", NodeState::Ready, true),
            node("ns", NodeState::Building, false),
            node("pod", NodeState::Ready, false),
        ];
        let requests =
            vec![min_ready_request("ns", RequestState::Pending), min_ready_request("ns", RequestState::Failed)];
        assert_eq!(shortfall(&want, &nodes, &requests), BTreeMap::from([("ns".to_string(), 1)]));
    }

    #[test]
    fn zuuls_requests_do_not_count_as_min_ready() {
        let want = BTreeMap::from([("ns".to_string(), 1)]);
        let mut zuul = min_ready_request("ns", RequestState::Requested);
        zuul.value.requestor = Some("0123abcd".into());
        assert_eq!(shortfall(&want, &[], &[zuul]), BTreeMap::from([("ns".to_string(), 1)]));
    }
}
