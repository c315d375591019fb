//! Nodes: `/nodepool/nodes/<id>` and their locks (reference §2.5, §2.11).

use super::{Store, Versioned, persistent};
use crate::zk::ZkError;
use crate::zk::lock::{self, HeldLock, Wait};
use crate::zk::model::Node;
use crate::zk::paths::{self, NODE_ROOT};
use zookeeper_client::{Acls, CreateMode};

impl Store {
    /// Ids of all nodes, ascending.
    pub async fn node_ids(&self) -> Result<Vec<String>, ZkError> {
        self.children(NODE_ROOT).await
    }

    /// One node; `None` if it does not exist or is empty.
    pub async fn get_node(&self, id: &str) -> Result<Option<Versioned<Node>>, ZkError> {
        self.read(NODE_ROOT, id, Node::from_json).await
    }

    /// Every readable node, by id.
    pub async fn list_nodes(&self) -> Result<Vec<Versioned<Node>>, ZkError> {
        self.read_all(NODE_ROOT, Node::from_json).await
    }

    /// Stores a new node as a persistent sequential child of `/nodepool/nodes/` with an empty
    /// name prefix, so its id is the 10-digit sequence (NP `storeNode` for a new node).
    pub async fn create_node(&self, node: &Node) -> Result<Versioned<Node>, ZkError> {
        self.client().mkdir(NODE_ROOT, &persistent()).await.map_err(ZkError::op("create", NODE_ROOT))?;
        let prefix = format!("{NODE_ROOT}/");
        let (stat, sequence) = self
            .client()
            .create(&prefix, &node.to_json()?, &CreateMode::PersistentSequential.with_acls(Acls::anyone_all()))
            .await
            .map_err(ZkError::op("create", &prefix))?;
        let created = Versioned::new(&sequence.to_string(), &stat, node.clone());
        tracing::debug!(node = %created.id, "node created");
        Ok(created)
    }

    /// Writes the whole node back, last writer wins as in Nodepool and Zuul (§2.5); records
    /// the new version. [`ZkError::Gone`] if the node was deleted.
    pub async fn update_node(&self, node: &mut Versioned<Node>) -> Result<(), ZkError> {
        let data = node.value.to_json()?;
        node.version = self.write(&paths::node(&node.id), &data, None).await?;
        Ok(())
    }

    /// Like [`Store::update_node`] but only if the node is unchanged since it was read.
    pub async fn update_node_checked(&self, node: &mut Versioned<Node>) -> Result<(), ZkError> {
        let data = node.value.to_json()?;
        node.version = self.write(&paths::node(&node.id), &data, Some(node.version)).await?;
        Ok(())
    }

    /// Removes the node znode with its lock directory (NP `deleteRawNode`). Nodepool stores
    /// state `deleted` first (NP `deleteNode`): do that with [`Store::update_node`] before.
    pub async fn delete_node(&self, id: &str) -> Result<(), ZkError> {
        self.delete_recursive(&paths::node(id)).await
    }

    /// Locks `/nodepool/nodes/<id>/lock`. `Ok(None)` also when the node znode does not exist:
    /// unlike kazoo, taking a lock never recreates a node that was just deleted.
    pub async fn lock_node(&self, id: &str, wait: Wait) -> Result<Option<HeldLock>, ZkError> {
        lock::lock_under_existing(&self.client(), &paths::node_lock(id), wait).await
    }

    /// Does anybody hold or wait for the node's lock? Cleanup passes skip such nodes (§2.3).
    pub async fn node_is_locked(&self, id: &str) -> Result<bool, ZkError> {
        lock::has_contenders(&self.client(), &paths::node_lock(id)).await
    }
}
