//! The managed database: a `Zuul` without `spec.database.secretName` gets a MySQL-compatible
//! database through the Percona XtraDB Cluster operator's CRD (the operator itself is a
//! prerequisite, never installed from here).
//!
//! One pass: is `perconaxtradbclusters.pxc.percona.com` served (else the Zuul is Degraded,
//! naming the operator to install) → server-side apply the `PerconaXtraDBCluster` (owned by the
//! Zuul) → wait for its own status: `state == ready`, `ready == size`, at the current
//! `observedGeneration`, with a `host` → the Secret `spec.secretsName` has key `root` → a Job
//! running the database image's `mysql` client creates the `zuul` database and user at
//! `status.host`:3306 (the root password reaches it by `secretKeyRef`, so the operator never reads
//! it) → the Secret `<zuul>-database` holds `password` and the `dburi` Zuul uses, the same key the
//! `spec.database` override names.
//!
//! Pinned to Percona XtraDB Cluster operator **1.19.0** (`crVersion`); since 1.15 a small cluster
//! is allowed by `unsafeFlags` (this module never writes the removed `allowUnsafeConfigurations`).

use super::apply::{self, ApplyError};
use super::crd::{DatabaseSpec, Zuul};
use super::names::Names;
use super::objects::{object, restricted_container_context, restricted_pod_context, secret};
use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The CRD the managed database needs.
pub const PXC_CRD: &str = "perconaxtradbclusters.pxc.percona.com";
/// Its served version.
pub const PXC_API_VERSION: &str = "pxc.percona.com/v1";
/// The Percona operator version the CR is written for (`spec.crVersion`).
pub const PXC_CR_VERSION: &str = "1.19.0";
/// That version's images (its `deploy/cr.yaml`).
pub const DEFAULT_PXC_IMAGE: &str = "percona/percona-xtradb-cluster:8.4.7-7.1";
const HAPROXY_IMAGE: &str = "percona/haproxy:2.8.17";
const LOGCOLLECTOR_IMAGE: &str = "percona/fluentbit:4.0.1-1";
const PROXYSQL_IMAGE: &str = "percona/proxysql2:2.7.3-1.2";
const PMM_IMAGE: &str = "percona/pmm-client:3.5.0";
const BACKUP_IMAGE: &str = "percona/percona-xtrabackup:8.4.0-5.1";
/// The Job's annotation: the host it set up.
pub const HOST_ANNOTATION: &str = "operator.zuul-ci.org/database-host";
/// The reason of the Degraded condition without the Percona CRD.
pub const OPERATOR_MISSING: &str = "DatabaseOperatorMissing";

/// A failure to talk to the API server.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("{0}")]
    Apply(#[from] ApplyError),
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
}

/// Where the managed database is.
#[derive(Debug, Clone)]
pub enum Managed {
    /// The Percona CRD is not served (the message names it).
    OperatorMissing(String),
    /// Not ready yet (what it waits for).
    Waiting(String),
    /// The setup Job failed (deleted; the next pass runs it again).
    Failed(String),
    /// Ready: Zuul's dburi and the Secret holding it (for the desired set).
    Ready { dburi: String, secret: Value },
}

/// The names of a Zuul's managed database objects.
pub struct DbNames {
    /// The PerconaXtraDBCluster.
    pub cluster: String,
    /// Its `spec.secretsName` (the Percona operator fills in the users' passwords).
    pub secrets: String,
    /// The Secret with Zuul's password and dburi.
    pub zuul_secret: String,
    /// The setup Job.
    pub job: String,
}

impl DbNames {
    pub fn new(names: &Names) -> Self {
        DbNames {
            cluster: names.child("db"),
            secrets: names.child("db-secrets"),
            zuul_secret: names.child("database"),
            job: names.child("database-setup"),
        }
    }
}

/// Whether the managed database is on: `spec.database` has no `secretName`.
pub fn managed(zuul: &Zuul) -> bool {
    zuul.spec.database.as_ref().and_then(|d| d.secret_name.as_deref()).is_none()
}

