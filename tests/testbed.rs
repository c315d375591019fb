//! The test bed itself works: the Kubernetes API (through kube-rs and the real kubectl), pods
//! from the local image with exec, and ZooKeeper on its plain and TLS ports.

mod common;

use futures::{AsyncBufReadExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, AttachParams, DeleteParams, ObjectMeta, PostParams};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use zookeeper_client::{Acls, CreateMode};

async fn create_namespace(client: &kube::Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace =
        Namespace { metadata: ObjectMeta { name: Some(name.to_string()), ..Default::default() }, ..Default::default() };
    namespaces.create(&PostParams::default(), &namespace).await.expect("create namespace");
}

async fn delete_namespace(client: &kube::Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.delete(name, &DeleteParams::background()).await.expect("delete namespace");
}

#[tokio::test]
async fn namespace_created_through_kube_rs_is_seen_by_kubectl() {
    let client = common::admin_client().await;
    let name = common::unique_name("kubepool-test-ns");
    create_namespace(&client, &name).await;

    let output = std::process::Command::new(common::kubectl())
        .args(["get", "namespace", &name, "-o", "jsonpath={.metadata.name} {.status.phase}"])
        .output()
        .expect("run kubectl");
    let stdout = String::from_utf8_lossy(&output.stdout);
    delete_namespace(&client, &name).await;
    assert!(output.status.success(), "kubectl failed: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout, format!("{name} Active"));
}

#[tokio::test]
async fn pod_from_the_local_image_runs_and_exec_returns_streams_and_exit_status() {
    let client = common::admin_client().await;
    let namespace = common::unique_name("kubepool-test-pod");
    create_namespace(&client, &namespace).await;

    let pods = common::run_pod(
        &client,
        &namespace,
        "node",
        &["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"],
    )
    .await;

    let mut attached = pods
        .exec(
            "node",
            ["sh", "-c", "echo out; echo err >&2; cat /etc/debian_version >/dev/null; exit 3"],
            &AttachParams::default().stdin(false).stdout(true).stderr(true),
        )
        .await
        .expect("exec");
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut out = attached.stdout().expect("stdout stream");
    let mut err = attached.stderr().expect("stderr stream");
    let status = attached.take_status().expect("status channel");
    let (r1, r2) = tokio::join!(out.read_to_string(&mut stdout), err.read_to_string(&mut stderr));
    r1.expect("read stdout");
    r2.expect("read stderr");
    let status = status.await.expect("exec status");
    attached.join().await.expect("exec finished");

    let exit_code = status
        .details
        .and_then(|d| d.causes)
        .into_iter()
        .flatten()
        .find(|c| c.reason.as_deref() == Some("ExitCode"))
        .and_then(|c| c.message);
    delete_namespace(&client, &namespace).await;
    assert_eq!(stdout, "out\n");
    assert_eq!(stderr, "err\n");
    assert_eq!(status.status.as_deref(), Some("Failure"));
    assert_eq!(exit_code.as_deref(), Some("3"));
}

#[tokio::test]
async fn pod_logs_stream_from_the_local_image() {
    let client = common::admin_client().await;
    let namespace = common::unique_name("kubepool-test-logs");
    create_namespace(&client, &namespace).await;
    let pods = common::run_pod(
        &client,
        &namespace,
        "printer",
        &["/bin/bash", "-c", "for i in 1 2 3; do echo line $i; done; sleep 1"],
    )
    .await;
    let lines: Vec<String> = pods
        .log_stream("printer", &kube::api::LogParams { follow: true, ..Default::default() })
        .await
        .expect("log stream")
        .lines()
        .try_collect()
        .await
        .expect("read logs");
    delete_namespace(&client, &namespace).await;
    assert_eq!(lines, ["line 1", "line 2", "line 3"]);
}

async fn write_and_read_znode(tls: bool) {
    let options = common::zookeeper_options(tls);
    let client = kubepool::zk::connect(&options).await.expect("connect to ZooKeeper");
    let dir = "/kubepool-test";
    client.mkdir(dir, &CreateMode::Persistent.with_acls(Acls::anyone_all())).await.expect("mkdir");
    let path = format!("{dir}/{}", common::unique_name(if tls { "tls" } else { "plain" }));
    let data = br#"{"state":"requested"}"#;
    client.create(&path, data, &CreateMode::Ephemeral.with_acls(Acls::anyone_all())).await.expect("create znode");
    let (read, stat) = client.get_data(&path).await.expect("read znode");
    assert_eq!(read, data);
    assert!(stat.ephemeral_owner != 0, "an ephemeral znode has an owner session");
    client.delete(&path, None).await.expect("delete znode");
    assert!(client.check_stat(&path).await.expect("stat").is_none());
}

#[tokio::test]
async fn zookeeper_znode_round_trip_on_the_plain_port() {
    write_and_read_znode(false).await;
}

#[tokio::test]
async fn zookeeper_znode_round_trip_on_the_tls_port_with_a_client_certificate() {
    write_and_read_znode(true).await;
}

#[tokio::test]
async fn zookeeper_tls_port_refuses_a_client_without_the_ca() {
    let mut options = common::zookeeper_options(true);
    // The client certificate's CA is not the server's: the handshake must fail, not fall back.
    if let Some(tls) = options.tls.as_mut() {
        tls.ca = tls.cert.clone();
    }
    options.session_timeout = Duration::from_secs(3);
    let result = kubepool::zk::connect(&options).await;
    assert!(
        matches!(result, Err(kubepool::zk::ZkError::Connect { .. })),
        "a server certificate from an untrusted CA must fail the connection, got {result:?}"
    );
}
