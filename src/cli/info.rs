//! `kubepool info`: launchers, pools, node and request counts.

use super::zk_args::ZkArgs;
use crate::Error;
use crate::operations;
use clap::Args;

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub zk: ZkArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: InfoArgs) -> Result<(), Error> {
    let store = args.zk.store().await?;
    let info = operations::info(&store).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info).map_err(|e| Error::Output(e.to_string()))?);
        return Ok(());
    }
    println!("launchers: {}", if info.launchers.is_empty() { "none".to_string() } else { info.launchers.join(", ") });
    println!("pools:");
    for pool in &info.pools {
        println!(
            "  {}/{}  priority {}  {}  labels: {}",
            pool.provider_name.as_deref().unwrap_or("-"),
            pool.name.as_deref().unwrap_or("-"),
            pool.priority,
            if pool.paused { "PAUSED" } else { "running" },
            pool.supported_labels.join(", ")
        );
    }
    println!("nodes:");
    for (provider, states) in &info.nodes {
        let counts: Vec<String> = states.iter().map(|(s, n)| format!("{s} {n}")).collect();
        println!("  {provider}: {}", counts.join(", "));
    }
    let counts: Vec<String> = info.requests.iter().map(|(s, n)| format!("{s} {n}")).collect();
    println!("requests: {}", if counts.is_empty() { "none".to_string() } else { counts.join(", ") });
    Ok(())
}
