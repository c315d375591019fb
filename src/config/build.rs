//! A validated node tree → the typed [`Config`], resolving every default once
//! (Nodepool's `loadConfig` and the drivers' `load` methods, with kubepool's deviations).

use super::check::{child, item};
use super::error::Diagnostic;
use super::model::*;
use super::validate::{ProviderKind, provider_kind};
use super::yaml::{Node, Value, to_json};
use kubepool_driver_api::{Limits, Resources};
use serde_json::Map;
use tracing::warn;

/// Keys only nodepool-builder reads.
const BUILDER_KEYS: [&str; 5] = ["diskimages", "elements-dir", "images-dir", "build-log-dir", "build-log-retention"];

fn int(node: &Node, key: &str) -> Option<i64> {
    match node.get(key)?.value {
        Value::Int(i) => Some(i),
        Value::Bool(b) => Some(i64::from(b)),
        _ => None,
    }
}

fn string(node: &Node, key: &str) -> Option<String> {
    node.get(key)?.as_str().map(str::to_string)
}

fn seq<'a>(node: &'a Node, key: &str) -> &'a [Node] {
    node.get(key).and_then(Node::as_seq).unwrap_or(&[])
}

fn json_map(node: &Node, key: &str) -> Option<Map<String, serde_json::Value>> {
    match node.get(key).map(to_json) {
        Some(serde_json::Value::Object(map)) => Some(map),
        _ => None,
    }
}

fn json_seq(node: &Node, key: &str) -> Vec<serde_json::Value> {
    seq(node, key).iter().map(to_json).collect()
}

/// The integer-valued string keys of the mapping at `key`, as (name, amount) pairs.
fn int_map(node: &Node, key: &str) -> Vec<(String, i64)> {
    node.get(key).map(int_entries).unwrap_or_default()
}

/// The integer-valued string keys of a mapping, as (name, amount) pairs.
fn int_entries(map: &Node) -> Vec<(String, i64)> {
    let entries = map.as_map().unwrap_or(&[]);
    entries
        .iter()
        .filter_map(|(k, v)| {
            let amount = match v.value {
                Value::Int(i) => i,
                Value::Bool(b) => i64::from(b),
                _ => return None,
            };
            Some((k.as_str()?.to_string(), amount))
        })
        .collect()
}

/// Builds the config from a tree that passed [`validate`](super::validate::validate).
/// Returns the problems only a typed value reveals (a port out of range, ...).
pub fn build(root: &Node) -> Result<Config, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    for key in BUILDER_KEYS.iter().filter(|k| root.get(k).is_some()) {
        warn!(key, "nodepool-builder key ignored: kubepool builds no images");
    }
    let timeout = match root.get("zookeeper-timeout") {
        Some(Node { value: Value::Float(f), pos }) => {
            if !(f.is_finite() && *f >= 0.0) {
                problems.push(Diagnostic::at(*pos, "zookeeper-timeout", "expected a finite number of seconds".into()));
            }
            *f
        }
        _ => 10.0,
    };
    let mut zookeeper_servers = Vec::new();
    for (i, server) in seq(root, "zookeeper-servers").iter().enumerate() {
        let port = int(server, "port").unwrap_or(2181);
        let Ok(port) = u16::try_from(port) else {
            let pos = server.get("port").map_or(server.pos, |p| p.pos);
            let path = child(&item("zookeeper-servers", i), "port");
            problems.push(Diagnostic::at(pos, &path, format!("port {port} is not in 0..=65535")));
            continue;
        };
        zookeeper_servers.push(ZooKeeperServer {
            host: string(server, "host").unwrap_or_default(),
            port,
            chroot: string(server, "chroot"),
        });
    }
    let (providers, ignored_providers) = providers(root);
    super::kube_shapes::check(root, &mut problems);
    super::ssh::check(root, &mut problems);
    super::buildset::check(root, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Config {
        zookeeper_servers,
        zookeeper_tls: root.get("zookeeper-tls").map(|tls| ZooKeeperTls {
            cert: string(tls, "cert").unwrap_or_default().into(),
            key: string(tls, "key").unwrap_or_default().into(),
            ca: string(tls, "ca").unwrap_or_default().into(),
        }),
        zookeeper_timeout: timeout,
        labels: seq(root, "labels")
            .iter()
            .map(|l| Label {
                name: string(l, "name").unwrap_or_default(),
                min_ready: int(l, "min-ready").unwrap_or(0),
                max_ready_age: int(l, "max-ready-age").unwrap_or(0),
            })
            .collect(),
        max_hold_age: int(root, "max-hold-age"),
        tenant_resource_limits: seq(root, "tenant-resource-limits").iter().map(tenant_limits).collect(),
        webapp: root.get("webapp").map(|w| WebApp {
            port: int(w, "port").unwrap_or(8005),
            listen_address: string(w, "listen_address").unwrap_or_else(|| "0.0.0.0".into()),
        }),
        providers,
        ignored_providers,
    })
}

