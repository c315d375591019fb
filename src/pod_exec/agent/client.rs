//! The `kubepool exec` side of the agent: connect to its socket (starting the agent when nobody
//! answers), send the request, relay stdin, stdout and stderr, and return the exit code.

use super::super::ExecError;
use super::super::client::ClientSpec;
use super::super::session::ExecRequest;
use super::socket::ensure_private_dir;
use super::wire::{self, Hello, Kind};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

/// How long to wait for a freshly started agent's socket.
const START_WAIT: Duration = Duration::from_secs(5);

/// Connects to the agent on `socket`, starting `kubepool agent` if none answers.
pub async fn connect_or_start(socket: &Path) -> Result<UnixStream, ExecError> {
    if let Ok(stream) = UnixStream::connect(socket).await {
        return Ok(stream);
    }
    let dir = ensure_private_dir(socket)?;
    let exe = std::env::current_exe().map_err(|source| ExecError::AgentIo { path: socket.to_path_buf(), source })?;
    let log_path = dir.join("agent.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|source| ExecError::AgentIo { path: log_path.clone(), source })?;
    let mut command = std::process::Command::new(exe);
    command
        .arg("agent")
        .arg("--socket")
        .arg(socket)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command.spawn().map_err(|source| ExecError::AgentIo { path: socket.to_path_buf(), source })?;
    let started = Instant::now();
    loop {
        match UnixStream::connect(socket).await {
            Ok(stream) => return Ok(stream),
            Err(error) if started.elapsed() > START_WAIT => {
                return Err(ExecError::Agent(format!(
                    "started an agent but cannot connect to {} ({error}); see {}",
                    socket.display(),
                    log_path.display()
                )));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Runs `request` through the agent; output goes to `stdout`/`stderr` as it arrives.
pub async fn exec<I, O, E>(
    socket: &Path,
    client: ClientSpec,
    request: ExecRequest,
    stdin: Option<I>,
    mut stdout: O,
    mut stderr: E,
) -> Result<i32, ExecError>
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite + Unpin,
    E: AsyncWrite + Unpin,
{
    let io = |source| ExecError::AgentIo { path: socket.to_path_buf(), source };
    let stream = connect_or_start(socket).await?;
    let (mut reader, mut writer) = stream.into_split();
    tracing::debug!(pod = %request.target.pod, "exec through the agent");
    wire::write_hello(&mut writer, &Hello { version: wire::VERSION, client, request }).await.map_err(io)?;
    // Without stdin the write half stays open until the end: the agent takes a close as "gone".
    let mut idle_writer = None;
    let stdin_task = match stdin {
        None => {
            idle_writer = Some(writer);
            None
        }
        Some(mut source) => Some(tokio::spawn(async move {
            let mut buffer = vec![0u8; 256 * 1024];
            loop {
                match source.read(&mut buffer).await {
                    Ok(0) => break,
                    Ok(n) => {
                        if wire::write_frame(&mut writer, Kind::Stdin, &buffer[..n]).await.is_err() {
                            return writer;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot read stdin");
                        break;
                    }
                }
            }
            let _ = wire::write_frame(&mut writer, Kind::StdinEnd, b"").await;
            writer
        })),
    };
    let result = loop {
        match wire::read_frame(&mut reader).await.map_err(io)? {
            Some((Kind::Stdout, data)) => {
                stdout.write_all(&data).await.map_err(ExecError::Output)?;
                stdout.flush().await.map_err(ExecError::Output)?;
            }
            Some((Kind::Stderr, data)) => {
                stderr.write_all(&data).await.map_err(ExecError::Output)?;
                stderr.flush().await.map_err(ExecError::Output)?;
            }
            Some((Kind::Exit, data)) => {
                let bytes: [u8; 4] =
                    data.as_slice().try_into().map_err(|_| ExecError::Agent("malformed exit frame".into()))?;
                break Ok(i32::from_be_bytes(bytes));
            }
            Some((Kind::Error, data)) => break Err(ExecError::Agent(String::from_utf8_lossy(&data).into_owned())),
            Some(_) => {}
            None => break Err(ExecError::Agent("the agent closed the connection without an exit status".into())),
        }
    };
    if let Some(task) = stdin_task {
        task.abort();
    }
    drop(idle_writer);
    result
}
