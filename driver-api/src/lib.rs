//! The contract between kubepool's launcher and its drivers.
//!
//! This crate knows nothing of Kubernetes or ZooKeeper: a driver can be tested without a
//! launcher, and another front end (for example zuul-launcher's protocol) could reuse the
//! drivers. It grows issue by issue; today it holds the quota arithmetic of Nodepool's
//! protocol (a label's `resources`, pool and tenant limits).

pub mod resources;

pub use resources::{Limits, Resources};