/// A limit key as the quota resource it bounds.
fn resource_name(key: &str) -> &str {
    match key {
        "max-servers" => "instances",
        "max-cores" => "cores",
        "max-ram" => "ram",
        "max-volumes" => "volumes",
        "max-volume-gb" => "volume-gb",
        other => other,
    }
}

fn tenant_limits(node: &Node) -> TenantLimits {
    let mut limits = Limits::unlimited();
    for (key, value) in int_entries(node) {
        limits = limits.with(resource_name(&key), value);
    }
    TenantLimits { tenant_name: string(node, "tenant-name").unwrap_or_default(), limits }
}

fn providers(root: &Node) -> (Vec<Provider>, Vec<IgnoredProvider>) {
    let mut served = Vec::new();
    let mut ignored = Vec::new();
    for (i, node) in seq(root, "providers").iter().enumerate() {
        let name = string(node, "name").unwrap_or_default();
        match provider_kind(node, &item("providers", i)) {
            Ok(ProviderKind::Served(driver)) => served.push(provider(node, name, driver)),
            Ok(ProviderKind::Other(driver)) => {
                warn!(provider = %name, driver = %driver, "provider ignored: kubepool serves only kubernetes, openshift and openshiftpods");
                ignored.push(IgnoredProvider { name, driver });
            }
            Err(_) => {}
        }
    }
    // Nodepool keeps providers in a dict by name: of two with the same name, the last one wins.
    let mut kept: Vec<Provider> = Vec::new();
    for provider in served.into_iter().rev() {
        if kept.iter().any(|p| p.name == provider.name) {
            warn!(provider = %provider.name, "duplicate provider name: the last provider of that name is used, as in Nodepool");
        } else {
            kept.insert(0, provider);
        }
    }
    (kept, ignored)
}

fn provider(node: &Node, name: String, driver: Driver) -> Provider {
    // kubepool: the provider-wide instance cap works for every driver (Nodepool 11.0.0
    // ignores kubernetes `max-servers` and openshiftpods `max-pods`).
    let cap_key = match driver {
        Driver::Kubernetes => "max-servers",
        Driver::Openshift => "max-projects",
        Driver::OpenshiftPods => "max-pods",
    };
    let mut provider_limits = Limits::unlimited();
    for (key, resource) in [(cap_key, "instances"), ("max-cores", "cores"), ("max-ram", "ram")] {
        if let Some(value) = int(node, key) {
            provider_limits = provider_limits.with(resource, value);
        }
    }
    for (key, value) in int_map(node, "max-resources") {
        provider_limits = provider_limits.with(key, value);
    }
    let priority = int(node, "priority").unwrap_or(100);
    Provider {
        name,
        driver,
        context: string(node, "context"),
        launch_retries: int(node, "launch-retries").unwrap_or(3),
        max_concurrency: int(node, "max-concurrency").unwrap_or(-1),
        pools: seq(node, "pools").iter().map(|p| pool(p, driver, &provider_limits, priority)).collect(),
    }
}

fn pool(node: &Node, driver: Driver, provider_limits: &Limits, provider_priority: i64) -> Pool {
    let mut limits = provider_limits.clone();
    for key in ["max-servers", "max-cores", "max-ram"] {
        if let Some(value) = int(node, key) {
            limits = limits.with(resource_name(key), value);
        }
    }
    for (key, value) in int_map(node, "max-resources") {
        limits = limits.with(key, value);
    }
    Pool {
        name: string(node, "name").unwrap_or_default(),
        priority: int(node, "priority").unwrap_or(provider_priority),
        node_attributes: json_map(node, "node-attributes"),
        limits,
        labels: seq(node, "labels").iter().map(|l| label(l, node, driver)).collect(),
    }
}

