//! Names and labels of everything the operator makes for one `Zuul`.
//!
//! Every child carries [`MANAGED_BY`] and the Zuul's name in [`ZUUL_LABEL`], so the operator can
//! list what it made (orphan deletion) and the controller can watch only its own objects.

use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The field manager of every server-side apply, and the `app.kubernetes.io/managed-by` value.
pub const MANAGER: &str = "kubepool-operator";
/// `app.kubernetes.io/managed-by`.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The owning Zuul's name.
pub const ZUUL_LABEL: &str = "operator.zuul-ci.org/zuul";
/// The component (`scheduler`, `zookeeper`, `launcher`, ...).
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
/// The provider a launcher serves.
pub const PROVIDER_LABEL: &str = "operator.zuul-ci.org/provider";
/// Pod-template annotation: hash of the configuration the pod mounts (a change rolls the pods).
pub const CONFIG_HASH: &str = "operator.zuul-ci.org/config-hash";

/// The names derived from one Zuul's name.
#[derive(Debug, Clone)]
pub struct Names {
    /// The Zuul's name.
    pub zuul: String,
    /// The Zuul's namespace.
    pub namespace: String,
}

impl Names {
    pub fn new(zuul: &str, namespace: &str) -> Self {
        Names { zuul: zuul.to_string(), namespace: namespace.to_string() }
    }

    /// `<zuul>-<suffix>`.
    pub fn child(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.zuul)
    }

    /// The selector `kubectl get -l` takes for everything this Zuul owns.
    pub fn selector(&self) -> String {
        format!("{MANAGED_BY}={MANAGER},{ZUUL_LABEL}={}", self.zuul)
    }

    /// The labels of a child of `component`.
    pub fn labels(&self, component: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (MANAGED_BY.to_string(), MANAGER.to_string()),
            (ZUUL_LABEL.to_string(), self.zuul.clone()),
            (COMPONENT_LABEL.to_string(), component.to_string()),
            ("app.kubernetes.io/name".to_string(), "zuul".to_string()),
        ])
    }

    /// The pod selector of `component`'s workload (a subset of [`Names::labels`]; immutable once
    /// the workload exists, so it never changes).
    pub fn selector_labels(&self, component: &str) -> Value {
        json!({ZUUL_LABEL: self.zuul, COMPONENT_LABEL: component})
    }

    /// The ZooKeeper client Service's DNS names, all of which its server certificate carries.
    pub fn zookeeper_service_names(&self) -> Vec<String> {
        let service = self.child("zookeeper");
        let ns = &self.namespace;
        vec![
            service.clone(),
            format!("{service}.{ns}"),
            format!("{service}.{ns}.svc"),
            format!("{service}.{ns}.svc.cluster.local"),
        ]
    }

    /// The DNS names of ZooKeeper's pods (through the headless Service), `replicas` of them.
    pub fn zookeeper_pod_names(&self, replicas: i32) -> Vec<String> {
        let set = self.child("zookeeper");
        let headless = self.child("zookeeper-headless");
        let ns = &self.namespace;
        (0..replicas)
            .flat_map(|i| {
                [
                    format!("{set}-{i}.{headless}"),
                    format!("{set}-{i}.{headless}.{ns}.svc"),
                    format!("{set}-{i}.{headless}.{ns}.svc.cluster.local"),
                ]
            })
            .collect()
    }
}

/// A name that is a valid DNS label fragment: lower case, `[a-z0-9-]`, other characters as `-`.
pub fn dns_fragment(text: &str) -> String {
    let mut out: String =
        text.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_are_dns_labels() {
        assert_eq!(dns_fragment("Cloud_One.region"), "cloud-one-region");
        assert_eq!(dns_fragment("--a--b--"), "a-b");
    }

    #[test]
    fn the_service_names_cover_every_form_a_client_may_use() {
        let names = Names::new("z", "ns");
        assert_eq!(
            names.zookeeper_service_names(),
            ["z-zookeeper", "z-zookeeper.ns", "z-zookeeper.ns.svc", "z-zookeeper.ns.svc.cluster.local"]
        );
        assert_eq!(names.zookeeper_pod_names(1)[0], "z-zookeeper-0.z-zookeeper-headless");
    }
}
