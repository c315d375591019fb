//! `driver: openshiftpods` — pods in an existing namespace (reference §3.5, §4.5), for users who
//! may not request projects. The pool's name is the namespace.
//!
//! Unlike Nodepool, each node gets credentials of its own, scoped to its pod ([`access`]),
//! instead of the launcher's token; leaked pods are found and deleted (Nodepool has no cleanup
//! for this driver); and `max-pods` caps the provider's pools (see docs/config.md).

pub mod access;
mod node;

use crate::drivers::common::api;
use crate::drivers::common::label::NodeShape;
use crate::drivers::common::provider::Provider;
use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kubepool_driver_api::{
    DeleteError, Driver, LaunchError, LaunchProgress, LaunchedNode, ListError, NodeSpec, ResourceRef,
};
use std::future::Future;

pub struct OpenshiftPodsDriver {
    provider: Provider,
}

impl OpenshiftPodsDriver {
    /// Made by [`crate::drivers::factory`].
    pub(crate) fn new(provider: Provider) -> Self {
        Self { provider }
    }

    /// A node's `external_id`: `<pool>-<pod>` (Nodepool's format, `<pool>-<label>-<node id>`).
    pub fn external_id(pool: &str, pod: &str) -> String {
        format!("{pool}-{pod}")
    }

    fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.provider.cluster.client.clone(), namespace)
    }

    async fn clean_up_on_failure<T>(
        &self,
        namespace: &str,
        pod: &str,
        attempt: impl Future<Output = Result<T, LaunchError>>,
    ) -> Result<T, LaunchError> {
        let pods = self.pods(namespace);
        let undo = || async move { api::delete_and_wait(&pods, pod, self.provider.timeouts.delete).await };
        crate::drivers::common::launch_attempt::or_undo("pod", pod, attempt, undo).await
    }
}

/// The namespace and pod of an external id `<pool>-<pod>`: the longest of `pools` it starts with.
pub fn parse_external_id<'a>(pools: &[&'a str], external_id: &'a str) -> Option<(&'a str, &'a str)> {
    pools
        .iter()
        .filter_map(|pool| Some((*pool, external_id.strip_prefix(pool)?.strip_prefix('-')?)))
        .filter(|(_, pod)| !pod.is_empty())
        .max_by_key(|(pool, _)| pool.len())
}

#[async_trait]
impl Driver for OpenshiftPodsDriver {
    async fn launch(&self, spec: &NodeSpec, progress: &dyn LaunchProgress) -> Result<LaunchedNode, LaunchError> {
        let label = self.provider.label(spec)?;
        match &label.shape {
            NodeShape::Pod(body) => node::launch(self, spec, label, body, progress).await,
            NodeShape::Namespace | NodeShape::Ssh(..) => {
                Err(LaunchError::Permanent(format!("openshiftpods label {} is not a plain pod label", label.spec.name)))
            }
        }
    }

    /// Deletes the pod and waits until it is gone; its service account, token and RBAC objects
    /// are garbage-collected with it.
    async fn delete(&self, external_id: &str) -> Result<(), DeleteError> {
        let pools = self.provider.pool_names();
        let (namespace, pod) = parse_external_id(&pools, external_id).ok_or_else(|| {
            DeleteError(format!("{external_id} is not a pod of any pool of provider {}", self.provider.name))
        })?;
        api::delete_and_wait(&self.pods(namespace), pod, self.provider.timeouts.delete).await.map_err(DeleteError)
    }

    /// The pods of this provider in the pools' namespaces (the launcher needs no cluster-wide
    /// rights).
    async fn list_resources(&self) -> Result<Vec<ResourceRef>, ListError> {
        let selector = format!("{}={}", self.provider.naming.provider_key(), self.provider.name);
        let mut out = Vec::new();
        for pool in &self.provider.pools {
            let list = self
                .pods(&pool.name)
                .list_metadata(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| ListError(format!("list pods in {}: {e}", pool.name)))?;
            out.extend(list.items.into_iter().filter_map(|pod| {
                let labels = pod.metadata.labels.unwrap_or_default();
                Some(ResourceRef {
                    external_id: Self::external_id(&pool.name, &pod.metadata.name?),
                    node_id: labels.get(self.provider.naming.node_id_key()).cloned(),
                    deleting: pod.metadata.deletion_timestamp.is_some(),
                })
            }));
        }
        Ok(out)
    }

    async fn check_health(&self) -> Result<(), String> {
        self.provider.cluster.check_health().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_split_at_the_longest_pool() {
        let pools = ["ci", "ci-big"];
        let id = OpenshiftPodsDriver::external_id("ci-big", "fedora-0000000007");
        assert_eq!(id, "ci-big-fedora-0000000007");
        assert_eq!(parse_external_id(&pools, &id), Some(("ci-big", "fedora-0000000007")));
        assert_eq!(parse_external_id(&pools, "ci-fedora-0000000001"), Some(("ci", "fedora-0000000001")));
        assert_eq!(parse_external_id(&pools, "other-fedora-0000000001"), None);
        assert_eq!(parse_external_id(&pools, "ci-"), None);
    }
}
