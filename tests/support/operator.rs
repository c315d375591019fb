//! Shared by the operator tests: the Zuul CRD installed on the test bed, and a poll-until helper.

#![allow(dead_code)]

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use std::future::Future;
use std::time::{Duration, Instant};

pub const CRD_NAME: &str = "zuuls.operator.zuul-ci.org";

/// Installs the Zuul CRD by server-side apply (as `kubectl apply --server-side` would) and waits
/// until the API server serves it. Every operator test applies the same CRD, so parallel runs
/// agree.
pub async fn install_crd(client: &kube::Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = <kubepool::operator::Zuul as kube::CustomResourceExt>::crd();
    crds.patch(CRD_NAME, &PatchParams::apply("kubepool-operator-test").force(), &Patch::Apply(&crd))
        .await
        .expect("server-side apply of the Zuul CRD");
    tokio::time::timeout(Duration::from_secs(30), await_condition(crds, CRD_NAME, conditions::is_crd_established()))
        .await
        .expect("CRD established within 30 s")
        .expect("watch the CRD");
}

/// Polls `probe` every 250 ms until it returns `Some`, for at most `limit`; panics naming `what`.
/// Returns the value and how long it took.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> (T, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return (value, start.elapsed());
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Deletes a test's namespace when dropped (also when the test fails), after taking the
/// operator's finalizer off its Zuuls: the operator may be gone by then, and a Zuul it still
/// holds would keep the namespace Terminating.
pub struct ZuulNamespaceGuard(pub String);

impl Drop for ZuulNamespaceGuard {
    fn drop(&mut self) {
        let kubectl = |args: &[&str]| {
            std::process::Command::new(super::common::kubectl())
                .args(args)
                .stderr(std::process::Stdio::null())
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        for zuul in kubectl(&["get", "zuuls", "-n", &self.0, "-o", "name"]).split_whitespace() {
            kubectl(&["patch", zuul, "-n", &self.0, "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
        }
        kubectl(&["delete", "namespace", &self.0, "--wait=false"]);
    }
}

/// Deletes the cluster-scoped RBAC objects [`operator_client`] made, when dropped.
pub struct ClusterRbacGuard(pub String);

impl Drop for ClusterRbacGuard {
    fn drop(&mut self) {
        for kind in ["clusterrolebinding", "clusterrole"] {
            let _ = std::process::Command::new(super::common::kubectl())
                .args(["delete", kind, &self.0, "--ignore-not-found", "--wait=false"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// The objects of a shipped multi-document manifest, as JSON (kubectl reads it, offline).
pub fn manifest_objects(relative: &str) -> Vec<serde_json::Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    let out = std::process::Command::new(super::common::kubectl())
        .args(["create", "--dry-run=client", "-o", "json", "-f"])
        .arg(&path)
        .output()
        .expect("run kubectl");
    assert!(out.status.success(), "kubectl reads {relative}: {}", String::from_utf8_lossy(&out.stderr));
    // One JSON document per object (kubectl 1.20), or a List.
    let mut objects = Vec::new();
    for document in serde_json::Deserializer::from_slice(&out.stdout).into_iter::<serde_json::Value>() {
        let document = document.expect("kubectl prints JSON");
        match document.get("items") {
            Some(serde_json::Value::Array(items)) => objects.extend(items.iter().cloned()),
            _ => objects.push(document),
        }
    }
    objects
}

/// A client with exactly the rights `deploy/operator/rbac.yaml` gives the operator: a
/// ServiceAccount in `namespace` bound to a copy of the shipped `kubepool-operator` ClusterRole
/// (named for the test, so parallel runs do not share it). The shipped `kubepool-launcher`
/// ClusterRole is applied as is (same content from every run).
pub async fn operator_client(admin: &kube::Client, namespace: &str) -> (kube::Client, ClusterRbacGuard) {
    use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    use kube::api::PostParams;
    use serde_json::json;

    let objects = manifest_objects("deploy/operator/rbac.yaml");
    let role = |name: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == "ClusterRole" && o["metadata"]["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("deploy/operator/rbac.yaml has no ClusterRole {name}"))
    };
    let roles: Api<ClusterRole> = Api::all(admin.clone());
    let launcher = role("kubepool-launcher");
    roles
        .patch("kubepool-launcher", &PatchParams::apply("kubepool-operator-test").force(), &Patch::Apply(&launcher))
        .await
        .expect("apply the kubepool-launcher ClusterRole");
    let name = format!("kubepool-operator-{namespace}");
    let guard = ClusterRbacGuard(name.clone());
    let mut operator_role = role("kubepool-operator");
    operator_role["metadata"] = json!({"name": name});
    let operator_role: ClusterRole = serde_json::from_value(operator_role).expect("ClusterRole");
    roles.create(&PostParams::default(), &operator_role).await.expect("create the operator's ClusterRole");
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": "kubepool-operator", "namespace": namespace}],
    }))
    .expect("binding");
    Api::<ClusterRoleBinding>::all(admin.clone())
        .create(&PostParams::default(), &binding)
        .await
        .expect("bind the operator's ClusterRole");
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), namespace);
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "kubepool-operator"}})).expect("account");
    accounts.create(&PostParams::default(), &account).await.expect("create the operator's ServiceAccount");
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), namespace);
    let token: Secret = serde_json::from_value(json!({
        "metadata": {"name": "kubepool-operator-token",
                     "annotations": {"kubernetes.io/service-account.name": "kubepool-operator"}},
        "type": "kubernetes.io/service-account-token",
    }))
    .expect("token secret");
    secrets.create(&PostParams::default(), &token).await.expect("create the operator's token Secret");
    let credentials = kubepool::drivers::common::token::wait_for_credentials(
        &secrets,
        "kubepool-operator-token",
        Duration::from_secs(30),
    )
    .await
    .expect("the operator's token");
    let cluster = kubepool::k8s::connect(None).await.expect("cluster");
    let client =
        kubepool::k8s::NodeCredentials::on(&cluster, namespace, &credentials.token, &credentials.ca_crt_base64)
            .client()
            .await
            .expect("the operator's client")
            .client;
    (client, guard)
}

