//! The openshift and openshiftpods drivers end to end, with the real parts on both sides: a
//! nodepool.yaml using every key of both drivers, the launcher set up from it, requests
//! submitted by Zuul's own scheduler code, nodes accepted by Zuul's own executor code, the
//! kubeconfig written by Zuul's own `prepareKubeConfig`, and the real `kubectl` with each
//! node's credentials. OpenShift's project API is the test stand-in (tests/support/project_api.rs,
//! docs/openshift.md).

mod common;
#[path = "support/launcher.rs"]
mod launcher_support;
#[path = "support/openshift.rs"]
mod openshift;
#[path = "support/project_api.rs"]
mod project_api;
mod zk_support;

use common::Scratch;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, ListParams};
use kubepool::drivers::openshift::kinds::Project;
use kubepool::zk::{NodeState, RequestState};
use launcher_support::{Launcher, submit, wait_for_state, wait_until_gone};
use openshift::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use zk_support::{RunningPeer, TestZk};

/// Zuul's executor accepts the nodes of `request`; its `prepareKubeConfig` writes their
/// kubeconfig. Returns the running executor peer (holding the nodes), the kubeconfig and the
/// context of each node, in the request's node order.
async fn accept(zk: &TestZk, request: &str, scratch: &Scratch) -> (RunningPeer, PathBuf, Vec<String>) {
    let mut executor = RunningPeer::start(
        "zuul_accept_nodes.py",
        &[zk.hosts(), vec!["--request".into(), request.to_string()]].concat(),
    );
    let accepted = executor.next().await;
    assert_eq!(accepted["accepted"], Value::Bool(true), "{accepted}");
    let ports: Vec<&Value> =
        accepted["nodes"].as_array().expect("nodes").iter().map(|n| &n["connection_port"]).collect();
    let kubeconfig = scratch.0.join(format!("kubeconfig-{request}"));
    let contexts = zk_support::zuul_kubeconfig(&ports, &kubeconfig).await;
    (executor, kubeconfig, contexts)
}

async fn return_nodes(mut executor: RunningPeer) {
    executor.proceed().await;
    assert_eq!(executor.next().await["returned"], Value::Bool(true));
    executor.finish().await;
}

fn exec_greeting(kubeconfig: &Path, context: &str, pod: &str) -> String {
    let out = kubectl(
        kubeconfig,
        context,
        &["exec", pod, "--", "sh", "-c", "echo $GREETING; test -d /scratch && echo scratch"],
    );
    assert_ok(&out, "exec into the node's pod");
    text(&out.stdout)
}

