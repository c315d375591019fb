//! The Kubernetes objects of an SSH node, all in the node's namespace (so they go with it and
//! leak cleanup finds them with it): the Secret with the host key, the executor's public key and
//! sshd's configuration; the pod changed to run sshd; the Service; and the optional Ingress.

use crate::drivers::common::objects::meta;
use crate::drivers::common::pod_body::PodBody;
use crate::drivers::spec::{IngressOptions, SshOptions};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    ContainerPort, Secret, SecretVolumeSource, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend, IngressSpec,
    ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The name of the node's Secret, Service and Ingress.
pub const NAME: &str = "kubepool-ssh";
/// Where the Secret is mounted in the container.
pub const MOUNT: &str = "/etc/kubepool-ssh";
pub const SSH_PORT: i32 = 22;

const HOST_KEY_FILE: &str = "ssh_host_ed25519_key";
const AUTHORIZED_KEYS_FILE: &str = "authorized_keys";
const SSHD_CONFIG_FILE: &str = "sshd_config";

/// sshd's configuration: the node's host key, keys only, no forwarding of agents or X11.
fn sshd_config(username: &str) -> String {
    format!(
        "Port {SSH_PORT}\n\
         HostKey /run/kubepool-ssh/{HOST_KEY_FILE}\n\
         AllowUsers {username}\n\
         PermitRootLogin prohibit-password\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         UsePAM no\n\
         AllowAgentForwarding no\n\
         X11Forwarding no\n\
         PidFile /run/kubepool-ssh/sshd.pid\n\
         Subsystem sftp internal-sftp\n"
    )
}

/// The container command: make the account (with a usable, password-less entry: a locked
/// account cannot log in with a key when PAM is off), install the keys with the modes sshd
/// insists on, then become sshd (it exits on SIGTERM, so deletion is quick).
fn start_script(username: &str) -> String {
    format!(
        r#"set -eu
u={username}
if ! id -u "$u" >/dev/null 2>&1; then useradd -m -s /bin/bash -p '*' "$u"; fi
h=$(getent passwd "$u" | cut -d: -f6)
mkdir -p /run/sshd /run/kubepool-ssh "$h/.ssh"
install -m 600 {MOUNT}/{HOST_KEY_FILE} /run/kubepool-ssh/{HOST_KEY_FILE}
install -m 600 -o "$u" {MOUNT}/{AUTHORIZED_KEYS_FILE} "$h/.ssh/authorized_keys"
chown "$u" "$h/.ssh" && chmod 700 "$h/.ssh"
exec /usr/sbin/sshd -D -e -f {MOUNT}/{SSHD_CONFIG_FILE}
"#
    )
}

/// The Secret of one node. Its data never appears in logs (kube's `Secret` Debug shows bytes,
/// so callers must not log it).
pub fn secret(
    namespace: &str,
    labels: &BTreeMap<String, String>,
    username: &str,
    host_key_file: &str,
    authorized_keys: &str,
) -> Secret {
    let data = BTreeMap::from([
        (HOST_KEY_FILE.to_string(), ByteString(host_key_file.as_bytes().to_vec())),
        (AUTHORIZED_KEYS_FILE.to_string(), ByteString(authorized_keys.as_bytes().to_vec())),
        (SSHD_CONFIG_FILE.to_string(), ByteString(sshd_config(username).into_bytes())),
    ]);
    Secret { metadata: meta(NAME, Some(namespace), labels), data: Some(data), ..Default::default() }
}

