//! `kubepool list`, `kubepool info` and `kubepool delete` against the real ZooKeeper.

mod common;
mod zk_support;

use kubepool::zk::{Node, NodeRequest, NodeState, Wait};
use std::process::Command;
use zk_support::TestZk;

fn kubepool(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let output =
        Command::new(env!("CARGO_BIN_EXE_kubepool")).args(args).arg("-c").arg(config).output().expect("run kubepool");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn list_info_and_delete_read_and_write_zookeeper_like_nodepools_commands() {
    let zk = TestZk::new().await;
    let dir = std::env::temp_dir().join(common::unique_name("kubepool-ops"));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = zk.write_nodepool_yaml(&dir);
    let mut node = Node::new("k8s-namespace");
    node.provider = Some("k8s".into());
    node.pool = Some("main".into());
    node.state = NodeState::Ready;
    node.external_id = Some("main-0000000000".into());
    let free = zk.store.create_node(&node).await.expect("node");
    let busy = zk.store.create_node(&node).await.expect("node");
    let held = zk.store.lock_node(&busy.id, Wait::No).await.expect("lock").expect("free");
    let request =
        zk.store.create_request("200", &NodeRequest::new(vec!["k8s-namespace".into()]), false).await.expect("req");

    let (code, out, err) = kubepool(&config, &["list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("+----"), "Nodepool's table: {out}");
    let free_line = out.lines().find(|l| l.starts_with(&format!("| {} ", free.id))).expect("free node listed");
    assert!(
        free_line.contains("| ready ") && free_line.contains("main-0000000000") && free_line.contains("| unlocked "),
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with(&format!("| {} ", busy.id)) && l.contains("| locked ")), "{out}");

    let (code, out, _) = kubepool(&config, &["list", "--requests", "--json"]);
    assert_eq!(code, 0);
    let requests: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(requests[0]["id"], request.id.as_str());
    assert_eq!(requests[0]["state"], "requested");

    let (code, out, _) = kubepool(&config, &["info", "--json"]);
    assert_eq!(code, 0);
    let info: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(info["nodes"]["k8s"]["ready"], 2);
    assert_eq!(info["requests"]["requested"], 1);

    let (code, out, err) = kubepool(&config, &["delete", &free.id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&free.id) && out.contains("| deleting "), "the node's row, as nodepool delete: {out}");
    let marked = zk.store.get_node(&free.id).await.expect("read").expect("node");
    assert_eq!(marked.value.state, NodeState::Deleting);

    let (code, _, err) = kubepool(&config, &["delete", &busy.id, "--wait-seconds", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains("is locked"), "{err}");
    assert_eq!(zk.store.get_node(&busy.id).await.expect("read").expect("node").value.state, NodeState::Ready);

    let (code, _, err) = kubepool(&config, &["delete", "0000009999"]);
    assert_eq!(code, 1);
    assert!(err.contains("no node 0000009999"), "{err}");
    held.release().await.expect("release");
    let _ = std::fs::remove_dir_all(&dir);
    zk.cleanup().await;
}