#[tokio::test]
async fn openshift_project_and_pod_labels_end_to_end() {
    let zk = TestZk::new().await;
    let pool = common::unique_name("os-p");
    let api = project_api::ProjectApi::start(&pool).await;
    let config = every_key_config(&plain_zookeeper(), &pool, &common::unique_name("os-unused"), 10);
    let launcher = Launcher::from_config(&zk, &config).await;
    let started = Instant::now();
    let id = submit(&zk, &[PROJECT_LABEL, POD_LABEL, SPEC_LABEL]).await;
    let request = wait_for_state(&zk.store, &id, Duration::from_secs(180)).await;
    assert_eq!(request.state, RequestState::Fulfilled, "{request:?}");
    eprintln!("openshift: project + pod + spec-pod request fulfilled in {:?}", started.elapsed());
    let node_ids = request.nodes.clone();
    let projects_of: Vec<String> = node_ids.iter().map(|id| format!("{pool}-{id}")).collect();

    // The node records of reference §4.4/§5.
    let project_node = zk.store.get_node(&node_ids[0]).await.expect("read").expect("node").value;
    assert_eq!(project_node.connection_type.as_deref(), Some("project"));
    assert_eq!(project_node.external_id.as_deref(), Some(projects_of[0].as_str()));
    assert_eq!(project_node.interface_ip, None);
    let port = &project_node.connection_port;
    assert_eq!(port["namespace"], projects_of[0].as_str());
    assert_eq!(
        common::token_identity(port["token"].as_str().expect("token")).await,
        Some(format!("system:serviceaccount:{}:zuul-worker", projects_of[0])),
        "the project node's own service-account token"
    );
    assert_eq!(port["user"], "zuul-worker");
    assert!(port.get("name").is_none() && port.get("pod").is_none(), "{port}");
    assert!(port["ca_crt"].as_str().is_some_and(|c| !c.is_empty()), "TLS is verified: ca_crt present");
    assert_eq!(
        serde_json::to_value(&project_node.resources).expect("json"),
        serde_json::json!({"instances": 1, "cores": 1, "ram": 64, "ephemeral-storage": 100, "os-widgets": 1}),
        "pool defaults charge the project label"
    );
    assert_eq!(project_node.attributes.as_ref().and_then(|a| a.get("executor-zone")), Some(&Value::from("os-zone")));
    let pod_node = zk.store.get_node(&node_ids[1]).await.expect("read").expect("node").value;
    assert_eq!(pod_node.connection_type.as_deref(), Some("kubectl"));
    assert_eq!(pod_node.interface_ip.as_deref(), Some(POD_LABEL));
    assert_eq!(pod_node.external_id.as_deref(), Some(projects_of[1].as_str()));
    assert_eq!(pod_node.connection_port["pod"], POD_LABEL);
    assert_eq!(pod_node.python_path.as_deref(), Some("/usr/bin/python3"));
    assert_eq!(pod_node.shell_type.as_deref(), Some("sh"));
    assert!(pod_node.host_id.as_deref().is_some_and(|h| !h.is_empty()), "{pod_node:?}");
    assert_eq!(
        serde_json::to_value(&pod_node.resources).expect("json"),
        serde_json::json!({"instances": 1, "ram": 32, "ephemeral-storage": 50, "os-widgets": 2})
    );

    // What the stand-in made of the ProjectRequest, and what the driver added.
    let admin = common::admin_client().await;
    let projects: Api<Project> = Api::all(admin.clone());
    let project = projects.get(&projects_of[0]).await.expect("project");
    assert!(project.is_active(), "{project:?}");
    let annotations = project.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations.get("openshift.io/requester").map(String::as_str), Some(project_api::TEST_REQUESTER));
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), &projects_of[0]);
    let requester_admin = bindings.get("admin").await.expect("the requester is made admin");
    assert_eq!(requester_admin.role_ref.name, "admin");
    let node_admin = bindings.get("admin-0").await.expect("admin-0");
    assert_eq!((node_admin.role_ref.kind.as_str(), node_admin.role_ref.name.as_str()), ("ClusterRole", "admin"));
    assert_eq!(node_admin.subjects.expect("subjects")[0].name, "zuul-worker");
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), &projects_of[0]);
    for account in ["builder", "deployer", "default", "zuul-worker"] {
        assert!(accounts.get_opt(account).await.expect("get").is_some(), "service account {account}");
    }

    // The pod as built from every pod key.
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &projects_of[1]);
    let pod = pods.get(POD_LABEL).await.expect("pod");
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("team").map(String::as_str), Some("os-ci"));
    assert_eq!(labels.get("tenant").map(String::as_str), Some("example-tenant"));
    assert_eq!(labels.get("nodepool_node_id"), Some(&node_ids[1]));
    assert_eq!(labels.get("nodepool_provider_name").map(String::as_str), Some(OS_PROVIDER));
    let pod_annotations = pod.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(pod_annotations.get("kubepool.test/purpose").map(String::as_str), Some("openshift-e2e"));
    let spec = serde_json::to_value(pod.spec.expect("spec")).expect("json");
    assert_eq!(spec["imagePullSecrets"], serde_json::json!([{"name": PULL_SECRET}]));
    assert_eq!(spec["restartPolicy"], "Never");
    assert_eq!(spec["schedulerName"], "default-scheduler");
    assert_eq!(spec["nodeSelector"], serde_json::json!({"kubernetes.io/os": "linux"}));
    let container = &spec["containers"][0];
    assert_eq!(
        container["resources"]["requests"],
        serde_json::json!({"cpu": "0", "memory": "32Mi", "ephemeral-storage": "50M"})
    );
    assert_eq!(
        container["resources"]["limits"],
        serde_json::json!({"cpu": "1", "memory": "64Mi", "ephemeral-storage": "100M"})
    );
    assert_eq!(container["securityContext"]["privileged"], false);
    assert_eq!(container["volumeMounts"][0]["mountPath"], "/scratch");

    // Zuul's executor takes the nodes; kubectl with each node's own credentials.
    let scratch = Scratch::new("os-e2e");
    let (executor, kubeconfig, contexts) = accept(&zk, &id, &scratch).await;
    let (project_ctx, pod_ctx, spec_ctx) = (&contexts[0], &contexts[1], &contexts[2]);

    // The project node is admin of its project, and of nothing else.
    assert_ok(
        &kubectl(&kubeconfig, project_ctx, &["create", "configmap", "os-job-data", "--from-literal=a=b"]),
        "create configmap",
    );
    assert_ok(&kubectl(&kubeconfig, project_ctx, &["get", "rolebindings"]), "list role bindings");
    let out = kubectl(&kubeconfig, project_ctx, &["auth", "can-i", "create", "deployments.apps"]);
    assert_eq!(text(&out.stdout).trim(), "yes", "{out:?}");
    for args in [
        vec!["get", "pods", "-n", "default"],
        vec!["get", "configmaps", "-n", projects_of[1].as_str()],
        vec!["get", "namespaces"],
        vec!["delete", "namespace", projects_of[0].as_str()],
    ] {
        assert_forbidden(&kubectl(&kubeconfig, project_ctx, &args), &format!("project node: {args:?}"));
    }

    // The pod node: exec with its env and volume, logs, and its project only.
    assert_eq!(exec_greeting(&kubeconfig, pod_ctx, POD_LABEL), "hello-openshift\nscratch\n");
    let out = kubectl(&kubeconfig, pod_ctx, &["exec", POD_LABEL, "--", "sh", "-c", "echo from-the-job > /proc/1/fd/1"]);
    assert_ok(&out, "write to the pod's log");
    let out = kubectl(&kubeconfig, pod_ctx, &["logs", POD_LABEL]);
    assert!(out.status.success() && text(&out.stdout).contains("from-the-job"), "{out:?}");
    for args in [vec!["get", "pods", "-n", projects_of[0].as_str()], vec!["get", "pods", "-n", projects_of[2].as_str()]]
    {
        assert_forbidden(&kubectl(&kubeconfig, pod_ctx, &args), &format!("pod node: {args:?}"));
    }
    // The user-spec pod.
    let out = kubectl(&kubeconfig, spec_ctx, &["exec", SPEC_LABEL, "--", "sh", "-c", "echo spec-ok"]);
    assert!(out.status.success() && text(&out.stdout) == "spec-ok\n", "{out:?}");

    // Returning the nodes deletes their projects (and namespaces).
    let returned = Instant::now();
    return_nodes(executor).await;
    wait_until_gone(&zk.store, &node_ids, Duration::from_secs(180)).await;
    eprintln!("openshift: three nodes returned and deleted in {:?}", returned.elapsed());
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    for name in &projects_of {
        assert!(projects.get_opt(name).await.expect("get").is_none(), "project {name} deleted");
        assert!(namespaces.get_opt(name).await.expect("get").is_none(), "namespace {name} deleted");
    }
    launcher.stop().await;
    api.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn openshiftpods_nodes_get_credentials_for_their_own_pod_only_and_max_pods_caps_them() {
    let zk = TestZk::new().await;
    let namespace = PodsNamespace::create("os-pods").await;
    let admin = common::admin_client().await;
    common::run_pod(&admin, &namespace.name, "os-bystander", &["sleep", "3600"]).await;
    let config = every_key_config(&plain_zookeeper(), &common::unique_name("os-unused"), &namespace.name, 1);
    let launcher = Launcher::from_config(&zk, &config).await;

    let started = Instant::now();
    let first = submit(&zk, &[PODS_LABEL]).await;
    let request = wait_for_state(&zk.store, &first, Duration::from_secs(180)).await;
    assert_eq!(request.state, RequestState::Fulfilled, "{request:?}");
    eprintln!("openshiftpods: pod request fulfilled in {:?}", started.elapsed());
    let node_id = request.nodes[0].clone();
    let pod_name = format!("{PODS_LABEL}-{node_id}");

    // max-pods: 1 — a second request waits while the first node exists.
    let second = submit(&zk, &[PODS_SPEC_LABEL]).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let waiting = zk.store.get_request(&second).await.expect("read").expect("request").value;
    assert!(matches!(waiting.state, RequestState::Requested | RequestState::Pending), "{waiting:?}");
    let nodes = zk.store.list_nodes().await.expect("nodes");
    let ours = nodes.iter().filter(|n| n.value.provider.as_deref() == Some(PODS_PROVIDER)).count();
    assert_eq!(ours, 1, "max-pods 1 holds one node at a time");

    // The node record of reference §4.5/§5, with the node's own token.
    let node = zk.store.get_node(&node_id).await.expect("read").expect("node").value;
    assert_eq!(node.connection_type.as_deref(), Some("kubectl"));
    assert_eq!(node.external_id, Some(format!("{}-{pod_name}", namespace.name)));
    assert_eq!(node.interface_ip.as_deref(), Some(pod_name.as_str()));
    let port = &node.connection_port;
    assert_eq!(port["namespace"], namespace.name.as_str());
    assert_eq!(port["pod"], pod_name.as_str());
    // (not Nodepool's zuul-worker: two pods of one job share the namespace, and Zuul names
    // kubeconfig users <namespace>:<user>)
    assert_eq!(port["user"], pod_name.as_str());
    assert!(port.get("ca_crt").is_some(), "openshiftpods always carries ca_crt: {port}");
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), &namespace.name);
    let own = common::token_identity(port["token"].as_str().expect("token")).await;
    assert_eq!(
        own,
        Some(format!("system:serviceaccount:{}:{pod_name}", namespace.name)),
        "the node's own service-account token"
    );
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &namespace.name);
    let pod = serde_json::to_value(pods.get(&pod_name).await.expect("pod")).expect("json");
    assert_eq!(pod["spec"]["imagePullSecrets"], serde_json::json!([{"name": PULL_SECRET}]));
    assert_eq!(pod["metadata"]["annotations"]["kubepool.test/purpose"], "openshiftpods-e2e");

    // kubectl with the node's credentials: its pod, nothing else.
    let scratch = Scratch::new("os-e2e");
    let (executor, kubeconfig, contexts) = accept(&zk, &first, &scratch).await;
    let ctx = &contexts[0];
    assert_eq!(exec_greeting(&kubeconfig, ctx, &pod_name), "hello-pods\nscratch\n");
    assert_ok(&kubectl(&kubeconfig, ctx, &["get", "pod", &pod_name]), "get its pod");
    assert_ok(&kubectl(&kubeconfig, ctx, &["logs", &pod_name]), "logs of its pod");
    for args in [
        vec!["exec", "os-bystander", "--", "true"],
        vec!["get", "pod", "os-bystander"],
        vec!["get", "pods"],
        vec!["get", "secrets"],
        vec!["delete", "pod", pod_name.as_str(), "--wait=false"],
        vec!["run", "os-intruder", "--image", "x"],
        vec!["get", "pods", "-n", "default"],
    ] {
        assert_forbidden(&kubectl(&kubeconfig, ctx, &args), &format!("openshiftpods node: {args:?}"));
    }

    // Returning the first node lets the second request through.
    return_nodes(executor).await;
    let request = wait_for_state(&zk.store, &second, Duration::from_secs(180)).await;
    assert_eq!(request.state, RequestState::Fulfilled, "{request:?}");
    let second_node = request.nodes[0].clone();
    let second_pod = format!("{PODS_SPEC_LABEL}-{second_node}");
    let scratch2 = Scratch::new("os-e2e");
    let (executor, kubeconfig, contexts) = accept(&zk, &second, &scratch2).await;
    let out = kubectl(&kubeconfig, &contexts[0], &["exec", &second_pod, "--", "sh", "-c", "echo spec-ok"]);
    assert!(out.status.success() && text(&out.stdout) == "spec-ok\n", "{out:?}");
    assert_forbidden(
        &kubectl(&kubeconfig, &contexts[0], &["exec", &pod_name, "--", "true"]),
        "exec into another node's pod",
    );
    return_nodes(executor).await;
    wait_until_gone(&zk.store, &[node_id, second_node], Duration::from_secs(120)).await;

    // Everything of both nodes goes with their pods: pod, account, token, Role, RoleBinding.
    let selector = format!("nodepool_provider_name={PODS_PROVIDER}");
    let params = ListParams::default().labels(&selector);
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), &namespace.name);
    let roles: Api<Role> = Api::namespaced(admin.clone(), &namespace.name);
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), &namespace.name);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = pods.list_metadata(&params).await.expect("pods").items.len()
            + accounts.list_metadata(&params).await.expect("accounts").items.len()
            + secrets.list_metadata(&params).await.expect("secrets").items.len()
            + roles.list_metadata(&params).await.expect("roles").items.len()
            + bindings.list_metadata(&params).await.expect("bindings").items.len();
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{left} objects of the nodes left after 60 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(pods.get_opt("os-bystander").await.expect("get").is_some(), "the bystander is untouched");
    launcher.stop().await;
    zk.cleanup().await;
}

