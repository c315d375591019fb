//! Opening a ZooKeeper session the way Nodepool does: every configured server in one connect
//! string, TLS with a client certificate when `zookeeper-tls` is set, an optional chroot.

use super::ZkError;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use zookeeper_client::{Acls, Client, CreateMode, TlsOptions};

/// Paths of the PEM files of `zookeeper-tls`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
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

fn read(what: &'static str, path: &Path) -> Result<String, ZkError> {
    std::fs::read_to_string(path).map_err(|source| ZkError::TlsFile { what, path: path.to_path_buf(), source })
}

/// Whether a ZooKeeper server's certificate must also name the host it is reached by. Off by
/// default, as in Zuul and Nodepool: kazoo verifies the chain to `zookeeper-tls.ca` but not the
/// host name, and their certificates often name only the servers' pods (the upstream
/// zuul-operator's do). The command line's `--zookeeper-tls-verify-hostname` turns it on.
static VERIFY_TLS_HOSTNAME: AtomicBool = AtomicBool::new(false);

/// Sets whether [`connect`] requires the server's certificate to name the host.
pub fn set_verify_tls_hostname(verify: bool) {
    VERIFY_TLS_HOSTNAME.store(verify, Ordering::Relaxed);
}

fn tls_options(files: &TlsFiles, verify_hostname: bool) -> Result<TlsOptions, ZkError> {
    let ca = read("ca", &files.ca)?;
    let cert = read("cert", &files.cert)?;
    let key = read("key", &files.key)?;
    let options = TlsOptions::default()
        .with_pem_ca(&ca)
        .map_err(|source| ZkError::TlsMaterial { what: "ca", source })?
        .with_pem_identity(&cert, &key)
        .map_err(|source| ZkError::TlsMaterial { what: "cert/key", source })?;
    if verify_hostname {
        return Ok(options);
    }
    // SAFETY: no memory-safety concern: zookeeper-client marks leaving out the host-name check
    // `unsafe` as a warning. The chain (and revocation) is still verified against the CA.
    #[allow(unsafe_code)]
    let options = unsafe { options.with_no_hostname_verification() };
    Ok(options)
}

/// Connects and waits until the session is established (or the session timeout passes). The
/// chroot znode is created if it does not exist yet, then the session is confined to it. A TLS
/// server's host name is checked as [`set_verify_tls_hostname`] says (default: not, as Zuul).
pub async fn connect(options: &ConnectOptions) -> Result<Client, ZkError> {
    connect_verifying(options, VERIFY_TLS_HOSTNAME.load(Ordering::Relaxed)).await
}

/// [`connect`], requiring (`verify_hostname`) or not that a TLS server's certificate names the
/// host it is reached by.
pub async fn connect_verifying(options: &ConnectOptions, verify_hostname: bool) -> Result<Client, ZkError> {
    let connect_string = options.connect_string()?;
    let connector = Client::connector()
        .with_session_timeout(options.session_timeout)
        .with_connection_timeout(options.session_timeout.min(Duration::from_secs(10)));
    let result = match &options.tls {
        Some(files) => connector.with_tls(tls_options(files, verify_hostname)?).secure_connect(&connect_string).await,
        None => connector.connect(&connect_string).await,
    };
    let client = result.map_err(|source| ZkError::Connect { servers: connect_string, source })?;
    let Some(chroot) = options.chroot_path() else {
        return Ok(client);
    };
    client
        .mkdir(&chroot, &CreateMode::Persistent.with_acls(Acls::anyone_all()))
        .await
        .map_err(ZkError::op("create", &chroot))?;
    client.chroot(chroot.as_str()).map_err(|_| ZkError::InvalidChroot(chroot.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(servers: &[&str], chroot: Option<&str>) -> ConnectOptions {
        ConnectOptions {
            servers: servers.iter().map(|s| s.to_string()).collect(),
            chroot: chroot.map(str::to_string),
            tls: None,
            session_timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn connect_string_joins_servers() {
        assert_eq!(options(&["a:2181", "b:2182"], None).connect_string().expect("ok"), "a:2181,b:2182");
    }

    #[test]
    fn chroot_is_normalised_to_an_absolute_path() {
        assert_eq!(options(&["a:2181"], Some("/nodepool/")).chroot_path().as_deref(), Some("/nodepool"));
        assert_eq!(options(&["a:2181"], Some("np")).chroot_path().as_deref(), Some("/np"));
        assert_eq!(options(&["a:2181"], Some("/")).chroot_path(), None);
        assert_eq!(options(&["a:2181"], None).chroot_path(), None);
    }

    #[test]
    fn no_servers_is_an_error() {
        assert!(matches!(options(&[], None).connect_string(), Err(ZkError::NoServers)));
    }
}
