//! The Ansible inventory and `zuul.resources` for a node set, as Zuul's executor makes them
//! (ZU `prepareNodes`, `getHostList`, `squash_variables`, `make_inventory_dict`; reference
//! §6.2): pods are hosts with `ansible_connection: kubectl`, `ansible_host` = the pod and
//! `ansible_kubectl_context`; namespace and project nodes appear only in `zuul.resources`.
//!
//! The inventory is the one Zuul writes for a playbook of a job without job, group or extra
//! variables (`writeInventory` with the original host vars); its text is PyYAML's.

use super::ExecutorError;
use super::connection::{Connection, Kind};
use super::kubeconfig::KubeConfig;
use super::pyyaml::{self, Yaml};
use super::records::NodeRecord;
use serde_json::Value;
use std::collections::BTreeMap;
use std::rc::Rc;

/// The executor's `default_username` (zuul.conf `[executor] default_username`).
pub const DEFAULT_USERNAME: &str = "zuul";

/// A pod whose console logs are to be forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodTarget {
    /// The nodeset name of the node.
    pub node: String,
    pub context: String,
    pub namespace: String,
    pub pod: String,
}

/// Everything the executor prepares from the node records.
#[derive(Debug)]
pub struct Prepared {
    pub kubeconfig: KubeConfig,
    /// The inventory's text.
    pub inventory: String,
    /// `zuul.resources` without stream ports (see [`Prepared::resources`]).
    resources: BTreeMap<String, serde_json::Map<String, Value>>,
    /// Pods, in node set order.
    pub pods: Vec<PodTarget>,
}

impl Prepared {
    /// `zuul.resources`, with `stream_port1`/`stream_port2` for the pods in `ports` (by node).
    pub fn resources(&self, ports: &BTreeMap<String, (u16, u16)>) -> Value {
        let mut resources = serde_json::Map::new();
        for (node, entry) in &self.resources {
            let mut entry = entry.clone();
            if let Some((port1, port2)) = ports.get(node) {
                entry.insert("stream_port1".into(), (*port1).into());
                entry.insert("stream_port2".into(), (*port2).into());
            }
            resources.insert(node.clone(), Value::Object(entry));
        }
        Value::Object(resources)
    }
}

/// A record's fields, each converted once so that a dict used twice stays one object (as one
/// Python object it gets a YAML anchor).
struct Fields(BTreeMap<String, Rc<Yaml>>);

impl Fields {
    fn new(record: &serde_json::Map<String, Value>) -> Self {
        Fields(record.iter().map(|(k, v)| (k.clone(), Rc::new(Yaml::from(v)))).collect())
    }

    /// `node.<key>`: the record's value, or the default of Zuul's `model.Node` (None).
    fn get(&self, key: &str) -> Yaml {
        self.0.get(key).map(|v| Yaml::Shared(v.clone())).unwrap_or(Yaml::Null)
    }

    fn get_or(&self, key: &str, default: Yaml) -> Yaml {
        self.0.get(key).map(|v| Yaml::Shared(v.clone())).unwrap_or(default)
    }
}

/// Builds the kubeconfig, inventory and `zuul.resources` of a node set, in its order.
pub fn prepare(records: &[NodeRecord]) -> Result<Prepared, ExecutorError> {
    let mut kubeconfig = KubeConfig::default();
    let mut hosts = BTreeMap::new();
    let mut resources = BTreeMap::new();
    let mut pods = Vec::new();
    for record in records {
        let node_error = |reason: String| ExecutorError::Node { name: record.name.clone(), reason };
        let connection = Connection::of(&record.node).map_err(node_error)?.ok_or_else(|| {
            node_error("not a Kubernetes node (connection_type kubectl, namespace or project)".into())
        })?;
        let label = record.label().ok_or_else(|| node_error("no label and no type in the record".into()))?;
        let context = kubeconfig.add(&connection);
        let mut entry = serde_json::Map::new();
        entry.insert("namespace".into(), connection.namespace.clone().into());
        entry.insert("context".into(), context.clone().into());
        if let (Kind::Kubectl, Some(pod)) = (connection.kind, &connection.pod) {
            entry.insert("pod".into(), pod.clone().into());
            entry.insert("resources".into(), record.node.get("resources").cloned().unwrap_or(Value::Null));
            hosts.insert(record.name.clone(), host_vars(&Fields::new(&record.node), &label, &context));
            pods.push(PodTarget {
                node: record.name.clone(),
                context: context.clone(),
                namespace: connection.namespace.clone(),
                pod: pod.clone(),
            });
        }
        resources.insert(record.name.clone(), entry);
    }
    let inventory = Yaml::map([(
        "all",
        Yaml::map([
            ("hosts", Yaml::Map(hosts)),
            ("vars", Yaml::map::<String>([])),
            ("children", Yaml::map([("zuul_unreachable", Yaml::map([("hosts", Yaml::map::<String>([]))]))])),
        ]),
    )]);
    Ok(Prepared { kubeconfig, inventory: pyyaml::dump(&inventory), resources, pods })
}

