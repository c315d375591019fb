//! `status.conditions` (Ready, Progressing, Degraded) and `observedGeneration`, written by
//! server-side apply on the status subresource.

use super::crd::Zuul;
use super::names::MANAGER;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

/// How far one workload is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    pub name: String,
    pub ready: i64,
    pub wanted: i64,
    /// The workload's controller has seen its latest spec and every pod runs it.
    pub current: bool,
}

impl Rollout {
    pub fn done(&self) -> bool {
        self.current && self.ready >= self.wanted
    }
}

/// The rollouts of the StatefulSets and Deployments among `objects` (as the API server returned
/// them).
pub fn rollouts(objects: &[DynamicObject]) -> Vec<Rollout> {
    objects
        .iter()
        .filter(|o| o.types.as_ref().is_some_and(|t| t.kind == "StatefulSet" || t.kind == "Deployment"))
        .map(|o| {
            let int = |v: &Value| v.as_i64().unwrap_or(0);
            let spec = &o.data["spec"];
            let status = &o.data["status"];
            let wanted = spec["replicas"].as_i64().unwrap_or(1);
            let generation = o.metadata.generation.unwrap_or(0);
            let updated =
                if status.get("updatedReplicas").is_some() { int(&status["updatedReplicas"]) } else { wanted };
            let current_revision = match (status.get("currentRevision"), status.get("updateRevision")) {
                (Some(a), Some(b)) => a == b || wanted == 0,
                _ => true,
            };
            Rollout {
                name: o.name_any(),
                ready: int(&status["readyReplicas"]),
                wanted,
                current: int(&status["observedGeneration"]) >= generation && updated >= wanted && current_revision,
            }
        })
        .collect()
}

/// What a pass concluded.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Applied; the workloads are where they are.
    Applied(Vec<Rollout>),
    /// Not applied: the spec or the API failed (reason, message).
    Failed { reason: String, message: String },
    /// Being deleted, and waiting (reason, message): the finalizer holds the Zuul.
    Deleting { reason: String, message: String },
    /// Not applied yet: waiting for something the Zuul needs, not a fault (reason, message).
    Waiting { reason: String, message: String },
}

fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    generation: i64,
) -> (String, String, String, String, i64) {
    (type_.to_string(), if status { "True" } else { "False" }.to_string(), reason.to_string(), message, generation)
}

/// The three conditions for `outcome` (type, status, reason, message, generation).
pub fn conditions(outcome: &Outcome, generation: i64) -> Vec<(String, String, String, String, i64)> {
    match outcome {
        Outcome::Applied(rollouts) => {
            let pending: Vec<String> =
                rollouts.iter().filter(|r| !r.done()).map(|r| format!("{} {}/{}", r.name, r.ready, r.wanted)).collect();
            if pending.is_empty() {
                vec![
                    condition(
                        "Ready",
                        true,
                        "AllComponentsReady",
                        format!("{} workloads ready", rollouts.len()),
                        generation,
                    ),
                    condition(
                        "Progressing",
                        false,
                        "RolloutComplete",
                        "every workload runs the current spec".into(),
                        generation,
                    ),
                    condition("Degraded", false, "AsExpected", "the spec is applied".into(), generation),
                ]
            } else {
                let message = format!("waiting for {}", pending.join(", "));
                vec![
                    condition("Ready", false, "ComponentsNotReady", message.clone(), generation),
                    condition("Progressing", true, "RollingOut", message, generation),
                    condition("Degraded", false, "AsExpected", "the spec is applied".into(), generation),
                ]
            }
        }
        Outcome::Deleting { reason, message } => vec![
            condition("Ready", false, reason, message.clone(), generation),
            condition("Progressing", true, reason, message.clone(), generation),
            condition("Degraded", false, "AsExpected", "being deleted".into(), generation),
        ],
        Outcome::Waiting { reason, message } => vec![
            condition("Ready", false, reason, message.clone(), generation),
            condition("Progressing", true, reason, message.clone(), generation),
            condition("Degraded", false, "AsExpected", "nothing is wrong: waiting".into(), generation),
        ],
        Outcome::Failed { reason, message } => vec![
            condition("Ready", false, reason, message.clone(), generation),
            condition("Progressing", false, reason, "not applied: see Degraded".into(), generation),
            condition("Degraded", true, reason, message.clone(), generation),
        ],
    }
}

