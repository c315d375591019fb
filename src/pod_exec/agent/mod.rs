//! The per-user local agent: `kubepool exec` hands its request to it over a unix socket, and
//! the agent runs it with an API client it keeps (parsed kubeconfig, TLS session, an idle
//! connection), so a short command costs neither a TLS handshake from scratch nor a kubeconfig
//! parse. The agent is started on demand and exits when idle.
//!
//! * [`wire`]: the socket protocol (a JSON hello, then framed stdin/stdout/stderr/exit).
//! * [`server`]: the agent.
//! * [`client`]: the `kubepool exec` side, starting the agent when there is none.
//! * [`socket`]: where the socket lives (a private per-user directory).

pub mod client;
pub mod server;
pub mod socket;
pub mod wire;
