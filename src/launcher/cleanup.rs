//! The cleanup worker (reference §2.11), every minute and once soon after start:
//!
//! * lost requests: `pending` but nobody holds their lock (the launcher that accepted them
//!   died) → their unlocked nodes are released (ready) or failed (others, for the deleter), and
//!   the request goes back to `requested`;
//! * leaked resources: objects a driver made whose node record is gone → deleted, but only
//!   when seen leaked on two passes in a row, so a launch that has just created its first object
//!   is never raced;
//! * request-lock directories whose request is gone, after 8 hours (as Nodepool).

use super::context::Context;
use crate::zk::{LOCK_CLEANUP, NodeState, RequestState, Wait, ZkError};
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

pub const PASS_INTERVAL: Duration = Duration::from_secs(60);
const FIRST_PASS: Duration = Duration::from_secs(5);

pub async fn run(ctx: Arc<Context>, interval: Duration) {
    let mut suspects: BTreeSet<(String, String)> = BTreeSet::new();
    let mut wait = FIRST_PASS.min(interval);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = ctx.stopped() => return,
        }
        wait = interval;
        if let Err(error) = lost_requests(&ctx).await {
            warn!(%error, "lost-request pass failed");
        }
        if let Err(error) = expire(&ctx).await {
            warn!(%error, "expiry pass failed");
        }
        match leaks(&ctx, &suspects).await {
            Ok(next) => suspects = next,
            Err(error) => warn!(%error, "leak pass failed"),
        }
        match ctx.store.delete_orphan_request_locks(LOCK_CLEANUP).await {
            Ok(removed) if !removed.is_empty() => info!(count = removed.len(), "removed orphan request locks"),
            Ok(_) => {}
            Err(error) => warn!(%error, "orphan request-lock pass failed"),
        }
    }
}

/// Puts back requests that are `pending` with nobody holding them.
pub async fn lost_requests(ctx: &Context) -> Result<(), ZkError> {
    let store = &ctx.store;
    let pending: Vec<_> =
        store.list_requests().await?.into_iter().filter(|r| r.value.state == RequestState::Pending).collect();
    if pending.is_empty() {
        return Ok(());
    }
    let nodes = store.list_nodes().await?;
    for request in pending {
        // Our own handler holds it (its lock is being taken again on a new session).
        if ctx.is_held(&request.id) {
            continue;
        }
        let Some(lock) = store.lock_request(&request.id, Wait::No).await? else { continue };
        let Some(mut current) = store.get_request(&request.id).await? else {
            lock.release().await?;
            continue;
        };
        if current.value.state != RequestState::Pending {
            lock.release().await?;
            continue;
        }
        for node in
            nodes.iter().filter(|n| n.value.allocated_to.as_deref() == Some(request.id.as_str()) && !ctx.is_held(&n.id))
        {
            let Some(node_lock) = store.lock_node(&node.id, Wait::No).await? else { continue };
            if let Some(mut n) = store.get_node(&node.id).await?
                && n.value.allocated_to.as_deref() == Some(request.id.as_str())
            {
                if n.value.state == NodeState::Ready {
                    n.value.allocated_to = None;
                } else {
                    n.value.set_state(NodeState::Failed);
                }
                store.update_node(&mut n).await?;
            }
            node_lock.release().await?;
        }
        current.value.nodes.clear();
        current.value.set_state(RequestState::Requested);
        store.update_request(&mut current).await?;
        lock.release().await?;
        info!(request = %request.id, "lost request (pending, unlocked) handed back");
        ctx.changed.raise();
        ctx.nodes_changed.raise();
    }
    Ok(())
}

/// Marks `deleting` the nodes of our providers past `max-ready-age` or their hold; the
/// deleted-node worker then removes them.
pub async fn expire(ctx: &Context) -> Result<(), ZkError> {
    let store = &ctx.store;
    let now = crate::zk::model::now();
    for node in store.list_nodes().await? {
        if node.value.provider.as_deref().is_none_or(|p| ctx.driver(p).is_none())
            || ctx.is_held(&node.id)
            || ctx.policies().expired(&node.value, now).is_none()
        {
            continue;
        }
        let Some(lock) = store.lock_node(&node.id, Wait::No).await? else { continue };
        if let Some(mut current) = store.get_node(&node.id).await?
            && let Some(reason) = ctx.policies().expired(&current.value, now)
        {
            info!(node = %current.id, %reason, "node expired; deleting");
            current.value.set_state(NodeState::Deleting);
            store.update_node(&mut current).await?;
        }
        lock.release().await?;
        ctx.nodes_changed.raise();
    }
    Ok(())
}

/// One leak pass: returns the (provider, external id) pairs seen leaked for the first time.
pub async fn leaks(
    ctx: &Context,
    previous: &BTreeSet<(String, String)>,
) -> Result<BTreeSet<(String, String)>, ZkError> {
    let known: HashSet<String> = ctx.store.node_ids().await?.into_iter().collect();
    let mut suspects = BTreeSet::new();
    for (provider, driver) in ctx.drivers() {
        let resources = match driver.list_resources().await {
            Ok(resources) => resources,
            Err(error) => {
                warn!(%provider, %error, "cannot list resources; skipping the leak check");
                continue;
            }
        };
        for resource in resources {
            let Some(node_id) = resource.node_id.as_deref() else { continue };
            if known.contains(node_id) || resource.deleting {
                continue;
            }
            let key = (provider.clone(), resource.external_id.clone());
            if previous.contains(&key) {
                info!(%provider, external_id = %resource.external_id, node_id, "deleting leaked resource");
                match driver.delete(&resource.external_id).await {
                    Ok(()) => {
                        if let Some(statsd) = ctx.metrics.statsd() {
                            statsd.leaked(&provider);
                        }
                    }
                    Err(error) => {
                        warn!(%provider, external_id = %resource.external_id, %error, "cannot delete leaked resource");
                        suspects.insert(key);
                    }
                }
            } else {
                suspects.insert(key);
            }
        }
    }
    Ok(suspects)
}
