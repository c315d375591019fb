//! Component registration under `/nodepool/components/` (reference §2.6).
//!
//! Each launcher process registers an ephemeral sequential znode
//! `/nodepool/components/launcher/<hostname><SEQ10>`; the real `nodepool` tools and Zuul's web
//! API read these. `model_api` must be 0: a real Nodepool exits if any component reports more.

use super::ZkError;
use serde::Serialize;
use zookeeper_client::{Acls, Client, CreateMode};

/// The ZooKeeper data model version this implementation speaks (Nodepool 11's is 0).
pub const MODEL_API: u32 = 0;

const COMPONENTS_ROOT: &str = "/nodepool/components";

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

/// A registered component; dropping the session removes it, [`ComponentRegistration::remove`]
/// removes it at once.
#[derive(Debug)]
pub struct ComponentRegistration {
    pub path: String,
}

impl ComponentRegistration {
    /// Registers `component` under `/nodepool/components/<kind>/<hostname>`.
    pub async fn register(client: &Client, component: &LauncherComponent) -> Result<Self, ZkError> {
        let dir = format!("{COMPONENTS_ROOT}/{}", component.kind);
        client
            .mkdir(&dir, &CreateMode::Persistent.with_acls(Acls::anyone_all()))
            .await
            .map_err(ZkError::op("create", &dir))?;
        let data = serde_json::to_vec(component).map_err(|source| ZkError::Encode { what: "component", source })?;
        let prefix = format!("{dir}/{}", component.hostname);
        let (_, sequence) = client
            .create(&prefix, &data, &CreateMode::EphemeralSequential.with_acls(Acls::anyone_all()))
            .await
            .map_err(ZkError::op("create", &prefix))?;
        Ok(Self { path: format!("{prefix}{sequence}") })
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
