//! Reading the registered pool components (reference §2.6, §2.8 step 3).

use super::{Store, Versioned};
use crate::zk::ZkError;
use crate::zk::model::PoolComponent;
use crate::zk::paths::POOL_COMPONENT_ROOT;

impl Store {
    /// Every readable pool component of every launcher (ours and real Nodepools), by znode
    /// name. Register ours with [`crate::zk::ComponentRegistration`].
    pub async fn list_pool_components(&self) -> Result<Vec<Versioned<PoolComponent>>, ZkError> {
        self.read_all(POOL_COMPONENT_ROOT, PoolComponent::from_json).await
    }

    /// One pool component by znode name; `None` if it is gone.
    pub async fn get_pool_component(&self, name: &str) -> Result<Option<Versioned<PoolComponent>>, ZkError> {
        self.read(POOL_COMPONENT_ROOT, name, PoolComponent::from_json).await
    }
}