fn label(node: &Node, pool: &Node, driver: Driver) -> PoolLabel {
    let type_name = string(node, "type");
    let is_namespace = match driver {
        Driver::Kubernetes => type_name.as_deref() == Some("namespace"),
        Driver::Openshift => type_name.as_deref() != Some("pod"),
        Driver::OpenshiftPods => false,
    };
    // Requests: the label's value, else the pool default (for every label, as Nodepool does).
    let requests = Compute {
        cpu: int(node, "cpu").or_else(|| int(pool, "default-label-cpu")),
        memory: int(node, "memory").or_else(|| int(pool, "default-label-memory")),
        storage: int(node, "storage").or_else(|| int(pool, "default-label-storage")),
    };
    let gpu = match (node.get("gpu").map(|g| &g.value), string(node, "gpu-resource")) {
        (Some(Value::Float(f)), Some(resource)) => Some((*f, resource)),
        (Some(Value::Int(i)), Some(resource)) => Some((*i as f64, resource)),
        _ => None,
    };
    let kind = if is_namespace {
        LabelKind::Namespace
    } else if let Some(spec) = node.get("spec") {
        LabelKind::Spec(to_json(spec))
    } else {
        LabelKind::Pod(Box::new(pod_template(node, pool, requests, gpu.clone())))
    };
    // kubepool's SSH option is taken out of the pod's annotations (checked by `ssh::check`).
    let mut annotations = json_map(node, "annotations").unwrap_or_default();
    let ssh = annotations.remove(super::ssh::SSH_KEY).and_then(|v| super::ssh::parse(&v).ok());
    let buildset_namespace = annotations
        .remove(super::buildset::BUILDSET_NAMESPACE_KEY)
        .is_some_and(|v| super::buildset::parse(&v) == Ok(true));
    PoolLabel {
        name: string(node, "name").unwrap_or_default(),
        kind,
        python_path: string(node, "python-path").unwrap_or_else(|| "auto".into()),
        shell_type: string(node, "shell-type"),
        labels: json_map(node, "labels").unwrap_or_default(),
        dynamic_labels: json_map(node, "dynamic-labels").unwrap_or_default(),
        annotations,
        ssh,
        buildset_namespace,
        resources: quota(node, pool, requests, gpu),
    }
}

/// Nodepool's `quotaNeededByLabel`; kubepool also applies `default-label-extra-resources`.
fn quota(node: &Node, pool: &Node, requests: Compute, gpu: Option<(f64, String)>) -> Resources {
    let mut resources = Resources::new().with("instances", 1);
    for (name, amount) in [("cores", requests.cpu), ("ram", requests.memory), ("ephemeral-storage", requests.storage)] {
        if let Some(amount) = amount.filter(|a| *a != 0) {
            resources = resources.with(name, amount);
        }
    }
    if let Some((amount, resource)) = gpu.filter(|(a, _)| *a != 0.0) {
        // Quota amounts are integers: a fractional GPU counts as a whole one.
        resources = resources.with(resource, amount.ceil() as i64);
    }
    for (name, amount) in
        int_map(pool, "default-label-extra-resources").into_iter().chain(int_map(node, "extra-resources"))
    {
        resources = resources.with(name, amount);
    }
    resources
}

fn pod_template(node: &Node, pool: &Node, requests: Compute, gpu: Option<(f64, String)>) -> PodTemplate {
    // Limits: the label's limit, else the pool's default limit, else the request.
    let limit = |key: &str, default_key: &str, request: Option<i64>| {
        int(node, key).or_else(|| int(pool, default_key)).or(request)
    };
    PodTemplate {
        image: string(node, "image"),
        image_pull: string(node, "image-pull").unwrap_or_else(|| "IfNotPresent".into()),
        image_pull_secrets: json_seq(node, "image-pull-secrets"),
        requests,
        limits: Compute {
            cpu: limit("cpu-limit", "default-label-cpu-limit", requests.cpu),
            memory: limit("memory-limit", "default-label-memory-limit", requests.memory),
            storage: limit("storage-limit", "default-label-storage-limit", requests.storage),
        },
        gpu,
        env: seq(node, "env")
            .iter()
            .map(|e| (string(e, "name").unwrap_or_default(), string(e, "value").unwrap_or_default()))
            .collect(),
        node_selector: json_map(node, "node-selector"),
        privileged: node.get("privileged").and_then(|p| match p.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }),
        scheduler_name: string(node, "scheduler-name"),
        volumes: json_seq(node, "volumes"),
        volume_mounts: json_seq(node, "volume-mounts"),
    }
}
