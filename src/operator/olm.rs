//! The OLM bundle's ClusterServiceVersion (`deploy/olm/manifests/`), generated from the plain
//! install manifests so the two cannot drift: the operator Deployment of
//! `deploy/operator/operator.yaml`, the ClusterRole rules of `deploy/operator/rbac.yaml`, and the
//! `Zuul` CRD generated from the types. `kubepool operator csv` prints it; tests/olm_bundle.rs
//! checks the committed bundle against it and against the API server.

use super::Zuul;
use crate::config::yaml;
use kube::CustomResourceExt;
use serde_json::{Value, json};

/// The OLM package name, its one channel, and the operator's name in the bundle.
pub const PACKAGE: &str = "kubepool-operator";
pub const CHANNEL: &str = "alpha";
/// The CRD the managed database needs (owned by the Percona XtraDB Cluster operator).
pub const PXC_CRD: &str = "perconaxtradbclusters.pxc.percona.com";

const OPERATOR_YAML: (&str, &str) =
    ("deploy/operator/operator.yaml", include_str!("../../deploy/operator/operator.yaml"));
const RBAC_YAML: (&str, &str) = ("deploy/operator/rbac.yaml", include_str!("../../deploy/operator/rbac.yaml"));

/// Why the CSV cannot be made from the install manifests (they are compiled in, so this means
/// someone edited them into a shape the bundle cannot follow).
#[derive(Debug, thiserror::Error)]
pub enum OlmError {
    #[error("{file}: {message}")]
    Yaml { file: &'static str, message: String },
    #[error("{file}: no {what}")]
    Missing { file: &'static str, what: &'static str },
}

/// The documents of a multi-document YAML file, as JSON.
pub fn documents(file: &'static str, text: &str) -> Result<Vec<Value>, OlmError> {
    let mut out = Vec::new();
    let mut chunk = String::new();
    let mut first_line = 1;
    for (number, line) in text.lines().enumerate() {
        if line.trim_end() == "---" {
            push_document(file, &chunk, first_line, &mut out)?;
            chunk.clear();
            first_line = number + 2;
        } else {
            chunk.push_str(line);
            chunk.push('\n');
        }
    }
    push_document(file, &chunk, first_line, &mut out)?;
    Ok(out)
}

fn push_document(file: &'static str, chunk: &str, first_line: usize, out: &mut Vec<Value>) -> Result<(), OlmError> {
    let node = yaml::parse(chunk)
        .map_err(|d| OlmError::Yaml { file, message: format!("document starting at line {first_line}: {d}") })?;
    let value = yaml::to_json(&node);
    if !value.is_null() {
        out.push(value);
    }
    Ok(())
}

/// The first object of `kind` named `name` in `file`.
fn find(file: (&'static str, &str), kind: &str, name: &str, what: &'static str) -> Result<Value, OlmError> {
    documents(file.0, file.1)?
        .into_iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .ok_or(OlmError::Missing { file: file.0, what })
}

/// The operator Deployment of `deploy/operator/operator.yaml`.
pub fn operator_deployment() -> Result<Value, OlmError> {
    find(OPERATOR_YAML, "Deployment", PACKAGE, "Deployment kubepool-operator")
}

/// The operator's ClusterRole of `deploy/operator/rbac.yaml`.
pub fn operator_cluster_role() -> Result<Value, OlmError> {
    find(RBAC_YAML, "ClusterRole", PACKAGE, "ClusterRole kubepool-operator")
}

/// The Zuul the CSV offers as an example (`alm-examples`): the smallest useful one.
pub fn example_zuul() -> Value {
    json!({
        "apiVersion": "operator.zuul-ci.org/v1alpha2",
        "kind": "Zuul",
        "metadata": {"name": "zuul"},
        "spec": {
            "database": {"secretName": "zuul-db"},
            "zookeeper": {"replicas": 1},
            "scheduler": {"config": "zuul-tenant-config"},
            "executor": {"count": 1, "sshkey": {"secretName": "executor-ssh-key"}},
            "launcher": {"config": {"configMapName": "nodepool", "key": "nodepool.yaml"}},
            "connections": {"opendev": {"driver": "git", "baseurl": "https://opendev.org"}},
        },
    })
}

/// The ClusterServiceVersion as JSON.
pub fn csv() -> Result<Value, OlmError> {
    let version = env!("CARGO_PKG_VERSION");
    let deployment = operator_deployment()?;
    let role = operator_cluster_role()?;
    let service_account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        .as_str()
        .ok_or(OlmError::Missing { file: OPERATOR_YAML.0, what: "spec.template.spec.serviceAccountName" })?
        .to_string();
    let image = deployment["spec"]["template"]["spec"]["containers"][0]["image"].clone();
    let crd = Zuul::crd();
    let owned: Vec<Value> = crd
        .spec
        .versions
        .iter()
        .map(|v| {
            json!({
                "name": crd.metadata.name,
                "version": v.name,
                "kind": crd.spec.names.kind,
                "displayName": "Zuul",
                "description": "A Zuul CI system: scheduler, executors, mergers, web, fingergw, ZooKeeper and kubepool launchers.",
            })
        })
        .collect();
    let examples = serde_json::to_string(&json!([example_zuul()])).unwrap_or_default();
    Ok(json!({
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "ClusterServiceVersion",
        "metadata": {
            "name": format!("{PACKAGE}.v{version}"),
            "annotations": {
                "alm-examples": examples,
                "capabilities": "Full Lifecycle",
                "categories": "Developer Tools",
                "containerImage": image,
                "description": "Runs Zuul CI with kubepool as its Nodepool launcher.",
                "operators.operatorframework.io/suggested-namespace": PACKAGE,
                "repository": "https://opendev.org/zuul/zuul-operator",
                "support": "kubepool",
            },
        },
        "spec": {
            "displayName": "Zuul (kubepool operator)",
            "description": "The kubepool Zuul Operator keeps every `Zuul` custom resource running: \
    ZooKeeper with TLS, the Zuul scheduler, executors, mergers, web and finger gateway, and kubepool \
    (a drop-in replacement for Nodepool's kubernetes drivers) as the launcher. It corrects drift, \
    rolls pods on configuration changes, runs smart-reconfigure when the tenant configuration changes, \
    and reports status conditions. Without `spec.database` it uses the Percona XtraDB Cluster \
    operator's `PerconaXtraDBCluster` resource for a managed database.",
            "version": version,
            "maturity": CHANNEL,
            "provider": {"name": "kubepool"},
            "maintainers": [{"name": "kubepool", "email": "kubepool@example.org"}],
            "keywords": ["zuul", "ci", "nodepool", "kubepool", "gating"],
            "links": [{"name": "Zuul", "url": "https://zuul-ci.org"}],
            "minKubeVersion": "1.20.0",
            "installModes": [
                {"type": "OwnNamespace", "supported": false},
                {"type": "SingleNamespace", "supported": false},
                {"type": "MultiNamespace", "supported": false},
                {"type": "AllNamespaces", "supported": true},
            ],
            "customresourcedefinitions": {
                "owned": owned,
                "required": [{
                    "name": PXC_CRD,
                    "version": "v1",
                    "kind": "PerconaXtraDBCluster",
                    "displayName": "Percona XtraDB Cluster",
                    "description": "The managed database of a Zuul without spec.database.",
                }],
            },
            "install": {
                "strategy": "deployment",
                "spec": {
                    "clusterPermissions": [{"serviceAccountName": service_account, "rules": role["rules"]}],
                    "deployments": [{
                        "name": deployment["metadata"]["name"],
                        "label": deployment["metadata"]["labels"],
                        "spec": deployment["spec"],
                    }],
                },
            },
        },
    }))
}

/// The ClusterServiceVersion as YAML: what `kubepool operator csv` prints and what
/// `deploy/olm/manifests/kubepool-operator.clusterserviceversion.yaml` holds.
pub fn csv_yaml() -> Result<String, OlmError> {
    let mut text = String::from(
        "# Generated by `kubepool operator csv` from deploy/operator/{operator,rbac}.yaml and the Zuul\n\
         # CRD; do not edit (tests/olm_bundle.rs checks it).\n",
    );
    text.push_str(&super::manifest::to_yaml(&csv()?));
    Ok(text)
}
