//! The operator's controller against the test bed's real API server (Kubernetes 1.20): a `Zuul`
//! becomes its children (owned, server-side applied), counts are honoured, drift is undone, an
//! immutable StatefulSet field is handled by replacement, config changes roll exactly the pods
//! that mount them, a removed provider loses its launcher, an invalid spec is reported by name,
//! and deleting the Zuul leaves nothing it made.
//!
//! The operator runs in this process, watching only the test's namespace, as a ServiceAccount with
//! exactly the shipped RBAC (`deploy/operator/rbac.yaml`). Zuul and ZooKeeper
//! images cannot be pulled here, so no pod becomes ready: these tests check what the operator
//! makes and keeps, not a running Zuul (that is the e2e's job).

mod common;
#[path = "support/operator.rs"]
mod operator_support;

use common::{NamespaceGuard, admin_client, init_logging, unique_name};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, Secret};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use kubepool::operator::Zuul;
use kubepool::operator::controller::{Config, run};
use operator_support::ZuulNamespaceGuard;
use operator_support::{eventually, install_crd, operator_client};
use serde_json::{Value, json};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn nodepool_yaml(pool: &str, providers: &[&str]) -> String {
    let mut text = String::from("labels:\n  - name: pod\nproviders:\n");
    for name in providers {
        text.push_str(&format!(
            "  - name: {name}\n    driver: kubernetes\n{}    pools:\n      - name: {pool}\n        labels:\n          - name: pod\n            type: pod\n            image: debian\n",
            if *name == "local" { "" } else { "    context: elsewhere\n" }
        ));
    }
    text
}

async fn create<K>(api: &Api<K>, value: Value)
where
    K: Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(value).expect("object");
    api.create(&PostParams::default(), &object).await.expect("create");
}

/// An admin client, the Zuul CRD installed, and a new namespace named after `prefix` (deleted
/// when the guard drops).
async fn operator_namespace(prefix: &str) -> (kube::Client, String, ZuulNamespaceGuard) {
    init_logging();
    let client = admin_client().await;
    install_crd(&client).await;
    let ns = unique_name(prefix);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    create(&namespaces, json!({"metadata": {"name": ns}})).await;
    let guard = ZuulNamespaceGuard(ns.clone());
    (client, ns, guard)
}

fn secret_text(secret: &Secret, key: &str) -> String {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        .unwrap_or_default()
}

fn config_hash(template: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>) -> String {
    template
        .and_then(|m| m.annotations)
        .and_then(|a| a.get("operator.zuul-ci.org/config-hash").cloned())
        .unwrap_or_default()
}

/// The config hash of a StatefulSet's pod template.
async fn sts_hash(sets: &Api<StatefulSet>, name: &str) -> String {
    config_hash(sets.get(name).await.expect("get").spec.and_then(|s| s.template.metadata))
}

/// The config hash of a Deployment's pod template.
async fn deployment_hash(deployments: &Api<Deployment>, name: &str) -> String {
    config_hash(deployments.get(name).await.expect("get").spec.and_then(|s| s.template.metadata))
}

/// The reasons of the Events about the Zuul `z` in `namespace` (events.k8s.io, read through
/// kubectl's core view).
fn event_reasons(namespace: &str) -> Vec<String> {
    let out = std::process::Command::new(common::kubectl())
        .args(["get", "events", "-n", namespace, "-o", "json"])
        .output()
        .expect("kubectl");
    let list: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    list["items"].as_array().into_iter().flatten().filter_map(|e| e["reason"].as_str().map(str::to_string)).collect()
}

