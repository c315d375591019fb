//! A `type: namespace` node (reference §4.2): the namespace with its credentials ([`access`]).
//! A failed attempt deletes the namespace and waits until it is gone, so the next attempt
//! starts clean.

use super::access::{self, Grant};
use super::objects::SERVICE_ACCOUNT;
use super::{KubernetesDriver, LabelSpec, token};
use crate::drivers::metadata;
use kubepool_driver_api::{LaunchError, LaunchProgress, LaunchedNode, NodeSpec};

pub async fn launch(
    driver: &KubernetesDriver,
    spec: &NodeSpec,
    label: &LabelSpec,
    progress: &dyn LaunchProgress,
) -> Result<LaunchedNode, LaunchError> {
    let name = KubernetesDriver::namespace_name(&spec.pool, &spec.node_id);
    progress.external_id(&name).await;
    let attempt = async {
        let labels = metadata::object_labels(spec, &label.labels, &label.dynamic_labels)
            .map_err(|e| LaunchError::Permanent(e.to_string()))?;
        access::create_namespace(driver, &name, &labels).await?;
        access::grant(driver, &name, &labels, Grant::Namespace).await
    };
    let credentials = driver.clean_up_on_failure(&name, attempt).await?;
    Ok(LaunchedNode {
        external_id: name.clone(),
        connection_type: "namespace".to_string(),
        connection_port: connection_port(driver, &name, credentials, None),
        interface_ip: None,
        host_id: None,
        python_path: Some(label.python_path.clone()),
        shell_type: label.shell_type.clone(),
        username: None,
        host_keys: Vec::new(),
    })
}

/// The node record's `connection_port` (reference §5): the namespace, API URL, credentials,
/// and for pod nodes the pod name.
pub fn connection_port(
    driver: &KubernetesDriver,
    namespace: &str,
    credentials: token::Credentials,
    pod: Option<&str>,
) -> serde_json::Value {
    let mut port = serde_json::Map::new();
    port.insert("name".into(), namespace.into());
    port.insert("namespace".into(), namespace.into());
    port.insert("host".into(), driver.cluster.server.clone().into());
    port.insert("skiptls".into(), driver.cluster.skip_tls_verify.into());
    port.insert("token".into(), credentials.token.into());
    port.insert("user".into(), SERVICE_ACCOUNT.into());
    if !driver.cluster.skip_tls_verify {
        port.insert("ca_crt".into(), credentials.ca_crt_base64.into());
    }
    if let Some(pod) = pod {
        port.insert("pod".into(), pod.into());
    }
    serde_json::Value::Object(port)
}
