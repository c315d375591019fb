//! The pod of a pod label, as the label's keys describe it (Nodepool's form A). Fragments the
//! Kubernetes API takes verbatim (volumes, mounts, pull secrets, node selector) stay JSON here;
//! the pod body checks their shape when the driver is built.

#[derive(Debug, Clone, PartialEq)]
pub struct PodTemplate {
    pub image: Option<String>,
    /// `imagePullPolicy` (default `IfNotPresent`).
    pub image_pull: String,
    /// openshift/openshiftpods `spec.imagePullSecrets`, verbatim.
    pub image_pull_secrets: Vec<serde_json::Value>,
    pub requests: Compute,
    pub limits: Compute,
    /// GPU amount and resource name; only used when both are set.
    pub gpu: Option<(f64, String)>,
    pub env: Vec<(String, String)>,
    pub node_selector: Option<serde_json::Map<String, serde_json::Value>>,
    pub privileged: Option<bool>,
    pub scheduler_name: Option<String>,
    pub volumes: Vec<serde_json::Value>,
    pub volume_mounts: Vec<serde_json::Value>,
}

impl PodTemplate {
    /// A label with only `image` and `image-pull` set; every other key at Nodepool's default.
    pub fn with_image(image: impl Into<String>, image_pull: impl Into<String>) -> Self {
        PodTemplate {
            image: Some(image.into()),
            image_pull: image_pull.into(),
            image_pull_secrets: Vec::new(),
            requests: Compute::default(),
            limits: Compute::default(),
            gpu: None,
            env: Vec::new(),
            node_selector: None,
            privileged: None,
            scheduler_name: None,
            volumes: Vec::new(),
            volume_mounts: Vec::new(),
        }
    }
}

/// cpu (cores), memory (MiB), ephemeral storage (MB); `None`: not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Compute {
    pub cpu: Option<i64>,
    pub memory: Option<i64>,
    pub storage: Option<i64>,
}