fn condition(zuul: &Zuul, type_: &str) -> Option<(String, String, String)> {
    zuul.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

#[tokio::test]
async fn a_zuul_becomes_its_children_and_the_operator_keeps_them() {
    let (client, ns, _guard) = operator_namespace("kp-op-rec").await;

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let zuuls: Api<Zuul> = Api::namespaced(client.clone(), &ns);
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());

    create(&secrets, json!({"metadata": {"name": "zuul-db"}, "stringData": {"dburi": "postgresql://zuul:pw@db/zuul"}}))
        .await;
    create(
        &secrets,
        json!({"metadata": {"name": "git-secrets"}, "stringData": {"password": "first", "sshkey": "KEY-1"}}),
    )
    .await;
    create(&config_maps, json!({"metadata": {"name": "tenant"}, "data": {"main.yaml": "- tenant:\n    name: t\n"}}))
        .await;
    create(
        &config_maps,
        json!({"metadata": {"name": "nodepool"}, "data": {"nodepool.yaml": nodepool_yaml(&ns, &["local", "remote"])}}),
    )
    .await;
    create(&config_maps, json!({"metadata": {"name": "site"}, "data": {"motd": "hello"}})).await;

    // The operator runs with the shipped RBAC only (deploy/operator/rbac.yaml), not as admin.
    let (operator_client, _rbac) = operator_client(&client, &ns).await;
    let config = Config {
        namespace: Some(ns.clone()),
        kubepool_image: "localhost/kubepool:test".into(),
        resync: Duration::from_secs(300),
        cleanup_timeout: Duration::from_secs(60),
    };
    let mut operator = tokio::spawn(run(operator_client.clone(), config.clone()));

    let zuul: Zuul = serde_json::from_value(json!({
        "apiVersion": "operator.zuul-ci.org/v1alpha2",
        "kind": "Zuul",
        "metadata": {"name": "z"},
        "spec": {
            "imagePrefix": "localhost/absent",
            "database": {"secretName": "zuul-db"},
            "zookeeper": {"replicas": 1},
            "scheduler": {"count": 2, "config": "tenant"},
            "executor": {"count": 1},
            "launcher": {"config": {"configMapName": "nodepool"}},
            "connections": {"git": {
                "driver": "git", "baseurl": "git://git-server",
                "password": {"secretName": "git-secrets"},
                "sshkey": {"secretName": "git-secrets"},
            }},
            "jobVolumes": [{"context": "trusted", "access": "ro", "path": "/etc/site",
                            "volume": {"name": "site", "configMap": {"name": "site"}}}],
            "logging": {"debug": true},
        },
    }))
    .expect("zuul");
    let zuul = zuuls.create(&PostParams::default(), &zuul).await.expect("create the Zuul");
    let uid = zuul.uid().expect("uid");

    // Status: applied, waiting for pods (no image can be pulled here).
    let (zuul_now, took) = eventually("the first pass and its status", LIMIT, || async {
        let z = zuuls.get("z").await.expect("get");
        (z.status.as_ref().and_then(|s| s.observed_generation) == z.metadata.generation).then_some(z)
    })
    .await;
    eprintln!("first pass applied and its status written within {took:?}");
    assert_eq!(condition(&zuul_now, "Ready").map(|c| (c.0, c.1)), Some(("False".into(), "ComponentsNotReady".into())));
    assert_eq!(condition(&zuul_now, "Progressing").map(|c| c.0), Some("True".into()));
    assert_eq!(condition(&zuul_now, "Degraded").map(|c| c.0), Some("False".into()));

    // Children, owned by the Zuul.
    let scheduler = sets.get("z-scheduler").await.expect("scheduler");
    assert_eq!(scheduler.spec.as_ref().and_then(|s| s.replicas), Some(2), "scheduler count honoured");
    let owner = &scheduler.owner_references()[0];
    assert_eq!((owner.uid.as_str(), owner.controller), (uid.as_str(), Some(true)));
    let pod = scheduler.spec.as_ref().and_then(|s| s.template.spec.clone()).expect("pod spec");
    assert_eq!(pod.containers[0].image.as_deref(), Some("localhost/absent/zuul-scheduler:latest"));
    assert_eq!(
        pod.containers[0].command.as_deref(),
        Some(&["zuul-scheduler".to_string(), "-f".into(), "-d".into()][..])
    );
    // The restricted-SCC settings, kept whole by the real API server (issue 21 must-show 4).
    let pod_context = pod.security_context.clone().expect("pod securityContext");
    assert_eq!(pod_context.run_as_non_root, Some(true));
    assert_eq!(pod_context.seccomp_profile.map(|p| p.type_).as_deref(), Some("RuntimeDefault"));
    assert_eq!((pod_context.run_as_user, pod_context.fs_group), (None, None));
    let context = pod.containers[0].security_context.clone().expect("container securityContext");
    assert_eq!(context.allow_privilege_escalation, Some(false));
    assert_eq!(context.capabilities.and_then(|c| c.drop), Some(vec!["ALL".to_string()]));
    let executor = sets.get("z-executor").await.expect("executor");
    let executor_pod = executor.spec.and_then(|s| s.template.spec).expect("executor pod spec");
    assert_eq!(executor_pod.service_account_name.as_deref(), Some("z-executor"));
    assert_eq!(executor_pod.containers[0].security_context.as_ref().and_then(|c| c.privileged), Some(true));
    let (conf, _) =
        eventually("zuul.conf", LIMIT, || async { secrets.get_opt("z-zuul-config").await.expect("get") }).await;
    let text = secret_text(&conf, "zuul.conf");
    for line in [
        "dburi=postgresql://zuul:pw@db/zuul",
        &format!("hosts=z-zookeeper.{ns}.svc:2281"),
        "[connection git]",
        "password=first",
        "sshkey=/etc/zuul/connections/git/sshkey",
        "trusted_ro_paths=/etc/site",
        "tenant_config=/etc/zuul/tenant/main.yaml",
    ] {
        assert!(text.contains(line), "zuul.conf lacks {line:?}:\n{text}");
    }
    assert!(!text.contains("KEY-1"), "a file-type secret is mounted, not inlined");
    let executor = sets.get("z-executor").await.expect("executor");
    let executor_pod = executor.spec.and_then(|s| s.template.spec).expect("executor pod");
    assert!(
        executor_pod.containers[0].volume_mounts.iter().flatten().any(|m| m.mount_path == "/etc/site"),
        "the job volume is mounted into the executor"
    );
    assert_eq!(executor_pod.containers[0].security_context.as_ref().and_then(|s| s.privileged), Some(true));
    let server_tls = secrets.get("z-zookeeper-server-tls").await.expect("server TLS");
    let sans = secret_text(&server_tls, "names");
    for name in
        ["z-zookeeper", &format!("z-zookeeper.{ns}.svc"), &format!("z-zookeeper-0.z-zookeeper-headless.{ns}.svc")]
    {
        assert!(sans.split(',').any(|n| n == name), "server certificate names {sans} lack {name}");
    }
    let launchers =
        deployments.list(&ListParams::default().labels("app.kubernetes.io/component=launcher")).await.expect("list");
    let mut launcher_names: Vec<String> = launchers.items.iter().map(ResourceExt::name_any).collect();
    launcher_names.sort();
    assert_eq!(launcher_names, ["z-launcher-local", "z-launcher-remote"]);
    let shard = secret_text(&secrets.get("z-launcher-local").await.expect("shard"), "nodepool.yaml");
    let shard: Value = serde_json::from_str(&shard).expect("the shard is JSON");
    assert_eq!(shard["providers"].as_array().map(Vec::len), Some(1));
    assert_eq!(shard["zookeeper-servers"][0]["host"], format!("z-zookeeper.{ns}.svc"));
    // ZooKeeper's PodDisruptionBudget, in the version the server has (policy/v1beta1 on 1.20).
    let pdb = std::process::Command::new(common::kubectl())
        .args(["get", "pdb", "z-zookeeper", "-n", &ns, "-o", "jsonpath={.spec.maxUnavailable}"])
        .output()
        .expect("kubectl");
    assert_eq!(String::from_utf8_lossy(&pdb.stdout), "1", "{}", String::from_utf8_lossy(&pdb.stderr));
    // fingergw's Service targets a port its pods have (upstream's has no endpoints).
    let services: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(client.clone(), &ns);
    let finger = services.get("z-fingergw").await.expect("fingergw Service");
    let target = finger.spec.and_then(|s| s.ports).expect("ports")[0].target_port.clone();
    let finger_pod =
        deployments.get("z-fingergw").await.expect("fingergw").spec.and_then(|s| s.template.spec).expect("pod");
    let port_names: Vec<String> =
        finger_pod.containers[0].ports.iter().flatten().filter_map(|p| p.name.clone()).collect();
    assert!(
        matches!(&target, Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(name)) if port_names.contains(name)),
        "fingergw Service targets {target:?}, pod ports {port_names:?}"
    );
    let binding_name = format!("kubepool-launcher-{ns}-z");
    eventually("the in-cluster launchers' ClusterRoleBinding", LIMIT, || async {
        bindings.get_opt(&binding_name).await.expect("get")
    })
    .await;

    // Drift 1: a deleted Deployment comes back.
    let web_uid = deployments.get("z-web").await.expect("web").uid();
    deployments.delete("z-web", &DeleteParams::default()).await.expect("delete web");
    let (_, took) = eventually("z-web recreated", LIMIT, || async {
        deployments.get_opt("z-web").await.expect("get").filter(|d| d.uid() != web_uid)
    })
    .await;
    eprintln!("deleted Deployment recreated in {took:?}");

    // Drift 2: a hand edit of a managed field is reverted.
    let edit = json!({"spec": {"replicas": 5}});
    sets.patch("z-scheduler", &PatchParams::default(), &Patch::Merge(&edit)).await.expect("hand edit");
    let (_, took) = eventually("scheduler replicas back to 2", LIMIT, || async {
        let s = sets.get("z-scheduler").await.expect("get");
        (s.spec.and_then(|s| s.replicas) == Some(2)).then_some(())
    })
    .await;
    eprintln!("hand edit reverted in {took:?}");

    // The operator restarts: what it made is kept (its state is in the cluster): the CA, the
    // keystore password and zuul.conf are not rewritten and no pod rolls.
    let versions = |names: [&'static str; 4]| {
        let secrets = secrets.clone();
        async move {
            let mut out = Vec::new();
            for name in names {
                out.push(secrets.get(name).await.expect("get").resource_version().unwrap_or_default());
            }
            out
        }
    };
    let kept = ["z-zookeeper-ca", "z-zookeeper-client-tls", "z-keystore", "z-zuul-config"];
    let before_restart = versions(kept).await;
    let scheduler_before_restart = sts_hash(&sets, "z-scheduler").await;
    operator.abort();
    let _ = operator.await;
    operator = tokio::spawn(run(operator_client.clone(), config.clone()));
    // A change only a full pass applies, so the new operator has run one.
    let web = json!({"spec": {"web": {"count": 2}}});
    zuuls.patch("z", &PatchParams::default(), &Patch::Merge(&web)).await.expect("web count");
    eventually("two web replicas after the restart", LIMIT, || async {
        (deployments.get("z-web").await.expect("get").spec.and_then(|s| s.replicas) == Some(2)).then_some(())
    })
    .await;
    assert_eq!(versions(kept).await, before_restart, "a restarted operator rewrites none of its Secrets");
    assert_eq!(sts_hash(&sets, "z-scheduler").await, scheduler_before_restart, "and rolls no pod");

    // Counts: executor 1 → 2.
    let scale = json!({"spec": {"executor": {"count": 2}}});
    zuuls.patch("z", &PatchParams::default(), &Patch::Merge(&scale)).await.expect("scale");
    eventually("two executors", LIMIT, || async {
        (sets.get("z-executor").await.expect("get").spec.and_then(|s| s.replicas) == Some(2)).then_some(())
    })
    .await;

    // A connection secret changes: zuul.conf follows and the pods mounting it roll; the launchers
    // (which do not mount it) keep their hash.
    let before = sts_hash(&sets, "z-scheduler").await;
    let launcher_before = deployment_hash(&deployments, "z-launcher-local").await;
    let change = json!({"stringData": {"password": "second"}});
    secrets.patch("git-secrets", &PatchParams::default(), &Patch::Merge(&change)).await.expect("change secret");
    eventually("zuul.conf with the new password", LIMIT, || async {
        secret_text(&secrets.get("z-zuul-config").await.expect("get"), "zuul.conf")
            .contains("password=second")
            .then_some(())
    })
    .await;
    let (after, _) = eventually("the scheduler's pods roll", LIMIT, || async {
        let hash = sts_hash(&sets, "z-scheduler").await;
        (hash != before).then_some(hash)
    })
    .await;
    assert_ne!(after, before);
    let launcher_after = deployment_hash(&deployments, "z-launcher-local").await;
    assert_eq!(launcher_after, launcher_before, "a connection change does not restart launchers");

    // An executor-only option: the executors roll, the schedulers do not.
    let scheduler_before = sts_hash(&sets, "z-scheduler").await;
    let executor_before = sts_hash(&sets, "z-executor").await;
    let option = json!({"spec": {"executor": {"options": {"disk_limit_per_job": "100"}}}});
    zuuls.patch("z", &PatchParams::default(), &Patch::Merge(&option)).await.expect("executor option");
    eventually("the executors roll", LIMIT, || async {
        (sts_hash(&sets, "z-executor").await != executor_before).then_some(())
    })
    .await;
    let conf = secret_text(&secrets.get("z-zuul-config").await.expect("get"), "zuul.conf");
    assert!(conf.contains("disk_limit_per_job=100"), "{conf}");
    assert_eq!(
        sts_hash(&sets, "z-scheduler").await,
        scheduler_before,
        "an executor option does not restart schedulers"
    );

    // An immutable StatefulSet field (the volume claim size) changes: replaced.
    let zk_uid = sets.get("z-zookeeper").await.expect("zk").uid();
    let resize = json!({"spec": {"zookeeper": {"storageSize": "2Gi"}}});
    zuuls.patch("z", &PatchParams::default(), &Patch::Merge(&resize)).await.expect("resize");
    let (zk, took) = eventually("ZooKeeper StatefulSet replaced", Duration::from_secs(60), || async {
        sets.get_opt("z-zookeeper").await.expect("get").filter(|s| s.uid() != zk_uid)
    })
    .await;
    eprintln!("StatefulSet replaced in {took:?}");
    let claim = &zk.spec.expect("spec").volume_claim_templates.expect("claims")[0];
    let size = claim
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| q.0.clone());
    assert_eq!(size.as_deref(), Some("2Gi"));
    eventually("a Replaced Event", LIMIT, || async {
        event_reasons(&ns).iter().any(|r| r == "Replaced").then_some(())
    })
    .await;

    // The tenant config changes: the scheduler StatefulSet records the new content's hash (for
    // smart-reconfigure) and its pods do not roll.
    let scheduler_hash = sts_hash(&sets, "z-scheduler").await;
    let tenant_annotation = |s: StatefulSet| s.annotations().get("operator.zuul-ci.org/tenant-hash").cloned();
    let tenant_before = tenant_annotation(sets.get("z-scheduler").await.expect("get")).expect("tenant hash");
    let tenant = json!({"data": {"main.yaml": "- tenant:\n    name: t2\n"}});
    config_maps
        .patch("tenant", &PatchParams::default(), &Patch::Merge(&tenant))
        .await
        .expect("change the tenant config");
    let (tenant_after, _) = eventually("the new tenant hash", LIMIT, || async {
        tenant_annotation(sets.get("z-scheduler").await.expect("get")).filter(|h| *h != tenant_before)
    })
    .await;
    assert_eq!(tenant_after, kubepool::operator::reconfigure::tenant_hash("- tenant:\n    name: t2\n"));
    assert_eq!(sts_hash(&sets, "z-scheduler").await, scheduler_hash, "a tenant change does not restart schedulers");

    // A logging ConfigMap wins over `debug: true`: log_config in every section, no -d.
    create(&config_maps, json!({"metadata": {"name": "logging"}, "data": {"logging.conf": "version: 1\n"}})).await;
    let logging = json!({"spec": {"logging": {"debug": true, "configMapName": "logging"}}});
    zuuls.patch("z", &PatchParams::default(), &Patch::Merge(&logging)).await.expect("logging");
    eventually("log_config and no -d", LIMIT, || async {
        let conf = secret_text(&secrets.get("z-zuul-config").await.expect("get"), "zuul.conf");
        let set = sets.get("z-scheduler").await.expect("get");
        let container = set.spec.and_then(|s| s.template.spec).map(|p| p.containers[0].clone())?;
        let command = container.command.unwrap_or_default();
        let mounted = container.volume_mounts.iter().flatten().any(|m| m.mount_path == "/etc/zuul/logging");
        (conf.contains("log_config=/etc/zuul/logging/logging.conf") && !command.contains(&"-d".to_string()) && mounted)
            .then_some(())
    })
    .await;

    // A provider removed from the nodepool config: its launcher drains. The managed ZooKeeper
    // cannot be asked from this host (no pod runs here), so the launcher stays, draining; the
    // whole drain is the external-ZooKeeper test's.
    let one = json!({"data": {"nodepool.yaml": nodepool_yaml(&ns, &["local"])}});
    config_maps.patch("nodepool", &PatchParams::default(), &Patch::Merge(&one)).await.expect("drop a provider");
    eventually("the removed provider's launcher draining", LIMIT, || async {
        let shard = secret_text(&secrets.get("z-launcher-remote").await.expect("get"), "nodepool.yaml");
        let shard: Value = serde_json::from_str(&shard).ok()?;
        (shard["providers"][0]["pools"][0]["max-servers"] == 0).then_some(())
    })
    .await;
    assert!(deployments.get_opt("z-launcher-remote").await.expect("get").is_some(), "kept while it may hold nodes");
    assert!(deployments.get_opt("z-launcher-local").await.expect("get").is_some());

    // Invalid specs: named in the status, and nothing is torn down.
    let bad = json!({"spec": {"database": {"secretName": "no-such-db"}}});
    zuuls.patch("z", &PatchParams::default(), &Patch::Merge(&bad)).await.expect("bad db");
    let (degraded, _) = eventually("Degraded for a missing Secret", LIMIT, || async {
        let z = zuuls.get("z").await.expect("get");
        condition(&z, "Degraded").filter(|c| c.0 == "True")
    })
    .await;
    assert_eq!(degraded.1, "InvalidSpec");
    assert!(degraded.2.contains("spec.database") && degraded.2.contains("no-such-db"), "{}", degraded.2);
    assert!(sets.get_opt("z-scheduler").await.expect("get").is_some(), "an invalid spec tears nothing down");
    let bad_config =
        json!({"data": {"nodepool.yaml": "providers:\n  - name: local\n    driver: kubernetes\n    pools: 3\n"}});
    let good = json!({"spec": {"database": {"secretName": "zuul-db"}}});
    zuuls.patch("z", &PatchParams::default(), &Patch::Merge(&good)).await.expect("fix db");
    config_maps.patch("nodepool", &PatchParams::default(), &Patch::Merge(&bad_config)).await.expect("bad config");
    let (degraded, _) = eventually("Degraded for an invalid nodepool.yaml", LIMIT, || async {
        let z = zuuls.get("z").await.expect("get");
        condition(&z, "Degraded").filter(|c| c.0 == "True" && c.1 == "InvalidLauncherConfig")
    })
    .await;
    assert!(degraded.2.contains("ConfigMap nodepool key nodepool.yaml:4:"), "{}", degraded.2);
    config_maps.patch("nodepool", &PatchParams::default(), &Patch::Merge(&one)).await.expect("fix config");
    eventually("Degraded cleared", LIMIT, || async {
        let z = zuuls.get("z").await.expect("get");
        condition(&z, "Degraded").filter(|c| c.0 == "False")
    })
    .await;
    // A job volume whose ConfigMap does not exist (the executors could not start).
    let volume = |name: &str| {
        json!({"spec": {"jobVolumes": [{"context": "trusted", "access": "ro", "path": "/etc/site",
                                        "volume": {"name": "site", "configMap": {"name": name}}}]}})
    };
    zuuls.patch("z", &PatchParams::default(), &Patch::Merge(&volume("no-such-site"))).await.expect("bad volume");
    let (degraded, _) = eventually("Degraded for a missing job volume ConfigMap", LIMIT, || async {
        condition(&zuuls.get("z").await.expect("get"), "Degraded").filter(|c| c.0 == "True")
    })
    .await;
    assert_eq!(
        (degraded.1.as_str(), degraded.2.as_str()),
        ("InvalidSpec", "spec.jobVolumes[0].volume.configMap: ConfigMap no-such-site does not exist")
    );
    zuuls.patch("z", &PatchParams::default(), &Patch::Merge(&volume("site"))).await.expect("fix the volume");
    eventually("Degraded cleared again", LIMIT, || async {
        condition(&zuuls.get("z").await.expect("get"), "Degraded").filter(|c| c.0 == "False")
    })
    .await;

    // The ZooKeeper's volume claim (made by the StatefulSet controller) is adopted by the Zuul.
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    eventually("the ZooKeeper's volume claim owned by the Zuul", LIMIT, || async {
        let claim = claims.get_opt("data-z-zookeeper-0").await.expect("get")?;
        claim.owner_references().iter().any(|o| o.uid == uid).then_some(())
    })
    .await;

    // Deleting the Zuul removes everything it made, and nothing else. Its finalizer first stops the
    // Zuul components and drains the launchers; the managed ZooKeeper cannot be asked from this
    // host, so after the grace the operator deletes the in-cluster provider's node namespaces
    // itself (a stand-in labelled as kubepool labels a node of provider `local` in this Zuul's
    // pool; a node namespace of another pool stays), then garbage collection removes the rest
    // (the cluster-scoped binding by the operator).
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let node_labels = |pool: &str| {
        json!({"nodepool_provider_name": "local", "nodepool_pool_name": pool, "nodepool_node_id": "0000000001",
               "app.kubernetes.io/managed-by": "kubepool"})
    };
    let (node, other) = (format!("{ns}-0000000001"), format!("{ns}-other"));
    let _node_guards = (NamespaceGuard(node.clone()), NamespaceGuard(other.clone()));
    create(&namespaces, json!({"metadata": {"name": node, "labels": node_labels(&ns)}})).await;
    create(&namespaces, json!({"metadata": {"name": other, "labels": node_labels(&other)}})).await;
    let finalizers = zuuls.get("z").await.expect("get").finalizers().to_vec();
    assert_eq!(finalizers, ["operator.zuul-ci.org/launcher-nodes"]);
    zuuls.delete("z", &DeleteParams::background()).await.expect("delete the Zuul");
    let (message, took) = eventually("the deleted Zuul draining (status)", LIMIT, || async {
        let z = zuuls.get_opt("z").await.expect("get")?;
        condition(&z, "Progressing").filter(|c| c.1 == "Draining").map(|c| c.2)
    })
    .await;
    eprintln!("deleting, {took:?} after the deletion: {message}");
    assert!(sets.get_opt("z-scheduler").await.expect("get").is_none(), "the scheduler stops first");
    assert!(sets.get_opt("z-zookeeper").await.expect("get").is_some(), "ZooKeeper stays while draining");
    assert!(deployments.get_opt("z-launcher-local").await.expect("get").is_some(), "the launchers stay");
    let selector = "app.kubernetes.io/managed-by=kubepool-operator";
    let (_, took) = eventually("every child gone", Duration::from_secs(180), || async {
        let sets_left = sets.list_metadata(&ListParams::default().labels(selector)).await.expect("list").items.len();
        let deployments_left =
            deployments.list_metadata(&ListParams::default().labels(selector)).await.expect("list").items.len();
        let secrets_left =
            secrets.list_metadata(&ListParams::default().labels(selector)).await.expect("list").items.len();
        let binding_left = bindings.get_opt(&binding_name).await.expect("get").is_some();
        let claims_left = claims.list_metadata(&ListParams::default()).await.expect("list").items.len();
        (sets_left + deployments_left + secrets_left + claims_left == 0 && !binding_left).then_some(())
    })
    .await;
    eprintln!("everything gone {took:?} after the Zuul's deletion");
    assert!(zuuls.get_opt("z").await.expect("get").is_none(), "the Zuul is gone");
    let gone = |n: Option<Namespace>| n.is_none_or(|n| n.metadata.deletion_timestamp.is_some());
    assert!(gone(namespaces.get_opt(&node).await.expect("get")), "the node namespace is deleted");
    assert!(!gone(namespaces.get_opt(&other).await.expect("get")), "another pool's node namespace stays");
    let events = kube::Api::<k8s_openapi::api::events::v1::Event>::namespaced(client.clone(), &ns);
    let events = events.list(&ListParams::default()).await.expect("events").items;
    let swept = events.iter().find(|e| e.reason.as_deref() == Some("ZooKeeperUnreachable")).expect("a sweep Event");
    eprintln!("sweep Event: {}", swept.note.as_deref().unwrap_or_default());
    assert!(swept.note.as_deref().unwrap_or_default().contains(&node), "the Event names the node namespace");
    for name in ["zuul-db", "git-secrets"] {
        assert!(secrets.get_opt(name).await.expect("get").is_some(), "the user's Secret {name} stays");
    }
    assert!(config_maps.get_opt("nodepool").await.expect("get").is_some(), "the user's ConfigMap stays");
    operator.abort();
}

