//! A pod node (reference §4.3): the namespace with restricted credentials ([`access`]) and one
//! pod named after the label, ready only when the node's own credentials can exec into it.
//!
//! The credentials and the pod are made concurrently once the namespace exists. A failed
//! attempt deletes the namespace (with the pod) and waits until it is gone.

use super::KubernetesDriver;
use super::access::{self, Grant};
use crate::drivers::common::connection_port::{Flavor, NodeRecord, Reach};
use crate::drivers::common::label::Label;
use crate::drivers::common::pod_body::PodBody;
use crate::drivers::common::pod_launch;
use kubepool_driver_api::{LaunchError, LaunchProgress, LaunchedNode, NodeSpec};
use tokio::time::Instant;
use tracing::info;

pub async fn launch(
    driver: &KubernetesDriver,
    spec: &NodeSpec,
    label: &Label,
    body: &PodBody,
    progress: &dyn LaunchProgress,
) -> Result<LaunchedNode, LaunchError> {
    let provider = &driver.provider;
    let namespace = provider.naming.namespace(spec);
    let pod_name = label.spec.name.as_str();
    progress.external_id(&namespace).await;
    let started = Instant::now();
    let deadline = started + provider.timeouts.pod_start;
    let client = &provider.cluster.client;
    let attempt = async {
        let labels = provider.object_labels(spec, label)?;
        access::create_namespace(driver, &namespace, &labels).await?;
        let start_pod = pod_launch::start(client, &namespace, pod_name, body, &labels, deadline);
        let (credentials, host) = tokio::try_join!(access::grant(driver, &namespace, &labels, Grant::Pod), start_pod)?;
        pod_launch::wait_exec_works(&provider.cluster, &namespace, &credentials, pod_name, body.container(), deadline)
            .await?;
        Ok((credentials, host))
    };
    let (credentials, host) = driver.clean_up_on_failure(&namespace, attempt).await?;
    info!(namespace = %namespace, pod = pod_name, host = host.as_deref(), elapsed_ms = started.elapsed().as_millis() as u64,
        "pod ready: its credentials can exec into it");
    let record = NodeRecord {
        cluster: &provider.cluster,
        flavor: Flavor::Kubernetes,
        namespace: &namespace,
        reach: Reach::Pod(pod_name),
    };
    Ok(record.launched(namespace.clone(), credentials, host, &label.spec))
}
