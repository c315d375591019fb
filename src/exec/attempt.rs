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
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;
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

#[derive(Debug)]
pub struct AttemptResult {
    pub ended: Ended,
    /// The supervisor's banner came first on stdout.
    pub banner_seen: bool,
    /// All of stdin was sent, end included.
    pub stdin_done: bool,
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
pub async fn pump(
    connection: kube::client::Connection,
    mut stdin: Option<&mut StdinFeed>,
    sinks: &mut Sinks,
    progress: &mut Progress,
) -> Result<AttemptResult, ExecError> {
    let protocol_v5 = connection.supports_stream_close();
    let mode = if protocol_v5 { StdinMode::Raw } else { StdinMode::Framed };
    let mut ws = connection.into_stream();
    let mut result =
        AttemptResult { ended: Ended::Lost(String::new()), banner_seen: false, stdin_done: false, protocol_v5 };
    let mut stdin_open = stdin.is_some();
    if stdin_open && let Err(error) = ws.send(Message::binary(vec![STDIN, mode.marker()])).await {
        result.ended = Ended::Lost(format!("cannot send stdin: {error}"));
        return Ok(result);
    }
    // Stdout bytes before the banner is complete; `None` once decided.
    let mut head: Option<Vec<u8>> = Some(Vec::with_capacity(BANNER.len()));
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.reset();
    loop {
        tokio::select! {
            message = ws.next() => {
                let data = match message {
                    None => { result.ended = Ended::Lost("the stream ended without an exit status".into()); break }
                    Some(Err(error)) => { result.ended = Ended::Lost(error.to_string()); break }
                    Some(Ok(Message::Close(frame))) => {
                        result.ended = Ended::Lost(format!("the API server closed the stream without an exit status ({frame:?})"));
                        break;
                    }
                    Some(Ok(Message::Binary(data))) => data,
                    Some(Ok(_)) => continue,
                };
                let Some((&channel, payload)) = data.split_first() else { continue };
                match channel {
                    STDOUT => {
                        let payload = match head.as_mut() {
                            None => payload,
                            Some(buffer) => {
                                let need = BANNER.len() - buffer.len();
                                let take = need.min(payload.len());
                                buffer.extend_from_slice(&payload[..take]);
                                if buffer.len() < BANNER.len() {
                                    continue;
                                }
                                if buffer.as_slice() == BANNER {
                                    result.banner_seen = true;
                                    head = None;
                                    &payload[take..]
                                } else {
                                    // Not the supervisor: pass everything through untouched.
                                    let buffer = head.take().unwrap_or_default();
                                    write(&mut sinks.stdout, &buffer).await?;
                                    &payload[take..]
                                }
                            }
                        };
                        if !payload.is_empty() {
                            write(&mut sinks.stdout, payload).await?;
                            progress.stdout += payload.len() as u64;
                        }
                    }
                    STDERR => {
                        write(&mut sinks.stderr, payload).await?;
                        progress.stderr += payload.len() as u64;
                    }
                    STATUS => {
                        let status: Status = match serde_json::from_slice(payload) {
                            Ok(status) => status,
                            Err(error) => { result.ended = Ended::Lost(format!("unreadable exit status: {error}")); break }
                        };
                        result.ended = Ended::Status(outcome(&status));
                        break;
                    }
                    _ => {}
                }
            }
            chunk = async { match stdin.as_mut() { Some(feed) => feed.recv().await, None => None } }, if stdin_open => {
                let message = match chunk {
                    Some(Ok(data)) if data.is_empty() => continue,
                    Some(Ok(data)) => {
                        let mut message = Vec::with_capacity(data.len() + 16);
                        message.push(STDIN);
                        match mode {
                            StdinMode::Raw => message.extend_from_slice(&data),
                            StdinMode::Framed => message.extend_from_slice(&frame(&data)),
                        }
                        message
                    }
                    Some(Err(error)) => return Err(ExecError::Stdin(error)),
                    None => {
                        stdin_open = false;
                        match mode {
                            StdinMode::Raw => vec![CLOSE, STDIN],
                            StdinMode::Framed => [&[STDIN][..], FRAMED_END].concat(),
                        }
                    }
                };
                if let Err(error) = ws.send(Message::binary(message)).await {
                    result.ended = Ended::Lost(format!("cannot send stdin: {error}"));
                    break;
                }
                result.stdin_done = !stdin_open;
            }
            _ = ping.tick() => {
                if let Err(error) = ws.send(Message::Ping(Bytes::new())).await {
                    result.ended = Ended::Lost(format!("cannot ping the API server: {error}"));
                    break;
                }
            }
        }
    }
    if let Some(buffer) = head.filter(|b| !b.is_empty()) {
        write(&mut sinks.stdout, &buffer).await?;
    }
    Ok(result)
}

async fn write(sink: &mut (dyn AsyncWrite + Unpin + Send), data: &[u8]) -> Result<(), ExecError> {
    sink.write_all(data).await.map_err(ExecError::Output)?;
    sink.flush().await.map_err(ExecError::Output)
}
