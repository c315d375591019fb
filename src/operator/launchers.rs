//! kubepool as Zuul's launcher: the nodepool.yaml sharded per provider, one Secret and one
//! kubepool launcher Deployment per shard, and the launchers' ServiceAccount and RBAC.
//!
//! The config is read with kubepool's own loader (YAML 1.1, `%(NODEPOOL_…)` substitution,
//! `line:col` errors), so what the operator accepts is what a launcher accepts. Each shard keeps
//! every top-level key, has `providers: [<that provider>]`, and points at the Zuul's ZooKeeper; it
//! is written as JSON (valid YAML 1.1, so no `yes`/`017` drift). Shards are keyed on the provider
//! name, so a provider removed from the config loses its launcher in the orphan pass.

use super::components::FileRef;
use super::crd::ZuulSpec;
use super::names::{CONFIG_HASH, Names, PROVIDER_LABEL, dns_fragment};
use super::objects::{
    hash, http_probe, object, pull_secrets, restricted_container_context, restricted_pod_context, secret,
};
use super::zuulconf::ZK_TLS_DIR;
use crate::config::yaml::{self, Node};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// The ClusterRole (shipped in `deploy/operator/`) that in-cluster kubernetes providers' launchers
/// are bound to.
pub const LAUNCHER_CLUSTER_ROLE: &str = "kubepool-launcher";
/// The launchers' metrics, `/ready` and `/healthz` port.
pub const METRICS_PORT: i32 = 9105;
const COMPONENT: &str = "launcher";

/// A nodepool.yaml the operator cannot shard.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    /// Every problem kubepool's loader found, one per line (`source:line:col: path: message`).
    #[error("{0}")]
    Invalid(String),
    #[error("{file}: providers[{index}] has no name")]
    Unnamed { file: String, index: usize },
    #[error("{file}: providers {first} and {second} share the object name {name}")]
    Clash { file: String, first: String, second: String, name: String },
}

/// One provider's share of the config.
#[derive(Debug, Clone, PartialEq)]
pub struct Shard {
    pub provider: String,
    /// `dns_fragment(provider)`: the suffix of its objects' names.
    pub key: String,
    /// The shard's nodepool.yaml, as JSON.
    pub text: String,
}

fn to_json(node: &Node) -> Value {
    match &node.value {
        yaml::Value::Null | yaml::Value::Other(_) => Value::Null,
        yaml::Value::Bool(b) => json!(b),
        yaml::Value::Int(i) => json!(i),
        yaml::Value::BigInt(text) => {
            text.parse::<serde_json::Number>().map_or(Value::String(text.clone()), Value::Number)
        }
        yaml::Value::Float(f) => json!(f),
        yaml::Value::Str(s) => json!(s),
        yaml::Value::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        yaml::Value::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
    }
}

/// `host:port,host:port[/chroot]` → Nodepool's `zookeeper-servers`.
fn zookeeper_servers(hosts: &str) -> Value {
    let (list, chroot) = match hosts.split_once('/') {
        Some((list, chroot)) => (list, Some(format!("/{chroot}"))),
        None => (hosts, None),
    };
    let servers: Vec<Value> = list
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|host| {
            let (name, port) = host.rsplit_once(':').unwrap_or((host, "2281"));
            let mut server = json!({"host": name, "port": port.parse::<u16>().unwrap_or(2281)});
            if let Some(chroot) = &chroot {
                server["chroot"] = json!(chroot);
            }
            server
        })
        .collect();
    Value::Array(servers)
}

