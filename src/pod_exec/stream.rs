//! One exec stream through the API server: the upgrade to a WebSocket (`v5.channel.k8s.io`
//! preferred, `v4` accepted; kube negotiates), stdin sent as it comes (raw with a v5 close at
//! the end, else framed for the supervisor), stdout and stderr written as they arrive, and how
//! the stream ended: with a status, or lost.

use super::status::{Outcome, outcome};
use super::supervisor::{BANNER, FRAMED_END, StdinMode, frame};
use super::{ExecError, Target};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::AttachParams;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

pub(super) const STDIN: u8 = 0;
pub(super) const STDOUT: u8 = 1;
pub(super) const STDERR: u8 = 2;
pub(super) const STATUS: u8 = 3;
/// Largest stdin message made of chunks the feed already holds.
const COALESCE: usize = 1024 * 1024;
/// v5: "this channel is at its end".
const CLOSE: u8 = 255;

/// Where output goes.
pub struct Sinks {
    pub stdout: Box<dyn AsyncWrite + Unpin + Send>,
    pub stderr: Box<dyn AsyncWrite + Unpin + Send>,
}

/// Stdin chunks as read; the channel closing is the end of stdin.
pub type StdinFeed = mpsc::Receiver<Result<Bytes, std::io::Error>>;

/// Bytes of the command's output received so far (the offsets to re-attach from).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub stdout: u64,
    pub stderr: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Status(Outcome),
    /// The stream ended without a status: the command's fate is unknown.
    Lost(String),
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Status(Outcome::Exited(code)) => write!(f, "the command exited with status {code}"),
            Ended::Status(Outcome::Failed(message)) => write!(f, "the command failed: {message}"),
            Ended::Lost(reason) => f.write_str(reason),
        }
    }
}

/// `: REASON` of a WebSocket close frame, nothing when it gave none.
fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() { String::new() } else { format!(": {reason}") }
}

#[derive(Debug)]
pub struct AttemptResult {
    pub ended: Ended,
    /// The supervisor's banner came first on stdout.
    pub banner_seen: bool,
    /// All of stdin was sent, end included.
    pub stdin_done: bool,
    /// Some of stdin was taken from the feed (it cannot be sent again).
    pub stdin_started: bool,
    pub protocol_v5: bool,
}

/// Opens the exec stream of `argv` in `target`.
pub async fn connect(
    client: &kube::Client,
    target: &Target,
    argv: Vec<String>,
    stdin: bool,
) -> Result<kube::client::Connection, ExecError> {
    let params = AttachParams {
        container: target.container.clone(),
        stdin,
        stdout: true,
        stderr: true,
        tty: false,
        ..AttachParams::default()
    };
    let mut request = kube::core::Request::new(format!("/api/v1/namespaces/{}/pods", target.namespace))
        .exec(&target.pod, argv, &params)
        .map_err(|source| ExecError::Request { pod: target.pod.clone(), source })?;
    request.extensions_mut().insert("exec");
    client.connect(request).await.map_err(|source| ExecError::Connect { pod: target.pod.clone(), source })
}

/// Pumps one stream until it ends. `stdin` is given only to the attempt that starts the command.
///
/// Sending and receiving run side by side: a command that ends without reading all of its
/// stdin leaves a send blocked, and its status must still be read.
pub async fn pump(
    connection: kube::client::Connection,
    stdin: Option<&mut StdinFeed>,
    sinks: &mut Sinks,
    progress: &mut Progress,
) -> Result<AttemptResult, ExecError> {
    let protocol_v5 = connection.supports_stream_close();
    pump_stream(connection.into_stream(), protocol_v5, None, stdin, sinks, progress).await
}

/// The WebSocket of an exec stream.
pub type WsStream = tokio_tungstenite::WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

