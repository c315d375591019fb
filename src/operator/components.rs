//! The Zuul components: scheduler, executor and merger as StatefulSets, web and fingergw as
//! Deployments, their Services, and the zuul.conf Secret they mount.
//!
//! Each pod template carries a hash of what that pod mounts (zuul.conf, the connection files,
//! the ZooKeeper client certificate, the logging config, the SSH key), so a change rolls exactly
//! the pods that read it. The tenant config is not in the hash: the scheduler reloads it.

use super::crd::{ComponentOptions, LauncherSpec, ZuulSpec};
use super::names::{CONFIG_HASH, Names};
use super::objects::{
    hash, http_probe, object, pull_secrets, restricted_container_context, restricted_pod_context, secret,
};
use super::reconfigure::{TENANT_HASH, tenant_hash};
use super::zuulconf::{
    CONF_DIR, FINGER_PORT, LOGGING_DIR, PROMETHEUS_PORT, Rendered, SSHKEY_DIR, SecretData, TENANT_DIR, WEB_PORT,
    ZK_TLS_DIR,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Default registry and organisation of the Zuul images (upstream's).
pub const DEFAULT_IMAGE_PREFIX: &str = "quay.io/zuul-ci";
/// Default tag of the Zuul images (upstream's).
pub const DEFAULT_IMAGE_VERSION: &str = "latest";

/// A file taken from a ConfigMap or a Secret key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// `true`: a Secret; `false`: a ConfigMap.
    pub secret: bool,
    pub name: String,
    pub key: String,
    /// The content (hashed into the pods that mount it, where a change must roll them).
    pub content: String,
}

/// What the components are built from: the spec and what the operator read and rendered.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub names: &'a Names,
    pub spec: &'a ZuulSpec,
    pub conf: &'a Rendered,
    pub secrets: &'a SecretData,
    pub tenant: Option<&'a FileRef>,
    pub logging: Option<&'a FileRef>,
    /// The executor's SSH key (Secret `executor.sshkey.secretName`, key `sshkey`).
    pub sshkey: Option<&'a FileRef>,
    /// The ZooKeeper client certificate (a renewal rolls everything).
    pub zk_client_cert: &'a str,
}

struct Component<'a> {
    /// The workload's name suffix and component label.
    name: &'static str,
    /// Zuul's program: `zuul-<program>`, image `zuul-<program>`.
    program: &'static str,
    /// The zuul.conf sections it reads (connections per `connections`): a change elsewhere does
    /// not roll its pods.
    sections: &'static [&'static str],
    stateful: bool,
    replicas: i32,
    options: Option<&'a ComponentOptions>,
    ports: Vec<(&'static str, i32)>,
    connections: bool,
}

/// Mode of the files of mounted Secrets: root-owned, readable by the owner and group 0 only.
/// Zuul's images run as a non-root user in group 0 (upstream's uid 10001, OpenShift's arbitrary
/// uids), so 0400 (owner only) would be unreadable to Zuul; ssh-add accepts a key readable by its
/// group when the key's owner is not the user.
pub const SECRET_MODE: i32 = 0o440;

fn volume_source(file: &FileRef, path: &str) -> Value {
    let items = json!([{"key": file.key, "path": path}]);
    if file.secret {
        json!({"secret": {"secretName": file.name, "items": items, "defaultMode": SECRET_MODE}})
    } else {
        json!({"configMap": {"name": file.name, "items": items}})
    }
}

fn merge(target: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) {
        target.extend(extra);
    }
}

