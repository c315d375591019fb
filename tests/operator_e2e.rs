//! The Zuul Operator end to end (issue 20's must-shows): the operator runs in the test cluster
//! from the kubepool image (tests/cluster/build-kubepool-image.sh, from the binary under test)
//! installed by hand from the OLM bundle (deploy/olm/: its CSV's ServiceAccount, clusterPermissions
//! and Deployment, which tests/olm_bundle.rs holds equal to deploy/operator/{rbac,operator}.yaml),
//! watching the test's namespace (issue 21 must-show 3: the bundle's manifests applied by hand
//! make a working operator and a Ready Zuul). One
//! `Zuul` CR there, with
//!   * an external PostgreSQL given by Secret (a pod of localhost/kubepool-postgres:15),
//!   * a managed ZooKeeper (localhost/kubepool-zookeeper:3.8),
//!   * a git connection to a git server pod (`git daemon` in the test bed's node image) holding
//!     the config project: a `periodic` pipeline (timer, every 20 s) running job `hello` on a
//!     kubepool pod node,
//!   * a kubernetes provider for this cluster (a kubepool launcher the operator deploys),
//!   * Zuul 14.3.0 from localhost/zuul:14.3.0 and localhost/zuul-executor:14.3.0
//!     (tests/cluster/build-zuul-images.sh),
//!
//! becomes Ready, and the job SUCCEEDS on a kubepool pod node (read from zuul-web's API; the
//! job's artifact names the provider, the kubectl connection and the node's namespace). Then
//! the other must-shows of issue 20: two running schedulers (2), the job volume read-only in
//! bubblewrap (6), DEBUG logs (7), drift undone within 30 s (3), a tenant ConfigMap change ->
//! smart-reconfigure -> the new project's job in zuul-web (5), a connection Secret change rolls
//! scheduler, executor and web but not the launcher (4), executors 1 -> 2 together with a logging
//! ConfigMap that wins over `debug` (2, 7) and with them `launcher.type: both` (issue 21's
//! must-show 5: a ready zuul-launcher beside the kubepool launcher, schedulers and executors
//! running), a provider added and removed (8), and deleting the CR while its launcher holds a
//! node leaves nothing it made, that node included (9: the operator's finalizer drains the
//! launcher first).
//!
//! The test bed needs the images of tests/cluster/build-zuul-images.sh (build.sh builds them,
//! up.sh imports them; the test calls the script with `--import`, a no-op when they are there).

mod common;
#[path = "support/operator.rs"]
mod operator_support;

