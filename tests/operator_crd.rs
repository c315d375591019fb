//! The `Zuul` CRD: the committed manifest is what the types generate, and the real API server
//! (the test bed's Kubernetes 1.20) installs it, accepts the upstream zuul-operator's example and
//! kubepool's full example without pruning anything, applies the defaults, and rejects invalid
//! specs with a message naming the field.

mod common;
#[path = "support/operator.rs"]
mod operator_support;

use common::{admin_client, kubectl};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kubepool::operator::{Zuul, crd_yaml};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

fn repo_file(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn the_committed_crd_is_what_the_types_generate() {
    assert!(
        repo_file("deploy/operator/crd.yaml") == crd_yaml(),
        "deploy/operator/crd.yaml is stale: run `cargo run -- operator crd > deploy/operator/crd.yaml`"
    );
}

/// `kubectl create -f file -o json` in `namespace`: the object as stored, or kubectl's error.
fn kubectl_create(namespace: &str, file: &str) -> Result<Value, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let out = Command::new(kubectl())
        .args(["create", "-n", namespace, "-o", "json", "-f"])
        .arg(&path)
        .output()
        .expect("run kubectl");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("kubectl prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn zuul_api(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("operator.zuul-ci.org", "v1alpha2", "Zuul");
    Api::namespaced_with(client.clone(), namespace, &ApiResource::from_gvk_with_plural(&gvk, "zuuls"))
}

/// Creates a Zuul whose spec is `spec`, and returns the API server's refusal message.
async fn rejection(zuuls: &Api<DynamicObject>, name: &str, spec: Value) -> String {
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "operator.zuul-ci.org/v1alpha2",
        "kind": "Zuul",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .expect("object");
    match zuuls.create(&PostParams::default(), &object).await {
        Ok(_) => panic!("the API server accepted invalid Zuul {name}"),
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{name}: {status:?}");
            status.message
        }
        Err(other) => panic!("{name}: {other}"),
    }
}

#[tokio::test]
async fn the_api_server_accepts_upstream_and_kubepool_crs_and_rejects_invalid_ones() {
    let client = admin_client().await;
    operator_support::install_crd(&client).await;
    let guard = common::test_namespace(&client, "kp-op-crd").await;
    let namespace = guard.0.clone();

    // The upstream operator's example: accepted, kept whole, typed by our structs.
    let upstream =
        kubectl_create(&namespace, "tests/operator-data/upstream-v1alpha2-zuul-cr.yaml").expect("upstream CR accepted");
    let spec = &upstream["spec"];
    assert_eq!(spec["connections"]["opendev"], json!({"driver": "git", "baseurl": "https://opendev.org"}));
    assert_eq!(spec["launcher"]["config"], json!({"secretName": "nodepool-yaml-conf"}));
    assert_eq!(spec["externalConfig"]["kubernetes"]["secretName"], "nodepool-kube-config");
    // Upstream's defaults, applied by the API server from the generated schema.
    assert_eq!(spec["executor"]["terminationGracePeriodSeconds"], 21600);
    assert_eq!(spec["scheduler"]["count"], 1);
    let typed: Zuul = serde_json::from_value(upstream.clone()).expect("the stored upstream CR reads as a Zuul");
    assert_eq!(typed.spec.executor.and_then(|e| e.sshkey).map(|s| s.secret_name).as_deref(), Some("executor-ssh-key"));

    // kubepool's example with every first-class field: nothing pruned.
    let full = kubectl_create(&namespace, "tests/operator-data/kubepool-zuul-cr.yaml").expect("kubepool CR accepted");
    let spec = &full["spec"];
    assert_eq!(spec["jobVolumes"][0]["volume"], json!({"name": "site-config", "configMap": {"name": "site-config"}}));
    assert_eq!(spec["jobVolumes"][1]["volume"]["persistentVolumeClaim"], json!({"claimName": "shared-cache"}));
    assert_eq!(
        spec["connections"]["gerrit"]["password"],
        json!({"secretName": "gerrit-secrets", "key": "http_password"})
    );
    assert_eq!(spec["connections"]["gerrit"]["port"], 29418);
    assert_eq!(spec["imagePullSecrets"], json!(["registry-a", {"name": "registry-b"}]));
    assert_eq!(spec["scheduler"]["config"], "zuul-tenant-config");
    assert_eq!(spec["executor"]["resources"]["requests"]["memory"], "1Gi");
    assert_eq!(spec["logging"], json!({"debug": true, "configMapName": "zuul-logging"}));
    assert_eq!(spec["launcher"]["type"], "both");
    assert_eq!(spec["launcher"]["zuulLauncher"]["options"], json!({"temp_dir": "/var/lib/zuul/tmp"}));
    let typed: Zuul = serde_json::from_value(full.clone()).expect("the stored kubepool CR reads as a Zuul");
    assert_eq!(typed.spec.scheduler.and_then(|s| s.count), Some(2));

    // Invalid specs: refused by the API server, naming the field (1.20 leaves out list indexes).
    let zuuls = zuul_api(&client, &namespace);
    let cases = [
        ("bad-count", json!({"executor": {"count": -1}}), "spec.executor.count"),
        ("no-scheduler", json!({"scheduler": {"count": 0}}), "spec.scheduler.count"),
        (
            "bad-context",
            json!({"jobVolumes": [{"context": "sometimes", "access": "ro", "path": "/x", "volume": {"name": "x", "emptyDir": {}}}]}),
            "spec.jobVolumes.context",
        ),
        (
            "bad-access",
            json!({"jobVolumes": [{"context": "trusted", "access": "rx", "path": "/x", "volume": {"name": "x", "emptyDir": {}}}]}),
            "spec.jobVolumes.access",
        ),
        (
            "relative-path",
            json!({"jobVolumes": [{"context": "trusted", "access": "ro", "path": "x", "volume": {"name": "x", "emptyDir": {}}}]}),
            "spec.jobVolumes.path",
        ),
        (
            "no-volume",
            json!({"jobVolumes": [{"context": "trusted", "access": "ro", "path": "/x"}]}),
            "spec.jobVolumes.volume",
        ),
        (
            "unnamed-volume",
            json!({"jobVolumes": [{"context": "trusted", "access": "ro", "path": "/x", "volume": {"emptyDir": {}}}]}),
            "spec.jobVolumes.volume.name",
        ),
        (
            "external-no-secret",
            json!({"externalConfig": {"kubernetes": {}}}),
            "spec.externalConfig.kubernetes.secretName",
        ),
        ("connection-not-map", json!({"connections": {"gerrit": "review.example.org"}}), "spec.connections.gerrit"),
        ("count-not-number", json!({"web": {"count": "two"}}), "spec.web.count"),
        ("bad-launcher-type", json!({"launcher": {"type": "nodepool"}}), "spec.launcher.type"),
    ];
    for (name, spec, field) in cases {
        let message = rejection(&zuuls, name, spec).await;
        assert!(message.contains(field), "{name}: the refusal should name {field}: {message}");
    }
}