/// An external ZooKeeper: no managed one is made; its client TLS Secret is copied to the one every
/// pod mounts, zuul.conf and the launcher shards point at its hosts, and a Secret lacking a key
/// is reported by name.
#[tokio::test]
async fn an_external_zookeeper_is_used_as_given() {
    let (client, ns, _guard) = operator_namespace("kp-op-ext").await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let zuuls: Api<Zuul> = Api::namespaced(client.clone(), &ns);
    create(&secrets, json!({"metadata": {"name": "zuul-db"}, "stringData": {"dburi": "mysql+pymysql://z:p@db/z"}}))
        .await;
    // The test bed's own ZooKeeper (TLS), in a chroot of this test's.
    let read = |var: &str| std::fs::read_to_string(common::required_env(var)).expect("read TLS file");
    let (ca, cert, key) = (read("KUBEPOOL_TEST_ZK_CA"), read("KUBEPOOL_TEST_ZK_CERT"), read("KUBEPOOL_TEST_ZK_KEY"));
    let chroot = format!("/{}", unique_name("kp-op-drain"));
    let hosts = format!("{}{chroot}", common::required_env("KUBEPOOL_TEST_ZK_TLS"));
    create(&secrets, json!({"metadata": {"name": "zk-tls"}, "stringData": {"ca.crt": ca, "tls.crt": cert}})).await;
    create(&secrets, json!({"metadata": {"name": "kube-config"}, "stringData": {"kube.config": "apiVersion: v1\n"}}))
        .await;
    create(
        &config_maps,
        json!({"metadata": {"name": "nodepool"}, "data": {"nodepool.yaml": nodepool_yaml(&ns, &["remote", "gone"])}}),
    )
    .await;

    let (operator_client, _rbac) = operator_client(&client, &ns).await;
    let operator = tokio::spawn(run(
        operator_client,
        Config {
            namespace: Some(ns.clone()),
            kubepool_image: "localhost/kubepool:test".into(),
            resync: Duration::from_secs(300),
            cleanup_timeout: Duration::from_secs(60),
        },
    ));
    let zuul: Zuul = serde_json::from_value(json!({
        "apiVersion": "operator.zuul-ci.org/v1alpha2",
        "kind": "Zuul",
        "metadata": {"name": "x"},
        "spec": {
            "database": {"secretName": "zuul-db"},
            "zookeeper": {"hosts": hosts, "secretName": "zk-tls"},
            "launcher": {"config": "nodepool"},
            "externalConfig": {"kubernetes": {"secretName": "kube-config"}},
        },
    }))
    .expect("zuul");
    zuuls.create(&PostParams::default(), &zuul).await.expect("create the Zuul");

    // The Secret lacks tls.key: named in the status.
    let (degraded, _) = eventually("Degraded for the missing key", LIMIT, || async {
        condition(&zuuls.get("x").await.expect("get"), "Degraded").filter(|c| c.0 == "True")
    })
    .await;
    assert_eq!(degraded.2, "spec.zookeeper.secretName: Secret zk-tls has no key tls.key");

    let key = json!({"stringData": {"tls.key": key}});
    secrets.patch("zk-tls", &PatchParams::default(), &Patch::Merge(&key)).await.expect("add the key");
    eventually("Degraded cleared", LIMIT, || async {
        condition(&zuuls.get("x").await.expect("get"), "Degraded").filter(|c| c.0 == "False")
    })
    .await;
    // A malformed item the schema lets through is reported; the Zuul stays readable.
    let bad = json!({"spec": {"imagePullSecrets": ["ok", 3]}});
    zuuls.patch("x", &PatchParams::default(), &Patch::Merge(&bad)).await.expect("bad pull secret");
    let (degraded, _) = eventually("Degraded for a malformed pull secret", LIMIT, || async {
        condition(&zuuls.get("x").await.expect("get"), "Degraded").filter(|c| c.0 == "True")
    })
    .await;
    assert_eq!(degraded.2, "spec.imagePullSecrets[1]: expected a Secret name or {name: <Secret name>}, got 3");
    let fixed = json!({"spec": {"imagePullSecrets": ["ok", {"name": "also-ok"}]}});
    zuuls.patch("x", &PatchParams::default(), &Patch::Merge(&fixed)).await.expect("fix pull secrets");
    eventually("Degraded cleared again", LIMIT, || async {
        condition(&zuuls.get("x").await.expect("get"), "Degraded").filter(|c| c.0 == "False")
    })
    .await;
    let copied = secrets.get("x-zookeeper-client-tls").await.expect("client TLS");
    assert_eq!(
        ["ca.crt", "tls.crt", "tls.key"].map(|k| secret_text(&copied, k)),
        [ca.clone(), cert.clone(), read("KUBEPOOL_TEST_ZK_KEY")],
        "the given TLS material is what pods mount"
    );
    assert!(sets.get_opt("x-zookeeper").await.expect("get").is_none(), "no managed ZooKeeper");
    assert!(secrets.get_opt("x-zookeeper-ca").await.expect("get").is_none(), "no CA made");
    let conf = secret_text(&secrets.get("x-zuul-config").await.expect("get"), "zuul.conf");
    assert!(conf.contains(&format!("hosts={hosts}\n")), "{conf}");
    let shard: Value =
        serde_json::from_str(&secret_text(&secrets.get("x-launcher-remote").await.expect("shard"), "nodepool.yaml"))
            .expect("JSON");
    let (host, port) = common::required_env("KUBEPOOL_TEST_ZK_TLS")
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .expect("host:port");
    assert_eq!(
        shard["zookeeper-servers"],
        json!([{"host": host, "port": port.parse::<u16>().expect("port"), "chroot": chroot}])
    );
    // externalConfig.kubernetes: mounted at /etc/kubernetes in the launchers, KUBECONFIG set;
    // not in the Zuul components.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let launcher = deployments.get("x-launcher-remote").await.expect("launcher");
    let container = launcher.spec.and_then(|s| s.template.spec).expect("pod").containers[0].clone();
    assert!(container.volume_mounts.iter().flatten().any(|m| m.mount_path == "/etc/kubernetes"));
    assert!(
        container
            .env
            .iter()
            .flatten()
            .any(|e| e.name == "KUBECONFIG" && e.value.as_deref() == Some("/etc/kubernetes/kube.config"))
    );
    let web = deployments.get("x-web").await.expect("web");
    let web_mounts = web.spec.and_then(|s| s.template.spec).expect("pod").containers[0].volume_mounts.clone();
    assert!(!web_mounts.iter().flatten().any(|m| m.mount_path == "/etc/kubernetes"), "only launchers get it");
    // Every provider has a context (another cluster): no ClusterRoleBinding.
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    assert!(bindings.get_opt(&format!("kubepool-launcher-{ns}-x")).await.expect("get").is_none());

    // Drain: provider `gone` holds a node in the Zuul's ZooKeeper when it leaves the config; its
    // launcher runs a draining shard until the node is gone, then goes.
    let mut zk_options = common::zookeeper_options(true);
    zk_options.chroot = Some(chroot.clone());
    let store = kubepool::zk::Store::new(kubepool::zk::connect(&zk_options).await.expect("ZooKeeper"));
    let mut node = kubepool::zk::Node::new("pod");
    node.provider = Some("gone".into());
    node.state = kubepool::zk::NodeState::InUse;
    let node = store.create_node(&node).await.expect("a node of provider gone");
    let one = json!({"data": {"nodepool.yaml": nodepool_yaml(&ns, &["remote"])}});
    config_maps.patch("nodepool", &PatchParams::default(), &Patch::Merge(&one)).await.expect("drop provider gone");
    eventually("the launcher of gone draining", LIMIT, || async {
        let shard = secret_text(&secrets.get("x-launcher-gone").await.expect("get"), "nodepool.yaml");
        let shard: Value = serde_json::from_str(&shard).ok()?;
        (shard["providers"][0]["pools"][0]["max-servers"] == 0).then_some(())
    })
    .await;
    // A pass comes every 10 s while a launcher drains: one more keeps it.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert!(deployments.get_opt("x-launcher-gone").await.expect("get").is_some(), "kept while its node exists");
    store.delete_node(&node.id).await.expect("the node goes");
    let (_, took) = eventually("the drained launcher gone", LIMIT, || async {
        let gone = deployments.get_opt("x-launcher-gone").await.expect("get").is_none()
            && secrets.get_opt("x-launcher-gone").await.expect("get").is_none();
        gone.then_some(())
    })
    .await;
    eprintln!("drained launcher deleted {took:?} after its last node");
    assert!(deployments.get_opt("x-launcher-remote").await.expect("get").is_some());
    assert!(event_reasons(&ns).iter().any(|r| r == "Drained"));
    zuuls.delete("x", &DeleteParams::background()).await.expect("delete");
    operator.abort();
}

