//! Deleting a Zuul without leaking its nodes: the finalizer [`FINALIZER`].
//!
//! Garbage collection alone would delete the launchers together with everything else, so the
//! nodes they hold (a namespace per node, made by kubepool in the provider's cluster) would stay.
//! While the Zuul carries the finalizer, its deletion runs the usual pass in a deleting mode (see
//! `build`): the Zuul components that hold nodes (scheduler, executor, merger, web, fingergw)
//! are stopped first, releasing their node locks and requests, and every launcher runs a draining
//! shard (`drain`), so kubepool deletes every node of its provider. The finalizer goes when
//! ZooKeeper holds no node of those providers ([`Decision::Done`]).
//!
//! Bounded: when ZooKeeper cannot be asked ([`ZOOKEEPER_GRACE`] after the deletion), a launcher
//! that still has nodes has no ready pod ([`LAUNCHER_GRACE`]), the drain cannot run at all (the
//! namespace is being deleted, a Secret it reads is gone), or the timeout passes, the operator
//! deletes what kubepool labelled as its own for those providers itself ([`sweep_nodes`]: the
//! node namespaces with kubepool's `nodepool_provider_name` and `nodepool_pool_name` labels, as
//! kubepool's own leak cleanup finds them) and lets the Zuul go.

use super::names::COMPONENT_LABEL;
use crate::launcher::naming::{POOL, PROVIDER};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The status reason (Ready, Progressing) while the launchers drain.
pub const DRAINING: &str = "Draining";
/// The Zuul's finalizer: its launchers' nodes are gone (or swept).
pub const FINALIZER: &str = "operator.zuul-ci.org/launcher-nodes";
/// How long after the deletion an unreachable ZooKeeper, or a drain that cannot run, makes the
/// operator sweep the nodes.
pub const ZOOKEEPER_GRACE: Duration = Duration::from_secs(20);
/// How long after the deletion a launcher with nodes and no ready pod makes the operator sweep
/// (its draining restart takes seconds).
pub const LAUNCHER_GRACE: Duration = Duration::from_secs(120);
/// The default limit of the whole drain (`--cleanup-timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The Zuul components stopped first when the Zuul is deleted: they hold node locks and requests.
const STOPPED_FIRST: [&str; 5] = ["scheduler", "executor", "merger", "web", "fingergw"];

/// Whether `object` is a workload of a component stopped first.
pub fn stopped_first(object: &Value) -> bool {
    let workload = object["kind"] == "StatefulSet" || object["kind"] == "Deployment";
    let component = object["metadata"]["labels"][COMPONENT_LABEL].as_str().unwrap_or_default();
    workload && STOPPED_FIRST.contains(&component)
}

/// Where the drain is, as one pass saw it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Providers whose launcher still waits for its nodes to go, and how many there are.
    pub left: BTreeMap<String, usize>,
    /// Why ZooKeeper could not be asked.
    pub zookeeper: Option<String>,
    /// Draining launchers without a ready pod.
    pub launchers_down: Vec<String>,
    /// Why the drain could not run at all.
    pub blocked: Option<String>,
}

/// What the finalizer does after a pass.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// No node left: the finalizer goes.
    Done,
    /// Still draining (the status message).
    Wait(String),
    /// The operator deletes the nodes itself, then the finalizer goes.
    Sweep { reason: &'static str, message: String },
}

/// Decides from `progress`, `age` after the deletion, with `timeout` for the whole drain.
pub fn decide(progress: &Progress, age: Duration, timeout: Duration) -> Decision {
    if let Some(why) = &progress.blocked {
        if age >= ZOOKEEPER_GRACE {
            return Decision::Sweep { reason: "CannotDrain", message: why.clone() };
        }
        return Decision::Wait(format!("the drain cannot run: {why}"));
    }
    if progress.left.is_empty() && progress.zookeeper.is_none() {
        return Decision::Done;
    }
    let nodes = progress.left.iter().map(|(p, n)| format!("{p}: {n}")).collect::<Vec<_>>().join(", ");
    if let Some(error) = &progress.zookeeper {
        if age >= ZOOKEEPER_GRACE {
            return Decision::Sweep { reason: "ZooKeeperUnreachable", message: error.clone() };
        }
        return Decision::Wait(format!("asking ZooKeeper for the launchers' nodes: {error}"));
    }
    if !progress.launchers_down.is_empty() && age >= LAUNCHER_GRACE {
        let message = format!("no ready launcher {} with nodes left ({nodes})", progress.launchers_down.join(", "));
        return Decision::Sweep { reason: "LaunchersGone", message };
    }
    if age >= timeout {
        let message = format!("nodes left after {} s ({nodes})", timeout.as_secs());
        return Decision::Sweep { reason: "CleanupTimeout", message };
    }
    Decision::Wait(format!(
        "Zuul components stopped; launchers draining, nodes left: {nodes} (swept by the operator after {} s)",
        timeout.as_secs()
    ))
}

/// How the operator finds one provider's nodes in this cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum Reach {
    /// A kubernetes provider of this cluster: the label selector of its node namespaces.
    Namespaces(String),
    /// Elsewhere (another cluster, another driver): named for the Event.
    Elsewhere(String),
}

