//! Server-side apply of the desired set, replacement where a field is immutable, and deletion of
//! labelled children that are no longer desired (orphans).

use super::names::{MANAGER, Names, ZUUL_LABEL};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PropagationPolicy};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

/// A child that could not be applied or deleted.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{kind} {name}: {source}")]
    Api {
        kind: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("{kind} {name}: not a Kubernetes object (no apiVersion, kind or name)")]
    Malformed { kind: String, name: String },
    #[error("{kind} {name}: still there {seconds} s after its deletion (replacing an immutable field)")]
    NotGone { kind: String, name: String, seconds: u64 },
}

/// The kinds the operator makes in a Zuul's namespace (orphans are looked for among these).
/// `policy` PodDisruptionBudgets are added with the served version.
const NAMESPACED: &[(&str, &str, &str)] = &[
    ("apps/v1", "StatefulSet", "statefulsets"),
    ("apps/v1", "Deployment", "deployments"),
    ("v1", "Service", "services"),
    ("v1", "Secret", "secrets"),
    ("v1", "ConfigMap", "configmaps"),
    ("v1", "ServiceAccount", "serviceaccounts"),
];

fn resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let plural = match kind {
        "PodDisruptionBudget" => "poddisruptionbudgets".to_string(),
        "ClusterRoleBinding" => "clusterrolebindings".to_string(),
        other => NAMESPACED
            .iter()
            .find(|(_, k, _)| *k == other)
            .map_or_else(|| format!("{}s", other.to_ascii_lowercase()), |(_, _, p)| (*p).to_string()),
    };
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), &plural)
}

/// What a child is: (apiVersion, kind, name).
fn identity(object: &Value) -> Result<(String, String, String), ApplyError> {
    let text = |v: &Value| v.as_str().map(str::to_string);
    match (text(&object["apiVersion"]), text(&object["kind"]), text(&object["metadata"]["name"])) {
        (Some(a), Some(k), Some(n)) => Ok((a, k, n)),
        (_, k, n) => Err(ApplyError::Malformed { kind: k.unwrap_or_default(), name: n.unwrap_or_default() }),
    }
}

/// Whether the API server refused an update because a field cannot change.
fn immutable(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => {
            status.code == 422
                && (status.message.contains("immutable")
                    || status.message.contains("Forbidden: updates to statefulset spec")
                    || status.message.contains("may not change"))
        }
        _ => false,
    }
}

/// Gives every port (Service and container) an explicit `protocol`: it is a key of those lists,
/// and before Kubernetes 1.21 server-side apply refuses a key left to its default
/// ("associative list with keys has an element that omits key field \"protocol\"").
fn with_port_protocols(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(ports)) = map.get_mut("ports") {
                for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                    if port.contains_key("port") || port.contains_key("containerPort") {
                        port.entry("protocol").or_insert_with(|| json!("TCP"));
                    }
                }
            }
            map.values_mut().for_each(with_port_protocols);
        }
        Value::Array(items) => items.iter_mut().for_each(with_port_protocols),
        _ => {}
    }
}

/// What [`apply`] did, for Events and the status.
#[derive(Debug, Default)]
pub struct Applied {
    /// The objects as the API server returned them (with their status).
    pub objects: Vec<DynamicObject>,
    /// `Kind name` of the children that were deleted and recreated.
    pub replaced: Vec<String>,
}

/// Applies `objects` in `namespace` (None: cluster-scoped) with `owner` as their controller.
pub async fn apply(
    client: &kube::Client,
    namespace: Option<&str>,
    owner: Option<&Value>,
    objects: &[Value],
) -> Result<Applied, ApplyError> {
    let params = PatchParams::apply(MANAGER).force();
    let mut applied = Applied::default();
    for object in objects {
        let (api_version, kind, name) = identity(object)?;
        let ar = resource(&api_version, &kind);
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
            None => Api::all_with(client.clone(), &ar),
        };
        let mut object = object.clone();
        with_port_protocols(&mut object);
        if let Some(owner) = owner {
            object["metadata"]["ownerReferences"] = json!([owner]);
        }
        let api_error = |source| ApplyError::Api { kind: kind.clone(), name: name.clone(), source };
        let result = match api.patch(&name, &params, &Patch::Apply(&object)).await {
            Err(error) if immutable(&error) => {
                tracing::info!(kind, name, %error, "replacing: a field that changed is immutable");
                replace(&api, &kind, &name).await?;
                applied.replaced.push(format!("{kind} {name}"));
                api.patch(&name, &params, &Patch::Apply(&object)).await
            }
            other => other,
        };
        applied.objects.push(result.map_err(api_error)?);
    }
    Ok(applied)
}

