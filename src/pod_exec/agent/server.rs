//! The agent: accepts `kubepool exec` requests on its unix socket and runs them with API clients
//! it keeps per kubeconfig (path and modification time) and context. After each exec takes a
//! pooled connection for its WebSocket, a cheap request (`/version`) opens the next one, so the
//! following exec finds a connected, authenticated connection waiting. Exits after `idle` with
//! no request or when its socket file is removed; a lock file makes sure one agent serves one
//! socket.

use super::super::channel::{self, Channel};
use super::super::client::{ClientSpec, connect};
use super::super::container;
use super::super::session::{self, Sinks};
use super::super::spare::{self, Spare};
use super::super::{ExecError, Target};
use super::socket::ensure_private_dir;
use super::wire::{self, Kind};
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{Mutex, mpsc};

type ClientKey = (ClientSpec, Vec<Option<SystemTime>>);

type ContainerKey = (ClientSpec, Target);

/// A pod, by client, namespace and name.
type PodKey = (ClientSpec, String, String);

#[derive(Default)]
struct State {
    clients: Mutex<HashMap<ClientKey, (kube::Client, String)>>,
    /// Per container: runs whose results were delivered (their files go with the next start).
    received: std::sync::Mutex<HashMap<ContainerKey, Vec<String>>>,
    /// Per container: an exec stream opened ahead of the next command ([`spare`]).
    spares: std::sync::Mutex<HashMap<ContainerKey, Spare>>,
    /// Containers whose next spare is being opened.
    opening: std::sync::Mutex<HashSet<ContainerKey>>,
    /// Per container: idle persistent channels ([`channel`]), the most recently used last.
    channels: std::sync::Mutex<HashMap<ContainerKey, Vec<Channel>>>,
    /// Containers whose next channel is being opened.
    channel_opening: std::sync::Mutex<HashSet<ContainerKey>>,
    /// Containers where a channel could not be opened, and when (not tried again for a while).
    channel_refused: std::sync::Mutex<HashMap<ContainerKey, Instant>>,
    /// Channels are off (`KUBEPOOL_AGENT_CHANNELS=0`).
    no_channels: bool,
    /// Per pod: the container a command that names none runs in (read from the pod once; forgotten
    /// when an exec there fails, in case the pod was replaced).
    default_containers: std::sync::Mutex<HashMap<PodKey, String>>,
    /// Spares are off (`KUBEPOOL_AGENT_SPARES=0`).
    no_spares: bool,
    active: AtomicUsize,
    last_used: std::sync::Mutex<Option<Instant>>,
}

impl State {
    /// The container's spare, if a fresh one is there.
    fn take_spare(&self, key: &ContainerKey) -> Option<Spare> {
        let spare = self.spares.lock().ok()?.remove(key)?;
        spare.fresh().then_some(spare)
    }

    /// Opens the container's next spare in the background (unless one is there or coming).
    fn refill(self: &Arc<Self>, client: &kube::Client, key: &ContainerKey) {
        if self.no_spares || self.spares.lock().map(|s| s.contains_key(key)).unwrap_or(true) {
            return;
        }
        let (client, target) = (client.clone(), key.1.clone());
        self.open_ahead(
            |state| &state.opening,
            key,
            async move { spare::open(&client, &target).await },
            |state, key, opened| match opened {
                Ok(spare) => {
                    if let Ok(mut spares) = state.spares.lock() {
                        spares.entry(key).or_insert(spare);
                    }
                }
                Err(error) => tracing::debug!(%error, pod = %key.1.pod, "agent: no spare exec stream"),
            },
        );
    }

