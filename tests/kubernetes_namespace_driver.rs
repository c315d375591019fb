//! The kubernetes driver's namespace labels against the real test cluster: objects, the node's
//! credentials used by the real kubectl (allowed inside its namespace, refused outside), leak
//! listing, and deletion.

mod common;

use kubepool::drivers::spec::{DriverKind, LabelKind, LabelSpec, PoolSpec, Timeouts};
use kubepool_driver_api::{NoProgress, NodeSpec, RequestAttributes};
use std::collections::BTreeMap;

fn pool(name: &str) -> PoolSpec {
    PoolSpec {
        name: name.to_string(),
        labels: vec![LabelSpec {
            name: "k8s-namespace".into(),
            kind: LabelKind::Namespace,
            labels: BTreeMap::from([("team".to_string(), "ci".to_string())]),
            dynamic_labels: BTreeMap::from([("tenant".to_string(), "{request.tenant_name}".to_string())]),
            ..common::label_spec("k8s-namespace", LabelKind::Namespace)
        }],
    }
}

/// The provider `kubepool-test` with the one pool `pool_name`, as the launcher builds it.
fn driver(pool_name: &str, cluster: kubepool::k8s::ClusterInfo) -> std::sync::Arc<dyn kubepool_driver_api::Driver> {
    common::nodepool_driver(
        DriverKind::Kubernetes,
        "kubepool-test",
        vec![pool(pool_name)],
        cluster,
        Timeouts::default(),
    )
}

fn node_spec(pool: &str, node_id: &str) -> NodeSpec {
    NodeSpec {
        node_id: node_id.to_string(),
        provider: "kubepool-test".into(),
        pool: pool.to_string(),
        label: "k8s-namespace".into(),
        request: RequestAttributes {
            id: "200-0000000001".into(),
            tenant_name: Some("example-tenant".into()),
            ..Default::default()
        },
    }
}

#[tokio::test]
async fn namespace_node_credentials_work_inside_and_are_refused_outside() {
    let cluster = kubepool::k8s::connect(None).await.expect("connect");
    let pool_name = common::unique_name("kp");
    let driver = driver(&pool_name, cluster);
    let node_a = driver.launch(&node_spec(&pool_name, "0000000001"), &NoProgress).await.expect("launch node a");
    let node_b = driver.launch(&node_spec(&pool_name, "0000000002"), &NoProgress).await.expect("launch node b");

    let ns_a = format!("{pool_name}-0000000001");
    let ns_b = format!("{pool_name}-0000000002");
    assert_eq!(node_a.external_id, ns_a);
    assert_eq!(node_b.external_id, ns_b);
    assert_eq!(node_a.connection_type, "namespace");
    assert_eq!(node_a.interface_ip, None);
    let port = &node_a.connection_port;
    assert_eq!(port["name"], ns_a.as_str());
    assert_eq!(port["namespace"], ns_a.as_str());
    assert_eq!(port["user"], "zuul-worker");
    assert_eq!(port["skiptls"], false);
    assert!(port["host"].as_str().expect("host").starts_with("https://"));
    assert!(port["ca_crt"].as_str().is_some_and(|c| !c.is_empty()), "ca_crt present when TLS is verified");

    // Metadata labels: user labels, dynamic labels, the four nodepool labels.
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(common::admin_client().await);
    let labels = namespaces.get(&ns_a).await.expect("namespace").metadata.labels.expect("labels");
    assert_eq!(labels["nodepool_node_id"], "0000000001");
    assert_eq!(labels["nodepool_provider_name"], "kubepool-test");
    assert_eq!(labels["nodepool_pool_name"], pool_name);
    assert_eq!(labels["nodepool_node_label"], "k8s-namespace");
    assert_eq!(labels["team"], "ci");
    assert_eq!(labels["tenant"], "example-tenant");

    let dir = std::env::temp_dir().join(common::unique_name("kubepool-ns-test"));
    std::fs::create_dir_all(&dir).expect("dir");
    let kubeconfig = dir.join("config");
    common::executor_kubeconfig(&node_a, &kubeconfig);

    let pod = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"job"}},"spec":{{"automountServiceAccountToken":false,"containers":[{{"name":"job","image":"{}","imagePullPolicy":"IfNotPresent","command":["true"]}}]}}}}"#,
        common::test_image()
    );
    let deployment = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"x"}]}}}}"#;
    let job = r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"once"},"spec":{"parallelism":0,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"once","image":"x"}]}}}}"#;
    let checks: Vec<(&str, Vec<&str>, Option<&str>, bool)> = vec![
        ("create a pod in its namespace", vec!["create", "-f", "-"], Some(pod.as_str()), true),
        ("create an apps/v1 Deployment", vec!["create", "-f", "-"], Some(deployment), true),
        ("create a batch/v1 Job", vec!["create", "-f", "-"], Some(job), true),
        ("list its pods", vec!["get", "pods"], None, true),
        ("list namespaces", vec!["get", "namespaces"], None, false),
        ("read another node's namespace", vec!["-n", &ns_b, "get", "pods"], None, false),
        ("list nodes", vec!["get", "nodes"], None, false),
        ("create a role (escalation)", vec!["create", "role", "x", "--verb=get", "--resource=pods"], None, false),
    ];
    let failures = common::rbac_failures(&kubeconfig, &checks);

    let listed = driver.list_resources().await.expect("list");
    let ours = |r: &&kubepool_driver_api::ResourceRef| r.external_id.starts_with(&format!("{pool_name}-"));
    let listed_ids: Vec<_> = listed.iter().filter(ours).map(|r| (r.external_id.clone(), r.node_id.clone())).collect();
    driver.delete(&ns_a).await.expect("delete a");
    driver.delete(&ns_b).await.expect("delete b");
    let after = driver.list_resources().await.expect("list after delete");
    let _ = std::fs::remove_dir_all(&dir);

    assert!(failures.is_empty(), "{failures:#?}");
    assert!(listed_ids.contains(&(ns_a.clone(), Some("0000000001".into()))), "listed {listed_ids:?}");
    assert!(listed_ids.contains(&(ns_b.clone(), Some("0000000002".into()))), "listed {listed_ids:?}");
    assert!(!after.iter().any(|r| ours(&r)), "namespaces left: {after:?}");
    assert!(namespaces.get_opt(&ns_a).await.expect("get").is_none(), "namespace a is gone");
    // Deleting what is gone succeeds.
    driver.delete(&ns_a).await.expect("delete again");
}