/// `kubectl apply` of one object in `namespace`; panics naming its kind.
pub async fn apply(namespace: &str, object: &serde_json::Value) {
    super::common::kubectl_async(&["apply", "-n", namespace, "-f", "-"], Some(&object.to_string()))
        .await
        .unwrap_or_else(|e| panic!("apply {}: {e}", object["kind"]));
}

/// `kubectl get -o json` in `namespace`; `Null` when it fails or is not JSON.
pub async fn get_json(namespace: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["get", "-n", namespace, "-o", "json"];
    all.extend_from_slice(args);
    super::common::kubectl_async(&all, None)
        .await
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// The "no OLM" install of the bundle (deploy/olm/): what OLM would create from its
/// ClusterServiceVersion, made by hand in `namespace` with kubectl: the CSV's ServiceAccount, a
/// ClusterRole with the CSV's clusterPermissions (named for the test) and its binding, the
/// bundle's `kubepool-launcher` ClusterRole, and the CSV's Deployment with the image `image`
/// (the CSV names `localhost/kubepool:latest`, which the test bed does not have) and
/// KUBEPOOL_OPERATOR_NAMESPACE confining it to `namespace` (AllNamespaces would reconcile the
/// Zuuls of other sessions on the shared test bed); `settings` edits its container further.
/// Returns the Deployment as applied, and a guard deleting the cluster-scoped objects.
pub async fn install_from_bundle(
    namespace: &str,
    image: &str,
    settings: impl FnOnce(&mut serde_json::Value),
) -> (serde_json::Value, ClusterRbacGuard) {
    use serde_json::json;

    let csv = manifest_objects("deploy/olm/manifests/kubepool-operator.clusterserviceversion.yaml")
        .into_iter()
        .next()
        .expect("the bundle's ClusterServiceVersion");
    let install = &csv["spec"]["install"]["spec"];
    let permissions = &install["clusterPermissions"][0];
    let account = permissions["serviceAccountName"].as_str().expect("serviceAccountName");
    let role = format!("kubepool-operator-{namespace}");
    let guard = ClusterRbacGuard(role.clone());
    for launcher_role in manifest_objects("deploy/olm/manifests/kubepool-launcher.clusterrole.yaml") {
        apply(namespace, &launcher_role).await;
    }
    apply(namespace, &json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account}})).await;
    apply(
        namespace,
        &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": role}, "rules": permissions["rules"]}),
    )
    .await;
    apply(
        namespace,
        &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": role},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]}),
    )
    .await;
    let spec = &install["deployments"][0];
    let mut deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": spec["name"], "labels": spec["label"]}, "spec": spec["spec"]});
    let container = &mut deployment["spec"]["template"]["spec"]["containers"][0];
    container["image"] = json!(image);
    container["imagePullPolicy"] = json!("IfNotPresent");
    let env = container["env"].as_array_mut().expect("env");
    for var in env.iter_mut() {
        if var["name"] == "KUBEPOOL_OPERATOR_KUBEPOOL_IMAGE" {
            var["value"] = json!(image);
        }
    }
    env.push(json!({"name": "KUBEPOOL_OPERATOR_NAMESPACE", "value": namespace}));
    settings(container);
    apply(namespace, &deployment).await;
    (deployment, guard)
}
