//! The driver factory from a front end that is not Nodepool's (tests/support/fake_front_end.rs):
//! each of the three drivers is built from driver specs alone, a label whose pod cannot be built
//! is refused with provider, pool and label named, and on the real test cluster a pod node gets
//! the front end's name and labels (UUID node id, no pool), is found again by them and deleted.

mod common;
#[path = "support/fake_front_end.rs"]
mod fake_front_end;

use fake_front_end::{NODE_KEY, PROVIDER_KEY};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::Api;
use kubepool::drivers::spec::{DriverKind, LabelKind, PodTemplate};
use kubepool::k8s::ClusterInfo;
use kubepool_driver_api::NoProgress;

/// A cluster no call is made to: building a driver asks nothing of the cluster.
fn unreachable_cluster() -> ClusterInfo {
    let config = kube::Config::new("https://127.0.0.1:1".parse().expect("url"));
    kubepool::k8s::connect_config(config, kubepool::k8s::ApiDiscipline::default()).expect("client")
}

fn pod_template() -> Box<PodTemplate> {
    Box::new(PodTemplate::with_image(common::test_image(), "Never"))
}

#[tokio::test]
async fn each_driver_is_built_from_driver_specs_alone() {
    let kinds = [
        (DriverKind::Kubernetes, vec![LabelKind::Namespace, LabelKind::Pod(pod_template())]),
        (DriverKind::Openshift, vec![LabelKind::Namespace, LabelKind::Pod(pod_template())]),
        (DriverKind::OpenshiftPods, vec![LabelKind::Pod(pod_template())]),
    ];
    for (kind, label_kinds) in kinds {
        let labels = label_kinds.into_iter().enumerate().map(|(i, k)| fake_front_end::label(&format!("l{i}"), k));
        let built = fake_front_end::driver(kind, "fe", "jobs", labels.collect(), unreachable_cluster());
        assert!(built.is_ok(), "{kind:?}: {:?}", built.err());
    }
}

#[tokio::test]
async fn a_label_whose_pod_cannot_be_built_is_refused_by_name() {
    let bad = fake_front_end::label("broken", LabelKind::Spec(serde_json::json!({"containers": []})));
    let error = match fake_front_end::driver(DriverKind::Kubernetes, "fe", "jobs", vec![bad], unreachable_cluster()) {
        Ok(_) => panic!("a pod with no containers was accepted"),
        Err(error) => error.to_string(),
    };
    assert!(error.starts_with("provider fe pool jobs label broken: spec.containers"), "{error}");
}

#[tokio::test]
async fn a_pod_node_has_the_front_ends_name_and_labels_and_is_found_by_them() {
    common::init_logging();
    let cluster = kubepool::k8s::connect(None).await.expect("cluster");
    let provider = common::unique_name("fe");
    let label = fake_front_end::label("box", LabelKind::Pod(pod_template()));
    let driver =
        fake_front_end::driver(DriverKind::Kubernetes, &provider, "", vec![label], cluster.clone()).expect("driver");
    let node = fake_front_end::node(&provider, "", "box");

    let launched = driver.launch(&node, &NoProgress).await.expect("launch");
    let namespace = format!("fe-{}", &node.node_id[..8]);
    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    let labels = namespaces.get(&namespace).await.expect("namespace").metadata.labels.unwrap_or_default();
    let pod = Api::<Pod>::namespaced(cluster.client.clone(), &namespace).get("box").await.expect("pod");
    let pod_labels = pod.metadata.labels.unwrap_or_default();
    let listed = driver.list_resources().await.expect("list");
    driver.delete(&launched.external_id).await.expect("delete");
    let after = driver.list_resources().await.expect("list after delete");

    assert_eq!(launched.external_id, namespace);
    assert_eq!(launched.connection_port["namespace"], namespace.as_str());
    for labels in [&labels, &pod_labels] {
        assert_eq!(labels.get(NODE_KEY), Some(&node.node_id), "{labels:?}");
        assert_eq!(labels.get(PROVIDER_KEY), Some(&provider), "{labels:?}");
        assert!(!labels.keys().any(|k| k.starts_with("nodepool_")), "no Nodepool labels: {labels:?}");
    }
    let found: Vec<_> = listed.iter().map(|r| (r.external_id.as_str(), r.node_id.as_deref())).collect();
    assert_eq!(found, [(namespace.as_str(), Some(node.node_id.as_str()))]);
    assert!(after.is_empty(), "left after delete: {after:?}");
    assert!(namespaces.get_opt(&namespace).await.expect("get").is_none(), "the namespace is gone");
}
