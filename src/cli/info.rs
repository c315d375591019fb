//! `kubepool info [PROVIDER]`: with a provider, its ZooKeeper data as `nodepool info PROVIDER`
//! prints it; without, launchers, pools, and node and request counts.

use super::zk_args::ZkArgs;
use crate::Error;
use crate::operations;
use crate::status::pretty;
use clap::Args;

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub zk: ZkArgs,
    /// A provider: show its ZooKeeper data (image uploads, which Kubernetes providers have none
    /// of, and nodes), as `nodepool info PROVIDER`.
    pub provider: Option<String>,
    /// Print JSON instead of text (the overview only).
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: InfoArgs) -> Result<(), Error> {
    let store = args.zk.store().await?;
    if let Some(provider) = &args.provider {
        let mut nodes: Vec<Vec<String>> = store
            .list_nodes()
            .await?
            .into_iter()
            .filter(|node| node.value.provider.as_deref() == Some(provider.as_str()))
            .map(|node| vec![node.id, node.value.external_id.unwrap_or_else(|| "None".into())])
            .collect();
        nodes.sort();
        println!("ZooKeeper data for provider {provider}\n");
        println!("Image data:");
        println!("{}", pretty::render(&["Image Name", "Build ID", "Upload IDs"], &[]));
        println!("\nNodes:");
        println!("{}", pretty::render(&["ID", "Server ID"], &nodes));
        return Ok(());
    }
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
