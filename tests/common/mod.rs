//! What every end-to-end test needs: the test bed's addresses, taken from the environment that
//! `tests/cluster/up.sh` writes (or that points at another cluster and ZooKeeper).
//!
//! A missing variable is a test failure with a clear message, never a silent skip: run the
//! suite with `make test`, which brings the test bed up first.

#![allow(dead_code)]

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::wait::{await_condition, conditions};
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
                verify_hostname: false,
            }),
        )
    } else {
        (required_env("KUBEPOOL_TEST_ZK"), None)
    };
    kubepool::zk::ConnectOptions { servers: vec![server], chroot: None, tls, session_timeout: Duration::from_secs(10) }
}

/// Creates a pod `name` in `namespace` running `command` from the test image, and waits (by
/// watch) until it runs. A brand-new namespace may not have its default service account yet, and
/// a 1.20 API server then refuses pods for about a second: that refusal is retried for up to 30 s.
pub async fn run_pod(client: &kube::Client, namespace: &str, name: &str, command: &[&str]) -> kube::Api<Pod> {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name },
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": name,
                "image": test_image(),
                "imagePullPolicy": "IfNotPresent",
                "command": command,
            }]
        }
    }))
    .expect("pod body");
    start_pod(client, namespace, &pod).await
}

/// Creates `pod` in `namespace` and waits (by watch) until it runs, retrying the refusal of a
/// brand-new namespace without its default service account (see [`run_pod`]).
pub async fn start_pod(client: &kube::Client, namespace: &str, pod: &Pod) -> kube::Api<Pod> {
    let name = pod.metadata.name.as_deref().expect("pod name");
    let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), namespace);
    let mut attempt = 0;
    loop {
        match pods.create(&kube::api::PostParams::default(), pod).await {
            Ok(_) => break,
            Err(kube::Error::Api(status)) if attempt < 150 && status.message.contains("service account") => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("create pod {namespace}/{name}: {error}"),
        }
    }
    tokio::time::timeout(Duration::from_secs(120), await_condition(pods.clone(), name, conditions::is_pod_running()))
        .await
        .expect("pod running within 120 s")
        .expect("watch pod");
    pods
}

/// Shows kubepool's logs in the test's captured output (RUST_LOG, default debug for kubepool).
pub fn init_logging() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "kubepool=debug,info".to_string());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

/// Deletes (without waiting) every namespace of pool `pool`, found by its `nodepool_pool_name`
/// label: what a test leaves of nodes nobody returned.
pub async fn delete_pool_namespaces(pool: &str) {
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(admin_client().await);
    let selector = format!("nodepool_pool_name={pool}");
    let left = namespaces.list_metadata(&kube::api::ListParams::default().labels(&selector)).await.expect("list");
    for ns in left.items {
        let name = ns.metadata.name.expect("name");
        namespaces.delete(&name, &kube::api::DeleteParams::background()).await.expect("delete namespace");
    }
}

/// Deletes a test's namespace when dropped (also when the test fails), without waiting.
pub struct NamespaceGuard(pub String);

/// Creates a namespace named `prefix-<unique>`; it is deleted when the guard drops.
pub async fn test_namespace(client: &kube::Client, prefix: &str) -> NamespaceGuard {
    let name = unique_name(prefix);
    let namespace: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).expect("a namespace");
    kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .create(&kube::api::PostParams::default(), &namespace)
        .await
        .expect("create namespace");
    NamespaceGuard(name)
}