    /// Runs `open` in the background for `key` unless the `opening` set already holds it
    /// (one stream being opened per container and kind), hands its result to `keep`, then
    /// releases the key.
    fn open_ahead<T, F>(
        self: &Arc<Self>,
        opening: fn(&State) -> &std::sync::Mutex<HashSet<ContainerKey>>,
        key: &ContainerKey,
        open: F,
        keep: fn(&State, ContainerKey, Result<T, ExecError>),
    ) where
        F: std::future::Future<Output = Result<T, ExecError>> + Send + 'static,
        T: Send + 'static,
    {
        let claimed = opening(self).lock().map(|mut opening| opening.insert(key.clone())).unwrap_or(false);
        if !claimed {
            return;
        }
        let (state, key) = (self.clone(), key.clone());
        tokio::spawn(async move {
            keep(&state, key.clone(), open.await);
            if let Ok(mut opening) = opening(&state).lock() {
                opening.remove(&key);
            }
        });
    }

    /// An idle channel of the container that still looks open.
    fn take_channel(&self, key: &ContainerKey) -> Option<Channel> {
        let mut channels = self.channels.lock().ok()?;
        let idle = channels.get_mut(key)?;
        while let Some(mut channel) = idle.pop() {
            if channel.fresh() && !channel.closed() {
                return Some(channel);
            }
        }
        None
    }

    /// Keeps `channel` for the container's next request (up to [`CHANNELS_PER_CONTAINER`]).
    fn put_channel(&self, key: ContainerKey, channel: Channel) {
        if let Ok(mut channels) = self.channels.lock() {
            let idle = channels.entry(key).or_default();
            if idle.len() < CHANNELS_PER_CONTAINER {
                idle.push(channel);
            }
        }
    }

    /// Opens another channel to the container in the background (unless one is being opened,
    /// or the container refused one lately).
    fn open_channel(self: &Arc<Self>, client: &kube::Client, key: &ContainerKey) {
        if self.no_channels {
            return;
        }
        let refused = self
            .channel_refused
            .lock()
            .map(|refused| refused.get(key).is_some_and(|at| at.elapsed() < CHANNEL_RETRY))
            .unwrap_or(true);
        if refused {
            return;
        }
        let (client, target) = (client.clone(), key.1.clone());
        self.open_ahead(
            |state| &state.channel_opening,
            key,
            async move { channel::open(&client, &target).await },
            |state, key, opened| match opened {
                Ok(channel) => state.put_channel(key, channel),
                Err(error) => {
                    // (a container without /bin/sh or a writable $TMPDIR: commands take exec
                    // streams of their own, as before)
                    tracing::debug!(%error, pod = %key.1.pod, "agent: no persistent channel");
                    if let Ok(mut refused) = state.channel_refused.lock() {
                        refused.insert(key, Instant::now());
                    }
                }
            },
        );
    }

    /// `target` with its container chosen ([`container::with_container`]), remembered per pod.
    async fn with_container(&self, client: &kube::Client, pod: &PodKey, target: Target) -> Result<Target, ExecError> {
        if target.container.is_some() {
            return Ok(target);
        }
        let known = self.default_containers.lock().ok().and_then(|k| k.get(pod).cloned());
        if let Some(container) = known {
            return Ok(Target { container: Some(container), ..target });
        }
        let target = container::with_container(client, target).await?;
        if let (Some(container), Ok(mut known)) = (&target.container, self.default_containers.lock()) {
            known.insert(pod.clone(), container.clone());
        }
        Ok(target)
    }

    async fn client(&self, spec: &ClientSpec) -> Result<(kube::Client, String), ExecError> {
        let key = (spec.clone(), spec.version());
        let mut clients = self.clients.lock().await;
        if let Some(found) = clients.get(&key) {
            return Ok(found.clone());
        }
        let made = connect(spec).await?;
        clients.retain(|(other, _), _| other != spec);
        clients.insert(key, made.clone());
        Ok(made)
    }

    fn touch(&self) {
        if let Ok(mut last) = self.last_used.lock() {
            *last = Some(Instant::now());
        }
    }

    fn idle_for(&self) -> Duration {
        self.last_used.lock().ok().and_then(|l| *l).map(|l| l.elapsed()).unwrap_or_default()
    }
}

