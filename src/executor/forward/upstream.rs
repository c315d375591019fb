//! Opening one port-forward stream to the pod, and telling a passing API failure from a pod
//! that is gone.

use super::Shared;
use std::future::Future;
use tokio::io::DuplexStream;

/// Why a stream could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The pod (or its namespace) no longer exists, or it has finished: no use retrying.
    Gone(String),
    /// The API server was unreachable or refused for now: retry.
    Transient(String),
}

/// A stream to `remote` in the pod, and a future that resolves with the pod side's error
/// message, if it sends one.
pub async fn open(
    shared: &Shared,
    remote: u16,
) -> Result<(DuplexStream, impl Future<Output = Option<String>> + use<>), Failure> {
    let mut forwarder = shared.pods.portforward(&shared.pod, &[remote]).await.map_err(|e| classify(&e))?;
    let stream = forwarder.take_stream(remote).ok_or_else(|| Failure::Transient("no stream for the port".into()))?;
    let errors = forwarder.take_error(remote);
    let error_message = async move {
        match errors {
            Some(errors) => errors.await,
            None => None,
        }
    };
    // The forwarder's task runs on its own; the stream ends when the WebSocket does.
    drop(forwarder);
    Ok((stream, error_message))
}

fn classify(error: &kube::Error) -> Failure {
    match error {
        kube::Error::Api(status) if status.code == 404 => Failure::Gone(format!("not found ({})", status.message)),
        other => Failure::Transient(other.to_string()),
    }
}

/// Is the pod still there and not finished? Asked after the pod side reported an error.
pub async fn check_pod(shared: &Shared) -> Result<(), Failure> {
    match shared.pods.get(&shared.pod).await {
        Ok(pod) => {
            let phase = pod.status.and_then(|s| s.phase).unwrap_or_default();
            if phase == "Succeeded" || phase == "Failed" {
                Err(Failure::Gone(format!("finished ({phase})")))
            } else {
                Ok(())
            }
        }
        Err(error) => Err(classify(&error)),
    }
}
