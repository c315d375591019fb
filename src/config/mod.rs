//! `nodepool.yaml` → typed configuration.
//!
//! This first version reads the keys the launcher needs to connect: `zookeeper-servers`,
//! `zookeeper-tls`, `zookeeper-timeout`, and each provider's `name`, `driver` and `context`.
//! The complete schema of the three drivers, with Nodepool's accept/reject decisions and
//! errors that name line, column and key path, is the config issue's work.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The parts of `nodepool.yaml` kubepool uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Config {
    #[serde(default)]
    pub zookeeper_servers: Vec<ZooKeeperServer>,
    pub zookeeper_tls: Option<ZooKeeperTls>,
    #[serde(default = "default_zookeeper_timeout")]
    pub zookeeper_timeout: f64,
    #[serde(default)]
    pub providers: Vec<Provider>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ZooKeeperServer {
    pub host: String,
    #[serde(default = "default_zookeeper_port")]
    pub port: u16,
    pub chroot: Option<String>,
}

/// Paths of the TLS files; the files themselves are read only when connecting.
#[derive(Debug, Clone, Deserialize)]
pub struct ZooKeeperTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Provider {
    pub name: String,
    #[serde(default = "default_driver")]
    pub driver: String,
    pub context: Option<String>,
}

fn default_zookeeper_timeout() -> f64 {
    10.0
}
fn default_zookeeper_port() -> u16 {
    2181
}
fn default_driver() -> String {
    "openstack".to_string()
}

/// The drivers kubepool serves; providers of other drivers are ignored.
pub const KUBEPOOL_DRIVERS: [&str; 3] = ["kubernetes", "openshift", "openshiftpods"];

impl Config {
    /// The providers kubepool serves (drivers `kubernetes`, `openshift`, `openshiftpods`).
    pub fn kubepool_providers(&self) -> impl Iterator<Item = &Provider> {
        self.providers.iter().filter(|p| KUBEPOOL_DRIVERS.contains(&p.driver.as_str()))
    }
}

/// Reads and parses `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    parse(path, &text)
}

/// Parses the text of a config file; `path` is used in error messages only.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    serde_yaml::from_str(text).map_err(|e| ConfigError::Invalid { path: path.to_path_buf(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_connection_keys_with_defaults() {
        let text = "zookeeper-servers:\n  - host: zk.example.com\nproviders:\n  - name: k8s\n    driver: kubernetes\n    context: admin\n  - name: cloud\n";
        let config = parse(Path::new("nodepool.yaml"), text).expect("valid");
        assert_eq!(config.zookeeper_servers[0].port, 2181);
        assert_eq!(config.zookeeper_timeout, 10.0);
        assert!(config.zookeeper_tls.is_none());
        let names: Vec<_> = config.kubepool_providers().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["k8s"]);
    }

    #[test]
    fn errors_name_the_file() {
        let err = parse(Path::new("/etc/nodepool/nodepool.yaml"), "zookeeper-servers: 3\n").expect_err("invalid");
        assert!(err.to_string().starts_with("/etc/nodepool/nodepool.yaml: "), "{err}");
    }
}
