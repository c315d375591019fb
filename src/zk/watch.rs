//! Change events for requests, nodes (with their locks) and pool components, from
//! ZooKeeper ≥ 3.6 persistent recursive watches (reference §2: Nodepool 11 builds its caches
//! on the same watches), so the launcher reacts to changes instead of polling.
//!
//! Events carry ids, not data: read the znode when you act on it (under its lock). The
//! first event is always [`WatchEvent::Resync`] (the watches are in place; list everything
//! now). After a disconnection ZooKeeper may have dropped events (ZOOKEEPER-4698), so a
//! reconnect yields [`WatchEvent::Resync`] again. An expired or closed session ends the
//! stream with [`ZkError::SessionEnded`]: connect a new session and start a new watcher.

use super::paths::{NODE_ROOT, POOL_COMPONENT_ROOT, REQUEST_ROOT};
use super::{Client, ZkError};
use zookeeper_client::{AddWatchMode, EventType, PersistentWatcher, SessionState};

/// What happened to a znode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Changed,
    Deleted,
}

/// One change the launcher may care about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// Re-read everything: at start and after a reconnection.
    Resync,
    /// The connection was lost; the session may still come back (then [`WatchEvent::Resync`]).
    Disconnected,
    /// `/nodepool/requests/<id>` was created, rewritten or deleted.
    Request { id: String, change: Change },
    /// `/nodepool/nodes/<id>` was created, rewritten or deleted.
    Node { id: String, change: Change },
    /// A contender appeared in or left `/nodepool/nodes/<id>/lock` (locked / unlocked).
    NodeLock { id: String },
    /// `/nodepool/components/pool/<name>` was registered, updated or removed.
    PoolComponent { name: String, change: Change },
}

/// The watches of one session. Keep calling [`Watcher::next`] (events queue up unboundedly
/// otherwise).
#[derive(Debug)]
pub struct Watcher {
    // Keeps the session (and with it the event channels) alive.
    _client: Client,
    requests: PersistentWatcher,
    nodes: PersistentWatcher,
    pools: PersistentWatcher,
    started: bool,
    session: SessionTracker,
}

/// Turns the session states every watcher reports into one event per transition.
#[derive(Debug, Default)]
struct SessionTracker {
    disconnected: bool,
    ended: Option<SessionState>,
}

impl SessionTracker {
    fn on(&mut self, state: SessionState) -> Option<WatchEvent> {
        match state {
            state if state.is_terminated() => {
                if self.ended.is_none() {
                    tracing::warn!(%state, "ZooKeeper session ended");
                }
                self.ended = Some(state);
                None
            }
            SessionState::Disconnected if !self.disconnected => {
                tracing::warn!("ZooKeeper connection lost");
                self.disconnected = true;
                Some(WatchEvent::Disconnected)
            }
            SessionState::SyncConnected | SessionState::ConnectedReadOnly if self.disconnected => {
                tracing::info!("ZooKeeper connection back; resynchronising");
                self.disconnected = false;
                Some(WatchEvent::Resync)
            }
            _ => None,
        }
    }
}

impl Watcher {
    /// Adds persistent recursive watches on the request, node and pool-component roots (the
    /// paths need not exist yet).
    pub async fn start(client: &Client) -> Result<Self, ZkError> {
        let watch = |path: &'static str| async move {
            client.watch(path, AddWatchMode::PersistentRecursive).await.map_err(ZkError::op("watch", path))
        };
        Ok(Self {
            _client: client.clone(),
            requests: watch(REQUEST_ROOT).await?,
            nodes: watch(NODE_ROOT).await?,
            pools: watch(POOL_COMPONENT_ROOT).await?,
            started: false,
            session: SessionTracker::default(),
        })
    }

    /// The next event. After [`ZkError::SessionEnded`] every call returns that error again.
    pub async fn next(&mut self) -> Result<WatchEvent, ZkError> {
        if !self.started {
            self.started = true;
            return Ok(WatchEvent::Resync);
        }
        loop {
            if let Some(state) = self.session.ended {
                return Err(ZkError::SessionEnded { state: state.to_string() });
            }
            let event = tokio::select! {
                event = self.requests.changed() => event,
                event = self.nodes.changed() => event,
                event = self.pools.changed() => event,
            };
            if event.event_type == EventType::Session {
                if let Some(reported) = self.session.on(event.session_state) {
                    return Ok(reported);
                }
                continue;
            }
            if let Some(reported) = classify(event.event_type, &event.path) {
                tracing::trace!(?reported, "zookeeper change");
                return Ok(reported);
            }
        }
    }

    /// The events as a [`futures::Stream`], ending after the session ended (the last item is
    /// the [`ZkError::SessionEnded`]).
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<WatchEvent, ZkError>> + Send {
        futures::stream::unfold(Some(self), |watcher| async move {
            let mut watcher = watcher?;
            let item = watcher.next().await;
            let keep = item.is_ok().then_some(watcher);
            Some((item, keep))
        })
    }
}

