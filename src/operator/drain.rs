//! Draining the launcher of a provider removed from the nodepool.yaml.
//!
//! A removed provider's launcher keeps running with a draining shard (every pool `max-servers:
//! 0`, so it launches nothing; every label `min-ready: 0` and `max-ready-age: 1`, so its unused
//! ready nodes go) until ZooKeeper holds no node of that provider; then the launcher and its shard
//! are deleted in the orphan pass. The operator counts the nodes with kubepool's own ZooKeeper
//! client and the Zuul's client certificate; while ZooKeeper cannot be asked, the launcher stays.

use crate::zk::{ConnectOptions, Store, TlsFiles, connect};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// Why nodes could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error("writing the ZooKeeper client certificate to {path}: {source}")]
    Files {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("ZooKeeper {hosts}: no session within 5 s")]
    Timeout { hosts: String },
    #[error("ZooKeeper {hosts}: {source}")]
    ZooKeeper {
        hosts: String,
        #[source]
        source: crate::zk::ZkError,
    },
}

/// The draining form of a shard's text (idempotent: a draining shard stays as it is).
pub fn draining_shard(text: &str) -> Option<String> {
    let mut config: Value = serde_json::from_str(text).ok()?;
    for pool in config["providers"][0]["pools"].as_array_mut().into_iter().flatten() {
        pool["max-servers"] = json!(0);
    }
    for label in config["labels"].as_array_mut().into_iter().flatten() {
        label["min-ready"] = json!(0);
        label["max-ready-age"] = json!(1);
    }
    serde_json::to_string_pretty(&config).ok()
}

/// The provider name a shard serves.
pub fn shard_provider(text: &str) -> Option<String> {
    let config: Value = serde_json::from_str(text).ok()?;
    config["providers"][0]["name"].as_str().map(str::to_string)
}

/// How to reach the Zuul's ZooKeeper: `host:port,…[/chroot]` and the client's PEM material.
#[derive(Debug, Clone)]
pub struct ZooKeeperAccess {
    pub hosts: String,
    pub ca: String,
    pub cert: String,
    pub key: String,
}

/// Nodes per provider name in the Zuul's ZooKeeper.
pub async fn nodes_by_provider(access: &ZooKeeperAccess) -> Result<BTreeMap<String, usize>, DrainError> {
    let dir = std::env::temp_dir().join(format!("kubepool-operator-zk-{}", uuid::Uuid::new_v4().simple()));
    let files = || -> std::io::Result<TlsFiles> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let write = |name: &str, content: &str| -> std::io::Result<std::path::PathBuf> {
            let path = dir.join(name);
            let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
            std::io::Write::write_all(&mut file, content.as_bytes())?;
            Ok(path)
        };
        Ok(TlsFiles {
            ca: write("ca.crt", &access.ca)?,
            cert: write("tls.crt", &access.cert)?,
            key: write("tls.key", &access.key)?,
            // As the Zuul it serves: the chain is verified, the host name is not.
            verify_hostname: false,
        })
    };
    let tls = files().map_err(|source| DrainError::Files { path: dir.display().to_string(), source });
    let result = async {
        let (list, chroot) = match access.hosts.split_once('/') {
            Some((list, chroot)) => (list, Some(format!("/{chroot}"))),
            None => (access.hosts.as_str(), None),
        };
        let options = ConnectOptions {
            servers: list.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            chroot,
            tls: Some(tls?),
            session_timeout: Duration::from_secs(10),
        };
        let zk_error = |source| DrainError::ZooKeeper { hosts: access.hosts.clone(), source };
        // Bounded: a pass must not wait long for a ZooKeeper that does not answer.
        let client = tokio::time::timeout(Duration::from_secs(5), connect(&options))
            .await
            .map_err(|_| DrainError::Timeout { hosts: access.hosts.clone() })?
            .map_err(zk_error)?;
        let nodes = Store::new(client).list_nodes().await.map_err(zk_error)?;
        let mut counts = BTreeMap::new();
        for node in nodes {
            if let Some(provider) = node.value.provider.clone() {
                *counts.entry(provider).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draining_shard_launches_nothing_and_lets_ready_nodes_go() {
        let shard = r#"{"labels": [{"name": "pod", "min-ready": 2}], "providers": [{"name": "p", "pools": [{"name": "a"}, {"name": "b", "max-servers": 5}]}]}"#;
        let drained = draining_shard(shard).expect("drained");
        let value: Value = serde_json::from_str(&drained).expect("JSON");
        assert_eq!(value["providers"][0]["pools"][0]["max-servers"], 0);
        assert_eq!(value["providers"][0]["pools"][1]["max-servers"], 0);
        assert_eq!(value["labels"][0], json!({"name": "pod", "min-ready": 0, "max-ready-age": 1}));
        assert_eq!(draining_shard(&drained).as_deref(), Some(drained.as_str()), "idempotent");
        assert_eq!(shard_provider(shard).as_deref(), Some("p"));
    }
}
