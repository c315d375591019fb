//! Waiting until a pod node is usable — by watch, not by polling — and failing fast, with the
//! cluster's reason, when it never will be.
//!
//! Usable means: the container to exec into is running *and* the node's own credentials can
//! `exec` into it (a pod can be `Running` before the kubelet accepts an exec).

use super::pod_status::{PodProgress, assess};
use super::schedulable;
use crate::drivers::common::wait_progress::{self, Ticker};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Node, Pod, PodSpec};
use kube::api::{Api, AttachParams, ListParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, watcher};
use kubepool_driver_api::LaunchError;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// Watches pod `name` until its container `container` runs; returns the Kubernetes node it
/// runs on. A pod that can never start fails with [`LaunchError::Permanent`] and the reason.
/// While it waits, each new reason the pod gives (`ErrImagePull`, `ImagePullBackOff` ...) is
/// logged as it comes, with the pod's new warning events (from `events`), and every
/// [`wait_progress::EVERY`] a line says how long it has waited and the last reason seen: a slow
/// start is not silence until the timeout.
pub async fn wait_until_running(
    pods: &Api<Pod>,
    nodes: &Api<Node>,
    events: &Api<Event>,
    name: &str,
    container: &str,
    spec: &PodSpec,
    deadline: Instant,
) -> Result<Option<String>, LaunchError> {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = std::pin::pin!(watcher(pods.clone(), config).default_backoff());
    let started = Instant::now();
    let mut progress = Progress::default();
    let mut last_reason: Option<String> = None;
    let mut judged_unschedulable: Option<String> = None;
    let mut ticker = Ticker::new(wait_progress::EVERY);
    loop {
        let next = tokio::select! {
            biased;
            next = stream.next() => next,
            () = tokio::time::sleep_until(ticker.next()), if ticker.next() < deadline => {
                if let Some(waited) = ticker.due(Instant::now()) {
                    let last_seen = last_reason.as_deref().unwrap_or("no reason given yet");
                    info!(pod = %name, waited_seconds = waited.as_secs(), last_seen, "waiting for the pod to run");
                }
                continue;
            }
            () = tokio::time::sleep_until(deadline) => {
                let why = last_reason.map(|r| format!("; last seen: {r}")).unwrap_or_default();
                return Err(LaunchError::Transient(format!("pod {name} did not start in time{why}")));
            }
        };
        let event = match next {
            None => return Err(LaunchError::Transient(format!("the watch of pod {name} ended"))),
            Some(Err(error)) => {
                debug!(pod = %name, %error, "pod watch error; the watcher retries");
                continue;
            }
            Some(Ok(event)) => event,
        };
        let pod = match event {
            watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => pod,
            watcher::Event::Delete(_) => {
                return Err(LaunchError::Transient(format!("pod {name} was deleted while it started")));
            }
            watcher::Event::Init | watcher::Event::InitDone => continue,
        };
        match assess(&pod, container) {
            PodProgress::Running { host } => return Ok(host),
            PodProgress::CannotStart(why) => return Err(LaunchError::Permanent(why)),
            PodProgress::Starting(reason) => {
                if let Some(reason) = &reason {
                    progress.report(events, name, reason, started.elapsed()).await;
                }
                last_reason = reason.or(last_reason);
            }
            PodProgress::Unschedulable(message) => {
                if judged_unschedulable.as_deref() != Some(message.as_str()) {
                    judged_unschedulable = Some(message.clone());
                    if !could_ever_fit(nodes, spec).await {
                        return Err(LaunchError::Permanent(format!("the pod can never be scheduled: {message}")));
                    }
                    debug!(pod = %name, %message, "unschedulable for now; waiting for capacity");
                }
                last_reason = Some(format!("unschedulable: {message}"));
            }
        }
    }
}

/// What has been logged of a starting pod: its last reason and the warning events seen.
#[derive(Default)]
struct Progress {
    reason: Option<String>,
    events: std::collections::HashSet<String>,
}

impl Progress {
    /// Logs `reason` if it is new, and then the pod's warning events not logged yet.
    async fn report(&mut self, events: &Api<Event>, pod: &str, reason: &str, waited: Duration) {
        if self.reason.as_deref() == Some(reason) {
            return;
        }
        self.reason = Some(reason.to_string());
        let waited_seconds = waited.as_secs();
        info!(pod, waited_seconds, reason, "pod not running yet");
        for event in warning_events(events, pod).await {
            if self.events.insert(event.clone()) {
                warn!(pod, waited_seconds, event = %event, "pod warning event");
            }
        }
    }
}

/// Whether some node of the cluster could hold the pod. If the nodes cannot be listed, it is
/// given the benefit of the doubt (and waits until the start timeout).
async fn could_ever_fit(nodes: &Api<Node>, spec: &PodSpec) -> bool {
    match nodes.list(&ListParams::default()).await {
        Ok(list) => schedulable::fits_some_node(spec, &list.items),
        Err(error) => {
            warn!(%error, "cannot list the cluster's nodes to judge an unschedulable pod; waiting");
            true
        }
    }
}

