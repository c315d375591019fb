//! kazoo's exclusive `Lock` recipe, interoperable with Nodepool and Zuul (reference §2.3,
//! KZ `kazoo/recipe/lock.py`).
//!
//! 1. Ensure the lock directory exists (like kazoo's `ensure_path`, this creates missing
//!    parents too).
//! 2. Create an ephemeral sequential child `<uuid4 hex>__lock__`; ZooKeeper appends the
//!    10-digit sequence. Its data is empty, as Nodepool and Zuul leave the identifier unset.
//! 3. Contenders are the children whose names end in `__lock__` or `__rlock__` followed by
//!    the sequence (`-?\d{10}`); sequences compare as strings, as in kazoo. The holder is the
//!    contender with no lower sequence.
//! 4. Not holding: a non-blocking acquire deletes its own child and fails; a blocking one
//!    watches the next-lower contender and looks again when it goes.
//! 5. Release deletes the own child.

use super::ZkError;
use std::time::Duration;
use tokio::time::Instant;
use zookeeper_client::{Acls, Client, CreateMode};

/// Suffix of an exclusive contender's name (before the sequence).
const LOCK_NAME: &str = "__lock__";
/// Suffixes kazoo treats as contenders (exclusive and read locks).
const CONTENDER_NAMES: [&str; 2] = ["__lock__", "__rlock__"];

/// The sequence part of a contender's name, or `None` if `child` is not a contender.
fn contender_sequence(child: &str) -> Option<&str> {
    CONTENDER_NAMES.iter().find_map(|name| {
        let at = child.rfind(name)?;
        let sequence = &child[at + name.len()..];
        let digits = sequence.strip_prefix('-').unwrap_or(sequence);
        (digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(sequence)
    })
}

/// The contender just below `own` (kazoo's `_get_predecessor`), `Ok(None)` if `own` holds
/// the lock, `Err(())` if `own` is not among `children` any more.
fn predecessor<'a>(children: &'a [String], own: &str) -> Result<Option<&'a str>, ()> {
    let own_sequence = contender_sequence(own).ok_or(())?;
    if !children.iter().any(|child| child == own) {
        return Err(());
    }
    Ok(children
        .iter()
        .filter_map(|child| contender_sequence(child).map(|sequence| (sequence, child.as_str())))
        .filter(|(sequence, _)| *sequence < own_sequence)
        .max()
        .map(|(_, child)| child))
}

/// The contenders in `children`, lowest sequence (the holder) first.
pub fn contenders(children: &[String]) -> Vec<&str> {
    let mut found: Vec<(&str, &str)> = children
        .iter()
        .filter_map(|child| contender_sequence(child).map(|sequence| (sequence, child.as_str())))
        .collect();
    found.sort();
    found.into_iter().map(|(_, child)| child).collect()
}

/// Is anybody holding or waiting for the lock at `dir`? Nodepool treats such a node as
/// "probably locked" and skips it in cleanup passes (§2.3). A missing directory means no.
pub async fn has_contenders(client: &Client, dir: &str) -> Result<bool, ZkError> {
    match client.list_children(dir).await {
        Ok(children) => Ok(!contenders(&children).is_empty()),
        Err(zookeeper_client::Error::NoNode) => Ok(false),
        Err(source) => Err(ZkError::Operation { operation: "list", path: dir.to_string(), source }),
    }
}

/// An acquired lock. Release it with [`HeldLock::release`]; dropping it unreleased deletes
/// the contender znode in the background (best effort), and losing the session releases it.
#[derive(Debug)]
pub struct HeldLock {
    client: Client,
    /// Full path of the own contender znode.
    node: String,
    released: bool,
}

impl HeldLock {
    /// The lock directory.
    pub fn dir(&self) -> &str {
        self.node.rsplit_once('/').map_or("", |(dir, _)| dir)
    }

    /// The own contender znode.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The session the lock was taken on: it is void once the store moved to another one.
    pub fn session_id(&self) -> i64 {
        self.client.session_id().0
    }

