//! Reads what a `Zuul` references (Secrets and ConfigMaps in its namespace) and what the operator
//! keeps between passes (TLS material, the keystore password). A reference that does not resolve
//! is an [`InputError`] naming the spec field and the object, for the Zuul's status.

use super::components::FileRef;
use super::crd::{ConfigReference, ConfigSource, Zuul};
use super::names::Names;
use super::tls::{Existing, Leaf, Pair};
use super::zuulconf::{SecretData, connection_secrets};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;

/// A reference in the spec that does not resolve, or an API failure while reading.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{field}: {kind} {name} does not exist")]
    Missing { field: String, kind: &'static str, name: String },
    #[error("{field}: {kind} {name} has no key {key}")]
    MissingKey { field: String, kind: &'static str, name: String, key: String },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("reading {kind} {name}: {source}")]
    Api {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl InputError {
    /// The condition reason: the spec is wrong (`InvalidSpec`) or the API failed (`ApiError`).
    pub fn reason(&self) -> &'static str {
        match self {
            InputError::Api { .. } => "ApiError",
            _ => "InvalidSpec",
        }
    }
}

/// Everything read for one pass.
#[derive(Debug, Clone, Default)]
pub struct Read {
    /// Referenced Secrets' data (connections, database, external ZooKeeper TLS).
    pub secrets: SecretData,
    pub dburi: String,
    pub tenant: Option<FileRef>,
    pub logging: Option<FileRef>,
    pub sshkey: Option<FileRef>,
    /// The nodepool.yaml: where it came from (for messages) and its text.
    pub nodepool: Option<(String, String)>,
    pub external: BTreeMap<String, FileRef>,
    /// The managed ZooKeeper's stored TLS material.
    pub tls: Existing,
    /// An external ZooKeeper: its hosts and client TLS (`ca.crt`, `tls.crt`, `tls.key`).
    pub external_zookeeper: Option<(String, BTreeMap<String, String>)>,
    pub keystore_password: Option<String>,
    /// The launcher shards in place now: (shard key, nodepool.yaml text).
    pub existing_shards: Vec<(String, String)>,
}

/// The launcher shards in place now (their Secrets): (shard key, nodepool.yaml text).
pub async fn existing_shards(client: &kube::Client, names: &Names) -> Result<Vec<(String, String)>, InputError> {
    shards_in(&Api::namespaced(client.clone(), &names.namespace), names).await
}

async fn shards_in(secrets: &Api<Secret>, names: &Names) -> Result<Vec<(String, String)>, InputError> {
    let launcher_shards = kube::api::ListParams::default().labels(&format!(
        "{},{}=launcher",
        names.selector(),
        super::names::COMPONENT_LABEL
    ));
    let shards = secrets.list(&launcher_shards).await.map_err(|source| InputError::Api {
        kind: "Secret",
        name: "launcher shards".into(),
        source,
    })?;
    Ok(shards
        .items
        .into_iter()
        .filter_map(|shard| {
            let key = shard.labels().get(super::names::PROVIDER_LABEL).cloned()?;
            Some((key, secret_text(&shard).remove("nodepool.yaml")?))
        })
        .collect())
}

struct Reader {
    secrets: Api<Secret>,
    config_maps: Api<ConfigMap>,
}

fn secret_text(secret: &Secret) -> BTreeMap<String, String> {
    let mut data: BTreeMap<String, String> =
        secret.data.iter().flatten().map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned())).collect();
    data.extend(secret.string_data.iter().flatten().map(|(k, v)| (k.clone(), v.clone())));
    data
}

