//! The controller: kube-runtime's `Controller` over `Zuul`s, owning their children, and the
//! reconcile pipeline read → build → apply → delete orphans → status.
//!
//! Level-triggered: every pass applies the whole desired set, so a deleted or edited child is
//! restored by the pass its watch event triggers, and a periodic requeue catches anything else.
//! Children are owned by their Zuul (garbage collection removes them with it) once the
//! finalizer has let the launchers delete their nodes ([`super::cleanup`]); the one
//! cluster-scoped child, the launchers' ClusterRoleBinding, is deleted then and also swept by
//! [`sweep_bindings`].

use super::apply::{self, ApplyError};
use super::build::{self, BuildError, Settings};
use super::cleanup::{self, Decision, FINALIZER, Progress, sweep_nodes};
use super::crd::Zuul;
use super::database::{self, DatabaseError, Managed};
use super::drain::nodes_by_provider;
use super::inputs::{self, InputError};
use super::launchers::{NAMESPACE_LABEL, UID_ANNOTATION};
use super::names::{MANAGED_BY, MANAGER, Names};
use super::reconfigure::{ReconfigureError, TENANT_HASH, smart_reconfigure, tenant_hash};
use super::status::{self, Outcome};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, DeleteParams, ListParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// A pass that failed in a way worth retrying.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("{0}")]
    Apply(#[from] ApplyError),
    #[error("writing the status: {0}")]
    Status(#[source] kube::Error),
    #[error("reading: {0}")]
    Input(#[from] InputError),
    /// The finalizer waits for the launchers (not a failure: the controller asks again).
    #[error("deleting, waiting for the launchers: {0}")]
    Cleaning(String),
    #[error("deleting the launchers' node namespaces: {0}")]
    Sweep(#[source] kube::Error),
    #[error("managed database: {0}")]
    Database(#[from] DatabaseError),
}

/// The operator failed to start.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("the Zuul CRD is not served ({0}); install deploy/operator/crd.yaml")]
    NoCrd(#[source] kube::Error),
}

/// Operator settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Watch only this namespace (None: all).
    pub namespace: Option<String>,
    pub kubepool_image: String,
    /// How often a ready Zuul is reconciled anyway.
    pub resync: Duration,
    /// How long a deleted Zuul's launchers may take to delete their nodes before the operator
    /// deletes them itself (see [`super::cleanup`]).
    pub cleanup_timeout: Duration,
}

struct Context {
    client: kube::Client,
    settings: Settings,
    recorder: Recorder,
    cleanup_timeout: Duration,
}

/// The served PodDisruptionBudget version: `policy/v1` from Kubernetes 1.21, else `policy/v1beta1`.
async fn pdb_api(client: &kube::Client) -> String {
    match client.list_api_group_resources("policy/v1").await {
        Ok(list) if list.resources.iter().any(|r| r.name == "poddisruptionbudgets") => "policy/v1".into(),
        _ => "policy/v1beta1".into(),
    }
}

/// Whether this is OpenShift: the `security.openshift.io/v1` API (SecurityContextConstraints) is
/// served.
async fn openshift(client: &kube::Client) -> bool {
    match client.list_api_group_resources("security.openshift.io/v1").await {
        Ok(list) => list.resources.iter().any(|r| r.name == "securitycontextconstraints"),
        Err(_) => false,
    }
}

/// Whether the `route.openshift.io/v1` API (Routes) is served.
async fn routes(client: &kube::Client) -> bool {
    match client.list_api_group_resources("route.openshift.io/v1").await {
        Ok(list) => list.resources.iter().any(|r| r.name == "routes"),
        Err(_) => false,
    }
}

fn owner_reference(zuul: &Zuul) -> serde_json::Value {
    json!({
        "apiVersion": Zuul::api_version(&()),
        "kind": Zuul::kind(&()),
        "name": zuul.name_any(),
        "uid": zuul.uid().unwrap_or_default(),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

async fn event(ctx: &Context, zuul: &Zuul, type_: EventType, reason: &str, note: String) {
    let event = Event { type_, reason: reason.into(), note: Some(note), action: "Reconcile".into(), secondary: None };
    if let Err(error) = ctx.recorder.publish(&event, &zuul.object_ref(&())).await {
        tracing::warn!(%error, "cannot publish an event");
    }
}

/// One pass for one Zuul, behind the finalizer: [`keep`] while it exists, [`clean_up`] once it
/// is deleted.
async fn reconcile(zuul: Arc<Zuul>, ctx: Arc<Context>) -> Result<Action, finalizer::Error<ReconcileError>> {
    let api: Api<Zuul> = Api::namespaced(ctx.client.clone(), &zuul.namespace().unwrap_or_default());
    finalizer(&api, FINALIZER, zuul, |event| async {
        match event {
            finalizer::Event::Apply(zuul) => keep(&zuul, &ctx).await,
            finalizer::Event::Cleanup(zuul) => clean_up(&zuul, &ctx).await,
        }
    })
    .await
}

/// What one pass did.
enum Pass {
    /// Applied: the workloads' rollouts and the drain of removed providers' launchers.
    Applied { rollouts: Vec<status::Rollout>, progress: Progress },
    /// The spec cannot be applied (reason, message); nothing was changed.
    Invalid { reason: &'static str, message: String },
    /// The managed database is not ready (reason, message, whether that is a fault); nothing
    /// was changed.
    Database { reason: &'static str, message: String, degraded: bool },
}

/// Read → build → drain → apply → delete orphans (for a Zuul being deleted, `build` leaves out
/// the Zuul components and drains every launcher).
async fn pass(zuul: &Zuul, ctx: &Arc<Context>) -> Result<Pass, ReconcileError> {
    let namespace = zuul.namespace().unwrap_or_default();
    let names = Names::new(&zuul.name_any(), &namespace);
    let owner = owner_reference(zuul);
    // (a Zuul being deleted runs no component: its database is not waited for)
    let managed_db = if database::managed(zuul) && zuul.metadata.deletion_timestamp.is_none() {
        match database::ensure(&ctx.client, zuul, &names, &owner).await? {
            Managed::Ready { dburi, secret } => Some((dburi, secret)),
            Managed::OperatorMissing(message) => {
                return Ok(Pass::Database { reason: database::OPERATOR_MISSING, message, degraded: true });
            }
            Managed::Failed(message) => {
                return Ok(Pass::Database { reason: "DatabaseSetupFailed", message, degraded: true });
            }
            Managed::Waiting(message) => {
                return Ok(Pass::Database { reason: "WaitingForDatabase", message, degraded: false });
            }
        }
    } else {
        None
    };
    let mut read = match inputs::read(&ctx.client, zuul, &names).await {
        Ok(read) => read,
        Err(error @ InputError::Api { .. }) => return Err(error.into()),
        Err(error) => return Ok(Pass::Invalid { reason: error.reason(), message: error.to_string() }),
    };
    if let Some((dburi, _)) = &managed_db {
        read.dburi = dburi.clone();
    }
    let mut desired = match build::build(zuul, &names, &read, &ctx.settings) {
        Ok(desired) => desired,
        Err(error) => {
            let reason = match error {
                BuildError::Shard(_) => "InvalidLauncherConfig",
                BuildError::Conf(_) => "InvalidSpec",
                BuildError::Tls(_) => "TlsFailed",
            };
            return Ok(Pass::Invalid { reason, message: error.to_string() });
        }
    };
    if let Some((_, secret)) = &managed_db {
        desired.objects.push(secret.clone());
    }
    let running_tenant = tenant_hash_of(&ctx.client, &names).await;
    let (mut progress, waiting) = drain(ctx, zuul, &names, &mut desired).await;
    let applied = apply::apply(&ctx.client, Some(&namespace), Some(&owner), &desired.objects).await?;
    apply::apply(&ctx.client, None, None, &desired.cluster).await?;
    for replaced in &applied.replaced {
        event(ctx, zuul, EventType::Normal, "Replaced", format!("{replaced}: an immutable field changed")).await;
    }
    let deleted = apply::delete_orphans(&ctx.client, &names, &ctx.settings.pdb_api, &desired.objects).await?;
    for orphan in &deleted {
        event(ctx, zuul, EventType::Normal, "Deleted", format!("{orphan}: no longer desired")).await;
    }
    if desired.cluster.is_empty() {
        delete_binding(&ctx.client, &names).await;
    }
    apply::adopt_claims(&ctx.client, &names, &owner).await?;
    if let (Some(before), Some(wanted)) = (running_tenant, read.tenant.as_ref().map(|t| tenant_hash(&t.content)))
        && before != wanted
        && zuul.metadata.deletion_timestamp.is_none()
    {
        spawn_reconfigure(ctx, zuul, names.clone(), wanted);
    }
    let rollouts = status::rollouts(&applied.objects);
    progress.launchers_down =
        rollouts.iter().filter(|r| waiting.contains(&r.name) && r.ready == 0).map(|r| r.name.clone()).collect();
    Ok(Pass::Applied { rollouts, progress })
}

/// Keeps an existing Zuul: one [`pass`], then its status.
#[tracing::instrument(skip_all, fields(zuul = %zuul.name_any(), namespace = zuul.namespace().unwrap_or_default()))]
async fn keep(zuul: &Zuul, ctx: &Arc<Context>) -> Result<Action, ReconcileError> {
    let (rollouts, progress) = match pass(zuul, ctx).await {
        Ok(Pass::Applied { rollouts, progress }) => (rollouts, progress),
        Ok(Pass::Invalid { reason, message }) => return invalid(ctx, zuul, reason, message).await,
        Ok(Pass::Database { reason, message, degraded }) => {
            return database_pending(ctx, zuul, reason, message, degraded).await;
        }
        Err(ReconcileError::Apply(error)) => {
            let outcome = Outcome::Failed { reason: "ApplyFailed".into(), message: error.to_string() };
            status::write(&ctx.client, zuul, &outcome).await.map_err(ReconcileError::Status)?;
            return Err(error.into());
        }
        Err(error) => return Err(error),
    };
    let ready = rollouts.iter().all(status::Rollout::done);
    let workloads = rollouts.len();
    status::write(&ctx.client, zuul, &Outcome::Applied(rollouts)).await.map_err(ReconcileError::Status)?;
    tracing::debug!(ready, workloads, "reconciled");
    let next = if !progress.left.is_empty() || progress.zookeeper.is_some() {
        Duration::from_secs(10)
    } else if ready && !database::managed(zuul) {
        Duration::from_secs(300)
    } else {
        // (a managed database's operator can go, its CRD removed, without an event reaching
        // this controller, which cannot watch a kind that may not be served: look every 30 s)
        Duration::from_secs(30)
    };
    Ok(Action::requeue(next))
}

/// The finalizer's work for a deleted Zuul (see [`super::cleanup`]): a [`pass`] in deleting
/// mode, then done (the finalizer goes), waiting (an error the controller retries in 5 s, as the
/// finalizer helper wants), or a sweep of the nodes by the operator.
#[tracing::instrument(skip_all, fields(zuul = %zuul.name_any(), namespace = zuul.namespace().unwrap_or_default()))]
async fn clean_up(zuul: &Zuul, ctx: &Arc<Context>) -> Result<Action, ReconcileError> {
    let names = Names::new(&zuul.name_any(), &zuul.namespace().unwrap_or_default());
    let since = zuul.metadata.deletion_timestamp.as_ref().map_or(0, |t| t.0.as_second());
    let age = Duration::from_secs(u64::try_from(k8s_openapi::jiff::Timestamp::now().as_second() - since).unwrap_or(0));
    let draining_already = zuul
        .status
        .as_ref()
        .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Progressing" && c.reason == cleanup::DRAINING));
    if !draining_already {
        let note = format!(
            "deleting: the Zuul components stop, and the launchers delete their nodes before the rest goes (at most {} s)",
            ctx.cleanup_timeout.as_secs()
        );
        event(ctx, zuul, EventType::Normal, "Deleting", note).await;
    }
    let progress = match pass(zuul, ctx).await {
        Ok(Pass::Applied { progress, .. }) => progress,
        Ok(Pass::Invalid { message, .. } | Pass::Database { message, .. }) => {
            Progress { blocked: Some(message), ..Progress::default() }
        }
        Err(error) => Progress { blocked: Some(error.to_string()), ..Progress::default() },
    };
    match cleanup::decide(&progress, age, ctx.cleanup_timeout) {
        Decision::Done => {
            let note =
                format!("no launcher holds a node ({} s after the deletion): the Zuul's children go", age.as_secs());
            event(ctx, zuul, EventType::Normal, "NodesGone", note).await;
        }
        Decision::Wait(message) => {
            tracing::info!(message, "deleting: waiting for the launchers");
            let outcome = Outcome::Deleting { reason: cleanup::DRAINING.into(), message: message.clone() };
            status::write(&ctx.client, zuul, &outcome).await.map_err(ReconcileError::Status)?;
            return Err(ReconcileError::Cleaning(message));
        }
        Decision::Sweep { reason, message } => {
            let shards = inputs::existing_shards(&ctx.client, &names).await?;
            let swept = sweep_nodes(&ctx.client, &shards).await.map_err(ReconcileError::Sweep)?;
            let mut note = format!("{message}: the operator deleted the node namespaces {:?}", swept.deleted);
            if !swept.elsewhere.is_empty() {
                note.push_str(&format!("; not in its reach, delete any left by hand: {}", swept.elsewhere.join(", ")));
            }
            tracing::warn!(reason, note, "deleting: swept the launchers' nodes");
            event(ctx, zuul, EventType::Warning, reason, note).await;
        }
    }
    delete_binding(&ctx.client, &names).await;
    Ok(Action::await_change())
}

/// Takes the launchers of removed providers that have no node left out of `desired` (the orphan
/// pass then deletes them); returns where the drain is and the launchers still draining.
async fn drain(ctx: &Context, zuul: &Zuul, names: &Names, desired: &mut build::Desired) -> (Progress, Vec<String>) {
    let mut progress = Progress::default();
    let mut waiting = Vec::new();
    if desired.draining.is_empty() {
        return (progress, waiting);
    }
    let counts = match nodes_by_provider(&desired.zookeeper).await {
        Ok(counts) => counts,
        Err(error) => {
            tracing::warn!(%error, "cannot count the nodes of removed providers; their launchers stay");
            progress.zookeeper = Some(error.to_string());
            return (progress, waiting);
        }
    };
    for shard in &desired.draining {
        let left = counts.get(&shard.provider).copied().unwrap_or(0);
        let name = names.child(&format!("launcher-{}", shard.key));
        if left > 0 {
            tracing::info!(provider = shard.provider, left, "draining the launcher of a removed provider");
            progress.left.insert(shard.provider.clone(), left);
            waiting.push(name);
            continue;
        }
        desired.objects.retain(|o| {
            !(o["metadata"]["name"] == name.as_str() && (o["kind"] == "Deployment" || o["kind"] == "Secret"))
        });
        let note = format!("provider {} has no node left: its launcher {name} goes", shard.provider);
        event(ctx, zuul, EventType::Normal, "Drained", note).await;
    }
    (progress, waiting)
}

/// Records an invalid spec in the status and an Event; nothing is applied or deleted, so what
/// runs keeps running. A change of the Zuul or of what it references triggers the next pass.
async fn invalid(ctx: &Context, zuul: &Zuul, reason: &str, message: String) -> Result<Action, ReconcileError> {
    tracing::warn!(reason, message, "the Zuul cannot be applied");
    let was_degraded = zuul.status.as_ref().is_some_and(|s| {
        s.conditions.iter().any(|c| c.type_ == "Degraded" && c.status == "True" && c.message == message)
    });
    if !was_degraded {
        event(ctx, zuul, EventType::Warning, reason, message.clone()).await;
    }
    let outcome = Outcome::Failed { reason: reason.into(), message };
    status::write(&ctx.client, zuul, &outcome).await.map_err(ReconcileError::Status)?;
    Ok(Action::requeue(Duration::from_secs(60)))
}

/// The managed database is not ready: the status says why (`degraded`: Degraded, with a Warning
/// Event when the message is new; else Progressing) and the pass comes back soon, so installing
/// the Percona operator or its cluster becoming ready is noticed without a watch on its CRD
/// (which may not exist) or a restart.
async fn database_pending(
    ctx: &Context,
    zuul: &Zuul,
    reason: &str,
    message: String,
    degraded: bool,
) -> Result<Action, ReconcileError> {
    tracing::info!(reason, message, "the managed database is not ready");
    let outcome = if degraded {
        let was = zuul.status.as_ref().is_some_and(|s| {
            s.conditions.iter().any(|c| c.type_ == "Degraded" && c.status == "True" && c.message == message)
        });
        if !was {
            event(ctx, zuul, EventType::Warning, reason, message.clone()).await;
        }
        Outcome::Failed { reason: reason.into(), message }
    } else {
        Outcome::Waiting { reason: reason.into(), message }
    };
    status::write(&ctx.client, zuul, &outcome).await.map_err(ReconcileError::Status)?;
    Ok(Action::requeue(Duration::from_secs(if degraded { 15 } else { 5 })))
}

/// The tenant-config hash the scheduler StatefulSet carries now (None: no scheduler yet).
async fn tenant_hash_of(client: &kube::Client, names: &Names) -> Option<String> {
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &names.namespace);
    let set = sets.get_opt(&names.child("scheduler")).await.ok()??;
    set.annotations().get(TENANT_HASH).cloned()
}

/// Reconfigures the schedulers in the background (the pod may wait for the kubelet to update
/// the file) and reports the result as an Event.
fn spawn_reconfigure(ctx: &Arc<Context>, zuul: &Zuul, names: Names, hash: String) {
    let ctx = ctx.clone();
    let zuul = zuul.clone();
    tokio::spawn(async move {
        match smart_reconfigure(&ctx.client, &names, &hash).await {
            Ok(pod) => {
                tracing::info!(pod, "smart-reconfigure done");
                let note = format!("the tenant config changed: zuul-scheduler smart-reconfigure in {pod}");
                event(&ctx, &zuul, EventType::Normal, "SmartReconfigure", note).await;
            }
            Err(ReconfigureError::NoReadyScheduler) => {
                tracing::info!("tenant config changed; no scheduler is ready (new ones read it at start)");
            }
            Err(error) => {
                tracing::warn!(%error, "smart-reconfigure failed");
                event(&ctx, &zuul, EventType::Warning, "SmartReconfigureFailed", error.to_string()).await;
            }
        }
    });
}

fn error_policy(zuul: Arc<Zuul>, error: &finalizer::Error<ReconcileError>, _: Arc<Context>) -> Action {
    if let finalizer::Error::CleanupFailed(ReconcileError::Cleaning(_)) = error {
        return Action::requeue(Duration::from_secs(5));
    }
    tracing::warn!(zuul = %zuul.name_any(), %error, "reconcile failed; retrying in 10 s");
    Action::requeue(Duration::from_secs(10))
}

async fn delete_binding(client: &kube::Client, names: &Names) {
    let api: Api<ClusterRoleBinding> = Api::all(client.clone());
    let name = super::launchers::binding_name(names);
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => tracing::info!(name, "deleted the launchers' ClusterRoleBinding"),
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(error) => tracing::warn!(name, %error, "cannot delete the launchers' ClusterRoleBinding"),
    }
}

/// Deletes launcher ClusterRoleBindings whose Zuul is gone (cluster-scoped objects cannot be
/// owned by a namespaced Zuul, and the operator uses no finalizer).
pub async fn sweep_bindings(client: &kube::Client, namespace: Option<&str>, zuuls: &Store<Zuul>) {
    let api: Api<ClusterRoleBinding> = Api::all(client.clone());
    let mut selector = format!("{MANAGED_BY}={MANAGER}");
    if let Some(ns) = namespace {
        selector.push_str(&format!(",{NAMESPACE_LABEL}={ns}"));
    }
    let Ok(bindings) = api.list_metadata(&ListParams::default().labels(&selector)).await else { return };
    for binding in bindings {
        let uid = binding.annotations().get(UID_ANNOTATION).cloned().unwrap_or_default();
        if zuuls.state().iter().any(|z| z.uid().as_deref() == Some(uid.as_str())) {
            continue;
        }
        let name = binding.name_any();
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => tracing::info!(name, "deleted a launchers' ClusterRoleBinding whose Zuul is gone"),
            Err(error) => tracing::warn!(name, %error, "cannot delete a stale ClusterRoleBinding"),
        }
    }
}

/// Runs the operator until SIGTERM/SIGINT.
pub async fn run(client: kube::Client, config: Config) -> Result<(), OperatorError> {
    let zuuls: Api<Zuul> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    zuuls.list(&ListParams::default().limit(1)).await.map_err(OperatorError::NoCrd)?;
    fn api<K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>>(
        client: &kube::Client,
        namespace: Option<&str>,
    ) -> Api<K> {
        match namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let ns = config.namespace.as_deref();
    let owned = watcher::Config::default().labels(&format!("{MANAGED_BY}={MANAGER}"));
    let settings = Settings {
        kubepool_image: config.kubepool_image.clone(),
        pdb_api: pdb_api(&client).await,
        openshift: openshift(&client).await,
        routes: routes(&client).await,
    };
    tracing::info!(openshift = settings.openshift, routes = settings.routes, pdb_api = %settings.pdb_api, "cluster APIs discovered");
    let reporter = Reporter {
        controller: MANAGER.into(),
        instance: std::env::var("POD_NAME").ok().or_else(|| gethostname::gethostname().into_string().ok()),
    };
    let ctx = Arc::new(Context {
        client: client.clone(),
        settings,
        recorder: Recorder::new(client.clone(), reporter),
        cleanup_timeout: config.cleanup_timeout,
    });

    let controller = Controller::new(zuuls, watcher::Config::default());
    let store = controller.store();
    // A Secret or ConfigMap the operator did not make may be referenced by a Zuul in its
    // namespace: reconcile those (cheap, and debounced by the controller).
    let referencing = |store: Store<Zuul>| {
        move |object_ns: Option<String>, managed: bool| -> Vec<ObjectRef<Zuul>> {
            if managed {
                return Vec::new();
            }
            store.state().iter().filter(|z| z.namespace() == object_ns).map(|z| ObjectRef::from_obj(&**z)).collect()
        }
    };
    let for_secrets = referencing(store.clone());
    let for_config_maps = referencing(store.clone());
    let is_managed = |labels: &std::collections::BTreeMap<String, String>| {
        labels.get(MANAGED_BY).map(String::as_str) == Some(MANAGER)
    };

    let sweep_store = store.clone();
    let sweep_client = client.clone();
    let sweep_ns = config.namespace.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(30)).await;
            if sweep_store.is_empty() && sweep_store.wait_until_ready().await.is_err() {
                continue;
            }
            sweep_bindings(&sweep_client, sweep_ns.as_deref(), &sweep_store).await;
        }
    });

    let resync = config.resync;
    controller
        .owns(api::<StatefulSet>(&client, ns), owned.clone())
        .owns(api::<Deployment>(&client, ns), owned.clone())
        .owns(api::<Service>(&client, ns), owned.clone())
        .owns(api::<Secret>(&client, ns), owned.clone())
        .owns(api::<ConfigMap>(&client, ns), owned.clone())
        .owns(api::<ServiceAccount>(&client, ns), owned)
        .watches(api::<Secret>(&client, ns), watcher::Config::default(), move |s: Secret| {
            for_secrets(s.namespace(), is_managed(s.labels()))
        })
        .watches(api::<ConfigMap>(&client, ns), watcher::Config::default(), move |c: ConfigMap| {
            for_config_maps(c.namespace(), is_managed(c.labels()))
        })
        .reconcile_all_on(tokio_stream_interval(resync))
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::trace!(zuul = %object.name, "reconciled"),
                Err(error) => tracing::debug!(%error, "controller"),
            }
        })
        .await;
    Ok(())
}

/// A stream that yields every `period`.
fn tokio_stream_interval(period: Duration) -> impl futures::Stream<Item = ()> + Send + 'static {
    futures::stream::unfold((), move |()| async move {
        tokio::time::sleep(period).await;
        Some(((), ()))
    })
}
