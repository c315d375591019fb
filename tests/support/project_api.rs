//! A stand-in for OpenShift's project API on the Kubernetes test cluster (docs/openshift.md,
//! "The test stand-in"): CRDs for `project.openshift.io/v1` `ProjectRequest` and `Project`,
//! installed idempotently by the tests, and a small controller that does what OpenShift's
//! project API and default project template do:
//!
//! * a `ProjectRequest` becomes a namespace (annotated with the requester, display name and
//!   description; the request's labels are *not* carried over, as with OpenShift's default
//!   template), RoleBinding `admin` (cluster role `admin`) for the requester, the `builder` and
//!   `deployer` service accounts (Kubernetes makes `default`), and finally an active `Project`
//!   of the same name; the request object is then deleted (on OpenShift it is never stored);
//! * deleting a `Project` deletes its namespace; the `Project` stays (`Terminating`) until the
//!   namespace is gone, as OpenShift's view of a terminating namespace does.
//!
//! Each controller only handles names with its own prefix, so tests running at the same time
//! (each with its own pool names) do not serve each other's requests.

#![allow(dead_code)]

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::watcher::{self, watcher};
use kubepool::drivers::openshift::kinds::{Project, ProjectRequest, ProjectSpec, ProjectStatus};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The finalizer that keeps a `Project` until its namespace is gone.
pub const FINALIZER: &str = "project.kubepool.test/namespace";
/// The admin kubeconfig's user (the CN of its client certificate): the tests' requester.
pub const TEST_REQUESTER: &str = "kubernetes-admin";

fn crd(plural: &str, kind: &str) -> CustomResourceDefinition {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{plural}.project.openshift.io"),
            "labels": {"app.kubernetes.io/part-of": "kubepool-tests"},
        },
        "spec": {
            "group": "project.openshift.io",
            "scope": "Cluster",
            "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind, "listKind": format!("{kind}List")},
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
            }],
        },
    }))
    .expect("CRD body")
}

/// Installs the two CRDs unless they exist, and waits until they are established.
pub async fn install_crds(client: &kube::Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for (plural, kind) in [("projects", "Project"), ("projectrequests", "ProjectRequest")] {
        let body = crd(plural, kind);
        let name = body.metadata.name.clone().expect("name");
        match crds.create(&PostParams::default(), &body).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(error) => panic!("install CRD {name}: {error}"),
        }
        tokio::time::timeout(
            Duration::from_secs(60),
            await_condition(crds.clone(), &name, conditions::is_crd_established()),
        )
        .await
        .expect("CRD established within 60 s")
        .expect("watch CRD");
    }
    // Discovery of a brand-new group can lag behind the Established condition.
    let projects: Api<Project> = Api::all(client.clone());
    for _ in 0..100 {
        if projects.list(&Default::default()).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the project API is not served after installing its CRDs");
}

/// The running stand-in; stops (and releases what it still holds) on [`ProjectApi::stop`].
pub struct ProjectApi {
    client: kube::Client,
    prefix: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl ProjectApi {
    /// Installs the CRDs and starts the controller for names starting with `prefix`, with the
    /// test kubeconfig's user as the requester.
    pub async fn start(prefix: &str) -> Self {
        Self::start_for(prefix, TEST_REQUESTER).await
    }

    /// As [`ProjectApi::start`], making `requester` (a user name, e.g.
    /// `system:serviceaccount:<namespace>:<name>`) admin of every project it makes.
    pub async fn start_for(prefix: &str, requester: &str) -> Self {
        let client = crate::common::admin_client().await;
        install_crds(&client).await;
        let in_flight = Arc::new(Mutex::new(HashSet::new()));
        let tasks = vec![
            tokio::spawn(serve_requests(client.clone(), prefix.to_string(), requester.to_string())),
            tokio::spawn(serve_deletions(client.clone(), prefix.to_string(), in_flight)),
        ];
        Self { client, prefix: prefix.to_string(), tasks }
    }

    /// Stops the controller, then removes whatever is left under its prefix: requests, projects
    /// (finalizer dropped) and namespaces.
    pub async fn stop(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        remove_everything(&self.client, &self.prefix).await;
    }
}

impl Drop for ProjectApi {
    /// A failed test does not reach `stop`: stop serving and clean up anyway (best effort).
    fn drop(&mut self) {
        if self.tasks.is_empty() {
            return;
        }
        for task in self.tasks.drain(..) {
            task.abort();
        }
        let prefix = self.prefix.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let client = kubepool::k8s::connect(None).await.ok()?.client;
                remove_everything(&client, &prefix).await;
                Some(())
            })
        })
        .join();
    }
}

