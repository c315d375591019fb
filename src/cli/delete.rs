//! `kubepool delete <node-id>`: mark a node for deletion, like `nodepool delete`.

use super::zk_args::ZkArgs;
use crate::Error;
use crate::operations;
use clap::Args;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub zk: ZkArgs,
    /// The node id (as `kubepool list` shows it), e.g. 0000000042.
    pub node_id: String,
    /// How long to wait for the node's lock (a job using it holds it).
    #[arg(long, default_value_t = 10)]
    pub wait_seconds: u64,
}

pub async fn run(args: DeleteArgs) -> Result<(), Error> {
    let store = args.zk.store().await?;
    operations::mark_for_deletion(&store, &args.node_id, Duration::from_secs(args.wait_seconds))
        .await
        .map_err(|e| Error::Operation(e.to_string()))?;
    // As `nodepool delete`: the node's row, now `deleting`; its launcher deletes it.
    println!("{}", super::list::node_table(&store, Some(&args.node_id), false).await?);
    Ok(())
}
