//! The life of one accepted request (reference §2.8, steps 11 and 4): launch every new node
//! (with `launch-retries`), then fulfil the request (all nodes ready), decline it (a node
//! failed), or hand it back (a node was aborted by the cloud's quota).

use super::context::Context;
use super::plan::PoolPlan;
use crate::zk::{
    HeldLock, Node, NodeRequest, NodeState, PoolComponent, RequestState, Store, Versioned, Wait, ZkError, model::now,
};
use async_trait::async_trait;
use kubepool_driver_api::{LaunchError, LaunchProgress, LaunchedNode, NodeSpec, RequestAttributes};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tracing::{Instrument, debug, info, info_span, warn};

/// An accepted request: locked, `pending`, with one slot per requested label.
pub struct Accepted {
    pub request: Versioned<NodeRequest>,
    pub lock: HeldLock,
    pub slots: Vec<Slot>,
}

/// A node allocated to the request, locked by us.
pub struct Slot {
    node: Arc<Mutex<Held<Node>>>,
    /// An existing ready node (nothing to launch).
    reused: bool,
}

impl Slot {
    pub fn reused(node: Versioned<Node>, lock: HeldLock) -> Self {
        Self { node: Arc::new(Mutex::new(Held { item: node, lock })), reused: true }
    }
    pub fn building(node: Versioned<Node>, lock: HeldLock) -> Self {
        Self { node: Arc::new(Mutex::new(Held { item: node, lock })), reused: false }
    }
    /// A node that has to be launched (not reused).
    pub fn is_new(&self) -> bool {
        !self.reused
    }
}

/// How long a handler waits to re-take a lock on a new session.
const RELOCK_WAIT: Duration = Duration::from_secs(5);

/// A znode we hold locked, with what we last read or wrote of it.
pub struct Held<T> {
    pub item: Versioned<T>,
    pub lock: HeldLock,
}

impl Held<Node> {
    /// Before a write: is the node still ours on the store's current session? The lock of a
    /// lost session is void, so the lock is taken again and the node re-read. It is ours if it
    /// still exists, is still allocated to `request` and in the state we left it in; otherwise a
    /// cleanup pass (ours or another launcher's) took it over, and we must not write it (its
    /// cluster objects go to whoever deletes the node, or to the leak sweep).
    async fn ensure_ours(&mut self, store: &Store, request: &str) -> Result<bool, ZkError> {
        if self.lock.session_id() == store.session_id() {
            return Ok(true);
        }
        let Some(lock) = store.lock_node(&self.item.id, Wait::Upto(RELOCK_WAIT)).await? else {
            return Ok(false);
        };
        match store.get_node(&self.item.id).await? {
            Some(current)
                if current.value.allocated_to.as_deref() == Some(request)
                    && current.value.state == self.item.value.state =>
            {
                info!(node = %self.item.id, "node lock taken again on the new ZooKeeper session");
                // Our value is the newer one (a write may have been lost with the session).
                self.item.version = current.version;
                std::mem::replace(&mut self.lock, lock).abandon();
                Ok(true)
            }
            _ => {
                lock.release().await?;
                Ok(false)
            }
        }
    }
}

impl Held<NodeRequest> {
    /// [`Held::<Node>::ensure_ours`] for the request: still there and `pending`, locked by us.
    async fn ensure_ours(&mut self, store: &Store) -> Result<bool, ZkError> {
        if self.lock.session_id() == store.session_id() {
            return Ok(true);
        }
        let Some(lock) = store.lock_request(&self.item.id, Wait::Upto(RELOCK_WAIT)).await? else {
            return Ok(false);
        };
        match store.get_request(&self.item.id).await? {
            Some(current) if current.value.state == RequestState::Pending => {
                info!("request lock taken again on the new ZooKeeper session");
                self.item.version = current.version;
                std::mem::replace(&mut self.lock, lock).abandon();
                Ok(true)
            }
            _ => {
                lock.release().await?;
                Ok(false)
            }
        }
    }
}

#[derive(Debug)]
enum Outcome {
    Ready,
    Failed(String),
    Aborted(String),
    /// The node was taken over while its ZooKeeper session was lost: not ours to settle.
    Lost,
}

