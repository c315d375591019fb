//! `kubepool exec`: run a command in a pod through the API server's exec subresource with an
//! exit status you can trust.
//!
//! * [`supervisor`]: the small POSIX sh supervisor the command runs under in the pod; it keeps
//!   the command's stdout, stderr and exit code in files so a dropped API connection can be
//!   re-attached from the byte offsets already received.
//! * [`status`]: the exit code from the status channel's `Status` object.
//! * [`stream`]: one WebSocket exec stream (`v5.channel.k8s.io`, else `v4`): stdin in,
//!   stdout/stderr out as they come, and how the stream ended.
//! * [`session`]: start, and re-attach after a drop until the command's exit code is known.
//! * [`spare`]: exec streams opened ahead of their command (the agent keeps one per container).
//! * [`channel`]: the persistent channel: one exec stream per container that runs one command
//!   after another (the agent keeps one per container and prefers it).
//! * [`client`]: the API client of an exec (kubeconfig and context, no retry layer).
//! * [`container`]: the container a command runs in when none is named (kubectl's choice).
//! * [`console`]: a zuul_console-compatible server for the console logs copied out of pods.
//! * [`agent`]: the per-user local agent that keeps API clients warm, and its wire format.

pub mod agent;
pub mod channel;
pub mod client;
pub mod console;
pub mod container;
pub mod session;
pub mod spare;
pub mod status;
pub mod stream;
pub mod supervisor;

pub use session::{ExecRequest, Sinks, run};

/// The exit status `kubepool exec` reports when it cannot tell the command's own (as ssh does).
pub const EXIT_UNKNOWN: i32 = 255;

/// Where a command runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Target {
    pub namespace: String,
    pub pod: String,
    pub container: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("cannot build the exec request for {pod}: {source}")]
    Request {
        pod: String,
        #[source]
        source: kube::core::request::Error,
    },

    #[error("cannot start exec in pod {pod}: {source}")]
    Connect {
        pod: String,
        #[source]
        source: kube::Error,
    },

    #[error("cannot read pod {pod} to choose its container: {source}")]
    ReadPod {
        pod: String,
        #[source]
        source: kube::Error,
    },

    #[error("pod {pod} has no container")]
    NoContainer { pod: String },

    #[error("exec in pod {pod} failed: {message}")]
    Remote { pod: String, message: String },

    #[error(
        "pod {pod} did not run kubepool's exec supervisor (exit status {}; is /bin/sh in the container?)",
        status.map_or_else(|| "unknown".to_string(), |s| s.to_string())
    )]
    NoSupervisor { pod: String, status: Option<i32> },

    #[error("the connection to the API server was lost {when}: {reason}")]
    Lost { when: &'static str, reason: String },

    #[error("lost the command in pod {pod} and could not re-attach within {seconds} s: {reason}")]
    ResumeTimeout { pod: String, seconds: u64, reason: String },

    #[error("cannot read stdin: {0}")]
    Stdin(#[source] std::io::Error),

    #[error("cannot write output: {0}")]
    Output(#[source] std::io::Error),

    #[error(transparent)]
    Kubernetes(#[from] crate::k8s::K8sError),

    #[error("agent: {0}")]
    Agent(String),

    #[error("agent socket {path}: {source}")]
    AgentIo {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}
