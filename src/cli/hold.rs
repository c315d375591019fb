//! `kubepool hold <node-id>`: keep a node (e.g. to look into a failed job), like `nodepool
//! hold`, optionally with a reason and an expiry as Zuul's autohold records them.

use super::zk_args::ZkArgs;
use crate::Error;
use crate::operations::{self, Hold};
use clap::Args;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct HoldArgs {
    #[command(flatten)]
    pub zk: ZkArgs,
    /// The node id (as `kubepool list` shows it), e.g. 0000000042.
    pub node_id: String,
    /// Why the node is held (stored as the node's comment).
    #[arg(long)]
    pub reason: Option<String>,
    /// Seconds after which the launcher deletes the held node (the node's hold_expiration);
    /// without it the node is kept until deleted (or until max-hold-age).
    #[arg(long, value_name = "SECONDS")]
    pub expiry: Option<u64>,
    /// How long to wait for the node's lock (a job using it holds it).
    #[arg(long, default_value_t = 5)]
    pub wait_seconds: u64,
}

pub async fn run(args: HoldArgs) -> Result<(), Error> {
    let store = args.zk.store().await?;
    let hold = Hold { reason: args.reason, expiry: args.expiry };
    operations::hold(&store, &args.node_id, &hold, Duration::from_secs(args.wait_seconds))
        .await
        .map_err(|e| Error::Operation(e.to_string()))?;
    println!("{}", super::list::node_table(&store, Some(&args.node_id), false).await?);
    Ok(())
}
