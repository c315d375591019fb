//! A `type: namespace` node (reference §4.2): the namespace with its credentials ([`access`]).
//! A node of a buildset carries the buildset's uuid on its namespace ([`buildset`]).
//! A failed attempt deletes the namespace and waits until it is gone, so the next attempt
//! starts clean.

use super::KubernetesDriver;
use super::access::{self, Grant};
use super::buildset;
use crate::drivers::common::connection_port::{Flavor, NodeRecord, Reach};
use crate::drivers::common::label::Label;
use crate::drivers::common::pod_launch;
use kubepool_driver_api::{LaunchError, LaunchProgress, LaunchedNode, NodeSpec};

pub async fn launch(
    driver: &KubernetesDriver,
    spec: &NodeSpec,
    label: &Label,
    progress: &dyn LaunchProgress,
) -> Result<LaunchedNode, LaunchError> {
    let provider = &driver.provider;
    let name = provider.naming.namespace(spec);
    progress.external_id(&name).await;
    let attempt = async {
        let labels = provider.object_labels(spec, label)?;
        // The namespace of a buildset's node is where the buildset's pods go (`buildset`).
        let mut namespace_labels = labels.clone();
        if let Some(uuid) = buildset::uuid(spec) {
            namespace_labels.insert(buildset::BUILDSET_LABEL.to_string(), uuid);
        }
        access::create_namespace(driver, &name, &namespace_labels).await?;
        let credentials = access::grant(driver, &name, &labels, Grant::Namespace).await?;
        // Ready means usable: the node's own credentials get a pod admitted.
        let deadline = tokio::time::Instant::now() + provider.timeouts.pod_start;
        pod_launch::wait_pods_admitted(&provider.cluster, &name, &credentials, deadline).await?;
        Ok(credentials)
    };
    let credentials = driver.clean_up_on_failure(&name, attempt).await?;
    let reach = Reach::Namespace { connection_type: "namespace" };
    let record = NodeRecord { cluster: &provider.cluster, flavor: Flavor::Kubernetes, namespace: &name, reach };
    Ok(record.launched(name.clone(), credentials, None, &label.spec))
}
