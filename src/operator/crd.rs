//! The `Zuul` custom resource (`operator.zuul-ci.org/v1alpha2`, namespaced), as Rust types.
//!
//! Wire-compatible with the upstream zuul-operator's `v1alpha2` spec (Python kopf,
//! `deploy/crds/zuul-ci_v1alpha2_zuul_crd.yaml`): every field it declares is accepted here with
//! the same name, type and default. The design goal's fields (per-service `image`, `logging`,
//! `database.key`, secret references in `connections`, any volume in `jobVolumes`) are
//! first-class. The schema the API server validates with is generated from these types
//! (`kubepool operator crd`), so the types and the schema cannot drift apart.
//!
//! Only Kubernetes 1.20 schema features are used: no CEL `x-kubernetes-validations` (1.25+) and
//! no selectable fields (1.30+).

use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The desired Zuul: its components, external services, configuration references and options.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "operator.zuul-ci.org",
    version = "v1alpha2",
    kind = "Zuul",
    plural = "zuuls",
    singular = "zuul",
    namespaced,
    status = "ZuulStatus",
    shortname = "zuul",
    category = "zuul",
    doc = "A Zuul: its components, their configuration and kubepool launchers, kept running by the operator.",
    printcolumn = r#"{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name": "Reason", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ZuulSpec {
    /// Registry and organisation of the default images (upstream; default `quay.io/zuul-ci`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_prefix: Option<String>,
    /// Pull secrets for every pod: Secret names, or `{name: ...}` objects (both forms are
    /// found in upstream CRs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "pull_secrets_schema")]
    pub image_pull_secrets: Option<Vec<PullSecret>>,
    /// Tag of the default Zuul images (upstream; default `latest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zuul_image_version: Option<String>,
    /// Tag of the zuul-preview image (upstream; accepted, preview is not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zuul_preview_image_version: Option<String>,
    /// Tag of the zuul-registry image (upstream; accepted, the registry is not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zuul_registry_image_version: Option<String>,
    /// Tag of the launcher image (upstream's nodepool image; here the kubepool image's tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodepool_image_version: Option<String>,
    /// The SQL database. Omitted: a managed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseSpec>,
    /// ZooKeeper. Omitted (or without `hosts`): a managed, TLS-only ZooKeeper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zookeeper: Option<ZookeeperSpec>,
    /// Environment variables for the scheduler, web and launcher containers (upstream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// zuul-scheduler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<SchedulerSpec>,
    /// The launchers: kubepool, one per provider of `config` (sharded, so no count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launcher: Option<LauncherSpec>,
    /// Nodepool image builders (design goal). Accepted; kubepool's drivers build no images,
    /// so a non-zero count is reported in the status and nothing runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<BuilderSpec>,
    /// zuul-executor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<ExecutorSpec>,
    /// zuul-merger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merger: Option<MergerSpec>,
    /// zuul-web.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebSpec>,
    /// zuul-fingergw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingergw: Option<FingergwSpec>,
    /// zuul-preview (upstream; accepted, not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<PreviewSpec>,
    /// zuul-registry (upstream; accepted, not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistrySpec>,
    /// zuul.conf `[connection <name>]` sections, passed through. A field holding a secret takes
    /// `{secretName, key}` (`key` defaults to the field name); `secretName` directly in a
    /// connection merges every key of that Secret in (upstream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "connections_schema")]
    pub connections: Option<BTreeMap<String, serde_json::Map<String, serde_json::Value>>>,
    /// External files (clouds.yaml, kube/config, boto): each Secret is mounted at
    /// `/etc/<name>` in the launchers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_config: Option<BTreeMap<String, SecretRef>>,
    /// Volumes mounted into the executors and exposed to jobs through bubblewrap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_volumes: Option<Vec<JobVolume>>,
    /// Logging of every component: INFO (Zuul's default), DEBUG, or a logging config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<LoggingSpec>,
}

/// A pull secret: a bare Secret name or `{name: ...}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum PullSecret {
    /// `- my-secret`
    Name(String),
    /// `- name: my-secret`
    Object {
        /// The Secret's name.
        name: String,
    },
    /// Anything else the schema lets through (its items are free-form): kept, so one bad item
    /// does not make the whole Zuul unreadable, and reported in the status.
    Invalid(serde_json::Value),
}

impl PullSecret {
    /// The Secret's name, whichever form was written (None for an invalid item).
    pub fn name(&self) -> Option<&str> {
        match self {
            PullSecret::Name(name) | PullSecret::Object { name } => Some(name),
            PullSecret::Invalid(_) => None,
        }
    }
}

/// A reference to one key of a Secret (or, for `SecretRef`, the whole Secret).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    /// Name of a Secret in the Zuul's namespace.
    #[schemars(length(min = 1))]
    pub secret_name: String,
}

