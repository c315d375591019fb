//! The driver toolkit: what more than one driver uses.

pub mod api;
pub mod connection_port;
pub mod label;
pub mod launch_attempt;
pub mod metadata;
pub mod objects;
pub mod pod_account;
pub mod pod_body;
pub mod pod_launch;
pub mod provider;
pub mod service_account;
pub mod token;
pub mod wait_progress;
