//! The deleted-node worker (reference §2.11): for the nodes of our providers that nobody holds
//! locked, release ready nodes whose request vanished, and delete nodes that are done with
//! (`used`, an unlocked `in-use` whose executor died, `failed`, `aborted`, unlocked `building`,
//! leftover `deleting`/`deleted`, and `init` nodes older than a minute): state `deleting` →
//! the driver deletes the cloud resource and waits until it is gone → `deleted` → the znode
//! and its lock are removed. A failed cloud deletion keeps the record for the next pass.

use super::context::Context;
use crate::zk::{Node, NodeState, Versioned, Wait, ZkError, model::now};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tracing::{Instrument, debug, info, info_span, warn};

const PASS_INTERVAL: Duration = Duration::from_secs(5);
const INIT_GRACE_SECONDS: f64 = 60.0;

fn wants_deletion(node: &Node) -> bool {
    match node.state {
        NodeState::Used
        | NodeState::InUse
        | NodeState::Building
        | NodeState::Failed
        | NodeState::Aborted
        | NodeState::Deleting
        | NodeState::Deleted => true,
        NodeState::Init => node.state_time.is_some_and(|t| now() - t > INIT_GRACE_SECONDS),
        _ => false,
    }
}

pub async fn run(ctx: Arc<Context>) {
    let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut deletions = JoinSet::new();
    let mut nodes_changed = ctx.nodes_changed.subscribe();
    let mut changed = ctx.changed.subscribe();
    while !ctx.is_stopping() {
        if let Err(error) = pass(&ctx, &in_flight, &mut deletions).await {
            warn!(%error, "deleted-node pass failed");
        }
        while deletions.try_join_next().is_some() {}
        tokio::select! {
            _ = nodes_changed.changed() => {}
            _ = changed.changed() => {}
            _ = tokio::time::sleep(PASS_INTERVAL) => {}
            _ = ctx.stopped() => {}
        }
    }
    // Deletions in flight finish (each waits for its resource to be gone, bounded by the
    // driver's timeout); anything left is picked up after a restart.
    while deletions.join_next().await.is_some() {}
}

/// How often the statsd gauges go out (at most; on a pass of the deleter).
const STATSD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// Nodepool's node and request gauges (`updateNodeStats`, `updateNodeRequestStats`) for statsd:
/// every node, by state, provider and label; the requests each registered pool could serve.
async fn statsd_gauges(store: &crate::zk::Store, statsd: &crate::statsd::Statsd, nodes: &[Versioned<Node>]) {
    let pools = match store.list_pool_components().await {
        Ok(pools) => pools.into_iter().map(|p| p.value).collect::<Vec<_>>(),
        Err(error) => {
            warn!(%error, "cannot read the pools for the statsd gauges");
            return;
        }
    };
    let mut providers: Vec<String> = pools.iter().filter_map(|p| p.provider_name.clone()).collect();
    providers.sort();
    providers.dedup();
    let mut labels: Vec<String> = pools.iter().flat_map(|p| p.supported_labels.iter().cloned()).collect();
    labels.sort();
    labels.dedup();
    let mut gauges = crate::statsd::node_gauges(
        nodes.iter().map(|n| (n.value.state.as_str(), n.value.provider.as_deref(), n.value.node_type.as_slice())),
        &providers,
        &labels,
    );
    match store.list_requests().await {
        Ok(requests) => {
            for pool in &pools {
                let (Some(provider), Some(name)) = (&pool.provider_name, &pool.name) else { continue };
                let addressable = requests.iter().filter(|r| pool.supports_all(&r.value.node_types)).count();
                gauges.push((
                    format!("nodepool.provider.{provider}.pool.{name}.addressable_requests"),
                    i64::try_from(addressable).unwrap_or(i64::MAX),
                ));
            }
        }
        Err(error) => warn!(%error, "cannot read the requests for the statsd gauges"),
    }
    statsd.gauges(&gauges);
}

