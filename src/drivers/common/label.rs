//! A driver's pools and labels, built once from the [`PoolSpec`]s when the driver is made: a pod
//! label holds its pod body, checked then, not at each launch.

use super::pod_body::PodBody;
use crate::drivers::spec::{LabelKind, LabelSpec, PoolSpec, SshOptions};

#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub name: String,
    pub labels: Vec<Label>,
}

/// One label of a pool, as the driver launches it: its spec and what its nodes are made of.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub spec: LabelSpec,
    pub shape: NodeShape,
}

/// What a node of a label is made of.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeShape {
    /// A namespace (openshift: a project) with its own credentials.
    Namespace,
    /// A pod, reached with `kubectl exec`.
    Pod(Box<PodBody>),
    /// The label's pod (before sshd is added) and how it is reached over SSH.
    Ssh(Box<PodBody>, Box<SshOptions>),
}

/// A label whose pod cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pool {pool} label {label}: {reason}")]
pub struct LabelError {
    pub pool: String,
    pub label: String,
    pub reason: String,
}

/// The pools of `specs`, each pod label with its pod body.
pub fn prepare(specs: &[PoolSpec]) -> Result<Vec<Pool>, LabelError> {
    specs
        .iter()
        .map(|pool| {
            let labels = pool
                .labels
                .iter()
                .map(|label| {
                    let shape = shape(label).map_err(|reason| LabelError {
                        pool: pool.name.clone(),
                        label: label.name.clone(),
                        reason,
                    })?;
                    Ok(Label { spec: label.clone(), shape })
                })
                .collect::<Result<_, LabelError>>()?;
            Ok(Pool { name: pool.name.clone(), labels })
        })
        .collect()
}

fn shape(label: &LabelSpec) -> Result<NodeShape, String> {
    let annotations = || label.annotations.clone();
    Ok(match &label.kind {
        LabelKind::Namespace => NodeShape::Namespace,
        LabelKind::Pod(template) => {
            NodeShape::Pod(Box::new(PodBody::from_template(&label.name, template, annotations())?))
        }
        LabelKind::Spec(spec) => NodeShape::Pod(Box::new(PodBody::from_user_spec(spec, annotations())?)),
        LabelKind::Ssh(template, options) => {
            NodeShape::Ssh(Box::new(PodBody::from_template(&label.name, template, annotations())?), options.clone())
        }
    })
}
