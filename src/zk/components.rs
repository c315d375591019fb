//! Component registration under `/nodepool/components/` (reference §2.6).
//!
//! Each launcher process registers an ephemeral sequential znode
//! `/nodepool/components/launcher/<hostname><SEQ10>`, and one pool component per pool worker
//! under `/nodepool/components/pool/`; the real `nodepool` tools and Zuul's web
//! API read these. `model_api` must be 0: a real Nodepool exits if any component reports more.

use super::model::PoolComponent;
use super::{ZkError, paths};
use serde::Serialize;
use zookeeper_client::{Acls, Client, CreateMode};

/// The ZooKeeper data model version this implementation speaks (Nodepool 11's is 0).
pub const MODEL_API: u32 = 0;

/// The launcher component's JSON (keys sorted, as Nodepool writes them).
#[derive(Debug, Clone, Serialize)]
pub struct LauncherComponent {
    pub hostname: String,
    pub kind: &'static str,
    pub model_api: u32,
    pub state: &'static str,
    pub version: String,
}

impl LauncherComponent {
    pub fn running(hostname: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            kind: "launcher",
            model_api: MODEL_API,
            state: "running",
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// What can be registered under `/nodepool/components/<kind>/`.
pub trait Component {
    /// `launcher`, `pool`, …: the directory under `/nodepool/components`.
    fn kind(&self) -> &str;
    /// The znode name prefix (ZooKeeper appends the sequence).
    fn hostname(&self) -> &str;
    /// The JSON payload, keys sorted.
    fn to_json(&self) -> Result<Vec<u8>, ZkError>;
}

impl Component for LauncherComponent {
    fn kind(&self) -> &str {
        self.kind
    }

    fn hostname(&self) -> &str {
        &self.hostname
    }

    fn to_json(&self) -> Result<Vec<u8>, ZkError> {
        serde_json::to_vec(self).map_err(|source| ZkError::Encode { what: "component", source })
    }
}

impl Component for PoolComponent {
    fn kind(&self) -> &str {
        &self.kind
    }

    fn hostname(&self) -> &str {
        &self.hostname
    }

    fn to_json(&self) -> Result<Vec<u8>, ZkError> {
        PoolComponent::to_json(self)
    }
}

/// A registered component (an ephemeral sequential znode). Dropping the session removes it,
/// [`ComponentRegistration::remove`] removes it at once.
#[derive(Debug)]
pub struct ComponentRegistration {
    pub path: String,
    version: i32,
    /// The session that owns the ephemeral znode.
    session_id: i64,
}

impl ComponentRegistration {
    /// Registers `component` at `/nodepool/components/<kind>/<hostname><SEQ10>`.
    pub async fn register(client: &Client, component: &impl Component) -> Result<Self, ZkError> {
        let dir = paths::component_dir(component.kind());
        client
            .mkdir(&dir, &CreateMode::Persistent.with_acls(Acls::anyone_all()))
            .await
            .map_err(ZkError::op("create", &dir))?;
        let data = component.to_json()?;
        let prefix = format!("{dir}/{}", component.hostname());
        let (stat, sequence) = client
            .create(&prefix, &data, &CreateMode::EphemeralSequential.with_acls(Acls::anyone_all()))
            .await
            .map_err(ZkError::op("create", &prefix))?;
        let path = format!("{prefix}{sequence}");
        tracing::info!(%path, "registered component");
        Ok(Self { path, version: stat.version, session_id: client.session_id().0 })
    }

    /// Is this registration owned by `client`'s session (false after that session expired)?
    pub fn is_on(&self, client: &Client) -> bool {
        self.session_id == client.session_id().0
    }

    /// Rewrites the component in place with a version check (NP `BaseComponent.__setattr__`).
    /// If the znode is gone (the session was replaced), registers again, as Nodepool does on
    /// reconnect; a concurrent writer is [`ZkError::VersionConflict`].
    pub async fn update(&mut self, client: &Client, component: &impl Component) -> Result<(), ZkError> {
        let data = component.to_json()?;
        match client.set_data(&self.path, &data, Some(self.version)).await {
            Ok(stat) => {
                self.version = stat.version;
                Ok(())
            }
            Err(zookeeper_client::Error::NoNode) => {
                tracing::warn!(path = %self.path, "component registration vanished; registering again");
                *self = Self::register(client, component).await?;
                Ok(())
            }
            Err(zookeeper_client::Error::BadVersion) => Err(ZkError::VersionConflict { path: self.path.clone() }),
            Err(source) => Err(ZkError::Operation { operation: "set", path: self.path.clone(), source }),
        }
    }

    pub async fn remove(self, client: &Client) -> Result<(), ZkError> {
        match client.delete(&self.path, None).await {
            Ok(()) | Err(zookeeper_client::Error::NoNode) => Ok(()),
            Err(source) => Err(ZkError::Operation { operation: "delete", path: self.path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launcher_component_json_has_nodepools_keys_in_order() {
        let json = serde_json::to_string(&LauncherComponent::running("host1")).expect("encode");
        assert_eq!(
            json,
            format!(
                r#"{{"hostname":"host1","kind":"launcher","model_api":0,"state":"running","version":"{}"}}"#,
                env!("CARGO_PKG_VERSION")
            )
        );
    }
}
