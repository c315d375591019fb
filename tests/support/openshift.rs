//! What the OpenShift tests share: a nodepool.yaml that uses every key of the openshift and
//! openshiftpods drivers, the existing namespace an openshiftpods pool needs (removed when the
//! test ends), and kubectl with a node's kubeconfig.

#![allow(dead_code)]

use crate::common;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use std::path::Path;
use std::process::{Command, Output};

pub const OS_PROVIDER: &str = "os-openshift";
pub const PODS_PROVIDER: &str = "os-openshiftpods";
pub const PROJECT_LABEL: &str = "os-project";
pub const POD_LABEL: &str = "os-pod";
pub const SPEC_LABEL: &str = "os-spec";
pub const GPU_LABEL: &str = "os-gpu";
pub const PODS_LABEL: &str = "os-pods-pod";
pub const PODS_SPEC_LABEL: &str = "os-pods-spec";
/// The pull secret the pod labels name (created in the openshiftpods namespace).
pub const PULL_SECRET: &str = "os-regcred";

/// The kubeconfig context of the test cluster (openshift providers require one).
pub fn current_context() -> String {
    let out = Command::new(common::kubectl()).args(["config", "current-context"]).output().expect("run kubectl");
    String::from_utf8(out.stdout).expect("utf-8").trim().to_string()
}

/// A nodepool.yaml with both drivers, using every provider, pool and label key they accept.
/// `pool` is the openshift pool (project-name prefix), `pods_namespace` the openshiftpods pool,
/// `max_pods` the openshiftpods provider's cap, `zookeeper` the zookeeper-servers section.
pub fn every_key_config(zookeeper: &str, pool: &str, pods_namespace: &str, max_pods: u32) -> String {
    let image = common::test_image();
    let context = current_context();
    // Pods request no CPU (the test bed has two cores, shared): `cpu: 0` with a limit.
    format!(
        r#"
{zookeeper}
labels:
  - name: {PROJECT_LABEL}
  - name: {POD_LABEL}
  - name: {SPEC_LABEL}
  - name: {GPU_LABEL}
  - name: {PODS_LABEL}
  - name: {PODS_SPEC_LABEL}
providers:
  - name: {OS_PROVIDER}
    driver: openshift
    context: {context}
    launch-retries: 2
    max-concurrency: 10
    priority: 50
    max-projects: 10
    max-cores: 20
    max-ram: 4096
    max-resources:
      os-widgets: 20
    pools:
      - name: {pool}
        max-servers: 8
        priority: 40
        node-attributes:
          executor-zone: os-zone
        max-cores: 10
        max-ram: 2048
        max-resources:
          os-widgets: 10
        default-label-cpu: 1
        default-label-memory: 64
        default-label-storage: 100
        default-label-cpu-limit: 1
        default-label-memory-limit: 128
        default-label-storage-limit: 200
        default-label-extra-resources:
          os-widgets: 1
        labels:
          - name: {PROJECT_LABEL}
            type: project
            labels:
              team: os-ci
            dynamic-labels:
              tenant: "{{request.tenant_name}}"
          - name: {POD_LABEL}
            type: pod
            image: {image}
            image-pull: Never
            image-pull-secrets:
              - name: {PULL_SECRET}
            python-path: /usr/bin/python3
            shell-type: sh
            cpu: 0
            memory: 32
            storage: 50
            cpu-limit: 1
            memory-limit: 64
            storage-limit: 100
            env:
              - name: GREETING
                value: hello-openshift
            node-selector:
              kubernetes.io/os: linux
            privileged: false
            scheduler-name: default-scheduler
            volumes:
              - name: scratch
                emptyDir: {{}}
            volume-mounts:
              - name: scratch
                mountPath: /scratch
            extra-resources:
              os-widgets: 2
            labels:
              team: os-ci
            dynamic-labels:
              tenant: "{{request.tenant_name}}"
            annotations:
              kubepool.test/purpose: openshift-e2e
          - name: {SPEC_LABEL}
            type: pod
            spec:
              terminationGracePeriodSeconds: 1
              containers:
                - name: {SPEC_LABEL}
                  image: {image}
                  imagePullPolicy: Never
                  command: ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep infinity & wait"]
            labels:
              team: os-ci
            dynamic-labels:
              tenant: "{{request.tenant_name}}"
            annotations:
              kubepool.test/purpose: openshift-e2e
          - name: {GPU_LABEL}
            type: pod
            image: {image}
            image-pull: Never
            cpu: 0
            gpu: 1.0
            gpu-resource: kubepool.test/os-gpu
  - name: {PODS_PROVIDER}
    driver: openshiftpods
    context: {context}
    launch-retries: 2
    max-concurrency: 10
    priority: 60
    max-pods: {max_pods}
    max-cores: 20
    max-ram: 4096
    max-resources:
      os-widgets: 20
    pools:
      - name: {pods_namespace}
        labels:
          - name: {PODS_LABEL}
            image: {image}
            image-pull: Never
            image-pull-secrets:
              - name: {PULL_SECRET}
            python-path: /usr/bin/python3
            shell-type: sh
            cpu: 0
            memory: 32
            storage: 50
            cpu-limit: 1
            memory-limit: 64
            storage-limit: 100
            env:
              - name: GREETING
                value: hello-pods
            node-selector:
              kubernetes.io/os: linux
            privileged: false
            scheduler-name: default-scheduler
            volumes:
              - name: scratch
                emptyDir: {{}}
            volume-mounts:
              - name: scratch
                mountPath: /scratch
            extra-resources:
              os-widgets: 2
            labels:
              team: os-ci
            dynamic-labels:
              tenant: "{{request.tenant_name}}"
            annotations:
              kubepool.test/purpose: openshiftpods-e2e
          - name: {PODS_SPEC_LABEL}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
                - name: {PODS_SPEC_LABEL}
                  image: {image}
                  imagePullPolicy: Never
                  command: ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep infinity & wait"]
            labels:
              team: os-ci
            dynamic-labels:
              tenant: "{{request.tenant_name}}"
            annotations:
              kubepool.test/purpose: openshiftpods-e2e
"#
    )
}

