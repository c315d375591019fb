//! What every driver holds of the provider it serves: its name, its pools (labels built), its
//! cluster, how long to wait, and the front end's naming. The factory makes it once.

use super::label::{Label, Pool};
use super::metadata::{self, TemplateError};
use crate::drivers::naming::NodeNaming;
use crate::drivers::spec::Timeouts;
use crate::k8s::ClusterInfo;
use kubepool_driver_api::{LaunchError, NodeSpec};
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct Provider {
    pub name: String,
    pub pools: Vec<Pool>,
    pub cluster: ClusterInfo,
    pub timeouts: Timeouts,
    pub naming: Arc<dyn NodeNaming>,
}

impl Provider {
    /// The label a launch is for, or a permanent failure naming what is missing.
    pub fn label(&self, spec: &NodeSpec) -> Result<&Label, LaunchError> {
        self.pools
            .iter()
            .find(|p| p.name == spec.pool)
            .and_then(|pool| pool.labels.iter().find(|l| l.spec.name == spec.label))
            .ok_or_else(|| {
                LaunchError::Permanent(format!(
                    "pool {} of provider {} has no label {}",
                    spec.pool, self.name, spec.label
                ))
            })
    }

    /// The metadata labels of every object made for node `spec` of `label`.
    pub fn object_labels(&self, spec: &NodeSpec, label: &Label) -> Result<BTreeMap<String, String>, TemplateError> {
        metadata::object_labels(self.naming.as_ref(), spec, &label.spec.labels, &label.spec.dynamic_labels)
    }

    /// The names of the pools (for openshiftpods, the namespaces).
    pub fn pool_names(&self) -> Vec<&str> {
        self.pools.iter().map(|p| p.name.as_str()).collect()
    }
}
