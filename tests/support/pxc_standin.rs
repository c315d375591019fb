//! A test stand-in for the Percona XtraDB Cluster operator (the operator's image cannot be
//! pulled here). Ours, not Percona's: it serves the REAL `PerconaXtraDBCluster` CRD
//! (tests/operator-data/pxc-crd-v1.19.0.yaml) in one namespace, doing for each cluster what the
//! Zuul operator relies on, as Percona operator 1.19.0 does it (`pkg/controller/pxc/status.go`,
//! `secrets.go`):
//!   * the users Secret `spec.secretsName` (and its copy `internal-<name>`): missing keys of
//!     `root`, `xtrabackup`, `monitor`, `proxyadmin`, `operator`, `replication` filled with random
//!     passwords, present ones kept;
//!   * a StatefulSet `<name>-pxc` of `spec.pxc.size` pods running Debian's MariaDB (the image
//!     given to [`start`], localhost/kubepool-mariadb:10.11, whatever `spec.pxc.image` says: that
//!     is Percona's image) with root's password from that Secret, labelled as PXC's pods are;
//!   * Services `<name>-pxc` (headless) and `<name>-haproxy` (port 3306, straight to the database
//!     pods: there is no HAProxy);
//!   * the status: `pxc` and `haproxy` `{size, ready, status}`, `size` and `ready` their sums,
//!     `state` (`initializing` / `ready`), `host` `<name>-haproxy.<namespace>` (or `<name>-pxc.…`
//!     without HAProxy), `observedGeneration` and a condition of type `state`.
//!
//! What it does not do (docs/operator.md lists it): Galera, HAProxy, TLS, crVersion or
//! unsafeFlags checks, backups, finalizers, upgrades, real timings.

#![allow(dead_code)]

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Secret, Service};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const MANAGER: &str = "pxc-standin";
pub const USERS: &[&str] = &["root", "xtrabackup", "monitor", "proxyadmin", "operator", "replication"];

pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("pxc.percona.com", "v1", "PerconaXtraDBCluster"),
        "perconaxtradbclusters",
    )
}

/// Runs the stand-in for `namespace` until the returned handle is aborted (or dropped with
/// [`StandIn`]).
pub struct StandIn(pub tokio::task::JoinHandle<()>);

impl Drop for StandIn {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub fn start(client: kube::Client, namespace: &str, image: &str) -> StandIn {
    let namespace = namespace.to_string();
    let image = image.to_string();
    StandIn(tokio::spawn(async move {
        loop {
            if let Err(error) = pass(&client, &namespace, &image).await {
                eprintln!("[pxc-standin] {error}");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }))
}

fn apply_params() -> PatchParams {
    PatchParams::apply(MANAGER).force()
}

fn password() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn pass(client: &kube::Client, ns: &str, image: &str) -> Result<(), kube::Error> {
    let clusters: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource());
    let list = match clusters.list(&Default::default()).await {
        Ok(list) => list,
        // The CRD is not installed (yet): nothing to serve.
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
        Err(error) => return Err(error),
    };
    for cluster in list.items {
        if cluster.metadata.deletion_timestamp.is_none() {
            serve(client, ns, &cluster, image).await?;
        }
    }
    Ok(())
}

async fn serve(client: &kube::Client, ns: &str, cluster: &DynamicObject, image: &str) -> Result<(), kube::Error> {
    let name = cluster.metadata.name.clone().unwrap_or_default();
    let spec = &cluster.data["spec"];
    let generation = cluster.metadata.generation.unwrap_or(0);
    let owner = json!([{"apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBCluster", "name": name,
                        "uid": cluster.metadata.uid, "controller": true}]);
    let secrets_name = spec["secretsName"].as_str().map_or_else(|| format!("{name}-secrets"), str::to_string);
    let pxc_size = spec["pxc"]["size"].as_i64().unwrap_or(3);
    let haproxy = spec["haproxy"]["enabled"].as_bool().unwrap_or(false);
    let haproxy_size = if haproxy { spec["haproxy"]["size"].as_i64().unwrap_or(3) } else { 0 };

    // The users Secret: missing keys filled, present ones kept (secrets.go).
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut users: BTreeMap<String, String> = secrets
        .get_opt(&secrets_name)
        .await?
        .and_then(|s| s.data)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    let missing: Vec<&str> = USERS.iter().copied().filter(|u| !users.contains_key(*u)).collect();
    for user in &missing {
        users.insert(user.to_string(), password());
    }
    if !missing.is_empty() {
        for secret_name in [secrets_name.clone(), format!("internal-{name}")] {
            let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": secret_name},
                                "type": "Opaque", "stringData": users});
            secrets.patch(&secret_name, &apply_params(), &Patch::Apply(&secret)).await?;
        }
    }