/// [`pump`] on an open WebSocket; `prefix` goes first on the stdin channel, as is (a spare
/// supervisor's command line, see [`super::spare`]).
pub async fn pump_stream(
    websocket: WsStream,
    protocol_v5: bool,
    prefix: Option<Vec<u8>>,
    stdin: Option<&mut StdinFeed>,
    sinks: &mut Sinks,
    progress: &mut Progress,
) -> Result<AttemptResult, ExecError> {
    let mode = if protocol_v5 { StdinMode::Raw } else { StdinMode::Framed };
    let (sink, mut stream) = websocket.split();
    let stdin_done = AtomicBool::new(false);
    let stdin_started = AtomicBool::new(false);
    let sender = send(sink, prefix, stdin, mode, &stdin_done, &stdin_started);
    tokio::pin!(sender);
    let mut sending = true;
    let mut banner = BannerCheck::default();
    let ended = loop {
        let message = tokio::select! {
            message = stream.next() => message,
            sent = &mut sender, if sending => {
                sent?;
                sending = false;
                continue;
            }
        };
        let data = match message {
            None => break Ended::Lost("the stream ended without an exit status".into()),
            Some(Err(error)) => break Ended::Lost(error.to_string()),
            Some(Ok(Message::Close(frame))) => {
                let code =
                    frame.map(|f| format!(" (close code {}{})", u16::from(f.code), reason_suffix(f.reason.as_str())));
                break Ended::Lost(format!(
                    "the API server closed the stream without an exit status{}",
                    code.unwrap_or_default()
                ));
            }
            Some(Ok(Message::Binary(data))) => data,
            Some(Ok(_)) => continue,
        };
        let Some((&channel, payload)) = data.split_first() else { continue };
        match channel {
            STDOUT => {
                let payload = banner.strip(payload, &mut sinks.stdout).await?;
                if !payload.is_empty() {
                    write(&mut sinks.stdout, payload).await?;
                    progress.stdout += payload.len() as u64;
                }
            }
            STDERR => {
                write(&mut sinks.stderr, payload).await?;
                progress.stderr += payload.len() as u64;
            }
            STATUS => match serde_json::from_slice::<Status>(payload) {
                Ok(status) => break Ended::Status(outcome(&status)),
                Err(error) => break Ended::Lost(format!("unreadable exit status: {error}")),
            },
            _ => {}
        }
    };
    banner.flush(&mut sinks.stdout).await?;
    Ok(AttemptResult {
        ended,
        banner_seen: banner.seen,
        stdin_done: stdin_done.load(Ordering::SeqCst),
        stdin_started: stdin_started.load(Ordering::SeqCst),
        protocol_v5,
    })
}

type WsSink = futures::stream::SplitSink<WsStream, Message>;

/// Sends stdin (marker, chunks, end), then pings every 30 s. Returns `Ok` when the stream can
/// take no more (the receiving side tells how it ended); `Err` only when stdin cannot be read.
async fn send(
    mut sink: WsSink,
    prefix: Option<Vec<u8>>,
    stdin: Option<&mut StdinFeed>,
    mode: StdinMode,
    done: &AtomicBool,
    started: &AtomicBool,
) -> Result<(), ExecError> {
    if let Some(prefix) = prefix {
        let mut message = Vec::with_capacity(prefix.len() + 1);
        message.push(STDIN);
        message.extend_from_slice(&prefix);
        if let Err(error) = sink.send(Message::binary(message)).await {
            tracing::debug!(%error, "cannot send the command line to the spare supervisor");
            return Ok(());
        }
    }
    if let Some(feed) = stdin {
        if let Err(error) = sink.send(Message::binary(vec![STDIN, mode.marker()])).await {
            tracing::debug!(%error, "cannot send stdin");
            return Ok(());
        }
        let mut feed_ended = false;
        while !feed_ended {
            let mut data = match feed.recv().await {
                Some(Ok(data)) if data.is_empty() => continue,
                Some(Ok(data)) => data.to_vec(),
                Some(Err(error)) => return Err(ExecError::Stdin(error)),
                None => break,
            };
            // What the feed already holds goes in the same message: a bulk stream (tar, rsync's
            // transfer) then costs the in-pod framed decoder one `head` per MB instead of one
            // per pipe read, and a trickle waits for nothing.
            while data.len() < COALESCE {
                match feed.try_recv() {
                    Ok(Ok(more)) => data.extend_from_slice(&more),
                    Ok(Err(error)) => return Err(ExecError::Stdin(error)),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        feed_ended = true;
                        break;
                    }
                }
            }
            if data.is_empty() {
                continue;
            }
            started.store(true, Ordering::SeqCst);
            let mut message = Vec::with_capacity(data.len() + 16);
            message.push(STDIN);
            match mode {
                StdinMode::Raw => message.extend_from_slice(&data),
                StdinMode::Framed => message.extend_from_slice(&frame(&data)),
            }
            if let Err(error) = sink.send(Message::binary(message)).await {
                // The command may have ended without reading all of its stdin.
                tracing::debug!(%error, "cannot send stdin");
                return Ok(());
            }
        }
        let end = match mode {
            StdinMode::Raw => vec![CLOSE, STDIN],
            StdinMode::Framed => [&[STDIN][..], FRAMED_END].concat(),
        };
        if let Err(error) = sink.send(Message::binary(end)).await {
            tracing::debug!(%error, "cannot send the end of stdin");
            return Ok(());
        }
        done.store(true, Ordering::SeqCst);
    }
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.reset();
    loop {
        ping.tick().await;
        if let Err(error) = sink.send(Message::Ping(Bytes::new())).await {
            tracing::debug!(%error, "cannot ping the API server");
            return Ok(());
        }
    }
}

