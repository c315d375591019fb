//! The managed database (issue 21, must-shows 1 and 2) against a STAND-IN for the Percona
//! XtraDB Cluster operator (tests/support/pxc_standin.rs: ours; Debian's MariaDB instead of
//! Percona's images, which cannot be pulled here), serving the REAL PerconaXtraDBCluster CRD of
//! Percona operator 1.19.0 (tests/operator-data/pxc-crd-v1.19.0.yaml). docs/operator.md lists
//! what the stand-in does not prove.
//!
//! The operator runs in the test (the binary's library) as a ServiceAccount with exactly the
//! shipped RBAC (`deploy/operator/rbac.yaml`), watching the test's namespace; Zuul, ZooKeeper,
//! the database and the setup Job run in the test cluster from the images of
//! tests/cluster/build-zuul-images.sh.
//!
//! 1. Without the Percona CRD, a `Zuul` with no `spec.database` is Degraded, naming the Percona
//!    XtraDB Cluster operator and the CRD; the operator keeps running.
//! 2. The CRD installed (no operator restart): the Zuul gets its PerconaXtraDBCluster (accepted
//!    by the real schema, `unsafeFlags` kept), the stand-in makes it ready, the operator's Job
//!    creates the `zuul` database and user, the dburi Secret appears, and Zuul's scheduler and
//!    web become Ready on it: Zuul's tables are in MariaDB, made by Zuul through PyMySQL, and a
//!    job (on the executor, no node) runs and its SUCCESS build is recorded there.
//! 3. The CRD removed again: Degraded again, naming it; Zuul's workloads stay.

mod common;
#[path = "support/operator.rs"]
mod operator_support;
#[path = "support/pxc_standin.rs"]
mod pxc_standin;

use common::{admin_client, init_logging, unique_name};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DynamicObject, PostParams};
use kubepool::operator::Zuul;
use kubepool::operator::controller::{Config, run};
use operator_support::{ZuulNamespaceGuard, eventually, install_crd, operator_client};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const ZUUL_IMAGE: &str = "localhost/zuul:14.3.0";
const ZOOKEEPER_IMAGE: &str = "localhost/kubepool-zookeeper:3.8";
const MARIADB_IMAGE: &str = "localhost/kubepool-mariadb:10.11";
const EXECUTOR_IMAGE: &str = "localhost/zuul-executor:14.3.0";

/// The config project: a timer pipeline running `db-hello` on the executor alone (no node).
const ZUUL_YAML: &str = "- pipeline:\n    name: periodic\n    manager: independent\n    trigger:\n      timer:\n\
    \x20       - time: '* * * * * */15'\n- job:\n    name: base\n    parent: null\n    nodeset:\n      nodes: []\n\
    - job:\n    name: db-hello\n    run: hello.yaml\n- project:\n    periodic:\n      jobs:\n        - db-hello\n";
const HELLO_YAML: &str = "- hosts: localhost\n  tasks:\n    - debug:\n        msg: hello from the managed database\n";

/// A pod of the test bed's node image serving the config project by `git daemon`, and its Service.
async fn git_server(ns: &str) {
    let script = "set -e; mkdir -p /w /srv && cd /w && git init -q && printf '%s' \"$ZUUL_YAML\" > zuul.yaml \
        && printf '%s' \"$HELLO_YAML\" > hello.yaml && git add -A \
        && git -c user.name=t -c user.email=t@example.org commit -qm init && git clone -q --bare /w /srv/config \
        && exec git daemon --reuseaddr --export-all --base-path=/srv /srv";
    let objects = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "git-server", "labels": {"app": "git-server"}},
         "spec": {"containers": [{"name": "git", "image": common::test_image(), "imagePullPolicy": "IfNotPresent",
            "command": ["/bin/sh", "-c", script],
            "env": [{"name": "ZUUL_YAML", "value": ZUUL_YAML}, {"name": "HELLO_YAML", "value": HELLO_YAML}],
            "readinessProbe": {"tcpSocket": {"port": 9418}, "periodSeconds": 2}}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "git-server"},
         "spec": {"selector": {"app": "git-server"}, "ports": [{"port": 9418, "targetPort": 9418}]}},
    ]});
    common::kubectl_async(&["apply", "-n", ns, "-f", "-"], Some(&objects.to_string())).await.expect("the git server");
}