    /// Does the contender znode still exist (false after the session was lost)?
    pub async fn is_still_held(&self) -> Result<bool, ZkError> {
        let stat = self.client.check_stat(&self.node).await.map_err(ZkError::op("stat", &self.node))?;
        Ok(stat.is_some())
    }

    /// Lets go of a lock whose session is gone (its contender went with the session): nothing
    /// to delete, nothing to warn about.
    pub fn abandon(mut self) {
        self.released = true;
    }

    /// Releases the lock by deleting the own contender; already gone counts as released.
    pub async fn release(mut self) -> Result<(), ZkError> {
        self.released = true;
        delete_own(&self.client, &self.node).await
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        tracing::warn!(lock = %self.node, "lock dropped without release; releasing in the background");
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let client = self.client.clone();
            let node = std::mem::take(&mut self.node);
            runtime.spawn(async move {
                if let Err(error) = delete_own(&client, &node).await {
                    tracing::warn!(lock = %node, %error, "cannot release dropped lock");
                }
            });
        }
    }
}

async fn delete_own(client: &Client, node: &str) -> Result<(), ZkError> {
    match client.delete(node, None).await {
        Ok(()) | Err(zookeeper_client::Error::NoNode) => Ok(()),
        Err(source) => Err(ZkError::Operation { operation: "delete", path: node.to_string(), source }),
    }
}

/// How long an acquire may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Fail at once if somebody else holds the lock (`acquire(blocking=False)`).
    No,
    /// Wait up to this long (`acquire(blocking=True, timeout=…)`).
    Upto(Duration),
    /// Wait as long as it takes (`acquire()`).
    Forever,
}

/// Tries to acquire the kazoo lock at `dir` without waiting. `Ok(None)`: somebody else holds
/// it (our contender was removed again).
pub async fn try_lock(client: &Client, dir: &str) -> Result<Option<HeldLock>, ZkError> {
    lock(client, dir, Wait::No).await
}

/// Acquires the kazoo lock at `dir`. `Ok(None)` only with [`Wait::No`]; a timeout is
/// [`ZkError::LockTimeout`]. On every failure our contender znode is removed again.
pub async fn lock(client: &Client, dir: &str, wait: Wait) -> Result<Option<HeldLock>, ZkError> {
    client
        .mkdir(dir, &CreateMode::Persistent.with_acls(Acls::anyone_all()))
        .await
        .map_err(ZkError::op("create", dir))?;
    acquire(client, dir, wait).await
}

/// Like [`lock`], but only if the parent of `dir` exists: `Ok(None)` when it does not. A node
/// lock must not bring back the node znode that a deletion has just removed (kazoo would).
pub async fn lock_under_existing(client: &Client, dir: &str, wait: Wait) -> Result<Option<HeldLock>, ZkError> {
    match client.create(dir, b"", &CreateMode::Persistent.with_acls(Acls::anyone_all())).await {
        Ok(_) | Err(zookeeper_client::Error::NodeExists) => {}
        Err(zookeeper_client::Error::NoNode) => return Ok(None),
        Err(source) => return Err(ZkError::Operation { operation: "create", path: dir.to_string(), source }),
    }
    match acquire(client, dir, wait).await {
        // The parent was deleted between our create and our contender.
        Err(ZkError::Operation { source: zookeeper_client::Error::NoNode, .. }) => Ok(None),
        other => other,
    }
}

async fn acquire(client: &Client, dir: &str, wait: Wait) -> Result<Option<HeldLock>, ZkError> {
    let prefix = format!("{dir}/{}{LOCK_NAME}", uuid::Uuid::new_v4().simple());
    let created = client.create(&prefix, b"", &CreateMode::EphemeralSequential.with_acls(Acls::anyone_all())).await;
    let sequence = match created {
        Ok((_, sequence)) => sequence,
        Err(source) => {
            // The create may have happened although its reply was lost (kazoo's
            // `_find_node`): a forgotten contender of ours would block the lock for everybody.
            remove_by_prefix(client, dir, &prefix).await;
            return Err(ZkError::Operation { operation: "create", path: prefix, source });
        }
    };
    let node = format!("{prefix}{sequence}");
    let deadline = match wait {
        Wait::Upto(timeout) => Some(Instant::now() + timeout),
        Wait::No | Wait::Forever => None,
    };
    let outcome = wait_for_turn(client, dir, &node, wait, deadline).await;
    match outcome {
        Ok(true) => {
            tracing::debug!(lock = %node, "lock acquired");
            Ok(Some(HeldLock { client: client.clone(), node, released: false }))
        }
        Ok(false) => {
            delete_own(client, &node).await?;
            Ok(None)
        }
        Err(error) => {
            if let Err(cleanup) = delete_own(client, &node).await {
                tracing::warn!(lock = %node, error = %cleanup, "cannot remove own lock contender");
            }
            Err(error)
        }
    }
}