/// Deletes `name` (its pods go with it; volume claims of a StatefulSet stay) and waits until it
/// is gone.
async fn replace(api: &Api<DynamicObject>, kind: &str, name: &str) -> Result<(), ApplyError> {
    let api_error = |source| ApplyError::Api { kind: kind.to_string(), name: name.to_string(), source };
    let params = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..DeleteParams::default() };
    match api.delete(name, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(error) => return Err(api_error(error)),
    }
    const WAIT: u64 = 60;
    for _ in 0..WAIT * 4 {
        if api.get_opt(name).await.map_err(api_error)?.is_none() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(ApplyError::NotGone { kind: kind.to_string(), name: name.to_string(), seconds: WAIT })
}

/// Deletes the Zuul's labelled children that are not in `desired`; returns `Kind name` of each.
pub async fn delete_orphans(
    client: &kube::Client,
    names: &Names,
    pdb_api: &str,
    desired: &[Value],
) -> Result<Vec<String>, ApplyError> {
    let keep: BTreeSet<(String, String)> =
        desired.iter().filter_map(|o| identity(o).ok()).map(|(_, kind, name)| (kind, name)).collect();
    let mut kinds: Vec<(&str, &str)> = NAMESPACED.iter().map(|(a, k, _)| (*a, *k)).collect();
    kinds.push((pdb_api, "PodDisruptionBudget"));
    let list = ListParams::default().labels(&names.selector());
    let mut deleted = Vec::new();
    for (api_version, kind) in kinds {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &names.namespace, &resource(api_version, kind));
        let api_error = |source| ApplyError::Api { kind: kind.to_string(), name: String::new(), source };
        for object in api.list_metadata(&list).await.map_err(api_error)? {
            let name = object.metadata.name.unwrap_or_default();
            if keep.contains(&(kind.to_string(), name.clone())) {
                continue;
            }
            tracing::info!(kind, name, "deleting a child that is no longer desired");
            match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(source) => return Err(ApplyError::Api { kind: kind.to_string(), name, source }),
            }
            deleted.push(format!("{kind} {name}"));
        }
    }
    Ok(deleted)
}

/// Gives the volume claims of the Zuul's StatefulSets the Zuul as their owner, so that deleting
/// the Zuul deletes them too. The StatefulSet controller makes them from the claim templates,
/// labelled with the pods' selector labels (the Zuul's name among them) and owned by nobody, and
/// Kubernetes before 1.27 has no claim retention policy: without this, a deleted Zuul leaves
/// its ZooKeeper's claims. A replaced StatefulSet keeps them (their owner is the Zuul, not the
/// set). Returns the names of the claims adopted in this pass.
pub async fn adopt_claims(client: &kube::Client, names: &Names, owner: &Value) -> Result<Vec<String>, ApplyError> {
    let kind = "PersistentVolumeClaim";
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &names.namespace, &resource("v1", kind));
    let list = ListParams::default().labels(&format!("{ZUUL_LABEL}={}", names.zuul));
    let api_error = |name: &str, source| ApplyError::Api { kind: kind.to_string(), name: name.to_string(), source };
    let mut adopted = Vec::new();
    for claim in api.list_metadata(&list).await.map_err(|e| api_error("", e))? {
        let name = claim.metadata.name.clone().unwrap_or_default();
        let owners = claim.metadata.owner_references.unwrap_or_default();
        if owners.iter().any(|o| Some(o.uid.as_str()) == owner["uid"].as_str()) {
            continue;
        }
        let mut references: Vec<Value> = owners.iter().filter_map(|o| serde_json::to_value(o).ok()).collect();
        let mut reference = owner.clone();
        // (a claim has no controller of its own; the Zuul owns it without controlling it)
        reference["controller"] = json!(false);
        references.push(reference);
        let patch = json!({"metadata": {"ownerReferences": references}});
        match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => continue,
            Err(source) => return Err(api_error(&name, source)),
        }
        tracing::info!(name, "volume claim now owned by the Zuul");
        adopted.push(name);
    }
    Ok(adopted)
}