fn condition(zuul: &Zuul, type_: &str) -> Option<(String, String, String)> {
    let c = zuul.status.as_ref()?.conditions.iter().find(|c| c.type_ == type_)?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Prints what the namespace holds and its database and Zuul logs when the test fails.
struct DumpOnPanic(String);

impl Drop for DumpOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let ns = self.0.as_str();
        for args in [
            vec!["get", "all,events,secrets,perconaxtradbclusters", "-n", ns],
            vec!["logs", "-n", ns, "-l", "app.kubernetes.io/component", "--all-containers", "--tail=30", "--prefix"],
        ] {
            if let Ok(out) = std::process::Command::new(common::kubectl()).args(&args).output() {
                eprintln!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}

/// [`eventually`], printing how long `what` took.
async fn wait_for<T, F, Fut>(what: &str, limit: Duration, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let (value, took) = eventually(what, limit, probe).await;
    eprintln!("[managed-db] {what}: {:.1} s", took.as_secs_f64());
    value
}

/// Runs `query` as root in the database pod (root's password from its environment).
async fn sql(ns: &str, query: &str) -> Result<String, String> {
    let command = format!("mariadb -uroot -p\"$MYSQL_ROOT_PASSWORD\" -N -e \"{query}\"");
    common::kubectl_async(&["exec", "-n", ns, "z-db-pxc-0", "--", "sh", "-c", &command], None).await
}

/// Re-applies this build's Zuul CRD whenever it lacks `spec.database.image`, until dropped. Other
/// tests on the shared test bed apply the CRD of the build they run; an older one makes the API
/// server prune the field from every read of the Zuul (the operator would then ask for the
/// default Percona image). Needed only while builds with and without the field share a bed.
struct CrdKeeper(tokio::task::JoinHandle<()>);

impl Drop for CrdKeeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn keep_crd(client: kube::Client) -> CrdKeeper {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    CrdKeeper(tokio::spawn(async move {
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        loop {
            let served = crds.get_opt(operator_support::CRD_NAME).await.ok().flatten();
            let has_field = served.and_then(|crd| serde_json::to_value(crd).ok()).is_some_and(|crd| {
                !crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["database"]
                    ["properties"]["image"]
                    .is_null()
            });
            if !has_field {
                eprintln!(
                    "[managed-db] the Zuul CRD lacks spec.database.image (another build applied it): re-applying"
                );
                install_crd(&client).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }))
}

fn secret_value(secret: &Secret, key: &str) -> Option<String> {
    secret.data.as_ref()?.get(key).map(|v| String::from_utf8_lossy(&v.0).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pxc_standin_a_zuul_without_database_is_degraded_until_the_percona_crd_then_runs_on_it() {
    init_logging();
    let started = Instant::now();
    let images = std::process::Command::new(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/build-zuul-images.sh"),
    )
    .arg("--import")
    .output()
    .expect("run build-zuul-images.sh");
    assert!(images.status.success(), "{}", String::from_utf8_lossy(&images.stderr));

    let client = admin_client().await;
    install_crd(&client).await;
    let _crd_keeper = keep_crd(client.clone());
    // Must-show 2 starts from a cluster without the Percona CRD.
    pxc_standin::remove_crd(&client).await;
    let ns = unique_name("kp-op-db");
    common::kubectl_async(&["create", "namespace", &ns], None).await.expect("create the namespace");
    // (the operator's finalizer comes off the Zuul before the namespace goes)
    let _guard = ZuulNamespaceGuard(ns.clone());
    let _dump = DumpOnPanic(ns.clone());
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let tenant: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "tenant"}, "data": {"main.yaml":
        "- tenant:\n    name: t\n    source:\n      git:\n        config-projects:\n          - config\n"}}))
    .expect("ConfigMap");
    config_maps.create(&PostParams::default(), &tenant).await.expect("tenant ConfigMap");
    git_server(&ns).await;
    let key = std::env::temp_dir().join(format!("{ns}-sshkey"));
    let made =
        std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status();
    assert!(made.is_ok_and(|s| s.success()), "ssh-keygen");
    let sshkey = std::fs::read_to_string(&key).expect("the key");
    let _ = (std::fs::remove_file(&key), std::fs::remove_file(key.with_extension("pub")));
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": "sshkey"}, "stringData": {"sshkey": sshkey}}))
            .expect("Secret");
    secrets.create(&PostParams::default(), &secret).await.expect("the executor's key");

    let (operator_client, _rbac) = operator_client(&client, &ns).await;
    let config = Config {
        namespace: Some(ns.clone()),
        kubepool_image: "localhost/kubepool:unused".into(),
        resync: Duration::from_secs(300),
        cleanup_timeout: Duration::from_secs(60),
    };
    // (the new binding may take a moment to authorise: the operator's first call would fail)
    let as_operator: Api<Zuul> = Api::namespaced(operator_client.clone(), &ns);
    wait_for("the operator's RBAC in force", Duration::from_secs(30), || async {
        as_operator.list(&Default::default()).await.ok()
    })
    .await;
    let operator = tokio::spawn(run(operator_client, config));

    let zuuls: Api<Zuul> = Api::namespaced(client.clone(), &ns);
    let zuul: Zuul = serde_json::from_value(json!({
        "apiVersion": "operator.zuul-ci.org/v1alpha2",
        "kind": "Zuul",
        "metadata": {"name": "z"},
        "spec": {
            // No secretName: the database is managed; small, and the stand-in runs this image.
            "database": {"allowUnsafeConfig": true, "image": MARIADB_IMAGE},
            "zookeeper": {"replicas": 1, "image": ZOOKEEPER_IMAGE},
            "scheduler": {"count": 1, "config": "tenant", "image": ZUUL_IMAGE},
            "executor": {"count": 1, "image": EXECUTOR_IMAGE, "sshkey": {"secretName": "sshkey"},
                         "terminationGracePeriodSeconds": 5,
                         "options": {"load_multiplier": "1000", "min_avail_mem": "0", "min_avail_hdd": "0",
                                     "min_avail_inodes": "0"}},
            "connections": {"git": {"driver": "git", "baseurl": format!("git://git-server.{ns}.svc/"),
                                    "poll_delay": "10"}},
            "web": {"count": 1, "image": ZUUL_IMAGE},
            "fingergw": {"count": 0},
        },
    }))
    .expect("zuul");
    zuuls.create(&PostParams::default(), &zuul).await.expect("create the Zuul");

    // Must-show 2: Degraded, naming the operator to install and its CRD; no crash.
    let degraded = wait_for("Degraded without the Percona CRD", Duration::from_secs(60), || async {
        let z = zuuls.get("z").await.ok()?;
        condition(&z, "Degraded").filter(|c| c.0 == "True")
    })
    .await;
    eprintln!("[managed-db] Degraded: {} {}", degraded.1, degraded.2);
    assert_eq!(degraded.1, "DatabaseOperatorMissing");
    for needed in ["Percona XtraDB Cluster operator", "perconaxtradbclusters.pxc.percona.com", "spec.database"] {
        assert!(degraded.2.contains(needed), "{needed} not in {}", degraded.2);
    }
    let zuul_now = zuuls.get("z").await.expect("get");
    assert_eq!(condition(&zuul_now, "Ready").map(|c| c.0), Some("False".into()));
    // Nothing of Zuul runs without its database.
    let sets = common::kubectl_async(&["get", "statefulsets", "-n", &ns, "-o", "name"], None).await.expect("list");
    assert!(!sets.contains("z-scheduler"), "{sets}");
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(!operator.is_finished(), "the operator keeps running without the Percona CRD");
    let still = condition(&zuuls.get("z").await.expect("get"), "Degraded").expect("Degraded");
    assert_eq!((still.0.as_str(), still.1.as_str()), ("True", "DatabaseOperatorMissing"));

    // The CRD installed: the same operator (no restart) creates the cluster.
    pxc_standin::install_crd(&client).await;
    let installed = Instant::now();
    let _standin = pxc_standin::start(client.clone(), &ns, MARIADB_IMAGE);
    let clusters: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &pxc_standin::resource());
    let cluster = wait_for("the PerconaXtraDBCluster after the CRD's installation", Duration::from_secs(60), || {
        let clusters = clusters.clone();
        async move { clusters.get_opt("z-db").await.ok().flatten() }
    })
    .await;
    eprintln!("[managed-db] CRD installed -> PerconaXtraDBCluster: {:.1} s", installed.elapsed().as_secs_f64());
    let spec = &cluster.data["spec"];
    // What the real schema kept (a field it did not know would have been pruned).
    assert_eq!(spec["crVersion"], "1.19.0");
    assert_eq!(spec["unsafeFlags"], json!({"tls": true, "pxcSize": true, "proxySize": true}));
    assert_eq!((spec["pxc"]["size"].clone(), spec["haproxy"]["size"].clone()), (json!(1), json!(1)));
    assert_eq!(spec["tls"]["enabled"], false);
    assert_eq!(spec["secretsName"], "z-db-secrets");
    let owner = &cluster.metadata.owner_references.as_ref().expect("owned")[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Zuul", "z"));

    // Ready on the managed database: the operator waited for the cluster's own status, ran the
    // Job, wrote the dburi; Zuul's scheduler and web are Ready.
    wait_for("the Zuul Ready on the managed database", Duration::from_secs(480), || async {
        let z = zuuls.get("z").await.ok()?;
        condition(&z, "Ready").filter(|c| c.0 == "True")
    })
    .await;
    eprintln!("[managed-db] CRD installed -> Zuul Ready: {:.1} s", installed.elapsed().as_secs_f64());
    let database = secrets.get("z-database").await.expect("the dburi Secret");
    let dburi = secret_value(&database, "dburi").expect("dburi");
    let password = secret_value(&database, "password").expect("password");
    assert_eq!(dburi, format!("mysql+pymysql://zuul:{password}@z-db-haproxy.{ns}:3306/zuul"));
    let conf = secrets.get("z-zuul-config").await.expect("zuul.conf Secret");
    assert!(secret_value(&conf, "zuul.conf").unwrap_or_default().contains(&format!("dburi={dburi}")));
    let cluster = clusters.get("z-db").await.expect("cluster");
    assert_eq!(cluster.data["status"]["state"], "ready");
    assert_eq!(cluster.data["status"]["observedGeneration"], json!(cluster.metadata.generation));

    // Zuul made its tables in the database (as user zuul, through PyMySQL).
    let tables = wait_for("Zuul's tables in MariaDB", Duration::from_secs(60), || async {
        let out = sql(&ns, "SHOW TABLES FROM zuul").await.ok()?;
        out.contains("zuul_build").then_some(out)
    })
    .await;
    eprintln!("[managed-db] tables: {}", tables.split_whitespace().collect::<Vec<_>>().join(" "));
    let grants = sql(&ns, "SHOW GRANTS FOR 'zuul'@'%'").await.expect("grants");
    assert!(grants.contains("ON `zuul`.*"), "{grants}");
    // Nothing beyond its own database (USAGE on *.* is the login itself).
    assert!(!grants.lines().any(|l| l.contains("ON *.*") && !l.starts_with("GRANT USAGE")), "{grants}");
    // A job runs, and Zuul records its build in the managed database.
    let build = wait_for("a SUCCESS build of db-hello in the managed database", Duration::from_secs(300), || async {
        let rows = sql(&ns, "SELECT job_name, result FROM zuul.zuul_build WHERE result = 'SUCCESS'").await.ok()?;
        rows.contains("db-hello").then_some(rows)
    })
    .await;
    eprintln!("[managed-db] builds: {}", build.trim());
    let job = common::kubectl_async(&["get", "job", "z-database-setup", "-n", &ns, "-o", "json"], None)
        .await
        .map(|t| serde_json::from_str::<Value>(&t).unwrap_or_default())
        .expect("the setup Job");
    assert_eq!(job["status"]["succeeded"], 1);

    // Must-show 2 again, on a running Zuul: the CRD removed (its clusters go with it) gives the
    // Degraded condition naming it; nothing of Zuul is deleted by the operator.
    pxc_standin::remove_crd(&client).await;
    let removed = Instant::now();
    let degraded = wait_for("Degraded after the Percona CRD's removal", Duration::from_secs(60), || async {
        let z = zuuls.get("z").await.ok()?;
        condition(&z, "Degraded").filter(|c| c.0 == "True" && c.1 == "DatabaseOperatorMissing")
    })
    .await;
    eprintln!("[managed-db] CRD removed -> Degraded: {:.1} s", removed.elapsed().as_secs_f64());
    assert!(degraded.2.contains("perconaxtradbclusters.pxc.percona.com"), "{}", degraded.2);
    let sets = common::kubectl_async(&["get", "statefulsets", "-n", &ns, "-o", "name"], None).await.expect("list");
    assert!(sets.contains("z-scheduler") && sets.contains("z-executor"), "{sets}");
    assert!(!operator.is_finished());
    operator.abort();
    eprintln!("[managed-db] total {:.0} s", started.elapsed().as_secs_f64());
}
