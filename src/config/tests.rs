//! Loading whole files: defaults resolved once, inheritance, quota, and error reports.

use super::*;
use kubepool_driver_api::{Limits, Resources};
use std::path::Path;

fn load_text(text: &str) -> Config {
    match parse(Path::new("nodepool.yaml"), text) {
        Ok(config) => config,
        Err(error) => panic!("expected valid, got:\n{error}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match parse(Path::new("nodepool.yaml"), text) {
        Ok(_) => panic!("expected invalid"),
        Err(error) => error.lines(),
    }
}

const MIXED: &str = "\
zookeeper-servers:
  - host: zk.example.com
zookeeper-tls: {ca: /etc/zk/ca.pem, cert: /etc/zk/c.pem, key: /etc/zk/c.key}
labels:
  - {name: pod, min-ready: 2}
  - {name: ns}
  - {name: gpu}
  - {name: custom}
  - {name: p}
providers:
  - name: cloud
    cloud: mycloud
  - name: k8s
    driver: kubernetes
    context: admin
    priority: 7
    max-servers: 10
    max-cores: 64
    max-resources: {licenses: 4, gpus: 2}
    pools:
      - name: main
        max-ram: 4096
        max-resources: {licenses: 1}
        default-label-cpu: 1
        default-label-memory: 512
        default-label-extra-resources: {licenses: 1}
        labels:
          - {name: pod, type: pod, image: fedora, cpu: 2, memory-limit: 1024, extra-resources: {tokens: 3}}
          - {name: ns, type: namespace}
          - {name: gpu, type: pod, image: cuda, gpu: 0.5, gpu-resource: nvidia.com/gpu, extra-resources: {licenses: 0}}
      - name: second
        priority: 3
        max-servers: 2
        labels:
          - {name: custom, type: pod, spec: {containers: []}}
  - name: pods
    driver: openshiftpods
    context: os
    max-pods: 5
    pools:
      - {name: ci, labels: [{name: p, image: fedora}]}
";

#[test]
fn connection_keys_and_providers() {
    let config = load_text(MIXED);
    assert_eq!(config.zookeeper_servers[0].port, 2181);
    assert_eq!(config.zookeeper_timeout, 10.0);
    assert_eq!(config.zookeeper_tls.as_ref().map(|t| t.ca.clone()), Some("/etc/zk/ca.pem".into()));
    assert_eq!(config.label("pod").map(|l| l.min_ready), Some(2));
    let names: Vec<_> = config.kubepool_providers().map(|p| (p.name.as_str(), p.driver)).collect();
    assert_eq!(names, [("k8s", Driver::Kubernetes), ("pods", Driver::OpenshiftPods)]);
    assert_eq!(config.ignored_providers, [IgnoredProvider { name: "cloud".into(), driver: "openstack".into() }]);
    assert_eq!(config.providers[0].launch_retries, 3);
    assert_eq!(config.providers[0].max_concurrency, -1);
    assert_eq!(config.webapp, None, "no webapp key: not served");
    let config = load_text(&format!("{MIXED}\nwebapp:\n  port: 8010\n"));
    assert_eq!(config.webapp, Some(WebApp { port: 8010, listen_address: "0.0.0.0".into() }));
}

#[test]
fn pools_inherit_limits_and_priority() {
    let config = load_text(MIXED);
    let k8s = &config.providers[0];
    let main = &k8s.pools[0];
    assert_eq!(main.priority, 7);
    assert_eq!(
        main.limits,
        Limits::unlimited()
            .with("instances", 10)
            .with("cores", 64)
            .with("ram", 4096)
            .with("licenses", 1)
            .with("gpus", 2)
    );
    assert_eq!(k8s.pools[1].priority, 3);
    assert_eq!(k8s.pools[1].limits.get("instances"), Some(2));
    let pods = &config.providers[1].pools[0];
    assert_eq!(pods.priority, 100);
    assert_eq!(pods.limits, Limits::unlimited().with("instances", 5));
}

#[test]
fn labels_resolve_defaults_and_quota() {
    let config = load_text(MIXED);
    let labels = &config.providers[0].pools[0].labels;
    let LabelKind::Pod(pod) = &labels[0].kind else { panic!("pod label") };
    assert_eq!(pod.requests, Compute { cpu: Some(2), memory: Some(512), storage: None });
    assert_eq!(pod.limits, Compute { cpu: Some(2), memory: Some(1024), storage: None });
    assert_eq!(pod.image_pull, "IfNotPresent");
    assert_eq!(labels[0].python_path, "auto");
    assert_eq!(
        labels[0].resources,
        Resources::new().with("instances", 1).with("cores", 2).with("ram", 512).with("licenses", 1).with("tokens", 3)
    );
    assert_eq!(labels[1].kind, LabelKind::Namespace);
    assert_eq!(
        labels[1].resources,
        Resources::new().with("instances", 1).with("cores", 1).with("ram", 512).with("licenses", 1)
    );
    assert_eq!(
        labels[2].resources,
        Resources::new()
            .with("instances", 1)
            .with("cores", 1)
            .with("ram", 512)
            .with("licenses", 0)
            .with("nvidia.com/gpu", 1)
    );
    let custom = &config.providers[0].pools[1].labels[0];
    assert_eq!(custom.kind, LabelKind::Spec(serde_json::json!({"containers": []})));
    assert_eq!(custom.resources, Resources::new().with("instances", 1));
}

#[test]
fn openshift_types() {
    let config = load_text(
        "labels: [{name: a}, {name: b}]\nproviders:\n  - name: os\n    driver: openshift\n    context: c\n    max-projects: 3\n    pools:\n      - name: p\n        labels:\n          - {name: a, type: project}\n          - {name: b, type: pod, image: i, image-pull-secrets: [{name: regcred}]}\n",
    );
    let pool = &config.providers[0].pools[0];
    assert_eq!(pool.labels[0].kind, LabelKind::Namespace);
    let LabelKind::Pod(pod) = &pool.labels[1].kind else { panic!("pod label") };
    assert_eq!(pod.image_pull_secrets, [serde_json::json!({"name": "regcred"})]);
    assert_eq!(pool.limits, Limits::unlimited().with("instances", 3));
}

#[test]
fn every_error_is_reported_with_file_line_column_and_path() {
    let found = errors(
        "labels: [{name: a}]\nproviders:\n  - name: k\n    driver: kubernetes\n    pools:\n      - name: p\n        labels:\n          - name: a\n            type: pod\n            memory: lots\n            bogus: 1\nzookeeper-timeout: 5\n",
    );
    assert_eq!(
        found,
        [
            "nodepool.yaml:10:21: providers[0].pools[0].labels[0].memory: expected int, got str",
            "nodepool.yaml:11:13: providers[0].pools[0].labels[0].bogus: unknown key (extra keys are not allowed in a kubernetes label)",
            "nodepool.yaml:12:20: zookeeper-timeout: expected float, got int",
        ]
    );
}

#[test]
fn typed_checks_are_reported_with_the_schema_problems() {
    let found = errors("zookeeper-servers:\n  - {host: zk, port: 70000}\nmax-hold-age: soon\n");
    assert_eq!(
        found,
        [
            "nodepool.yaml:2:22: zookeeper-servers[0].port: port 70000 is not in 0..=65535",
            "nodepool.yaml:3:15: max-hold-age: expected int, got str",
        ]
    );
}

#[test]
fn syntax_errors_have_a_position() {
    let found = errors("providers: [\n");
    assert_eq!(found.len(), 1);
    assert!(found[0].starts_with("nodepool.yaml:2:1: (document): invalid YAML"), "{found:?}");
}

#[test]
fn environment_substitution_only_for_nodepool_variables() {
    let vars = [("NODEPOOL_ZK".to_string(), "zk1".to_string()), ("HOME".to_string(), "/root".to_string())];
    assert_eq!(substitute_env_vars("%(NODEPOOL_ZK) %(HOME)", vars), "zk1 %(HOME)");
}

#[test]
fn of_providers_with_the_same_name_the_last_one_is_used_as_in_nodepool() {
    let config = load_text(include_str!("../../tests/config-corpus/duplicate-provider-names.yaml"));
    assert_eq!(config.providers.len(), 1);
    assert_eq!(config.providers[0].pools.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["second"]);
}

#[test]
fn an_unset_nodepool_variable_is_named_with_its_key_path() {
    let lines = errors("zookeeper-servers:\n  - host: zk\n    chroot: /a/%(NODEPOOL_KUBEPOOL_TEST_UNSET)s\n");
    assert_eq!(
        lines,
        [
            "nodepool.yaml:3:16: zookeeper-servers[0].chroot: environment variable NODEPOOL_KUBEPOOL_TEST_UNSET is not set \
          (%(NODEPOOL_KUBEPOOL_TEST_UNSET) is replaced by its value)"
        ]
    );
}

const BUILDSET: &str = "\
labels: [{name: child}, {name: ns}, {name: p}]
providers:
  - name: k8s
    driver: kubernetes
    pools:
      - name: main
        labels:
          - name: child
            type: pod
            image: fedora
            annotations: {team: ci, kubepool.io/buildset-namespace: true}
          - {name: ns, type: namespace}
";

#[test]
fn buildset_namespace_is_taken_out_of_the_annotations() {
    let config = load_text(BUILDSET);
    let labels = &config.providers[0].pools[0].labels;
    assert!(labels[0].buildset_namespace);
    assert_eq!(labels[0].annotations.keys().collect::<Vec<_>>(), ["team"]);
    assert!(!labels[1].buildset_namespace);
}

#[test]
fn buildset_namespace_elsewhere_is_an_error_with_file_line_and_path() {
    let on_namespace = BUILDSET.replace(
        "{name: ns, type: namespace}",
        "{name: ns, type: namespace, annotations: {kubepool.io/buildset-namespace: true}}",
    );
    assert_eq!(
        errors(&on_namespace),
        [
            "nodepool.yaml:12:87: providers[0].pools[0].labels[1].annotations.kubepool.io/buildset-namespace: kubepool.io/buildset-namespace is an option of kubernetes pod labels only"
        ]
    );
    let not_bool = BUILDSET.replace("buildset-namespace: true", "buildset-namespace: sure");
    assert_eq!(
        errors(&not_bool),
        [
            "nodepool.yaml:11:69: providers[0].pools[0].labels[0].annotations.kubepool.io/buildset-namespace: expected true or false, got \"sure\""
        ]
    );
    let openshiftpods = "\
labels: [{name: p}]
providers:
  - name: pods
    driver: openshiftpods
    context: os
    pools:
      - name: ci
        labels:
          - name: p
            image: fedora
            annotations:
              kubepool.io/buildset-namespace: true
";
    assert_eq!(
        errors(openshiftpods),
        [
            "nodepool.yaml:12:47: providers[0].pools[0].labels[0].annotations.kubepool.io/buildset-namespace: kubepool.io/buildset-namespace is an option of kubernetes pod labels only"
        ]
    );
}
