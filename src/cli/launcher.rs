//! `kubepool launcher`: the nodepool-launcher replacement.

use crate::{Error, config, launcher};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct LauncherArgs {
    /// The nodepool.yaml to serve.
    #[arg(short = 'c', long = "config", default_value = "/etc/nodepool/nodepool.yaml", env = "KUBEPOOL_CONFIG")]
    pub config: PathBuf,
}

pub async fn run(args: LauncherArgs) -> Result<(), Error> {
    let config = config::load(&args.config)?;
    let shutdown = shutdown_signal()?;
    launcher::run(&config, shutdown).await
}

/// Completes on the first SIGINT or SIGTERM.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|source| Error::Signal { signal: "SIGINT", source })?;
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|source| Error::Signal { signal: "SIGTERM", source })?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received"),
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
        }
    })
}