/// Serves `socket` until idle for `idle`. Returns at once if another agent holds the socket.
pub async fn serve(socket: &Path, idle: Duration) -> Result<(), ExecError> {
    let dir = ensure_private_dir(socket)?;
    let lock_path = dir.join(format!(
        "{}.lock",
        socket.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "agent".into())
    ));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExecError::AgentIo { path, source }
    };
    let lock = std::fs::File::create(&lock_path).map_err(io(&lock_path))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::info!("another agent serves {}", socket.display());
            return Ok(());
        }
        Err(std::fs::TryLockError::Error(error)) => return Err(io(&lock_path)(error)),
    }
    match std::fs::remove_file(socket) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(io(socket)(error)),
    }
    let listener = tokio::net::UnixListener::bind(socket).map_err(io(socket))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600)).map_err(io(socket))?;
    tracing::info!(socket = %socket.display(), idle_seconds = idle.as_secs(), "kubepool agent listening");
    let no_spares = std::env::var("KUBEPOOL_AGENT_SPARES").is_ok_and(|v| v == "0");
    let no_channels = std::env::var("KUBEPOOL_AGENT_CHANNELS").is_ok_and(|v| v == "0");
    let state = Arc::new(State { no_spares, no_channels, ..State::default() });
    state.touch();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let state = state.clone();
                    state.active.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        if let Err(error) = handle(stream, &state).await {
                            tracing::debug!(%error, "agent connection ended with an error");
                        }
                        state.touch();
                        state.active.fetch_sub(1, Ordering::SeqCst);
                    });
                }
                Err(error) => tracing::warn!(%error, "agent: accept failed"),
            },
            _ = tick.tick() => {
                if state.active.load(Ordering::SeqCst) == 0 && state.idle_for() >= idle {
                    break;
                }
                if !socket.exists() {
                    tracing::info!("socket {} removed; exiting", socket.display());
                    break;
                }
            }
        }
    }
    // Only remove the socket if it is still ours (a new agent may have replaced it after a
    // lock was lost, which cannot happen while we hold it; be careful anyway).
    let _ = std::fs::remove_file(socket);
    drop(lock);
    tracing::info!("kubepool agent idle for {} s; exiting", idle.as_secs());
    Ok(())
}

/// Opens a fresh pooled connection in the background for the next exec.
fn warm(client: &kube::Client) {
    let client = client.clone();
    tokio::spawn(async move {
        if let Err(error) = client.apiserver_version().await {
            tracing::debug!(%error, "agent: cannot warm a connection");
        }
    });
}

async fn handle(stream: UnixStream, state: &Arc<State>) -> Result<(), ExecError> {
    let socket_io = |source| ExecError::AgentIo { path: PathBuf::from("<agent connection>"), source };
    let (mut reader, writer) = stream.into_split();
    let writer = Arc::new(Mutex::new(writer));
    let hello = wire::read_hello(&mut reader).await.map_err(socket_io)?;
    if hello.version != wire::VERSION {
        let message = format!("agent speaks version {}, client {}", wire::VERSION, hello.version);
        send(&writer, Kind::Error, message.as_bytes()).await.map_err(socket_io)?;
        return Ok(());
    }
    let result = run_one(hello, reader, &writer, state).await;
    let (kind, payload) = match result {
        Ok(code) => (Kind::Exit, code.to_be_bytes().to_vec()),
        Err(error) => (Kind::Error, crate::error::chain(&error).into_bytes()),
    };
    send(&writer, kind, &payload).await.map_err(socket_io)
}

