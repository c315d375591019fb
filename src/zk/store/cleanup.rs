//! Orphaned request-lock directories (reference §2.3, §2.11 `CleanupWorker`).

use super::Store;
use crate::zk::ZkError;
use crate::zk::lock;
use crate::zk::paths::{self, REQUEST_LOCK_ROOT};
use std::time::Duration;

/// Nodepool's `LOCK_CLEANUP`: request locks are removed 8 hours after their last change.
pub const LOCK_CLEANUP: Duration = Duration::from_secs(8 * 3600);

impl Store {
    /// Deletes `/nodepool/requests-lock/<id>` directories whose request no longer exists and
    /// that have not changed for `min_age` (use [`LOCK_CLEANUP`]). Unlike Nodepool, a directory
    /// with a lock contender is left alone. Returns the ids removed.
    pub async fn delete_orphan_request_locks(&self, min_age: Duration) -> Result<Vec<String>, ZkError> {
        let requests = self.request_ids().await?;
        let now_ms = i64::try_from(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis(),
        )
        .unwrap_or(i64::MAX);
        let min_age_ms = i64::try_from(min_age.as_millis()).unwrap_or(i64::MAX);
        let mut removed = Vec::new();
        for id in self.children(REQUEST_LOCK_ROOT).await? {
            if requests.binary_search(&id).is_ok() {
                continue;
            }
            let dir = paths::request_lock(&id);
            let Some((_, stat)) = self.data(&dir).await? else {
                continue;
            };
            if now_ms.saturating_sub(stat.mtime) < min_age_ms || lock::has_contenders(&self.client(), &dir).await? {
                continue;
            }
            self.delete_recursive(&dir).await?;
            tracing::info!(request = %id, "deleted orphaned request lock");
            removed.push(id);
        }
        Ok(removed)
    }
}
