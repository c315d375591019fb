//! Both OpenShift drivers run as a launcher with only the rights docs/openshift.md lists — not as
//! cluster admin: for `openshift`, requesting projects and seeing/deleting them (everything in a
//! project comes from being its requester, whom the project API makes admin); for
//! `openshiftpods`, a Role in the pool's namespace. Each driver launches, lists and deletes its
//! nodes with those rights, and the openshiftpods node's token is not the launcher's.

mod common;
#[path = "support/project_api.rs"]
mod project_api;

use k8s_openapi::api::core::v1::{Namespace, Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kubepool::drivers::common::token::{Credentials, wait_for_credentials};
use kubepool::drivers::openshift::kinds::Project;
use kubepool::drivers::spec::{DriverKind, LabelKind, LabelSpec, PodTemplate, PoolSpec, Timeouts};
use kubepool::k8s::{ClusterInfo, NodeCredentials};
use kubepool_driver_api::{NoProgress, NodeSpec, RequestAttributes};
use std::time::{Duration, Instant};

const LAUNCHER: &str = "os-launcher";

/// Removes what the test made outside its projects (namespaces, the cluster role and binding),
/// also when it fails.
struct Made {
    namespaces: Vec<String>,
    cluster_scoped: String,
}

impl Drop for Made {
    fn drop(&mut self) {
        let (namespaces, name) = (self.namespaces.clone(), self.cluster_scoped.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let client = kubepool::k8s::connect(None).await.ok()?.client;
                let _ = Api::<ClusterRoleBinding>::all(client.clone()).delete(&name, &DeleteParams::default()).await;
                let _ = Api::<ClusterRole>::all(client.clone()).delete(&name, &DeleteParams::default()).await;
                for namespace in namespaces {
                    let _ = Api::<Namespace>::all(client.clone()).delete(&namespace, &DeleteParams::background()).await;
                }
                Some(())
            })
        })
        .join();
    }
}

fn object<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("object body")
}

async fn create<K>(api: &Api<K>, value: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    api.create(&PostParams::default(), &object::<K>(value)).await.expect("create");
}

/// The openshiftpods rules for a node's token, as docs/openshift.md lists them: from the
/// TokenRequest API (the default), or from token Secrets (`--node-token secret`).
fn token_rules(secrets: bool) -> serde_json::Value {
    if secrets {
        serde_json::json!({"apiGroups": [""], "resources": ["serviceaccounts", "secrets"], "verbs": ["create", "get", "list", "watch"]})
    } else {
        serde_json::json!({"apiGroups": [""], "resources": ["serviceaccounts", "serviceaccounts/token"], "verbs": ["create"]})
    }
}

