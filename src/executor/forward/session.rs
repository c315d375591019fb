//! One local connection: open its own upstream stream (retrying with backoff while the API
//! server is unreachable), then copy bytes both ways until either side ends.

use super::Shared;
use super::upstream::{self, Failure};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpStream;

pub async fn serve(shared: Arc<Shared>, mut local: TcpStream, remote: u16) {
    let deadline = Instant::now() + shared.options.connect_deadline;
    let mut backoff = shared.options.min_backoff;
    let mut attempt = 0u32;
    let (mut upstream, pod_error) = loop {
        if shared.is_gone() {
            return;
        }
        attempt += 1;
        match upstream::open(&shared, remote).await {
            Ok(opened) => {
                if attempt > 1 {
                    tracing::info!(pod = %shared.pod, remote, attempt, "API connection re-established");
                }
                break opened;
            }
            Err(Failure::Gone(reason)) => return shared.report_gone(&reason),
            Err(Failure::Transient(reason)) => {
                if Instant::now() + backoff > deadline {
                    tracing::warn!(pod = %shared.pod, remote, attempt, %reason, "API server unreachable; closing the local connection");
                    return;
                }
                // One warning per outage and connection; the retries after it at debug level, so
                // that a long outage does not fill a log pipe nobody reads (Zuul's KubeFwd).
                if attempt == 1 {
                    tracing::warn!(pod = %shared.pod, remote, %reason, "cannot open a port-forward stream; retrying with backoff");
                } else {
                    tracing::debug!(pod = %shared.pod, remote, attempt, %reason, retry_in_seconds = backoff.as_secs_f64(), "retrying");
                }
                if client_left(&local, backoff).await {
                    tracing::debug!(pod = %shared.pod, remote, "the local client left while waiting for the API server");
                    return;
                }
                backoff = (backoff * 2).min(shared.options.max_backoff);
            }
        }
    };
    // Only an actual message from the pod side ends the copy early; when the WebSocket ends
    // the error sender is dropped too, and the copy must still drain what was received.
    let pod_error = async move {
        match pod_error.await {
            Some(message) => message,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut local, &mut upstream) => match copied {
            Ok((to_pod, from_pod)) => tracing::debug!(pod = %shared.pod, remote, to_pod, from_pod, "connection closed"),
            Err(error) => tracing::info!(pod = %shared.pod, remote, %error, "connection ended (API connection dropped?)"),
        },
        message = pod_error => {
            tracing::warn!(pod = %shared.pod, remote, %message, "port-forward error from the pod side");
            if let Err(Failure::Gone(reason)) = upstream::check_pod(&shared).await {
                shared.report_gone(&reason);
            }
        }
    }
}

/// Waits `wait`; true as soon as the local client closes its connection meanwhile. (A client
/// that already sent its command cannot be watched without reading it: then just waits.)
async fn client_left(local: &TcpStream, wait: std::time::Duration) -> bool {
    let mut byte = [0u8; 1];
    tokio::select! {
        () = tokio::time::sleep(wait) => false,
        peeked = local.peek(&mut byte) => match peeked {
            Ok(0) | Err(_) => true,
            Ok(_) => {
                tokio::time::sleep(wait).await;
                false
            }
        },
    }
}
