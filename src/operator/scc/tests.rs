//! Must-show 4 of issue 21: every pod the operator makes for a representative `Zuul` passes
//! OpenShift's restricted-SCC rules, except the executor, whose SCC grant is the only privileged
//! one.

use super::*;
use crate::operator::build::{Settings, build};
use crate::operator::components::FileRef;
use crate::operator::crd::{Zuul, ZuulSpec};
use crate::operator::inputs::Read;
use std::collections::BTreeMap;

const NODEPOOL: &str = "labels:\n  - name: pod\nproviders:\n  - name: local\n    driver: kubernetes\n    pools:\n      - name: main\n        labels:\n          - name: pod\n            type: pod\n            image: debian\n  - name: remote\n    driver: kubernetes\n    context: other\n    pools:\n      - name: main\n        labels:\n          - name: pod\n            type: pod\n            image: debian\n";

fn file(secret: bool, name: &str, key: &str) -> FileRef {
    FileRef { secret, name: name.into(), key: key.into(), content: format!("{name}/{key}") }
}

/// Every component with replicas, a managed ZooKeeper of 3, two launchers, every kind of mounted
/// file (connection secret, tenant, logging config, SSH key, external config, job volumes).
fn zuul() -> (Zuul, Read) {
    let spec: ZuulSpec = serde_json::from_value(json!({
        "imagePullSecrets": ["registry"],
        "database": {"secretName": "db"},
        "zookeeper": {"replicas": 3},
        "scheduler": {"count": 2, "config": "tenant"},
        "executor": {"count": 2, "sshkey": {"secretName": "ssh"}},
        "merger": {"count": 1},
        "web": {"count": 2, "status_url": "https://zuul.example.org"},
        "fingergw": {"count": 1},
        "launcher": {"config": "nodepool"},
        "connections": {"gerrit": {"driver": "gerrit", "server": "review", "sshkey": {"secretName": "gerrit"}}},
        "externalConfig": {"kubernetes": {"secretName": "kube"}},
        "jobVolumes": [{"context": "trusted", "access": "ro", "path": "/etc/site",
                        "volume": {"name": "site", "configMap": {"name": "site"}}}],
        "logging": {"configMapName": "logging"},
    }))
    .expect("a valid spec");
    let mut zuul = Zuul::new("zuul", spec);
    zuul.metadata.namespace = Some("ns".into());
    zuul.metadata.uid = Some("uid".into());
    let read = Read {
        secrets: BTreeMap::from([("gerrit".to_string(), BTreeMap::from([("sshkey".to_string(), "key".to_string())]))]),
        dburi: "postgresql://zuul:pw@db/zuul".into(),
        tenant: Some(file(false, "tenant", "main.yaml")),
        logging: Some(file(false, "logging", "logging.conf")),
        sshkey: Some(file(true, "ssh", "sshkey")),
        nodepool: Some(("ConfigMap nodepool key nodepool.yaml".into(), NODEPOOL.into())),
        external: BTreeMap::from([("kubernetes".to_string(), file(true, "kube", "kube.config"))]),
        ..Read::default()
    };
    (zuul, read)
}

fn render(openshift: bool) -> Vec<Value> {
    let (zuul, read) = zuul();
    let settings =
        Settings { kubepool_image: "kubepool:test".into(), pdb_api: "policy/v1".into(), openshift, routes: openshift };
    let desired = build(&zuul, &Names::new("zuul", "ns"), &read, &settings).expect("built");
    desired.objects.into_iter().chain(desired.cluster).collect()
}

/// (workload name, pod template spec) of every pod template.
fn pods(objects: &[Value]) -> Vec<(String, Value)> {
    objects
        .iter()
        .filter(|o| o["spec"]["template"]["spec"].is_object())
        .map(|o| {
            let name =
                format!("{} {}", o["kind"].as_str().unwrap_or("?"), o["metadata"]["name"].as_str().unwrap_or("?"));
            (name, o["spec"]["template"]["spec"].clone())
        })
        .collect()
}

