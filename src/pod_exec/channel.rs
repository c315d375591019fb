//! The persistent channel: one exec stream per container whose in-pod side (the supervisor's
//! `channel` mode) runs one command after another, so a command costs no exec handshake and
//! no runtime `exec` (the API server, kubelet and container runtime are done with once per
//! channel). Each run is the supervisor's ordinary run: the same files, banner, exit code file
//! and re-attachment; a run's stdin, when it has one, is sent whole ahead of it with its byte
//! count (and an end line: a stream that ends inside it runs nothing). A run ends with an end marker (random per run) on stdout, with the exit code the
//! supervisor recorded, and on stderr.
//!
//! One run at a time: the agent keeps an idle channel per container and sends a request over
//! it only when nothing else uses it (a second request at the same moment takes an exec stream
//! of its own).

use super::status::Outcome;
use super::stream::{self, Progress, STATUS, STDERR, STDIN, STDOUT, Sinks, StdinFeed, WsStream};
use super::supervisor::{BANNER, CHANNEL_BANNER, CHANNEL_STDIN_END, channel_argv, channel_request, new_run_id};
use super::{ExecError, Target};
use bytes::Bytes;
use futures::stream::{SplitSink, SplitStream};
use futures::{FutureExt, SinkExt, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// How long an idle channel is trusted to still be there (API servers and proxies close idle
/// streams; a channel found gone before its request started is not an error, but costs time).
pub const MAX_IDLE: Duration = Duration::from_secs(60);
/// How long a new channel may take to say it is ready.
const READY_WAIT: Duration = Duration::from_secs(10);
/// Largest stdin chunk sent in one message.
const CHUNK: usize = 256 * 1024;
/// A ping every so often while a run's output is awaited.
const PING: Duration = Duration::from_secs(30);

/// An open channel, idle between runs.
pub struct Channel {
    sink: SplitSink<WsStream, Message>,
    stream: SplitStream<WsStream>,
    last_used: Instant,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel").field("last_used", &self.last_used).finish()
    }
}

/// How a run on the channel ended.
#[derive(Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// The exit code the supervisor recorded; the channel takes the next request.
    Exited(i32),
    /// The supervisor did not start the command (it said why on stderr); nothing ran.
    NotStarted,
    /// The supervisor started the command (its banner came) and then the run ended without
    /// an exit code: the command ended without one recorded.
    NoExitCode,
    /// The channel ended in the middle of the run. `started`: the run's banner came, so the
    /// command runs (or ran) in the pod and can be re-attached. `server_exit`: the in-pod side
    /// itself ended (killed?), with this status; `None`: the stream was lost.
    Broken { reason: String, started: bool, server_exit: Option<Outcome> },
}

/// Opens a channel in `target` and waits until its server says it is ready.
pub async fn open(client: &kube::Client, target: &Target) -> Result<Channel, ExecError> {
    let connection = stream::connect(client, target, channel_argv(), true).await?;
    let websocket = connection.into_stream();
    let (sink, mut stream) = websocket.split();
    stream::await_banner(&mut stream, CHANNEL_BANNER, READY_WAIT, &target.pod, "channel").await?;
    Ok(Channel { sink, stream, last_used: Instant::now() })
}

impl Channel {
    /// Idle for less than [`MAX_IDLE`].
    pub fn fresh(&self) -> bool {
        self.last_used.elapsed() < MAX_IDLE
    }

    /// The stream has ended, or says something while no run is on it (out of step): either
    /// way it cannot take a request. Never waits.
    pub fn closed(&mut self) -> bool {
        match self.stream.next().now_or_never() {
            None => false,
            Some(Some(Ok(Message::Pong(_) | Message::Ping(_)))) => false,
            Some(_) => true,
        }
    }

    /// Runs `start_argv` (the supervisor's, [`super::supervisor::start_argv`]) with `stdin`:
    /// exactly that many bytes from the feed, sent before the run starts. Output goes to
    /// `sinks` as it comes; `progress` counts it (the offsets to re-attach from).
    pub async fn run(
        &mut self,
        start_argv: &[String],
        stdin: Option<(u64, &mut StdinFeed)>,
        sinks: &mut Sinks,
        progress: &mut Progress,
    ) -> Result<RunEnd, ExecError> {
        let marker = format!("KUBEPOOL-END-{}", new_run_id());
        let size = stdin.as_ref().map_or(0, |(size, _)| *size);
        let mut message = vec![STDIN];
        message.extend_from_slice(&channel_request(&marker, size, start_argv));
        if let Err(error) = self.send_with_stdin(message, stdin).await? {
            return Ok(broken(error.to_string(), false, None));
        }
        let result = self.receive(marker.as_bytes(), sinks, progress).await;
        self.last_used = Instant::now();
        result
    }