    let labels = json!({
        "app.kubernetes.io/name": "percona-xtradb-cluster", "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": "pxc", "app.kubernetes.io/managed-by": "percona-xtradb-cluster-operator",
        "app.kubernetes.io/part-of": "percona-xtradb-cluster",
    });
    let set_name = format!("{name}-pxc");
    let set = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": set_name, "labels": labels, "ownerReferences": owner},
        "spec": {
            "replicas": pxc_size, "serviceName": set_name, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                "terminationGracePeriodSeconds": 5,
                "containers": [{
                    "name": "pxc", "image": image, "imagePullPolicy": "IfNotPresent",
                    "env": [{"name": "MYSQL_ROOT_PASSWORD",
                             "valueFrom": {"secretKeyRef": {"name": secrets_name, "key": "root"}}}],
                    "ports": [{"name": "mysql", "containerPort": 3306, "protocol": "TCP"}],
                    "readinessProbe": {"tcpSocket": {"port": 3306}, "periodSeconds": 2},
                    "volumeMounts": [{"name": "datadir", "mountPath": "/var/lib/mysql"}],
                }],
                "volumes": [{"name": "datadir", "emptyDir": {}}],
            }},
        },
    });
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let set = sets.patch(&set_name, &apply_params(), &Patch::Apply(&set)).await?;
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    for (service, headless) in [(format!("{name}-pxc"), true), (format!("{name}-haproxy"), false)] {
        if service.ends_with("-haproxy") && !haproxy {
            continue;
        }
        let mut spec = json!({"selector": labels, "ports": [{"name": "mysql", "port": 3306, "targetPort": 3306,
                                                              "protocol": "TCP"}]});
        if headless {
            spec["clusterIP"] = json!("None");
            spec["publishNotReadyAddresses"] = json!(true);
        }
        let object = json!({"apiVersion": "v1", "kind": "Service",
                            "metadata": {"name": service, "labels": labels, "ownerReferences": owner}, "spec": spec});
        services.patch(&service, &apply_params(), &Patch::Apply(&object)).await?;
    }

    // The status, as status.go computes it.
    let pxc_ready = set.status.as_ref().and_then(|s| s.ready_replicas).map_or(0, i64::from).min(pxc_size);
    let haproxy_ready = if pxc_ready > 0 { haproxy_size } else { 0 };
    let app = |size: i64, ready: i64| {
        json!({"size": size, "ready": ready, "status": if size == ready { "ready" } else { "initializing" },
               "image": image})
    };
    let (size, ready) = (pxc_size + haproxy_size, pxc_ready + haproxy_ready);
    let state = if size == ready { "ready" } else { "initializing" };
    let host = if haproxy { format!("{name}-haproxy.{ns}") } else { format!("{name}-pxc.{ns}") };
    let previous = &cluster.data["status"];
    let mut status = json!({
        "pxc": app(pxc_size, pxc_ready),
        "haproxy": if haproxy { app(haproxy_size, haproxy_ready) } else { json!({}) },
        "size": size, "ready": ready, "state": state, "host": host, "observedGeneration": generation,
    });
    let same = ["pxc", "haproxy", "size", "ready", "state", "host", "observedGeneration"]
        .iter()
        .all(|k| previous.get(*k) == status.get(*k));
    if same {
        return Ok(());
    }
    let now = k8s_openapi::jiff::Timestamp::from_second(k8s_openapi::jiff::Timestamp::now().as_second())
        .map(|t| t.to_string())
        .unwrap_or_default();
    status["conditions"] = json!([{"type": state, "status": "True", "lastTransitionTime": now}]);
    let clusters: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource());
    clusters.patch_status(&name, &PatchParams::default(), &Patch::Merge(&json!({"status": status}))).await?;
    eprintln!("[pxc-standin] {name}: state {state}, {ready}/{size} ready, generation {generation}");
    Ok(())
}

/// Installs the real CRD (test data) by create, as its size requires; waits until it is served.
/// Kubernetes 1.20 refuses the `default: ""` of string fields that controller-gen writes since
/// Percona 1.15 (66 errors "in body must be of type string"): those lines alone are dropped.
pub async fn install_crd(client: &kube::Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::runtime::wait::{await_condition, conditions};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/operator-data/pxc-crd-v1.19.0.yaml");
    let text = std::fs::read_to_string(&path).expect("read the PXC CRD");
    let text: String = text.lines().filter(|l| l.trim() != "default: \"\"").map(|l| format!("{l}\n")).collect();
    // (kubectl's client-side validation knows no x-kubernetes-validations: the server's alone)
    match super::common::kubectl_async(&["create", "--validate=false", "-f", "-"], Some(&text)).await {
        Ok(_) => {}
        Err(error) if error.contains("AlreadyExists") => {}
        Err(error) => panic!("create the PXC CRD: {error}"),
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    tokio::time::timeout(
        Duration::from_secs(60),
        await_condition(crds, "perconaxtradbclusters.pxc.percona.com", conditions::is_crd_established()),
    )
    .await
    .expect("PXC CRD established within 60 s")
    .expect("watch the PXC CRD");
}

/// Deletes the CRD (every PerconaXtraDBCluster goes with it) and waits until it is gone.
pub async fn remove_crd(client: &kube::Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = "perconaxtradbclusters.pxc.percona.com";
    let _ = crds.delete(name, &Default::default()).await;
    for _ in 0..240 {
        if crds.get_opt(name).await.ok().flatten().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("the PXC CRD is still there 120 s after its deletion");
}
