//! Progress of a long wait in a launch: what it waits for, logged every [`EVERY`] while it
//! lasts, with the last refusal or state seen, so a step that takes its time is not silence
//! until its timeout.

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// How often a wait that goes on says so.
pub const EVERY: Duration = Duration::from_secs(10);

/// When a wait that started at `started` last logged and logs next.
#[derive(Debug, Clone, Copy)]
pub struct Ticker {
    started: Instant,
    next: Instant,
    every: Duration,
}

impl Ticker {
    /// A wait starting now that logs every `every`.
    pub fn new(every: Duration) -> Self {
        Self::starting_at(Instant::now(), every)
    }

    fn starting_at(started: Instant, every: Duration) -> Self {
        Self { started, next: started + every, every }
    }

    /// When the next progress line is due.
    pub fn next(&self) -> Instant {
        self.next
    }

    /// How long the wait has lasted at `now` when a progress line is due then (and the next one
    /// is `every` later); `None` when it is not due yet.
    pub fn due(&mut self, now: Instant) -> Option<Duration> {
        if now < self.next {
            return None;
        }
        self.next = now + self.every;
        Some(now - self.started)
    }
}

/// Awaits `wait` until `deadline`; meanwhile calls `report` with the time waited every `every`.
/// `None` when the deadline passed first.
pub async fn until<T>(
    wait: impl Future<Output = T>,
    deadline: Instant,
    every: Duration,
    mut report: impl FnMut(Duration),
) -> Option<T> {
    let mut wait = std::pin::pin!(wait);
    let mut ticker = Ticker::new(every);
    loop {
        tokio::select! {
            biased;
            done = &mut wait => return Some(done),
            () = tokio::time::sleep_until(ticker.next()), if ticker.next() < deadline => {
                if let Some(waited) = ticker.due(Instant::now()) {
                    report(waited);
                }
            }
            () = tokio::time::sleep_until(deadline) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_due_once_per_interval_not_before() {
        let start = Instant::now();
        let mut ticker = Ticker::starting_at(start, EVERY);
        assert_eq!(ticker.due(start), None);
        assert_eq!(ticker.due(start + Duration::from_secs(9)), None);
        assert_eq!(ticker.due(start + Duration::from_secs(10)), Some(Duration::from_secs(10)));
        // Not again until ten seconds after the last line.
        assert_eq!(ticker.due(start + Duration::from_secs(15)), None);
        assert_eq!(ticker.due(start + Duration::from_secs(27)), Some(Duration::from_secs(27)));
        assert_eq!(ticker.due(start + Duration::from_secs(30)), None);
        assert_eq!(ticker.due(start + Duration::from_secs(37)), Some(Duration::from_secs(37)));
    }

    #[tokio::test]
    async fn a_wait_that_outlasts_the_interval_reports_then_gives_up_at_the_deadline() {
        let mut reports = Vec::new();
        let deadline = Instant::now() + Duration::from_millis(130);
        let outcome =
            until(std::future::pending::<()>(), deadline, Duration::from_millis(50), |w| reports.push(w)).await;
        assert_eq!(outcome, None);
        assert!(Instant::now() >= deadline);
        assert!(!reports.is_empty() && reports.len() <= 2, "{reports:?}");
        assert!(reports[0] >= Duration::from_millis(50), "{reports:?}");
    }

    #[tokio::test]
    async fn a_quick_wait_reports_nothing() {
        let mut reports = 0;
        let deadline = Instant::now() + Duration::from_secs(5);
        let outcome = until(async { 7 }, deadline, Duration::from_millis(10), |_| reports += 1).await;
        assert_eq!(outcome, Some(7));
        assert_eq!(reports, 0);
    }
}