/// The message of the Degraded condition when the CRD is missing.
pub fn operator_missing_message() -> String {
    format!(
        "spec.database is omitted, so the database is managed through the Percona XtraDB Cluster \
         operator, but its CRD {PXC_CRD} ({PXC_API_VERSION}) is not served: install the Percona XtraDB \
         Cluster operator ({PXC_CR_VERSION}; OLM package percona-xtradb-cluster-operator), or set \
         spec.database.secretName"
    )
}

/// The PerconaXtraDBCluster for `spec`: the fields the upstream zuul-operator sets, for Percona
/// operator 1.19.0. Small (`allowUnsafeConfig`): one PXC node and one HAProxy, TLS off, allowed by
/// `unsafeFlags`; otherwise three of each with TLS, as upstream.
pub fn cluster(names: &Names, db: &DbNames, spec: Option<&DatabaseSpec>) -> Value {
    let small = spec.and_then(|s| s.allow_unsafe_config).unwrap_or(false);
    let image = spec.and_then(|s| s.image.clone()).unwrap_or_else(|| DEFAULT_PXC_IMAGE.into());
    let storage = spec.and_then(|s| s.storage_size.clone()).unwrap_or_else(|| "6G".into());
    let size = if small { 1 } else { 3 };
    // One kind of pods (PXC, HAProxy): `extra` merged into what both have. Upstream leaves the
    // resource requests out of a small cluster.
    let pods = |image: &str, grace: i64, extra: Value| {
        let mut pods = json!({
            "size": size,
            "image": image,
            "affinity": {"antiAffinityTopologyKey": if small { "none" } else { "kubernetes.io/hostname" }},
            "podDisruptionBudget": {"maxUnavailable": 1},
            "gracePeriod": grace,
        });
        if !small {
            pods["resources"] = json!({"requests": {"memory": "1G", "cpu": "600m"}});
        }
        if let (Some(pods), Value::Object(extra)) = (pods.as_object_mut(), extra) {
            pods.extend(extra);
        }
        pods
    };
    let mut logcollector = json!({"enabled": true, "image": LOGCOLLECTOR_IMAGE});
    if !small {
        logcollector["resources"] = json!({"requests": {"memory": "100M", "cpu": "200m"}});
    }
    let volume = json!({"persistentVolumeClaim": {"resources": {"requests": {"storage": storage}}}});
    let body = json!({
        "spec": {
            "crVersion": PXC_CR_VERSION,
            "secretsName": db.secrets,
            "tls": {"enabled": !small},
            "unsafeFlags": {"tls": small, "pxcSize": small, "proxySize": small},
            "updateStrategy": "SmartUpdate",
            "upgradeOptions": {"versionServiceEndpoint": "https://check.percona.com", "apply": "disabled",
                               "schedule": "0 4 * * *"},
            "pxc": pods(&image, 600, json!({"autoRecovery": true, "volumeSpec": volume})),
            "haproxy": pods(HAPROXY_IMAGE, 30, json!({"enabled": true})),
            "proxysql": {"enabled": false, "size": size, "image": PROXYSQL_IMAGE},
            "logcollector": logcollector,
            "pmm": {"enabled": false, "image": PMM_IMAGE, "serverHost": "monitoring-service"},
            "backup": {"image": BACKUP_IMAGE, "pitr": {"enabled": false}, "storages": {}},
        }
    });
    object(names, PXC_API_VERSION, "PerconaXtraDBCluster", &db.cluster, "database", body)
}