/// Writes the status; a condition keeps its `lastTransitionTime` while its status stays.
pub async fn write(client: &kube::Client, zuul: &Zuul, outcome: &Outcome) -> Result<(), kube::Error> {
    let generation = zuul.metadata.generation.unwrap_or(0);
    let previous: &[Condition] = zuul.status.as_ref().map_or(&[], |s| s.conditions.as_slice());
    let now = k8s_openapi::jiff::Timestamp::from_second(k8s_openapi::jiff::Timestamp::now().as_second())
        .unwrap_or_else(|_| k8s_openapi::jiff::Timestamp::now());
    let conditions: Vec<Value> = conditions(outcome, generation)
        .into_iter()
        .map(|(type_, status, reason, message, generation)| {
            let since = previous
                .iter()
                .find(|c| c.type_ == type_ && c.status == status)
                .map_or_else(|| json!(now.to_string()), |c| json!(c.last_transition_time));
            json!({
                "type": type_, "status": status, "reason": reason, "message": message,
                "observedGeneration": generation, "lastTransitionTime": since,
            })
        })
        .collect();
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &zuul.namespace().unwrap_or_default(),
        &kube::core::ApiResource::erase::<Zuul>(&()),
    );
    let patch = json!({
        "apiVersion": "operator.zuul-ci.org/v1alpha2",
        "kind": "Zuul",
        "status": {"observedGeneration": generation, "conditions": conditions},
    });
    match api.patch_status(&zuul.name_any(), &PatchParams::apply(MANAGER).force(), &Patch::Apply(&patch)).await {
        // Deleted meanwhile: there is no status to write.
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        other => other.map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(kind: &str, generation: i64, replicas: i64, status: Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": format!("z-{}", kind.to_ascii_lowercase()), "generation": generation},
            "spec": {"replicas": replicas},
            "status": status,
        }))
        .expect("object")
    }

    #[test]
    fn ready_when_every_workload_runs_its_latest_spec_with_all_replicas_ready() {
        let done = [
            workload(
                "StatefulSet",
                2,
                2,
                json!({"observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 2, "currentRevision": "a", "updateRevision": "a"}),
            ),
            workload("Deployment", 1, 1, json!({"observedGeneration": 1, "readyReplicas": 1, "updatedReplicas": 1})),
        ];
        let rollouts = rollouts(&done);
        assert!(rollouts.iter().all(Rollout::done));
        let conditions = conditions(&Outcome::Applied(rollouts), 7);
        assert_eq!(
            conditions.iter().map(|c| (c.0.as_str(), c.1.as_str(), c.2.as_str(), c.4)).collect::<Vec<_>>(),
            [
                ("Ready", "True", "AllComponentsReady", 7),
                ("Progressing", "False", "RolloutComplete", 7),
                ("Degraded", "False", "AsExpected", 7)
            ]
        );
    }

    #[test]
    fn progressing_while_a_rollout_is_behind_naming_it() {
        let behind = [
            // Old generation observed, and a revision still rolling.
            workload("StatefulSet", 3, 2, json!({"observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 2})),
            workload("Deployment", 1, 2, json!({"observedGeneration": 1, "readyReplicas": 1, "updatedReplicas": 2})),
        ];
        let conditions = conditions(&Outcome::Applied(rollouts(&behind)), 1);
        assert_eq!((conditions[0].1.as_str(), conditions[0].2.as_str()), ("False", "ComponentsNotReady"));
        assert_eq!(conditions[0].3, "waiting for z-statefulset 2/2, z-deployment 1/2");
        assert_eq!(conditions[1].1, "True");
    }
}