/// The launcher's service account in `home`, its token, and the rights of docs/openshift.md
/// (`secrets`: those for token Secrets rather than the TokenRequest API).
async fn restricted_launcher(
    admin: &kube::Client,
    made: &Made,
    pods_namespace: &str,
    token_secrets: bool,
) -> (Credentials, String) {
    let home = &made.namespaces[0];
    for namespace in &made.namespaces {
        create(&Api::<Namespace>::all(admin.clone()), serde_json::json!({"metadata": {"name": namespace}})).await;
    }
    create(
        &Api::<ServiceAccount>::namespaced(admin.clone(), home),
        serde_json::json!({"metadata": {"name": LAUNCHER}}),
    )
    .await;
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), home);
    create(
        &secrets,
        serde_json::json!({"metadata": {"name": LAUNCHER, "annotations": {"kubernetes.io/service-account.name": LAUNCHER}},
            "type": "kubernetes.io/service-account-token"}),
    )
    .await;
    let credentials = wait_for_credentials(&secrets, LAUNCHER, Duration::from_secs(30)).await.expect("launcher token");
    let subject = serde_json::json!([{"kind": "ServiceAccount", "name": LAUNCHER, "namespace": home}]);
    // openshift: request projects; see and delete them (OpenShift lets a requester see and
    // delete its own projects; the stand-in's Project is a plain resource, so RBAC says so).
    let name = &made.cluster_scoped;
    create(
        &Api::<ClusterRole>::all(admin.clone()),
        serde_json::json!({"metadata": {"name": name}, "rules": [
            {"apiGroups": ["project.openshift.io"], "resources": ["projectrequests"], "verbs": ["create"]},
            {"apiGroups": ["project.openshift.io"], "resources": ["projects"], "verbs": ["get", "list", "watch", "delete"]},
        ]}),
    )
    .await;
    create(
        &Api::<ClusterRoleBinding>::all(admin.clone()),
        serde_json::json!({"metadata": {"name": name}, "subjects": subject,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}}),
    )
    .await;
    // openshiftpods: the Role of docs/openshift.md in the pool's namespace.
    create(
        &Api::<Role>::namespaced(admin.clone(), pods_namespace),
        serde_json::json!({"metadata": {"name": LAUNCHER}, "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "list", "watch", "delete"]},
            {"apiGroups": [""], "resources": ["pods/exec", "pods/attach", "pods/log", "pods/portforward"], "verbs": ["create", "get"]},
            token_rules(token_secrets),
            {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["create"]},
        ]}),
    )
    .await;
    create(
        &Api::<RoleBinding>::namespaced(admin.clone(), pods_namespace),
        serde_json::json!({"metadata": {"name": LAUNCHER}, "subjects": subject,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": LAUNCHER}}),
    )
    .await;
    (credentials, format!("system:serviceaccount:{home}:{LAUNCHER}"))
}

fn pod_label(name: &str) -> LabelSpec {
    let template = PodTemplate::with_image(common::test_image(), "Never");
    common::label_spec(name, LabelKind::Pod(Box::new(template)))
}

fn project_label(name: &str) -> LabelSpec {
    common::label_spec(name, LabelKind::Namespace)
}

fn spec(provider: &str, pool: &str, label: &str, node_id: &str) -> NodeSpec {
    NodeSpec {
        node_id: node_id.into(),
        provider: provider.into(),
        pool: pool.into(),
        label: label.into(),
        request: RequestAttributes { id: "200-0000000001".into(), ..Default::default() },
    }
}

#[tokio::test]
async fn both_drivers_work_with_only_the_documented_rights() {
    let (admin, made, pods_namespace, credentials, user, launcher) = setup(false).await;
    let pool = common::unique_name("os-lp");
    let api = project_api::ProjectApi::start_for(&pool, &user).await;

    // It is not an admin: no namespaces, nothing in other namespaces.
    let namespaces: Api<Namespace> = Api::all(launcher.client.clone());
    let refused = namespaces
        .create(&PostParams::default(), &object(serde_json::json!({"metadata": {"name": format!("{pool}-x")}})))
        .await;
    assert!(matches!(refused, Err(kube::Error::Api(ref s)) if s.code == 403), "{refused:?}");
    let default_pods: Api<Pod> = Api::namespaced(launcher.client.clone(), "default");
    assert!(matches!(default_pods.list(&ListParams::default()).await, Err(kube::Error::Api(ref s)) if s.code == 403));

    // openshift: a project node and a pod node.
    let openshift = common::nodepool_driver(
        DriverKind::Openshift,
        "os-lp-openshift",
        vec![PoolSpec { name: pool.clone(), labels: vec![project_label("os-lp-project"), pod_label("os-lp-pod")] }],
        launcher.clone(),
        Timeouts::default(),
    );
    let started = Instant::now();
    let (project_spec, pod_spec) = (
        spec("os-lp-openshift", &pool, "os-lp-project", "0000000001"),
        spec("os-lp-openshift", &pool, "os-lp-pod", "0000000002"),
    );
    let (project_node, pod_node) =
        tokio::join!(openshift.launch(&project_spec, &NoProgress), openshift.launch(&pod_spec, &NoProgress));
    let (project_node, pod_node) = (project_node.expect("project node"), pod_node.expect("pod node"));
    eprintln!("least privilege: openshift project and pod nodes ready in {:?}", started.elapsed());
    assert_eq!(project_node.connection_type, "project");
    assert_eq!(pod_node.connection_type, "kubectl");
    let listed = openshift.list_resources().await.expect("list");
    let mut ids: Vec<_> = listed.iter().filter_map(|r| r.node_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, vec!["0000000001".to_string(), "0000000002".to_string()], "{listed:?}");
    for node in [&project_node, &pod_node] {
        openshift.delete(&node.external_id).await.expect("delete");
    }
    let projects: Api<Project> = Api::all(admin.clone());
    let all_namespaces: Api<Namespace> = Api::all(admin.clone());
    for node in [&project_node, &pod_node] {
        assert!(projects.get_opt(&node.external_id).await.expect("get").is_none(), "project gone");
        assert!(all_namespaces.get_opt(&node.external_id).await.expect("get").is_none(), "namespace gone");
    }

    // openshiftpods: a pod node with a token of its own, requested (no Secret).
    let secrets = openshiftpods_node(&admin, &launcher, &pods_namespace, &credentials).await;
    assert_eq!(secrets, 0, "a requested token needs no Secret");
    api.stop().await;
    drop(made);
}

/// Without the right to request tokens (the `--node-token secret` rights), the launcher falls
/// back to a token Secret: the node still gets a working token of its own.
#[tokio::test]
async fn openshiftpods_falls_back_to_a_token_secret_without_the_right_to_request_tokens() {
    let (admin, made, pods_namespace, credentials, _user, launcher) = setup(true).await;
    let secrets = openshiftpods_node(&admin, &launcher, &pods_namespace, &credentials).await;
    assert_eq!(secrets, 1, "the node's token came from its token Secret");
    drop(made);
}

type Setup = (kube::Client, Made, String, Credentials, String, ClusterInfo);

/// An admin client, what the test makes, the pool namespace of openshiftpods, and a launcher
/// client with only the documented rights (`secrets`: those for token Secrets).
async fn setup(secrets: bool) -> Setup {
    common::init_logging();
    let admin = common::admin_client().await;
    let admin_cluster = kubepool::k8s::connect(None).await.expect("cluster");
    let pods_namespace = common::unique_name("os-lpp");
    let made = Made {
        namespaces: vec![common::unique_name("os-lph"), pods_namespace.clone()],
        cluster_scoped: common::unique_name("os-lp-launcher"),
    };
    let (credentials, user) = restricted_launcher(&admin, &made, &pods_namespace, secrets).await;
    let launcher: ClusterInfo =
        NodeCredentials::on(&admin_cluster, &made.namespaces[0], &credentials.token, &credentials.ca_crt_base64)
            .client()
            .await
            .expect("launcher client");
    (admin, made, pods_namespace, credentials, user, launcher)
}

/// Launches, lists and deletes an openshiftpods node as `launcher`; checks that its token is its
/// own service account's and that everything of the node goes with its pod. Returns how many
/// Secrets the node had.
async fn openshiftpods_node(
    admin: &kube::Client,
    launcher: &ClusterInfo,
    pods_namespace: &str,
    credentials: &Credentials,
) -> usize {
    let pods_namespace = pods_namespace.to_string();
    let pods_driver = common::nodepool_driver(
        DriverKind::OpenshiftPods,
        "os-lp-pods",
        vec![PoolSpec { name: pods_namespace.clone(), labels: vec![pod_label("os-lp-pods-pod")] }],
        launcher.clone(),
        Timeouts::default(),
    );
    let node = pods_driver
        .launch(&spec("os-lp-pods", &pods_namespace, "os-lp-pods-pod", "0000000003"), &NoProgress)
        .await
        .expect("openshiftpods node");
    assert_eq!(node.external_id, format!("{pods_namespace}-os-lp-pods-pod-0000000003"));
    let token = node.connection_port["token"].as_str().expect("token");
    assert!(!token.is_empty() && token != credentials.token, "the node's own token, not the launcher's");
    let pod = node.external_id.trim_start_matches(&format!("{pods_namespace}-")).to_string();
    assert_eq!(
        common::token_identity(token).await,
        Some(format!("system:serviceaccount:{pods_namespace}:{pod}")),
        "the node's own service account"
    );
    let selector = ListParams::default().labels("nodepool_provider_name=os-lp-pods");
    let node_secrets: Api<Secret> = Api::namespaced(admin.clone(), &pods_namespace);
    let secrets_of_node = node_secrets.list_metadata(&selector).await.expect("secrets").items.len();
    let listed = pods_driver.list_resources().await.expect("list");
    assert_eq!(listed.iter().map(|r| r.external_id.as_str()).collect::<Vec<_>>(), vec![node.external_id.as_str()]);
    pods_driver.delete(&node.external_id).await.expect("delete");
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), &pods_namespace);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !accounts.list_metadata(&selector).await.expect("list").items.is_empty() {
        assert!(Instant::now() < deadline, "the node's service account outlived its pod by 60 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    secrets_of_node
}