/// The cluster's readiness from its own status, or what it waits for.
pub fn cluster_ready(cluster: &Value) -> Result<String, String> {
    let status = &cluster["status"];
    let generation = cluster["metadata"]["generation"].as_i64().unwrap_or(0);
    let observed = status["observedGeneration"].as_i64().unwrap_or(0);
    let state = status["state"].as_str().unwrap_or("");
    let (ready, size) = (status["ready"].as_i64().unwrap_or(0), status["size"].as_i64().unwrap_or(-1));
    let host = status["host"].as_str().unwrap_or("");
    let name = cluster["metadata"]["name"].as_str().unwrap_or("");
    if observed != generation {
        return Err(format!(
            "PerconaXtraDBCluster {name}: generation {generation} not yet observed (status at {observed})"
        ));
    }
    if state != "ready" || ready != size || size <= 0 || host.is_empty() {
        let state = if state.is_empty() { "none yet" } else { state };
        return Err(format!("PerconaXtraDBCluster {name}: state {state}, {ready}/{} ready", size.max(0)));
    }
    Ok(host.to_string())
}

/// Zuul's SQLAlchemy URI for `host` (PyMySQL is a dependency of Zuul).
pub fn dburi(host: &str, password: &str) -> String {
    format!("mysql+pymysql://zuul:{password}@{host}:3306/zuul")
}