/// How the nodes of the provider a shard (a launcher's nodepool.yaml, JSON) serves are found.
pub fn reach(shard_text: &str) -> Option<Reach> {
    let config: Value = serde_json::from_str(shard_text).ok()?;
    let provider = &config["providers"][0];
    let name = provider["name"].as_str()?;
    if !super::launchers::in_cluster(shard_text) {
        let driver = provider["driver"].as_str().unwrap_or("?");
        let context = provider["context"].as_str().map(|c| format!(", context {c}")).unwrap_or_default();
        return Some(Reach::Elsewhere(format!("{name} ({driver}{context})")));
    }
    let pools: Vec<&str> =
        provider["pools"].as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
    if pools.is_empty() {
        return None; // no pool, no node
    }
    Some(Reach::Namespaces(format!("{PROVIDER}={name},{POOL} in ({})", pools.join(","))))
}

/// What [`sweep_nodes`] did.
#[derive(Debug, Clone, Default)]
pub struct Swept {
    /// Namespaces deleted.
    pub deleted: Vec<String>,
    /// Providers whose nodes the operator cannot reach.
    pub elsewhere: Vec<String>,
}

/// Deletes the node namespaces of the providers the shards serve, in this cluster.
pub async fn sweep_nodes(client: &kube::Client, shards: &[(String, String)]) -> Result<Swept, kube::Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let mut swept = Swept::default();
    for (_, text) in shards {
        match reach(text) {
            Some(Reach::Namespaces(selector)) => {
                for namespace in api.list_metadata(&ListParams::default().labels(&selector)).await? {
                    let name = namespace.metadata.name.unwrap_or_default();
                    match api.delete(&name, &DeleteParams::background()).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(status)) if status.code == 404 => {}
                        Err(error) => return Err(error),
                    }
                    tracing::info!(namespace = name, selector, "deleted a node namespace of a deleted Zuul");
                    swept.deleted.push(name);
                }
            }
            Some(Reach::Elsewhere(provider)) => swept.elsewhere.push(provider),
            None => {}
        }
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn progress(left: &[(&str, usize)]) -> Progress {
        Progress { left: left.iter().map(|(p, n)| (p.to_string(), *n)).collect(), ..Progress::default() }
    }

    #[test]
    fn done_when_no_node_is_left_and_waiting_while_launchers_drain_within_the_timeout() {
        let timeout = Duration::from_secs(300);
        assert_eq!(decide(&progress(&[]), Duration::ZERO, timeout), Decision::Done);
        let waiting = decide(&progress(&[("local", 2)]), Duration::from_secs(299), timeout);
        assert!(matches!(&waiting, Decision::Wait(m) if m.contains("local: 2")), "{waiting:?}");
        let late = decide(&progress(&[("local", 2)]), timeout, timeout);
        assert!(matches!(late, Decision::Sweep { reason: "CleanupTimeout", .. }), "{late:?}");
    }

    #[test]
    fn an_unreachable_zookeeper_a_gone_launcher_or_a_blocked_drain_sweeps_without_waiting_the_timeout() {
        let timeout = Duration::from_secs(3600);
        let unreachable = Progress { zookeeper: Some("no session".into()), ..progress(&[]) };
        assert!(matches!(decide(&unreachable, Duration::from_secs(5), timeout), Decision::Wait(_)));
        let swept = decide(&unreachable, ZOOKEEPER_GRACE, timeout);
        assert!(matches!(swept, Decision::Sweep { reason: "ZooKeeperUnreachable", .. }), "{swept:?}");
        let down = Progress { launchers_down: vec!["z-launcher-local".into()], ..progress(&[("local", 1)]) };
        assert!(matches!(decide(&down, Duration::from_secs(30), timeout), Decision::Wait(_)));
        let swept = decide(&down, LAUNCHER_GRACE, timeout);
        assert!(matches!(swept, Decision::Sweep { reason: "LaunchersGone", .. }), "{swept:?}");
        let blocked = Progress { blocked: Some("namespace terminating".into()), ..progress(&[("local", 1)]) };
        assert!(matches!(decide(&blocked, Duration::ZERO, timeout), Decision::Wait(_)));
        assert!(matches!(decide(&blocked, ZOOKEEPER_GRACE, timeout), Decision::Sweep { reason: "CannotDrain", .. }));
    }

    #[test]
    fn only_this_clusters_kubernetes_providers_are_swept_by_their_provider_and_pool_labels() {
        let shard = |provider: Value| json!({"labels": [], "providers": [provider]}).to_string();
        let local = shard(json!({"name": "local", "driver": "kubernetes", "pools": [{"name": "a"}, {"name": "b"}]}));
        assert_eq!(
            reach(&local),
            Some(Reach::Namespaces("nodepool_provider_name=local,nodepool_pool_name in (a,b)".into()))
        );
        let other = shard(json!({"name": "far", "driver": "kubernetes", "context": "c1", "pools": [{"name": "a"}]}));
        assert_eq!(reach(&other), Some(Reach::Elsewhere("far (kubernetes, context c1)".into())));
        let pods = shard(json!({"name": "os", "driver": "openshiftpods", "pools": [{"name": "a"}]}));
        assert_eq!(reach(&pods), Some(Reach::Elsewhere("os (openshiftpods)".into())));
    }

    #[test]
    fn the_zuul_workloads_stop_first_and_launchers_and_zookeeper_stay() {
        let workload =
            |kind: &str, component: &str| json!({"kind": kind, "metadata": {"labels": {COMPONENT_LABEL: component}}});
        assert!(stopped_first(&workload("StatefulSet", "scheduler")));
        assert!(stopped_first(&workload("Deployment", "web")));
        assert!(!stopped_first(&workload("Service", "scheduler")));
        assert!(!stopped_first(&workload("Deployment", "launcher")));
        assert!(!stopped_first(&workload("StatefulSet", "zookeeper")));
        assert!(!stopped_first(&workload("Deployment", "zuul-launcher")));
    }
}
