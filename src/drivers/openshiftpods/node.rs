//! An openshiftpods node (reference §4.5): pod `<label>-<node id>` in the pool's existing
//! namespace, with credentials of its own ([`access`]), ready only when those credentials can
//! exec into it. A failed attempt deletes the pod (its credentials go with it) and waits until
//! it is gone.

use super::{OpenshiftPodsDriver, access};
use crate::drivers::common::connection_port::{Flavor, NodeRecord, Reach};
use crate::drivers::common::label::Label;
use crate::drivers::common::pod_body::PodBody;
use crate::drivers::common::pod_launch;
use kubepool_driver_api::{LaunchError, LaunchProgress, LaunchedNode, NodeSpec};
use tokio::time::Instant;
use tracing::info;

pub async fn launch(
    driver: &OpenshiftPodsDriver,
    spec: &NodeSpec,
    label: &Label,
    body: &PodBody,
    progress: &dyn LaunchProgress,
) -> Result<LaunchedNode, LaunchError> {
    let provider = &driver.provider;
    let namespace = spec.pool.as_str();
    let pod = provider.naming.pod(spec);
    let external_id = OpenshiftPodsDriver::external_id(&spec.pool, &pod);
    progress.external_id(&external_id).await;
    let started = Instant::now();
    let deadline = started + provider.timeouts.pod_start;
    let client = &provider.cluster.client;
    let attempt = async {
        let labels = provider.object_labels(spec, label)?;
        // The pod first: everything else is owned by it.
        let uid = pod_launch::create_pod(client, namespace, &pod, body, &labels).await?;
        let (credentials, host) = tokio::try_join!(
            access::grant(&provider.cluster, namespace, &pod, &uid, &labels, provider.timeouts.token),
            pod_launch::wait_running(client, namespace, &pod, body, deadline),
        )?;
        pod_launch::wait_exec_works(&provider.cluster, namespace, &credentials, &pod, body.container(), deadline)
            .await?;
        Ok((credentials, host))
    };
    let (credentials, host) = driver.clean_up_on_failure(namespace, &pod, attempt).await?;
    info!(namespace, pod = %pod, host = host.as_deref(), elapsed_ms = started.elapsed().as_millis() as u64,
        "pod ready: its own credentials can exec into it");
    let reach = Reach::SharedNamespacePod(&pod);
    let record = NodeRecord { cluster: &provider.cluster, flavor: Flavor::OpenshiftPods, namespace, reach };
    Ok(record.launched(external_id, credentials, host, &label.spec))
}
