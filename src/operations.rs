//! What an operator asks of a running deployment (like `nodepool list`, `nodepool delete`,
//! `nodepool info`): read from ZooKeeper, never from a launcher's memory.

use crate::zk::{NodeState, PoolComponent, RequestState, Store, Wait, ZkError, model::now};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// One node, as `kubepool list` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeRow {
    pub id: String,
    pub provider: Option<String>,
    pub pool: Option<String>,
    pub label: Option<String>,
    pub state: NodeState,
    /// Seconds in this state.
    pub age: Option<f64>,
    pub external_id: Option<String>,
    pub interface_ip: Option<String>,
    pub allocated_to: Option<String>,
    pub locked: bool,
}

/// One request, as `kubepool list --requests` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RequestRow {
    pub id: String,
    pub state: RequestState,
    pub labels: Vec<String>,
    pub nodes: Vec<String>,
    pub declined_by: Vec<String>,
    pub tenant: Option<String>,
    pub age: Option<f64>,
}

pub async fn list_nodes(store: &Store) -> Result<Vec<NodeRow>, ZkError> {
    let mut rows = Vec::new();
    for node in store.list_nodes().await? {
        let locked = store.node_is_locked(&node.id).await?;
        let n = node.value;
        rows.push(NodeRow {
            id: node.id,
            label: n.label().map(str::to_string),
            provider: n.provider,
            pool: n.pool,
            state: n.state,
            age: n.state_time.map(|t| (now() - t).max(0.0)),
            external_id: n.external_id,
            interface_ip: n.interface_ip,
            allocated_to: n.allocated_to,
            locked,
        });
    }
    Ok(rows)
}

pub async fn list_requests(store: &Store) -> Result<Vec<RequestRow>, ZkError> {
    Ok(store
        .list_requests()
        .await?
        .into_iter()
        .map(|r| RequestRow {
            id: r.id,
            state: r.value.state,
            labels: r.value.node_types,
            nodes: r.value.nodes,
            declined_by: r.value.declined_by,
            tenant: r.value.tenant_name,
            age: r.value.created_time.map(|t| (now() - t).max(0.0)),
        })
        .collect())
}

#[derive(Debug, thiserror::Error)]
pub enum NodeChangeError {
    #[error("no node {0}")]
    NoSuchNode(String),
    #[error("node {0} is locked (in use by a job, or being built); try again later")]
    Locked(String),
    #[error(transparent)]
    ZooKeeper(#[from] ZkError),
}

/// Marks node `id` `deleting` under its lock; a launcher of its provider then deletes the
/// resource and the record (as `nodepool delete` does). Returns the state it had.
pub async fn mark_for_deletion(store: &Store, id: &str, wait: Duration) -> Result<NodeState, NodeChangeError> {
    update_locked(store, id, wait, |node| node.set_state(NodeState::Deleting)).await
}

/// What `kubepool hold` records besides the state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hold {
    /// Why the node is held (the node's `comment`, as Zuul's autohold writes it).
    pub reason: Option<String>,
    /// Seconds after which the launcher deletes the held node (`hold_expiration`).
    pub expiry: Option<u64>,
}

/// Puts node `id` in the `hold` state under its lock (as `nodepool hold`), with a reason and an
/// expiry when given. Returns the state it had.
pub async fn hold(store: &Store, id: &str, hold: &Hold, wait: Duration) -> Result<NodeState, NodeChangeError> {
    update_locked(store, id, wait, |node| {
        node.set_state(NodeState::Hold);
        if let Some(reason) = &hold.reason {
            node.comment = Some(reason.clone());
        }
        if let Some(expiry) = hold.expiry {
            node.hold_expiration = Some(expiry.into());
        }
    })
    .await
}

/// Changes node `id` with `change` while holding its lock (waiting up to `wait` for it).
async fn update_locked(
    store: &Store,
    id: &str,
    wait: Duration,
    change: impl FnOnce(&mut crate::zk::Node),
) -> Result<NodeState, NodeChangeError> {
    if store.get_node(id).await?.is_none() {
        return Err(NodeChangeError::NoSuchNode(id.to_string()));
    }
    let Some(lock) = store.lock_node(id, Wait::Upto(wait)).await.or_else(|e| match e {
        ZkError::LockTimeout { .. } => Ok(None),
        other => Err(other),
    })?
    else {
        return Err(NodeChangeError::Locked(id.to_string()));
    };
    let result = async {
        let Some(mut node) = store.get_node(id).await? else {
            return Err(NodeChangeError::NoSuchNode(id.to_string()));
        };
        let was = node.value.state;
        change(&mut node.value);
        store.update_node(&mut node).await?;
        Ok(was)
    }
    .await;
    lock.release().await?;
    result
}

/// The deployment at a glance, for `kubepool info`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Info {
    pub launchers: Vec<String>,
    pub pools: Vec<PoolComponent>,
    /// Nodes by provider, then by state.
    pub nodes: BTreeMap<String, BTreeMap<String, usize>>,
    /// Requests by state.
    pub requests: BTreeMap<String, usize>,
}

pub async fn info(store: &Store) -> Result<Info, ZkError> {
    let launchers = store.children(crate::zk::paths::component_dir("launcher").as_str()).await?;
    let pools = store.list_pool_components().await?.into_iter().map(|c| c.value).collect();
    let mut nodes: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for node in store.list_nodes().await? {
        let provider = node.value.provider.unwrap_or_else(|| "(none)".to_string());
        *nodes.entry(provider).or_default().entry(node.value.state.as_str().to_string()).or_default() += 1;
    }
    let mut requests: BTreeMap<String, usize> = BTreeMap::new();
    for request in store.list_requests().await? {
        *requests.entry(request.value.state.as_str().to_string()).or_default() += 1;
    }
    Ok(Info { launchers, pools, nodes, requests })
}
