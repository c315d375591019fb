//! The contract between kubepool's launcher and its drivers.
//!
//! This crate knows nothing of Kubernetes or ZooKeeper: a driver can be tested without a
//! launcher, and another front end (for example zuul-launcher's protocol) could reuse the
//! drivers. It holds the [`Driver`] trait with its inputs and outcomes, and the quota
//! arithmetic of Nodepool's protocol.

pub mod driver;
pub mod resources;

pub use driver::{
    DeleteError, Driver, LaunchError, LaunchProgress, LaunchedNode, ListError, NoProgress, NodeSpec, RequestAttributes,
    ResourceRef,
};
pub use resources::{Limits, Resources};
