//! The command line: one file per subcommand, holding argument structs and output only.

mod agent;
mod config;
mod console_server;
mod delete;
mod exec;
mod executor;
mod hold;
mod info;
mod kube_args;
mod launcher;
mod list;
mod operator;
mod port_forward;
mod request_list;
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
    /// (Subcommands that connect read it with `from_global`.)
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
    /// List node requests, like `nodepool request-list`.
    RequestList(request_list::RequestListArgs),
    /// Mark a node for deletion; its launcher removes the resource and the record.
    Delete(delete::DeleteArgs),
    /// Hold a node (kept until deleted or its expiry), like `nodepool hold`.
    Hold(hold::HoldArgs),
    /// A provider's ZooKeeper data, like `nodepool info PROVIDER`; without a provider,
    /// registered launchers and pools, and node and request counts.
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
    /// The Zuul Operator: a `Zuul` custom resource becomes a running Zuul.
    Operator(operator::OperatorArgs),
    /// The per-user agent `kubepool exec` starts on demand (keeps API connections warm).
    #[command(hide = true)]
    Agent(agent::AgentArgs),
}

impl Command {
    /// A short operator command whose output is data (`list`, `info`, `hold` ...): the
    /// ZooKeeper client library's own session messages are not shown.
    pub fn is_query(&self) -> bool {
        matches!(
            self,
            Command::List(_) | Command::RequestList(_) | Command::Delete(_) | Command::Hold(_) | Command::Info(_)
        )
    }
}

/// Parses the command line. As with `nodepool -c FILE list`, the config file may come before the
/// subcommand: it is moved to the subcommand that reads it.
pub fn parse() -> Cli {
    Cli::parse_from(config_after_subcommand(std::env::args_os().collect()))
}

/// `kubepool [global options] -c FILE SUBCOMMAND...` → `kubepool [global options] SUBCOMMAND... -c FILE`,
/// when the (innermost) subcommand has a `--config`; any other command line is left as it is.
pub fn config_after_subcommand(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let root = Cli::command();
    // Global options before the subcommand, and where a leading -c/--config is.
    let mut index = 1;
    let mut config: Option<Vec<std::ffi::OsString>> = None;
    while index < args.len() {
        let arg = args[index].to_string_lossy().into_owned();
        if config.is_none() && (arg == "-c" || arg == "--config") && index + 1 < args.len() {
            config = Some(args.drain(index..index + 2).collect());
        } else if config.is_none() && (arg.starts_with("--config=") || (arg.starts_with("-c") && arg.len() > 2)) {
            config = Some(args.drain(index..index + 1).collect());
        } else if arg == "--log-format" {
            index += 2;
        } else if arg.starts_with('-') {
            index += 1;
        } else {
            break;
        }
    }
    let Some(config) = config else { return args };
    // Walk down the subcommands named next; insert after the innermost.
    let mut command = &root;
    while let Some(sub) = args.get(index).and_then(|a| command.find_subcommand(a)) {
        command = sub;
        index += 1;
    }
    if command.get_arguments().any(|a| a.get_long() == Some("config")) {
        args.splice(index..index, config);
    } else {
        // Put it back where it was: clap reports it as the error it is.
        args.splice(1..1, config);
    }
    args
}

/// Runs the chosen subcommand and turns its result into an exit status.
pub fn run(cli: Cli) -> ExitCode {
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
            Command::RequestList(args) => request_list::run(args).await,
            Command::Delete(args) => delete::run(args).await,
            Command::Hold(args) => hold::run(args).await,
            Command::Info(args) => info::run(args).await,
            Command::Executor(command) => executor::run(command).await,
            Command::PortForward(args) => port_forward::run(args).await,
            Command::Agent(args) => agent::run(args).await,
            Command::ConsoleServer(args) => console_server::run(args).await,
            Command::Operator(args) => operator::run(args).await,
            Command::Exec(_) => unreachable!("handled above"),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            // One line per fatal error: a log record for log collectors, a plain line for a
            // person (the log's own format, not both).
            Err(error) => {
                match log_format {
                    LogFormat::Json => tracing::error!("{}", crate::error::chain(&error)),
                    LogFormat::Text => eprintln!("kubepool: {}", crate::error::chain(&error)),
                }
                ExitCode::FAILURE
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moved(line: &str) -> String {
        let args = line.split(' ').map(std::ffi::OsString::from).collect();
        config_after_subcommand(args).iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn a_config_before_the_subcommand_moves_to_the_subcommand() {
        assert_eq!(moved("kubepool -c F list"), "kubepool list -c F");
        assert_eq!(moved("kubepool --config F list --detail"), "kubepool list --config F --detail");
        assert_eq!(moved("kubepool --config=F launcher"), "kubepool launcher --config=F");
        assert_eq!(
            moved("kubepool --log-format json -c F config validate"),
            "kubepool --log-format json config validate -c F"
        );
        assert_eq!(moved("kubepool -cF info"), "kubepool info -cF");
    }

    #[test]
    fn other_command_lines_are_left_alone() {
        for line in ["kubepool list -c F", "kubepool -c F exec pod", "kubepool launcher", "kubepool -c"] {
            assert_eq!(moved(line), line);
        }
    }

    #[test]
    fn a_moved_config_is_the_subcommands_config() {
        let cli = Cli::parse_from(config_after_subcommand(
            ["kubepool", "-c", "/x/nodepool.yaml", "launcher"].map(std::ffi::OsString::from).to_vec(),
        ));
        match cli.command {
            Command::Launcher(args) => assert_eq!(args.config, std::path::PathBuf::from("/x/nodepool.yaml")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_tls_host_name_option_reaches_the_commands_that_connect() {
        let parse = |line: &str| Cli::parse_from(config_after_subcommand(line.split(' ').map(Into::into).collect()));
        match parse("kubepool --zookeeper-tls-verify-hostname list").command {
            Command::List(args) => assert!(args.zk.zookeeper_tls_verify_hostname),
            other => panic!("{other:?}"),
        }
        match parse("kubepool list").command {
            Command::List(args) => assert!(!args.zk.zookeeper_tls_verify_hostname),
            other => panic!("{other:?}"),
        }
        match parse("kubepool launcher -c F --zookeeper-tls-verify-hostname").command {
            Command::Launcher(args) => assert!(args.zookeeper_tls_verify_hostname),
            other => panic!("{other:?}"),
        }
    }
}