/// The JWT claims of a service-account token (no signature check: the API server does that).
fn claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    serde_json::from_slice(&bytes).expect("claims")
}

/// Both token sources give a token that authenticates as the node's own service account and
/// stops authenticating when the node is deleted: a requested one with the asked lifetime and
/// no Secret, a Secret-sourced one from the explicit token Secret (Nodepool's way).
#[tokio::test]
async fn both_token_sources_authenticate_as_the_node_account_and_die_with_the_node() {
    use k8s_openapi::api::core::v1::Secret;
    use kubepool::k8s::TokenSource;
    let lifetime = std::time::Duration::from_secs(2 * 3600);
    for source in [TokenSource::Request { lifetime }, TokenSource::Secret] {
        let mut cluster = kubepool::k8s::connect(None).await.expect("connect");
        cluster.node_token = source;
        let pool_name = common::unique_name("kptok");
        let driver = driver(&pool_name, cluster);
        let node = driver.launch(&node_spec(&pool_name, "0000000001"), &NoProgress).await.expect("launch");
        let namespace = node.external_id.clone();
        let token = node.connection_port["token"].as_str().expect("token").to_string();
        let ca = node.connection_port["ca_crt"].as_str().expect("ca_crt").to_string();

        let identity = common::token_identity(&token).await;
        let secrets: kube::Api<Secret> = kube::Api::namespaced(common::admin_client().await, &namespace);
        let secret = secrets.get_opt("zuul-worker").await.expect("get secret");
        let token_claims = claims(&token);
        driver.delete(&namespace).await.expect("delete");
        // The API server caches a successful token authentication for 10 s.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut identity_after = common::token_identity(&token).await;
        while identity_after.is_some() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            identity_after = common::token_identity(&token).await;
        }

        assert_eq!(
            identity.as_deref(),
            Some(format!("system:serviceaccount:{namespace}:zuul-worker").as_str()),
            "{source:?}"
        );
        assert_eq!(identity_after, None, "{source:?}: the token still authenticates 30 s after the node is gone");
        let pem = String::from_utf8(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &ca).expect("ca_crt is base64"),
        )
        .expect("pem");
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{source:?}: {pem}");
        match source {
            TokenSource::Request { .. } => {
                assert!(secret.is_none(), "a requested token needs no Secret");
                let exp = token_claims["exp"].as_i64().expect("exp");
                let iat = token_claims["iat"].as_i64().expect("iat");
                assert_eq!(exp - iat, 2 * 3600, "the asked lifetime: {token_claims}");
            }
            TokenSource::Secret => {
                let secret = secret.expect("the explicit token Secret");
                assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/service-account-token"));
                assert!(token_claims.get("exp").is_none(), "a Secret token does not expire: {token_claims}");
            }
        }
    }
}