/// Launches the request's new nodes and settles the request. Errors are logged: whatever is
/// left unsettled (a lost ZooKeeper write, a crash) is recovered by the cleanup worker.
pub async fn run(ctx: Arc<Context>, plan: PoolPlan, worker_id: String, accepted: Accepted) {
    let started = Instant::now();
    let attributes = request_attributes(&accepted.request);
    let request_id = accepted.request.id.clone();
    let mut held_ids = vec![request_id.clone()];
    for slot in &accepted.slots {
        held_ids.push(slot.node.lock().await.item.id.clone());
    }
    ctx.hold(held_ids.clone(), true);
    let launches = accepted.slots.iter().map(|slot| {
        let ctx = ctx.clone();
        let plan = plan.clone();
        let attributes = attributes.clone();
        let node = slot.node.clone();
        let reused = slot.reused;
        async move {
            if reused {
                return Outcome::Ready;
            }
            let id = node.lock().await.item.id.clone();
            // Counted in by the pool worker when it accepted the request.
            let outcome = launch_node(&ctx, &plan, attributes, node).instrument(info_span!("node", id = %id)).await;
            ctx.count_launches(&plan.provider, -1);
            outcome
        }
    });
    let outcomes = futures::future::join_all(launches).await;
    settle(&ctx, &plan, &worker_id, accepted, outcomes, started).await;
    ctx.hold(held_ids, false);
}

fn request_attributes(request: &Versioned<NodeRequest>) -> RequestAttributes {
    let r = &request.value;
    RequestAttributes {
        id: request.id.clone(),
        labels: r.node_types.clone(),
        requestor: r.requestor.clone(),
        requestor_data: r.requestor_data.as_ref().and_then(|d| d.parse()),
        relative_priority: r.relative_priority,
        event_id: r.event_id.clone(),
        created_time: r.created_time,
        tenant_name: r.tenant_name.clone(),
    }
}

/// Records a launch's external id in the node record as soon as the driver knows it.
struct RecordProgress<'a> {
    ctx: &'a Context,
    node: Arc<Mutex<Held<Node>>>,
    request: &'a str,
}

#[async_trait]
impl LaunchProgress for RecordProgress<'_> {
    async fn external_id(&self, external_id: &str) {
        let mut node = self.node.lock().await;
        if node.item.value.external_id.as_deref() == Some(external_id) {
            return;
        }
        node.item.value.external_id = Some(external_id.to_string());
        match node.ensure_ours(&self.ctx.store, self.request).await {
            Ok(true) => {}
            Ok(false) => {
                warn!("node taken over while the ZooKeeper session was lost; not recording its external id");
                return;
            }
            Err(error) => {
                warn!(%error, "cannot record the external id (the leak sweep finds it by label)");
                return;
            }
        }
        if let Err(error) = self.ctx.store.update_node(&mut node.item).await {
            warn!(%error, "cannot record the external id (the leak sweep finds it by label)");
        }
    }
}

async fn launch_node(
    ctx: &Context,
    plan: &PoolPlan,
    request: RequestAttributes,
    node: Arc<Mutex<Held<Node>>>,
) -> Outcome {
    let Some(driver) = ctx.driver(&plan.provider) else {
        return Outcome::Failed(format!("no driver for provider {}", plan.provider));
    };
    let request_id = request.id.clone();
    let (spec, created) = {
        let n = node.lock().await;
        let label = n.item.value.label().unwrap_or_default().to_string();
        (
            NodeSpec {
                node_id: n.item.id.clone(),
                provider: plan.provider.clone(),
                pool: plan.pool.clone(),
                label,
                request,
            },
            n.item.value.created_time,
        )
    };
    let progress = RecordProgress { ctx, node: node.clone(), request: &request_id };
    let launch_started = std::time::Instant::now();
    let attempts = plan.launch_retries.max(1);
    let mut attempt = 0;
    let outcome = loop {
        attempt += 1;
        match driver.launch(&spec, &progress).await {
            Ok(launched) => break Ok(launched),
            Err(error) if error.is_retryable() && attempt < attempts && !ctx.is_stopping() => {
                ctx.metrics.launch_error(&plan.provider, "transient");
                warn!(attempt, attempts, %error, "launch attempt failed; retrying");
            }
            Err(error) => {
                let kind = match &error {
                    LaunchError::Transient(_) => "transient",
                    LaunchError::Quota(_) => "quota",
                    LaunchError::Permanent(_) => "permanent",
                };
                ctx.metrics.launch_error(&plan.provider, kind);
                break Err(error);
            }
        }
    };
    let mut n = node.lock().await;
    match n.ensure_ours(&ctx.store, &request_id).await {
        Ok(true) => {}
        Ok(false) => {
            warn!("node taken over while the ZooKeeper session was lost; leaving it to its new owner");
            statsd_launch(ctx, plan, &spec, None, "error.zksession", launch_started);
            return Outcome::Lost;
        }
        Err(error) => {
            warn!(%error, "cannot take the node's lock again");
            return Outcome::Failed(format!("cannot lock the node again: {error}"));
        }
    }
    let result = match outcome {
        Ok(launched) => {
            apply(&mut n.item.value, launched, ctx.driver_cloud(&plan.provider));
            n.item.value.set_state(NodeState::Ready);
            if let Some(created) = created {
                ctx.metrics.launch_seconds(&plan.provider, &spec.label, (now() - created).max(0.0));
            }
            info!(label = %spec.label, attempts = attempt, "node ready");
            Outcome::Ready
        }
        Err(LaunchError::Quota(reason)) => {
            warn!(%reason, "launch aborted by the cloud's quota");
            n.item.value.set_state(NodeState::Aborted);
            Outcome::Aborted(reason)
        }
        Err(error) => {
            warn!(attempts = attempt, %error, "launch failed");
            n.item.value.set_state(NodeState::Failed);
            Outcome::Failed(error.to_string())
        }
    };
    let subkey = match &result {
        Outcome::Ready => "ready",
        Outcome::Aborted(_) => "error.quota",
        _ => "error.unknown",
    };
    statsd_launch(ctx, plan, &spec, n.item.value.az.as_deref(), subkey, launch_started);
    if let Err(error) = ctx.store.update_node(&mut n.item).await {
        warn!(%error, "cannot store the node's state");
        return Outcome::Failed(format!("cannot store the node: {error}"));
    }
    result
}

