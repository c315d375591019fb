//! The command line: one file per subcommand, holding argument structs and output only.

mod agent;
mod config;
mod console_server;
mod delete;
mod exec;
mod executor;
mod info;
mod launcher;
mod list;
mod port_forward;
mod zk_args;

use crate::telemetry::LogFormat;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// kubepool: Zuul nodes on Kubernetes and OpenShift, a drop-in replacement for Nodepool's
/// kubernetes, openshift and openshiftpods drivers.
#[derive(Debug, Parser)]
#[command(name = "kubepool", version, propagate_version = true)]
pub struct Cli {
    /// Log format on stderr; RUST_LOG selects what is logged (default "info").
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true, env = "KUBEPOOL_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// Require a ZooKeeper TLS server's certificate to name the host it is reached by. Off by
    /// default, as in Zuul and Nodepool, which verify the chain to zookeeper-tls' CA only.
    #[arg(long, global = true, env = "KUBEPOOL_ZOOKEEPER_TLS_VERIFY_HOSTNAME")]
    pub zookeeper_tls_verify_hostname: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve Zuul's node requests from the providers of a nodepool.yaml (like nodepool-launcher).
    Launcher(launcher::LauncherArgs),
    /// Work with nodepool.yaml files.
    Config(config::ConfigArgs),
    /// List nodes (or, with --requests, node requests), like `nodepool list`.
    List(list::ListArgs),
    /// Mark a node for deletion; its launcher removes the resource and the record.
    Delete(delete::DeleteArgs),
    /// Show registered launchers and pools, and node and request counts.
    Info(info::InfoArgs),
    /// The executor side of a fulfilled request: kubeconfig, inventory, console log forwarding.
    #[command(subcommand)]
    Executor(executor::ExecutorCommand),
    /// Forward local ports to a pod through the API server (a stand-in for `kubectl port-forward`).
    PortForward(port_forward::PortForwardArgs),
    /// Run a command in a pod through the API server (a stand-in for `kubectl exec` whose exit
    /// status can be trusted; survives a dropped API connection).
    Exec(exec::ExecArgs),
    /// Serve the console logs of kubepool's connection plugin with the zuul_console protocol.
    ConsoleServer(console_server::ConsoleServerArgs),
    /// The per-user agent `kubepool exec` starts on demand (keeps API connections warm).
    #[command(hide = true)]
    Agent(agent::AgentArgs),
}

/// Runs the chosen subcommand and turns its result into an exit status.
pub fn run(cli: Cli) -> ExitCode {
    crate::zk::set_verify_tls_hostname(cli.zookeeper_tls_verify_hostname);
    let log_format = cli.log_format;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("kubepool: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    if let Command::Exec(args) = cli.command {
        let code = runtime.block_on(exec::run(args));
        // A blocking read of stdin may still be pending: do not wait for it.
        runtime.shutdown_background();
        return code;
    }
    runtime.block_on(async {
        let result = match cli.command {
            // Reports its own findings and exit status.
            Command::Config(args) => return config::run(args),
            Command::Launcher(args) => launcher::run(args).await,
            Command::List(args) => list::run(args).await,
            Command::Delete(args) => delete::run(args).await,
            Command::Info(args) => info::run(args).await,
            Command::Executor(command) => executor::run(command).await,
            Command::PortForward(args) => port_forward::run(args).await,
            Command::Agent(args) => agent::run(args).await,
            Command::ConsoleServer(args) => console_server::run(args).await,
            Command::Exec(_) => unreachable!("handled above"),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            // One line per fatal error: a log record for log collectors, a plain line for a
            // person (the log's own format, not both).
            Err(error) => {
                match log_format {
                    LogFormat::Json => tracing::error!("{}", error_chain(&error)),
                    LogFormat::Text => eprintln!("kubepool: {}", error_chain(&error)),
                }
                ExitCode::FAILURE
            }
        }
    })
}

/// The error and its sources, joined with ": ".
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
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