/// `getHostList` for a kubectl node whose `connection_port` Zuul has already replaced by
/// `None` (so `ansible_port` is null).
fn host_vars(fields: &Fields, label: &str, context: &str) -> Yaml {
    // `node_properties` defaults to one fresh dict per node, shared by both dicts below.
    let properties = fields.get_or("node_properties", Yaml::Shared(Rc::new(Yaml::map::<String>([]))));
    let private_ipv4 =
        if fields.get("private_ipv4").is_truthy() { fields.get("private_ipv4") } else { fields.get("public_ipv4") };
    let mut vars = BTreeMap::new();
    vars.insert("ansible_host".to_string(), fields.get("interface_ip"));
    let username = fields.get("username");
    vars.insert("ansible_user".into(), if username.is_truthy() { username } else { Yaml::str(DEFAULT_USERNAME) });
    vars.insert("ansible_port".into(), Yaml::Null);
    vars.insert(
        "nodepool".into(),
        Yaml::map([
            ("label", Yaml::str(label)),
            ("az", fields.get("az")),
            ("cloud", fields.get("cloud")),
            ("provider", fields.get("provider")),
            ("region", fields.get("region")),
            ("host_id", fields.get("host_id")),
            ("external_id", fields.get("external_id")),
            ("slot", fields.get("slot")),
            ("interface_ip", fields.get("interface_ip")),
            ("public_ipv4", fields.get("public_ipv4")),
            ("private_ipv4", private_ipv4),
            ("public_ipv6", fields.get("public_ipv6")),
            ("private_ipv6", fields.get("private_ipv6")),
            ("node_properties", properties.clone()),
        ]),
    );
    vars.insert(
        "zuul_node".into(),
        Yaml::map([
            ("uuid", fields.get("uuid")),
            ("label", Yaml::str(label)),
            ("az", fields.get("az")),
            ("cloud", fields.get("cloud")),
            ("provider", fields.get("provider")),
            ("region", fields.get("region")),
            ("host_id", fields.get("host_id")),
            ("external_id", fields.get("external_id")),
            ("slot", fields.get("slot")),
            ("interface_ip", fields.get("interface_ip")),
            ("public_ipv4", fields.get("public_ipv4")),
            ("private_ipv4", fields.get("private_ipv4")),
            ("public_ipv6", fields.get("public_ipv6")),
            ("private_ipv6", fields.get("private_ipv6")),
            ("reuse", fields.get_or("reuse", Yaml::Bool(false))),
            ("node_properties", properties),
        ]),
    );
    vars.insert("ansible_python_interpreter".into(), fields.get("python_path"));
    vars.insert("ansible_connection".into(), Yaml::str("kubectl"));
    vars.insert("ansible_kubectl_context".into(), Yaml::str(context));
    let shell_type = fields.get("shell_type");
    if shell_type.is_truthy() {
        vars.insert("ansible_shell_type".into(), shell_type);
    }
    if !fields.get_or("host_keys", Yaml::Seq(Vec::new())).is_truthy() {
        vars.insert("ansible_ssh_common_args".into(), Yaml::str("-o StrictHostKeyChecking=false"));
    }
    Yaml::Map(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(name: &str, kind: &str, extra: Value) -> NodeRecord {
        let mut node = json!({
            "state": "ready", "type": ["label-a"], "provider": "k8s", "connection_type": kind,
            "connection_port": {"host": "https://k8s:6443", "namespace": format!("ns-{name}"), "user": "zuul-worker",
                "token": "secret-token", "skiptls": true, "pod": "pod-1"},
            "interface_ip": "pod-1", "python_path": "auto", "resources": {"cores": 1}
        });
        if let (Some(node), Some(extra)) = (node.as_object_mut(), extra.as_object()) {
            node.extend(extra.clone());
        }
        NodeRecord { name: name.into(), label: None, id: None, node: node.as_object().cloned().unwrap_or_default() }
    }

    #[test]
    fn pods_are_hosts_and_namespaces_only_resources() {
        let prepared =
            prepare(&[record("pod", "kubectl", json!({})), record("ns", "namespace", json!({}))]).expect("prepared");
        assert!(prepared.inventory.contains("    pod:\n      ansible_connection: kubectl\n"), "{}", prepared.inventory);
        assert!(!prepared.inventory.contains("ns:"), "{}", prepared.inventory);
        assert!(!prepared.inventory.contains("secret-token"));
        assert!(prepared.inventory.contains("ansible_kubectl_context: ns-pod:zuul-worker/k8s:6443\n"));
        assert!(prepared.inventory.contains("node_properties: &id001 {}"), "{}", prepared.inventory);
        assert_eq!(prepared.pods.len(), 1);
        let ports = BTreeMap::from([("pod".to_string(), (4001, 4002))]);
        assert_eq!(
            prepared.resources(&ports),
            json!({
                "pod": {"namespace": "ns-pod", "context": "ns-pod:zuul-worker/k8s:6443", "pod": "pod-1",
                        "resources": {"cores": 1}, "stream_port1": 4001, "stream_port2": 4002},
                "ns": {"namespace": "ns-ns", "context": "ns-ns:zuul-worker/k8s:6443"},
            })
        );
    }

    #[test]
    fn shell_type_username_and_host_keys_change_the_host_vars() {
        let with = record("p", "kubectl", json!({"shell_type": "sh", "username": "root", "host_keys": ["k"]}));
        let text = prepare(&[with]).expect("prepared").inventory;
        assert!(text.contains("ansible_shell_type: sh\n"), "{text}");
        assert!(text.contains("ansible_user: root\n"), "{text}");
        assert!(!text.contains("ansible_ssh_common_args"), "{text}");
        let without = prepare(&[record("p", "kubectl", json!({}))]).expect("prepared").inventory;
        assert!(!without.contains("ansible_shell_type"), "{without}");
        assert!(without.contains("ansible_user: zuul\n"), "{without}");
        assert!(without.contains("ansible_ssh_common_args: -o StrictHostKeyChecking=false\n"), "{without}");
    }

    #[test]
    fn a_non_kubernetes_node_is_refused() {
        let error = prepare(&[record("vm", "ssh", json!({}))]).expect_err("refused");
        assert!(error.to_string().contains("vm"), "{error}");
    }
}
