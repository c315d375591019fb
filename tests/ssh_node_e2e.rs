//! SSH nodes end to end (issue 10) on the test cluster, with the real parts on both sides: a
//! nodepool.yaml whose pod labels carry `kubepool.io/ssh`, the launcher set up from it, the
//! request submitted and the nodes accepted by Zuul's own code, the inventory and known_hosts
//! written by Zuul's own executor code, and the real `ansible-playbook` over the plain `ssh`
//! connection with `StrictHostKeyChecking=yes` running `command` and `synchronize`.
//!
//! Needs kube-proxy in the test bed (tests/cluster/up.sh starts it): the NodePort is opened on
//! 127.0.0.1 only.

mod common;
#[path = "support/launcher.rs"]
mod launcher_support;
mod zk_support;

use common::Scratch;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::Api;
use kubepool::zk::RequestState;
use launcher_support::{Launcher, namespace_exists, submit, wait_for_state, wait_until_gone};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use zk_support::{RunningPeer, TestZk};

const SSH_LABEL: &str = "ssh-debian";
const INGRESS_LABEL: &str = "ssh-ingress";

/// The executor's key pair, made with ssh-keygen.
fn executor_key(dir: &Path) -> PathBuf {
    let key = dir.join("executor_key");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "zuul@executor", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen");
    assert!(out.status.success(), "{out:?}");
    key
}

