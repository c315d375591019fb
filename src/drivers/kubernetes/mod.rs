//! `driver: kubernetes` — namespace labels and pod labels.
//!
//! One [`KubernetesDriver`] serves a provider: it knows the provider's pools and labels and
//! holds a rate-limited, retrying client for the provider's cluster.

mod access;
mod namespace_node;
mod pod_node;
pub mod ssh;
mod ssh_node;

use crate::drivers::common::api;
use crate::drivers::spec::{LabelKind, LabelSpec, PoolSpec, Timeouts};
use crate::k8s::ClusterInfo;
use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams};
use kubepool_driver_api::{
    DeleteError, Driver, LaunchError, LaunchProgress, LaunchedNode, ListError, NodeSpec, ResourceRef, Resources,
};
use std::future::Future;
use tracing::warn;

pub struct KubernetesDriver {
    provider: String,
    pools: Vec<PoolSpec>,
    cluster: ClusterInfo,
    timeouts: Timeouts,
}

impl KubernetesDriver {
    pub fn new(provider: impl Into<String>, pools: Vec<PoolSpec>, cluster: ClusterInfo, timeouts: Timeouts) -> Self {
        Self { provider: provider.into(), pools, cluster, timeouts }
    }

    fn label(&self, pool: &str, label: &str) -> Option<&LabelSpec> {
        crate::drivers::common::launch_attempt::find_label(&self.pools, pool, label)
    }

    fn namespaces(&self) -> Api<Namespace> {
        Api::all(self.cluster.client.clone())
    }

    /// Runs one launch attempt; if it fails, deletes the node's namespace (and everything in it)
    /// and waits until it is gone, so that the next attempt starts clean.
    async fn clean_up_on_failure<T>(
        &self,
        namespace: &str,
        attempt: impl Future<Output = Result<T, LaunchError>>,
    ) -> Result<T, LaunchError> {
        crate::drivers::common::launch_attempt::or_undo("namespace", namespace, attempt, || {
            self.delete_namespace(namespace)
        })
        .await
    }

    /// Deletes a node's namespace and waits until it is gone. Its pods are deleted first with a
    /// 1 s grace period: the namespace controller otherwise waits out each pod's full grace
    /// period (30 s by default) before it looks again, and a returned node's job is over.
    async fn delete_namespace(&self, namespace: &str) -> Result<(), String> {
        let pods: Api<Pod> = Api::namespaced(self.cluster.client.clone(), namespace);
        let quick = DeleteParams { grace_period_seconds: Some(1), ..DeleteParams::background() };
        match pods.delete_collection(&quick, &ListParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            // The namespace deletion below removes them anyway, only more slowly.
            Err(error) => warn!(namespace, %error, "could not delete the pods of the namespace first"),
        }
        api::delete_and_wait(&self.namespaces(), namespace, self.timeouts.delete).await
    }

    /// The namespace of a node: `<pool>-<node id>` (reference §4.2).
    pub fn namespace_name(pool: &str, node_id: &str) -> String {
        format!("{pool}-{node_id}")
    }
}

#[async_trait]
impl Driver for KubernetesDriver {
    fn provider(&self) -> &str {
        &self.provider
    }

    async fn launch(&self, spec: &NodeSpec, progress: &dyn LaunchProgress) -> Result<LaunchedNode, LaunchError> {
        let label = crate::drivers::common::launch_attempt::launch_label(&self.pools, &self.provider, spec)?;
        match &label.kind {
            LabelKind::Namespace => namespace_node::launch(self, spec, label, progress).await,
            LabelKind::Pod(body) => pod_node::launch(self, spec, label, body, progress).await,
            LabelKind::Ssh(ssh) => ssh_node::launch(self, spec, label, ssh, progress).await,
        }
    }

    async fn delete(&self, external_id: &str) -> Result<(), DeleteError> {
        self.delete_namespace(external_id).await.map_err(DeleteError)
    }

    async fn list_resources(&self) -> Result<Vec<ResourceRef>, ListError> {
        use crate::drivers::common::metadata::{NODE_ID, POOL, PROVIDER};
        let selector = format!("{PROVIDER}={}", self.provider);
        let list = self
            .namespaces()
            .list_metadata(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| ListError(format!("list namespaces of provider {}: {e}", self.provider)))?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|ns| {
                let labels = ns.metadata.labels.unwrap_or_default();
                Some(ResourceRef {
                    external_id: ns.metadata.name?,
                    node_id: labels.get(NODE_ID).cloned(),
                    pool: labels.get(POOL).cloned(),
                    deleting: ns.metadata.deletion_timestamp.is_some(),
                })
            })
            .collect())
    }

    async fn check_health(&self) -> Result<(), String> {
        self.cluster.check_health().await
    }

    fn quota(&self, pool: &str, label: &str) -> Option<Resources> {
        self.label(pool, label).map(|l| l.quota.clone())
    }
}
