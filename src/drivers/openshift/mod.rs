//! `driver: openshift` — project labels and pod labels (reference §3.4, §4.4).
//!
//! One [`OpenshiftDriver`] serves a provider. Each node is a project requested through the
//! OpenShift project API (`ProjectRequest`), so the launcher needs no more than a user who may
//! request projects; it becomes the project's admin and makes the node's service account admin
//! of that project only. The pod pieces (body, start wait, exec probe) and the explicit token
//! Secret are the kubernetes driver's.

pub mod kinds;
pub mod leaks;
mod node;
pub mod project;

use crate::drivers::common::api;
use crate::drivers::spec::{LabelKind, LabelSpec, PoolSpec, Timeouts};
use crate::k8s::ClusterInfo;
use async_trait::async_trait;
use kinds::Project;
use kube::api::{Api, ListParams};
use kubepool_driver_api::{
    DeleteError, Driver, LaunchError, LaunchProgress, LaunchedNode, ListError, NodeSpec, ResourceRef, Resources,
};
use std::future::Future;

/// The openshift driver of one provider. Its labels' [`LabelKind::Namespace`] means a project.
pub struct OpenshiftDriver {
    provider: String,
    pools: Vec<PoolSpec>,
    cluster: ClusterInfo,
    timeouts: Timeouts,
}

impl OpenshiftDriver {
    pub fn new(provider: impl Into<String>, pools: Vec<PoolSpec>, cluster: ClusterInfo, timeouts: Timeouts) -> Self {
        Self { provider: provider.into(), pools, cluster, timeouts }
    }

    /// The project of a node: `<pool>-<node id>` (reference §4.4).
    pub fn project_name(pool: &str, node_id: &str) -> String {
        format!("{pool}-{node_id}")
    }

    fn label(&self, pool: &str, label: &str) -> Option<&LabelSpec> {
        crate::drivers::common::launch_attempt::find_label(&self.pools, pool, label)
    }

    fn projects(&self) -> Api<Project> {
        Api::all(self.cluster.client.clone())
    }

    /// Runs one launch attempt; if it fails, deletes the node's project (with everything in it)
    /// and waits until it is gone.
    async fn clean_up_on_failure<T>(
        &self,
        project: &str,
        attempt: impl Future<Output = Result<T, LaunchError>>,
    ) -> Result<T, LaunchError> {
        let projects = self.projects();
        let undo = || async move { api::delete_and_wait(&projects, project, self.timeouts.delete).await };
        crate::drivers::common::launch_attempt::or_undo("project", project, attempt, undo).await
    }
}

#[async_trait]
impl Driver for OpenshiftDriver {
    fn provider(&self) -> &str {
        &self.provider
    }

    async fn launch(&self, spec: &NodeSpec, progress: &dyn LaunchProgress) -> Result<LaunchedNode, LaunchError> {
        let label = crate::drivers::common::launch_attempt::launch_label(&self.pools, &self.provider, spec)?;
        let pod = match &label.kind {
            LabelKind::Namespace => None,
            LabelKind::Pod(body) => Some(body.as_ref()),
            // The config allows SSH labels only for kubernetes providers.
            LabelKind::Ssh(_) => {
                return Err(LaunchError::Permanent(format!("openshift label {} cannot be an SSH node", label.name)));
            }
        };
        node::launch(self, spec, label, pod, progress).await
    }

    /// Deletes the project (OpenShift deletes its namespace) and waits until it is gone.
    async fn delete(&self, external_id: &str) -> Result<(), DeleteError> {
        api::delete_and_wait(&self.projects(), external_id, self.timeouts.delete).await.map_err(DeleteError)
    }

    async fn list_resources(&self) -> Result<Vec<ResourceRef>, ListError> {
        let list = self
            .projects()
            .list(&ListParams::default())
            .await
            .map_err(|e| ListError(format!("list projects of provider {}: {e}", self.provider)))?;
        let pools: Vec<&str> = self.pools.iter().map(|p| p.name.as_str()).collect();
        Ok(leaks::ours(&self.provider, &pools, list.items))
    }

    async fn check_health(&self) -> Result<(), String> {
        self.cluster.check_health().await
    }

    fn quota(&self, pool: &str, label: &str) -> Option<Resources> {
        self.label(pool, label).map(|l| l.quota.clone())
    }
}