    /// Sends the request `message`, then exactly the announced bytes of the feed and the end
    /// line, in as few messages as [`CHUNK`] allows: one for a module's payload (small writes
    /// one after another would each wait for the peer's delayed acknowledgement, about 40 ms,
    /// on a connection without TCP_NODELAY). The inner `Err`: the channel broke meanwhile.
    async fn send_with_stdin(
        &mut self,
        mut message: Vec<u8>,
        stdin: Option<(u64, &mut StdinFeed)>,
    ) -> Result<Result<(), tokio_tungstenite::tungstenite::Error>, ExecError> {
        if let Some((size, feed)) = stdin.filter(|(size, _)| *size > 0) {
            let mut sent = 0u64;
            while sent < size {
                let data = match feed.recv().await {
                    Some(Ok(data)) => data,
                    Some(Err(error)) => return Err(ExecError::Stdin(error)),
                    None => break,
                };
                if sent + data.len() as u64 > size {
                    return Err(ExecError::Stdin(std::io::Error::other(format!(
                        "stdin is longer than the {size} bytes announced"
                    ))));
                }
                sent += data.len() as u64;
                message.extend_from_slice(&data);
                if message.len() >= CHUNK
                    && let Err(error) =
                        self.sink.send(Message::binary(std::mem::replace(&mut message, vec![STDIN]))).await
                {
                    return Ok(Err(error));
                }
            }
            if sent < size {
                // The server waits for bytes that will not come: this channel cannot go on.
                return Err(ExecError::Stdin(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("stdin ended after {sent} of the {size} bytes announced"),
                )));
            }
            message.extend_from_slice(CHANNEL_STDIN_END);
        }
        Ok(self.sink.send(Message::binary(message)).await)
    }

    async fn receive(
        &mut self,
        marker: &[u8],
        sinks: &mut Sinks,
        progress: &mut Progress,
    ) -> Result<RunEnd, ExecError> {
        let mut stdout = EndScan::new(marker);
        let mut stderr = EndScan::new(marker);
        let mut banner = Vec::with_capacity(BANNER.len());
        let mut ping = tokio::time::interval(PING);
        ping.reset();
        loop {
            if let (Some(code), Some(_)) = (stdout.trailer(), stderr.trailer()) {
                let started = banner == BANNER;
                return Ok(match code {
                    Some(code) if started => RunEnd::Exited(code),
                    _ if started => RunEnd::NoExitCode,
                    _ => RunEnd::NotStarted,
                });
            }
            let started = banner == BANNER;
            let message = tokio::select! {
                message = self.stream.next() => message,
                _ = ping.tick() => {
                    if let Err(error) = self.sink.send(Message::Ping(Bytes::new())).await {
                        return Ok(broken(error.to_string(), started, None));
                    }
                    continue;
                }
            };
            let data = match message {
                None => return Ok(broken("the stream ended".into(), started, None)),
                Some(Err(error)) => return Ok(broken(error.to_string(), started, None)),
                Some(Ok(Message::Close(frame))) => {
                    let reason = frame.map(|f| format!(" (close code {})", u16::from(f.code))).unwrap_or_default();
                    return Ok(broken(format!("the API server closed the stream{reason}"), started, None));
                }
                Some(Ok(Message::Binary(data))) => data,
                Some(Ok(_)) => continue,
            };
            let Some((&channel, mut payload)) = data.split_first() else { continue };
            match channel {
                STDOUT => {
                    if banner.len() < BANNER.len() {
                        let take = (BANNER.len() - banner.len()).min(payload.len());
                        banner.extend_from_slice(&payload[..take]);
                        payload = &payload[take..];
                        if banner.len() == BANNER.len() && banner != BANNER {
                            // Not the supervisor's run: the channel is out of step.
                            return Ok(broken(
                                "the run did not start with the supervisor's banner".into(),
                                false,
                                None,
                            ));
                        }
                    }
                    let passed = stdout.scan(payload);
                    if !passed.is_empty() {
                        stream::write(&mut sinks.stdout, &passed).await?;
                    }
                    progress.stdout += passed.len() as u64;
                }
                STDERR => {
                    let passed = stderr.scan(payload);
                    if !passed.is_empty() {
                        stream::write(&mut sinks.stderr, &passed).await?;
                    }
                    progress.stderr += passed.len() as u64;
                }
                STATUS => {
                    let outcome = match serde_json::from_slice::<Status>(payload) {
                        Ok(status) => super::status::outcome(&status),
                        Err(error) => Outcome::Failed(format!("unreadable exit status: {error}")),
                    };
                    return Ok(broken("the channel's server ended".into(), started, Some(outcome)));
                }
                _ => {}
            }
        }
    }
}