/// A namespace with a service account `node` and a token for it, but no rights yet.
async fn namespace_with_unbound_account(
    cluster: &kubepool::k8s::ClusterInfo,
    name: &str,
) -> kubepool::drivers::common::token::Credentials {
    use k8s_openapi::api::authentication::v1::TokenRequest;
    use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
    let namespaces: kube::Api<Namespace> = kube::Api::all(cluster.client.clone());
    let namespace: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).expect("ns");
    namespaces.create(&Default::default(), &namespace).await.expect("create namespace");
    let accounts: kube::Api<ServiceAccount> = kube::Api::namespaced(cluster.client.clone(), name);
    let account: ServiceAccount =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "node"}})).expect("sa");
    accounts.create(&Default::default(), &account).await.expect("create service account");
    let token = accounts
        .create_token_request("node", &Default::default(), &TokenRequest::default())
        .await
        .expect("token request")
        .status
        .expect("token")
        .token;
    kubepool::drivers::common::token::Credentials {
        token,
        ca_crt_base64: cluster.ca_crt_base64.clone().expect("the test bed's kubeconfig carries its CA"),
    }
}

async fn grant_pod_creation(cluster: &kubepool::k8s::ClusterInfo, namespace: &str) {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let roles: kube::Api<Role> = kube::Api::namespaced(cluster.client.clone(), namespace);
    let role: Role = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "pods"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}],
    }))
    .expect("role");
    roles.create(&Default::default(), &role).await.expect("create role");
    let bindings: kube::Api<RoleBinding> = kube::Api::namespaced(cluster.client.clone(), namespace);
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "pods"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pods"},
        "subjects": [{"kind": "ServiceAccount", "name": "node", "namespace": namespace}],
    }))
    .expect("binding");
    bindings.create(&Default::default(), &binding).await.expect("create role binding");
}

/// The readiness check of namespace nodes waits for the node's own credentials to be allowed
/// to create a pod (here: a RoleBinding made 2 s late), and gives up at its deadline while they
/// are not. The dry run leaves no pod behind.
#[tokio::test]
async fn a_namespace_node_is_ready_only_once_its_credentials_get_a_pod_admitted() {
    use kubepool::drivers::common::pod_launch::wait_pods_admitted;
    use std::time::Duration;
    use tokio::time::Instant;
    let cluster = kubepool::k8s::connect(None).await.expect("cluster");

    let refused = common::unique_name("kp-admit-no");
    let _guard = common::NamespaceGuard(refused.clone());
    let credentials = namespace_with_unbound_account(&cluster, &refused).await;
    let outcome = wait_pods_admitted(&cluster, &refused, &credentials, Instant::now() + Duration::from_secs(3)).await;
    let error = outcome.expect_err("no right to create pods: not ready");
    assert!(error.to_string().contains("cannot create pods yet"), "{error}");

    let late = common::unique_name("kp-admit-late");
    let _guard = common::NamespaceGuard(late.clone());
    let credentials = namespace_with_unbound_account(&cluster, &late).await;
    let granted = std::sync::Arc::new(std::sync::Mutex::new(None::<Instant>));
    let grant = {
        let (cluster, late, granted) = (cluster.clone(), late.clone(), granted.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            *granted.lock().expect("lock") = Some(Instant::now());
            grant_pod_creation(&cluster, &late).await;
        })
    };
    wait_pods_admitted(&cluster, &late, &credentials, Instant::now() + Duration::from_secs(60))
        .await
        .expect("admitted once the binding exists");
    let ready_at = Instant::now();
    grant.await.expect("grant");
    let granting_from = granted.lock().expect("lock").expect("granted");
    assert!(granting_from <= ready_at, "ready before its credentials could create a pod");
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(cluster.client.clone(), &late);
    assert!(pods.list(&Default::default()).await.expect("pods").items.is_empty(), "the dry run made a pod");
}
