//! An SSH node: the namespace `<pool>-<node id>` with the node's Secret (host key, executor key,
//! sshd config), the pod running sshd, a Service and optionally an Ingress. Ready when the
//! Service has an endpoint and the reported address answers with the node's host key.
//!
//! No service account or Role is made: Zuul reaches the node over SSH only. A failed attempt
//! deletes the namespace (everything is in it) and waits until it is gone; leak cleanup finds
//! it by its labels like any other node's namespace.

use super::ssh::host_key::HostKey;
use super::ssh::{executor_key, objects, reach};
use super::{KubernetesDriver, access};
use crate::drivers::common::api;
use crate::drivers::common::label::Label;
use crate::drivers::common::pod_body::PodBody;
use crate::drivers::common::pod_launch;
use crate::drivers::spec::SshOptions;
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::Api;
use kubepool_driver_api::{LaunchError, LaunchProgress, LaunchedNode, NodeSpec};
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span};

pub async fn launch(
    driver: &KubernetesDriver,
    spec: &NodeSpec,
    label: &Label,
    body: &PodBody,
    options: &SshOptions,
    progress: &dyn LaunchProgress,
) -> Result<LaunchedNode, LaunchError> {
    let provider = &driver.provider;
    let namespace = provider.naming.namespace(spec);
    let span = info_span!("ssh_node", namespace = %namespace);
    let pod_name = label.spec.name.as_str();
    progress.external_id(&namespace).await;
    let started = Instant::now();
    let deadline = started + provider.timeouts.pod_start;
    let client = &provider.cluster.client;
    let attempt = async {
        let labels = provider.object_labels(spec, label)?;
        let authorized_keys = executor_key::read(client, &options.authorized_keys).await?;
        let host_key = HostKey::generate().map_err(|e| LaunchError::Transient(e.to_string()))?;
        access::create_namespace(driver, &namespace, &labels).await?;
        let secret = objects::secret(&namespace, &labels, &options.username, host_key.private_file(), &authorized_keys);
        api::create_idempotent(&Api::<Secret>::namespaced(client.clone(), &namespace), &secret)
            .await
            .map_err(|e| api::launch_error("create the SSH Secret", e))?;
        let start_pod = pod_launch::start(client, &namespace, pod_name, body, &labels, deadline);
        let expose = async {
            let service = objects::service(&namespace, &labels, provider.naming.node_id_key(), options);
            api::create_idempotent(&Api::<Service>::namespaced(client.clone(), &namespace), &service)
                .await
                .map_err(|e| api::launch_error("create the SSH Service", e))?;
            if let Some(options) = &options.ingress {
                let ingress = objects::ingress(&namespace, &labels, options);
                api::create_idempotent(&Api::<Ingress>::namespaced(client.clone(), &namespace), &ingress)
                    .await
                    .map_err(|e| api::launch_error("create the SSH Ingress", e))?;
            }
            debug!("SSH Service created");
            Ok::<_, LaunchError>(())
        };
        let (host, ()) = tokio::try_join!(start_pod, expose)?;
        let pod = Api::<Pod>::namespaced(client.clone(), &namespace)
            .get(pod_name)
            .await
            .map_err(|e| api::launch_error("read the running pod", e))?;
        let host_ip = pod.status.and_then(|s| s.host_ip);
        reach::wait_for_endpoints(client, &namespace, deadline).await?;
        let at = reach::reachable(client, &namespace, options, host_ip.as_deref(), deadline).await?;
        reach::wait_for_host_key(&at, &host_key, deadline).await?;
        Ok((host, at, host_key.public_line()))
    };
    let (host, at, public_key) = driver.clean_up_on_failure(&namespace, attempt).instrument(span).await?;
    info!(namespace = %namespace, pod = pod_name, address = %at.address, port = at.port,
        elapsed_ms = started.elapsed().as_millis() as u64, "SSH node ready: sshd answers with its host key");
    Ok(LaunchedNode {
        external_id: namespace,
        connection_type: "ssh".to_string(),
        connection_port: serde_json::Value::from(at.port),
        interface_ip: Some(at.address),
        host_id: host,
        python_path: Some(label.spec.python_path.clone()),
        shell_type: label.spec.shell_type.clone(),
        username: Some(options.username.clone()),
        host_keys: vec![public_key],
    })
}