#[test]
fn every_pod_but_the_executor_passes_the_restricted_scc() {
    let objects = render(true);
    let pods = pods(&objects);
    let names: Vec<&str> = pods.iter().map(|(n, _)| n.as_str()).collect();
    // The representative Zuul has every kind of pod the operator makes.
    for expected in [
        "StatefulSet zuul-zookeeper",
        "StatefulSet zuul-scheduler",
        "StatefulSet zuul-executor",
        "StatefulSet zuul-merger",
        "Deployment zuul-web",
        "Deployment zuul-fingergw",
        "Deployment zuul-launcher-local",
        "Deployment zuul-launcher-remote",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    for (name, pod) in &pods {
        let violations = restricted_violations(pod);
        if name == "StatefulSet zuul-executor" {
            assert!(violations.iter().any(|v| v.ends_with("privileged")), "{violations:?}");
        } else {
            assert!(violations.is_empty(), "{name}: {violations:?}");
        }
    }
}

#[test]
fn the_checker_refuses_what_restricted_refuses() {
    let passing = json!({
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}],
    });
    assert_eq!(restricted_violations(&passing), Vec::<String>::new());
    let cases = [
        ("/hostNetwork", json!(true), "spec.hostNetwork"),
        ("/hostPID", json!(true), "spec.hostPID"),
        ("/hostIPC", json!(true), "spec.hostIPC"),
        ("/volumes", json!([{"name": "h", "hostPath": {"path": "/"}}]), "hostPath"),
        ("/securityContext/runAsUser", json!(10001), "runAsUser"),
        ("/securityContext/runAsGroup", json!(0), "runAsGroup"),
        ("/securityContext/fsGroup", json!(1000), "fsGroup"),
        ("/securityContext/runAsNonRoot", json!(false), "runAsNonRoot"),
        ("/securityContext/seccompProfile/type", json!("Unconfined"), "seccompProfile"),
        ("/containers/0/securityContext/privileged", json!(true), "privileged"),
        ("/containers/0/securityContext/allowPrivilegeEscalation", json!(null), "allowPrivilegeEscalation"),
        ("/containers/0/securityContext/capabilities/drop", json!(["NET_RAW"]), "drop ALL"),
        ("/containers/0/securityContext/capabilities/add", json!(["SYS_ADMIN"]), "SYS_ADMIN"),
        ("/containers/0/securityContext/runAsUser", json!(0), "runAsUser"),
        ("/containers/0/ports", json!([{"containerPort": 80, "hostPort": 80}]), "hostPort"),
    ];
    for (pointer, value, expected) in cases {
        let mut pod = passing.clone();
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
        let target = if parent.is_empty() { &mut pod } else { pod.pointer_mut(parent).expect(pointer) };
        target[key] = value;
        let violations = restricted_violations(&pod);
        assert!(violations.iter().any(|v| v.contains(expected)), "{pointer}: {violations:?}");
    }
}

fn yaml_to_json(node: &crate::config::yaml::Node) -> Value {
    use crate::config::yaml::Value as Y;
    match &node.value {
        Y::Null | Y::Other(_) => Value::Null,
        Y::Bool(b) => json!(b),
        Y::Int(i) => json!(i),
        Y::BigInt(s) | Y::Str(s) => json!(s),
        Y::Float(f) => json!(f),
        Y::Seq(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Y::Map(entries) => Value::Object(
            entries.iter().map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), yaml_to_json(v))).collect(),
        ),
    }
}