/// The pod's most recent warning events, `reason: message`, newest last (at most three).
pub async fn warning_events(events: &Api<Event>, pod: &str) -> Vec<String> {
    let params = ListParams::default().fields(&format!("involvedObject.kind=Pod,involvedObject.name={pod}"));
    let Ok(list) = events.list(&params).await else { return Vec::new() };
    let mut warnings: Vec<&Event> = list.items.iter().filter(|e| e.type_.as_deref() == Some("Warning")).collect();
    warnings.sort_by_key(|e| e.last_timestamp.clone().or(e.first_timestamp.clone()).map(|t| t.0));
    let mut out: Vec<String> = Vec::new();
    for e in warnings {
        let line = format!("{}: {}", e.reason.as_deref().unwrap_or("?"), e.message.as_deref().unwrap_or("").trim());
        out.retain(|l| *l != line);
        out.push(line);
    }
    let keep = out.len().saturating_sub(3);
    out.split_off(keep)
}

/// Why an exec probe did not succeed.
#[derive(Debug)]
enum ProbeFailure {
    /// Worth another try (the kubelet or RBAC is not there yet).
    NotYet(String),
    /// The container cannot run what every Zuul job runs.
    Never(String),
}

/// Runs `/bin/sh -c 'echo <marker>'` in the container with `pods` (a client holding the node's own
/// credentials) until it succeeds, the container proves unable, or the deadline passes.
pub async fn wait_until_exec_works(
    pods: &Api<Pod>,
    name: &str,
    container: &str,
    deadline: Instant,
) -> Result<(), LaunchError> {
    let mut delay = Duration::from_millis(100);
    let mut ticker = Ticker::new(wait_progress::EVERY);
    loop {
        match probe(pods, name, container).await {
            Ok(()) => return Ok(()),
            Err(ProbeFailure::Never(why)) => return Err(LaunchError::Permanent(why)),
            Err(ProbeFailure::NotYet(why)) => {
                if Instant::now() + delay >= deadline {
                    return Err(LaunchError::Transient(format!(
                        "the node's credentials could not exec into pod {name} in time: {why}"
                    )));
                }
                match ticker.due(Instant::now()) {
                    Some(waited) => info!(
                        pod = %name,
                        waited_seconds = waited.as_secs(),
                        %why,
                        "waiting until the node's credentials can exec into the pod"
                    ),
                    None => debug!(pod = %name, %why, "exec not possible yet"),
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// What the probe command prints; only its arrival proves the exec ran.
const PROBE_MARKER: &str = "kubepool-exec-ok";

/// Runtime messages that mean the shell is not in the image.
const NO_SHELL: [&str; 2] = ["executable file not found", "no such file or directory"];

async fn probe(pods: &Api<Pod>, name: &str, container: &str) -> Result<(), ProbeFailure> {
    let params = AttachParams::default().container(container).stdin(false).stdout(true).stderr(true);
    let mut attached = pods
        .exec(name, ["/bin/sh", "-c", &format!("echo {PROBE_MARKER}")], &params)
        .await
        .map_err(|e| ProbeFailure::NotYet(format!("exec: {e}")))?;
    let status = attached.take_status().ok_or_else(|| ProbeFailure::NotYet("no status channel".into()))?;
    let read = |stream: Option<tokio::io::ReadHalf<tokio::io::SimplexStream>>| async move {
        let mut text = String::new();
        if let Some(mut stream) = stream {
            // Bounded: the probe writes one short line.
            let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut text)).await;
        }
        text
    };
    let (stdout_text, stderr_text) = tokio::join!(read(attached.stdout()), read(attached.stderr()));
    let status = tokio::time::timeout(Duration::from_secs(10), status).await.ok().flatten();
    let _ = attached.join().await;
    match status {
        // Some runtimes report success for an exec that never ran: trust only the output.
        Some(s) if s.status.as_deref() == Some("Success") && stdout_text.trim() == PROBE_MARKER => Ok(()),
        Some(s) if s.status.as_deref() == Some("Success") => {
            Err(ProbeFailure::NotYet(format!("exec reported success without the probe's output ({stdout_text:?})")))
        }
        Some(s) => {
            let message = s.message.unwrap_or_default();
            let message = if message.is_empty() { stderr_text.trim().to_string() } else { message };
            if NO_SHELL.iter().any(|m| message.contains(m)) {
                Err(ProbeFailure::Never(format!(
                    "container {container} cannot run /bin/sh, which every Zuul job needs: {message}"
                )))
            } else {
                Err(ProbeFailure::NotYet(format!("exec failed: {message}")))
            }
        }
        None => Err(ProbeFailure::NotYet("the exec stream ended without an exit status".into())),
    }
}
