//! `kubepool port-forward`: forward local ports to a pod, with `kubectl port-forward`'s
//! arguments and output, so that it can stand in for it in Zuul's executor (`KubeFwd` checks
//! the first line: `Forwarding from 127.0.0.1:<port> -> 19885`). Unlike kubectl it does not
//! exit when the API connection drops: it reconnects, keeping its ports. When the pod is gone
//! it says so and exits 0, which also ends Zuul's restart loop.

use super::kube_args::KubeArgs;
use super::launcher::shutdown_signal;
use crate::Error;
use crate::executor::forward::{self, ForwardEvent, ForwardOptions, PodForward};
use clap::Args;

#[derive(Debug, Args)]
pub struct PortForwardArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    /// `pod/<name>` or `<name>`, then `[LOCAL]:REMOTE` port pairs (LOCAL empty or 0: any free
    /// port). A leading `port-forward` word is ignored, so a `kubectl` wrapper can pass its
    /// arguments through unchanged.
    #[arg(required = true, num_args = 2..)]
    pub target_and_ports: Vec<String>,
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
    let client = forward::client(config)?;
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let options = ForwardOptions { ipv6_loopback: true, ..Default::default() };
    let forward = PodForward::start(client, &namespace, pod, &mappings, options, Some(events)).await?;
    for (local, remote) in &forward.ports {
        // kubectl's lines; the first one is what Zuul's executor checks.
        println!("Forwarding from 127.0.0.1:{local} -> {remote}");
        println!("Forwarding from [::1]:{local} -> {remote}");
    }
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
    Ok(())
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
