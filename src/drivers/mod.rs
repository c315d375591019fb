//! The drivers: Kubernetes (namespace and pod labels), OpenShift (project and pod labels) and
//! OpenShift pods (pods in an existing project). They implement [`kubepool_driver_api::Driver`]
//! and never touch ZooKeeper.
//!
//! * [`spec`]: what a driver is built from, in no front end's terms.
//! * [`factory`]: builds a provider's driver from its spec; the only way in from outside.
//! * [`naming`]: how the front end names and marks a node's objects.
//! * [`common`]: the toolkit the drivers share (pod body and start, credentials, API helpers).
//! * [`kubernetes`], [`openshift`], [`openshiftpods`]: each driver's own.

pub mod common;
pub mod factory;
pub mod kubernetes;
pub mod naming;
pub mod openshift;
pub mod openshiftpods;
pub mod spec;