/// Nodepool's `nodepool.launch.*` statsd timer and counter of a finished launch.
fn statsd_launch(
    ctx: &Context,
    plan: &PoolPlan,
    spec: &NodeSpec,
    az: Option<&str>,
    subkey: &str,
    started: std::time::Instant,
) {
    if let Some(statsd) = ctx.metrics.statsd() {
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        statsd.launch(&plan.provider, az, spec.request.requestor.as_deref(), subkey, ms);
    }
}

/// Copies a launched node's connection fields into its record (reference §2.5, §5).
fn apply(node: &mut Node, launched: LaunchedNode, cloud: Option<String>) {
    node.external_id = Some(launched.external_id);
    node.connection_type = Some(launched.connection_type);
    node.connection_port = launched.connection_port;
    node.interface_ip = launched.interface_ip;
    node.host_id = launched.host_id;
    node.python_path = launched.python_path;
    node.shell_type = launched.shell_type;
    node.username = launched.username;
    node.host_keys = launched.host_keys;
    node.cloud = cloud;
}

/// Adds `worker_id` to `declined_by`; the request fails only when every registered pool has
/// declined it (reference §2.8 step 10), else it waits for another pool.
pub fn decline_request(request: &mut NodeRequest, worker_id: &str, registered: &[PoolComponent]) {
    if !request.declined_by(worker_id) {
        request.declined_by.push(worker_id.to_string());
    }
    let everyone_declined =
        registered.iter().filter_map(|c| c.id.as_deref()).all(|id| request.declined_by.iter().any(|d| d == id));
    request.nodes.clear();
    request.set_state(if everyone_declined { RequestState::Failed } else { RequestState::Requested });
}