/// Splits `text` (read from `source`, e.g. `ConfigMap nodepool key nodepool.yaml`) into one shard
/// per provider, each pointing at `zookeeper_hosts` with the mounted client certificate.
pub fn shard(source: &str, text: &str, zookeeper_hosts: &str) -> Result<Vec<Shard>, ShardError> {
    crate::config::parse(Path::new(source), text).map_err(|e| ShardError::Invalid(e.lines().join("\n")))?;
    let substituted = crate::config::substitute_env_vars(text, std::env::vars());
    let root = yaml::parse(&substituted)
        .map_err(|d| ShardError::Invalid(format!("{source}:{}:{}: {}", d.line, d.col, d.message)))?;
    let Value::Object(mut top) = to_json(&root) else {
        return Ok(Vec::new());
    };
    let providers = match top.remove("providers") {
        Some(Value::Array(providers)) => providers,
        _ => Vec::new(),
    };
    top.insert("zookeeper-servers".into(), zookeeper_servers(zookeeper_hosts));
    top.insert(
        "zookeeper-tls".into(),
        json!({"ca": format!("{ZK_TLS_DIR}/ca.crt"), "cert": format!("{ZK_TLS_DIR}/tls.crt"), "key": format!("{ZK_TLS_DIR}/tls.key")}),
    );
    let mut shards: Vec<Shard> = Vec::new();
    for (index, provider) in providers.into_iter().enumerate() {
        let Some(name) = provider.get("name").and_then(Value::as_str).map(str::to_string) else {
            return Err(ShardError::Unnamed { file: source.to_string(), index });
        };
        let key = dns_fragment(&name);
        if let Some(other) = shards.iter().find(|s| s.key == key) {
            return Err(ShardError::Clash {
                file: source.into(),
                first: other.provider.clone(),
                second: name,
                name: key,
            });
        }
        let mut config: Map<String, Value> = top.clone();
        config.insert("providers".into(), Value::Array(vec![provider]));
        let text = serde_json::to_string_pretty(&Value::Object(config)).unwrap_or_default();
        shards.push(Shard { provider: name, key, text });
    }
    Ok(shards)
}

/// What the launchers are built from.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub names: &'a Names,
    pub spec: &'a ZuulSpec,
    pub shards: &'a [Shard],
    /// The kubepool image when the spec names none.
    pub default_image: &'a str,
    /// `externalConfig` Secrets, as read (name → hash of their data).
    pub external: &'a BTreeMap<String, FileRef>,
    pub zk_client_cert: &'a str,
}

/// The launchers' ServiceAccount, and per shard a Secret and a Deployment.
pub fn objects(inputs: &Inputs<'_>) -> Vec<Value> {
    let names = inputs.names;
    if inputs.shards.is_empty() {
        return Vec::new();
    }
    let account = names.child("launcher");
    let mut objects =
        vec![object(names, "v1", "ServiceAccount", &account, COMPONENT, json!({"automountServiceAccountToken": true}))];
    let launcher = inputs.spec.launcher.as_ref();
    let image = launcher.and_then(|l| l.image.clone()).unwrap_or_else(|| inputs.default_image.to_string());
    for shard in inputs.shards {
        let name = names.child(&format!("launcher-{}", shard.key));
        let mut labels = names.labels(COMPONENT);
        labels.insert(PROVIDER_LABEL.to_string(), shard.key.clone());
        let mut config =
            secret(names, &name, COMPONENT, &BTreeMap::from([("nodepool.yaml".to_string(), shard.text.clone())]));
        config["metadata"]["labels"] = json!(labels);
        objects.push(config);

        let mut volumes = vec![
            json!({"name": "config", "secret": {"secretName": name}}),
            json!({"name": "zookeeper-tls", "secret": {"secretName": names.child("zookeeper-client-tls")}}),
        ];
        let mut mounts = vec![
            json!({"name": "config", "mountPath": "/etc/nodepool", "readOnly": true}),
            json!({"name": "zookeeper-tls", "mountPath": ZK_TLS_DIR, "readOnly": true}),
        ];
        let mut env: Vec<Value> =
            inputs.spec.env.iter().flatten().filter_map(|e| serde_json::to_value(e).ok()).collect();
        let mut hashed = vec![shard.text.clone(), inputs.zk_client_cert.to_string()];
        for (external, file) in inputs.external {
            let volume = format!("external-{}", dns_fragment(external));
            volumes.push(json!({"name": volume, "secret": {"secretName": file.name}}));
            mounts.push(json!({"name": volume, "mountPath": format!("/etc/{external}"), "readOnly": true}));
            hashed.push(file.content.clone());
            if external == "kubernetes" {
                env.push(json!({"name": "KUBECONFIG", "value": "/etc/kubernetes/kube.config"}));
            }
        }
        let selector = json!({super::names::ZUUL_LABEL: names.zuul, PROVIDER_LABEL: shard.key});
        let mut container = json!({
            "name": "launcher",
            "image": image,
            "command": ["kubepool", "launcher", "-c", "/etc/nodepool/nodepool.yaml",
                        "--metrics-addr", format!("0.0.0.0:{METRICS_PORT}")],
            "env": env,
            "ports": [{"name": "metrics", "containerPort": METRICS_PORT}],
            "readinessProbe": http_probe("/ready", "metrics", 2),
            "livenessProbe": http_probe("/healthz", "metrics", 30),
            "volumeMounts": mounts,
            "securityContext": restricted_container_context(),
        });
        if let Some(resources) = launcher.and_then(|l| l.resources.as_ref()) {
            container["resources"] = serde_json::to_value(resources).unwrap_or_default();
        }
        let pull_secrets = pull_secrets(inputs.spec);
        let mut deployment = object(
            names,
            "apps/v1",
            "Deployment",
            &name,
            COMPONENT,
            json!({"spec": {
                "replicas": 1,
                // The old launcher is gone before the new one starts: cleanup and min-ready never overlap.
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": labels, "annotations": {CONFIG_HASH: hash(hashed.iter().map(String::as_str))}},
                    "spec": {
                        "serviceAccountName": account,
                        "securityContext": restricted_pod_context(),
                        "imagePullSecrets": pull_secrets,
                        "containers": [container],
                        "volumes": volumes,
                    },
                },
            }}),
        );
        deployment["metadata"]["labels"] = json!(labels);
        objects.push(deployment);
    }
    objects
}