impl Inputs<'_> {
    fn image(&self, component: &str, options: Option<&ComponentOptions>) -> String {
        if let Some(image) = options.and_then(|o| o.image.clone()) {
            return image;
        }
        let prefix = self.spec.image_prefix.as_deref().unwrap_or(DEFAULT_IMAGE_PREFIX);
        let version = self.spec.zuul_image_version.as_deref().unwrap_or(DEFAULT_IMAGE_VERSION);
        format!("{prefix}/zuul-{component}:{version}")
    }

    fn debug(&self) -> bool {
        self.logging.is_none() && self.spec.logging.as_ref().and_then(|l| l.debug).unwrap_or(false)
    }

    fn pod(&self, c: &Component<'_>) -> (Value, String) {
        let conf_name = self.names.child("zuul-config");
        let mut volumes = vec![
            json!({"name": "zuul-config", "secret": {"secretName": conf_name, "defaultMode": SECRET_MODE}}),
            json!({"name": "zookeeper-tls", "secret": {"secretName": self.names.child("zookeeper-client-tls")}}),
            json!({"name": "state", "emptyDir": {}}),
        ];
        let mut mounts = vec![
            json!({"name": "zuul-config", "mountPath": format!("{CONF_DIR}/zuul.conf"), "subPath": "zuul.conf", "readOnly": true}),
            json!({"name": "zookeeper-tls", "mountPath": ZK_TLS_DIR, "readOnly": true}),
            json!({"name": "state", "mountPath": "/var/lib/zuul"}),
        ];
        let conf = self.conf.sections_text(c.sections, c.connections);
        let mut hashed: Vec<String> = vec![conf, self.zk_client_cert.to_string()];
        if let Some(logging) = self.logging {
            volumes.push(json!({"name": "logging"}));
            merge(volumes.last_mut().expect("pushed"), volume_source(logging, &logging.key));
            mounts.push(json!({"name": "logging", "mountPath": LOGGING_DIR, "readOnly": true}));
            hashed.push(logging.content.clone());
        }
        if c.connections {
            for (i, file) in self.conf.files.iter().enumerate() {
                let name = format!("connection-{i}");
                volumes.push(json!({"name": name, "secret": {
                    "secretName": file.secret, "items": [{"key": file.key, "path": "file"}], "defaultMode": SECRET_MODE}}));
                mounts.push(json!({"name": name, "mountPath": file.path, "subPath": "file", "readOnly": true}));
                let content =
                    self.secrets.get(&file.secret).and_then(|d| d.get(&file.key)).cloned().unwrap_or_default();
                hashed.push(content);
            }
        }
        if c.name == "scheduler"
            && let Some(tenant) = self.tenant
        {
            volumes.push(json!({"name": "tenant"}));
            merge(volumes.last_mut().expect("pushed"), volume_source(tenant, "main.yaml"));
            mounts.push(json!({"name": "tenant", "mountPath": TENANT_DIR, "readOnly": true}));
        }
        let mut env: Vec<Value> = self.spec.env.iter().flatten().filter_map(|e| serde_json::to_value(e).ok()).collect();
        let mut security = restricted_container_context();
        let mut pod_security = restricted_pod_context();
        let mut account = None;
        let mut grace = 30;
        if c.name == "executor" {
            let executor = self.spec.executor.as_ref();
            if let Some(key) = self.sshkey {
                volumes.push(json!({"name": "sshkey"}));
                merge(volumes.last_mut().expect("pushed"), volume_source(key, "sshkey"));
                mounts.push(json!({"name": "sshkey", "mountPath": SSHKEY_DIR, "readOnly": true}));
                hashed.push(key.content.clone());
            }
            for (i, job_volume) in self.spec.job_volumes.iter().flatten().enumerate() {
                let name = format!("job-volume-{i}");
                let mut volume = serde_json::to_value(&job_volume.volume).unwrap_or_default();
                volume["name"] = json!(name);
                volumes.push(volume);
                mounts.push(json!({"name": name, "mountPath": job_volume.path}));
            }
            env.push(json!({"name": "ZUUL_EXECUTOR_SIGTERM_GRACEFUL", "value": "1"}));
            // bubblewrap needs an unmasked /proc and no seccomp filter.
            // The one privileged pod: its own ServiceAccount, so that on OpenShift the SCC that
            // allows this is granted to the executors only (deploy/operator/openshift-scc.yaml).
            security = json!({"privileged": true});
            pod_security = json!({});
            account = Some(self.names.child("executor"));
            grace = executor.and_then(|e| e.termination_grace_period_seconds).unwrap_or(21_600);
        }
        let mut command = vec![format!("zuul-{}", c.program), "-f".to_string()];
        if self.debug() {
            command.push("-d".to_string());
        }
        let mut ports = vec![json!({"name": "prometheus", "containerPort": PROMETHEUS_PORT})];
        ports.extend(c.ports.iter().map(|(name, port)| json!({"name": name, "containerPort": port})));
        let mut container = json!({
            "name": c.name,
            "image": self.image(c.program, c.options),
            "command": command,
            "env": env,
            "ports": ports,
            "readinessProbe": http_probe("/health/ready", "prometheus", 5),
            "livenessProbe": http_probe("/health/live", "prometheus", 120),
            "volumeMounts": mounts,
            "securityContext": security,
        });
        if let Some(resources) = c.options.and_then(|o| o.resources.as_ref()) {
            container["resources"] = serde_json::to_value(resources).unwrap_or_default();
        }
        let pull_secrets = pull_secrets(self.spec);
        let config_hash = hash(hashed.iter().map(String::as_str));
        let mut template = json!({
            "metadata": {"labels": self.names.labels(c.name), "annotations": {CONFIG_HASH: config_hash}},
            "spec": {
                "automountServiceAccountToken": false,
                "terminationGracePeriodSeconds": grace,
                "securityContext": pod_security,
                "imagePullSecrets": pull_secrets,
                "containers": [container],
                "volumes": volumes,
            },
        });
        if let Some(account) = account {
            template["spec"]["serviceAccountName"] = json!(account);
        }
        (template, config_hash)
    }

    fn workload(&self, c: &Component<'_>) -> Vec<Value> {
        let name = self.names.child(c.name);
        let selector = self.names.selector_labels(c.name);
        let (template, _) = self.pod(c);
        let mut spec = json!({"replicas": c.replicas, "selector": {"matchLabels": selector}, "template": template});
        let mut service_ports: Vec<Value> = c
            .ports
            .iter()
            .map(|(port_name, port)| json!({"name": port_name, "port": port, "targetPort": port_name}))
            .collect();
        let mut objects = Vec::new();
        let kind = if c.stateful {
            spec["serviceName"] = json!(name);
            spec["podManagementPolicy"] = json!("Parallel");
            service_ports.push(json!({"name": "prometheus", "port": PROMETHEUS_PORT, "targetPort": "prometheus"}));
            objects.push(object(
                self.names,
                "v1",
                "Service",
                &name,
                c.name,
                json!({"spec": {"clusterIP": "None", "selector": selector, "ports": service_ports}}),
            ));
            "StatefulSet"
        } else {
            if !service_ports.is_empty() {
                objects.push(object(
                    self.names,
                    "v1",
                    "Service",
                    &name,
                    c.name,
                    json!({"spec": {"selector": selector, "ports": service_ports}}),
                ));
            }
            "Deployment"
        };
        let mut workload = object(self.names, "apps/v1", kind, &name, c.name, json!({"spec": spec}));
        if c.name == "scheduler"
            && let Some(tenant) = self.tenant
        {
            workload["metadata"]["annotations"] = json!({TENANT_HASH: tenant_hash(&tenant.content)});
        }
        objects.push(workload);
        objects
    }
}

