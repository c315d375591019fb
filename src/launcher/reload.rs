//! Config reload, as Nodepool reloads nodepool.yaml: when the file changes on disk (read every
//! two seconds, so a Kubernetes ConfigMap's symlink swap is seen too) and on SIGHUP. A new
//! file that does not validate is rejected with all its errors, logged once, and the old config
//! keeps serving; a valid one becomes an [`Reload`] (new providers, pools and labels
//! start, removed ones stop, changed label settings apply to nodes launched from then on).
//! `zookeeper-*` changes need a restart and are reported as such.

use super::engine::Reload;
use super::{policies::Policies, setup};
use crate::config::{self, Config};
use crate::metrics::Metrics;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

/// How often the file is read for changes.
pub const POLL: Duration = Duration::from_secs(2);

/// What the engine needs from a config: the providers' drivers, pools and policies.
pub async fn engine_parts(
    config: &Config,
    metrics: &Metrics,
    settings: &setup::ClusterSettings,
) -> Result<Reload, crate::Error> {
    let providers = setup::providers(config, metrics, settings).await?;
    if providers.pools.is_empty() {
        warn!("no pool to serve (no kubepool provider with a pool)");
    }
    let mut policies = Policies::from_config(config);
    // min-ready only for labels a pool of ours serves (another launcher serves the others).
    policies.min_ready.retain(|label, _| providers.pools.iter().any(|p| p.labels.contains_key(label)));
    Ok(Reload { drivers: providers.drivers, clouds: providers.clouds, pools: providers.pools, policies })
}

/// Watches `path` (whose current contents gave `config`) and sends a [`Reload`] for each valid
/// change, until the engine stops listening.
pub async fn watch(
    path: PathBuf,
    config: Config,
    metrics: Metrics,
    settings: setup::ClusterSettings,
    reloads: mpsc::Sender<Reload>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(hangup) => Some(hangup),
        Err(error) => {
            warn!(%error, "cannot handle SIGHUP; the config is still reloaded when the file changes");
            None
        }
    };
    let mut current = config;
    let mut seen = std::fs::read(&path).ok();
    let mut last_problem: Option<String> = None;
    loop {
        let hup = async {
            match hangup.as_mut() {
                Some(hangup) => hangup.recv().await,
                None => std::future::pending().await,
            }
        };
        let forced = tokio::select! {
            _ = hup => {
                info!(file = %path.display(), "SIGHUP: reloading the config");
                true
            }
            _ = tokio::time::sleep(POLL) => false,
            _ = reloads.closed() => return,
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) => {
                report(&mut last_problem, format!("cannot read {}: {error}", path.display()));
                continue;
            }
        };
        if !forced && seen.as_deref() == Some(bytes.as_slice()) {
            continue;
        }
        seen = Some(bytes.clone());
        let text = String::from_utf8_lossy(&bytes);
        let new = match config::parse(&path, &text) {
            Ok(new) => new,
            Err(errors) => {
                report(&mut last_problem, format!("{errors}"));
                continue;
            }
        };
        last_problem = None;
        if new == current && !forced {
            continue;
        }
        if (&new.zookeeper_servers, &new.zookeeper_tls, new.zookeeper_timeout)
            != (&current.zookeeper_servers, &current.zookeeper_tls, current.zookeeper_timeout)
        {
            warn!("zookeeper-servers, zookeeper-tls and zookeeper-timeout take effect only after a restart");
        }
        match engine_parts(&new, &metrics, &settings).await {
            Ok(reload) => {
                let pools = reload.pools.len();
                if reloads.send(reload).await.is_err() {
                    return;
                }
                info!(file = %path.display(), pools, "config reloaded");
                current = new;
            }
            Err(error) => report(&mut last_problem, crate::error::chain(&error)),
        }
    }
}

/// Logs a rejected reload, once per distinct problem (the file is read every two seconds).
fn report(last: &mut Option<String>, problem: String) {
    if last.as_deref() != Some(problem.as_str()) {
        error!(errors = %problem, "config reload rejected; still serving the previous config");
        *last = Some(problem);
    }
}