#[test]
fn the_executors_scc_grant_is_the_only_privileged_one() {
    let shipped = include_str!("../../../deploy/operator/openshift-scc.yaml");
    let shipped = yaml_to_json(&crate::config::yaml::parse(shipped).expect("valid YAML"));
    let items = shipped["items"].as_array().expect("a List");
    let sccs: Vec<&Value> = items.iter().filter(|i| i["kind"] == "SecurityContextConstraints").collect();
    assert_eq!(sccs.len(), 1);
    let scc = sccs[0];
    assert_eq!(scc["metadata"]["name"], EXECUTOR_SCC);
    assert_eq!(scc["allowPrivilegedContainer"], true);
    for host in ["allowHostDirVolumePlugin", "allowHostIPC", "allowHostNetwork", "allowHostPID", "allowHostPorts"] {
        assert_eq!(scc[host], false, "{host}");
    }
    assert_eq!(scc["runAsUser"]["type"], "MustRunAsRange", "no fixed or root UID");
    assert_eq!(scc["allowedCapabilities"], Value::Null);
    assert!(!scc["volumes"].as_array().expect("volumes").iter().any(|v| v == "hostPath" || v == "*"));
    // Granted by RBAC only, never by membership.
    assert_eq!(scc["users"], json!([]));
    assert_eq!(scc["groups"], json!([]));
    let roles: Vec<&Value> = items.iter().filter(|i| i["kind"] == "ClusterRole").collect();
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0]["metadata"]["name"], EXECUTOR_SCC_ROLE);
    assert_eq!(
        roles[0]["rules"],
        json!([{"apiGroups": ["security.openshift.io"], "resources": ["securitycontextconstraints"],
                "resourceNames": [EXECUTOR_SCC], "verbs": ["use"]}])
    );

    // On OpenShift the operator binds that role to the executors' ServiceAccount and nothing
    // else; only the executors run as that account, and only they are privileged.
    let objects = render(true);
    let bindings: Vec<&Value> =
        objects.iter().filter(|o| o["kind"] == "RoleBinding" || o["kind"] == "ClusterRoleBinding").collect();
    let scc_bindings: Vec<&&Value> = bindings.iter().filter(|b| b["roleRef"]["name"] == EXECUTOR_SCC_ROLE).collect();
    assert_eq!(scc_bindings.len(), 1);
    assert_eq!(scc_bindings[0]["kind"], "RoleBinding");
    assert_eq!(
        scc_bindings[0]["subjects"],
        json!([{"kind": "ServiceAccount", "name": "zuul-executor", "namespace": "ns"}])
    );
    for (name, pod) in pods(&objects) {
        let executor = name == "StatefulSet zuul-executor";
        assert_eq!(pod["serviceAccountName"] == "zuul-executor", executor, "{name}");
        let privileged =
            pod["containers"].as_array().into_iter().flatten().any(|c| c["securityContext"]["privileged"] == true);
        assert_eq!(privileged, executor, "{name}");
    }
    assert!(objects.iter().any(|o| o["kind"] == "ServiceAccount" && o["metadata"]["name"] == "zuul-executor"));
}

#[test]
fn a_zookeeper_image_of_its_own_runs_as_its_own_user() {
    let names = Names::new("zuul", "ns");
    let material = crate::operator::tls::ensure(Default::default(), &names.zookeeper_service_names()).expect("tls");
    let spec = crate::operator::crd::ZookeeperSpec {
        image: Some("localhost/kubepool-zookeeper:3.8".into()),
        ..Default::default()
    };
    for openshift in [false, true] {
        let objects = crate::operator::zookeeper::objects(&names, Some(&spec), &material, "policy/v1", &[], openshift);
        let set = objects.iter().find(|o| o["kind"] == "StatefulSet").expect("StatefulSet");
        let context = &set["spec"]["template"]["spec"]["securityContext"];
        assert_eq!(context.get("runAsUser"), None);
        assert_eq!(context.get("fsGroup").is_some(), !openshift);
    }
}

#[test]
fn off_openshift_only_the_zookeeper_fs_group_and_the_binding_differ() {
    let openshift = render(true);
    let kubernetes = render(false);
    assert!(!kubernetes.iter().any(|o| o["kind"] == "RoleBinding" || o["kind"] == "Route"));
    // With the Route API served, zuul-web's status_url gives it a Route.
    let route = openshift.iter().find(|o| o["kind"] == "Route").expect("a Route");
    assert_eq!(route["spec"]["host"], "zuul.example.org");
    let kubernetes_pods = pods(&kubernetes);
    for (name, pod) in pods(&openshift) {
        let (_, other) = kubernetes_pods.iter().find(|(n, _)| *n == name).expect("same pods");
        let mut other = other.clone();
        if name == "StatefulSet zuul-zookeeper" {
            // The data volume's group where no SCC assigns one, and the default image's user
            // (that image has no USER).
            assert_eq!(other["securityContext"]["fsGroup"], 1000);
            assert_eq!(other["securityContext"]["runAsUser"], 1000);
            let context = other["securityContext"].as_object_mut().expect("a context");
            context.remove("fsGroup");
            context.remove("runAsUser");
        }
        assert_eq!(pod, other, "{name}");
    }
}

