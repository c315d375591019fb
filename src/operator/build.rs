//! Desired state: everything one `Zuul` should have, from its spec and what was read. No client.

use super::components::{self, FileRef};
use super::crd::{LauncherSpec, Zuul};
use super::drain::{ZooKeeperAccess, draining_shard, shard_provider};
use super::inputs::Read;
use super::launchers::{self, Shard, ShardError};
use super::names::Names;
use super::objects::{pull_secrets, secret};
use super::tls::{self, TlsError};
use super::zookeeper;
use super::zuulconf::{self, ConfError};
use serde_json::Value;
use std::collections::BTreeMap;

/// Operator-wide settings the build needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The kubepool image launchers run when the spec names none.
    pub kubepool_image: String,
    /// The served PodDisruptionBudget `apiVersion`.
    pub pdb_api: String,
    /// OpenShift: the `security.openshift.io` API (SecurityContextConstraints) is served.
    pub openshift: bool,
    /// The `route.openshift.io/v1` API (Routes) is served: zuul-web gets a Route.
    pub routes: bool,
}

/// A spec that reads fine but cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Conf(#[from] ConfError),
    #[error("spec.launcher.config: {0}")]
    Shard(#[from] ShardError),
    #[error("{0}")]
    Tls(#[from] TlsError),
}

/// What one Zuul should have.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Namespaced children (owned by the Zuul).
    pub objects: Vec<Value>,
    /// Cluster-scoped children (labelled with the Zuul's namespace, name and uid).
    pub cluster: Vec<Value>,
    pub shards: Vec<Shard>,
    /// Launchers of providers no longer in the config, running a draining shard.
    pub draining: Vec<Shard>,
    /// The Zuul's ZooKeeper, as the launchers reach it.
    pub zookeeper: ZooKeeperAccess,
}

fn keystore_password(read: &Read) -> String {
    read.keystore_password
        .clone()
        .unwrap_or_else(|| format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()))
}

/// Builds the desired state.
pub fn build(zuul: &Zuul, names: &Names, read: &Read, settings: &Settings) -> Result<Desired, BuildError> {
    let spec = &zuul.spec;
    let mut objects = Vec::new();
    // Being deleted (the finalizer holds it): the Zuul components stop and every launcher drains.
    let deleting = zuul.metadata.deletion_timestamp.is_some();

    let (zookeeper_hosts, client_cert, zookeeper) = match &read.external_zookeeper {
        Some((hosts, data)) => {
            objects.push(secret(names, &names.child("zookeeper-client-tls"), "zookeeper", data));
            let get = |key: &str| data.get(key).cloned().unwrap_or_default();
            let access =
                ZooKeeperAccess { hosts: hosts.clone(), ca: get("ca.crt"), cert: get("tls.crt"), key: get("tls.key") };
            (hosts.clone(), get("tls.crt"), access)
        }
        None => {
            let replicas = zookeeper::replicas(spec.zookeeper.as_ref());
            let mut server_names = names.zookeeper_service_names();
            server_names.extend(names.zookeeper_pod_names(replicas));
            let material = tls::ensure(read.tls.clone(), &server_names)?;
            objects.extend(zookeeper::tls_secrets(names, &material));
            objects.extend(zookeeper::objects(
                names,
                spec.zookeeper.as_ref(),
                &material,
                &settings.pdb_api,
                &pull_secrets(spec),
                settings.openshift,
            ));
            let access = ZooKeeperAccess {
                hosts: zookeeper::hosts(names),
                ca: material.client.ca_cert.clone(),
                cert: material.client.pair.cert.clone(),
                key: material.client.pair.key.clone(),
            };
            (zookeeper::hosts(names), material.client.pair.cert.clone(), access)
        }
    };

    let password = keystore_password(read);
    objects.push(secret(
        names,
        &names.child("keystore"),
        "zuul",
        &BTreeMap::from([("password".to_string(), password.clone())]),
    ));

    let conf = zuulconf::render(
        spec,
        &zuulconf::Inputs {
            zookeeper_hosts: zookeeper_hosts.clone(),
            dburi: read.dburi.clone(),
            keystore_password: password,
            secrets: &read.secrets,
            logging_key: read.logging.as_ref().map(|l| l.key.clone()),
            tenant_config: read.tenant.is_some(),
        },
    )?;
    objects.extend(
        components::objects(&components::Inputs {
            names,
            spec,
            conf: &conf,
            secrets: &read.secrets,
            tenant: read.tenant.as_ref(),
            logging: read.logging.as_ref(),
            sshkey: read.sshkey.as_ref(),
            zk_client_cert: &client_cert,
        })
        .into_iter()
        .filter(|object| !(deleting && super::cleanup::stopped_first(object))),
    );

    let executors = spec.executor.as_ref().and_then(|e| e.count).unwrap_or(1);
    if settings.openshift && executors > 0 {
        objects.push(super::scc::executor_binding(names));
    }

    if settings.routes
        && let Some(route) = super::route::web_route(names, spec)
    {
        objects.push(route);
    }

    // `launcher.type: zuul-launcher`, or the Zuul being deleted: no kubepool launcher (running
    // ones drain, as for a removed provider).
    let shards = match &read.nodepool {
        Some((source, text)) if LauncherSpec::runs_kubepool(spec.launcher.as_ref()) && !deleting => {
            launchers::shard(source, text, &zookeeper_hosts)?
        }
        _ => Vec::new(),
    };
    let draining: Vec<Shard> = read
        .existing_shards
        .iter()
        .filter(|(key, _)| !shards.iter().any(|s| &s.key == key))
        .filter_map(|(key, text)| {
            Some(Shard { provider: shard_provider(text)?, key: key.clone(), text: draining_shard(text)? })
        })
        .collect();
    let all: Vec<Shard> = shards.iter().chain(&draining).cloned().collect();
    let external: BTreeMap<String, FileRef> = read.external.clone();
    objects.extend(launchers::objects(&launchers::Inputs {
        names,
        spec,
        shards: &all,
        default_image: &settings.kubepool_image,
        external: &external,
        zk_client_cert: &client_cert,
    }));
    let mut cluster = Vec::new();
    if all.iter().any(|shard| launchers::in_cluster(&shard.text)) {
        let uid = zuul.metadata.uid.clone().unwrap_or_default();
        cluster.push(launchers::cluster_role_binding(names, &uid));
    }
    Ok(Desired { objects, cluster, shards, draining, zookeeper })
}
