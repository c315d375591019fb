//! The test bed hosts in-cluster workloads (the launcher's Deployment, the Operator): a pod
//! reaches the API server through the `kubernetes` Service with its own service-account token,
//! resolves Service names through the cluster DNS and reaches another pod through a Service, and
//! a claim on the default StorageClass is bound and writable by a pod that does not run as root.

mod common;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
use kube::api::{Api, LogParams, PostParams};
use kube::runtime::wait::await_condition;
use std::time::Duration;

/// Runs `script` (Python) in a pod of `namespace` from the node image and returns its phase
/// (`Succeeded` or `Failed`) and its output, once it has ended.
async fn run_script(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    script: &str,
    spec: serde_json::Value,
) -> (String, String) {
    let mut body = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "labels": { "app": name } },
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "script",
                "image": common::test_image(),
                "imagePullPolicy": "IfNotPresent",
                "command": ["python3", "-c", script],
            }]
        }
    });
    for (key, value) in spec.as_object().into_iter().flatten() {
        if key == "volumeMounts" {
            body["spec"]["containers"][0][key] = value.clone();
        } else {
            body["spec"][key] = value.clone();
        }
    }
    let pod: Pod = serde_json::from_value(body).expect("pod body");
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    create_retrying_without_service_account(&pods, &pod).await;
    let ended = |pod: Option<&Pod>| {
        pod.and_then(|p| p.status.as_ref())
            .and_then(|s| s.phase.as_deref())
            .is_some_and(|p| p == "Succeeded" || p == "Failed")
    };
    tokio::time::timeout(Duration::from_secs(120), await_condition(pods.clone(), name, ended))
        .await
        .expect("pod ended within 120 s")
        .expect("watch pod");
    let phase = pods.get(name).await.expect("get pod").status.and_then(|s| s.phase).unwrap_or_default();
    let logs = pods.logs(name, &LogParams::default()).await.expect("pod logs");
    (phase, logs)
}

/// A brand-new namespace has no default service account for about a second: a 1.20 API server
/// refuses pods meanwhile.
async fn create_retrying_without_service_account(pods: &Api<Pod>, pod: &Pod) {
    for _ in 0..150 {
        match pods.create(&PostParams::default(), pod).await {
            Ok(_) => return,
            Err(kube::Error::Api(status)) if status.message.contains("service account") => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("create pod: {error}"),
        }
    }
    panic!("no default service account after 30 s");
}

async fn test_namespace(client: &kube::Client, prefix: &str) -> common::NamespaceGuard {
    let name = common::unique_name(prefix);
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let body = serde_json::from_value(serde_json::json!({ "metadata": { "name": name } })).expect("namespace body");
    namespaces.create(&PostParams::default(), &body).await.expect("create namespace");
    common::NamespaceGuard(name)
}

#[tokio::test]
async fn a_pod_reaches_the_api_server_through_the_kubernetes_service_with_its_own_token() {
    let client = common::admin_client().await;
    let namespace = test_namespace(&client, "kubepool-test-incluster-api").await;
    // The default service account may list nothing: a 403 that names it shows the API server
    // authenticated the pod's token, reached at the Service address with the CA it was given.
    let script = r#"
import json, os, ssl, urllib.error, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
namespace = open(sa + "namespace").read()
request = urllib.request.Request(f"https://{host}:{port}/api/v1/namespaces/{namespace}/secrets",
                                 headers={"Authorization": "Bearer " + open(sa + "token").read()})
try:
    urllib.request.urlopen(request, context=ssl.create_default_context(cafile=sa + "ca.crt"), timeout=10)
    print("unexpectedly allowed")
except urllib.error.HTTPError as error:
    print(host, port, error.code, json.load(error)["message"])
"#;
    let (phase, logs) = run_script(&client, &namespace.0, "api", script, serde_json::json!({})).await;
    assert_eq!(phase, "Succeeded", "{logs}");
    let identity = format!("system:serviceaccount:{}:default", namespace.0);
    assert!(logs.starts_with("10.97.0.1 443 403 ") && logs.contains(&identity), "{logs}");
}