/// Best effort: deletes the children of `dir` that `prefix` (a full path) names.
async fn remove_by_prefix(client: &Client, dir: &str, prefix: &str) {
    let name = prefix.rsplit('/').next().unwrap_or(prefix);
    let Ok(children) = client.list_children(dir).await else {
        return;
    };
    for child in children.iter().filter(|child| child.starts_with(name)) {
        if let Err(error) = delete_own(client, &format!("{dir}/{child}")).await {
            tracing::warn!(lock = %dir, %error, "cannot remove own lock contender");
        }
    }
}

/// Loops until `node` is the lowest contender (`true`), or, without waiting, reports `false`.
async fn wait_for_turn(
    client: &Client,
    dir: &str,
    node: &str,
    wait: Wait,
    deadline: Option<Instant>,
) -> Result<bool, ZkError> {
    let own = node.rsplit('/').next().unwrap_or(node);
    loop {
        let children = client.list_children(dir).await.map_err(ZkError::op("list", dir))?;
        let predecessor = match predecessor(&children, own) {
            Ok(None) => return Ok(true),
            Ok(Some(predecessor)) => format!("{dir}/{predecessor}"),
            Err(()) => return Err(ZkError::LockLost { path: node.to_string() }),
        };
        if wait == Wait::No {
            return Ok(false);
        }
        let (stat, watcher) =
            client.check_and_watch_stat(&predecessor).await.map_err(ZkError::op("watch", &predecessor))?;
        if stat.is_none() {
            continue;
        }
        tracing::debug!(lock = %node, waiting_for = %predecessor, "lock busy; waiting");
        match deadline {
            None => {
                watcher.changed().await;
            }
            Some(deadline) => {
                if tokio::time::timeout_at(deadline, watcher.changed()).await.is_err() {
                    return Err(ZkError::LockTimeout { path: dir.to_string() });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn contender_names_follow_kazoo() {
        assert_eq!(contender_sequence("0123abcd__lock__0000000007"), Some("0000000007"));
        assert_eq!(contender_sequence("x__rlock__0000000003"), Some("0000000003"));
        assert_eq!(contender_sequence("x__lock__-2147483648"), Some("-2147483648"));
        assert_eq!(contender_sequence("x__lock__-000000001"), None);
        assert_eq!(contender_sequence("x__lock__000000007"), None);
        assert_eq!(contender_sequence("x__lock__00000000070"), None);
        assert_eq!(contender_sequence("x__lock__"), None);
        assert_eq!(contender_sequence("lease-0000000001"), None);
    }

    #[test]
    fn lowest_sequence_holds_and_waiters_watch_the_next_lower() {
        let children = names(&["b__lock__0000000005", "a__lock__0000000002", "c__rlock__0000000004", "junk"]);
        assert_eq!(predecessor(&children, "a__lock__0000000002"), Ok(None));
        assert_eq!(predecessor(&children, "b__lock__0000000005"), Ok(Some("c__rlock__0000000004")));
        assert_eq!(predecessor(&children, "c__rlock__0000000004"), Ok(Some("a__lock__0000000002")));
        assert_eq!(predecessor(&children, "gone__lock__0000000009"), Err(()));
        assert_eq!(contenders(&children), ["a__lock__0000000002", "c__rlock__0000000004", "b__lock__0000000005"]);
        assert!(contenders(&names(&["junk", "lock"])).is_empty());
    }
}
