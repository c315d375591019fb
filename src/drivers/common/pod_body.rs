//! The pod of a pod label (reference §4.3), built once when the launcher starts: from the
//! label's keys (form A) or from the user's `spec` (form B).
//!
//! Differences from Nodepool 11, on purpose: `restartPolicy: Never` is set inside the pod spec,
//! where it takes effect (Nodepool puts it beside `spec`, where the API ignores it), and the
//! long-running shell exits on SIGTERM, so deleting the node does not wait out the 30 s grace
//! period that a shell running as PID 1 would otherwise cost, and a form-A pod gets no service
//! account token mounted.

use crate::drivers::spec::{Compute, PodTemplate};
use crate::k8s::typed;
use k8s_openapi::api::core::v1::{
    Container, EnvVar, LocalObjectReference, Pod, PodSpec, ResourceRequirements, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::ObjectMeta;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// The container command of a form-A pod: a shell that waits forever and exits on SIGTERM.
pub const IDLE_COMMAND: [&str; 3] = ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 30 & wait $!; done"];

/// Everything of a pod label's pod except what each node adds (name, namespace, labels).
#[derive(Debug, Clone, PartialEq)]
pub struct PodBody {
    spec: PodSpec,
    annotations: BTreeMap<String, String>,
}

impl PodBody {
    /// Form A: one container named after the label, running [`IDLE_COMMAND`].
    pub fn from_template(
        label: &str,
        template: &PodTemplate,
        annotations: BTreeMap<String, String>,
    ) -> Result<Self, String> {
        let security_context =
            template.privileged.map(|p| SecurityContext { privileged: Some(p), ..Default::default() });
        let container = Container {
            name: label.to_string(),
            image: template.image.clone(),
            image_pull_policy: Some(template.image_pull.clone()),
            command: Some(IDLE_COMMAND[..2].iter().map(|s| s.to_string()).collect()),
            args: Some(vec![IDLE_COMMAND[2].to_string()]),
            env: Some(template.env.iter().map(|(name, value)| env_var(name, value)).collect())
                .filter(|e: &Vec<_>| !e.is_empty()),
            resources: resources(template),
            volume_mounts: non_empty(typed_list::<VolumeMount>(&template.volume_mounts, "volume-mounts")?),
            security_context,
            ..Default::default()
        };
        let spec = PodSpec {
            containers: vec![container],
            node_selector: template.node_selector.as_ref().map(|m| {
                m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect()
            }),
            scheduler_name: template.scheduler_name.clone(),
            volumes: non_empty(typed_list::<Volume>(&template.volumes, "volumes")?),
            image_pull_secrets: non_empty(typed_list::<LocalObjectReference>(
                &template.image_pull_secrets,
                "image-pull-secrets",
            )?),
            restart_policy: Some("Never".into()),
            // The job gets no API token inside the pod (the node's credentials are for the
            // executor). It also spares the pod's admission a wait for the `default` service
            // account's token, which the API server answers with a 500 in a new namespace.
            automount_service_account_token: Some(false),
            ..Default::default()
        };
        Ok(Self { spec, annotations })
    }

    /// Form B: the user's pod spec, verbatim except that `restartPolicy` defaults to `Never`.
    pub fn from_user_spec(spec: &serde_json::Value, annotations: BTreeMap<String, String>) -> Result<Self, String> {
        let mut spec: PodSpec = typed(spec).map_err(|e| format!("spec: {e}"))?;
        if spec.containers.is_empty() {
            return Err("spec.containers: a pod needs at least one container".into());
        }
        spec.restart_policy.get_or_insert_with(|| "Never".into());
        Ok(Self { spec, annotations })
    }

    /// The container a node's user execs into: the first one (kubectl's default as well).
    pub fn container(&self) -> &str {
        self.spec.containers.first().map_or("", |c| c.name.as_str())
    }

    /// The pod of one node.
    pub fn pod(&self, name: &str, namespace: &str, labels: &BTreeMap<String, String>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(namespace.to_string()),
                labels: Some(labels.clone()),
                annotations: Some(self.annotations.clone()).filter(|a| !a.is_empty()),
                ..Default::default()
            },
            spec: Some(self.spec.clone()),
            status: None,
        }
    }

    pub fn spec(&self) -> &PodSpec {
        &self.spec
    }

    /// For kinds of node that change the label's pod (SSH nodes run sshd).
    pub fn spec_mut(&mut self) -> &mut PodSpec {
        &mut self.spec
    }
}

fn env_var(name: &str, value: &str) -> EnvVar {
    EnvVar { name: name.to_string(), value: Some(value.to_string()), ..Default::default() }
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    Some(items).filter(|i| !i.is_empty())
}

fn typed_list<T: DeserializeOwned>(items: &[serde_json::Value], key: &str) -> Result<Vec<T>, String> {
    items.iter().enumerate().map(|(i, item)| typed(item).map_err(|e| format!("{key}[{i}]: {e}"))).collect()
}