async fn remove_everything(client: &kube::Client, prefix: &str) {
    let requests: Api<ProjectRequest> = Api::all(client.clone());
    let projects: Api<Project> = Api::all(client.clone());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for request in requests.list(&Default::default()).await.map(|l| l.items).unwrap_or_default() {
        let name = request.metadata.name.unwrap_or_default();
        if name.starts_with(prefix) {
            let _ = requests.delete(&name, &DeleteParams::default()).await;
        }
    }
    for project in projects.list(&Default::default()).await.map(|l| l.items).unwrap_or_default() {
        let name = project.metadata.name.unwrap_or_default();
        if name.starts_with(prefix) {
            let _ = release(&projects, &name).await;
            let _ = projects.delete(&name, &DeleteParams::default()).await;
        }
    }
    for namespace in namespaces.list_metadata(&Default::default()).await.map(|l| l.items).unwrap_or_default() {
        let name = namespace.metadata.name.unwrap_or_default();
        if name.starts_with(prefix) && namespace.metadata.deletion_timestamp.is_none() {
            let _ = namespaces.delete(&name, &DeleteParams::background()).await;
        }
    }
}

/// Removes the stand-in's finalizer from project `name`.
async fn release(projects: &Api<Project>, name: &str) -> Result<(), kube::Error> {
    let patch = serde_json::json!({"metadata": {"finalizers": null}});
    projects.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ())
}

async fn serve_requests(client: kube::Client, prefix: String, requester: String) {
    let requests: Api<ProjectRequest> = Api::all(client.clone());
    let mut stream =
        std::pin::pin!(watcher(requests.clone(), watcher::Config::default()).default_backoff().applied_objects());
    while let Some(event) = stream.next().await {
        let Ok(request) = event else { continue };
        let name = request.metadata.name.clone().unwrap_or_default();
        if !name.starts_with(&prefix) || request.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let (client, requester) = (client.clone(), requester.clone());
        tokio::spawn(async move {
            if let Err(error) = make_project(&client, &request, &requester).await {
                eprintln!("project stand-in: request {name}: {error}");
            }
        });
    }
}

/// What OpenShift's project API does for one request, ending with the active `Project`.
async fn make_project(client: &kube::Client, request: &ProjectRequest, requester: &str) -> Result<(), kube::Error> {
    let name = request.metadata.name.clone().unwrap_or_default();
    let mut annotations = BTreeMap::from([("openshift.io/requester".to_string(), requester.to_string())]);
    if let Some(display) = &request.display_name {
        annotations.insert("openshift.io/display-name".into(), display.clone());
    }
    if let Some(description) = &request.description {
        annotations.insert("openshift.io/description".into(), description.clone());
    }
    let meta = |name: &str, namespace: Option<&str>| ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        ..Default::default()
    };
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta { annotations: Some(annotations.clone()), ..meta(&name, None) },
        ..Default::default()
    };
    create(&namespaces, &namespace).await?;
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), &name);
    let admin = RoleBinding {
        metadata: meta("admin", Some(&name)),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: "admin".into(),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "User".into(),
            name: requester.to_string(),
            ..Default::default()
        }]),
    };
    create(&bindings, &admin).await?;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
    for account in ["builder", "deployer"] {
        create(&accounts, &ServiceAccount { metadata: meta(account, Some(&name)), ..Default::default() }).await?;
    }
    let projects: Api<Project> = Api::all(client.clone());
    let mut project = Project::new(ObjectMeta {
        annotations: Some(annotations),
        finalizers: Some(vec![FINALIZER.to_string()]),
        ..meta(&name, None)
    });
    project.spec = Some(ProjectSpec { finalizers: Some(vec!["kubernetes".into()]) });
    project.status = Some(ProjectStatus { phase: Some("Active".into()) });
    create(&projects, &project).await?;
    let requests: Api<ProjectRequest> = Api::all(client.clone());
    match requests.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}

async fn create<K>(api: &Api<K>, object: &K) -> Result<(), kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    match api.create(&PostParams::default(), object).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error),
    }
}

async fn serve_deletions(client: kube::Client, prefix: String, in_flight: Arc<Mutex<HashSet<String>>>) {
    let projects: Api<Project> = Api::all(client.clone());
    let mut stream =
        std::pin::pin!(watcher(projects.clone(), watcher::Config::default()).default_backoff().applied_objects());
    while let Some(event) = stream.next().await {
        let Ok(project) = event else { continue };
        let name = project.metadata.name.clone().unwrap_or_default();
        let ours = project.metadata.finalizers.iter().flatten().any(|f| f == FINALIZER);
        if !name.starts_with(&prefix) || project.metadata.deletion_timestamp.is_none() || !ours {
            continue;
        }
        if !in_flight.lock().expect("lock").insert(name.clone()) {
            continue;
        }
        let (client, projects, in_flight) = (client.clone(), projects.clone(), in_flight.clone());
        tokio::spawn(async move {
            let namespaces: Api<Namespace> = Api::all(client);
            let _ = namespaces.delete(&name, &DeleteParams::background()).await;
            let gone = await_condition(namespaces, &name, |ns: Option<&Namespace>| ns.is_none());
            match tokio::time::timeout(Duration::from_secs(300), gone).await {
                Ok(Ok(_)) => {
                    if let Err(error) = release(&projects, &name).await {
                        eprintln!("project stand-in: release {name}: {error}");
                    }
                }
                other => eprintln!("project stand-in: namespace {name} not gone: {other:?}"),
            }
            in_flight.lock().expect("lock").remove(&name);
        });
    }
}