/// The setup Job: the database image's `mysql` client, root's password from the cluster's
/// Secret and Zuul's from `<zuul>-database`, both by `secretKeyRef` (never on a command line).
pub fn setup_job(names: &Names, db: &DbNames, image: &str, host: &str) -> Value {
    const SCRIPT: &str = r#"set -eu
umask 077
printf '[client]\nuser=root\npassword=%s\n' "$ROOT_PASSWORD" > /tmp/root.cnf
mysql --defaults-extra-file=/tmp/root.cnf -h "$DB_HOST" -P 3306 --connect-timeout=10 -e "
CREATE DATABASE IF NOT EXISTS zuul;
CREATE USER IF NOT EXISTS 'zuul'@'%' IDENTIFIED BY '$ZUUL_PASSWORD';
ALTER USER 'zuul'@'%' IDENTIFIED BY '$ZUUL_PASSWORD';
GRANT ALL PRIVILEGES ON zuul.* TO 'zuul'@'%';
FLUSH PRIVILEGES;"
echo "database zuul and user zuul ready at $DB_HOST"
"#;
    let from = |secret: &str, key: &str| json!({"secretKeyRef": {"name": secret, "key": key}});
    let mut job = object(
        names,
        "batch/v1",
        "Job",
        &db.job,
        "database",
        json!({"spec": {
            "backoffLimit": 6,
            "template": {
                "metadata": {"labels": names.labels("database")},
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": restricted_pod_context(),
                    "containers": [{
                        "name": "setup",
                        "image": image,
                        "command": ["/bin/sh", "-c", SCRIPT],
                        "env": [
                            {"name": "DB_HOST", "value": host},
                            {"name": "ROOT_PASSWORD", "valueFrom": from(&db.secrets, "root")},
                            {"name": "ZUUL_PASSWORD", "valueFrom": from(&db.zuul_secret, "password")},
                        ],
                        "securityContext": restricted_container_context(),
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    }],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        }}),
    );
    job["metadata"]["annotations"] = json!({HOST_ANNOTATION: host});
    job
}

/// A random password of 32 hex digits (safe inside the SQL and the URI).
fn new_password() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn api_error(what: impl Into<String>) -> impl FnOnce(kube::Error) -> DatabaseError {
    let what = what.into();
    move |source| DatabaseError::Api { what, source }
}

/// Whether the Percona CRD is served.
async fn crd_served(client: &kube::Client) -> Result<bool, DatabaseError> {
    match client.list_api_group_resources(PXC_API_VERSION).await {
        Ok(list) => Ok(list.resources.iter().any(|r| r.name == "perconaxtradbclusters")),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(source) => Err(DatabaseError::Api { what: format!("discovery of {PXC_API_VERSION}"), source }),
    }
}

/// One pass of the managed database for `zuul` (`owner`: its owner reference).
#[tracing::instrument(skip_all, fields(zuul = %names.zuul))]
pub async fn ensure(
    client: &kube::Client,
    zuul: &Zuul,
    names: &Names,
    owner: &Value,
) -> Result<Managed, DatabaseError> {
    if !crd_served(client).await? {
        return Ok(Managed::OperatorMissing(operator_missing_message()));
    }
    let db = DbNames::new(names);
    let spec = zuul.spec.database.as_ref();
    let namespace = names.namespace.as_str();
    let applied = apply::apply(client, Some(namespace), Some(owner), &[cluster(names, &db, spec)]).await?;
    let cluster = applied.objects.first().map(|o| serde_json::to_value(o).unwrap_or_default()).unwrap_or_default();
    let host = match cluster_ready(&cluster) {
        Ok(host) => host,
        Err(waiting) => return Ok(Managed::Waiting(waiting)),
    };

    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), namespace);
    let has_key = |s: &k8s_openapi::api::core::v1::Secret, key: &str| {
        s.data.as_ref().is_some_and(|d| d.contains_key(key))
            || s.string_data.as_ref().is_some_and(|d| d.contains_key(key))
    };
    let root = secrets.get_opt(&db.secrets).await.map_err(api_error(format!("Secret {}", db.secrets)))?;
    if !root.as_ref().is_some_and(|s| has_key(s, "root")) {
        return Ok(Managed::Waiting(format!("Secret {} (spec.secretsName) has no key root yet", db.secrets)));
    }

    let existing = secrets.get_opt(&db.zuul_secret).await.map_err(api_error(format!("Secret {}", db.zuul_secret)))?;
    let existing: BTreeMap<String, String> = existing
        .and_then(|s| s.data)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    let password = existing.get("password").cloned().unwrap_or_else(new_password);
    let mut data = BTreeMap::from([("password".to_string(), password.clone())]);

    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    let image = spec.and_then(|s| s.image.clone()).unwrap_or_else(|| DEFAULT_PXC_IMAGE.into());
    let job = jobs.get_opt(&db.job).await.map_err(api_error(format!("Job {}", db.job)))?;
    let done = match job {
        None => {
            apply::apply(client, Some(namespace), Some(owner), &[secret(names, &db.zuul_secret, "database", &data)])
                .await?;
            apply::apply(client, Some(namespace), Some(owner), &[setup_job(names, &db, &image, &host)]).await?;
            tracing::info!(job = db.job, host, "creating the zuul database and user");
            false
        }
        Some(job) if job.annotations().get(HOST_ANNOTATION) != Some(&host) || !existing.contains_key("password") => {
            tracing::info!(job = db.job, host, "the database host or Zuul's password changed: setting it up again");
            delete_job(&jobs, &db.job).await?;
            false
        }
        Some(job) => {
            let status = job.status.unwrap_or_default();
            let failed = status.conditions.iter().flatten().any(|c| c.type_ == "Failed" && c.status == "True");
            if failed {
                delete_job(&jobs, &db.job).await?;
                return Ok(Managed::Failed(format!(
                    "Job {} could not create the zuul database and user at {host}:3306 (its pod logs say why); \
                     it runs again",
                    db.job
                )));
            }
            status.succeeded.unwrap_or(0) > 0
        }
    };
    if !done {
        return Ok(Managed::Waiting(format!("Job {}: creating the zuul database and user at {host}:3306", db.job)));
    }
    let uri = dburi(&host, &password);
    data.insert("dburi".into(), uri.clone());
    let object = secret(names, &db.zuul_secret, "database", &data);
    apply::apply(client, Some(namespace), Some(owner), std::slice::from_ref(&object)).await?;
    Ok(Managed::Ready { dburi: uri, secret: object })
}

async fn delete_job(jobs: &Api<Job>, name: &str) -> Result<(), DatabaseError> {
    let params = DeleteParams::background();
    match jobs.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(DatabaseError::Api { what: format!("deleting Job {name}"), source }),
    }
}

#[cfg(test)]
mod tests;