/// Requests and limits in Nodepool's units: cpu in cores, memory `<n>Mi`, storage `<n>M`, and
/// the GPU resource as `%.2f` (only when both `gpu` and `gpu-resource` are set).
fn resources(template: &PodTemplate) -> Option<ResourceRequirements> {
    let amounts = |compute: &Compute| {
        let mut out = BTreeMap::new();
        if let Some(cpu) = compute.cpu {
            out.insert("cpu".to_string(), Quantity(cpu.to_string()));
        }
        if let Some(memory) = compute.memory {
            out.insert("memory".to_string(), Quantity(format!("{memory}Mi")));
        }
        if let Some(storage) = compute.storage {
            out.insert("ephemeral-storage".to_string(), Quantity(format!("{storage}M")));
        }
        if let Some((amount, resource)) = &template.gpu {
            out.insert(resource.clone(), Quantity(format!("{amount:.2}")));
        }
        Some(out).filter(|o| !o.is_empty())
    };
    let requests = amounts(&template.requests);
    let limits = amounts(&template.limits);
    (requests.is_some() || limits.is_some()).then(|| ResourceRequirements { requests, limits, ..Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> PodTemplate {
        PodTemplate {
            image: Some("fedora:40".into()),
            image_pull: "IfNotPresent".into(),
            image_pull_secrets: Vec::new(),
            requests: Compute { cpu: Some(1), memory: Some(512), storage: Some(1024) },
            limits: Compute { cpu: Some(2), memory: Some(1024), storage: Some(2048) },
            gpu: Some((0.5, "nvidia.com/gpu".into())),
            env: vec![("A".into(), "b".into())],
            node_selector: None,
            privileged: None,
            scheduler_name: None,
            volumes: Vec::new(),
            volume_mounts: Vec::new(),
        }
    }

    /// The rendered example of reference §4.3 (verified against Nodepool 11.0.0).
    #[test]
    fn form_a_resources_match_nodepool() {
        let body = PodBody::from_template("pod-fedora", &template(), BTreeMap::new()).expect("body");
        let json = serde_json::to_value(body.pod("pod-fedora", "main-0000000001", &BTreeMap::new())).expect("json");
        let resources = &json["spec"]["containers"][0]["resources"];
        assert_eq!(
            resources["requests"],
            serde_json::json!({"cpu": "1", "memory": "512Mi", "ephemeral-storage": "1024M", "nvidia.com/gpu": "0.50"})
        );
        assert_eq!(
            resources["limits"],
            serde_json::json!({"cpu": "2", "memory": "1024Mi", "ephemeral-storage": "2048M", "nvidia.com/gpu": "0.50"})
        );
        assert_eq!(json["spec"]["restartPolicy"], "Never");
        assert_eq!(json["spec"]["containers"][0]["name"], "pod-fedora");
        assert_eq!(json["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(json["spec"]["containers"][0]["env"], serde_json::json!([{"name": "A", "value": "b"}]));
        assert!(json["spec"]["containers"][0].get("securityContext").is_none(), "nothing privileged unless asked");
        assert_eq!(json["spec"]["automountServiceAccountToken"], false, "no API token inside the pod");
    }

    #[test]
    fn form_a_without_resources_sends_none() {
        let mut t = template();
        t.requests = Compute::default();
        t.limits = Compute::default();
        t.gpu = None;
        let body = PodBody::from_template("p", &t, BTreeMap::new()).expect("body");
        assert!(body.spec().containers[0].resources.is_none());
    }

    #[test]
    fn form_b_keeps_the_users_spec_and_restart_policy() {
        let spec = serde_json::json!({"containers": [{"name": "c", "image": "x"}], "restartPolicy": "Always"});
        let body = PodBody::from_user_spec(&spec, BTreeMap::new()).expect("body");
        assert_eq!(body.spec().restart_policy.as_deref(), Some("Always"));
        assert_eq!(body.container(), "c");
        let spec = serde_json::json!({"containers": [{"name": "c", "image": "x"}]});
        let body = PodBody::from_user_spec(&spec, BTreeMap::new()).expect("body");
        assert_eq!(body.spec().restart_policy.as_deref(), Some("Never"));
    }

    #[test]
    fn form_b_errors_name_the_field() {
        let spec = serde_json::json!({"containers": [{"name": "c", "ports": "80"}]});
        let error = PodBody::from_user_spec(&spec, BTreeMap::new()).expect_err("invalid");
        assert!(error.contains("containers[0].ports"), "{error}");
        let error = PodBody::from_user_spec(&serde_json::json!({}), BTreeMap::new()).expect_err("invalid");
        assert!(error.contains("containers"), "{error}");
    }

    #[test]
    fn bad_volume_is_reported_with_its_index() {
        let mut t = template();
        t.volumes = vec![serde_json::json!({"name": "v", "emptyDir": {}}), serde_json::json!({"name": 3})];
        let error = PodBody::from_template("p", &t, BTreeMap::new()).expect_err("invalid");
        assert!(error.starts_with("volumes[1]"), "{error}");
    }
}
