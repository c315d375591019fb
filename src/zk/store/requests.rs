//! Node requests: `/nodepool/requests/<id>` and their locks (reference §2.2–§2.4).

use super::{Store, Versioned, persistent};
use crate::zk::ZkError;
use crate::zk::lock::{self, HeldLock, Wait};
use crate::zk::model::NodeRequest;
use crate::zk::paths::{self, REQUEST_ROOT, RequestId};
use zookeeper_client::{Acls, CreateMode};

impl Store {
    /// Ids of all requests, in znode-name order (use [`sort_requests`] for Nodepool's order).
    pub async fn request_ids(&self) -> Result<Vec<String>, ZkError> {
        self.children(REQUEST_ROOT).await
    }

    /// One request; `None` if it does not exist (or is empty).
    pub async fn get_request(&self, id: &str) -> Result<Option<Versioned<NodeRequest>>, ZkError> {
        self.read(REQUEST_ROOT, id, NodeRequest::from_json).await
    }

    /// Every readable request, in Nodepool's priority order (§2.2). Requests with an id that
    /// is not `<PPP>-<SEQ>` sort last.
    pub async fn list_requests(&self) -> Result<Vec<Versioned<NodeRequest>>, ZkError> {
        let mut requests = self.read_all(REQUEST_ROOT, NodeRequest::from_json).await?;
        sort_requests(&mut requests);
        Ok(requests)
    }

    /// Writes the whole request back if nobody changed it since it was read (version check),
    /// and records the new version. [`ZkError::VersionConflict`] if somebody did,
    /// [`ZkError::Gone`] if the request was deleted (e.g. cancelled by Zuul).
    pub async fn update_request(&self, request: &mut Versioned<NodeRequest>) -> Result<(), ZkError> {
        let data = request.value.to_json()?;
        request.version = self.write(&paths::request(&request.id), &data, Some(request.version)).await?;
        Ok(())
    }

    /// Submits a request at `priority` (`"100"`, `"900"` …) as a sequential znode: persistent
    /// like Zuul's, or ephemeral like Nodepool's min-ready requests.
    pub async fn create_request(
        &self,
        priority: &str,
        request: &NodeRequest,
        ephemeral: bool,
    ) -> Result<Versioned<NodeRequest>, ZkError> {
        self.client().mkdir(REQUEST_ROOT, &persistent()).await.map_err(ZkError::op("create", REQUEST_ROOT))?;
        let prefix = format!("{REQUEST_ROOT}/{priority}-");
        let mode = if ephemeral { CreateMode::EphemeralSequential } else { CreateMode::PersistentSequential };
        let (stat, sequence) = self
            .client()
            .create(&prefix, &request.to_json()?, &mode.with_acls(Acls::anyone_all()))
            .await
            .map_err(ZkError::op("create", &prefix))?;
        let id = format!("{priority}-{sequence}");
        Ok(Versioned::new(&id, &stat, request.clone()))
    }

    /// Deletes a request (min-ready cleanup; Zuul deletes its own). Already gone is fine.
    pub async fn delete_request(&self, id: &str) -> Result<(), ZkError> {
        let path = paths::request(id);
        match self.client().delete(&path, None).await {
            Ok(()) | Err(zookeeper_client::Error::NoNode) => Ok(()),
            Err(source) => Err(ZkError::Operation { operation: "delete", path, source }),
        }
    }

    /// Locks `/nodepool/requests-lock/<id>` (the launcher uses [`Wait::No`]).
    pub async fn lock_request(&self, id: &str, wait: Wait) -> Result<Option<HeldLock>, ZkError> {
        lock::lock(&self.client(), &paths::request_lock(id), wait).await
    }

    /// Is the request locked (or being waited for) by anybody (§2.11 lost requests)?
    pub async fn request_is_locked(&self, id: &str) -> Result<bool, ZkError> {
        lock::has_contenders(&self.client(), &paths::request_lock(id)).await
    }
}

/// Sorts requests the way a Nodepool launcher does (§2.2): priority prefix,
/// `relative_priority`, sequence. Ids that do not parse go last, by name.
pub fn sort_requests(requests: &mut [Versioned<NodeRequest>]) {
    requests.sort_by_cached_key(|request| match RequestId::parse(&request.id) {
        Ok(id) => (0, id.priority().to_string(), request.value.relative_priority, id.sequence().to_string()),
        Err(_) => (1, request.id.clone(), 0, String::new()),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: &str, relative_priority: i64) -> Versioned<NodeRequest> {
        let mut value = NodeRequest::new(vec!["label".into()]);
        value.relative_priority = relative_priority;
        Versioned { id: id.into(), version: 0, mtime_ms: 0, value }
    }

    #[test]
    fn requests_sort_like_nodepool_with_bad_ids_last() {
        let mut requests = vec![
            request("zzz", 0),
            request("200-0000000001", 2),
            request("200-0000000002", 1),
            request("100-0000000003", 9),
            request("900-0000000000", 0),
        ];
        sort_requests(&mut requests);
        let ids: Vec<&str> = requests.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["100-0000000003", "200-0000000002", "200-0000000001", "900-0000000000", "zzz"]);
    }
}