/// The SQL database: a Secret holding the SQLAlchemy URI.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSpec {
    /// Secret holding the dburi; omitted: the operator manages a database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// Key of the dburi in that Secret (default `dburi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Managed database on fewer than three nodes (upstream): a one-node
    /// PerconaXtraDBCluster with one HAProxy, without TLS (the Percona operator's `unsafeFlags`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_unsafe_config: Option<bool>,
    /// Managed database: the Percona XtraDB Cluster image (`spec.pxc.image` of the
    /// PerconaXtraDBCluster); the Job that creates the `zuul` database and user runs its `mysql`
    /// client. Default `percona/percona-xtradb-cluster:8.4.7-7.1` (Percona operator 1.19.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Managed database: volume size of each database server (default `6G`, upstream's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_size: Option<String>,
}

/// ZooKeeper: external (`hosts` and a TLS Secret with `ca.crt`, `tls.crt`, `tls.key`), or managed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZookeeperSpec {
    /// `host:port,host:port[/chroot]`; omitted: the operator runs ZooKeeper itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<String>,
    /// TLS Secret (`ca.crt`, `tls.crt`, `tls.key`) for an external ZooKeeper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// Replicas of a managed ZooKeeper (default 3; 1 runs standalone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub replicas: Option<i32>,
    /// Volume size of each managed ZooKeeper server (default `1Gi`). A change replaces the
    /// StatefulSet (its volume claim templates are immutable); the old claims stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_size: Option<String>,
    /// Storage class of those volumes (default: the cluster's default class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Image of a managed ZooKeeper (default `docker.io/library/zookeeper:3.8.4`); it must run
    /// `zkServer.sh` from its PATH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// Where a configuration file comes from: a ConfigMap name (the design goal's `config: name`), or
/// `{secretName}` (upstream) / `{configMapName}`, with an optional `key`.
///
/// The API server cannot check a string-or-object field (a structural schema has one type per
/// field), so the operator validates it and names the field in the Zuul's status.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum ConfigSource {
    /// `config: my-configmap`
    ConfigMapName(String),
    /// `config: {secretName: ..., key: ...}` or `config: {configMapName: ..., key: ...}`
    Reference(ConfigReference),
}

impl ConfigSource {
    /// Reads a `config` field (kept as JSON in the spec, so that a malformed value is reported
    /// in the Zuul's status instead of failing the whole object's decoding).
    pub fn from_value(value: &serde_json::Value) -> Result<Self, String> {
        let source: ConfigSource = serde_json::from_value(value.clone()).map_err(|_| {
            format!("expected a ConfigMap name, {{secretName, key}} or {{configMapName, key}}, got {value}")
        })?;
        match &source {
            ConfigSource::Reference(r) if r.secret_name.is_some() == r.config_map_name.is_some() => {
                Err("exactly one of secretName and configMapName is needed".to_string())
            }
            _ => Ok(source),
        }
    }
}

/// The object form of [`ConfigSource`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigReference {
    /// A Secret holding the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// A ConfigMap holding the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_name: Option<String>,
    /// The key of the file (default: the component's file name, e.g. `main.yaml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Settings every Zuul component has.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentOptions {
    /// The component's image (default: `<imagePrefix>/zuul-<component>:<zuulImageVersion>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Container resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Extra options of the component's zuul.conf section, as strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, String>>,
}

/// zuul-scheduler.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulerSpec {
    /// Schedulers (Zuul runs several since 5.x; upstream ignores this).
    #[serde(default = "one", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub count: Option<i32>,
    /// The tenant configuration (main.yaml).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "config_source_schema")]
    pub config: Option<serde_json::Value>,
    /// Image, resources, options.
    #[serde(flatten)]
    pub component: ComponentOptions,
}

/// The launchers: one kubepool launcher per provider of the nodepool.yaml.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LauncherSpec {
    /// The nodepool.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "config_source_schema")]
    pub config: Option<serde_json::Value>,
    /// The kubepool image (default: the published kubepool image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Container resources of each launcher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Which launchers run: `kubepool` (default: one kubepool launcher per provider of
    /// `config`), `zuul-launcher` (Zuul's own launcher, for providers defined in Zuul's config;
    /// no kubepool launcher) or `both`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub launcher_type: Option<LauncherType>,
    /// Zuul's `zuul-launcher` (with `type` `zuul-launcher` or `both`): image (default
    /// `<imagePrefix>/zuul-launcher:<zuulImageVersion>`), resources, `[launcher]` options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zuul_launcher: Option<ComponentOptions>,
}

/// Which launchers a Zuul runs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LauncherType {
    /// kubepool launchers for the providers of `launcher.config`.
    #[default]
    Kubepool,
    /// Zuul's own zuul-launcher only.
    ZuulLauncher,
    /// Both.
    Both,
}

impl LauncherSpec {
    /// Whether kubepool launchers run.
    pub fn runs_kubepool(spec: Option<&LauncherSpec>) -> bool {
        spec.and_then(|l| l.launcher_type).unwrap_or_default() != LauncherType::ZuulLauncher
    }

    /// Whether Zuul's zuul-launcher runs.
    pub fn runs_zuul_launcher(spec: Option<&LauncherSpec>) -> bool {
        spec.and_then(|l| l.launcher_type).unwrap_or_default() != LauncherType::Kubepool
    }
}

