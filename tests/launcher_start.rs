//! `kubepool launcher` starts against the real test bed (ZooKeeper over TLS, the test cluster),
//! registers its launcher component as Nodepool does, and on SIGTERM removes it and exits 0.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn nodepool_yaml(dir: &std::path::Path, context: &str) -> std::path::PathBuf {
    let (host, port) = common::required_env("KUBEPOOL_TEST_ZK_TLS")
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .expect("host:port");
    let path = dir.join("nodepool.yaml");
    let mut file = std::fs::File::create(&path).expect("create nodepool.yaml");
    write!(
        file,
        "zookeeper-servers:\n  - host: {host}\n    port: {port}\n    chroot: /kubepool-launcher-test\n\
         zookeeper-tls:\n  ca: {ca}\n  cert: {cert}\n  key: {key}\n\
         labels:\n  - name: pod-fedora\n\
         providers:\n  - name: testbed\n    driver: kubernetes\n    context: {context}\n    pools:\n      - name: main\n        labels:\n          - name: pod-fedora\n            type: pod\n            image: {image}\n",
        ca = common::required_env("KUBEPOOL_TEST_ZK_CA"),
        cert = common::required_env("KUBEPOOL_TEST_ZK_CERT"),
        key = common::required_env("KUBEPOOL_TEST_ZK_KEY"),
        image = common::test_image(),
    )
    .expect("write nodepool.yaml");
    path
}

fn current_context() -> String {
    let output = Command::new(common::kubectl()).args(["config", "current-context"]).output().expect("kubectl");
    assert!(output.status.success(), "kubectl config current-context failed");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

async fn launcher_components(zk: &kubepool::zk::Client) -> Vec<(String, serde_json::Value)> {
    let dir = "/kubepool-launcher-test/nodepool/components/launcher";
    let children = match zk.list_children(dir).await {
        Ok(children) => children,
        Err(zookeeper_client::Error::NoNode) => return Vec::new(),
        Err(error) => panic!("list {dir}: {error}"),
    };
    let mut components = Vec::new();
    for child in children {
        if let Ok((data, _)) = zk.get_data(&format!("{dir}/{child}")).await {
            components.push((child, serde_json::from_slice(&data).expect("component JSON")));
        }
    }
    components
}

/// Kills the launcher if the test fails before it is stopped.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn scrape(addr: &str) -> String {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the metrics endpoint");
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

#[tokio::test]
async fn launcher_registers_over_tls_and_unregisters_on_sigterm() {
    common::required_env("KUBECONFIG");
    let dir = std::env::temp_dir().join(common::unique_name("kubepool-launcher"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = nodepool_yaml(&dir, &current_context());
    let zk = kubepool::zk::connect(&common::zookeeper_options(false)).await.expect("connect to ZooKeeper");
    let before = launcher_components(&zk).await.len();

    let metrics_addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        probe.local_addr().expect("addr").to_string()
    };
    let mut guard = KillOnDrop(Some(
        Command::new(env!("CARGO_BIN_EXE_kubepool"))
            .args(["--log-format", "json", "launcher", "--metrics-addr", &metrics_addr, "-c"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kubepool launcher"),
    ));
    let child = guard.0.as_mut().expect("child");

    let deadline = Instant::now() + Duration::from_secs(60);
    let registered = loop {
        let components = launcher_components(&zk).await;
        if components.len() > before {
            break components;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let output = guard.0.take().expect("child").wait_with_output().expect("launcher output");
            panic!("launcher exited early ({status}): {}", String::from_utf8_lossy(&output.stderr));
        }
        assert!(Instant::now() < deadline, "launcher did not register within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let hostname = kubepool::launcher::hostname();
    let (name, component) = registered.last().expect("a component").clone();
    assert!(name.starts_with(&hostname) && name.len() == hostname.len() + 10, "component znode {name}");
    assert_eq!(component["kind"], "launcher");
    assert_eq!(component["model_api"], 0);
    assert_eq!(component["state"], "running");
    assert_eq!(component["hostname"], hostname.as_str());

    let metrics = scrape(&metrics_addr);
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains(r#"kubepool_provider_connected{provider="testbed"} 1"#), "{metrics}");

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let output = guard.0.take().expect("child").wait_with_output().expect("launcher output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "launcher exit status {}: {stderr}", output.status);
    assert!(stderr.contains("connected to the cluster"), "{stderr}");
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
    assert!(stderr.contains("serving metrics on /metrics"), "{stderr}");
    // Credentials never reach the log.
    let key = std::fs::read_to_string(common::required_env("KUBEPOOL_TEST_ZK_KEY")).expect("read key");
    let key_body = key.lines().nth(1).expect("key body");
    assert!(!stderr.contains(key_body));
    assert_eq!(launcher_components(&zk).await.len(), before, "component removed on shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn launcher_reports_a_missing_config_file_by_name_and_exits_1() {
    let output = Command::new(env!("CARGO_BIN_EXE_kubepool"))
        .args(["launcher", "-c", "/nonexistent/nodepool.yaml"])
        .output()
        .expect("run kubepool");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/nodepool.yaml: cannot read"), "{stderr}");
}
