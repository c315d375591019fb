//! What every driver does around one launch: undo a failed attempt (delete what it made and
//! wait until it is gone) so the next attempt starts clean.

use kubepool_driver_api::LaunchError;
use std::future::Future;
use tracing::warn;

/// Runs one launch attempt; if it fails, runs `undo` (which deletes `what` `name` and waits
/// until it is gone) and returns the attempt's error. An undo that fails is logged: the cleanup
/// worker finds the leftovers by label later, and the launch error is what matters.
pub async fn or_undo<T, U>(
    what: &str,
    name: &str,
    attempt: impl Future<Output = Result<T, LaunchError>>,
    undo: impl FnOnce() -> U,
) -> Result<T, LaunchError>
where
    U: Future<Output = Result<(), String>>,
{
    let error = match attempt.await {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    warn!(what, name, %error, "launch attempt failed; removing what it made");
    if let Err(cleanup) = undo().await {
        warn!(what, name, error = %cleanup, "could not remove what a failed attempt made");
    }
    Err(error)
}