fn config(pool: &str, public_key: &Path, node_port: u16) -> String {
    let image = common::test_image();
    let public_key = public_key.display();
    format!(
        r#"
zookeeper-servers:
  - host: 127.0.0.1
labels:
  - name: {SSH_LABEL}
  - name: {INGRESS_LABEL}
providers:
  - name: ssh-provider
    driver: kubernetes
    pools:
      - name: {pool}
        max-servers: 4
        labels:
          - name: {SSH_LABEL}
            type: pod
            image: {image}
            image-pull: Never
            python-path: /usr/bin/python3
            annotations:
              kubepool.test/purpose: ssh-e2e
              kubepool.io/ssh:
                authorized-keys:
                  file: {public_key}
                service: NodePort
          - name: {INGRESS_LABEL}
            type: pod
            image: {image}
            image-pull: Never
            python-path: /usr/bin/python3
            annotations:
              kubepool.io/ssh:
                username: tester
                authorized-keys:
                  file: {public_key}
                service: NodePort
                node-port: {node_port}
                ingress:
                  class: ssh-passthrough
                  host: localhost
                  port: {node_port}
                  annotations:
                    example.org/tcp-passthrough: "true"
"#
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Zuul's executor code writes the inventory and known_hosts for `record` (the node as Zuul
/// serializes it) into `out/0/`.
async fn render_with_zuul(record: &Value, out: &Path) -> PathBuf {
    std::fs::create_dir_all(out).expect("render dir");
    let cases = out.join("cases.json");
    let case = serde_json::json!([{"nodes": [{"name": "sshnode", "node": record}]}]);
    std::fs::write(&cases, serde_json::to_vec(&case).expect("json")).expect("write cases");
    zk_support::run_peer(
        "zuul_executor_render.py",
        &["--cases".into(), cases.display().to_string(), "--out".into(), out.display().to_string()],
    )
    .await;
    out.join("0")
}

const PLAYBOOK: &str = r#"
- hosts: sshnode
  gather_facts: false
  tasks:
    - name: command runs in the pod
      command: id -un
      register: who
    - assert:
        that: who.stdout == expected_user
    - name: synchronize pushes a tree into the pod
      ansible.posix.synchronize:
        src: "{{ push_dir }}/"
        dest: /tmp/pushed/
    - name: the pushed file arrived
      command: cat /tmp/pushed/payload.txt
      register: pushed
    - assert:
        that: pushed.stdout == 'payload from the executor'
    - name: synchronize pulls a file back
      ansible.posix.synchronize:
        mode: pull
        src: /usr/lib/os-release
        dest: "{{ pull_dir }}/os-release"
"#;

/// Runs the playbook with `inventory` and `known_hosts`, the way Zuul's executor configures
/// ssh (UserKnownHostsFile), but with StrictHostKeyChecking=yes.
fn ansible_playbook(dir: &Path, inventory: &Path, known_hosts: &Path, key: &Path, expected_user: &str) -> Output {
    let venv_bin = zk_support::python().parent().expect("venv bin").to_path_buf();
    let playbook = dir.join("playbook.yaml");
    std::fs::write(&playbook, PLAYBOOK).expect("playbook");
    let push = dir.join("push");
    std::fs::create_dir_all(&push).expect("push dir");
    std::fs::write(push.join("payload.txt"), "payload from the executor").expect("payload");
    let pull = dir.join("pull");
    std::fs::create_dir_all(&pull).expect("pull dir");
    let ssh_args = format!(
        "-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o ControlMaster=no \
         -o ControlPath=none",
        known_hosts.display()
    );
    let path = format!("{}:{}", venv_bin.display(), std::env::var("PATH").unwrap_or_default());
    Command::new(venv_bin.join("ansible-playbook"))
        .env("PATH", path)
        .env("ANSIBLE_SSH_ARGS", &ssh_args)
        .env("ANSIBLE_HOST_KEY_CHECKING", "True")
        .env("ANSIBLE_PRIVATE_KEY_FILE", key)
        .env("ANSIBLE_LOCAL_TEMP", dir.join("ansible-local"))
        .env("ANSIBLE_HOME", dir.join("ansible-home"))
        .env("ANSIBLE_NOCOLOR", "1")
        .args(["-i"])
        .arg(inventory)
        .arg(&playbook)
        .args(["-e", &format!("push_dir={} pull_dir={} expected_user={expected_user}", push.display(), pull.display())])
        .output()
        .expect("run ansible-playbook")
}

/// Requests one node of `label` and returns (request id, node id, Zuul's accepting executor,
/// the node as Zuul serializes it).
async fn accepted_node(zk: &TestZk, label: &str) -> (String, String, RunningPeer, Value) {
    let started = Instant::now();
    let id = submit(zk, &[label]).await;
    let request = wait_for_state(&zk.store, &id, Duration::from_secs(180)).await;
    assert_eq!(request.state, RequestState::Fulfilled, "{request:?}");
    eprintln!("[ssh-e2e] {label}: request fulfilled in {:.1} s", started.elapsed().as_secs_f64());
    let node_id = request.nodes[0].clone();
    let mut executor =
        RunningPeer::start("zuul_accept_nodes.py", &[zk.hosts(), vec!["--request".into(), id.clone()]].concat());
    let accepted = executor.next().await;
    assert_eq!(accepted["accepted"], Value::Bool(true), "{accepted}");
    let record = accepted["nodes"][0]["to_dict"].clone();
    (id, node_id, executor, record)
}

#[tokio::test]
async fn ansible_reaches_an_ssh_pod_through_its_node_port_with_strict_host_key_checking() {
    let zk = TestZk::new().await;
    let pool = common::unique_name("ssh");
    let scratch = Scratch::new("ssh-e2e");
    let key = executor_key(&scratch.0);
    let node_port = 30000 + (rand::random::<u16>() % 2700);
    let launcher = Launcher::from_config(&zk, &config(&pool, &key.with_extension("pub"), node_port)).await;
    let (_, node_id, mut executor, record) = accepted_node(&zk, SSH_LABEL).await;
    let namespace = format!("{pool}-{node_id}");

    // The node record is an SSH node Zuul already understands.
    assert_eq!(record["connection_type"], "ssh", "{record}");
    assert_eq!(record["interface_ip"], "127.0.0.1", "the NodePort on the node's address: {record}");
    let port = record["connection_port"].as_u64().expect("connection_port is an int");
    assert!((30000..=32767).contains(&port), "a node port: {port}");
    assert_eq!(record["username"], "zuul");
    let host_keys = record["host_keys"].as_array().expect("host_keys");
    assert_eq!(host_keys.len(), 1);
    assert!(host_keys[0].as_str().is_some_and(|k| k.starts_with("ssh-ed25519 ")), "{host_keys:?}");

    // The pod keeps the label's annotations, without kubepool's own key.
    let client = common::admin_client().await;
    let pod = Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), &namespace)
        .get(SSH_LABEL)
        .await
        .expect("pod");
    let annotations = pod.metadata.annotations.unwrap_or_default();
    assert_eq!(annotations.get("kubepool.test/purpose").map(String::as_str), Some("ssh-e2e"));
    assert!(!annotations.contains_key("kubepool.io/ssh"), "{annotations:?}");

    // Zuul's executor code writes the inventory and known_hosts; ansible runs over ssh.
    let rendered = render_with_zuul(&record, &scratch.0.join("render")).await;
    let known_hosts = rendered.join("known_hosts");
    let known = std::fs::read_to_string(&known_hosts).expect("known_hosts");
    assert_eq!(known.trim(), format!("[127.0.0.1]:{port} {}", host_keys[0].as_str().unwrap_or_default()));
    let inventory = rendered.join("inventory.yaml");
    let inventory_text = std::fs::read_to_string(&inventory).expect("inventory");
    assert!(!inventory_text.contains("StrictHostKeyChecking=false"), "{inventory_text}");
    let started = Instant::now();
    let out = ansible_playbook(&scratch.0, &inventory, &known_hosts, &key, "zuul");
    eprintln!("[ssh-e2e] ansible-playbook took {:.1} s", started.elapsed().as_secs_f64());
    assert!(out.status.success(), "stdout:\n{}\nstderr:\n{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("failed=0"), "{}", text(&out.stdout));
    let pulled = std::fs::read_to_string(scratch.0.join("pull/os-release")).expect("pulled file");
    assert!(pulled.contains("bookworm"), "{pulled}");

    // The same run with another host key in known_hosts is refused: the check is real.
    let other = other_public_key(&scratch.0);
    let wrong_hosts = scratch.0.join("wrong_known_hosts");
    std::fs::write(&wrong_hosts, format!("[127.0.0.1]:{port} {other}\n")).expect("write");
    let out = ansible_playbook(&scratch.0, &inventory, &wrong_hosts, &key, "zuul");
    assert!(!out.status.success(), "a wrong host key must fail: {}", text(&out.stdout));
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(all.contains("Host key verification failed") || all.contains("HOST IDENTIFICATION"), "{all}");

    // Returning the node deletes the namespace with the pod, Secret and Service.
    executor.proceed().await;
    assert_eq!(executor.next().await["returned"], Value::Bool(true));
    executor.finish().await;
    wait_until_gone(&zk.store, &[node_id], Duration::from_secs(120)).await;
    assert!(!namespace_exists(&namespace).await, "namespace deleted with its node");
    launcher.stop().await;
    zk.cleanup().await;
}

/// Another ed25519 public key than the node's.
fn other_public_key(dir: &Path) -> String {
    let dir = dir.join("other");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let public = std::fs::read_to_string(executor_key(&dir).with_extension("pub")).expect("pub");
    public.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn the_ingress_is_made_as_configured_and_removed_with_the_node() {
    let zk = TestZk::new().await;
    let pool = common::unique_name("ssh");
    let scratch = Scratch::new("ssh-e2e");
    let key = executor_key(&scratch.0);
    let node_port = 30000 + (rand::random::<u16>() % 2700);
    let launcher = Launcher::from_config(&zk, &config(&pool, &key.with_extension("pub"), node_port)).await;
    let (_, node_id, mut executor, record) = accepted_node(&zk, INGRESS_LABEL).await;
    let namespace = format!("{pool}-{node_id}");

    // With an Ingress, the record names the Ingress's host and port.
    assert_eq!(record["connection_type"], "ssh");
    assert_eq!(record["interface_ip"], "localhost", "{record}");
    assert_eq!(record["connection_port"].as_u64(), Some(u64::from(node_port)));
    assert_eq!(record["username"], "tester");

    let client = common::admin_client().await;
    let ingress = Api::<Ingress>::namespaced(client.clone(), &namespace).get("kubepool-ssh").await.expect("ingress");
    let annotations = ingress.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations.get("example.org/tcp-passthrough").map(String::as_str), Some("true"));
    let spec = ingress.spec.expect("spec");
    assert_eq!(spec.ingress_class_name.as_deref(), Some("ssh-passthrough"));
    let rule = &spec.rules.expect("rules")[0];
    assert_eq!(rule.host.as_deref(), Some("localhost"));
    let backend = &rule.http.as_ref().expect("http").paths[0].backend;
    let service = backend.service.as_ref().expect("service backend");
    assert_eq!(service.name, "kubepool-ssh");
    assert_eq!(service.port.as_ref().and_then(|p| p.number), Some(22));
    let labels = ingress.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("nodepool_node_id"), Some(&node_id), "found again by its labels");
    let svc = Api::<Service>::namespaced(client.clone(), &namespace).get("kubepool-ssh").await.expect("service");
    assert_eq!(svc.spec.and_then(|s| s.ports).expect("ports")[0].node_port, Some(i32::from(node_port)));
    let secret = Api::<Secret>::namespaced(client.clone(), &namespace).get("kubepool-ssh").await.expect("secret");
    assert!(secret.data.is_some_and(|d| d.contains_key("ssh_host_ed25519_key")));

    executor.proceed().await;
    assert_eq!(executor.next().await["returned"], Value::Bool(true));
    executor.finish().await;
    wait_until_gone(&zk.store, &[node_id], Duration::from_secs(120)).await;
    assert!(!namespace_exists(&namespace).await, "namespace deleted with its node");
    let left = Api::<Ingress>::namespaced(client, &namespace).get_opt("kubepool-ssh").await.expect("get");
    assert!(left.is_none(), "the Ingress went with the node");
    launcher.stop().await;
    zk.cleanup().await;
}