async fn pass(
    ctx: &Arc<Context>,
    in_flight: &Arc<Mutex<HashSet<String>>>,
    deletions: &mut JoinSet<()>,
) -> Result<(), ZkError> {
    let store = &ctx.store;
    let nodes = ctx.cache.nodes(store).await?;
    let mut counts = std::collections::BTreeMap::new();
    for node in nodes.iter().filter(|n| n.value.provider.as_deref().is_some_and(|p| ctx.driver(p).is_some())) {
        let key = (node.value.provider.clone().unwrap_or_default(), node.value.state.as_str().to_string());
        *counts.entry(key).or_insert(0) += 1;
    }
    ctx.metrics.set_nodes(&counts);
    if let Some(statsd) = ctx.metrics.statsd_gauges_due(STATSD_INTERVAL) {
        statsd_gauges(store, statsd, &nodes).await;
        statsd.tenant_limits(&ctx.policies().tenant_limits);
    }
    // Candidates only: a request missing here is read again under the node's lock (the cache
    // may have the node's allocation before the request's creation).
    let requests: HashSet<String> = ctx.cache.requests(store).await?.into_iter().map(|r| r.id).collect();
    for node in nodes {
        let Some(provider) = node.value.provider.clone() else { continue };
        // A node one of our request handlers holds is theirs, also while its lock is being
        // taken again on a new session.
        if ctx.driver(&provider).is_none()
            || ctx.is_held(&node.id)
            || in_flight.lock().map(|s| s.contains(&node.id)).unwrap_or(true)
        {
            continue;
        }
        let orphaned_ready = node.value.state == NodeState::Ready
            && node.value.allocated_to.as_ref().is_some_and(|request| !requests.contains(request));
        if !orphaned_ready && !wants_deletion(&node.value) {
            continue;
        }
        if store.node_is_locked(&node.id).await? {
            continue;
        }
        let Some(lock) = store.lock_node(&node.id, Wait::No).await? else { continue };
        // Re-read under the lock.
        let Some(mut current) = store.get_node(&node.id).await? else {
            lock.release().await?;
            continue;
        };
        // Only if it is still allocated to the request seen gone: meanwhile it may have been
        // released and reused by a newer request (request ids are never reused).
        let request_gone = match current.value.allocated_to.as_deref() {
            Some(request) if orphaned_ready => store.get_request(request).await?.is_none(),
            _ => false,
        };
        if request_gone
            && current.value.state == NodeState::Ready
            && current.value.allocated_to == node.value.allocated_to
        {
            info!(node = %current.id, request = current.value.allocated_to.as_deref().unwrap_or_default(), "request is gone; node returns to the pool");
            current.value.allocated_to = None;
            store.update_node(&mut current).await?;
            lock.release().await?;
            ctx.changed.raise();
            continue;
        }
        if !wants_deletion(&current.value) {
            lock.release().await?;
            continue;
        }
        if let Ok(mut set) = in_flight.lock() {
            set.insert(current.id.clone());
        }
        let ctx = ctx.clone();
        let in_flight = in_flight.clone();
        let span = info_span!("node", id = %current.id, provider = %provider);
        deletions.spawn(
            async move {
                let id = current.id.clone();
                delete(&ctx, &provider, current, lock).await;
                if let Ok(mut set) = in_flight.lock() {
                    set.remove(&id);
                }
                ctx.changed.raise();
            }
            .instrument(span),
        );
    }
    Ok(())
}

async fn delete(ctx: &Context, provider: &str, mut node: Versioned<Node>, lock: crate::zk::HeldLock) {
    let store = &ctx.store;
    let was = node.value.state;
    node.value.set_state(NodeState::Deleting);
    if let Err(error) = store.update_node(&mut node).await {
        warn!(%error, "cannot mark the node deleting");
        let _ = lock.release().await;
        return;
    }
    info!(from = %was.as_str(), external_id = node.value.external_id.as_deref().unwrap_or_default(), "deleting node");
    if let (Some(driver), Some(external_id)) = (ctx.driver(provider), node.value.external_id.clone())
        && let Err(error) = driver.delete(&external_id).await
    {
        warn!(%error, "cloud deletion failed; keeping the node for another try");
        let _ = lock.release().await;
        return;
    }
    node.value.set_state(NodeState::Deleted);
    let _ = store.update_node(&mut node).await;
    // Removing the znode removes the lock with it; releasing then finds it already gone.
    match store.delete_node(&node.id).await {
        Ok(()) => debug!("node record removed"),
        Err(error) => warn!(%error, "cannot remove the node record"),
    }
    let _ = lock.release().await;
}
