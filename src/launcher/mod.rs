//! The launcher: where ZooKeeper and the drivers meet.
//!
//! This first version connects to ZooKeeper (plain or TLS) and to the cluster of every
//! kubernetes/openshift/openshiftpods provider, registers its launcher component, and stops
//! cleanly on SIGINT or SIGTERM. Fulfilling node requests (reference §2.8) is the launcher
//! issue's work and is not done yet.

pub mod cleanup;
pub mod context;
pub mod decide;
pub mod deleter;
pub mod engine;
pub mod handler;
pub mod plan;
pub mod pool_worker;
pub mod quota;

use crate::config::Config;
use crate::metrics::{Metrics, ProviderLabels};
use crate::zk::{self, ComponentRegistration, ConnectOptions, LauncherComponent, TlsFiles};
use crate::{Error, k8s};
use std::future::Future;
use std::time::Duration;
use tracing::{Instrument, info, info_span, warn};

/// ZooKeeper connection options from the config's `zookeeper-*` keys.
pub fn zookeeper_options(config: &Config) -> ConnectOptions {
    ConnectOptions {
        servers: config.zookeeper_servers.iter().map(|s| format!("{}:{}", s.host, s.port)).collect(),
        chroot: config.zookeeper_servers.iter().find_map(|s| s.chroot.clone()),
        tls: config.zookeeper_tls.as_ref().map(|t| TlsFiles {
            ca: t.ca.clone(),
            cert: t.cert.clone(),
            key: t.key.clone(),
        }),
        session_timeout: Duration::from_secs_f64(config.zookeeper_timeout.max(1.0)),
    }
}

/// This machine's host name, as Nodepool registers it.
pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Runs the launcher until `shutdown` completes.
pub async fn run(config: &Config, metrics: Metrics, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    let options = zookeeper_options(config);
    let zk = zk::connect(&options).await?;
    info!(
        servers = %options.servers.join(","),
        tls = options.tls.is_some(),
        session_id = ?zk.session_id(),
        "connected to ZooKeeper"
    );

    let mut providers = 0;
    for provider in config.kubepool_providers() {
        let span = info_span!("provider", name = %provider.name, driver = %provider.driver);
        async {
            let cluster = k8s::connect(provider.context.as_deref()).await?;
            let version = cluster.client.apiserver_version().await.map_err(|source| k8s::K8sError::Api {
                what: "GET /version",
                server: cluster.server.clone(),
                source,
            })?;
            info!(server = %cluster.server, version = %version.git_version, "connected to the cluster");
            metrics.provider_connected.get_or_create(&ProviderLabels { provider: provider.name.clone() }).set(1);
            Ok::<_, Error>(())
        }
        .instrument(span)
        .await?;
        providers += 1;
    }
    if providers == 0 {
        warn!("no provider with driver kubernetes, openshift or openshiftpods: nothing to serve");
    }

    let registration = ComponentRegistration::register(&zk, &LauncherComponent::running(hostname())).await?;
    info!(component = %registration.path, "launcher registered; node request handling is not implemented yet");

    shutdown.await;
    info!("shutting down");
    registration.remove(&zk).await?;
    drop(zk);
    info!("stopped");
    Ok(())
}