use common::{admin_client, init_logging, unique_name};
use operator_support::{ZuulNamespaceGuard, apply, get_json, install_crd, install_from_bundle};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ZUUL_IMAGE: &str = "localhost/zuul:14.3.0";
const EXECUTOR_IMAGE: &str = "localhost/zuul-executor:14.3.0";
const ZOOKEEPER_IMAGE: &str = "localhost/kubepool-zookeeper:3.8";
const POSTGRES_IMAGE: &str = "localhost/kubepool-postgres:15";
const TENANT: &str = "e2e";
const SELECTOR: &str = "operator.zuul-ci.org/zuul=z";
const DRIFT_LIMIT: Duration = Duration::from_secs(30);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Polls `probe` every second until it returns `Some`, for at most `limit`; on timeout, prints
/// what the namespace holds and panics naming `what`.
async fn wait_for<T, F, Fut>(ns: &str, what: &str, limit: Duration, mut probe: F) -> (T, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            eprintln!("[e2e] {what}: {:.1} s", start.elapsed().as_secs_f64());
            return (value, start.elapsed());
        }
        if start.elapsed() > limit {
            dump(ns).await;
            panic!("{what}: not within {limit:?}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// What the namespace holds and the tails of its pods' logs, for a failure's diagnosis.
async fn dump(ns: &str) {
    eprintln!("{}", common::kubectl_async(&["get", "all,events", "-n", ns], None).await.unwrap_or_else(|e| e));
    eprintln!(
        "{}",
        common::kubectl_async(&["get", "zuul", "z", "-n", ns, "-o", "yaml"], None).await.unwrap_or_else(|e| e)
    );
    let pods = get_json(ns, &["pods"]).await;
    for pod in pods["items"].as_array().into_iter().flatten() {
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        let logs = common::kubectl_async(&["logs", "-n", ns, name, "--all-containers", "--tail=40"], None).await;
        eprintln!("---- {name}\n{}", logs.unwrap_or_else(|e| e));
    }
}

/// Runs a project script that prints an image name (or nothing) and must succeed.
fn script(relative: &str, args: &[&str]) -> String {
    let started = Instant::now();
    let output = Command::new(repo().join(relative)).args(args).output().expect("run the image script");
    assert!(output.status.success(), "{relative}: {}", String::from_utf8_lossy(&output.stderr));
    eprintln!("[e2e] {relative}: {:.1} s", started.elapsed().as_secs_f64());
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The config project: the pipeline, the base job, the job `hello` and the project stanza.
const CONFIG_ZUUL_YAML: &str = r#"
- pipeline:
    name: periodic
    manager: independent
    trigger:
      timer:
        - time: '* * * * * */20'
- job:
    name: base
    parent: null
    attempts: 1
    nodeset:
      nodes:
        - name: pod
          label: e2e-pod
- job:
    name: hello
    run: playbooks/hello.yaml
- job:
    name: volumes
    nodeset:
      nodes: []
    run: playbooks/volumes.yaml
- project:
    name: config
    periodic:
      jobs:
        - hello
        - volumes
"#;

/// The job volume (a ConfigMap at /etc/site, trusted, read-only), read inside bubblewrap.
const VOLUMES_PLAYBOOK: &str = r#"
- hosts: localhost
  tasks:
    - name: Read the job volume
      command: cat /etc/site/motd
      register: motd
    - assert:
        that: motd.stdout == 'hello from the site volume'
    - name: The job volume is read-only
      command: touch /etc/site/written
      register: write
      failed_when: write.rc == 0
"#;

const HELLO_PLAYBOOK: &str = r#"
- hosts: all
  tasks:
    - name: Run on the kubepool pod
      command: cat /etc/hostname
      register: here
    - debug:
        msg: "hello from {{ here.stdout }}"
    # What ran where, for the test to read from zuul-web: the node's provider, connection,
    # kubectl context (the node's namespace) and pod.
    - zuul_return:
        data:
          zuul:
            artifacts:
              - name: node
                url: "kubepool://{{ nodepool.provider }}/{{ ansible_connection }}/{{ ansible_kubectl_context }}/{{ ansible_host }}"
"#;

/// An untrusted project the tenant gains later (must-show 5).
const MORE_ZUUL_YAML: &str = r#"
- job:
    name: more-job
    run: playbooks/hello.yaml
"#;

fn tenant_yaml(with_more: bool) -> String {
    let more = if with_more { "        untrusted-projects:\n          - more\n" } else { "" };
    format!(
        "- tenant:\n    name: {TENANT}\n    source:\n      git:\n        config-projects:\n          - config\n{more}"
    )
}

/// A shell script (for the node image) that makes the bare repositories and serves them.
fn git_server_script() -> String {
    let mut script = String::from(
        "set -e\ngit config --global user.email e2e@example.org\ngit config --global user.name e2e\n\
         git config --global init.defaultBranch master\nmkdir -p /srv/git\n",
    );
    let repos: [(&str, &[(&str, &str)]); 2] = [
        (
            "config",
            &[
                ("zuul.yaml", CONFIG_ZUUL_YAML),
                ("playbooks/hello.yaml", HELLO_PLAYBOOK),
                ("playbooks/volumes.yaml", VOLUMES_PLAYBOOK),
            ],
        ),
        ("more", &[("zuul.yaml", MORE_ZUUL_YAML), ("playbooks/hello.yaml", HELLO_PLAYBOOK)]),
    ];
    for (name, files) in repos {
        script.push_str(&format!("mkdir -p /work/{name}/playbooks && cd /work/{name} && git init -q\n"));
        for (path, text) in files {
            script.push_str(&format!("cat > {path} <<'EOF'\n{text}\nEOF\n"));
        }
        script.push_str(&format!(
            "git add -A && git commit -q -m init && git clone -q --bare /work/{name} /srv/git/{name}\n"
        ));
    }
    script.push_str("exec git daemon --reuseaddr --export-all --base-path=/srv/git /srv/git\n");
    script
}

/// The nodepool.yaml: kubernetes providers for this cluster (no context: in-cluster): `local`
/// (pool `pool`, label e2e-pod with `min_ready`) and, with `second`, `second` (pool `pool`-b,
/// label e2e-other, which no job uses).
fn nodepool_yaml(pool: &str, min_ready: u32, second: bool) -> String {
    let image = common::test_image();
    let provider = |name: &str, pool: &str, label: &str, max: u32| {
        format!(
            "  - name: {name}\n    driver: kubernetes\n    pools:\n      - name: {pool}\n        max-servers: {max}\n        labels:\n          - name: {label}\n            type: pod\n            image: {image}\n            image-pull: IfNotPresent\n            python-path: /usr/bin/python3\n"
        )
    };
    let mut text = format!("labels:\n  - name: e2e-pod\n    min-ready: {min_ready}\n  - name: e2e-other\nproviders:\n");
    text.push_str(&provider("local", pool, "e2e-pod", 4));
    if second {
        text.push_str(&provider("second", &format!("{pool}-b"), "e2e-other", 2));
    }
    text
}

fn condition(zuul: &Value, type_: &str) -> Option<(String, String, String)> {
    let c = zuul["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)?;
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    Some((s("status"), s("reason"), s("message")))
}

/// GET `path` of zuul-web (through its pod's address), as JSON.
async fn web_api(ns: &str, path: &str) -> Option<Value> {
    let pods = get_json(ns, &["pods", "-l", "operator.zuul-ci.org/zuul=z,app.kubernetes.io/component=web"]).await;
    let ip = pods["items"]
        .as_array()?
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .find_map(|p| p["status"]["podIP"].as_str().map(str::to_string))?;
    let output = tokio::process::Command::new("curl")
        .args(["-sf", "--max-time", "10", &format!("http://{ip}:9000{path}")])
        .output()
        .await
        .ok()?;
    serde_json::from_slice(&output.stdout).ok()
}

/// The uid of a named object, or None when it does not exist.
async fn uid(ns: &str, kind: &str, name: &str) -> Option<String> {
    get_json(ns, &[kind, name]).await["metadata"]["uid"].as_str().map(str::to_string)
}

/// Every object in `ns` labelled as the Zuul's, by kind (the operator's children and what their
/// controllers made: pods, volume claims, ReplicaSets).
async fn labelled_left(ns: &str) -> Vec<String> {
    let kinds = "statefulsets,deployments,replicasets,pods,services,secrets,configmaps,serviceaccounts,\
                 poddisruptionbudgets,persistentvolumeclaims";
    let list = get_json(ns, &[kinds, "-l", SELECTOR]).await;
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| format!("{}/{}", o["kind"].as_str().unwrap_or("?"), o["metadata"]["name"].as_str().unwrap_or("?")))
        .collect()
}

/// A Python logging config (INFO, an own format) that must win over `logging.debug`.
const LOGGING_CONF: &str = "[loggers]\nkeys=root\n\n[handlers]\nkeys=console\n\n[formatters]\nkeys=e2e\n\n\
[logger_root]\nlevel=INFO\nhandlers=console\n\n[handler_console]\nclass=StreamHandler\nformatter=e2e\nargs=(sys.stdout,)\n\n\
[formatter_e2e]\nformat=%(asctime)s e2e-logging %(levelname)s %(name)s: %(message)s\n";

/// The rendered zuul.conf.
async fn zuul_conf(ns: &str) -> String {
    let data = get_json(ns, &["secret", "z-zuul-config"]).await;
    let text = data["data"]["zuul.conf"].as_str().unwrap_or_default();
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default()
}

/// The uids of the Zuul's running pods by component.
async fn pod_uids(ns: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let pods = get_json(ns, &["pods", "-l", SELECTOR]).await;
    let mut uids: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for pod in pods["items"].as_array().into_iter().flatten() {
        if !pod["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        let component = pod["metadata"]["labels"]["app.kubernetes.io/component"].as_str().unwrap_or_default();
        uids.entry(component.to_string()).or_default().push(pod["metadata"]["uid"].as_str().unwrap_or_default().into());
    }
    uids
}

/// How many components of `kind` zuul-web's `/api/components` lists as running.
fn running(components: &Value, kind: &str) -> usize {
    components[kind].as_array().map_or(0, |list| list.iter().filter(|c| c["state"] == "running").count())
}

/// The namespaces of the kubepool nodes of `pool` (labelled by the launcher).
async fn node_namespaces(pool: &str) -> Vec<String> {
    let names =
        common::kubectl_async(&["get", "namespaces", "-l", &format!("nodepool_pool_name={pool}"), "-o", "name"], None)
            .await
            .unwrap_or_default();
    names.split_whitespace().map(str::to_string).collect()
}

/// Deletes what a failed run leaves outside the test's namespace (when dropped): the nodes'
/// namespaces of pool `.0` and the launchers' ClusterRoleBinding of the Zuul `z` in namespace `.0`
/// (the operator sweeps it, unless it went first with the namespace).
struct PoolGuard(String);

impl Drop for PoolGuard {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            let _ = Command::new(common::kubectl()).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status();
        };
        quiet(&["delete", "namespaces", "-l", &format!("nodepool_pool_name={}", self.0), "--wait=false"]);
        let binding = format!("kubepool-launcher-{}-z", self.0);
        quiet(&["delete", "clusterrolebinding", &binding, "--ignore-not-found", "--wait=false"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zuul_resource_runs_a_job_on_a_kubepool_pod_node_is_kept_and_removed() {
    init_logging();
    let t0 = Instant::now();
    // The images: the kubepool image from the binary under test, and the Zuul/ZooKeeper/
    // PostgreSQL images (built by build.sh and imported by up.sh; cached, this only checks).
    let kubepool_image = script("tests/cluster/build-kubepool-image.sh", &[env!("CARGO_BIN_EXE_kubepool")]);
    script("tests/cluster/build-zuul-images.sh", &["--import"]);

    let client = admin_client().await;
    install_crd(&client).await;
    let ns = unique_name("kp-op-e2e");
    common::kubectl_async(&["create", "namespace", &ns], None).await.expect("create the namespace");
    let _guard = ZuulNamespaceGuard(ns.clone());
    let pool = ns.clone();
    let _pool_guard = PoolGuard(pool.clone());
    let binding = format!("kubepool-launcher-{ns}-z");

    // The operator: the OLM bundle installed by hand, as a site without OLM does (its CSV's
    // permissions and Deployment, which tests/olm_bundle.rs holds equal to deploy/operator/),
    // watching only the test's namespace and resyncing every minute.
    let (_, _rbac) = install_from_bundle(&ns, &kubepool_image, |container| {
        container["command"] = json!(["kubepool", "operator", "run", "--namespace", ns, "--resync-seconds", "60"]);
    })
    .await;

    // Fixtures: PostgreSQL, the git server, the executor's SSH key, the configs.
    apply(
        &ns,
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "zuul-db"},
        "stringData": {"dburi": format!("postgresql://zuul:e2e-db-pw@postgres.{ns}.svc/zuul")}}),
    )
    .await;
    let node_image = common::test_image();
    for (name, image, port, command, env) in [
        (
            "postgres",
            POSTGRES_IMAGE,
            5432,
            json!(null),
            json!([
            {"name": "POSTGRES_USER", "value": "zuul"}, {"name": "POSTGRES_PASSWORD", "value": "e2e-db-pw"},
            {"name": "POSTGRES_DB", "value": "zuul"}]),
        ),
        ("git-server", node_image.as_str(), 9418, json!(["/bin/sh", "-c", git_server_script()]), json!([])),
    ] {
        let mut container = json!({"name": name, "image": image, "imagePullPolicy": "IfNotPresent", "env": env,
            "ports": [{"containerPort": port}], "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 2},
            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}]});
        if !command.is_null() {
            container["command"] = command;
        }
        apply(
            &ns,
            &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"e2e": name}},
            "spec": {"containers": [container], "volumes": [{"name": "data", "emptyDir": {}}]}}),
        )
        .await;
        apply(
            &ns,
            &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"e2e": name}, "ports": [{"port": port, "targetPort": port}]}}),
        )
        .await;
    }
    let scratch = common::Scratch::new("kp-op-e2e");
    let key = scratch.0.join("id");
    let keygen = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status();
    assert!(keygen.map(|s| s.success()).unwrap_or(false), "ssh-keygen");
    let key_text = std::fs::read_to_string(&key).expect("read the key");
    apply(
        &ns,
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "executor-ssh"},
        "stringData": {"sshkey": key_text}}),
    )
    .await;
    apply(
        &ns,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tenant"},
        "data": {"main.yaml": tenant_yaml(false)}}),
    )
    .await;
    apply(
        &ns,
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "git-secrets"},
        "stringData": {"password": "first"}}),
    )
    .await;
    apply(
        &ns,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "site"},
        "data": {"motd": "hello from the site volume"}}),
    )
    .await;
    apply(
        &ns,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nodepool"},
        "data": {"nodepool.yaml": nodepool_yaml(&pool, 0, false)}}),
    )
    .await;

    let zuul = json!({
        "apiVersion": "operator.zuul-ci.org/v1alpha2",
        "kind": "Zuul",
        "metadata": {"name": "z"},
        "spec": {
            "database": {"secretName": "zuul-db"},
            "zookeeper": {"replicas": 1, "image": ZOOKEEPER_IMAGE},
            "scheduler": {"count": 2, "config": "tenant", "image": ZUUL_IMAGE},
            "executor": {"count": 1, "image": EXECUTOR_IMAGE, "sshkey": {"secretName": "executor-ssh"},
                         "terminationGracePeriodSeconds": 5,
                         "options": {"load_multiplier": "1000", "min_avail_mem": "0", "min_avail_hdd": "0",
                                     "min_avail_inodes": "0", "default_username": "root"}},
            "web": {"count": 1, "image": ZUUL_IMAGE},
            "fingergw": {"count": 0},
            "logging": {"debug": true},
            "jobVolumes": [{"context": "trusted", "access": "ro", "path": "/etc/site",
                            "volume": {"name": "site", "configMap": {"name": "site"}}}],
            "launcher": {"config": {"configMapName": "nodepool"}, "image": kubepool_image},
            "connections": {"git": {"driver": "git", "baseurl": format!("git://git-server.{ns}.svc/"),
                                    "poll_delay": "10", "password": {"secretName": "git-secrets"}}},
        },
    });
    apply(&ns, &zuul).await;
    let created = Instant::now();

    // Must-show 1: Ready, and the job from the config project succeeds on a kubepool pod node.
    wait_for(&ns, "the Zuul Ready", Duration::from_secs(480), || async {
        let z = get_json(&ns, &["zuul", "z"]).await;
        condition(&z, "Ready").filter(|c| c.0 == "True")
    })
    .await;
    let builds_path = format!("/api/tenant/{TENANT}/builds?job_name=hello&result=SUCCESS");
    let (build, _) = wait_for(&ns, "a SUCCESS build of hello in zuul-web", Duration::from_secs(300), || async {
        web_api(&ns, &builds_path).await?.as_array()?.first().cloned()
    })
    .await;
    eprintln!(
        "[e2e] build {} of hello: {} (CR to success: {:.0} s)",
        build["uuid"],
        build["result"],
        created.elapsed().as_secs_f64()
    );
    assert_eq!(build["result"], "SUCCESS");
    let detail = web_api(&ns, &format!("/api/tenant/{TENANT}/build/{}", build["uuid"].as_str().unwrap_or_default()))
        .await
        .expect("the build's detail");
    let node = detail["artifacts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["name"] == "node"))
        .and_then(|a| a["url"].as_str())
        .unwrap_or_default()
        .to_string();
    eprintln!("[e2e] the job ran on {node}");
    assert!(
        node.starts_with(&format!("kubepool://local/kubectl/{pool}-")),
        "a kubepool pod node of provider local: {node}"
    );

    // Must-show 2 (schedulers): two schedulers, both running (zuul-web's component registry).
    let (components, _) = wait_for(&ns, "two running schedulers", Duration::from_secs(120), || async {
        let components = web_api(&ns, "/api/components").await?;
        (running(&components, "scheduler") == 2).then_some(components)
    })
    .await;
    assert_eq!(running(&components, "executor"), 1);

    // Must-show 7 (the flag): `logging.debug` runs the components with -d: DEBUG lines.
    let log =
        common::kubectl_async(&["logs", "-n", &ns, "z-scheduler-0", "--tail=2000"], None).await.expect("scheduler log");
    assert!(log.lines().any(|l| l.contains(" DEBUG ")), "DEBUG lines in the scheduler's log");

    // Must-show 6: the job volume is in zuul.conf and visible, read-only, to a job's playbook on
    // the executor (inside bubblewrap).
    let conf = zuul_conf(&ns).await;
    assert!(conf.contains("trusted_ro_paths=/etc/site"), "{conf}");
    let volumes_path = format!("/api/tenant/{TENANT}/builds?job_name=volumes&result=SUCCESS");
    wait_for(
        &ns,
        "a SUCCESS build of volumes (the job volume read-only in bubblewrap)",
        Duration::from_secs(120),
        || async { web_api(&ns, &volumes_path).await?.as_array()?.first().cloned() },
    )
    .await;

    // Must-show 3: drift. A deleted child Deployment comes back; a hand edit is reverted.
    let before = uid(&ns, "deployment", "z-web").await.expect("z-web");
    common::kubectl_async(&["delete", "deployment", "z-web", "-n", &ns, "--wait=false"], None)
        .await
        .expect("delete z-web");
    wait_for(&ns, "deleted Deployment z-web recreated", DRIFT_LIMIT, || async {
        uid(&ns, "deployment", "z-web").await.filter(|u| *u != before)
    })
    .await;
    common::kubectl_async(
        &["patch", "statefulset", "z-scheduler", "-n", &ns, "--type=merge", "-p", r#"{"spec":{"replicas":1}}"#],
        None,
    )
    .await
    .expect("hand edit");
    wait_for(&ns, "hand edit of z-scheduler's replicas reverted", DRIFT_LIMIT, || async {
        (get_json(&ns, &["statefulset", "z-scheduler"]).await["spec"]["replicas"] == 2).then_some(())
    })
    .await;

    // Must-show 5: the tenant ConfigMap changes; the operator runs smart-reconfigure and the new
    // project's job appears in zuul-web.
    apply(
        &ns,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tenant"},
        "data": {"main.yaml": tenant_yaml(true)}}),
    )
    .await;
    let jobs_path = format!("/api/tenant/{TENANT}/jobs");
    wait_for(&ns, "more-job in zuul-web after smart-reconfigure", Duration::from_secs(240), || async {
        let jobs = web_api(&ns, &jobs_path).await?;
        jobs.as_array()?.iter().any(|j| j["name"] == "more-job").then_some(())
    })
    .await;
    let events = get_json(&ns, &["events"]).await;
    let reasons: Vec<&str> =
        events["items"].as_array().into_iter().flatten().filter_map(|e| e["reason"].as_str()).collect();
    assert!(reasons.contains(&"SmartReconfigure"), "an Event SmartReconfigure: {reasons:?}");

    // Must-show 4: a connection's Secret changes: zuul.conf follows, and the pods that mount it
    // (scheduler, executor, web) roll; the launcher does not.
    let before = pod_uids(&ns).await;
    apply(
        &ns,
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "git-secrets"},
        "stringData": {"password": "second"}}),
    )
    .await;
    wait_for(&ns, "zuul.conf with the new connection secret", DRIFT_LIMIT, || async {
        zuul_conf(&ns).await.contains("password=second").then_some(())
    })
    .await;
    wait_for(&ns, "scheduler, executor and web rolled and Ready again", Duration::from_secs(300), || async {
        let now = pod_uids(&ns).await;
        let rolled = ["scheduler", "executor", "web"].iter().all(|c| {
            let (old, new) = (before.get(*c), now.get(*c));
            new.is_some_and(|new| old.is_some_and(|old| old.iter().all(|uid| !new.contains(uid))))
        });
        let ready = condition(&get_json(&ns, &["zuul", "z"]).await, "Ready").is_some_and(|c| c.0 == "True");
        (rolled && ready).then_some(())
    })
    .await;
    assert_eq!(pod_uids(&ns).await.get("launcher"), before.get("launcher"), "the launcher does not roll");

    // Must-show 2 (executors): 1 -> 2; with it, must-show 7 (the ConfigMap): a logging config
    // wins over `debug: true` (the pods roll with `log_config` and without -d), and issue 21's
    // must-show 5: `launcher.type: both` adds a zuul-launcher beside the kubepool launcher.
    apply(
        &ns,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "zuul-logging"},
        "data": {"logging.conf": LOGGING_CONF}}),
    )
    .await;
    let patch = json!({"spec": {
        "executor": {"count": 2},
        "logging": {"debug": true, "configMapName": "zuul-logging"},
        "launcher": {"type": "both", "zuulLauncher": {"image": ZUUL_IMAGE}},
    }})
    .to_string();
    let patch = patch.as_str();
    common::kubectl_async(&["patch", "zuul", "z", "-n", &ns, "--type=merge", "-p", patch], None)
        .await
        .expect("scale, log config");
    let (components, _) = wait_for(
        &ns,
        "two running executors and a running zuul-launcher (and the logging config rolled out)",
        Duration::from_secs(300),
        || async {
            let z = get_json(&ns, &["zuul", "z"]).await;
            let settled = z["status"]["observedGeneration"] == z["metadata"]["generation"]
                && condition(&z, "Ready").is_some_and(|c| c.0 == "True");
            let components = web_api(&ns, "/api/components").await?;
            (settled && running(&components, "executor") == 2 && running(&components, "launcher") == 1)
                .then_some(components)
        },
    )
    .await;
    assert_eq!(running(&components, "scheduler"), 2, "the schedulers stay: {components}");
    for deployment in ["z-zuul-launcher", "z-launcher-local"] {
        let ready = get_json(&ns, &["deployment", deployment]).await["status"]["readyReplicas"].clone();
        assert_eq!(ready, 1, "{deployment} ready");
    }
    let log = common::kubectl_async(&["logs", "-n", &ns, "z-scheduler-0"], None).await.expect("scheduler log");
    assert!(log.lines().any(|l| l.contains(" e2e-logging INFO ")), "the logging config's format");
    assert!(!log.lines().any(|l| l.contains(" DEBUG ")), "no DEBUG line under the logging config");

    // Must-show 8: a provider added to nodepool.yaml gets a launcher; removed, it is drained
    // and its launcher deleted.
    apply(
        &ns,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nodepool"},
        "data": {"nodepool.yaml": nodepool_yaml(&pool, 0, true)}}),
    )
    .await;
    wait_for(&ns, "a launcher for the added provider, ready", Duration::from_secs(120), || async {
        (get_json(&ns, &["deployment", "z-launcher-second"]).await["status"]["readyReplicas"] == 1).then_some(())
    })
    .await;
    // With the removal, `local` keeps a ready node (min-ready 1) besides the periodic builds'
    // nodes: the Zuul is deleted while its launcher holds nodes (must-show 9).
    apply(
        &ns,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nodepool"},
        "data": {"nodepool.yaml": nodepool_yaml(&pool, 1, false)}}),
    )
    .await;
    wait_for(&ns, "the removed provider drained and its launcher deleted", Duration::from_secs(120), || async {
        let gone = common::kubectl_async(&["get", "deployment", "z-launcher-second", "-n", &ns], None).await.is_err();
        let events = get_json(&ns, &["events"]).await;
        let drained = events["items"].as_array().into_iter().flatten().any(|e| e["reason"] == "Drained");
        (gone && drained).then_some(())
    })
    .await;
    let (held, _) = wait_for(&ns, "a node of `local` held before the deletion", Duration::from_secs(120), || async {
        let held = node_namespaces(&pool).await;
        (!held.is_empty()).then_some(held)
    })
    .await;
    eprintln!("[e2e] node namespaces at the deletion: {held:?}");

    // Must-show 9: deleting the CR leaves nothing it made, the nodes its launcher held included.
    // The finalizer stops the Zuul components, the launcher drains, then the rest goes.
    common::kubectl_async(&["delete", "zuul", "z", "-n", &ns, "--wait=false"], None).await.expect("delete the Zuul");
    let deleted = Instant::now();
    let (draining, _) = wait_for(&ns, "the deleted Zuul draining (status)", Duration::from_secs(60), || async {
        let z = get_json(&ns, &["zuul", "z"]).await;
        condition(&z, "Progressing").filter(|c| c.1 == "Draining").map(|c| c.2)
    })
    .await;
    eprintln!("[e2e] status while deleting: {draining}");
    wait_for(&ns, "everything the Zuul made gone", Duration::from_secs(420), || async {
        let left = labelled_left(&ns).await;
        let binding_left = common::kubectl_async(&["get", "clusterrolebinding", &binding], None).await.is_ok();
        let node_namespaces = common::kubectl_async(
            &["get", "namespaces", "-l", &format!("nodepool_pool_name={pool}"), "-o", "name"],
            None,
        )
        .await
        .unwrap_or_default();
        if !left.is_empty() || binding_left || !node_namespaces.trim().is_empty() {
            eprintln!("[e2e] left: {left:?} binding {binding_left} node namespaces {:?}", node_namespaces.trim());
            return None;
        }
        Some(())
    })
    .await;
    eprintln!("[e2e] the Zuul deleted and everything gone in {:.0} s", deleted.elapsed().as_secs_f64());
    assert!(common::kubectl_async(&["get", "zuul", "z", "-n", &ns], None).await.is_err(), "the Zuul is gone");
    let events = get_json(&ns, &["events"]).await;
    let notes: Vec<(String, String)> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (text(&e["reason"]), if e["note"].is_null() { text(&e["message"]) } else { text(&e["note"]) })
        })
        .filter(|(reason, _)| {
            ["Deleting", "NodesGone", "ZooKeeperUnreachable", "LaunchersGone", "CleanupTimeout", "CannotDrain"]
                .contains(&reason.as_str())
        })
        .collect();
    eprintln!("[e2e] deletion Events: {notes:?}");
    assert!(notes.iter().any(|(r, _)| r == "NodesGone"), "the launcher deleted its nodes, no sweep: {notes:?}");
    assert!(notes.iter().all(|(r, _)| r == "Deleting" || r == "NodesGone"), "no sweep: {notes:?}");
    let kept = common::kubectl_async(&["get", "secret", "zuul-db", "-n", &ns, "-o", "name"], None).await;
    assert!(kept.is_ok(), "the user's Secret is kept");
    let claims = common::kubectl_async(&["get", "pvc", "-n", &ns, "-o", "name"], None).await.unwrap_or_default();
    assert!(claims.trim().is_empty(), "volume claims left: {claims}");
    eprintln!("[e2e] whole test: {:.0} s", t0.elapsed().as_secs_f64());
}
