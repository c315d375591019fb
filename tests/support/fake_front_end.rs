//! A front end that is not Nodepool's, as zuul-launcher's protocol would be: UUID node ids, no
//! pools of its own, its own object names and labels. It builds kubepool's drivers through the
//! factory from driver specs alone: no nodepool.yaml type is in reach here.

#![allow(dead_code)]

use kubepool::drivers::factory::{self, FactoryError};
use kubepool::drivers::naming::NodeNaming;
use kubepool::drivers::spec::{DriverKind, DriverSpec, LabelKind, LabelSpec, PoolSpec, Timeouts};
use kubepool::k8s::ClusterInfo;
use kubepool_driver_api::{Driver, NodeSpec, RequestAttributes};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const NODE_KEY: &str = "frontend.example.org/node";
pub const PROVIDER_KEY: &str = "frontend.example.org/provider";

/// Names a node's namespace `fe-<first 8 of its UUID>` and marks its objects with two labels.
pub struct UuidNaming;

impl NodeNaming for UuidNaming {
    fn namespace(&self, spec: &NodeSpec) -> String {
        format!("fe-{}", short(&spec.node_id))
    }

    fn pod(&self, spec: &NodeSpec) -> String {
        format!("{}-{}", spec.label, short(&spec.node_id))
    }

    fn identity_labels(&self, spec: &NodeSpec) -> BTreeMap<String, String> {
        BTreeMap::from([
            (NODE_KEY.to_string(), spec.node_id.clone()),
            (PROVIDER_KEY.to_string(), spec.provider.clone()),
        ])
    }

    fn provider_key(&self) -> &str {
        PROVIDER_KEY
    }

    fn node_id_key(&self) -> &str {
        NODE_KEY
    }

    /// Every object this front end makes is labelled: a name alone never proves it is ours.
    fn node_id_in_namespace(&self, _name: &str, _pools: &[&str]) -> Option<String> {
        None
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// One label, with nothing but its kind: this front end has no `python-path` or label keys.
pub fn label(name: &str, kind: LabelKind) -> LabelSpec {
    LabelSpec {
        name: name.into(),
        kind,
        labels: BTreeMap::new(),
        dynamic_labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        python_path: "auto".into(),
        shell_type: None,
        buildset_namespace: false,
    }
}

/// A provider's driver: its labels in one pool named `pool` (for kubernetes and openshift the
/// name is not used; for openshiftpods it is the namespace the pods go to).
pub fn driver(
    kind: DriverKind,
    provider: &str,
    pool: &str,
    labels: Vec<LabelSpec>,
    cluster: ClusterInfo,
) -> Result<Arc<dyn Driver>, FactoryError> {
    let spec = DriverSpec {
        provider: provider.into(),
        kind,
        pools: vec![PoolSpec { name: pool.into(), labels }],
        timeouts: Timeouts::default(),
    };
    factory::build(&spec, cluster, Arc::new(UuidNaming))
}

/// A launch request of this front end: a fresh UUID, no pool.
pub fn node(provider: &str, pool: &str, label: &str) -> NodeSpec {
    let id = uuid::Uuid::new_v4().to_string();
    NodeSpec {
        node_id: id.clone(),
        provider: provider.into(),
        pool: pool.into(),
        label: label.into(),
        request: RequestAttributes { id, ..RequestAttributes::default() },
    }
}