/// The upstream zuul-operator's own example CR, unchanged: without a database it waits for the
/// managed one (not served here); with one, its Secret-form references work: the tenant
/// config and the nodepool.yaml from Secrets, the executor's SSH key mounted in executors only.
#[tokio::test]
async fn the_upstream_example_cr_reconciles() {
    let (client, ns, _guard) = operator_namespace("kp-op-up").await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let zuuls: Api<Zuul> = Api::namespaced(client.clone(), &ns);
    // The Secrets upstream's example names.
    create(&secrets, json!({"metadata": {"name": "executor-ssh-key"}, "stringData": {"sshkey": "KEY"}})).await;
    create(
        &secrets,
        json!({"metadata": {"name": "zuul-yaml-conf"}, "stringData": {"main.yaml": "- tenant: {name: t}\n"}}),
    )
    .await;
    create(
        &secrets,
        json!({"metadata": {"name": "nodepool-yaml-conf"}, "stringData": {"nodepool.yaml": nodepool_yaml(&ns, &["up"])}}),
    )
    .await;
    create(
        &secrets,
        json!({"metadata": {"name": "nodepool-kube-config"}, "stringData": {"kube.config": "apiVersion: v1\n"}}),
    )
    .await;
    let (operator_client, _rbac) = operator_client(&client, &ns).await;
    let operator = tokio::spawn(run(
        operator_client,
        Config {
            namespace: Some(ns.clone()),
            kubepool_image: "localhost/kubepool:test".into(),
            resync: Duration::from_secs(300),
            cleanup_timeout: Duration::from_secs(60),
        },
    ));
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/operator-data/upstream-v1alpha2-zuul-cr.yaml");
    let out = std::process::Command::new(common::kubectl())
        .args(["create", "-n", &ns, "-f"])
        .arg(&path)
        .output()
        .expect("kubectl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Without `database` the database is managed: held by the Percona CRD's absence (Degraded) or,
    // where an earlier test installed it, by a cluster nobody serves here (Progressing).
    let (waiting, _) = eventually("held by the managed database", LIMIT, || async {
        condition(&zuuls.get("zuul").await.expect("get"), "Ready").filter(|c| c.0 == "False" && !c.1.is_empty())
    })
    .await;
    assert!(["DatabaseOperatorMissing", "WaitingForDatabase"].contains(&waiting.1.as_str()), "{waiting:?}");

    create(&secrets, json!({"metadata": {"name": "zuul-db"}, "stringData": {"dburi": "postgresql://z:p@db/z"}})).await;
    let database = json!({"spec": {"database": {"secretName": "zuul-db"}}});
    zuuls.patch("zuul", &PatchParams::default(), &Patch::Merge(&database)).await.expect("add a database");
    eventually("applied", LIMIT, || async {
        condition(&zuuls.get("zuul").await.expect("get"), "Ready").filter(|c| c.1 == "ComponentsNotReady")
    })
    .await;
    let scheduler =
        sets.get("zuul-scheduler").await.expect("scheduler").spec.and_then(|s| s.template.spec).expect("pod");
    assert_eq!(scheduler.containers[0].image.as_deref(), Some("quay.io/zuul-ci/zuul-scheduler:latest"));
    let tenant = scheduler.volumes.iter().flatten().find(|v| v.name == "tenant").expect("tenant volume");
    assert_eq!(tenant.secret.as_ref().and_then(|s| s.secret_name.as_deref()), Some("zuul-yaml-conf"));
    let mounts = |pod: &k8s_openapi::api::core::v1::PodSpec| -> Vec<String> {
        pod.containers[0].volume_mounts.iter().flatten().map(|m| m.mount_path.clone()).collect()
    };
    assert!(!mounts(&scheduler).contains(&"/etc/zuul/sshkey".to_string()), "the SSH key is for executors only");
    let executor = sets.get("zuul-executor").await.expect("executor").spec.and_then(|s| s.template.spec).expect("pod");
    assert!(mounts(&executor).contains(&"/etc/zuul/sshkey".to_string()));
    let conf = secret_text(&secrets.get("zuul-zuul-config").await.expect("get"), "zuul.conf");
    assert!(
        conf.contains("private_key_file=/etc/zuul/sshkey/sshkey") && conf.contains("[connection opendev]"),
        "{conf}"
    );
    assert_eq!(sets.get("zuul-merger").await.expect("merger").spec.and_then(|s| s.replicas), Some(1));
    assert!(deployments.get_opt("zuul-launcher-up").await.expect("get").is_some(), "the launcher from a Secret config");
    zuuls.delete("zuul", &DeleteParams::background()).await.expect("delete");
    operator.abort();
}