async fn run_one(
    hello: wire::Hello,
    mut reader: tokio::net::unix::OwnedReadHalf,
    writer: &Arc<Mutex<OwnedWriteHalf>>,
    state: &Arc<State>,
) -> Result<i32, ExecError> {
    let (client, default_namespace) = state.client(&hello.client).await?;
    let mut request = hello.request.clone();
    if request.target.namespace.is_empty() {
        request.target.namespace = default_namespace;
    }
    let pod_key = (hello.client.clone(), request.target.namespace.clone(), request.target.pod.clone());
    let named = request.target.container.is_some();
    request.target = state.with_container(&client, &pod_key, request.target).await?;
    // stdin frames into the session's feed. The client hanging up ends the request: noticed by
    // the reader, or by a keepalive frame that cannot be written (the reader may be waiting for
    // room in the feed while the command does not read its stdin).
    let (feed_sender, feed) = mpsc::channel(16);
    let (gone_sender, mut gone) = mpsc::channel::<()>(2);
    let wants_stdin = request.stdin;
    let reader_gone = gone_sender.clone();
    let reader_task = tokio::spawn(async move {
        let mut feed_sender = Some(feed_sender);
        loop {
            match wire::read_frame(&mut reader).await {
                Ok(Some((Kind::Stdin, data))) => {
                    if let Some(sender) = &feed_sender
                        && sender.send(Ok(bytes::Bytes::from(data))).await.is_err()
                    {
                        feed_sender = None;
                    }
                }
                Ok(Some((Kind::StdinEnd, _))) => feed_sender = None,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    let _ = reader_gone.send(()).await;
                    break;
                }
            }
        }
    });
    let keepalive_writer = writer.clone();
    let keepalive = tokio::spawn(async move {
        loop {
            tokio::time::sleep(KEEPALIVE).await;
            if send(&keepalive_writer, Kind::Keepalive, b"").await.is_err() {
                let _ = gone_sender.send(()).await;
                break;
            }
        }
    });
    let (stdout, stdout_relay) = relay(writer.clone(), Kind::Stdout);
    let (stderr, stderr_relay) = relay(writer.clone(), Kind::Stderr);
    let mut sinks = Sinks { stdout: Box::new(stdout), stderr: Box::new(stderr) };
    let stdin = wants_stdin.then_some(feed);
    let key = (hello.client.clone(), request.target.clone());
    let received = state.received.lock().ok().and_then(|mut r| r.remove(&key)).unwrap_or_default();
    // A channel takes a command whose stdin, if any, has a known length (sent whole before it
    // starts); a streaming stdin (rsync, git) gets an exec stream of its own.
    let channel = if !wants_stdin || request.stdin_bytes.is_some() { state.take_channel(&key) } else { None };
    let on_channel = channel.is_some();
    let result = if let Some(channel) = channel {
        tracing::debug!(pod = %key.1.pod, "agent: exec on a persistent channel");
        tokio::select! {
            (result, after) = session::run_on_channel(&client, &request, stdin, &mut sinks, &received, channel) => {
                if let Some(channel) = after {
                    state.put_channel(key.clone(), channel);
                }
                result
            }
            _ = gone.recv() => Err(ExecError::Agent("the client went away".into())),
        }
    } else {
        let spare = state.take_spare(&key);
        tracing::debug!(pod = %key.1.pod, spare = spare.is_some(), "agent: exec");
        state.refill(&client, &key);
        state.open_channel(&client, &key);
        tokio::select! {
            result = session::run_after(&client, &request, stdin, &mut sinks, &received, spare) => result,
            _ = gone.recv() => Err(ExecError::Agent("the client went away".into())),
        }
    };
    keepalive.abort();
    reader_task.abort();
    if !named
        && result.is_err()
        && let Ok(mut known) = state.default_containers.lock()
    {
        known.remove(&pod_key);
    }
    let result = result.map(|completed| {
        if let Ok(mut all) = state.received.lock() {
            all.entry(key).or_default().push(completed.run_id);
        }
        completed.code
    });
    if !on_channel {
        // (a command on a channel took no pooled connection)
        warm(&client);
    }
    drop(sinks);
    let _ = stdout_relay.await;
    let _ = stderr_relay.await;
    result
}

