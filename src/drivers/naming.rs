//! How a front end names a node's objects and marks them as its own. The drivers choose
//! neither: Nodepool's front end (`launcher::naming`) names a namespace `<pool>-<node id>` and
//! labels every object `nodepool_*`; a front end with UUID node ids and no pools passes its own.

use kubepool_driver_api::NodeSpec;
use std::collections::BTreeMap;

pub trait NodeNaming: Send + Sync {
    /// The namespace (openshift: project) of a node that gets one of its own.
    fn namespace(&self, spec: &NodeSpec) -> String;

    /// The pod of a node in a shared namespace (openshiftpods).
    fn pod(&self, spec: &NodeSpec) -> String;

    /// Labels every object of the node carries, so that the front end finds it again after a
    /// crash (leak detection). They win over the label's own labels.
    fn identity_labels(&self, spec: &NodeSpec) -> BTreeMap<String, String>;

    /// The label key whose value is the provider's name: it selects a provider's objects.
    fn provider_key(&self) -> &str;

    /// The label key whose value is the node id.
    fn node_id_key(&self) -> &str;

    /// The node id in a name [`NodeNaming::namespace`] made for one of `pools`, for an object
    /// that lost its labels (an OpenShift project made by a template that drops them).
    fn node_id_in_namespace(&self, name: &str, pools: &[&str]) -> Option<String>;
}