impl Drop for NamespaceGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new(kubectl())
            .args(["delete", "namespace", &self.0, "--wait=false"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// A scratch directory (it may hold node tokens), removed when dropped.
pub struct Scratch(pub std::path::PathBuf);

impl Scratch {
    pub fn new(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(unique_name(prefix));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Who the API server says `token` is (a TokenReview by the admin): `Some(username)` when it
/// authenticates, `None` when it does not.
#[allow(dead_code)]
pub async fn token_identity(token: &str) -> Option<String> {
    use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
    let reviews: kube::Api<TokenReview> = kube::Api::all(admin_client().await);
    let review = TokenReview {
        spec: TokenReviewSpec { token: Some(token.to_string()), ..Default::default() },
        ..Default::default()
    };
    let reply = reviews.create(&kube::api::PostParams::default(), &review).await.expect("token review");
    let status = reply.status.expect("token review status");
    if status.authenticated != Some(true) {
        return None;
    }
    status.user.and_then(|u| u.username)
}

/// A label spec with Nodepool's defaults for `python-path` and the rest empty.
pub fn label_spec(name: &str, kind: kubepool::drivers::spec::LabelKind) -> kubepool::drivers::spec::LabelSpec {
    kubepool::drivers::spec::LabelSpec {
        name: name.into(),
        kind,
        labels: Default::default(),
        dynamic_labels: Default::default(),
        annotations: Default::default(),
        python_path: "auto".into(),
        shell_type: None,
        buildset_namespace: false,
    }
}

/// A provider's driver as the launcher builds it: by the factory, with Nodepool's names and
/// labels.
pub fn nodepool_driver(
    kind: kubepool::drivers::spec::DriverKind,
    provider: &str,
    pools: Vec<kubepool::drivers::spec::PoolSpec>,
    cluster: kubepool::k8s::ClusterInfo,
    timeouts: kubepool::drivers::spec::Timeouts,
) -> std::sync::Arc<dyn kubepool_driver_api::Driver> {
    let spec = kubepool::drivers::spec::DriverSpec { provider: provider.into(), kind, pools, timeouts };
    kubepool::drivers::factory::build(&spec, cluster, std::sync::Arc::new(kubepool::launcher::naming::NodepoolNaming))
        .expect("driver")
}

/// The kubeconfig Zuul's executor writes for a node (reference §6.1): cluster named after the
/// host part of `host` with dots as dashes, user `<namespace>:<user>`, context `<user>/<cluster>`.
pub fn executor_kubeconfig(node: &kubepool_driver_api::LaunchedNode, path: &std::path::Path) -> String {
    let port = &node.connection_port;
    let host = port["host"].as_str().expect("host");
    let netloc = host.split("://").nth(1).expect("scheme").trim_end_matches('/');
    let cluster = netloc.replace('.', "-");
    let user = format!("{}:{}", port["namespace"].as_str().expect("namespace"), port["user"].as_str().expect("user"));
    let context = format!("{user}/{cluster}");
    let mut cluster_entry = serde_json::json!({"server": host});
    if let Some(ca) = port.get("ca_crt").and_then(|c| c.as_str()) {
        cluster_entry["certificate-authority-data"] = ca.into();
    }
    if port["skiptls"].as_bool() == Some(true) {
        cluster_entry["insecure-skip-tls-verify"] = true.into();
    }
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": cluster_entry}],
        "users": [{"name": user, "user": {"token": port["token"]}}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user, "namespace": port["namespace"]}}],
        "current-context": context,
    });
    std::fs::write(path, serde_json::to_vec(&config).expect("json")).expect("write kubeconfig");
    context
}

/// Runs the real kubectl with the node's kubeconfig; returns (success, stdout+stderr).
pub fn kubectl_as(kubeconfig: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(kubectl())
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl");
    if let Some(text) = stdin {
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
    }
    let output = child.wait_with_output().expect("kubectl output");
    (
        output.status.success(),
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
    )
}

/// Runs the real kubectl without blocking the test's runtime (ZooKeeper sessions and
/// controllers may run on it); stdout, or an error with the command and its stderr.
pub async fn kubectl_async(args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    use std::process::Stdio;
    let mut child = tokio::process::Command::new(kubectl())
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("run kubectl: {e}"))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use tokio::io::AsyncWriteExt;
        pipe.write_all(text.as_bytes()).await.map_err(|e| format!("kubectl stdin: {e}"))?;
    }
    let output = child.wait_with_output().await.map_err(|e| format!("kubectl: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!("kubectl {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr)))
    }
}

/// A kubectl call with a kubeconfig and whether RBAC must allow it: (what, args, stdin, allowed).
pub type RbacCheck<'a> = (&'a str, Vec<&'a str>, Option<&'a str>, bool);

/// Runs each check with `kubeconfig`; returns what went otherwise: allowed where it must be
/// refused, refused where allowed, or refused by something other than RBAC ("forbidden").
pub fn rbac_failures(kubeconfig: &std::path::Path, checks: &[RbacCheck<'_>]) -> Vec<String> {
    let mut failures = Vec::new();
    for (what, args, stdin, allowed) in checks {
        let (ok, output) = kubectl_as(kubeconfig, args, *stdin);
        if ok != *allowed {
            failures.push(format!("{what}: expected {}, got: {output}", if *allowed { "allowed" } else { "refused" }));
        } else if !allowed && !output.contains("forbidden") {
            failures.push(format!("{what}: refused, but not by RBAC: {output}"));
        }
    }
    failures
}
