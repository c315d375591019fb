//! A wake-up signal that is never lost: a generation counter on a `watch` channel. A change
//! raised while a task is busy is remembered until that task next waits, unlike
//! `Notify::notify_waiters`, which only reaches tasks waiting at that instant.

use tokio::sync::watch;

pub struct WakeUp {
    generation: watch::Sender<u64>,
}

impl Default for WakeUp {
    fn default() -> Self {
        Self { generation: watch::Sender::new(0) }
    }
}

impl WakeUp {
    /// Wakes every subscriber (now, or at its next wait).
    pub fn raise(&self) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// A subscription; its first wait returns at the first change after this call.
    pub fn subscribe(&self) -> Waiter {
        let mut receiver = self.generation.subscribe();
        receiver.mark_unchanged();
        Waiter { receiver }
    }
}

pub struct Waiter {
    receiver: watch::Receiver<u64>,
}

impl Waiter {
    /// Completes once there was a change since the last wait returned.
    pub async fn changed(&mut self) {
        if self.receiver.changed().await.is_err() {
            // The signal is gone (shutdown): never complete, other branches decide.
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_change_raised_while_busy_is_seen_at_the_next_wait() {
        let signal = WakeUp::default();
        let mut waiter = signal.subscribe();
        signal.raise(); // the task is "busy": not waiting yet
        tokio::time::timeout(Duration::from_secs(1), waiter.changed()).await.expect("not lost");
        // Seen once: the next wait blocks until another change.
        assert!(tokio::time::timeout(Duration::from_millis(50), waiter.changed()).await.is_err());
        signal.raise();
        signal.raise();
        tokio::time::timeout(Duration::from_secs(1), waiter.changed()).await.expect("coalesced");
    }
}
