//! Why a ZooKeeper server cannot be reached. The client library reports every failed
//! connection attempt as a time-out; an operator needs the real cause (a wrong host name, a
//! server that is down, a certificate that does not fit, a blackholed path), so after a failed
//! attempt each server is probed step by step: name lookup, TCP connect, TLS handshake.
//!
//! The handshake checks what the real connection checks: the server's chain against
//! `zookeeper-tls.ca`, and its host name only when [`TlsFiles::verify_hostname`] is on (a
//! certificate the connection accepts is never reported as a TLS error).

use super::options::{ConnectOptions, TlsFiles};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// What stopped a connection to one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The host name does not resolve.
    Dns(String),
    /// Nothing listens on the port (RST).
    Refused,
    /// No answer within the time allowed (a blackholed path or a stopped host).
    Timeout(Duration),
    /// The TCP connection opened, the TLS handshake failed.
    Tls(String),
    /// Another I/O error on connect.
    Io(String),
    /// TCP (and TLS) work; ZooKeeper itself did not set up a session.
    Session(String),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Dns(error) => write!(f, "DNS failure: {error}"),
            Cause::Refused => f.write_str("connection refused"),
            Cause::Timeout(after) => write!(f, "timed out after {:.1} s", after.as_secs_f64()),
            Cause::Tls(error) => write!(f, "TLS error: {error}"),
            Cause::Io(error) => write!(f, "connect failed: {error}"),
            Cause::Session(error) => write!(f, "server reachable, no session: {error}"),
        }
    }
}

/// One server's probe result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCause {
    pub server: String,
    pub cause: Cause,
}

impl fmt::Display for ServerCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.server, self.cause)
    }
}

/// Probes every configured server; `session_error` is what the client said, used when the
/// network path and TLS are fine.
pub async fn diagnose(options: &ConnectOptions, session_error: &str) -> Vec<ServerCause> {
    let timeout = options.session_timeout.clamp(Duration::from_secs(1), Duration::from_secs(5));
    let tls = match &options.tls {
        Some(files) => match client_config(files) {
            Ok(config) => Some(config),
            Err(error) => {
                let cause = Cause::Tls(error);
                return options
                    .servers
                    .iter()
                    .map(|s| ServerCause { server: s.clone(), cause: cause.clone() })
                    .collect();
            }
        },
        None => None,
    };
    let probes = options.servers.iter().map(|server| {
        let tls = tls.clone();
        async move {
            let cause = probe(server, timeout, tls).await.unwrap_or_else(|| Cause::Session(session_error.to_string()));
            ServerCause { server: server.clone(), cause }
        }
    });
    futures::future::join_all(probes).await
}

/// `None` when the server answers at every layer.
async fn probe(server: &str, timeout: Duration, tls: Option<Arc<rustls::ClientConfig>>) -> Option<Cause> {
    let (host, _) = split_host_port(server);
    let addresses = match tokio::time::timeout(timeout, tokio::net::lookup_host(server)).await {
        Err(_) => return Some(Cause::Dns(format!("lookup of {host} timed out"))),
        Ok(Err(error)) => return Some(Cause::Dns(format!("{host}: {error}"))),
        Ok(Ok(addresses)) => addresses.collect::<Vec<_>>(),
    };
    let Some(address) = addresses.first().copied() else {
        return Some(Cause::Dns(format!("{host} has no address")));
    };
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
        Err(_) => return Some(Cause::Timeout(timeout)),
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => return Some(Cause::Refused),
        Ok(Err(error)) => return Some(Cause::Io(error.to_string())),
        Ok(Ok(stream)) => stream,
    };
    let config = tls?;
    let name = match rustls::pki_types::ServerName::try_from(host.to_string()) {
        Ok(name) => name,
        Err(error) => return Some(Cause::Tls(format!("{host} is not a valid server name: {error}"))),
    };
    let connector = tokio_rustls::TlsConnector::from(config);
    match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
        Err(_) => Some(Cause::Timeout(timeout)),
        Ok(Err(error)) => Some(Cause::Tls(error.to_string())),
        Ok(Ok(_)) => None,
    }
}

/// `host:port` → (`host`, `port`), brackets of an IPv6 literal removed.
fn split_host_port(server: &str) -> (&str, &str) {
    let (host, port) = server.rsplit_once(':').unwrap_or((server, ""));
    (host.trim_start_matches('[').trim_end_matches(']'), port)
}

