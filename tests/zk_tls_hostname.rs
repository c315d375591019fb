//! ZooKeeper TLS as Zuul and Nodepool do it (kazoo): the server's certificate chain is verified
//! against `zookeeper-tls.ca`, its host name is not, unless asked. The real test ZooKeeper's
//! certificate names 127.0.0.1 and localhost; reached through a forwarder on 127.0.0.2, its name
//! does not match. The failure diagnosis (`zk::reach`), which makes its own handshake, checks
//! the same: it reports a TLS error only for a certificate the connection refuses.

mod common;

use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// Forwards every connection on 127.0.0.2 (a loopback address the certificate does not name) to
/// the test ZooKeeper's TLS port.
async fn mismatched_address() -> SocketAddr {
    let upstream = common::required_env("KUBEPOOL_TEST_ZK_TLS");
    let listener = TcpListener::bind("127.0.0.2:0").await.expect("bind 127.0.0.2");
    let addr = listener.local_addr().expect("forwarder address");
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    addr
}

fn options_for(server: String) -> kubepool::zk::ConnectOptions {
    let mut options = common::zookeeper_options(true);
    options.servers = vec![server];
    options.session_timeout = Duration::from_secs(4);
    options
}

fn verifying(mut options: kubepool::zk::ConnectOptions, verify_hostname: bool) -> kubepool::zk::ConnectOptions {
    if let Some(tls) = options.tls.as_mut() {
        tls.verify_hostname = verify_hostname;
    }
    options
}

async fn round_trip(client: &zookeeper_client::Client) {
    let stat = client.check_stat("/").await.expect("stat /");
    assert!(stat.is_some(), "the root exists");
}

#[tokio::test]
async fn by_default_a_certificate_not_naming_the_host_is_accepted_as_kazoo_does() {
    let options = options_for(mismatched_address().await.to_string());
    let client = kubepool::zk::connect(&options).await.expect("connect without the host-name check");
    round_trip(&client).await;
}

#[tokio::test]
async fn with_the_host_name_required_a_certificate_not_naming_the_host_is_refused() {
    let options = options_for(mismatched_address().await.to_string());
    let result = kubepool::zk::connect(&verifying(options, true)).await;
    assert!(matches!(result, Err(kubepool::zk::ZkError::Connect { .. })), "expected a refused handshake: {result:?}");
}

#[tokio::test]
async fn with_the_host_name_required_a_certificate_naming_the_host_is_accepted() {
    let options = options_for(common::required_env("KUBEPOOL_TEST_ZK_TLS"));
    let client = kubepool::zk::connect(&verifying(options, true)).await.expect("connect with the host-name check");
    round_trip(&client).await;
}

#[tokio::test]
async fn without_the_host_name_check_the_chain_is_still_verified() {
    let mut options = options_for(mismatched_address().await.to_string());
    // The client certificate is not a CA of the server's: the handshake must fail.
    if let Some(tls) = options.tls.as_mut() {
        tls.ca = tls.cert.clone();
    }
    let result = kubepool::zk::connect(&verifying(options, false)).await;
    assert!(matches!(result, Err(kubepool::zk::ZkError::Connect { .. })), "an untrusted chain must fail: {result:?}");
}

#[tokio::test]
async fn the_diagnosis_accepts_a_certificate_not_naming_the_host_when_the_connection_does() {
    let options = verifying(options_for(mismatched_address().await.to_string()), false);
    let causes = kubepool::zk::reach::diagnose(&options, "the client's error").await;
    assert_eq!(causes.len(), 1);
    // TLS is fine at this layer: what is left is the session (the error the client gave).
    assert_eq!(causes[0].cause, kubepool::zk::reach::Cause::Session("the client's error".into()), "{causes:?}");
}

#[tokio::test]
async fn the_diagnosis_reports_a_name_mismatch_when_the_host_name_is_required() {
    let options = verifying(options_for(mismatched_address().await.to_string()), true);
    let causes = kubepool::zk::reach::diagnose(&options, "the client's error").await;
    match &causes[0].cause {
        kubepool::zk::reach::Cause::Tls(text) => assert!(text.contains("not valid for name"), "{text}"),
        other => panic!("expected a TLS name error, got {other}"),
    }
}

#[tokio::test]
async fn the_diagnosis_reports_an_untrusted_chain_without_the_host_name_check() {
    let mut options = verifying(options_for(mismatched_address().await.to_string()), false);
    if let Some(tls) = options.tls.as_mut() {
        tls.ca = tls.cert.clone();
    }
    let causes = kubepool::zk::reach::diagnose(&options, "the client's error").await;
    match &causes[0].cause {
        kubepool::zk::reach::Cause::Tls(text) => {
            assert!(text.contains("UnknownIssuer") || text.contains("issuer"), "{text}")
        }
        other => panic!("expected a TLS chain error, got {other}"),
    }
}