/// Nodepool image builders (accepted for compatibility with the design goal; not run).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuilderSpec {
    /// Builders requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub count: Option<i32>,
    /// The builders' nodepool.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "config_source_schema")]
    pub config: Option<serde_json::Value>,
}

/// zuul-executor.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutorSpec {
    /// Executors.
    #[serde(default = "one", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub count: Option<i32>,
    /// The SSH private key executors log in to nodes with (Secret key `sshkey`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sshkey: Option<SecretRef>,
    /// Grace for running builds at shutdown (default 21600 s, as upstream).
    #[serde(default = "six_hours", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub termination_grace_period_seconds: Option<i64>,
    /// Upstream's `manage_ansible` (accepted; the image carries Ansible, so always false).
    #[serde(default, rename = "manage_ansible", skip_serializing_if = "Option::is_none")]
    pub manage_ansible: Option<bool>,
    /// Image, resources, options.
    #[serde(flatten)]
    pub component: ComponentOptions,
}

/// zuul-merger.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MergerSpec {
    /// Mergers (default 0: schedulers and executors merge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub count: Option<i32>,
    /// `[merger] git_user_email`.
    #[serde(default, rename = "git_user_email", skip_serializing_if = "Option::is_none")]
    pub git_user_email: Option<String>,
    /// `[merger] git_user_name`.
    #[serde(default, rename = "git_user_name", skip_serializing_if = "Option::is_none")]
    pub git_user_name: Option<String>,
    /// Image, resources, options.
    #[serde(flatten)]
    pub component: ComponentOptions,
}

/// zuul-web.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebSpec {
    /// zuul-web replicas.
    #[serde(default = "one", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub count: Option<i32>,
    /// `[web] status_url`.
    #[serde(default, rename = "status_url", skip_serializing_if = "Option::is_none")]
    pub status_url: Option<String>,
    /// Image, resources, options.
    #[serde(flatten)]
    pub component: ComponentOptions,
}

/// zuul-fingergw.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FingergwSpec {
    /// zuul-fingergw replicas.
    #[serde(default = "one", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub count: Option<i32>,
    /// Image, resources, options.
    #[serde(flatten)]
    pub component: ComponentOptions,
}

/// zuul-preview (upstream; accepted, not run).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreviewSpec {
    /// Replicas requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub count: Option<i32>,
}

/// zuul-registry (upstream; accepted, not run).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrySpec {
    /// Replicas requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub count: Option<i32>,
    /// Volume size (upstream default `80G`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_size: Option<String>,
    /// Storage class of the volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// TLS Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<SecretRef>,
    /// Registry configuration Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<SecretRef>,
}

/// Which jobs see a job volume.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobVolumeContext {
    /// Playbooks of trusted (config) projects.
    Trusted,
    /// Playbooks of untrusted projects.
    Untrusted,
}

/// How jobs see a job volume.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobVolumeAccess {
    /// Read-only (`*_ro_paths`).
    Ro,
    /// Read-write (`*_rw_paths`).
    Rw,
}

/// A volume mounted into the executors at `path` and bind-mounted into jobs' bubblewrap.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobVolume {
    /// trusted or untrusted.
    pub context: JobVolumeContext,
    /// ro or rw.
    pub access: JobVolumeAccess,
    /// Absolute path in the executor and in the job.
    #[schemars(regex(pattern = r"^/"))]
    pub path: String,
    /// Any Kubernetes volume (the full core/v1 Volume schema: nothing is pruned).
    pub volume: Volume,
}

/// Logging of every Zuul component.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggingSpec {
    /// DEBUG logs (`-d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug: Option<bool>,
    /// A ConfigMap with a Python logging config (key `logging.conf` unless `key` says
    /// otherwise); set as each section's `log_config`, and wins over `debug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_name: Option<String>,
    /// Key of the logging config in the ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// What the operator observed and did.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZuulStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Progressing` and `Degraded`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

#[allow(clippy::unnecessary_wraps)]
fn one() -> Option<i32> {
    Some(1)
}

#[allow(clippy::unnecessary_wraps)]
fn six_hours() -> Option<i64> {
    Some(21_600)
}

/// Any JSON value, kept as is (no `type`: the one structural escape hatch).
fn preserve_unknown(description: &str) -> schemars::Schema {
    schemars::json_schema!({
        "description": description,
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

fn pull_secrets_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "Pull secrets for every pod: Secret names, or {name: ...} objects.",
        "type": "array",
        "items": preserve_unknown("A Secret name, or {name: <Secret name>}."),
    })
}

fn config_source_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    preserve_unknown(
        "A ConfigMap name, or {secretName: ..., key: ...} / {configMapName: ..., key: ...}; \
         checked by the operator (reported in status.conditions).",
    )
}

fn connections_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "zuul.conf [connection <name>] sections, passed through; secret fields take {secretName, key}.",
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
        },
    })
}
