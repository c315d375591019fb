//! `zuul.conf`, rendered by the operator from the `Zuul` spec and the Secrets it references.
//!
//! A connection field that is `{secretName, key}` is resolved: file-type fields (keys, certificates)
//! become a path under `/etc/zuul/connections/<connection>/` and the Secret key is mounted there
//! (only into the pods that load connections); any other field gets the secret's value inline
//! (zuul.conf is itself a Secret). `secretName` directly in a connection merges every key of that
//! Secret into the section (upstream's form).

use super::crd::{JobVolumeAccess, JobVolumeContext, LauncherSpec, ZuulSpec};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Where the ZooKeeper client certificate is mounted in every pod.
pub const ZK_TLS_DIR: &str = "/tls/client";
/// Where zuul.conf is mounted.
pub const CONF_DIR: &str = "/etc/zuul";
/// Where the tenant config is mounted.
pub const TENANT_DIR: &str = "/etc/zuul/tenant";
/// Where a logging config is mounted.
pub const LOGGING_DIR: &str = "/etc/zuul/logging";
/// Where connection files are mounted (`<dir>/<connection>/<field>`).
pub const CONNECTIONS_DIR: &str = "/etc/zuul/connections";
/// Where the executor's SSH key is mounted.
pub const SSHKEY_DIR: &str = "/etc/zuul/sshkey";
/// Every component serves `/health/live`, `/health/ready` and `/metrics` here.
pub const PROMETHEUS_PORT: i32 = 9091;
/// zuul-web's HTTP port.
pub const WEB_PORT: i32 = 9000;
/// zuul-fingergw's finger port.
pub const FINGER_PORT: i32 = 9079;

/// Connection fields whose value is a file path in zuul.conf (so a Secret key is mounted).
const FILE_FIELDS: &[&str] =
    &["sshkey", "app_key", "ca_certs", "certfile", "keyfile", "tls_ca", "tls_cert", "tls_key", "ssh_key"];

/// The Secrets a spec references, as read: name → key → value.
pub type SecretData = BTreeMap<String, BTreeMap<String, String>>;

/// A spec that cannot be rendered, naming the field and the Secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfError {
    #[error("{field}: Secret {secret} does not exist")]
    MissingSecret { field: String, secret: String },
    #[error("{field}: Secret {secret} has no key {key}")]
    MissingKey { field: String, secret: String, key: String },
    #[error("{field}: an object must be {{secretName, key}}")]
    NotASecretRef { field: String },
}

/// A Secret key mounted as a file for a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionFile {
    pub secret: String,
    pub key: String,
    /// Absolute path in the pod.
    pub path: String,
}

/// What [`render`] needs besides the spec.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// `host:port,…[/chroot]`.
    pub zookeeper_hosts: String,
    pub dburi: String,
    pub keystore_password: String,
    /// The Secrets the spec references.
    pub secrets: &'a SecretData,
    /// The key of the logging config, when a logging ConfigMap is set.
    pub logging_key: Option<String>,
    /// Whether a tenant config is mounted.
    pub tenant_config: bool,
}

/// zuul.conf and the connection files it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub files: Vec<ConnectionFile>,
    /// Each section's text by name (`zookeeper`, `connection gerrit`, ...), for per-component
    /// config hashes.
    pub sections: BTreeMap<String, String>,
}

impl Rendered {
    /// The text of the sections a component reads: those named, and every connection when
    /// `connections`.
    pub fn sections_text(&self, names: &[&str], connections: bool) -> String {
        self.sections
            .iter()
            .filter(|(name, _)| names.contains(&name.as_str()) || (connections && name.starts_with("connection ")))
            .map(|(_, text)| text.as_str())
            .collect()
    }
}

