//! `kubepool port-forward`: forward local ports to a pod, with `kubectl port-forward`'s
//! arguments and output, so that it can stand in for it in Zuul's executor (`KubeFwd` checks
//! the first line: `Forwarding from 127.0.0.1:<port> -> 19885`). Unlike kubectl it does not
//! exit when the API connection drops: it reconnects, keeping its ports. When the pod is gone
//! it says so and exits 0, which also ends Zuul's restart loop.
//!
//! With `--console-dir`, the pod's console port (19885, zuul_console) is served from that
//! directory instead, where kubepool's connection plugin writes each task's console log: the
//! live log then needs neither the zuul_console daemon (nor Python) in the pod nor an API
//! stream. kubepool's `kubectl` wrapper passes it for Zuul's builds (docs/zuul-executor.md).

use super::kube_args::KubeArgs;
use super::launcher::shutdown_signal;
use crate::Error;
use crate::executor::forward::{self, ForwardEvent, ForwardOptions, PodForward};
use clap::Args;
use std::path::PathBuf;

/// The port zuul_console listens on in a node, which Zuul forwards for a pod's console.
const CONSOLE_PORT: u16 = 19885;

#[derive(Debug, Args)]
pub struct PortForwardArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// `pod/<name>` or `<name>`, then `[LOCAL]:REMOTE` port pairs (LOCAL empty or 0: any free
    /// port). A leading `port-forward` word is ignored, so a `kubectl` wrapper can pass its
    /// arguments through unchanged.
    #[arg(required = true, num_args = 2..)]
    pub target_and_ports: Vec<String>,
    /// Serve remote port 19885 from this directory of console logs (`console-<log id>.log`,
    /// as kubepool's connection plugin writes them) with the zuul_console protocol, instead of
    /// forwarding it to the pod.
    #[arg(long)]
    pub console_dir: Option<PathBuf>,
}

pub async fn run(args: PortForwardArgs) -> Result<(), Error> {
    let mut words: Vec<&str> = args.target_and_ports.iter().map(String::as_str).collect();
    if words.first() == Some(&"port-forward") {
        words.remove(0);
    }
    let (target, port_words) = words.split_first().ok_or_else(|| usage("a pod"))?;
    let pod = target.strip_prefix("pod/").or_else(|| target.strip_prefix("pods/")).unwrap_or(target);
    if pod.is_empty() || pod.contains('/') {
        return Err(usage("a pod as pod/<name> or <name>"));
    }
    let mappings = port_words.iter().map(|w| parse_mapping(w)).collect::<Result<Vec<_>, _>>()?;
    if mappings.is_empty() {
        return Err(usage("at least one [LOCAL]:REMOTE port"));
    }

    let config =
        crate::k8s::load(args.kube.source(), args.kube.context.as_deref(), args.kube.namespace.as_deref()).await?;
    let namespace = config.default_namespace.clone();
    let shutdown = shutdown_signal()?;
    // With --console-dir, the console port is served here; the rest goes to the pod.
    let mut console = tokio::task::JoinSet::new();
    let mut ports = Vec::new();
    let mut forwarded = Vec::new();
    for &(local, remote) in &mappings {
        match &args.console_dir {
            Some(dir) if remote == CONSOLE_PORT => ports.push((serve_console(&mut console, local, dir)?, remote)),
            _ => forwarded.push((local, remote)),
        }
    }
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let forward = if forwarded.is_empty() {
        None
    } else {
        let client = forward::client(config)?;
        let options = ForwardOptions { ipv6_loopback: true, ..Default::default() };
        let forward = PodForward::start(client, &namespace, pod, &forwarded, options, Some(events)).await?;
        ports.extend(forward.ports.iter().copied());
        Some(forward)
    };
    // kubectl's lines, in the order the ports were given; the first one is what Zuul's executor
    // checks.
    for (_, remote) in &mappings {
        if let Some((local, remote)) = ports.iter().find(|(_, r)| r == remote) {
            println!("Forwarding from 127.0.0.1:{local} -> {remote}");
            println!("Forwarding from [::1]:{local} -> {remote}");
        }
    }
    let Some(forward) = forward else {
        shutdown.await;
        console.shutdown().await;
        return Ok(());
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            event = received.recv() => match event {
                // kubectl prints "Handling connection for <port>" here; Zuul never reads past the
                // first line, so such lines would only fill its pipe until writes block.
                Some(ForwardEvent::Connection { local_port }) => tracing::debug!(local_port, "handling connection"),
                Some(ForwardEvent::Gone { reason }) => {
                    eprintln!("kubepool: pod {namespace}/{pod} is gone ({reason}); stopping");
                    break;
                }
                None => break,
            },
        }
    }
    forward.stop().await;
    console.shutdown().await;
    Ok(())
}

/// Serves `dir` on the loopback addresses at `local` (0: a free port); returns the port.
fn serve_console(tasks: &mut tokio::task::JoinSet<()>, local: u16, dir: &std::path::Path) -> Result<u16, Error> {
    let (port, listeners) = forward::loopback_listeners(local, true)?;
    for listener in listeners {
        tasks.spawn(crate::pod_exec::console::serve(listener, dir.to_path_buf()));
    }
    Ok(port)
}

fn usage(what: &str) -> Error {
    Error::Operation(format!("port-forward needs {what}"))
}

/// `LOCAL:REMOTE`, `:REMOTE` or `REMOTE` (same port locally), as kubectl takes them.
fn parse_mapping(word: &str) -> Result<(u16, u16), Error> {
    let bad = || usage(&format!("ports as [LOCAL]:REMOTE, not {word:?}"));
    let (local, remote) = match word.split_once(':') {
        Some((local, remote)) => (if local.is_empty() { 0 } else { local.parse().map_err(|_| bad())? }, remote),
        None => (word.parse().map_err(|_| bad())?, word),
    };
    let remote: u16 = remote.parse().map_err(|_| bad())?;
    if remote == 0 {
        return Err(bad());
    }
    Ok((local, remote))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_pairs_are_read_like_kubectl() {
        assert_eq!(parse_mapping("8080:19885").ok(), Some((8080, 19885)));
        assert_eq!(parse_mapping(":19885").ok(), Some((0, 19885)));
        assert_eq!(parse_mapping("19885").ok(), Some((19885, 19885)));
        assert!(parse_mapping("x:1").is_err());
        assert!(parse_mapping("1:0").is_err());
    }
}