/// The zuul.conf Secret.
pub fn config_secret(names: &Names, conf: &Rendered) -> Value {
    secret(names, &names.child("zuul-config"), "zuul", &BTreeMap::from([("zuul.conf".to_string(), conf.text.clone())]))
}

/// The executors' own ServiceAccount (no token mounted): what OpenShift's SCC for bubblewrap is
/// granted to, so no other pod of the namespace may run privileged.
pub fn executor_account(names: &Names) -> Value {
    object(
        names,
        "v1",
        "ServiceAccount",
        &names.child("executor"),
        "executor",
        json!({"automountServiceAccountToken": false}),
    )
}

/// Every component's objects. A component with no replicas (a merger by default) has none.
pub fn objects(inputs: &Inputs<'_>) -> Vec<Value> {
    let spec = inputs.spec;
    let count = |c: Option<i32>, default: i32| c.unwrap_or(default).max(0);
    let components = [
        Component {
            name: "scheduler",
            program: "scheduler",
            sections: &["zookeeper", "keystore", "database", "scheduler", "web"],
            stateful: true,
            replicas: count(spec.scheduler.as_ref().and_then(|s| s.count), 1),
            options: spec.scheduler.as_ref().map(|s| &s.component),
            ports: vec![],
            connections: true,
        },
        Component {
            name: "executor",
            program: "executor",
            sections: &["zookeeper", "keystore", "executor", "merger"],
            stateful: true,
            replicas: count(spec.executor.as_ref().and_then(|s| s.count), 1),
            options: spec.executor.as_ref().map(|s| &s.component),
            ports: vec![("logs", 7900)],
            connections: true,
        },
        Component {
            name: "merger",
            program: "merger",
            sections: &["zookeeper", "keystore", "merger"],
            stateful: true,
            replicas: count(spec.merger.as_ref().and_then(|s| s.count), 0),
            options: spec.merger.as_ref().map(|s| &s.component),
            ports: vec![],
            connections: true,
        },
        Component {
            name: "web",
            program: "web",
            sections: &["zookeeper", "keystore", "database", "web"],
            stateful: false,
            replicas: count(spec.web.as_ref().and_then(|s| s.count), 1),
            options: spec.web.as_ref().map(|s| &s.component),
            ports: vec![("web", WEB_PORT)],
            connections: true,
        },
        Component {
            name: "fingergw",
            program: "fingergw",
            sections: &["zookeeper", "keystore", "fingergw"],
            stateful: false,
            replicas: count(spec.fingergw.as_ref().and_then(|s| s.count), 1),
            options: spec.fingergw.as_ref().map(|s| &s.component),
            ports: vec![("finger", FINGER_PORT)],
            connections: false,
        },
        Component {
            // Not "launcher": that is the kubepool launchers' component label.
            name: "zuul-launcher",
            program: "launcher",
            sections: &["zookeeper", "keystore", "launcher"],
            stateful: false,
            replicas: i32::from(LauncherSpec::runs_zuul_launcher(spec.launcher.as_ref())),
            options: spec.launcher.as_ref().and_then(|l| l.zuul_launcher.as_ref()),
            ports: vec![],
            connections: true,
        },
    ];
    let mut objects = vec![config_secret(inputs.names, inputs.conf)];
    for component in components.iter().filter(|c| c.replicas > 0) {
        if component.name == "executor" {
            objects.push(executor_account(inputs.names));
        }
        objects.extend(inputs.workload(component));
    }
    objects
}