/// The supervisor's banner at the start of stdout: held back until complete, then dropped; if
/// stdout starts otherwise, everything passes through and `seen` stays false.
#[derive(Default)]
struct BannerCheck {
    head: Vec<u8>,
    decided: bool,
    seen: bool,
}

impl BannerCheck {
    async fn strip<'a>(
        &mut self,
        payload: &'a [u8],
        stdout: &mut Box<dyn AsyncWrite + Unpin + Send>,
    ) -> Result<&'a [u8], ExecError> {
        if self.decided {
            return Ok(payload);
        }
        let take = (BANNER.len() - self.head.len()).min(payload.len());
        self.head.extend_from_slice(&payload[..take]);
        if self.head.len() < BANNER.len() {
            return Ok(&payload[take..]);
        }
        self.decided = true;
        self.seen = self.head == BANNER;
        if !self.seen {
            write(stdout, &std::mem::take(&mut self.head)).await?;
        }
        Ok(&payload[take..])
    }

    /// Passes through a partial head (a stream that ended inside it).
    async fn flush(&mut self, stdout: &mut Box<dyn AsyncWrite + Unpin + Send>) -> Result<(), ExecError> {
        if !self.decided && !self.head.is_empty() {
            write(stdout, &std::mem::take(&mut self.head)).await?;
        }
        Ok(())
    }
}

/// Waits (up to `wait`) until `banner` came first on stdout: an in-pod side started ahead of
/// its work (a spare supervisor, a channel server) says it is ready. `what` names it in errors.
pub(super) async fn await_banner<S>(
    stream: &mut S,
    banner: &[u8],
    wait: Duration,
    pod: &str,
    what: &str,
) -> Result<(), ExecError>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let not_ready = |reason: String| ExecError::Remote { pod: pod.to_string(), message: format!("{what}: {reason}") };
    let mut seen = Vec::new();
    let ready = async {
        while seen.len() < banner.len() {
            match stream.next().await {
                Some(Ok(Message::Binary(data))) => match data.split_first() {
                    Some((&STDOUT, payload)) => seen.extend_from_slice(payload),
                    Some((&STATUS, _)) => return Err(not_ready("it ended before it was ready".into())),
                    _ => {}
                },
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(not_ready(error.to_string())),
                None => return Err(not_ready("the stream ended".into())),
            }
        }
        if seen != banner {
            return Err(not_ready(format!("unexpected output {:?}", String::from_utf8_lossy(&seen))));
        }
        Ok(())
    };
    tokio::time::timeout(wait, ready).await.map_err(|_| not_ready("not ready in time".into()))?
}

pub(super) async fn write(sink: &mut (dyn AsyncWrite + Unpin + Send), data: &[u8]) -> Result<(), ExecError> {
    sink.write_all(data).await.map_err(ExecError::Output)?;
    sink.flush().await.map_err(ExecError::Output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_stream_reads_as_words_not_as_rust() {
        assert_eq!(Ended::Status(Outcome::Exited(3)).to_string(), "the command exited with status 3");
        assert_eq!(Ended::Status(Outcome::Failed("no such pod".into())).to_string(), "the command failed: no such pod");
        assert_eq!(Ended::Lost("the stream ended".into()).to_string(), "the stream ended");
        assert_eq!(reason_suffix(""), "");
        assert_eq!(reason_suffix("bye"), ": bye");
    }
}