#[tokio::test]
async fn the_every_key_config_validates_and_a_gpu_label_fails_fast_without_leaving_a_project() {
    let scratch = Scratch::new("os-e2e");
    let pool = common::unique_name("os-g");
    let config = every_key_config(&plain_zookeeper(), &pool, "os-pods-unused", 2);
    let path = scratch.0.join("nodepool.yaml");
    std::fs::write(&path, &config).expect("write config");
    let validate = |file: &Path| {
        Command::new(env!("CARGO_BIN_EXE_kubepool"))
            .args(["--log-format", "text", "config", "validate", "-c"])
            .arg(file)
            .output()
            .expect("run kubepool")
    };
    let out = validate(&path);
    assert!(out.status.success(), "every-key config rejected: {out:?}");
    // The same file with a key the schema rejects (openshiftpods has no max-servers) fails, so
    // the check above is not vacuous.
    let broken = scratch.0.join("broken.yaml");
    std::fs::write(&broken, config.replace("    max-pods: 2\n", "    max-pods: 2\n    max-servers: 2\n"))
        .expect("write");
    let out = validate(&broken);
    assert!(!out.status.success() && text(&out.stderr).contains("max-servers"), "{out:?}");

    // The GPU label: the pod asks for a GPU no node has, so it can never be scheduled.
    let zk = TestZk::new().await;
    let api = project_api::ProjectApi::start(&pool).await;
    let launcher = Launcher::from_config(&zk, &config).await;
    let started = Instant::now();
    let id = submit(&zk, &[GPU_LABEL]).await;
    let request = wait_for_state(&zk.store, &id, Duration::from_secs(120)).await;
    assert_eq!(request.state, RequestState::Failed, "{request:?}");
    eprintln!("openshift: gpu request failed in {:?}", started.elapsed());
    let metrics = launcher.metrics.encode();
    assert!(
        metrics.contains(&format!(r#"kubepool_launch_errors_total{{provider="{OS_PROVIDER}",kind="permanent"}} 1"#)),
        "{metrics}"
    );
    let admin = common::admin_client().await;
    let projects: Api<Project> = Api::all(admin);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left: Vec<String> = projects
            .list(&ListParams::default())
            .await
            .expect("projects")
            .items
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .filter(|n| n.starts_with(&pool))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "projects left: {left:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let nodes = zk.store.list_nodes().await.expect("nodes");
    assert!(nodes.iter().all(|n| n.value.state != NodeState::Ready), "no node made");
    launcher.stop().await;
    api.stop().await;
    zk.cleanup().await;
}
