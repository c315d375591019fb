//! Which ZooKeeper servers to reach and how: the options of a session, and those a
//! nodepool.yaml asks for.

use super::ZkError;
use crate::config::Config;
use std::path::PathBuf;
use std::time::Duration;

/// The PEM files of `zookeeper-tls`, and how the server's certificate is checked.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Whether the server's certificate must also name the host it is reached by. Off by
    /// default, as in Zuul and Nodepool: kazoo verifies the chain to `ca` but not the host name,
    /// and their certificates often name only the servers' pods (the upstream zuul-operator's
    /// do). The command line's `--zookeeper-tls-verify-hostname` turns it on.
    pub verify_hostname: bool,
}

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `host:port` of every server.
    pub servers: Vec<String>,
    /// A chroot such as `/nodepool-test`, or none.
    pub chroot: Option<String>,
    pub tls: Option<TlsFiles>,
    pub session_timeout: Duration,
}

impl ConnectOptions {
    /// The connect string: servers joined by commas (the chroot is applied after connecting).
    pub fn connect_string(&self) -> Result<String, ZkError> {
        if self.servers.is_empty() {
            return Err(ZkError::NoServers);
        }
        Ok(self.servers.join(","))
    }

    /// The chroot as an absolute path without a trailing slash, or `None` for the root.
    pub fn chroot_path(&self) -> Option<String> {
        let chroot = self.chroot.as_deref()?.trim_end_matches('/');
        match chroot {
            "" => None,
            c if c.starts_with('/') => Some(c.to_string()),
            c => Some(format!("/{c}")),
        }
    }
}

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
