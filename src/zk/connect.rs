//! Opening a ZooKeeper session the way Nodepool does: every configured server in one connect
//! string, TLS with a client certificate when `zookeeper-tls` is set, an optional chroot.

use super::ZkError;
use super::options::{ConnectOptions, TlsFiles};
use std::path::Path;
use std::time::Duration;
use zookeeper_client::{Acls, Client, CreateMode, TlsOptions};

fn read(what: &'static str, path: &Path) -> Result<String, ZkError> {
    std::fs::read_to_string(path).map_err(|source| ZkError::TlsFile { what, path: path.to_path_buf(), source })
}

fn tls_options(files: &TlsFiles) -> Result<TlsOptions, ZkError> {
    let ca = read("ca", &files.ca)?;
    let cert = read("cert", &files.cert)?;
    let key = read("key", &files.key)?;
    let options = TlsOptions::default()
        .with_pem_ca(&ca)
        .map_err(|source| ZkError::TlsMaterial { what: "ca", source })?
        .with_pem_identity(&cert, &key)
        .map_err(|source| ZkError::TlsMaterial { what: "cert/key", source })?;
    if files.verify_hostname {
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
/// server's host name is checked as [`TlsFiles::verify_hostname`] says (default: not, as Zuul).
pub async fn connect(options: &ConnectOptions) -> Result<Client, ZkError> {
    let connect_string = options.connect_string()?;
    let connector = Client::connector()
        .with_session_timeout(options.session_timeout)
        .with_connection_timeout(options.session_timeout.min(Duration::from_secs(10)));
    let result = match &options.tls {
        Some(files) => connector.with_tls(tls_options(files)?).secure_connect(&connect_string).await,
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

/// Capped exponential backoff between connection attempts: 1 s, 2 s, 4 s … 30 s, each with up
/// to 10 % jitter so that launchers restarted together do not retry in lock step.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_secs(1);
    pub const CAP: Duration = Duration::from_secs(30);

    pub fn new() -> Self {
        Self { next: Self::FIRST }
    }

    /// The wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(Self::CAP);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
        base + base.mul_f64(f64::from(nanos % 1000) / 10_000.0)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

/// Errors no retry can mend: the configuration itself is wrong.
fn is_permanent(error: &ZkError) -> bool {
    matches!(error, ZkError::NoServers | ZkError::InvalidChroot(_) | ZkError::TlsMaterial { .. })
}

/// Connects, retrying with [`Backoff`] for as long as it takes. Each failed attempt is logged
/// with its real cause per server ([`super::reach::diagnose`]): the client library reports
/// them all as time-outs. Only a configuration that can never work is returned as an error.
pub async fn connect_patiently(options: &ConnectOptions) -> Result<Client, ZkError> {
    let mut backoff = Backoff::new();
    let mut attempt: u64 = 0;
    loop {
        attempt += 1;
        let error = match connect(options).await {
            Ok(client) => {
                if attempt > 1 {
                    tracing::info!(attempt, "connected to ZooKeeper after {} failed attempts", attempt - 1);
                }
                return Ok(client);
            }
            Err(error) if is_permanent(&error) => return Err(error),
            Err(error) => error,
        };
        let causes = super::reach::diagnose(options, &crate::error::chain(&error)).await;
        let delay = backoff.next_delay();
        let causes: Vec<String> = causes.iter().map(ToString::to_string).collect();
        tracing::warn!(
            attempt,
            retry_in_seconds = delay.as_secs_f64(),
            cause = %causes.join("; "),
            "cannot reach ZooKeeper; retrying"
        );
        tokio::time::sleep(delay).await;
    }
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
    fn backoff_doubles_up_to_its_cap() {
        let mut backoff = Backoff::new();
        let delays: Vec<Duration> = (0..8).map(|_| backoff.next_delay()).collect();
        for (delay, base) in delays.iter().zip([1, 2, 4, 8, 16, 30, 30, 30]) {
            let base = Duration::from_secs(base);
            assert!(*delay >= base && *delay <= base.mul_f64(1.1), "{delay:?} for {base:?}");
        }
    }

    #[test]
    fn no_servers_is_an_error() {
        assert!(matches!(options(&[], None).connect_string(), Err(ZkError::NoServers)));
    }
}
