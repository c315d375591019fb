//! SSH nodes (issue 10): a pod label with `kubepool.io/ssh` makes a pod that runs sshd with a
//! host key kubepool generates, reachable through a Service (and optionally an Ingress), and
//! handed to Zuul as an ordinary `connection_type: ssh` node with its `host_keys`.
//!
//! [`host_key`] makes the key, [`executor_key`] reads the executor's public key, [`objects`]
//! builds the Secret, pod, Service and Ingress, [`reach`] finds the reported address and waits
//! until the node's sshd answers there, proven by [`probe`].

pub mod executor_key;
pub mod host_key;
pub mod objects;
pub mod probe;
pub mod reach;
mod wire;