/// A rustls client configuration as the ZooKeeper client builds it: the configured CA as the
/// only root, the host name verified only if asked, the client certificate for mutual TLS.
fn client_config(files: &TlsFiles) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    let cas = CertificateDer::pem_file_iter(&files.ca)
        .map_err(|e| format!("CA {}: {e}", files.ca.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("CA {}: {e}", files.ca.display()))?;
    for ca in cas {
        roots.add(ca).map_err(|e| format!("CA {}: {e}", files.ca.display()))?;
    }
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| format!("certificate {}: {e}", files.cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("certificate {}: {e}", files.cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| format!("key {}: {e}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if files.verify_hostname {
        builder.with_root_certificates(roots)
    } else {
        let verifier = ChainVerifier { roots, provider };
        builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier))
    };
    let config = builder
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("client certificate {}: {e}", files.cert.display()))?;
    Ok(Arc::new(config))
}

/// Verifies a server's certificate chain to the roots and not its host name: what the ZooKeeper
/// client (and kazoo) check when [`TlsFiles::verify_hostname`] is off. Signatures of the
/// handshake are verified as rustls' own verifier does.
#[derive(Debug)]
struct ChainVerifier {
    roots: rustls::RootCertStore,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for ChainVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(servers: Vec<String>) -> ConnectOptions {
        ConnectOptions { servers, chroot: None, tls: None, session_timeout: Duration::from_secs(2) }
    }

    #[tokio::test]
    async fn a_closed_port_is_refused() {
        // Bind, learn the port, close: nothing listens there now.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let causes = diagnose(&options(vec![addr.to_string()]), "x").await;
        assert_eq!(causes[0].cause, Cause::Refused, "{causes:?}");
    }

    #[tokio::test]
    async fn an_unknown_host_is_a_dns_failure() {
        // `.invalid` never resolves (RFC 6761); the lookup fails locally.
        let causes = diagnose(&options(vec!["zk.kubepool.invalid:2181".into()]), "x").await;
        assert!(matches!(&causes[0].cause, Cause::Dns(text) if text.contains("zk.kubepool.invalid")), "{causes:?}");
    }

    #[tokio::test]
    async fn a_listener_that_answers_is_a_session_problem() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let causes = diagnose(&options(vec![addr.to_string()]), "no session").await;
        assert_eq!(causes[0].cause, Cause::Session("no session".into()), "{causes:?}");
    }

    /// A TLS server on 127.0.0.1 whose certificate (from its own CA) names only `localhost`,
    /// and the PEM files of a client trusting that CA (its certificate the server's own).
    async fn tls_server_naming_localhost(dir: &std::path::Path) -> (String, TlsFiles) {
        let ca_key = rcgen::KeyPair::generate().expect("ca key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("ca cert");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .expect("leaf params")
            .signed_by(&leaf_key, &issuer)
            .expect("leaf cert");
        let files = TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            verify_hostname: false,
        };
        std::fs::write(&files.ca, ca.pem()).expect("write ca");
        std::fs::write(&files.cert, leaf.pem()).expect("write cert");
        std::fs::write(&files.key, leaf_key.serialize_pem()).expect("write key");
        let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).expect("key der");
        let config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("protocols")
                .with_no_client_auth()
                .with_single_cert(vec![leaf.der().clone()], key)
                .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = acceptor.accept(stream).await;
                });
            }
        });
        (addr.to_string(), files)
    }

    #[tokio::test]
    async fn a_certificate_not_naming_the_host_is_a_tls_error_only_when_the_name_is_required() {
        let dir = std::env::temp_dir().join(format!("kubepool-reach-{}", rand_suffix()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (server, files) = tls_server_naming_localhost(&dir).await;
        let mut options = options(vec![server]);
        options.tls = Some(files);
        // As the connection: the chain is trusted, the name is not checked.
        let causes = diagnose(&options, "no session").await;
        assert_eq!(causes[0].cause, Cause::Session("no session".into()), "{causes:?}");
        // With the host name required, 127.0.0.1 is not a name of the certificate.
        if let Some(tls) = options.tls.as_mut() {
            tls.verify_hostname = true;
        }
        let causes = diagnose(&options, "no session").await;
        assert!(matches!(&causes[0].cause, Cause::Tls(text) if text.contains("not valid for name")), "{causes:?}");
        // Without the name check the chain still is: a CA that did not sign it is refused.
        if let Some(tls) = options.tls.as_mut() {
            tls.verify_hostname = false;
            tls.ca = tls.cert.clone();
        }
        let causes = diagnose(&options, "no session").await;
        assert!(matches!(&causes[0].cause, Cause::Tls(_)), "{causes:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn rand_suffix() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
    }

    #[test]
    fn host_and_port_are_split() {
        assert_eq!(split_host_port("zk1:2181"), ("zk1", "2181"));
        assert_eq!(split_host_port("[::1]:2181"), ("::1", "2181"));
    }
}
