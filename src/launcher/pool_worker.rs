//! One pool worker per pool (reference §2.8): registers the pool component, and on every
//! ZooKeeper change goes through the requests in priority order, declining or accepting them.
//! An accepted request gets its nodes allocated (reused or created) and a
//! [`handler`](super::handler) task that launches them and fulfils or declines the request.

use super::context::Context;
use super::decide::{Verdict, decide};
use super::handler::{self, Accepted, Slot};
use super::plan::PoolPlan;
use super::quota;
use crate::metrics::PauseReason;
use crate::zk::{
    ComponentRegistration, Node, NodeRequest, NodeState, PoolComponent, RequestState, Versioned, Wait, ZkError,
    model::now,
};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{Instrument, debug, info, info_span, warn};

/// A pass also runs this often without any ZooKeeper change (a safety net, not the engine).
const IDLE_PASS: Duration = Duration::from_secs(15);
/// How many requests a pass accepts at once.
const ACCEPT_PIPELINE: usize = 32;
/// How long a pass waits for another launcher's pass over the same pool.
const QUOTA_LOCK_WAIT: Duration = Duration::from_secs(30);

pub struct PoolWorker {
    ctx: Arc<Context>,
    plan: PoolPlan,
    /// `<hostname>-PoolWorker.<provider>-<pool>-<uuid4 hex>`: what goes into `declined_by`.
    id: String,
    /// Requests this worker is handling now.
    in_flight: Arc<Mutex<HashSet<String>>>,
    paused: bool,
    /// New settings from a config reload; `None` once the pool was removed from the config.
    updates: watch::Receiver<Option<PoolPlan>>,
}

impl PoolWorker {
    /// A worker for `plan`; `updates` brings the pool's settings after a config reload (its
    /// current value is `plan`).
    pub fn new(ctx: Arc<Context>, plan: PoolPlan, updates: watch::Receiver<Option<PoolPlan>>) -> Self {
        let id =
            format!("{}-PoolWorker.{}-{}-{}", ctx.hostname, plan.provider, plan.pool, uuid::Uuid::new_v4().simple());
        Self { ctx, plan, id, in_flight: Arc::default(), paused: false, updates }
    }

