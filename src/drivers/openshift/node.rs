//! An openshift node (reference §4.4): a project label gives the project with admin
//! credentials; a pod label adds one pod named after the label, ready only when the node's own
//! credentials can exec into it. A failed attempt deletes the project and waits until it is
//! gone, so the next attempt starts clean.

use super::{OpenshiftDriver, project};
use crate::drivers::common::connection_port::{Flavor, NodeRecord, Reach};
use crate::drivers::common::label::Label;
use crate::drivers::common::pod_body::PodBody;
use crate::drivers::common::pod_launch;
use kubepool_driver_api::{LaunchError, LaunchProgress, LaunchedNode, NodeSpec};
use tokio::time::Instant;
use tracing::info;

pub async fn launch(
    driver: &OpenshiftDriver,
    spec: &NodeSpec,
    label: &Label,
    pod: Option<&PodBody>,
    progress: &dyn LaunchProgress,
) -> Result<LaunchedNode, LaunchError> {
    let provider = &driver.provider;
    let name = provider.naming.namespace(spec);
    progress.external_id(&name).await;
    let started = Instant::now();
    let deadline = started + provider.timeouts.pod_start;
    let client = &provider.cluster.client;
    let pod_name = label.spec.name.as_str();
    let attempt = async {
        let labels = provider.object_labels(spec, label)?;
        project::create_project(driver, &name, &labels).await?;
        let Some(body) = pod else {
            return Ok((project::grant(driver, &name, &labels).await?, None));
        };
        let start_pod = pod_launch::start(client, &name, pod_name, body, &labels, deadline);
        let (credentials, host) = tokio::try_join!(project::grant(driver, &name, &labels), start_pod)?;
        pod_launch::wait_exec_works(&provider.cluster, &name, &credentials, pod_name, body.container(), deadline)
            .await?;
        Ok((credentials, host))
    };
    let (credentials, host) = driver.clean_up_on_failure(&name, attempt).await?;
    info!(project = %name, pod = pod.map(|_| pod_name), elapsed_ms = started.elapsed().as_millis() as u64,
        "openshift node ready");
    let reach = match pod {
        Some(_) => Reach::Pod(pod_name),
        None => Reach::Namespace { connection_type: "project" },
    };
    let record = NodeRecord { cluster: &provider.cluster, flavor: Flavor::Openshift, namespace: &name, reach };
    Ok(record.launched(name.clone(), credentials, host, &label.spec))
}