/// The label's pod body changed to run sshd as its first container's command, with the Secret
/// mounted read-only and port 22 declared.
pub fn ssh_pod_body(mut body: PodBody, options: &SshOptions) -> PodBody {
    let spec = body.spec_mut();
    spec.volumes.get_or_insert_with(Vec::new).push(Volume {
        name: NAME.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(NAME.into()),
            default_mode: Some(0o400),
            ..Default::default()
        }),
        ..Default::default()
    });
    if let Some(container) = spec.containers.first_mut() {
        container.command = Some(vec!["/bin/sh".into(), "-c".into()]);
        container.args = Some(vec![start_script(&options.username)]);
        container.volume_mounts.get_or_insert_with(Vec::new).push(VolumeMount {
            name: NAME.into(),
            mount_path: MOUNT.into(),
            read_only: Some(true),
            ..Default::default()
        });
        container.ports.get_or_insert_with(Vec::new).push(ContainerPort {
            name: Some("ssh".into()),
            container_port: SSH_PORT,
            protocol: Some("TCP".into()),
            ..Default::default()
        });
    }
    body
}

/// The Service in front of the node's pod, selected by its unique node-id label `node_id_key`.
pub fn service(namespace: &str, labels: &BTreeMap<String, String>, node_id_key: &str, options: &SshOptions) -> Service {
    let selector = labels.get(node_id_key).map(|id| BTreeMap::from([(node_id_key.to_string(), id.clone())]));
    Service {
        metadata: meta(NAME, Some(namespace), labels),
        spec: Some(ServiceSpec {
            type_: Some(options.service.kubernetes_name().into()),
            selector,
            ports: Some(vec![ServicePort {
                name: Some("ssh".into()),
                port: SSH_PORT,
                target_port: Some(IntOrString::Int(SSH_PORT)),
                node_port: options.node_port,
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// The Ingress to the Service, with the configured class and annotations.
pub fn ingress(namespace: &str, labels: &BTreeMap<String, String>, options: &IngressOptions) -> Ingress {
    let mut metadata = meta(NAME, Some(namespace), labels);
    metadata.annotations = Some(options.annotations.clone()).filter(|a| !a.is_empty());
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: NAME.into(),
            port: Some(ServiceBackendPort { number: Some(SSH_PORT), ..Default::default() }),
        }),
        ..Default::default()
    };
    Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: options.class.clone(),
            rules: Some(vec![IngressRule {
                host: Some(options.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath { path: Some("/".into()), path_type: "Prefix".into(), backend }],
                }),
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::spec::{AuthorizedKeys, ServiceType};

    fn options() -> SshOptions {
        SshOptions {
            username: "zuul".into(),
            authorized_keys: AuthorizedKeys::File("/k".into()),
            service: ServiceType::NodePort,
            node_port: Some(30022),
            address: None,
            ingress: None,
        }
    }

    #[test]
    fn service_selects_only_the_nodes_pod() {
        let labels = BTreeMap::from([("node".to_string(), "0000000007".to_string())]);
        let svc = service("ns", &labels, "node", &options());
        let spec = svc.spec.expect("spec");
        assert_eq!(spec.type_.as_deref(), Some("NodePort"));
        assert_eq!(spec.selector.expect("selector"), labels);
        assert_eq!(spec.ports.expect("ports")[0].node_port, Some(30022));
    }

    #[test]
    fn the_pod_runs_sshd_with_the_secret_mounted() {
        let template = crate::drivers::spec::PodTemplate::with_image("img", "Never");
        let body = PodBody::from_template("ssh-label", &template, BTreeMap::new()).expect("body");
        let body = ssh_pod_body(body, &options());
        let container = &body.spec().containers[0];
        let script = &container.args.as_ref().expect("args")[0];
        assert!(script.ends_with(&format!("exec /usr/sbin/sshd -D -e -f {MOUNT}/{SSHD_CONFIG_FILE}\n")));
        assert!(script.contains("u=zuul\n"));
        assert_eq!(container.volume_mounts.as_ref().expect("mounts")[0].mount_path, MOUNT);
        let volume = &body.spec().volumes.as_ref().expect("volumes")[0];
        assert_eq!(volume.secret.as_ref().and_then(|s| s.secret_name.as_deref()), Some(NAME));
    }

    #[test]
    fn sshd_allows_only_keys_for_the_one_user() {
        let config = sshd_config("zuul");
        assert!(config.contains("AllowUsers zuul\n"));
        assert!(config.contains("PasswordAuthentication no\n"));
    }
}