    /// Applies a config reload's news: `false` if the pool was removed.
    async fn apply_update(&mut self, registration: Option<&mut ComponentRegistration>) -> bool {
        // The latest value, whether or not a wait already marked it seen.
        let Some(plan) = self.updates.borrow_and_update().clone() else { return false };
        if plan != self.plan {
            info!(labels = %plan.labels.keys().cloned().collect::<Vec<_>>().join(","), "pool settings changed by a config reload; new launches use them");
            self.plan = plan;
            if let Some(registration) = registration
                && let Err(error) = registration.update(&self.ctx.store.client(), &self.component()).await
            {
                warn!(%error, "cannot update the pool component");
            }
        }
        true
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn component(&self) -> PoolComponent {
        let mut component = PoolComponent::running(&self.ctx.hostname, &self.id, &self.plan.provider, &self.plan.pool);
        component.supported_labels = self.plan.labels.keys().cloned().collect();
        component.priority = self.plan.priority;
        component.paused = self.paused;
        component
    }

    /// Serves until shutdown; then waits for the requests in flight to finish. The pool
    /// component is registered on every new ZooKeeper session before the pool takes requests.
    pub async fn run(mut self) -> Result<(), ZkError> {
        let span = info_span!("pool", provider = %self.plan.provider, pool = %self.plan.pool);
        let mut registration: Option<ComponentRegistration> = None;
        let mut handlers = JoinSet::new();
        let mut changed = self.ctx.changed.subscribe();
        let mut removed = false;
        while !self.ctx.is_stopping() {
            if !self.apply_update(registration.as_mut()).instrument(span.clone()).await {
                removed = true;
                break;
            }
            let client = self.ctx.store.client();
            if registration.as_ref().is_none_or(|r| !r.is_on(&client)) {
                self.ctx.metrics.set_pool_serving(&self.plan.provider, &self.plan.pool, false);
                match ComponentRegistration::register(&client, &self.component()).instrument(span.clone()).await {
                    Ok(registered) => {
                        info!(parent: &span, id = %self.id, labels = %self.plan.labels.keys().cloned().collect::<Vec<_>>().join(","), "pool worker registered");
                        registration = Some(registered);
                        self.ctx.metrics.set_pool_serving(&self.plan.provider, &self.plan.pool, true);
                    }
                    Err(error) => {
                        debug!(parent: &span, %error, "cannot register the pool component yet; waiting for ZooKeeper");
                        registration = None;
                    }
                }
            }
            if let Some(registration) = registration.as_mut() {
                let was_paused = self.paused;
                // A provider whose cloud does not answer takes no requests (see `health`).
                let outage = self.ctx.health.problem(&self.plan.provider);
                if outage.is_some() {
                    self.paused = true;
                } else if let Err(error) = self.pass(&mut handlers).instrument(span.clone()).await {
                    warn!(parent: &span, %error, "request pass failed; trying again on the next change");
                }
                self.ctx.metrics.set_pool_serving(&self.plan.provider, &self.plan.pool, outage.is_none());
                let reason = match (&outage, self.paused) {
                    (Some(_), _) => Some(PauseReason::ProviderUnreachable),
                    (None, true) => Some(PauseReason::Quota),
                    (None, false) => None,
                };
                self.ctx.metrics.set_pool_paused(&self.plan.provider, &self.plan.pool, reason);
                if self.paused != was_paused {
                    let why = match (&outage, self.paused) {
                        (Some(reason), _) => format!("paused: the provider does not answer ({reason})"),
                        (None, true) => "paused at quota".to_string(),
                        (None, false) => "resumed".to_string(),
                    };
                    info!(parent: &span, paused = self.paused, "pool {why}");
                    if let Err(error) = registration.update(&self.ctx.store.client(), &self.component()).await {
                        warn!(parent: &span, %error, "cannot update the pool component");
                    }
                }
            }
            while let Some(done) = handlers.try_join_next() {
                if let Err(error) = done {
                    warn!(parent: &span, %error, "request handler task failed");
                }
            }
            let updated = async {
                if self.updates.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                _ = changed.changed() => {}
                _ = tokio::time::sleep(IDLE_PASS) => {}
                _ = self.ctx.stopped() => {}
                _ = updated => {}
            }
        }
        self.ctx.metrics.set_pool_serving(&self.plan.provider, &self.plan.pool, false);
        info!(parent: &span, in_flight = handlers.len(), removed, "pool worker stopping; finishing requests in flight");
        // Unregistered first: other launchers' pools stop waiting for this one's verdicts.
        if let Some(registration) = registration {
            registration.remove(&self.ctx.store.client()).await?;
        }
        while handlers.join_next().await.is_some() {}
        if removed {
            self.retire_ready_nodes().instrument(span).await?;
        }
        Ok(())
    }

    /// The pool was removed from the config: its ready, unallocated nodes are deleted (nodes in
    /// use are deleted when they are returned, as always).
    async fn retire_ready_nodes(&self) -> Result<(), ZkError> {
        let store = &self.ctx.store;
        for node in store.list_nodes().await? {
            if !self.is_reusable(&node.value) {
                continue;
            }
            let Some(lock) = store.lock_node(&node.id, Wait::No).await? else { continue };
            if let Some(mut current) = store.get_node(&node.id).await?
                && self.is_reusable(&current.value)
            {
                info!(node = %current.id, "pool removed from the config: deleting its ready node");
                current.value.set_state(NodeState::Deleting);
                store.update_node(&mut current).await?;
            }
            lock.release().await?;
        }
        self.ctx.nodes_changed.raise();
        Ok(())
    }

    /// One pass over the requests, in Nodepool's priority order.
    /// One pass, holding the pool's quota lock: launchers that serve the same pool (several
    /// processes with one config) take turns, and each counts the node records the others
    /// made before it (reference §2.10 has no such guard; Nodepool gives each provider to one
    /// launcher).
    async fn pass(&mut self, handlers: &mut JoinSet<()>) -> Result<(), ZkError> {
        let dir = crate::zk::paths::pool_quota_lock(&self.plan.provider, &self.plan.pool);
        let lock = match crate::zk::lock::lock(&self.ctx.store.client(), &dir, Wait::Upto(QUOTA_LOCK_WAIT)).await {
            Ok(Some(lock)) => lock,
            Ok(None) | Err(ZkError::LockTimeout { .. }) => {
                debug!("another launcher holds this pool's quota lock; next pass");
                self.ctx.changed.raise();
                return Ok(());
            }
            Err(error) => return Err(error),
        };
        let result = self.pass_locked(handlers).await;
        lock.release().await?;
        result
    }

    async fn pass_locked(&mut self, handlers: &mut JoinSet<()>) -> Result<(), ZkError> {
        let store = &self.ctx.store;
        let requests = self.ctx.cache.requests(store).await?;
        let registered: Vec<PoolComponent> = self.ctx.cache.pool_components(store).await?;
        let open = |request: &Versioned<NodeRequest>| {
            request.value.state == RequestState::Requested
                && !self.is_in_flight(&request.id)
                && !matches!(decide(&self.plan, &self.id, false, &request.value, &registered), Verdict::Yield(_))
        };
        if !requests.iter().any(open) {
            // Nothing for this pool to take or decline: no need to count its nodes.
            self.paused = false;
            return Ok(());
        }
        // Quota is counted from ZooKeeper itself, not the cache: another launcher's nodes made
        // just before it released the quota lock may not have reached the cache yet.
        let nodes = store.list_nodes().await?;
        let mut used = quota::used_by_pool(&nodes, &self.plan.provider, &self.plan.pool);
        let mut paused = false;
        // Ready, unallocated nodes of this pool not yet promised to a request in this pass.
        let mut reusable: Vec<&Versioned<Node>> = nodes.iter().filter(|n| self.is_reusable(&n.value)).collect();
        // What this pass has already given each tenant (not yet in `nodes`).
        let mut tenant_added: std::collections::HashMap<String, kubepool_driver_api::Resources> = Default::default();
        // Requests this pass takes, in priority order, and the nodes they will launch at most.
        let mut to_accept: Vec<String> = Vec::new();
        let mut launches_planned = 0;
        for request in requests {
            if request.value.state != RequestState::Requested || self.is_in_flight(&request.id) {
                continue;
            }
            match decide(&self.plan, &self.id, paused, &request.value, &registered) {
                Verdict::Yield(why) => debug!(request = %request.id, why, "not taking request"),
                Verdict::Decline(reason) => self.decline(&request.id, &reason, &registered).await?,
                Verdict::Accept => {
                    if let Some(max) = self.plan.max_concurrency
                        && self.ctx.launching(&self.plan.provider) + launches_planned >= max
                    {
                        debug!(request = %request.id, max, "provider at max-concurrency; waiting");
                        break;
                    }
                    let needed = self.new_nodes_needed(&request.value, &mut reusable);
                    let tenant = request.value.tenant_name.as_deref();
                    let mut tenant_needed = needed.clone();
                    if let Some(added) = tenant.and_then(|t| tenant_added.get(t)) {
                        tenant_needed.add(added);
                    }
                    let over_tenant = self.ctx.policies().tenant_exceeded(tenant, &nodes, &tenant_needed);
                    if !over_tenant.is_empty() {
                        debug!(request = %request.id, tenant, over = %over_tenant.join(", "), "tenant at its resource limits; waiting");
                        continue;
                    }
                    let over = self.plan.limits.exceeded_by(&used, &needed);
                    if !over.is_empty() {
                        debug!(request = %request.id, over = %over.join(", "), "at quota; pausing until nodes are freed");
                        paused = true;
                        self.free_quota(&mut reusable).await?;
                        continue;
                    }
                    used.add(&needed);
                    if let Some(tenant) = tenant {
                        tenant_added.entry(tenant.to_string()).or_default().add(&needed);
                    }
                    launches_planned += request.value.node_types.len();
                    to_accept.push(request.id.clone());
                }
            }
        }
        self.paused = paused;
        self.accept_all(&to_accept, &nodes, handlers).await
    }

    /// Accepts `ids` (still under the pool's quota lock, so the next pass counts their nodes)
    /// and starts a handler for each. The ZooKeeper writes of several requests are pipelined on
    /// the one session: in a burst of 100 requests, accepting them one after the other took 4 s.
    /// Handlers start in priority order. An error accepting one request does not stop the
    /// others; the first is returned.
    async fn accept_all(
        &self,
        ids: &[String],
        nodes: &[Versioned<Node>],
        handlers: &mut JoinSet<()>,
    ) -> Result<(), ZkError> {
        let mut first_error = None;
        for chunk in ids.chunks(ACCEPT_PIPELINE) {
            let pending: Vec<_> = chunk.iter().map(|id| self.accept(id, nodes)).collect();
            for outcome in futures::future::join_all(pending).await {
                match outcome {
                    Ok(Some(accepted)) => {
                        let launches = accepted.slots.iter().filter(|s| s.is_new()).count();
                        self.ctx.count_launches(&self.plan.provider, launches as isize);
                        self.start_handler(handlers, accepted);
                    }
                    Ok(None) => {}
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The quota of the nodes `request` needs built: labels a reusable node covers cost nothing
    /// (those nodes are set aside for it).
    fn new_nodes_needed(
        &self,
        request: &NodeRequest,
        reusable: &mut Vec<&Versioned<Node>>,
    ) -> kubepool_driver_api::Resources {
        let mut needed = kubepool_driver_api::Resources::new();
        for label in &request.node_types {
            let covered = request.reuse
                && reusable
                    .iter()
                    .position(|n| n.value.label() == Some(label.as_str()))
                    .map(|i| reusable.remove(i))
                    .is_some();
            if !covered && let Some(quota) = self.plan.labels.get(label) {
                needed.add(quota);
            }
        }
        needed
    }

    /// At quota: deletes the oldest unused ready node of this pool (if any) so that the pool
    /// can make what is asked of it (reference §2.8 11).
    async fn free_quota(&self, reusable: &mut Vec<&Versioned<Node>>) -> Result<(), ZkError> {
        let Some(oldest) = reusable
            .iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| a.value.state_time.unwrap_or(0.0).total_cmp(&b.value.state_time.unwrap_or(0.0)))
            .map(|(i, _)| i)
        else {
            return Ok(());
        };
        let candidate = reusable.remove(oldest);
        let store = &self.ctx.store;
        let Some(lock) = store.lock_node(&candidate.id, Wait::No).await? else { return Ok(()) };
        if let Some(mut node) = store.get_node(&candidate.id).await?
            && node.value.state == NodeState::Ready
            && node.value.allocated_to.is_none()
        {
            info!(node = %node.id, label = node.value.label().unwrap_or_default(), "deleting an unused ready node to free quota");
            node.value.set_state(NodeState::Deleting);
            store.update_node(&mut node).await?;
        }
        lock.release().await?;
        self.ctx.nodes_changed.raise();
        Ok(())
    }

    /// A ready, unallocated node of this pool: what a request with `reuse` may be given.
    fn is_reusable(&self, node: &Node) -> bool {
        node.state == NodeState::Ready
            && node.allocated_to.is_none()
            && node.provider.as_deref() == Some(self.plan.provider.as_str())
            && node.pool.as_deref() == Some(self.plan.pool.as_str())
    }

    fn is_in_flight(&self, id: &str) -> bool {
        self.in_flight.lock().map(|s| s.contains(id)).unwrap_or(false)
    }

    /// Declines `id`: adds our id to `declined_by`; the last pool to decline fails it (§2.8 10).
    async fn decline(&self, id: &str, reason: &str, registered: &[PoolComponent]) -> Result<(), ZkError> {
        let store = &self.ctx.store;
        let Some(lock) = store.lock_request(id, Wait::No).await? else { return Ok(()) };
        let result = async {
            let Some(mut request) = store.get_request(id).await? else { return Ok(()) };
            if request.value.state != RequestState::Requested || request.value.declined_by(&self.id) {
                return Ok(());
            }
            handler::decline_request(&mut request.value, &self.id, registered);
            info!(request = %id, reason, state = %request.value.state.as_str(), "declined request");
            self.ctx.metrics.request_outcome(&self.plan.provider, "declined");
            store.update_request(&mut request).await
        }
        .await;
        lock.release().await?;
        result
    }

    /// Locks `id`, marks it pending and allocates its nodes: ready unallocated nodes of this pool
    /// when `reuse` allows, new `building` nodes otherwise. `None` if another worker got it first.
    async fn accept(&self, id: &str, nodes: &[Versioned<Node>]) -> Result<Option<Accepted>, ZkError> {
        let store = &self.ctx.store;
        let Some(lock) = store.lock_request(id, Wait::No).await? else { return Ok(None) };
        let Some(mut request) = store.get_request(id).await? else {
            lock.release().await?;
            return Ok(None);
        };
        if request.value.state != RequestState::Requested || request.value.declined_by(&self.id) {
            lock.release().await?;
            return Ok(None);
        }
        request.value.set_state(RequestState::Pending);
        store.update_request(&mut request).await?;
        info!(request = %id, labels = %request.value.node_types.join(","), "accepted request");

        let mut accepted = Accepted { request, lock, slots: Vec::new() };
        let mut taken = HashSet::new();
        for label in accepted.request.value.node_types.clone() {
            let slot = match self.reuse(&accepted.request, &label, nodes, &mut taken).await {
                Ok(Some(slot)) => Ok(slot),
                Ok(None) => self.create_node(&accepted.request, &label).await,
                Err(error) => Err(error),
            };
            match slot {
                Ok(slot) => accepted.slots.push(slot),
                Err(error) => {
                    // Hand the request back: the nodes made so far are released or deleted.
                    warn!(request = %id, %error, "allocating nodes failed; returning the request");
                    handler::hand_back(&self.ctx, accepted).await;
                    return Err(error);
                }
            }
        }
        Ok(Some(accepted))
    }

    /// A ready, unallocated, unlocked node of this pool and label, locked and allocated to the
    /// request (§2.8 11, reuse).
    async fn reuse(
        &self,
        request: &Versioned<NodeRequest>,
        label: &str,
        nodes: &[Versioned<Node>],
        taken: &mut HashSet<String>,
    ) -> Result<Option<Slot>, ZkError> {
        if !request.value.reuse {
            return Ok(None);
        }
        let store = &self.ctx.store;
        for candidate in nodes
            .iter()
            .filter(|n| self.is_reusable(&n.value) && n.value.label() == Some(label) && !taken.contains(&n.id))
        {
            let Some(node_lock) = store.lock_node(&candidate.id, Wait::No).await? else { continue };
            // Re-read under the lock: it may have been allocated or deleted meanwhile.
            match store.get_node(&candidate.id).await? {
                Some(mut node) if node.value.state == NodeState::Ready && node.value.allocated_to.is_none() => {
                    node.value.allocated_to = Some(request.id.clone());
                    node.value.tenant_name = request.value.tenant_name.clone();
                    node.value.requestor = request.value.requestor.clone();
                    store.update_node(&mut node).await?;
                    taken.insert(node.id.clone());
                    return Ok(Some(Slot::reused(node, node_lock)));
                }
                _ => node_lock.release().await?,
            }
        }
        Ok(None)
    }

    /// A new node record: `init`, then locked, then `building` (§2.8 11).
    async fn create_node(&self, request: &Versioned<NodeRequest>, label: &str) -> Result<Slot, ZkError> {
        let store = &self.ctx.store;
        let mut node = Node::new(label);
        node.provider = Some(self.plan.provider.clone());
        node.pool = Some(self.plan.pool.clone());
        node.launcher = Some(self.id.clone());
        node.allocated_to = Some(request.id.clone());
        node.tenant_name = request.value.tenant_name.clone();
        node.requestor = request.value.requestor.clone();
        node.attributes = self.plan.node_attributes.clone();
        node.created_time = Some(now());
        node.resources =
            self.plan.labels.get(label).and_then(|r| serde_json::to_value(r).ok()).and_then(|v| v.as_object().cloned());
        let mut created = store.create_node(&node).await?;
        let Some(node_lock) = store.lock_node(&created.id, Wait::No).await? else {
            return Err(ZkError::LockLost { path: format!("new node {}", created.id) });
        };
        created.value.set_state(NodeState::Building);
        store.update_node(&mut created).await?;
        debug!(node = %created.id, label, "node created");
        Ok(Slot::building(created, node_lock))
    }

    fn start_handler(&self, handlers: &mut JoinSet<()>, accepted: Accepted) {
        let id = accepted.request.id.clone();
        if let Ok(mut in_flight) = self.in_flight.lock() {
            in_flight.insert(id.clone());
        }
        let ctx = self.ctx.clone();
        let plan = self.plan.clone();
        let worker_id = self.id.clone();
        let in_flight = self.in_flight.clone();
        let span = info_span!("request", id = %id);
        handlers.spawn(
            async move {
                handler::run(ctx.clone(), plan, worker_id, accepted).await;
                if let Ok(mut in_flight) = in_flight.lock() {
                    in_flight.remove(&id);
                }
                // The outcome frees quota or changes what other requests may do.
                ctx.changed.raise();
                ctx.nodes_changed.raise();
            }
            .instrument(span),
        );
    }
}
