//! ZooKeeper TLS as Zuul and Nodepool do it (kazoo): the server's certificate chain is verified
//! against `zookeeper-tls.ca`, its host name is not, unless asked. The real test ZooKeeper's
//! certificate names 127.0.0.1 and localhost; reached through a forwarder on 127.0.0.2, its name
//! does not match.

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
    let result = kubepool::zk::connect_verifying(&options, true).await;
    assert!(matches!(result, Err(kubepool::zk::ZkError::Connect { .. })), "expected a refused handshake: {result:?}");
}

#[tokio::test]
async fn with_the_host_name_required_a_certificate_naming_the_host_is_accepted() {
    let options = options_for(common::required_env("KUBEPOOL_TEST_ZK_TLS"));
    let client = kubepool::zk::connect_verifying(&options, true).await.expect("connect with the host-name check");
    round_trip(&client).await;
}

#[tokio::test]
async fn without_the_host_name_check_the_chain_is_still_verified() {
    let mut options = options_for(mismatched_address().await.to_string());
    // The client certificate is not a CA of the server's: the handshake must fail.
    if let Some(tls) = options.tls.as_mut() {
        tls.ca = tls.cert.clone();
    }
    let result = kubepool::zk::connect_verifying(&options, false).await;
    assert!(matches!(result, Err(kubepool::zk::ZkError::Connect { .. })), "an untrusted chain must fail: {result:?}");
}