/// A writer whose bytes reach the client as frames of `kind`, in order, before the exit frame
/// (the returned task ends once the writer is dropped and everything was sent).
fn relay(writer: Arc<Mutex<OwnedWriteHalf>>, kind: Kind) -> (tokio::io::DuplexStream, tokio::task::JoinHandle<()>) {
    let (sink, mut source) = tokio::io::duplex(256 * 1024);
    let task = tokio::spawn(async move {
        let mut buffer = vec![0u8; 256 * 1024];
        while let Some(n) = read_some(&mut source, &mut buffer).await {
            if send(&writer, kind, &buffer[..n]).await.is_err() {
                break;
            }
        }
    });
    (sink, task)
}

async fn read_some<R: AsyncRead + Unpin>(source: &mut R, buffer: &mut [u8]) -> Option<usize> {
    match source.read(buffer).await {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(n),
    }
}

async fn send(writer: &Mutex<OwnedWriteHalf>, kind: Kind, payload: &[u8]) -> std::io::Result<()> {
    let mut writer = writer.lock().await;
    wire::write_frame(&mut *writer, kind, payload).await
}

/// Idle channels kept per container (a task's command and its console follower run at once).
const CHANNELS_PER_CONTAINER: usize = 4;

/// How long a container that refused a channel is not asked again.
const CHANNEL_RETRY: Duration = Duration::from_secs(300);

/// How often the agent checks that a client is still there.
const KEEPALIVE: Duration = Duration::from_secs(2);

/// The default idle time after which the agent exits.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(600);

#[cfg(test)]
mod tests {
    use super::*;

    fn socket_path() -> PathBuf {
        std::env::temp_dir().join(format!("kubepool-agent-test-{}", uuid::Uuid::new_v4().simple())).join("agent.sock")
    }

    #[tokio::test]
    async fn one_agent_per_socket_and_it_exits_when_idle() {
        let socket = socket_path();
        let first = tokio::spawn({
            let socket = socket.clone();
            async move { serve(&socket, Duration::from_secs(2)).await }
        });
        for _ in 0..100 {
            if UnixStream::connect(&socket).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mode = std::fs::metadata(&socket).expect("socket").permissions().mode();
        assert_eq!(mode & 0o077, 0, "socket mode {mode:o}");
        // A second agent on the same socket gives way at once.
        let second = tokio::time::timeout(Duration::from_secs(1), serve(&socket, Duration::from_secs(60))).await;
        assert!(matches!(second, Ok(Ok(()))), "{second:?}");
        assert!(UnixStream::connect(&socket).await.is_ok(), "the first agent still serves");
        // Idle for 2 s: the first exits and removes its socket.
        let ended = tokio::time::timeout(Duration::from_secs(10), first).await;
        assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
        assert!(!socket.exists());
        if let Some(dir) = socket.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[tokio::test]
    async fn a_client_of_another_protocol_version_gets_an_error_frame() {
        let socket = socket_path();
        let agent = tokio::spawn({
            let socket = socket.clone();
            async move { serve(&socket, Duration::from_secs(30)).await }
        });
        let mut stream = loop {
            if let Ok(stream) = UnixStream::connect(&socket).await {
                break stream;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        tokio::io::AsyncWriteExt::write_all(
            &mut stream,
            br#"{"version":99,"client":{"kubeconfig":null,"context":null},"request":{"target":{"namespace":"n","pod":"p","container":null},"command":["true"],"stdin":false,"resume_seconds":1}}
"#,
        )
        .await
        .expect("hello");
        let frame = wire::read_frame(&mut stream).await.expect("frame");
        assert!(
            matches!(&frame, Some((Kind::Error, message)) if String::from_utf8_lossy(message).contains("version")),
            "{frame:?}"
        );
        agent.abort();
        if let Some(dir) = socket.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