#[tokio::test]
async fn a_pod_resolves_service_names_and_reaches_another_pod_through_a_service() {
    let client = common::admin_client().await;
    let namespace = test_namespace(&client, "kubepool-test-incluster-dns").await;
    let services: Api<Service> = Api::namespaced(client.clone(), &namespace.0);
    let web: Service = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "web" },
        "spec": { "selector": { "app": "server" }, "ports": [{ "port": 80, "targetPort": 8080 }] }
    }))
    .expect("service body");
    let cluster_ip = services
        .create(&PostParams::default(), &web)
        .await
        .expect("create service")
        .spec
        .and_then(|s| s.cluster_ip)
        .expect("cluster IP");
    let server =
        "import http.server\nhttp.server.HTTPServer(('', 8080), http.server.SimpleHTTPRequestHandler).serve_forever()";
    let server_pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "server", "labels": { "app": "server" } },
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{ "name": "server", "image": common::test_image(), "imagePullPolicy": "IfNotPresent",
                             "command": ["python3", "-c", server], "workingDir": "/etc",
                             "readinessProbe": { "tcpSocket": { "port": 8080 }, "periodSeconds": 1 } }]
        }
    }))
    .expect("pod body");
    common::start_pod(&client, &namespace.0, &server_pod).await;
    // The records follow the Service and its endpoints within a second or so: retry for 30 s.
    let script = r#"
import socket, ssl, time, urllib.request
def retry(what):
    for attempt in range(60):
        try:
            return what()
        except OSError as error:
            last = error
            time.sleep(0.5)
    raise last
print("web", retry(lambda: socket.gethostbyname("web")))
print("kubernetes.default.svc", socket.gethostbyname("kubernetes.default.svc"))
print("debian_version", retry(lambda: urllib.request.urlopen("http://web/debian_version", timeout=5).status))
ca = ssl.create_default_context(cafile="/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
print("version", urllib.request.urlopen("https://kubernetes.default.svc/version", context=ca, timeout=10).status)
try:
    print("nosuch", socket.gethostbyname("nosuch-service"))
except socket.gaierror as error:
    print("nosuch", "unresolved")
"#;
    let (phase, logs) = run_script(&client, &namespace.0, "client", script, serde_json::json!({})).await;
    assert_eq!(phase, "Succeeded", "{logs}");
    let expected = format!(
        "web {cluster_ip}\nkubernetes.default.svc 10.97.0.1\ndebian_version 200\nversion 200\nnosuch unresolved\n"
    );
    assert_eq!(logs, expected);
}

#[tokio::test]
async fn a_claim_on_the_default_storage_class_is_bound_and_writable_by_a_pod_not_running_as_root() {
    let client = common::admin_client().await;
    let namespace = test_namespace(&client, "kubepool-test-incluster-pvc").await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &namespace.0);
    let claim: PersistentVolumeClaim = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "data" },
        "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Mi" } } }
    }))
    .expect("claim body");
    claims.create(&PostParams::default(), &claim).await.expect("create claim");
    let script = "import os\nopen('/data/f', 'w').write('written')\nprint(os.getuid(), open('/data/f').read())";
    let spec = serde_json::json!({
        "securityContext": { "runAsUser": 1000, "runAsGroup": 1000 },
        "volumes": [{ "name": "data", "persistentVolumeClaim": { "claimName": "data" } }],
        "volumeMounts": [{ "name": "data", "mountPath": "/data" }],
    });
    let (phase, logs) = run_script(&client, &namespace.0, "writer", script, spec).await;
    assert_eq!(phase, "Succeeded", "{logs}");
    assert_eq!(logs, "1000 written\n");
    let bound = claims.get("data").await.expect("get claim");
    assert_eq!(bound.spec.and_then(|s| s.storage_class_name).as_deref(), Some("standard"));
}