fn render_spec(patch: Value) -> Vec<Value> {
    let (mut zuul, read) = zuul();
    let mut spec = serde_json::to_value(&zuul.spec).expect("JSON");
    if let (Some(spec), Value::Object(patch)) = (spec.as_object_mut(), patch) {
        spec.extend(patch);
    }
    zuul.spec = serde_json::from_value(spec).expect("a spec");
    let settings = Settings {
        kubepool_image: "kubepool:test".into(),
        pdb_api: "policy/v1".into(),
        openshift: false,
        routes: false,
    };
    build(&zuul, &Names::new("zuul", "ns"), &read, &settings).expect("built").objects
}

fn deployments(objects: &[Value]) -> Vec<&str> {
    objects.iter().filter(|o| o["kind"] == "Deployment").filter_map(|o| o["metadata"]["name"].as_str()).collect()
}

fn zuul_conf(objects: &[Value]) -> String {
    use base64::Engine as _;
    let secret = objects.iter().find(|o| o["metadata"]["name"] == "zuul-zuul-config").expect("zuul.conf");
    let data = secret["data"]["zuul.conf"].as_str().expect("data");
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data).expect("base64")).expect("UTF-8")
}

#[test]
fn launcher_type_both_adds_a_zuul_launcher_beside_the_kubepool_launchers() {
    let kubepool = render_spec(json!({"launcher": {"config": "nodepool"}}));
    assert_eq!(deployments(&kubepool), ["zuul-web", "zuul-fingergw", "zuul-launcher-local", "zuul-launcher-remote"]);
    assert!(!zuul_conf(&kubepool).contains("[launcher]"));

    let both = render_spec(json!({"launcher": {"config": "nodepool", "type": "both",
        "zuulLauncher": {"options": {"temp_dir": "/var/lib/zuul/tmp"}}}}));
    assert_eq!(
        deployments(&both),
        ["zuul-web", "zuul-fingergw", "zuul-zuul-launcher", "zuul-launcher-local", "zuul-launcher-remote"]
    );
    let conf = zuul_conf(&both);
    assert!(conf.contains("\n[launcher]\nlog_config=/etc/zuul/logging/logging.conf\nprometheus_port=9091\ntemp_dir=/var/lib/zuul/tmp\n"), "{conf}");
    let launcher = both.iter().find(|o| o["metadata"]["name"] == "zuul-zuul-launcher").expect("zuul-launcher");
    assert_eq!(launcher["metadata"]["labels"]["app.kubernetes.io/component"], "zuul-launcher");
    assert_eq!(launcher["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"], "zuul-launcher");
    let pod = &launcher["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    // Zuul's image and command, zuul.conf and the ZooKeeper client certificate as every component,
    // the connections' files (it loads the connections), the same probes.
    assert_eq!(container["image"], "quay.io/zuul-ci/zuul-launcher:latest");
    assert_eq!(container["command"], json!(["zuul-launcher", "-f"]));
    let mounts: Vec<&str> =
        container["volumeMounts"].as_array().expect("mounts").iter().filter_map(|m| m["mountPath"].as_str()).collect();
    for path in ["/etc/zuul/zuul.conf", "/tls/client", "/etc/zuul/connections/gerrit/sshkey"] {
        assert!(mounts.contains(&path), "{path} not in {mounts:?}");
    }
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/health/ready");
    assert_eq!(restricted_violations(pod), Vec::<String>::new());

    let image = render_spec(json!({"launcher": {"type": "both", "zuulLauncher": {"image": "localhost/zuul:14.3.0"}}}));
    let launcher = image.iter().find(|o| o["metadata"]["name"] == "zuul-zuul-launcher").expect("zuul-launcher");
    assert_eq!(launcher["spec"]["template"]["spec"]["containers"][0]["image"], "localhost/zuul:14.3.0");

    // zuul-launcher alone: no kubepool launcher (nor its ServiceAccount) even with a config.
    let zuul_only = render_spec(json!({"launcher": {"config": "nodepool", "type": "zuul-launcher"}}));
    assert_eq!(deployments(&zuul_only), ["zuul-web", "zuul-fingergw", "zuul-zuul-launcher"]);
    assert!(!zuul_only.iter().any(|o| o["metadata"]["name"] == "zuul-launcher"));
}