/// Whether a shard's provider talks to this cluster with the launcher's own ServiceAccount (a
/// kubernetes provider without `context`).
pub fn in_cluster(shard_text: &str) -> bool {
    let Ok(config) = serde_json::from_str::<Value>(shard_text) else { return false };
    let provider = &config["providers"][0];
    provider["driver"] == "kubernetes" && provider.get("context").is_none_or(Value::is_null)
}

/// The ClusterRoleBinding that gives the launchers' ServiceAccount [`LAUNCHER_CLUSTER_ROLE`].
/// Cluster-scoped, so it cannot be owned by the namespaced Zuul: the operator deletes it when
/// its Zuul is gone (see `controller::sweep_bindings`).
pub fn cluster_role_binding(names: &Names, zuul_uid: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": binding_name(names),
            "labels": {
                super::names::MANAGED_BY: super::names::MANAGER,
                super::names::ZUUL_LABEL: names.zuul,
                NAMESPACE_LABEL: names.namespace,
            },
            "annotations": {UID_ANNOTATION: zuul_uid},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": LAUNCHER_CLUSTER_ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": names.child("launcher"), "namespace": names.namespace}],
    })
}

/// The namespace of the Zuul a cluster-scoped child belongs to.
pub const NAMESPACE_LABEL: &str = "operator.zuul-ci.org/namespace";
/// The uid of the Zuul a cluster-scoped child belongs to.
pub const UID_ANNOTATION: &str = "operator.zuul-ci.org/zuul-uid";

/// The launchers' ClusterRoleBinding name.
pub fn binding_name(names: &Names) -> String {
    format!("kubepool-launcher-{}-{}", names.namespace, names.zuul)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "labels:\n  - name: pod\n    min-ready: 0\nproviders:\n  - name: Cloud_A\n    driver: kubernetes\n    pools:\n      - name: main\n        labels:\n          - name: pod\n            type: pod\n            image: debian\n  - name: b\n    driver: kubernetes\n    context: other\n    pools:\n      - name: main\n        labels:\n          - name: pod\n            type: pod\n            image: debian\n";

    #[test]
    fn one_shard_per_provider_with_every_top_level_key_and_the_zuul_zookeeper() {
        let shards = shard("nodepool.yaml", CONFIG, "zk.ns.svc:2281/np").expect("sharded");
        assert_eq!(shards.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(), ["cloud-a", "b"]);
        let first: Value = serde_json::from_str(&shards[0].text).expect("JSON");
        assert_eq!(first["providers"][0]["name"], "Cloud_A");
        assert_eq!(first["providers"].as_array().map(Vec::len), Some(1));
        assert_eq!(first["labels"][0]["name"], "pod");
        assert_eq!(first["zookeeper-servers"], json!([{"host": "zk.ns.svc", "port": 2281, "chroot": "/np"}]));
        // Each shard is itself a config kubepool accepts.
        for shard in &shards {
            crate::config::parse(Path::new("shard"), &shard.text).expect("a valid shard");
        }
    }

    #[test]
    fn an_invalid_config_is_refused_with_line_and_column() {
        let error = shard(
            "ConfigMap np key nodepool.yaml",
            "providers:\n  - name: a\n    driver: kubernetes\n    pools: 3\n",
            "zk:2281",
        )
        .expect_err("invalid");
        let text = error.to_string();
        assert!(text.contains("ConfigMap np key nodepool.yaml:4:"), "{text}");
    }
}
