//! `zuul-scheduler smart-reconfigure` when the tenant config changes, instead of a restart.
//!
//! The scheduler StatefulSet carries the SHA-256 of the tenant config in [`TENANT_HASH`]. When a
//! pass changes it, the operator execs into one ready scheduler pod: the command first waits
//! until the kubelet has updated the mounted file to exactly that content (ConfigMap and Secret
//! volumes follow within about a minute), then asks the scheduler to reconfigure. New scheduler
//! pods read the file at start and need nothing.

use super::names::{COMPONENT_LABEL, Names, ZUUL_LABEL};
use super::zuulconf::TENANT_DIR;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, ListParams};
use tokio::io::AsyncReadExt;

/// Annotation of the scheduler StatefulSet: SHA-256 (hex) of the tenant config it should run.
pub const TENANT_HASH: &str = "operator.zuul-ci.org/tenant-hash";
/// How long the pod waits for the kubelet to update the mounted tenant config.
const WAIT_SECONDS: u32 = 180;

/// Why a reconfiguration did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReconfigureError {
    #[error("listing the scheduler pods: {0}")]
    List(#[source] kube::Error),
    #[error("no scheduler pod is ready")]
    NoReadyScheduler,
    #[error("exec in {pod}: {source}")]
    Exec {
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("in {pod}: {message}")]
    Failed { pod: String, message: String },
}

/// SHA-256 (hex) of `content`, as `sha256sum` prints it.
pub fn tenant_hash(content: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, content.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The shell command run in the scheduler pod (the hash is hex, so it needs no quoting).
pub fn command(hash: &str) -> String {
    command_for(&format!("{TENANT_DIR}/main.yaml"), hash, WAIT_SECONDS)
}

fn command_for(file: &str, hash: &str, wait_seconds: u32) -> String {
    format!(
        "f={file}; i=0; \
         until [ \"$(sha256sum < $f | cut -d' ' -f1)\" = {hash} ]; do \
           i=$((i+1)); [ $i -gt {wait_seconds} ] && {{ echo \"$f did not get the new content\" >&2; exit 3; }}; sleep 1; \
         done; exec zuul-scheduler smart-reconfigure"
    )
}

/// Runs the reconfiguration in one ready scheduler pod; returns the pod's name.
pub async fn smart_reconfigure(client: &kube::Client, names: &Names, hash: &str) -> Result<String, ReconfigureError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &names.namespace);
    let selector = format!("{ZUUL_LABEL}={},{COMPONENT_LABEL}=scheduler", names.zuul);
    let list = pods.list(&ListParams::default().labels(&selector)).await.map_err(ReconfigureError::List)?;
    let pod = list.items.into_iter().find(ready).ok_or(ReconfigureError::NoReadyScheduler)?;
    let name = kube::ResourceExt::name_any(&pod);
    let params = AttachParams::default().container("scheduler").stdin(false).stdout(true).stderr(true);
    let mut process = pods
        .exec(&name, ["/bin/sh", "-c", &command(hash)], &params)
        .await
        .map_err(|source| ReconfigureError::Exec { pod: name.clone(), source })?;
    let mut stderr = String::new();
    if let Some(mut err) = process.stderr() {
        let _ = err.read_to_string(&mut stderr).await;
    }
    let status = match process.take_status() {
        Some(status) => status.await,
        None => None,
    };
    let _ = process.join().await;
    match status {
        Some(s) if s.status.as_deref() == Some("Success") => Ok(name),
        Some(s) => Err(ReconfigureError::Failed {
            pod: name,
            message: format!("{} {}", s.message.unwrap_or_default(), stderr.trim()),
        }),
        None => Err(ReconfigureError::Failed { pod: name, message: format!("no exit status {}", stderr.trim()) }),
    }
}

#[cfg(test)]
mod tests {
    use super::{command_for, tenant_hash};
    use std::process::Command;

    /// Runs the pod's command with `sh`, a `zuul-scheduler` stand-in on PATH that records its
    /// arguments, and the file updated after a second (as the kubelet would).
    #[test]
    fn the_command_waits_for_the_new_file_then_reconfigures() {
        let dir = std::env::temp_dir().join(format!("kp-reconf-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("main.yaml");
        std::fs::write(&file, "old\n").expect("old");
        let stand_in = dir.join("zuul-scheduler");
        std::fs::write(&stand_in, format!("#!/bin/sh\necho \"$@\" > {}/called\n", dir.display())).expect("stand-in");
        let _ = Command::new("chmod").arg("+x").arg(&stand_in).status();
        let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
        let mut child = Command::new("sh")
            .args(["-c", &command_for(&file.display().to_string(), &tenant_hash("new\n"), 20)])
            .env("PATH", path)
            .spawn()
            .expect("sh");
        std::thread::sleep(std::time::Duration::from_millis(1200));
        assert!(!dir.join("called").exists(), "not before the file has the new content");
        std::fs::write(&file, "new\n").expect("new");
        assert!(child.wait().expect("wait").success());
        let called = std::fs::read_to_string(dir.join("called")).expect("called");
        assert_eq!(called.trim(), "smart-reconfigure");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_hash_is_what_sha256sum_prints() {
        // printf 'a\n' | sha256sum
        assert_eq!(super::tenant_hash("a\n"), "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7");
    }
}
