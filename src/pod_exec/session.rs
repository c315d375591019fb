//! A whole `kubepool exec`: start the command under the supervisor and, when the stream is lost
//! after the command started, re-attach from the byte offsets already received until the
//! command's exit code is known (or `resume_for` has passed). A stream that ends without a
//! status is never reported as success.

use super::channel::{Channel, RunEnd};
use super::spare::Spare;
use super::status::Outcome;
use super::stream::{self, Ended, Progress, StdinFeed};
use super::supervisor::{attach_argv, new_run_id, spare_command_line, start_argv};
use super::{ExecError, Target};
use bytes::Bytes;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

pub use stream::Sinks;

/// What to run, and how long to keep trying to re-attach after a lost stream.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ExecRequest {
    pub target: Target,
    pub command: Vec<String>,
    /// Pass stdin to the command.
    pub stdin: bool,
    /// Seconds to keep re-attaching after the stream was lost.
    pub resume_seconds: u64,
    /// stdin is exactly this many bytes (lets the agent send it, whole, over a container's
    /// persistent channel).
    #[serde(default)]
    pub stdin_bytes: Option<u64>,
}

/// Largest stdin chunk sent in one message.
const CHUNK: usize = 256 * 1024;
/// Attempts to open the first stream when the API server cannot be reached (nothing ran yet).
const START_ATTEMPTS: u32 = 3;

/// Reads `source` in chunks into a feed; the feed closes at the end of the source.
pub fn feed_stdin(mut source: Box<dyn AsyncRead + Unpin + Send>) -> StdinFeed {
    let (sender, receiver) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let mut buffer = vec![0u8; CHUNK];
            match source.read(&mut buffer).await {
                Ok(0) => break,
                Ok(n) => {
                    buffer.truncate(n);
                    if sender.send(Ok(Bytes::from(buffer))).await.is_err() {
                        break;
                    }
                }
                Err(error) => {
                    let _ = sender.send(Err(error)).await;
                    break;
                }
            }
        }
    });
    receiver
}

/// A command that ended with a known exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    pub code: i32,
    /// Its files in the pod may go: pass it as `received` to a later run in the same container.
    pub run_id: String,
}

/// Runs `request` and returns the command's exit code.
pub async fn run(
    client: &kube::Client,
    request: &ExecRequest,
    stdin: Option<StdinFeed>,
    sinks: &mut Sinks,
) -> Result<i32, ExecError> {
    run_after(client, request, stdin, sinks, &[], None).await.map(|completed| completed.code)
}

/// [`run`], removing the files of the `received` runs of the same container when it starts;
/// on `spare` when one is given (a fresh stream when the spare turns out to be gone before the
/// command started).
pub async fn run_after(
    client: &kube::Client,
    request: &ExecRequest,
    stdin: Option<StdinFeed>,
    sinks: &mut Sinks,
    received: &[String],
    spare: Option<Spare>,
) -> Result<Completed, ExecError> {
    run_as(client, request, if request.stdin { stdin } else { None }, sinks, received, spare, new_run_id()).await
}

