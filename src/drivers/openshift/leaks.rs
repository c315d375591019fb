//! Which projects are this provider's (for leak detection; Nodepool's openshift driver has
//! none). A project is ours when it carries our provider label (`nodepool_provider_name`), or —
//! because OpenShift's default project template does not carry a ProjectRequest's labels over
//! to the project — when it carries no provider label and its name is one the front end's
//! naming made for one of our pools (Nodepool's: `<pool>-<node id>`).

use super::kinds::Project;
use crate::drivers::naming::NodeNaming;
use kubepool_driver_api::ResourceRef;

/// The projects of `provider` among `projects`.
pub fn ours(naming: &dyn NodeNaming, provider: &str, pools: &[&str], projects: Vec<Project>) -> Vec<ResourceRef> {
    projects
        .into_iter()
        .filter_map(|project| {
            let name = project.metadata.name.clone()?;
            let labels = project.metadata.labels.clone().unwrap_or_default();
            let deleting = project.metadata.deletion_timestamp.is_some();
            match labels.get(naming.provider_key()) {
                Some(owner) if owner == provider => Some(ResourceRef {
                    external_id: name,
                    node_id: labels.get(naming.node_id_key()).cloned(),
                    deleting,
                }),
                Some(_) => None,
                None => {
                    let id = naming.node_id_in_namespace(&name, pools)?;
                    Some(ResourceRef { node_id: Some(id), external_id: name, deleting })
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launcher::naming::{NODE_ID, NodepoolNaming, POOL, PROVIDER};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;

    fn project(name: &str, labels: &[(&str, &str)]) -> Project {
        Project::new(ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>()),
            ..Default::default()
        })
    }

    #[test]
    fn labels_decide_when_present_names_otherwise() {
        let found = ours(
            &NodepoolNaming,
            "os",
            &["main"],
            vec![
                project("main-0000000001", &[]),
                project("main-0000000002", &[(PROVIDER, "someone-else")]),
                project("x-1", &[(PROVIDER, "os"), (NODE_ID, "0000000003"), (POOL, "x")]),
                project("my-app", &[]),
            ],
        );
        let ids: Vec<_> = found.iter().map(|r| (r.external_id.as_str(), r.node_id.as_deref())).collect();
        assert_eq!(ids, vec![("main-0000000001", Some("0000000001")), ("x-1", Some("0000000003"))]);
    }
}
