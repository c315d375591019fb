//! The drivers: Kubernetes (namespace and pod labels), and later OpenShift and OpenShift pods.
//! They implement [`kubepool_driver_api::Driver`] and never touch ZooKeeper.

pub mod kubernetes;
pub mod metadata;
