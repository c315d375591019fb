//! The controller: kube-runtime's `Controller` over `Zuul`s, owning their children, and the
//! reconcile pipeline read → build → apply → delete orphans → status.
//!
//! Level-triggered: every pass applies the whole desired set, so a deleted or edited child is
//! restored by the pass its watch event triggers, and a periodic requeue catches anything else.
//! Children are owned by their Zuul (garbage collection removes them with it); the one
//! cluster-scoped child, the launchers' ClusterRoleBinding, is swept by [`sweep_bindings`].

use super::apply::{self, ApplyError};
use super::build::{self, BuildError, Settings};
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
}

struct Context {
    client: kube::Client,
    settings: Settings,
    recorder: Recorder,
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

/// One pass for one Zuul.
#[tracing::instrument(skip_all, fields(zuul = %zuul.name_any(), namespace = zuul.namespace().unwrap_or_default()))]
async fn reconcile(zuul: Arc<Zuul>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    if zuul.metadata.deletion_timestamp.is_some() {
        // Garbage collection removes the owned children; nothing to do.
        return Ok(Action::await_change());
    }
    let namespace = zuul.namespace().unwrap_or_default();
    let names = Names::new(&zuul.name_any(), &namespace);
    let owner = owner_reference(&zuul);
    let managed_db = if database::managed(&zuul) {
        match database::ensure(&ctx.client, &zuul, &names, &owner).await? {
            Managed::Ready { dburi, secret } => Some((dburi, secret)),
            Managed::OperatorMissing(message) => {
                return database_pending(&ctx, &zuul, database::OPERATOR_MISSING, message, true).await;
            }
            Managed::Failed(message) => {
                return database_pending(&ctx, &zuul, "DatabaseSetupFailed", message, true).await;
            }
            Managed::Waiting(message) => {
                return database_pending(&ctx, &zuul, "WaitingForDatabase", message, false).await;
            }
        }
    } else {
        None
    };
    let mut read = match inputs::read(&ctx.client, &zuul, &names).await {
        Ok(read) => read,
        Err(error @ InputError::Api { .. }) => return Err(error.into()),
        Err(error) => return invalid(&ctx, &zuul, error.reason(), error.to_string()).await,
    };
    if let Some((dburi, _)) = &managed_db {
        read.dburi = dburi.clone();
    }
    let mut desired = match build::build(&zuul, &names, &read, &ctx.settings) {
        Ok(desired) => desired,
        Err(error) => {
            let reason = match error {
                BuildError::Shard(_) => "InvalidLauncherConfig",
                BuildError::Conf(_) => "InvalidSpec",
                BuildError::Tls(_) => "TlsFailed",
            };
            return invalid(&ctx, &zuul, reason, error.to_string()).await;
        }
    };
    if let Some((_, secret)) = &managed_db {
        desired.objects.push(secret.clone());
    }
    let running_tenant = tenant_hash_of(&ctx.client, &names).await;
    let draining = drain(&ctx, &zuul, &names, &mut desired).await;
    let applied = match apply::apply(&ctx.client, Some(&namespace), Some(&owner), &desired.objects).await {
        Ok(applied) => applied,
        Err(error) => {
            let outcome = Outcome::Failed { reason: "ApplyFailed".into(), message: error.to_string() };
            status::write(&ctx.client, &zuul, &outcome).await.map_err(ReconcileError::Status)?;
            return Err(error.into());
        }
    };
    apply::apply(&ctx.client, None, None, &desired.cluster).await?;
    for replaced in &applied.replaced {
        event(&ctx, &zuul, EventType::Normal, "Replaced", format!("{replaced}: an immutable field changed")).await;
    }
    let deleted = apply::delete_orphans(&ctx.client, &names, &ctx.settings.pdb_api, &desired.objects).await?;
    for orphan in &deleted {
        event(&ctx, &zuul, EventType::Normal, "Deleted", format!("{orphan}: no longer desired")).await;
    }
    if desired.cluster.is_empty() {
        delete_binding(&ctx.client, &names).await;
    }
    apply::adopt_claims(&ctx.client, &names, &owner).await?;
    if let (Some(before), Some(wanted)) = (running_tenant, read.tenant.as_ref().map(|t| tenant_hash(&t.content)))
        && before != wanted
    {
        spawn_reconfigure(&ctx, &zuul, names.clone(), wanted);
    }
    let rollouts = status::rollouts(&applied.objects);
    let ready = rollouts.iter().all(status::Rollout::done);
    status::write(&ctx.client, &zuul, &Outcome::Applied(rollouts)).await.map_err(ReconcileError::Status)?;
    tracing::debug!(ready, objects = desired.objects.len(), "reconciled");
    let next = if draining {
        Duration::from_secs(10)
    } else if ready {
        Duration::from_secs(300)
    } else {
        Duration::from_secs(30)
    };
    Ok(Action::requeue(next))
}

/// Takes the launchers of removed providers that have no node left out of `desired` (the orphan
/// pass then deletes them); returns whether any is still draining.
async fn drain(ctx: &Context, zuul: &Zuul, names: &Names, desired: &mut build::Desired) -> bool {
    if desired.draining.is_empty() {
        return false;
    }
    let counts = match nodes_by_provider(&desired.zookeeper).await {
        Ok(counts) => counts,
        Err(error) => {
            tracing::warn!(%error, "cannot count the nodes of removed providers; their launchers stay");
            return true;
        }
    };
    let mut still = false;
    for shard in &desired.draining {
        let left = counts.get(&shard.provider).copied().unwrap_or(0);
        let name = names.child(&format!("launcher-{}", shard.key));
        if left > 0 {
            tracing::info!(provider = shard.provider, left, "draining the launcher of a removed provider");
            still = true;
            continue;
        }
        desired.objects.retain(|o| {
            !(o["metadata"]["name"] == name.as_str() && (o["kind"] == "Deployment" || o["kind"] == "Secret"))
        });
        let note = format!("provider {} has no node left: its launcher {name} goes", shard.provider);
        event(ctx, zuul, EventType::Normal, "Drained", note).await;
    }
    still
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

fn error_policy(zuul: Arc<Zuul>, error: &ReconcileError, _: Arc<Context>) -> Action {
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
    let ctx = Arc::new(Context { client: client.clone(), settings, recorder: Recorder::new(client.clone(), reporter) });

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
