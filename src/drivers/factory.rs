//! The driver factory: a provider's [`Driver`] from a [`DriverSpec`], the cluster it serves and
//! the front end's [`NodeNaming`]. It needs no front end's types: the launcher maps
//! nodepool.yaml onto the spec (`launcher::setup`), another front end maps its own.

use super::common::label::{self, LabelError};
use super::common::provider::Provider;
use super::kubernetes::KubernetesDriver;
use super::naming::NodeNaming;
use super::openshift::OpenshiftDriver;
use super::openshiftpods::OpenshiftPodsDriver;
use super::spec::{DriverKind, DriverSpec};
use crate::k8s::ClusterInfo;
use kubepool_driver_api::Driver;
use std::sync::Arc;

/// Why a driver cannot be built: a label whose pod is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("provider {provider} {source}")]
pub struct FactoryError {
    pub provider: String,
    #[source]
    pub source: LabelError,
}

/// Builds the driver of `spec.provider`. Nothing is asked of the cluster yet.
pub fn build(
    spec: &DriverSpec,
    cluster: ClusterInfo,
    naming: Arc<dyn NodeNaming>,
) -> Result<Arc<dyn Driver>, FactoryError> {
    let pools =
        label::prepare(&spec.pools).map_err(|source| FactoryError { provider: spec.provider.clone(), source })?;
    let provider = Provider { name: spec.provider.clone(), pools, cluster, timeouts: spec.timeouts, naming };
    Ok(match spec.kind {
        DriverKind::Kubernetes => Arc::new(KubernetesDriver::new(provider)),
        DriverKind::Openshift => Arc::new(OpenshiftDriver::new(provider)),
        DriverKind::OpenshiftPods => Arc::new(OpenshiftPodsDriver::new(provider)),
    })
}