/// [`run_after`] with the run id `id`: a second start of the same id fails in the pod (its
/// directory exists), so a run whose first start is in doubt can be started again safely.
async fn run_as(
    client: &kube::Client,
    request: &ExecRequest,
    mut feed: Option<StdinFeed>,
    sinks: &mut Sinks,
    received: &[String],
    spare: Option<Spare>,
    id: String,
) -> Result<Completed, ExecError> {
    let target = &request.target;
    let mut progress = Progress::default();
    let argv = start_argv(&id, received, feed.is_some(), &request.command);

    if let Some(spare) = spare {
        let line = spare_command_line(&argv);
        let first =
            stream::pump_stream(spare.websocket, spare.protocol_v5, Some(line), feed.as_mut(), sinks, &mut progress)
                .await?;
        tracing::debug!("spare exec stream of run {id} ended: {}", first.ended);
        if first.banner_seen {
            let reason = match first.ended {
                Ended::Status(outcome) => {
                    let code = finish_checked(client, target, &id, outcome, true).await?;
                    return Ok(Completed { code, run_id: id });
                }
                Ended::Lost(reason) => reason,
            };
            if feed.is_some() && !first.stdin_done {
                return Err(ExecError::Lost { when: "while sending stdin to the command", reason });
            }
            let code = resume(client, target, &id, request.resume_seconds, sinks, &mut progress, reason).await?;
            return Ok(Completed { code, run_id: id });
        }
        // The spare ended before its banner: did the command start?
        let reason = format!("spare exec stream: {}", first.ended);
        if first.stdin_started {
            return Err(ExecError::Lost { when: "while sending stdin to the command", reason });
        }
        if started_in_pod(client, target, &id).await? {
            let code = resume(client, target, &id, request.resume_seconds, sinks, &mut progress, reason).await?;
            return Ok(Completed { code, run_id: id });
        }
        tracing::debug!("run {id} did not start on its spare ({reason}); starting it on a fresh stream");
    }

    let mut tries = 0;
    let connection = loop {
        tries += 1;
        match stream::connect(client, target, argv.clone(), feed.is_some()).await {
            Ok(connection) => break connection,
            Err(ExecError::Connect { source: kube::Error::Api(status), pod }) => {
                return Err(ExecError::Remote { pod, message: status.message });
            }
            Err(error) if tries < START_ATTEMPTS => {
                tracing::debug!(%error, "cannot open the exec stream; retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(tries))).await;
            }
            Err(error) => return Err(error),
        }
    };
    let first = stream::pump(connection, feed.as_mut(), sinks, &mut progress).await?;
    tracing::debug!(protocol_v5 = first.protocol_v5, "exec stream of run {id} ended: {}", first.ended);
    let reason = match first.ended {
        Ended::Status(outcome) => {
            let code = finish_checked(client, target, &id, outcome, first.banner_seen).await?;
            return Ok(Completed { code, run_id: id });
        }
        Ended::Lost(reason) => reason,
    };
    if !first.banner_seen {
        return Err(ExecError::Lost { when: "before the command started", reason });
    }
    if feed.is_some() && !first.stdin_done {
        return Err(ExecError::Lost { when: "while sending stdin to the command", reason });
    }
    let code = resume(client, target, &id, request.resume_seconds, sinks, &mut progress, reason).await?;
    Ok(Completed { code, run_id: id })
}

/// [`run_after`] over a container's persistent `channel` ([`super::channel`]); `request` has
/// no stdin or `stdin_bytes` of it. A run lost after it started is re-attached on a fresh
/// stream as any other; one that did not start (the channel was gone) starts on a fresh stream
/// under the same id, unless its stdin was already taken. Gives the channel back when it can
/// take the next request.
pub async fn run_on_channel(
    client: &kube::Client,
    request: &ExecRequest,
    stdin: Option<StdinFeed>,
    sinks: &mut Sinks,
    received: &[String],
    mut channel: Channel,
) -> (Result<Completed, ExecError>, Option<Channel>) {
    let target = &request.target;
    let id = new_run_id();
    let mut progress = Progress::default();
    let mut feed = if request.stdin { stdin } else { None };
    let size = feed.as_ref().map(|_| request.stdin_bytes.unwrap_or(0));
    let argv = start_argv(&id, received, false, &request.command);
    let ended = channel.run(&argv, size.zip(feed.as_mut()), sinks, &mut progress).await;
    let end = match ended {
        Ok(end) => end,
        Err(error) => return (Err(error), None),
    };
    tracing::debug!(pod = %target.pod, "run {id} on the channel: {end}");
    let (reason, started, server_exit) = match end {
        RunEnd::Exited(code) => return (Ok(Completed { code, run_id: id }), Some(channel)),
        RunEnd::NotStarted => {
            let error = ExecError::NoSupervisor { pod: target.pod.clone(), status: Some(super::EXIT_UNKNOWN) };
            return (Err(error), Some(channel));
        }
        RunEnd::NoExitCode => {
            let message = format!("the command of run {id} ended without an exit code");
            return (Err(ExecError::Remote { pod: target.pod.clone(), message }), Some(channel));
        }
        RunEnd::Broken { reason, started, server_exit, .. } => (reason, started, server_exit),
    };
    drop(channel);
    let result = async {
        // With stdin, a run whose banner never came is not probed: the channel makes the run's
        // directory before it reads the stdin, and removes it when the stdin does not end whole.
        if !started && size.is_some_and(|size| size > 0) {
            return Err(ExecError::Lost { when: "while sending stdin to the command", reason });
        }
        let started = started || started_in_pod(client, target, &id).await?;
        if let Some(outcome) = server_exit
            && started
        {
            let status = match outcome {
                super::status::Outcome::Exited(code) => format!("exit status {code}"),
                super::status::Outcome::Failed(message) => message,
            };
            return Err(ExecError::Remote {
                pod: target.pod.clone(),
                message: format!(
                    "kubepool's supervisor of run {id} (the channel's server) ended with {status} (killed?) before the command's exit status was recorded"
                ),
            });
        }
        if started {
            let code = resume(client, target, &id, request.resume_seconds, sinks, &mut progress, reason).await?;
            return Ok(Completed { code, run_id: id.clone() });
        }
        tracing::debug!("run {id} did not start on its channel ({reason}); starting it on a fresh stream");
        run_as(client, request, None, sinks, received, None, id.clone()).await
    }
    .await;
    (result, None)
}

async fn resume(
    client: &kube::Client,
    target: &Target,
    id: &str,
    seconds: u64,
    sinks: &mut Sinks,
    progress: &mut Progress,
    mut reason: String,
) -> Result<i32, ExecError> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut delay = Duration::from_millis(100);
    loop {
        tracing::warn!(
            "exec stream to pod {} lost ({reason}); re-attaching to run {id} at stdout byte {}, stderr byte {}",
            target.pod,
            progress.stdout,
            progress.stderr
        );
        if Instant::now() >= deadline {
            return Err(ExecError::ResumeTimeout { pod: target.pod.clone(), seconds, reason });
        }
        match stream::connect(client, target, attach_argv(id, progress.stdout, progress.stderr), false).await {
            Ok(connection) => {
                let result = stream::pump(connection, None, sinks, progress).await?;
                match result.ended {
                    Ended::Status(outcome) => {
                        return finish_checked(client, target, id, outcome, result.banner_seen).await;
                    }
                    Ended::Lost(lost) => reason = lost,
                }
            }
            Err(error) => reason = error.to_string(),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// Whether run `id` exists in the container (its supervisor started it).
async fn started_in_pod(client: &kube::Client, target: &Target, id: &str) -> Result<bool, ExecError> {
    probe(client, target, r#"[ -d "${TMPDIR:-/tmp}/.kubepool-exec/$1" ]"#, id).await
}

/// [`finish`]; an exit status of a signal (128 + n) is the command's only if the supervisor
/// recorded it: a supervisor killed in the pod (`kill -9`) also ends the stream with one.
async fn finish_checked(
    client: &kube::Client,
    target: &Target,
    id: &str,
    outcome: Outcome,
    banner_seen: bool,
) -> Result<i32, ExecError> {
    let code = finish(target, outcome, banner_seen)?;
    if code >= 128 && !probe(client, target, r#"[ -f "${TMPDIR:-/tmp}/.kubepool-exec/$1/rc" ]"#, id).await? {
        return Err(ExecError::Remote {
            pod: target.pod.clone(),
            message: format!(
                "kubepool's supervisor of run {id} ended with exit status {code} (killed?) before the command's exit status was recorded"
            ),
        });
    }
    Ok(code)
}

/// Runs the sh test `test` (with the run id as `$1`) in the container: true or false.
async fn probe(client: &kube::Client, target: &Target, test: &str, id: &str) -> Result<bool, ExecError> {
    tracing::debug!(pod = %target.pod, "probing run {id}: {test}");
    let argv = ["/bin/sh", "-c", test, "kubepool-probe", id];
    let connection = stream::connect(client, target, argv.iter().map(|a| a.to_string()).collect(), false).await?;
    let mut sinks = Sinks { stdout: Box::new(tokio::io::sink()), stderr: Box::new(tokio::io::sink()) };
    let result = stream::pump(connection, None, &mut sinks, &mut Progress::default()).await?;
    tracing::debug!(pod = %target.pod, "probe of run {id}: {}", result.ended);
    match result.ended {
        Ended::Status(Outcome::Exited(code)) => Ok(code == 0),
        other => Err(ExecError::Lost { when: "before the command started", reason: other.to_string() }),
    }
}

fn finish(target: &Target, outcome: Outcome, banner_seen: bool) -> Result<i32, ExecError> {
    match outcome {
        Outcome::Exited(code) if banner_seen => Ok(code),
        Outcome::Exited(code) => Err(ExecError::NoSupervisor { pod: target.pod.clone(), status: Some(code) }),
        Outcome::Failed(message) => Err(ExecError::Remote { pod: target.pod.clone(), message }),
    }
}
