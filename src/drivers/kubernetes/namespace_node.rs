//! A `type: namespace` node (reference §4.2): namespace `<pool>-<node id>`, service account
//! `zuul-worker` with an explicit token Secret, Role `zuul` and RoleBinding `zuul-role`.
//!
//! Objects are created with idempotent creates, the Role and RoleBinding while the token
//! controller fills the Secret, and the token is awaited by watch. A failed attempt deletes the
//! namespace and waits until it is gone, so the next attempt starts clean.

use super::objects::{self, NAMESPACE_ROLE, NAMESPACE_ROLE_BINDING, SERVICE_ACCOUNT, TOKEN_SECRET};
use super::{KubernetesDriver, LabelSpec, api, token};
use crate::drivers::metadata;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::Api;
use kubepool_driver_api::{LaunchError, LaunchProgress, LaunchedNode, NodeSpec};
use tracing::{debug, warn};

pub async fn launch(
    driver: &KubernetesDriver,
    spec: &NodeSpec,
    label: &LabelSpec,
    progress: &dyn LaunchProgress,
) -> Result<LaunchedNode, LaunchError> {
    let name = KubernetesDriver::namespace_name(&spec.pool, &spec.node_id);
    progress.external_id(&name).await;
    match create_objects(driver, spec, label, &name).await {
        Ok(credentials) => Ok(node_record(driver, label, &name, credentials)),
        Err(error) => {
            warn!(namespace = %name, %error, "launch attempt failed; removing its namespace");
            if let Err(cleanup) = api::delete_and_wait(&driver.namespaces(), &name, driver.timeouts.delete).await {
                // The cleanup worker finds it by label later; the launch error is what matters.
                warn!(namespace = %name, error = %cleanup, "could not remove the namespace of a failed attempt");
            }
            Err(error)
        }
    }
}

async fn create_objects(
    driver: &KubernetesDriver,
    spec: &NodeSpec,
    label: &LabelSpec,
    name: &str,
) -> Result<token::Credentials, LaunchError> {
    let labels = metadata::object_labels(spec, &label.labels, &label.dynamic_labels)
        .map_err(|e| LaunchError::Permanent(e.to_string()))?;
    let client = &driver.cluster.client;
    api::create_idempotent(&driver.namespaces(), &objects::namespace(name, &labels))
        .await
        .map_err(|e| api::launch_error("create namespace", e))?;
    debug!(namespace = %name, "namespace created");

    let service_accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), name);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), name);
    let roles: Api<Role> = Api::namespaced(client.clone(), name);
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), name);

    api::create_idempotent(&service_accounts, &objects::service_account(name, &labels))
        .await
        .map_err(|e| api::launch_error("create service account", e))?;
    api::create_idempotent(&secrets, &objects::token_secret(name, &labels))
        .await
        .map_err(|e| api::launch_error("create token secret", e))?;

    let rbac = async {
        api::create_idempotent(&roles, &objects::namespace_role(name, &labels))
            .await
            .map_err(|e| api::launch_error("create role", e))?;
        api::create_idempotent(&bindings, &objects::role_binding(name, NAMESPACE_ROLE_BINDING, NAMESPACE_ROLE, &labels))
            .await
            .map_err(|e| api::launch_error("create role binding", e))
    };
    let credentials = async {
        token::wait_for_credentials(&secrets, TOKEN_SECRET, driver.timeouts.token).await.map_err(LaunchError::Transient)
    };
    let ((), credentials) = tokio::try_join!(rbac, credentials)?;
    Ok(credentials)
}

/// The node record's connection fields (reference §5, kubernetes namespace column).
fn node_record(
    driver: &KubernetesDriver,
    label: &LabelSpec,
    name: &str,
    credentials: token::Credentials,
) -> LaunchedNode {
    let mut port = serde_json::Map::new();
    port.insert("name".into(), name.into());
    port.insert("namespace".into(), name.into());
    port.insert("host".into(), driver.cluster.server.clone().into());
    port.insert("skiptls".into(), driver.cluster.skip_tls_verify.into());
    port.insert("token".into(), credentials.token.into());
    port.insert("user".into(), SERVICE_ACCOUNT.into());
    if !driver.cluster.skip_tls_verify {
        port.insert("ca_crt".into(), credentials.ca_crt_base64.into());
    }
    LaunchedNode {
        external_id: name.to_string(),
        connection_type: "namespace".to_string(),
        connection_port: serde_json::Value::Object(port),
        interface_ip: None,
        host_id: None,
        python_path: Some(label.python_path.clone()),
        shell_type: label.shell_type.clone(),
        username: None,
        host_keys: Vec::new(),
    }
}
