//! `kubepool exec`: `kubectl exec`'s arguments, an exit status you can trust. Prints the
//! command's stdout and stderr as they come and exits with its exit code; exits 255 with a
//! message when the code cannot be known (never 0). Goes through the per-user agent unless
//! `--no-agent` (or `KUBEPOOL_EXEC_NO_AGENT=1`).

use super::kube_args::KubeArgs;
use crate::pod_exec::agent;
use crate::pod_exec::client::ClientSpec;
use crate::pod_exec::{EXIT_UNKNOWN, ExecError, ExecRequest, Sinks, Target};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// The container (default: the pod's first).
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Pass stdin to the command.
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// Run in this process instead of through the per-user agent.
    #[arg(long, env = "KUBEPOOL_EXEC_NO_AGENT", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_agent: bool,
    /// The agent's socket (default: $XDG_RUNTIME_DIR/kubepool/agent.sock or /tmp/kubepool-<uid>/).
    #[arg(long, env = "KUBEPOOL_AGENT_SOCKET")]
    pub agent_socket: Option<PathBuf>,
    /// Seconds to keep re-attaching to the command after the API connection was lost.
    #[arg(long, default_value_t = 600)]
    pub resume_seconds: u64,
    /// stdin is exactly this many bytes: the agent may then send it, whole, over the
    /// container's persistent channel before the command starts (without it, stdin streams
    /// to the command on an exec stream of its own).
    #[arg(long, requires = "stdin")]
    pub stdin_bytes: Option<u64>,
    /// `pod/<name>` or `<name>`.
    pub pod: String,
    /// The command and its arguments: after `--`, or right after the pod as `kubectl exec` and
    /// rsync's `--rsh` give them (everything after the pod is the command's).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub async fn run(args: ExecArgs) -> ExitCode {
    match exec(args).await {
        Ok(code) => ExitCode::from((code & 0xff) as u8),
        Err(error) => {
            eprintln!("kubepool exec: {}", crate::error::chain(&error));
            ExitCode::from(EXIT_UNKNOWN as u8)
        }
    }
}

async fn exec(args: ExecArgs) -> Result<i32, ExecError> {
    let pod = args.pod.strip_prefix("pod/").or_else(|| args.pod.strip_prefix("pods/")).unwrap_or(&args.pod);
    let spec =
        ClientSpec { kubeconfig: args.kube.absolute_kubeconfig(), context: args.kube.context.clone() }.resolved();
    let request = ExecRequest {
        target: Target {
            namespace: args.kube.namespace.clone().unwrap_or_default(),
            pod: pod.to_string(),
            container: args.container.clone(),
        },
        command: args.command.clone(),
        stdin: args.stdin,
        resume_seconds: args.resume_seconds,
        stdin_bytes: args.stdin_bytes,
    };
    let stdin = args.stdin.then(tokio::io::stdin);
    if args.no_agent {
        let (client, namespace) = crate::pod_exec::client::connect(&spec).await?;
        let mut request = request;
        if request.target.namespace.is_empty() {
            request.target.namespace = namespace;
        }
        request.target = crate::pod_exec::container::with_container(&client, request.target).await?;
        let feed = stdin.map(|s| crate::pod_exec::session::feed_stdin(Box::new(s)));
        let mut sinks = Sinks { stdout: Box::new(tokio::io::stdout()), stderr: Box::new(tokio::io::stderr()) };
        return crate::pod_exec::run(&client, &request, feed, &mut sinks).await;
    }
    let socket = args.agent_socket.clone().unwrap_or_else(agent::socket::default_path);
    agent::client::exec(&socket, spec, request, stdin, tokio::io::stdout(), tokio::io::stderr()).await
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use clap::Parser;

    fn command_of(argv: &[&str]) -> (String, bool, Vec<String>) {
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Exec(args) => (args.pod, args.stdin, args.command),
            other => panic!("not exec: {other:?}"),
        }
    }

    #[test]
    fn the_command_follows_the_pod_with_or_without_a_double_dash() {
        let with = command_of(&["kubepool", "exec", "-i", "node", "--", "sh", "-c", "echo -n x"]);
        assert_eq!(with, ("node".into(), true, vec!["sh".into(), "-c".into(), "echo -n x".into()]));
        // As rsync's --rsh calls it: `<rsh> <host> rsync --server -vlogDtpre.iLsfxCIvu . /dest`.
        let rsh = command_of(&[
            "kubepool",
            "exec",
            "--context",
            "c",
            "-i",
            "node",
            "rsync",
            "--server",
            "-logDtpre.iLsfxC",
            ".",
            "/d",
        ]);
        assert_eq!(rsh.0, "node");
        assert_eq!(rsh.2, ["rsync", "--server", "-logDtpre.iLsfxC", ".", "/d"]);
        // Options after the pod belong to the command, not to kubepool.
        let after = command_of(&["kubepool", "exec", "node", "ls", "-i", "--context", "x"]);
        assert_eq!((after.1, after.2.len()), (false, 4));
        assert!(Cli::try_parse_from(["kubepool", "exec", "node"]).is_err(), "a command is required");
    }
}
