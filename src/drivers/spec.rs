//! What a driver is built from: the pools of a provider, their labels, and how long to wait for
//! what the cluster does on its own.

use super::common::pod_body::PodBody;
use kubepool_driver_api::Resources;
use std::collections::BTreeMap;
use std::time::Duration;

/// What kind of node a label makes.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelKind {
    /// `type: namespace`: a namespace with its own service account and RBAC.
    Namespace,
    /// Any other type: a pod in its own namespace, reached with `kubectl exec`.
    Pod(Box<PodBody>),
    /// A pod label with `kubepool.io/ssh`: a pod running sshd behind a Service, reached over SSH.
    Ssh(Box<crate::drivers::kubernetes::ssh::SshPod>),
}

/// One label of a pool, as the driver needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSpec {
    pub name: String,
    pub kind: LabelKind,
    /// `labels`: added to every object's metadata labels.
    pub labels: BTreeMap<String, String>,
    /// `dynamic-labels`: templates over the request's attributes.
    pub dynamic_labels: BTreeMap<String, String>,
    /// `python-path` (Nodepool's default: `auto`).
    pub python_path: String,
    pub shell_type: Option<String>,
    /// What one node of this label counts against quota.
    pub quota: Resources,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    pub name: String,
    pub labels: Vec<LabelSpec>,
}

/// How long the driver waits for things that the cluster does on its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    /// Until the token controller fills a service-account token Secret (Nodepool: 30 × 1 s).
    pub token: Duration,
    /// Until a deleted namespace is gone (Nodepool: 300 × 1 s).
    pub delete: Duration,
    /// From the start of a launch until the pod's credentials can exec into it (Nodepool waits
    /// 300 × 1 s for `Running`).
    pub pod_start: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { token: Duration::from_secs(30), delete: Duration::from_secs(300), pod_start: Duration::from_secs(300) }
    }
}
