//! `kubepool request-list`: the node requests, as `nodepool request-list` shows them.

use super::zk_args::ZkArgs;
use crate::Error;
use crate::status::{self, Format};
use clap::Args;

#[derive(Debug, Args)]
pub struct RequestListArgs {
    #[command(flatten)]
    pub zk: ZkArgs,
}

pub async fn run(args: RequestListArgs) -> Result<(), Error> {
    let store = args.zk.store().await?;
    println!("{}", status::request_list(&store).await?.output(Format::Pretty, None));
    Ok(())
}
