//! Finding the objects of buildset pod nodes for the leak pass. They live in a namespace that
//! belongs to another node (the parent's), so the namespace list does not show them: the
//! pods, service accounts, Roles and RoleBindings of this provider that carry
//! [`BUILDSET_LABEL`] are listed in every namespace and grouped by node, one
//! [`ResourceRef`] `<namespace>/<pod>` each. The leak pass then deletes only those objects
//! ([`super::node::delete`]), never the namespace, whose own `ResourceRef` names the parent.

use super::super::KubernetesDriver;
use super::{BUILDSET_LABEL, external_id};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Resource;
use kube::api::{Api, ListParams};
use kubepool_driver_api::{ListError, ResourceRef};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;

/// One object of a buildset pod node as listed.
struct Found {
    namespace: String,
    name: String,
    node_id: Option<String>,
    deleting: bool,
}

/// The buildset pod nodes' objects of the driver's provider, one entry per node. `owners` maps
/// each node namespace to its node id: an object labelled with the node of its namespace is
/// that namespace node's own, not a buildset pod's.
pub async fn list(
    driver: &KubernetesDriver,
    owners: &BTreeMap<String, Option<String>>,
) -> Result<Vec<ResourceRef>, ListError> {
    let provider = &driver.provider;
    let selector = format!("{}={},{BUILDSET_LABEL}", provider.naming.provider_key(), provider.name);
    let client = &provider.cluster.client;
    let node_id_key = provider.naming.node_id_key();
    let (pods, accounts, roles, bindings) = tokio::try_join!(
        found::<Pod>(client, &selector, node_id_key),
        found::<ServiceAccount>(client, &selector, node_id_key),
        found::<Role>(client, &selector, node_id_key),
        found::<RoleBinding>(client, &selector, node_id_key),
    )
    .map_err(|e| ListError(format!("list the buildset pods of provider {}: {e}", provider.name)))?;
    let mut nodes: BTreeMap<String, ResourceRef> = BTreeMap::new();
    for object in pods.into_iter().chain(accounts).chain(roles).chain(bindings) {
        if owners.get(&object.namespace).is_some_and(|owner| *owner == object.node_id) {
            continue;
        }
        let id = external_id(&object.namespace, &object.name);
        let entry = nodes.entry(id.clone()).or_insert_with(|| ResourceRef {
            external_id: id,
            node_id: object.node_id.clone(),
            deleting: true,
        });
        // Being deleted only when every object of the node is.
        entry.deleting &= object.deleting;
    }
    Ok(nodes.into_values().collect())
}

async fn found<K>(client: &kube::Client, selector: &str, node_id_key: &str) -> Result<Vec<Found>, kube::Error>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
    K::DynamicType: Default,
{
    let list = Api::<K>::all(client.clone()).list_metadata(&ListParams::default().labels(selector)).await?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|object| {
            let meta = object.metadata;
            Some(Found {
                namespace: meta.namespace?,
                name: meta.name?,
                node_id: meta.labels.and_then(|mut labels| labels.remove(node_id_key)),
                deleting: meta.deletion_timestamp.is_some(),
            })
        })
        .collect())
}
