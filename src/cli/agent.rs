//! `kubepool agent`: the per-user exec agent (started by `kubepool exec`; not for people).

use crate::Error;
use crate::pod_exec::agent::{server, socket};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The socket to serve (default: as `kubepool exec` finds it).
    #[arg(long, env = "KUBEPOOL_AGENT_SOCKET")]
    pub socket: Option<PathBuf>,
    /// Exit after this many seconds without a request.
    #[arg(long, env = "KUBEPOOL_AGENT_IDLE_SECONDS", default_value_t = server::DEFAULT_IDLE.as_secs())]
    pub idle_seconds: u64,
}

pub async fn run(args: AgentArgs) -> Result<(), Error> {
    let socket = args.socket.unwrap_or_else(socket::default_path);
    server::serve(&socket, Duration::from_secs(args.idle_seconds)).await.map_err(Error::from)
}
