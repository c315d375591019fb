//! Which projects are this provider's (for leak detection; Nodepool's openshift driver has
//! none). A project is ours when it carries our `nodepool_provider_name` label, or — because
//! OpenShift's default project template does not carry a ProjectRequest's labels over to the
//! project — when it carries no provider label and is named `<one of our pools>-<node id>`,
//! the node id being all digits (Nodepool's own rule for kubernetes namespaces).

use super::kinds::Project;
use crate::drivers::common::metadata::{NODE_ID, POOL, PROVIDER};
use kubepool_driver_api::ResourceRef;

/// The node id in a project name `<pool>-<digits>` of one of `pools` (the longest pool that
/// fits, when pool names share a prefix).
pub fn parse_name<'a>(name: &'a str, pools: &[&'a str]) -> Option<(&'a str, &'a str)> {
    pools
        .iter()
        .filter_map(|pool| {
            let id = name.strip_prefix(pool)?.strip_prefix('-')?;
            (id.len() >= 10 && id.bytes().all(|b| b.is_ascii_digit())).then_some((*pool, id))
        })
        .max_by_key(|(pool, _)| pool.len())
}

/// The projects of `provider` among `projects`.
pub fn ours(provider: &str, pools: &[&str], projects: Vec<Project>) -> Vec<ResourceRef> {
    projects
        .into_iter()
        .filter_map(|project| {
            let name = project.metadata.name.clone()?;
            let labels = project.metadata.labels.clone().unwrap_or_default();
            let deleting = project.metadata.deletion_timestamp.is_some();
            match labels.get(PROVIDER) {
                Some(owner) if owner == provider => Some(ResourceRef {
                    external_id: name,
                    node_id: labels.get(NODE_ID).cloned(),
                    pool: labels.get(POOL).cloned(),
                    deleting,
                }),
                Some(_) => None,
                None => {
                    let (pool, id) = parse_name(&name, pools)?;
                    Some(ResourceRef {
                        node_id: Some(id.to_string()),
                        pool: Some(pool.to_string()),
                        external_id: name,
                        deleting,
                    })
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn names_need_one_of_our_pools_and_a_node_id() {
        let pools = ["main", "main-big"];
        assert_eq!(parse_name("main-0000000042", &pools), Some(("main", "0000000042")));
        assert_eq!(parse_name("main-big-0000000042", &pools), Some(("main-big", "0000000042")));
        assert_eq!(parse_name("main-42", &pools), None, "too short for a node id");
        assert_eq!(parse_name("main-00000000x2", &pools), None);
        assert_eq!(parse_name("other-0000000042", &pools), None);
        assert_eq!(parse_name("main0000000042", &pools), None);
    }

    #[test]
    fn labels_decide_when_present_names_otherwise() {
        let found = ours(
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
