//! What every end-to-end test needs: the test bed's addresses, taken from the environment that
//! `tests/cluster/up.sh` writes (or that points at another cluster and ZooKeeper).
//!
//! A missing variable is a test failure with a clear message, never a silent skip: run the
//! suite with `make test`, which brings the test bed up first.

#![allow(dead_code)]

use std::time::Duration;

/// The value of `name`, or a panic that says how to get one.
pub fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("{name} is not set: run the end-to-end tests with `make test` (it starts the test bed), or set it"),
    }
}

/// The image pods of the tests run (the test bed's locally built node image).
pub fn test_image() -> String {
    std::env::var("KUBEPOOL_TEST_IMAGE").unwrap_or_else(|_| "localhost/kubepool-node:bookworm".to_string())
}

/// The kubectl to check results with.
pub fn kubectl() -> String {
    std::env::var("KUBEPOOL_TEST_KUBECTL").unwrap_or_else(|_| "kubectl".to_string())
}

/// A name unique to this test run, for namespaces, pods and znodes.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

/// An admin client for the test cluster (KUBECONFIG must be set).
pub async fn admin_client() -> kube::Client {
    required_env("KUBECONFIG");
    kubepool::k8s::connect(None).await.expect("connect to the test cluster").client
}

/// Connect options for the test ZooKeeper, plain or TLS.
pub fn zookeeper_options(tls: bool) -> kubepool::zk::ConnectOptions {
    let (server, tls) = if tls {
        (
            required_env("KUBEPOOL_TEST_ZK_TLS"),
            Some(kubepool::zk::TlsFiles {
                ca: required_env("KUBEPOOL_TEST_ZK_CA").into(),
                cert: required_env("KUBEPOOL_TEST_ZK_CERT").into(),
                key: required_env("KUBEPOOL_TEST_ZK_KEY").into(),
            }),
        )
    } else {
        (required_env("KUBEPOOL_TEST_ZK"), None)
    };
    kubepool::zk::ConnectOptions { servers: vec![server], chroot: None, tls, session_timeout: Duration::from_secs(10) }
}