fn change(event_type: EventType) -> Option<Change> {
    match event_type {
        EventType::NodeCreated => Some(Change::Created),
        EventType::NodeDataChanged => Some(Change::Changed),
        EventType::NodeDeleted => Some(Change::Deleted),
        EventType::Session | EventType::NodeChildrenChanged => None,
    }
}

/// Maps a znode event to a [`WatchEvent`]; roots and unrelated paths give `None`.
fn classify(event_type: EventType, path: &str) -> Option<WatchEvent> {
    let change = change(event_type)?;
    if let Some(rest) = path.strip_prefix(REQUEST_ROOT).and_then(|rest| rest.strip_prefix('/')) {
        return (!rest.contains('/')).then(|| WatchEvent::Request { id: rest.to_string(), change });
    }
    if let Some(rest) = path.strip_prefix(POOL_COMPONENT_ROOT).and_then(|rest| rest.strip_prefix('/')) {
        return (!rest.contains('/')).then(|| WatchEvent::PoolComponent { name: rest.to_string(), change });
    }
    let rest = path.strip_prefix(NODE_ROOT)?.strip_prefix('/')?;
    let mut parts = rest.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(id), None, None, None) => Some(WatchEvent::Node { id: id.to_string(), change }),
        (Some(id), Some("lock"), Some(_contender), None) if change != Change::Changed => {
            Some(WatchEvent::NodeLock { id: id.to_string() })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_session_transition_is_reported_once_and_the_end_sticks() {
        let mut tracker = SessionTracker::default();
        assert_eq!(tracker.on(SessionState::SyncConnected), None, "connected from the start: nothing to resync");
        assert_eq!(tracker.on(SessionState::Disconnected), Some(WatchEvent::Disconnected));
        assert_eq!(tracker.on(SessionState::Disconnected), None, "a second watcher reports the same loss");
        assert_eq!(tracker.on(SessionState::SyncConnected), Some(WatchEvent::Resync));
        assert_eq!(tracker.on(SessionState::SyncConnected), None);
        assert_eq!(tracker.on(SessionState::Expired), None);
        assert_eq!(tracker.ended, Some(SessionState::Expired));
    }

    #[test]
    fn znode_events_map_to_launcher_events() {
        let cases = [
            (EventType::NodeCreated, "/nodepool/requests/100-0000000001", Some(("request", Change::Created))),
            (EventType::NodeDataChanged, "/nodepool/requests/100-0000000001", Some(("request", Change::Changed))),
            (EventType::NodeDeleted, "/nodepool/requests/100-0000000001", Some(("request", Change::Deleted))),
            (EventType::NodeCreated, "/nodepool/nodes/0000000007", Some(("node", Change::Created))),
            (EventType::NodeDeleted, "/nodepool/nodes/0000000007", Some(("node", Change::Deleted))),
            (
                EventType::NodeCreated,
                "/nodepool/nodes/0000000007/lock/ab__lock__0000000000",
                Some(("lock", Change::Created)),
            ),
            (
                EventType::NodeDeleted,
                "/nodepool/nodes/0000000007/lock/ab__lock__0000000000",
                Some(("lock", Change::Deleted)),
            ),
            (EventType::NodeCreated, "/nodepool/components/pool/host0000000001", Some(("pool", Change::Created))),
            (EventType::NodeCreated, "/nodepool/nodes/0000000007/lock", None),
            (EventType::NodeCreated, "/nodepool/requests", None),
            (EventType::NodeCreated, "/nodepool/nodes", None),
            (EventType::NodeCreated, "/nodepool/requestsX/1", None),
            (EventType::NodeChildrenChanged, "/nodepool/nodes/0000000007", None),
        ];
        for (event_type, path, expected) in cases {
            let expected = expected.map(|(kind, change)| {
                let id = path.rsplit('/').next().unwrap_or_default().to_string();
                match kind {
                    "request" => WatchEvent::Request { id, change },
                    "node" => WatchEvent::Node { id, change },
                    "lock" => WatchEvent::NodeLock { id: "0000000007".into() },
                    _ => WatchEvent::PoolComponent { name: id, change },
                }
            });
            assert_eq!(classify(event_type, path), expected, "{event_type:?} {path}");
        }
    }
}
