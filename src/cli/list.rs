//! `kubepool list`: nodes as `nodepool list [--detail]` shows them (or, with `--requests`,
//! node requests); `--json` for kubepool's own JSON rows.

use super::zk_args::ZkArgs;
use crate::Error;
use crate::operations;
use crate::status::{self, Format};
use clap::Args;

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub zk: ZkArgs,
    /// Every column of Nodepool's node list (pool, hostname, launcher, allocated to, hold
    /// job, comment ...), as `nodepool list --detail`.
    #[arg(long)]
    pub detail: bool,
    /// List node requests instead of nodes (as `kubepool request-list`).
    #[arg(long)]
    pub requests: bool,
    /// Print kubepool's JSON rows instead of Nodepool's table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: ListArgs) -> Result<(), Error> {
    let store = args.zk.store().await?;
    match (args.requests, args.json) {
        (true, true) => print_json(&operations::list_requests(&store).await?),
        (false, true) => print_json(&operations::list_nodes(&store).await?),
        (true, false) => {
            println!("{}", status::request_list(&store).await?.output(Format::Pretty, None));
            Ok(())
        }
        (false, false) => {
            println!("{}", node_table(&store, None, args.detail).await?);
            Ok(())
        }
    }
}

/// Nodepool's node table (of one node, or all): the short columns, or all with `detail`.
pub async fn node_table(store: &crate::zk::Store, node_id: Option<&str>, detail: bool) -> Result<String, Error> {
    let table = status::node_list(store, node_id).await?;
    Ok(table.output(Format::Pretty, (!detail).then_some(status::NODE_LIST_FIELDS)))
}

fn print_json<T: serde::Serialize>(rows: &[T]) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(rows).map_err(|e| Error::Output(e.to_string()))?;
    println!("{text}");
    Ok(())
}
