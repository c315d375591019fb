//! Provider-level fault isolation: a provider whose cloud does not answer pauses its own pools
//! (their components say `paused`, so Zuul and other launchers route around them) and no
//! others; it resumes by itself when the cloud answers again.
//!
//! Each provider's driver is asked [`Driver::check_health`] every few seconds. Two failures in
//! a row make it unhealthy (one slow answer is no outage); one success makes it healthy.

use super::context::Context;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// How often each provider is checked.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(5);
/// Failures in a row that make a provider unhealthy.
const FAILURES_TO_PAUSE: u32 = 2;

/// Checks one provider until shutdown (with its current driver: a reload may replace it).
pub async fn watch_provider(ctx: Arc<Context>, provider: String) {
    let mut failures = 0u32;
    loop {
        let Some(driver) = ctx.driver(&provider) else { return };
        match driver.check_health().await {
            Ok(()) => {
                failures = 0;
                if ctx.health.set(&provider, None) {
                    info!(%provider, "provider answers again; its pools resume");
                    ctx.metrics
                        .provider_connected
                        .get_or_create(&crate::metrics::ProviderLabels { provider: provider.clone() })
                        .set(1);
                    ctx.changed.raise();
                }
            }
            Err(why) => {
                failures += 1;
                if failures >= FAILURES_TO_PAUSE && ctx.health.set(&provider, Some(why.clone())) {
                    warn!(%provider, reason = %why, "provider does not answer; pausing its pools (other providers go on)");
                    ctx.metrics
                        .provider_connected
                        .get_or_create(&crate::metrics::ProviderLabels { provider: provider.clone() })
                        .set(0);
                    ctx.changed.raise();
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(CHECK_INTERVAL) => {}
            _ = ctx.stopped() => return,
        }
    }
}
