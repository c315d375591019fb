//! The managed ZooKeeper: TLS Secrets, zoo.cfg, Services, StatefulSet and PodDisruptionBudget.
//!
//! TLS-only (client port 2281, `ssl.clientAuth=need`, quorum TLS), the certificates from
//! [`super::tls`]. With one replica it runs standalone.

use super::crd::ZookeeperSpec;
use super::names::Names;
use super::objects::{hash, object, restricted_container_context, restricted_pod_context, secret};
use super::tls::Material;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The secure client port.
pub const CLIENT_PORT: i32 = 2281;
/// The default image (upstream's).
pub const DEFAULT_IMAGE: &str = "docker.io/library/zookeeper:3.8.4";
const COMPONENT: &str = "zookeeper";
/// The group that owns the data volume off OpenShift.
pub const FS_GROUP: i64 = 1000;
/// The user `zookeeper` of [`DEFAULT_IMAGE`], which has no `USER` (its entrypoint switches to
/// it, and the operator's command bypasses the entrypoint): off OpenShift that image runs as
/// this uid, or `runAsNonRoot` would refuse it. Other images run as their own `USER`.
pub const DEFAULT_IMAGE_UID: i64 = 1000;

/// Replicas of a managed ZooKeeper.
pub fn replicas(spec: Option<&ZookeeperSpec>) -> i32 {
    spec.and_then(|z| z.replicas).unwrap_or(3).max(1)
}

/// `host:port` of the managed ZooKeeper's client Service.
pub fn hosts(names: &Names) -> String {
    format!("{}.{}.svc:{CLIENT_PORT}", names.child("zookeeper"), names.namespace)
}

/// The Secrets holding the TLS material: the CA (read by the operator only), the server's and
/// the client's (mounted into every Zuul and kubepool pod).
pub fn tls_secrets(names: &Names, material: &Material) -> Vec<Value> {
    let ca = BTreeMap::from([
        ("ca.crt".to_string(), material.ca.cert.clone()),
        ("ca.key".to_string(), material.ca.key.clone()),
    ]);
    let server = BTreeMap::from([
        ("ca.crt".to_string(), material.server.ca_cert.clone()),
        ("tls.crt".to_string(), material.server.pair.cert.clone()),
        ("tls.key".to_string(), material.server.pair.key.clone()),
        ("server.pem".to_string(), format!("{}{}", material.server.pair.cert, material.server.pair.key)),
        ("names".to_string(), material.server.names.clone()),
    ]);
    let client = BTreeMap::from([
        ("ca.crt".to_string(), material.client.ca_cert.clone()),
        ("tls.crt".to_string(), material.client.pair.cert.clone()),
        ("tls.key".to_string(), material.client.pair.key.clone()),
    ]);
    vec![
        secret(names, &names.child("zookeeper-ca"), COMPONENT, &ca),
        secret(names, &names.child("zookeeper-server-tls"), COMPONENT, &server),
        secret(names, &names.child("zookeeper-client-tls"), COMPONENT, &client),
    ]
}

fn zoo_cfg(names: &Names, replicas: i32) -> String {
    let mut cfg = String::from(
        "dataDir=/data\ntickTime=2000\ninitLimit=10\nsyncLimit=5\n\
         secureClientPort=2281\n\
         serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
         ssl.keyStore.location=/tls/server/server.pem\nssl.keyStore.type=PEM\n\
         ssl.trustStore.location=/tls/server/ca.crt\nssl.trustStore.type=PEM\n\
         ssl.clientAuth=need\n\
         sslQuorum=true\n\
         ssl.quorum.keyStore.location=/tls/server/server.pem\nssl.quorum.keyStore.type=PEM\n\
         ssl.quorum.trustStore.location=/tls/server/ca.crt\nssl.quorum.trustStore.type=PEM\n\
         admin.enableServer=false\n4lw.commands.whitelist=ruok,srvr,mntr\nmaxClientCnxns=0\n",
    );
    if replicas > 1 {
        let set = names.child("zookeeper");
        let headless = names.child("zookeeper-headless");
        for i in 0..replicas {
            cfg.push_str(&format!("server.{}={set}-{i}.{headless}.{}.svc:2888:3888\n", i + 1, names.namespace));
        }
    } else {
        cfg.push_str("standaloneEnabled=true\n");
    }
    cfg
}

