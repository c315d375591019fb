//! The drivers: Kubernetes (namespace and pod labels), OpenShift (project and pod labels) and
//! OpenShift pods (pods in an existing project), with the pieces they share.
//! They implement [`kubepool_driver_api::Driver`] and never touch ZooKeeper.

pub mod common;
pub mod kubernetes;
pub mod openshift;
pub mod openshiftpods;
pub mod spec;