async fn settle(
    ctx: &Context,
    plan: &PoolPlan,
    worker_id: &str,
    accepted: Accepted,
    outcomes: Vec<Outcome>,
    started: Instant,
) {
    let Accepted { request, lock, slots } = accepted;
    let request_id = request.id.clone();
    let store = &ctx.store;
    let mut held = Held { item: request, lock };
    match held.ensure_ours(store).await {
        Ok(true) => {}
        Ok(false) => {
            info!("request taken over while the ZooKeeper session was lost; releasing its nodes");
            held.lock.abandon();
            release_nodes(ctx, &request_id, slots, |_| true).await;
            return;
        }
        Err(error) => {
            warn!(%error, "cannot take the request's lock again; leaving it to the cleanup worker");
            held.lock.abandon();
            return;
        }
    }
    let Held { item: _, lock } = held;
    let current = match store.get_request(&request_id).await {
        Ok(current) => current,
        Err(error) => {
            // Leave the locks to the session: the cleanup worker recovers a lost request.
            warn!(%error, "cannot read the request back; leaving it to the cleanup worker");
            return;
        }
    };
    let Some(mut current) = current else {
        info!("request was withdrawn while its nodes launched; releasing them");
        release_nodes(ctx, &request_id, slots, |_| true).await;
        let _ = lock.release().await;
        return;
    };
    let all_ready = outcomes.iter().all(|o| matches!(o, Outcome::Ready));
    if all_ready {
        let mut ids = Vec::with_capacity(slots.len());
        let mut all_ours = true;
        for slot in &slots {
            let mut node = slot.node.lock().await;
            all_ours &= node.ensure_ours(store, &request_id).await.unwrap_or(false);
            ids.push(node.item.id.clone());
        }
        if !all_ours {
            info!("a reused node was taken over while the ZooKeeper session was lost; handing the request back");
            release_nodes(ctx, &request_id, slots, |node| node.state == NodeState::Ready).await;
            current.value.nodes.clear();
            current.value.set_state(RequestState::Requested);
            if let Err(error) = store.update_request(&mut current).await {
                warn!(%error, "cannot store the request");
            }
            let _ = lock.release().await;
            return;
        }
        for slot in slots {
            let node = Arc::into_inner(slot.node).map(Mutex::into_inner);
            if let Some(node) = node {
                let _ = node.lock.release().await;
            }
        }
        current.value.nodes = ids;
        current.value.set_state(RequestState::Fulfilled);
        match store.update_request(&mut current).await {
            Ok(()) => {
                info!(nodes = %current.value.nodes.join(","), seconds = started.elapsed().as_secs_f64(), "request fulfilled");
                ctx.metrics.request_outcome(&plan.provider, "fulfilled");
            }
            Err(error) => warn!(%error, "cannot store the fulfilled request"),
        }
        let _ = lock.release().await;
        return;
    }

    let failed: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Failed(reason) => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    // Ready nodes go back to the pool for reuse; failed and aborted ones to the deleter.
    release_nodes(ctx, &request_id, slots, |node| node.state == NodeState::Ready).await;
    if failed.is_empty() {
        let aborted: Vec<&str> = outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Aborted(reason) => Some(reason.as_str()),
                Outcome::Lost => Some("node taken over while the ZooKeeper session was lost"),
                _ => None,
            })
            .collect();
        info!(reasons = %aborted.join("; "), "nodes aborted or lost; handing the request back");
        current.value.nodes.clear();
        current.value.set_state(RequestState::Requested);
    } else {
        let registered: Vec<PoolComponent> = ctx.cache.pool_components(store).await.unwrap_or_default();
        decline_request(&mut current.value, worker_id, &registered);
        info!(
            reasons = %failed.join("; "),
            state = current.value.state.as_str(),
            "declined request after failed launches"
        );
        ctx.metrics.request_outcome(
            &plan.provider,
            if current.value.state == RequestState::Failed { "failed" } else { "declined" },
        );
    }
    if let Err(error) = store.update_request(&mut current).await {
        warn!(%error, "cannot store the request");
    }
    let _ = lock.release().await;
}

/// Unlocks the slots' nodes; those for which `deallocate` holds lose their allocation. A node
/// taken over while the session was lost is left to its new owner.
async fn release_nodes(ctx: &Context, request: &str, slots: Vec<Slot>, deallocate: impl Fn(&Node) -> bool) {
    for slot in slots {
        let Some(mut node) = Arc::into_inner(slot.node).map(Mutex::into_inner) else { continue };
        match node.ensure_ours(&ctx.store, request).await {
            Ok(true) => {}
            Ok(false) | Err(_) => {
                node.lock.abandon();
                continue;
            }
        }
        if deallocate(&node.item.value) && node.item.value.allocated_to.is_some() {
            node.item.value.allocated_to = None;
            if let Err(error) = ctx.store.update_node(&mut node.item).await {
                warn!(node = %node.item.id, %error, "cannot release the node");
            }
        }
        let _ = node.lock.release().await;
    }
    ctx.nodes_changed.raise();
}

/// Returns a request whose node allocation failed half-way: reused nodes are released, new
/// ones marked failed (the deleter removes them), the request goes back to `requested`.
pub async fn hand_back(ctx: &Context, accepted: Accepted) {
    let Accepted { mut request, lock, slots } = accepted;
    for slot in &slots {
        let mut node = slot.node.lock().await;
        if !slot.reused {
            node.item.value.set_state(NodeState::Failed);
            let _ = ctx.store.update_node(&mut node.item).await;
        }
    }
    release_nodes(ctx, &request.id, slots, |node| node.state == NodeState::Ready).await;
    request.value.nodes.clear();
    request.value.set_state(RequestState::Requested);
    if let Err(error) = ctx.store.update_request(&mut request).await {
        debug!(%error, "cannot hand the request back; the cleanup worker will");
    }
    let _ = lock.release().await;
}
