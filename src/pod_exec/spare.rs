//! Spare exec streams: a supervisor started in the container ahead of its command, waiting on
//! stdin for the command line ([`super::supervisor::spare_command_line`]). The agent keeps one
//! per container and opens the next while a command runs, so a command finds its exec stream
//! connected (API server, kubelet and runtime handshakes done) instead of waiting for them.
//! The command then runs under the same supervisor, with the same exit status, files and
//! re-attachment as one started on a fresh stream.

use super::stream::{self, WsStream};
use super::supervisor::{SPARE_BANNER, spare_argv};
use super::{ExecError, Target};
use std::time::{Duration, Instant};

/// How long a spare is trusted to still be there (API servers and proxies close idle streams).
pub const MAX_AGE: Duration = Duration::from_secs(120);
/// How long a spare may take to say it is ready.
const READY_WAIT: Duration = Duration::from_secs(10);

/// A connected exec stream whose supervisor waits for its command line.
pub struct Spare {
    pub websocket: WsStream,
    pub protocol_v5: bool,
    opened: Instant,
}

impl std::fmt::Debug for Spare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spare").field("protocol_v5", &self.protocol_v5).field("opened", &self.opened).finish()
    }
}

impl Spare {
    /// Young enough to use.
    pub fn fresh(&self) -> bool {
        self.opened.elapsed() < MAX_AGE
    }
}

/// Opens a spare in `target` and waits until its supervisor says it is ready.
pub async fn open(client: &kube::Client, target: &Target) -> Result<Spare, ExecError> {
    let connection = stream::connect(client, target, spare_argv(), true).await?;
    let protocol_v5 = connection.supports_stream_close();
    let mut websocket = connection.into_stream();
    stream::await_banner(&mut websocket, SPARE_BANNER, READY_WAIT, &target.pod, "spare exec").await?;
    Ok(Spare { websocket, protocol_v5, opened: Instant::now() })
}