impl std::fmt::Display for RunEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunEnd::Exited(code) => write!(f, "exited with status {code}"),
            RunEnd::NotStarted => f.write_str("not started by the supervisor"),
            RunEnd::NoExitCode => f.write_str("ended without an exit code"),
            RunEnd::Broken { reason, started, server_exit } => {
                write!(f, "the channel broke ({reason}) ")?;
                f.write_str(if *started { "after the run started" } else { "before the run started" })?;
                match server_exit {
                    Some(Outcome::Exited(code)) => write!(f, "; its server exited with status {code}"),
                    Some(Outcome::Failed(message)) => write!(f, "; its server failed: {message}"),
                    None => Ok(()),
                }
            }
        }
    }
}

fn broken(reason: String, started: bool, server_exit: Option<Outcome>) -> RunEnd {
    RunEnd::Broken { reason, started, server_exit }
}

/// Finds a run's end marker in one output stream: bytes before it pass (all but an end that
/// may be the marker's start); after it comes the trailer up to a newline.
struct EndScan<'m> {
    marker: &'m [u8],
    held: Vec<u8>,
    /// After the marker: the trailer so far.
    trailer: Option<Vec<u8>>,
}

impl<'m> EndScan<'m> {
    fn new(marker: &'m [u8]) -> Self {
        EndScan { marker, held: Vec::new(), trailer: None }
    }

    /// Output bytes that may pass now.
    fn scan(&mut self, payload: &[u8]) -> Vec<u8> {
        if let Some(trailer) = &mut self.trailer {
            trailer.extend_from_slice(payload);
            return Vec::new();
        }
        self.held.extend_from_slice(payload);
        if let Some(at) = find(&self.held, self.marker) {
            let mut passed = std::mem::take(&mut self.held);
            self.trailer = Some(passed.split_off(at)[self.marker.len()..].to_vec());
            return passed;
        }
        // Only what may be the marker's start waits (output passes as it comes: live logs).
        let keep = (1..self.marker.len().min(self.held.len() + 1))
            .rev()
            .find(|&k| self.held.ends_with(&self.marker[..k]))
            .unwrap_or(0);
        let rest = self.held.split_off(self.held.len() - keep);
        std::mem::replace(&mut self.held, rest)
    }

    /// Once the marker and its line are complete: the exit code it names (`None` for `-`).
    fn trailer(&self) -> Option<Option<i32>> {
        let trailer = self.trailer.as_ref()?;
        let end = trailer.iter().position(|&b| b == b'\n')?;
        let text = String::from_utf8_lossy(&trailer[..end]);
        Some(text.trim().parse::<i32>().ok())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_marker_is_found_across_messages_and_output_before_it_passes_whole() {
        let mut scan = EndScan::new(b"END-1234");
        let mut passed = scan.scan(b"hello END-12");
        assert_eq!(scan.trailer(), None);
        passed.extend(scan.scan(b"3 no; END-"));
        passed.extend(scan.scan(b"1234 7"));
        assert_eq!(scan.trailer(), None, "the line is not complete");
        passed.extend(scan.scan(b"\n"));
        assert_eq!(passed, b"hello END-123 no; ");
        assert_eq!(scan.trailer(), Some(Some(7)));
        let mut scan = EndScan::new(b"END-1234");
        assert_eq!(scan.scan(b"END-1234 -\n"), b"");
        assert_eq!(scan.trailer(), Some(None));
        let mut scan = EndScan::new(b"END-1234");
        assert_eq!(scan.scan(b"line 1\n"), b"line 1\n", "output that cannot be the marker passes at once");
        assert_eq!(scan.scan(b"x"), b"x");
        assert_eq!(scan.scan(b"xEND-"), b"x");
        assert_eq!(scan.scan(b"9"), b"END-9");
        assert_eq!(scan.scan(b"x"), b"x");
        assert_eq!(scan.scan(b"END-1234\n"), b"");
        assert_eq!(scan.trailer(), Some(None), "stderr's trailer is the marker alone");
    }
}
