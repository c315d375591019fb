//! The OpenShift kinds the openshift driver uses, as small typed resources on kube's
//! [`kube::Resource`] trait (`openshift-openapi` does not work with kube 5):
//!
//! * `project.openshift.io/v1 ProjectRequest` — create-only: `POST` asks the API server to make
//!   a project from the cluster's project template, with the requester as its admin. It answers
//!   with the `Project`; only the fields both kinds share are read from the answer.
//! * `project.openshift.io/v1 Project` — the view of a namespace the caller may see; deleting
//!   it deletes the namespace.
//!
//! The `admin` RoleBinding is an `rbac.authorization.k8s.io/v1` RoleBinding, which OpenShift 4
//! serves natively (`authorization.openshift.io/v1` is its legacy mirror), so no OpenShift kind
//! is needed for it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::ClusterResourceScope;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

pub const GROUP: &str = "project.openshift.io";
pub const VERSION: &str = "v1";
pub const API_VERSION: &str = "project.openshift.io/v1";

/// `kube::Resource` for a cluster-scoped kind of `project.openshift.io/v1`.
macro_rules! project_kind {
    ($type:ty, $kind:literal, $plural:literal) => {
        impl kube::Resource for $type {
            type DynamicType = ();
            type Scope = ClusterResourceScope;

            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed(GROUP)
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed(VERSION)
            }
            fn api_version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed(API_VERSION)
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

/// A request for a new project.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRequest {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}
project_kind!(ProjectRequest, "ProjectRequest", "projectrequests");

impl ProjectRequest {
    pub fn new(metadata: ObjectMeta) -> Self {
        Self { api_version: API_VERSION.into(), kind: "ProjectRequest".into(), metadata, ..Default::default() }
    }
}

/// A project: a namespace as its users see it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<ProjectSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProjectStatus>,
}
project_kind!(Project, "Project", "projects");

impl Project {
    pub fn new(metadata: ObjectMeta) -> Self {
        Self { api_version: API_VERSION.into(), kind: "Project".into(), metadata, ..Default::default() }
    }

    /// `status.phase` is `Active` (a project being deleted is `Terminating`).
    pub fn is_active(&self) -> bool {
        self.metadata.deletion_timestamp.is_none()
            && self.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Active")
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalizers: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::Resource;

    #[test]
    fn paths_and_bodies_are_openshifts() {
        assert_eq!(ProjectRequest::url_path(&(), None), "/apis/project.openshift.io/v1/projectrequests");
        assert_eq!(Project::url_path(&(), None), "/apis/project.openshift.io/v1/projects");
        let body = ProjectRequest::new(ObjectMeta { name: Some("main-0000000001".into()), ..Default::default() });
        let json = serde_json::to_value(&body).expect("json");
        assert_eq!(json["apiVersion"], "project.openshift.io/v1");
        assert_eq!(json["kind"], "ProjectRequest");
        assert_eq!(json["metadata"]["name"], "main-0000000001");
    }

    #[test]
    fn the_answer_to_a_project_request_is_a_project_and_still_parses() {
        let answer = serde_json::json!({
            "kind": "Project", "apiVersion": "project.openshift.io/v1",
            "metadata": {"name": "main-0000000001", "uid": "u"},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}
        });
        let parsed: ProjectRequest = serde_json::from_value(answer.clone()).expect("parses");
        assert_eq!(parsed.metadata.name.as_deref(), Some("main-0000000001"));
        let mut project: Project = serde_json::from_value(answer).expect("parses");
        assert!(project.is_active());
        project.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        assert!(!project.is_active(), "a project being deleted is not active");
    }
}
