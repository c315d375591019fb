//! Logging through `tracing`: `RUST_LOG` selects what is shown (default `info`), `--log-format`
//! chooses human-readable text or one JSON object per line. Logs go to stderr, so commands
//! whose output is data (`list`, `config validate`) keep stdout clean.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber. Fails only if `RUST_LOG` cannot be parsed or a subscriber
/// is already installed. `quiet` (an operator's query such as `kubepool list`) silences the
/// ZooKeeper client library altogether: a failure is reported by kubepool's own error.
pub fn init(format: LogFormat, quiet: bool) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::try_new(&spec).map_err(|e| format!("RUST_LOG={spec:?}: {e}"))?,
        _ => EnvFilter::new(default_filter(quiet)),
    };
    // Colours only for a person at a terminal: never into files, pipes or journald.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
    result.map_err(|e| e.to_string())
}

/// What is logged without `RUST_LOG`. kube's client logs every non-2xx response at ERROR,
/// including those the retry layer retries and those the launcher handles; the ZooKeeper
/// client logs each session state change at INFO, in its own words (`enter state Closed due to
/// ...`): kubepool reports what matters itself.
fn default_filter(quiet: bool) -> &'static str {
    if quiet {
        "info,kube_client::client::builder=off,zookeeper_client=off"
    } else {
        "info,kube_client::client::builder=off,zookeeper_client=warn"
    }
}