/// The `zookeeper-servers` section for the plain test ZooKeeper (in-process launchers connect
/// with the test's own session; the section only has to be valid).
pub fn plain_zookeeper() -> String {
    "zookeeper-servers:\n  - host: 127.0.0.1".to_string()
}

/// The existing namespace an openshiftpods pool works in, with the pull secret the labels name;
/// deleted when dropped.
pub struct PodsNamespace {
    pub name: String,
}

impl PodsNamespace {
    pub async fn create(prefix: &str) -> Self {
        let name = common::unique_name(prefix);
        let client = common::admin_client().await;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let namespace =
            Namespace { metadata: ObjectMeta { name: Some(name.clone()), ..Default::default() }, ..Default::default() };
        namespaces.create(&PostParams::default(), &namespace).await.expect("create the openshiftpods namespace");
        let secrets: Api<Secret> = Api::namespaced(client, &name);
        let secret: Secret = serde_json::from_value(serde_json::json!({
            "metadata": {"name": PULL_SECRET},
            "type": "kubernetes.io/dockerconfigjson",
            "stringData": {".dockerconfigjson": "{\"auths\": {}}"},
        }))
        .expect("secret body");
        secrets.create(&PostParams::default(), &secret).await.expect("create the pull secret");
        Self { name }
    }
}

impl Drop for PodsNamespace {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let client = kubepool::k8s::connect(None).await.ok()?.client;
                let namespaces: Api<Namespace> = Api::all(client);
                namespaces.delete(&name, &DeleteParams::background()).await.ok()
            })
        })
        .join();
    }
}

/// kubectl with `kubeconfig` and `context`.
pub fn kubectl(kubeconfig: &Path, context: &str, args: &[&str]) -> Output {
    Command::new(common::kubectl())
        .env("KUBECONFIG", kubeconfig)
        .arg("--context")
        .arg(context)
        .args(args)
        .output()
        .expect("run kubectl")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts that kubectl was refused by RBAC.
pub fn assert_forbidden(out: &Output, what: &str) {
    assert!(!out.status.success() && text(&out.stderr).contains("Forbidden"), "{what} allowed: {out:?}");
}

/// Asserts that kubectl succeeded.
pub fn assert_ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} refused: {out:?}");
}
