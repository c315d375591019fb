//! What every driver does around one launch: find the label the node is for, and undo a failed
//! attempt (delete what it made and wait until it is gone) so the next attempt starts clean.

use crate::drivers::spec::{LabelSpec, PoolSpec};
use kubepool_driver_api::{LaunchError, NodeSpec};
use std::future::Future;
use tracing::warn;

/// The label `label` of pool `pool` among a provider's pools.
pub fn find_label<'a>(pools: &'a [PoolSpec], pool: &str, label: &str) -> Option<&'a LabelSpec> {
    pools.iter().find(|p| p.name == pool)?.labels.iter().find(|l| l.name == label)
}

/// The label a launch is for, or a permanent failure naming what is missing.
pub fn launch_label<'a>(pools: &'a [PoolSpec], provider: &str, spec: &NodeSpec) -> Result<&'a LabelSpec, LaunchError> {
    find_label(pools, &spec.pool, &spec.label).ok_or_else(|| {
        LaunchError::Permanent(format!("pool {} of provider {provider} has no label {}", spec.pool, spec.label))
    })
}

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