/// The workload objects (the TLS Secrets come from [`tls_secrets`]); `pdb_api` is the served
/// PodDisruptionBudget version (`policy/v1`, or `policy/v1beta1` before Kubernetes 1.21);
/// `pull_secrets` the pods' `imagePullSecrets` (the Zuul's, as every other pod of it has).
/// `openshift`: the `security.openshift.io` API is served, so the SCC gives the pods the
/// namespace's `fsGroup` (a fixed one would be refused); elsewhere the pods get `fsGroup`
/// [`FS_GROUP`], or the data volume would be root's (and [`DEFAULT_IMAGE`] the uid
/// [`DEFAULT_IMAGE_UID`]).
pub fn objects(
    names: &Names,
    spec: Option<&ZookeeperSpec>,
    material: &Material,
    pdb_api: &str,
    pull_secrets: &[Value],
    openshift: bool,
) -> Vec<Value> {
    let replicas = replicas(spec);
    let set = names.child("zookeeper");
    let headless = names.child("zookeeper-headless");
    let cfg = zoo_cfg(names, replicas);
    let config_name = names.child("zookeeper-config");
    let selector = names.selector_labels(COMPONENT);
    let image = spec.and_then(|z| z.image.clone()).unwrap_or_else(|| DEFAULT_IMAGE.to_string());
    let size = spec.and_then(|z| z.storage_size.clone()).unwrap_or_else(|| "1Gi".to_string());
    let mut claim_spec = json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}});
    if let Some(class) = spec.and_then(|z| z.storage_class_name.clone()) {
        claim_spec["storageClassName"] = json!(class);
    }
    let config_hash = hash([cfg.as_str(), &material.server.pair.cert, &material.server.ca_cert]);
    let ports = json!([
        {"name": "client", "port": CLIENT_PORT, "targetPort": "client"},
        {"name": "quorum", "port": 2888, "targetPort": "quorum"},
        {"name": "election", "port": 3888, "targetPort": "election"},
    ]);
    let mut pod_security = restricted_pod_context();
    if !openshift {
        pod_security["fsGroup"] = json!(FS_GROUP);
        if image == DEFAULT_IMAGE {
            pod_security["runAsUser"] = json!(DEFAULT_IMAGE_UID);
        }
    }
    let start = "echo $(( ${HOSTNAME##*-} + 1 )) > /data/myid && exec zkServer.sh start-foreground /conf/zoo.cfg";
    vec![
        object(names, "v1", "ConfigMap", &config_name, COMPONENT, json!({"data": {"zoo.cfg": cfg}})),
        object(names, "v1", "Service", &set, COMPONENT, json!({"spec": {"selector": selector, "ports": ports}})),
        object(
            names,
            "v1",
            "Service",
            &headless,
            COMPONENT,
            json!({"spec": {"clusterIP": "None", "publishNotReadyAddresses": true, "selector": selector, "ports": ports}}),
        ),
        object(
            names,
            "apps/v1",
            "StatefulSet",
            &set,
            COMPONENT,
            json!({"spec": {
                "replicas": replicas,
                "serviceName": headless,
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": names.labels(COMPONENT), "annotations": {super::names::CONFIG_HASH: config_hash}},
                    "spec": {
                        "automountServiceAccountToken": false,
                        "imagePullSecrets": pull_secrets,
                        "securityContext": pod_security,
                        "containers": [{
                            "name": "zookeeper",
                            "image": image,
                            "command": ["/bin/sh", "-c", start],
                            "env": [{"name": "JVMFLAGS", "value": "-Xmx512m -Djava.net.preferIPv4Stack=true"}],
                            "ports": [
                                {"name": "client", "containerPort": CLIENT_PORT},
                                {"name": "quorum", "containerPort": 2888},
                                {"name": "election", "containerPort": 3888},
                            ],
                            "readinessProbe": {"tcpSocket": {"port": "client"}, "periodSeconds": 10},
                            "livenessProbe": {"tcpSocket": {"port": "client"}, "initialDelaySeconds": 30, "periodSeconds": 20},
                            "volumeMounts": [
                                {"name": "data", "mountPath": "/data"},
                                {"name": "config", "mountPath": "/conf"},
                                {"name": "tls", "mountPath": "/tls/server", "readOnly": true},
                            ],
                            "securityContext": restricted_container_context(),
                        }],
                        "volumes": [
                            {"name": "config", "configMap": {"name": config_name}},
                            {"name": "tls", "secret": {"secretName": names.child("zookeeper-server-tls")}},
                        ],
                    },
                },
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim_spec}],
            }}),
        ),
        object(
            names,
            pdb_api,
            "PodDisruptionBudget",
            &set,
            COMPONENT,
            json!({"spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}}}),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::tls::{Existing, ensure};

    #[test]
    fn the_statefulset_pods_get_the_zuuls_pull_secrets() {
        let names = Names::new("z", "ns");
        let material = ensure(Existing::default(), &names.zookeeper_service_names()).expect("material");
        let pull = vec![json!({"name": "registry"})];
        let objects = objects(&names, None, &material, "policy/v1", &pull, false);
        let set = objects.iter().find(|o| o["kind"] == "StatefulSet").expect("StatefulSet");
        assert_eq!(set["spec"]["template"]["spec"]["imagePullSecrets"], json!([{"name": "registry"}]));
    }
}