/// Secret references in a spec's connections: every `(secretName)` the spec names there.
pub fn connection_secrets(spec: &ZuulSpec) -> Vec<String> {
    let mut names = Vec::new();
    for section in spec.connections.iter().flat_map(|c| c.values()) {
        for (field, value) in section {
            match (field.as_str(), value) {
                ("secretName", Value::String(name)) => names.push(name.clone()),
                (_, Value::Object(map)) => {
                    if let Some(Value::String(name)) = map.get("secretName") {
                        names.push(name.clone());
                    }
                }
                _ => {}
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn secret_value<'s>(secrets: &'s SecretData, field: &str, secret: &str, key: &str) -> Result<&'s str, ConfError> {
    let data = secrets
        .get(secret)
        .ok_or_else(|| ConfError::MissingSecret { field: field.to_string(), secret: secret.to_string() })?;
    data.get(key).map(String::as_str).ok_or_else(|| ConfError::MissingKey {
        field: field.to_string(),
        secret: secret.to_string(),
        key: key.to_string(),
    })
}

/// One `[connection <name>]` section's lines, and the files it needs.
fn connection(
    name: &str,
    section: &serde_json::Map<String, Value>,
    secrets: &SecretData,
    files: &mut Vec<ConnectionFile>,
) -> Result<BTreeMap<String, String>, ConfError> {
    let mut lines = BTreeMap::new();
    if let Some(Value::String(secret)) = section.get("secretName") {
        let field = format!("spec.connections.{name}.secretName");
        let data = secrets.get(secret).ok_or_else(|| ConfError::MissingSecret { field, secret: secret.clone() })?;
        lines.extend(data.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for (key, value) in section {
        if key == "secretName" {
            continue;
        }
        let field = format!("spec.connections.{name}.{key}");
        let text = match value {
            Value::Object(reference) => {
                let Some(Value::String(secret)) = reference.get("secretName") else {
                    return Err(ConfError::NotASecretRef { field });
                };
                let secret_key = reference.get("key").and_then(Value::as_str).unwrap_or(key);
                let content = secret_value(secrets, &field, secret, secret_key)?;
                if FILE_FIELDS.contains(&key.as_str()) {
                    let path = format!("{CONNECTIONS_DIR}/{name}/{key}");
                    files.push(ConnectionFile {
                        secret: secret.clone(),
                        key: secret_key.to_string(),
                        path: path.clone(),
                    });
                    path
                } else {
                    content.to_string()
                }
            }
            Value::Array(_) => return Err(ConfError::NotASecretRef { field }),
            other => scalar(other),
        };
        lines.insert(key.clone(), text);
    }
    Ok(lines)
}

fn jobvolume_paths(spec: &ZuulSpec) -> BTreeMap<String, String> {
    let mut paths: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for volume in spec.job_volumes.iter().flatten() {
        let context = match volume.context {
            JobVolumeContext::Trusted => "trusted",
            JobVolumeContext::Untrusted => "untrusted",
        };
        let access = match volume.access {
            JobVolumeAccess::Ro => "ro",
            JobVolumeAccess::Rw => "rw",
        };
        paths.entry(format!("{context}_{access}_paths")).or_default().push(&volume.path);
    }
    paths.into_iter().map(|(k, v)| (k, v.join(":"))).collect()
}

/// Renders zuul.conf.
pub fn render(spec: &ZuulSpec, inputs: &Inputs<'_>) -> Result<Rendered, ConfError> {
    let mut sections: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let prometheus = || ("prometheus_port".to_string(), PROMETHEUS_PORT.to_string());
    let log_config = inputs.logging_key.as_ref().map(|key| ("log_config".to_string(), format!("{LOGGING_DIR}/{key}")));
    let component = |pairs: Vec<(&str, String)>, options: Option<&BTreeMap<String, String>>| {
        let mut map: BTreeMap<String, String> = pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        map.extend([prometheus()]);
        map.extend(log_config.clone());
        map.extend(options.into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())));
        map
    };

    sections.push((
        "zookeeper".into(),
        BTreeMap::from([
            ("hosts".into(), inputs.zookeeper_hosts.clone()),
            ("tls_ca".into(), format!("{ZK_TLS_DIR}/ca.crt")),
            ("tls_cert".into(), format!("{ZK_TLS_DIR}/tls.crt")),
            ("tls_key".into(), format!("{ZK_TLS_DIR}/tls.key")),
        ]),
    ));
    sections.push(("keystore".into(), BTreeMap::from([("password".into(), inputs.keystore_password.clone())])));
    sections.push(("database".into(), BTreeMap::from([("dburi".into(), inputs.dburi.clone())])));

    let scheduler = spec.scheduler.as_ref();
    let mut pairs = Vec::new();
    if inputs.tenant_config {
        pairs.push(("tenant_config", format!("{TENANT_DIR}/main.yaml")));
    }
    sections.push(("scheduler".into(), component(pairs, scheduler.and_then(|s| s.component.options.as_ref()))));

    let web = spec.web.as_ref();
    let mut pairs = vec![("listen_address", "0.0.0.0".to_string()), ("port", WEB_PORT.to_string())];
    if let Some(url) = web.and_then(|w| w.status_url.clone()) {
        pairs.push(("status_url", url));
    }
    sections.push(("web".into(), component(pairs, web.and_then(|w| w.component.options.as_ref()))));

    let pairs = vec![("listen_address", "0.0.0.0".to_string()), ("port", FINGER_PORT.to_string())];
    let fingergw = spec.fingergw.as_ref().and_then(|f| f.component.options.as_ref());
    sections.push(("fingergw".into(), component(pairs, fingergw)));

    let executor = spec.executor.as_ref();
    let mut pairs = vec![("manage_ansible", "false".to_string())];
    if executor.and_then(|e| e.sshkey.as_ref()).is_some() {
        pairs.push(("private_key_file", format!("{SSHKEY_DIR}/sshkey")));
    }
    let mut section = component(pairs, None);
    section.extend(jobvolume_paths(spec));
    section.extend(executor.and_then(|e| e.component.options.clone()).unwrap_or_default());
    sections.push(("executor".into(), section));

    let merger = spec.merger.as_ref();
    let mut pairs = Vec::new();
    if let Some(email) = merger.and_then(|m| m.git_user_email.clone()) {
        pairs.push(("git_user_email", email));
    }
    if let Some(name) = merger.and_then(|m| m.git_user_name.clone()) {
        pairs.push(("git_user_name", name));
    }
    sections.push(("merger".into(), component(pairs, merger.and_then(|m| m.component.options.as_ref()))));

    let launcher = spec.launcher.as_ref();
    if LauncherSpec::runs_zuul_launcher(launcher) {
        let options = launcher.and_then(|l| l.zuul_launcher.as_ref()).and_then(|z| z.options.as_ref());
        sections.push(("launcher".into(), component(Vec::new(), options)));
    }

    let mut files = Vec::new();
    for (name, section) in spec.connections.iter().flatten() {
        let lines = connection(name, section, inputs.secrets, &mut files)?;
        sections.push((format!("connection {name}"), lines));
    }

    let mut text = String::from("# Rendered by kubepool-operator from the Zuul resource; edits are overwritten.\n");
    let mut texts = BTreeMap::new();
    for (name, lines) in sections {
        let mut section = format!("\n[{name}]\n");
        for (key, value) in lines {
            // Zuul reads zuul.conf with configparser's interpolation: a literal `%` is `%%`. A
            // value's further lines are continuation lines, indented.
            let _ = writeln!(section, "{key}={}", value.replace('%', "%%").replace('\n', "\n  "));
        }
        text.push_str(&section);
        texts.insert(name, section);
    }
    Ok(Rendered { text, files, sections: texts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: Value) -> ZuulSpec {
        serde_json::from_value(value).expect("spec")
    }

    fn inputs(secrets: &SecretData) -> Inputs<'_> {
        Inputs {
            zookeeper_hosts: "zk:2281".into(),
            dburi: "postgresql://zuul:pw@db/zuul".into(),
            keystore_password: "ks".into(),
            secrets,
            logging_key: None,
            tenant_config: true,
        }
    }

    #[test]
    fn secrets_are_resolved_inline_or_as_mounted_files() {
        let spec = spec(json!({
            "connections": {"gerrit": {
                "driver": "gerrit", "port": 29418,
                "sshkey": {"secretName": "g"},
                "password": {"secretName": "g", "key": "http_password"}
            }},
            "jobVolumes": [
                {"context": "trusted", "access": "ro", "path": "/a", "volume": {"name": "a", "emptyDir": {}}},
                {"context": "trusted", "access": "ro", "path": "/b", "volume": {"name": "b", "emptyDir": {}}}
            ]
        }));
        let secrets = SecretData::from([(
            "g".to_string(),
            BTreeMap::from([
                ("sshkey".to_string(), "KEY".to_string()),
                ("http_password".to_string(), "pw".to_string()),
            ]),
        )]);
        let rendered = render(&spec, &inputs(&secrets)).expect("rendered");
        assert!(rendered.text.contains("[connection gerrit]\ndriver=gerrit\npassword=pw\nport=29418\nsshkey=/etc/zuul/connections/gerrit/sshkey\n"), "{}", rendered.text);
        assert!(rendered.text.contains("trusted_ro_paths=/a:/b\n"));
        assert!(!rendered.text.contains("KEY"));
        assert_eq!(
            rendered.files,
            [ConnectionFile {
                secret: "g".into(),
                key: "sshkey".into(),
                path: "/etc/zuul/connections/gerrit/sshkey".into()
            }]
        );
    }

    #[test]
    fn a_missing_secret_or_key_is_named_with_its_field() {
        let spec = spec(json!({"connections": {"gh": {"app_key": {"secretName": "nope"}}}}));
        let secrets = SecretData::new();
        assert_eq!(
            render(&spec, &inputs(&secrets)).map(|_| ()).expect_err("missing secret").to_string(),
            "spec.connections.gh.app_key: Secret nope does not exist"
        );
    }
}
