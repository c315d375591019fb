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
use crate::drivers::common::label::NodeShape;
use crate::drivers::common::provider::Provider;
use async_trait::async_trait;
use kinds::Project;
use kube::api::{Api, ListParams};
use kubepool_driver_api::{
    DeleteError, Driver, LaunchError, LaunchProgress, LaunchedNode, ListError, NodeSpec, ResourceRef,
};
use std::future::Future;

/// The openshift driver of one provider. Its labels' [`NodeShape::Namespace`] means a project.
pub struct OpenshiftDriver {
    provider: Provider,
}

impl OpenshiftDriver {
    /// Made by [`crate::drivers::factory`].
    pub(crate) fn new(provider: Provider) -> Self {
        Self { provider }
    }

    fn projects(&self) -> Api<Project> {
        Api::all(self.provider.cluster.client.clone())
    }

    /// Runs one launch attempt; if it fails, deletes the node's project (with everything in it)
    /// and waits until it is gone.
    async fn clean_up_on_failure<T>(
        &self,
        project: &str,
        attempt: impl Future<Output = Result<T, LaunchError>>,
    ) -> Result<T, LaunchError> {
        let projects = self.projects();
        let undo = || async move { api::delete_and_wait(&projects, project, self.provider.timeouts.delete).await };
        crate::drivers::common::launch_attempt::or_undo("project", project, attempt, undo).await
    }
}

#[async_trait]
impl Driver for OpenshiftDriver {
    async fn launch(&self, spec: &NodeSpec, progress: &dyn LaunchProgress) -> Result<LaunchedNode, LaunchError> {
        let label = self.provider.label(spec)?;
        let pod = match &label.shape {
            NodeShape::Namespace => None,
            NodeShape::Pod(body) => Some(body.as_ref()),
            // The config allows SSH labels only for kubernetes providers.
            NodeShape::Ssh(..) => {
                return Err(LaunchError::Permanent(format!(
                    "openshift label {} cannot be an SSH node",
                    label.spec.name
                )));
            }
        };
        node::launch(self, spec, label, pod, progress).await
    }

    /// Deletes the project (OpenShift deletes its namespace) and waits until it is gone.
    async fn delete(&self, external_id: &str) -> Result<(), DeleteError> {
        api::delete_and_wait(&self.projects(), external_id, self.provider.timeouts.delete).await.map_err(DeleteError)
    }

    async fn list_resources(&self) -> Result<Vec<ResourceRef>, ListError> {
        let list = self
            .projects()
            .list(&ListParams::default())
            .await
            .map_err(|e| ListError(format!("list projects of provider {}: {e}", self.provider.name)))?;
        let pools = self.provider.pool_names();
        Ok(leaks::ours(self.provider.naming.as_ref(), &self.provider.name, &pools, list.items))
    }

    async fn check_health(&self) -> Result<(), String> {
        self.provider.cluster.check_health().await
    }
}
