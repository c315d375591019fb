//! The ZooKeeper connection a nodepool.yaml asks for.

use super::{ConnectOptions, TlsFiles};
use crate::config::Config;
use std::time::Duration;

/// ZooKeeper connection options from the config's `zookeeper-*` keys; `verify_hostname` says
/// whether a TLS server's certificate must name the host it is reached by (see
/// [`TlsFiles::verify_hostname`]).
pub fn zookeeper_options(config: &Config, verify_hostname: bool) -> ConnectOptions {
    ConnectOptions {
        servers: config.zookeeper_servers.iter().map(|s| format!("{}:{}", s.host, s.port)).collect(),
        chroot: config.zookeeper_servers.iter().find_map(|s| s.chroot.clone()),
        tls: config.zookeeper_tls.as_ref().map(|t| TlsFiles {
            ca: t.ca.clone(),
            cert: t.cert.clone(),
            key: t.key.clone(),
            verify_hostname,
        }),
        session_timeout: Duration::from_secs_f64(config.zookeeper_timeout.max(1.0)),
    }
}