impl Reader {
    async fn secret(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, InputError> {
        let found = self.secrets.get_opt(name).await.map_err(|source| InputError::Api {
            kind: "Secret",
            name: name.to_string(),
            source,
        })?;
        Ok(found.as_ref().map(secret_text))
    }

    async fn config_map(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, InputError> {
        let found = self.config_maps.get_opt(name).await.map_err(|source| InputError::Api {
            kind: "ConfigMap",
            name: name.to_string(),
            source,
        })?;
        Ok(found.map(|cm| cm.data.unwrap_or_default()))
    }

    async fn required_secret(&self, field: &str, name: &str) -> Result<BTreeMap<String, String>, InputError> {
        self.secret(name).await?.ok_or_else(|| InputError::Missing {
            field: field.to_string(),
            kind: "Secret",
            name: name.to_string(),
        })
    }

    /// A file from `{secret: true|false, name}` key `key`.
    async fn file(&self, field: &str, secret: bool, name: &str, key: &str) -> Result<FileRef, InputError> {
        let kind = if secret { "Secret" } else { "ConfigMap" };
        let data = if secret { self.secret(name).await? } else { self.config_map(name).await? };
        let data =
            data.ok_or_else(|| InputError::Missing { field: field.to_string(), kind, name: name.to_string() })?;
        let content = data.get(key).cloned().ok_or_else(|| InputError::MissingKey {
            field: field.to_string(),
            kind,
            name: name.to_string(),
            key: key.to_string(),
        })?;
        Ok(FileRef { secret, name: name.to_string(), key: key.to_string(), content })
    }

    async fn config_source(
        &self,
        field: &str,
        value: Option<&serde_json::Value>,
        default_key: &str,
    ) -> Result<Option<FileRef>, InputError> {
        let Some(value) = value else { return Ok(None) };
        let source = ConfigSource::from_value(value)
            .map_err(|message| InputError::Invalid { field: field.to_string(), message })?;
        let file = match source {
            ConfigSource::ConfigMapName(name) => self.file(field, false, &name, default_key).await?,
            ConfigSource::Reference(ConfigReference { secret_name: Some(name), key, .. }) => {
                self.file(field, true, &name, key.as_deref().unwrap_or(default_key)).await?
            }
            ConfigSource::Reference(ConfigReference { config_map_name: Some(name), key, .. }) => {
                self.file(field, false, &name, key.as_deref().unwrap_or(default_key)).await?
            }
            ConfigSource::Reference(_) => unreachable!("from_value checks that one name is set"),
        };
        Ok(Some(file))
    }
}

fn pair(data: &BTreeMap<String, String>, cert: &str, key: &str) -> Option<Pair> {
    Some(Pair { cert: data.get(cert)?.clone(), key: data.get(key)?.clone() })
}

fn leaf(data: &BTreeMap<String, String>) -> Option<Leaf> {
    Some(Leaf {
        pair: pair(data, "tls.crt", "tls.key")?,
        ca_cert: data.get("ca.crt")?.clone(),
        names: data.get("names").cloned().unwrap_or_default(),
    })
}

/// Reads everything `zuul` references, and the operator's own stored material.
pub async fn read(client: &kube::Client, zuul: &Zuul, names: &Names) -> Result<Read, InputError> {
    let reader = Reader {
        secrets: Api::namespaced(client.clone(), &names.namespace),
        config_maps: Api::namespaced(client.clone(), &names.namespace),
    };
    let spec = &zuul.spec;
    let mut read = Read::default();

    for (index, pull_secret) in spec.image_pull_secrets.iter().flatten().enumerate() {
        if let super::crd::PullSecret::Invalid(value) = pull_secret {
            return Err(InputError::Invalid {
                field: format!("spec.imagePullSecrets[{index}]"),
                message: format!("expected a Secret name or {{name: <Secret name>}}, got {value}"),
            });
        }
    }

    for name in connection_secrets(spec) {
        if let Some(data) = reader.secret(&name).await? {
            read.secrets.insert(name, data);
        }
    }

    // Without a secretName the database is managed (super::database) and the controller sets
    // the dburi.
    let database = spec.database.as_ref();
    if let Some(db_secret) = database.and_then(|d| d.secret_name.as_deref()) {
        let db_key = database.and_then(|d| d.key.as_deref()).unwrap_or("dburi");
        read.dburi = reader.file("spec.database", true, db_secret, db_key).await?.content;
    }

    read.tenant = reader
        .config_source("spec.scheduler.config", spec.scheduler.as_ref().and_then(|s| s.config.as_ref()), "main.yaml")
        .await?;
    if let Some(launcher) = reader
        .config_source("spec.launcher.config", spec.launcher.as_ref().and_then(|l| l.config.as_ref()), "nodepool.yaml")
        .await?
    {
        let kind = if launcher.secret { "Secret" } else { "ConfigMap" };
        read.nodepool = Some((format!("{kind} {} key {}", launcher.name, launcher.key), launcher.content));
    }
    if let Some(logging) = spec.logging.as_ref()
        && let Some(name) = logging.config_map_name.as_deref()
    {
        let key = logging.key.as_deref().unwrap_or("logging.conf");
        read.logging = Some(reader.file("spec.logging.configMapName", false, name, key).await?);
    }
    if let Some(sshkey) = spec.executor.as_ref().and_then(|e| e.sshkey.as_ref()) {
        read.sshkey = Some(reader.file("spec.executor.sshkey", true, &sshkey.secret_name, "sshkey").await?);
    }
    for (name, reference) in spec.external_config.iter().flatten() {
        let field = format!("spec.externalConfig.{name}.secretName");
        let data = reader.required_secret(&field, &reference.secret_name).await?;
        let content = data.iter().map(|(k, v)| format!("{k}\0{v}\0")).collect();
        read.external.insert(
            name.clone(),
            FileRef { secret: true, name: reference.secret_name.clone(), key: String::new(), content },
        );
    }

    // A job volume from a ConfigMap or Secret that does not exist keeps the executors from
    // starting (ContainerCreating) and says so nowhere the deployer looks: named here instead.
    for (index, job_volume) in spec.job_volumes.iter().flatten().enumerate() {
        let volume = &job_volume.volume;
        let field = |source: &str| format!("spec.jobVolumes[{index}].volume.{source}");
        if let Some(source) = volume.config_map.as_ref().filter(|c| c.optional != Some(true))
            && reader.config_map(&source.name).await?.is_none()
        {
            return Err(InputError::Missing {
                field: field("configMap"),
                kind: "ConfigMap",
                name: source.name.clone(),
            });
        }
        if let Some(name) =
            volume.secret.as_ref().filter(|s| s.optional != Some(true)).and_then(|s| s.secret_name.clone())
            && reader.secret(&name).await?.is_none()
        {
            return Err(InputError::Missing { field: field("secret"), kind: "Secret", name });
        }
    }

    let zookeeper = spec.zookeeper.as_ref();
    if let Some(hosts) = zookeeper.and_then(|z| z.hosts.clone()) {
        let Some(name) = zookeeper.and_then(|z| z.secret_name.as_deref()) else {
            return Err(InputError::Invalid {
                field: "spec.zookeeper.secretName".into(),
                message: "required with spec.zookeeper.hosts: ZooKeeper is TLS-only".into(),
            });
        };
        let data = reader.required_secret("spec.zookeeper.secretName", name).await?;
        for key in ["ca.crt", "tls.crt", "tls.key"] {
            if !data.contains_key(key) {
                return Err(InputError::MissingKey {
                    field: "spec.zookeeper.secretName".into(),
                    kind: "Secret",
                    name: name.to_string(),
                    key: key.to_string(),
                });
            }
        }
        read.external_zookeeper = Some((hosts, data));
    } else {
        let ca = reader.secret(&names.child("zookeeper-ca")).await?;
        let server = reader.secret(&names.child("zookeeper-server-tls")).await?;
        let client = reader.secret(&names.child("zookeeper-client-tls")).await?;
        read.tls = Existing {
            ca: ca.as_ref().and_then(|d| pair(d, "ca.crt", "ca.key")),
            server: server.as_ref().and_then(leaf),
            client: client.as_ref().and_then(leaf),
        };
    }
    read.existing_shards = shards_in(&reader.secrets, names).await?;
    read.keystore_password =
        reader.secret(&names.child("keystore")).await?.and_then(|data| data.get("password").cloned());
    Ok(read)
}
