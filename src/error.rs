//! The crate's error type: every failure a subcommand can report, with what it was doing.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),

    #[error("ZooKeeper: {0}")]
    ZooKeeper(#[from] crate::zk::ZkError),

    #[error("Kubernetes: {0}")]
    Kubernetes(#[from] crate::k8s::K8sError),

    #[error("{0}")]
    Executor(#[from] crate::executor::ExecutorError),

    #[error("{0}")]
    Exec(#[from] crate::pod_exec::ExecError),

    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Operation(String),

    /// The config loaded but a provider cannot be set up from it.
    #[error("{0}")]
    Setup(String),

    #[error("cannot write the output: {0}")]
    Output(String),

    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot install the {signal} handler: {source}")]
    Signal {
        signal: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// The error and its sources, joined with ": ".
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
