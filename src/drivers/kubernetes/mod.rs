//! `driver: kubernetes` — namespace labels and pod labels.
//!
//! One [`KubernetesDriver`] serves a provider: it knows the provider's pools and labels and
//! holds a rate-limited, retrying client for the provider's cluster.

mod access;
pub mod buildset;
mod namespace_node;
mod pod_node;
pub mod ssh;
mod ssh_node;

use crate::drivers::common::api;
use crate::drivers::common::label::NodeShape;
use crate::drivers::common::provider::Provider;
use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams};
use kubepool_driver_api::{
    DeleteError, Driver, LaunchError, LaunchProgress, LaunchedNode, ListError, NodeSpec, ResourceRef,
};
use std::future::Future;
use tracing::warn;

pub struct KubernetesDriver {
    provider: Provider,
}

impl KubernetesDriver {
    /// Made by [`crate::drivers::factory`]. An SSH label's pod gets sshd here, once.
    pub(crate) fn new(mut provider: Provider) -> Self {
        for label in provider.pools.iter_mut().flat_map(|p| p.labels.iter_mut()) {
            if let NodeShape::Ssh(body, options) = &mut label.shape {
                **body = ssh::objects::ssh_pod_body((**body).clone(), options);
            }
        }
        Self { provider }
    }

    /// Does any label of the provider put pods into buildset namespaces?
    fn has_buildset_labels(&self) -> bool {
        self.provider.pools.iter().flat_map(|p| &p.labels).any(|l| l.spec.buildset_namespace)
    }

    fn namespaces(&self) -> Api<Namespace> {
        Api::all(self.provider.cluster.client.clone())
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
        let pods: Api<Pod> = Api::namespaced(self.provider.cluster.client.clone(), namespace);
        let quick = DeleteParams { grace_period_seconds: Some(1), ..DeleteParams::background() };
        match pods.delete_collection(&quick, &ListParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            // The namespace deletion below removes them anyway, only more slowly.
            Err(error) => warn!(namespace, %error, "could not delete the pods of the namespace first"),
        }
        api::delete_and_wait(&self.namespaces(), namespace, self.provider.timeouts.delete).await
    }
}

#[async_trait]
impl Driver for KubernetesDriver {
    async fn launch(&self, spec: &NodeSpec, progress: &dyn LaunchProgress) -> Result<LaunchedNode, LaunchError> {
        let label = self.provider.label(spec)?;
        match &label.shape {
            NodeShape::Namespace => namespace_node::launch(self, spec, label, progress).await,
            NodeShape::Pod(body) if label.spec.buildset_namespace => {
                buildset::node::launch(self, spec, label, body, progress).await
            }
            NodeShape::Pod(body) => pod_node::launch(self, spec, label, body, progress).await,
            NodeShape::Ssh(body, options) => ssh_node::launch(self, spec, label, body, options, progress).await,
        }
    }

    /// A node's namespace, or for a pod node in a buildset's namespace (`<namespace>/<pod>`)
    /// only its own objects.
    async fn delete(&self, external_id: &str) -> Result<(), DeleteError> {
        match buildset::parse_external_id(external_id) {
            Some((namespace, pod)) => buildset::node::delete(self, namespace, pod).await,
            None => self.delete_namespace(external_id).await,
        }
        .map_err(DeleteError)
    }

    async fn list_resources(&self) -> Result<Vec<ResourceRef>, ListError> {
        let selector = format!("{}={}", self.provider.naming.provider_key(), self.provider.name);
        let list = self
            .namespaces()
            .list_metadata(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| ListError(format!("list namespaces of provider {}: {e}", self.provider.name)))?;
        let mut resources: Vec<ResourceRef> = list
            .items
            .into_iter()
            .filter_map(|ns| {
                let labels = ns.metadata.labels.unwrap_or_default();
                Some(ResourceRef {
                    external_id: ns.metadata.name?,
                    node_id: labels.get(self.provider.naming.node_id_key()).cloned(),
                    deleting: ns.metadata.deletion_timestamp.is_some(),
                })
            })
            .collect();
        // Pod nodes in a buildset's namespace, where only labels with the option put them.
        if self.has_buildset_labels() {
            let owners = resources.iter().map(|r| (r.external_id.clone(), r.node_id.clone())).collect();
            resources.extend(buildset::leaks::list(self, &owners).await?);
        }
        Ok(resources)
    }

    async fn check_health(&self) -> Result<(), String> {
        self.provider.cluster.check_health().await
    }
}
