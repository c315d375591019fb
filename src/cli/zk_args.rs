//! The `-c nodepool.yaml` argument of the commands that read ZooKeeper, and the connection.

use crate::zk::Store;
use crate::{Error, config};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ZkArgs {
    /// The nodepool.yaml naming the ZooKeeper servers (and TLS files).
    #[arg(short = 'c', long = "config", default_value = "/etc/nodepool/nodepool.yaml", env = "KUBEPOOL_CONFIG")]
    pub config: PathBuf,

    /// The global `--zookeeper-tls-verify-hostname`.
    #[arg(from_global)]
    pub zookeeper_tls_verify_hostname: bool,
}

impl ZkArgs {
    pub async fn store(&self) -> Result<Store, Error> {
        let config = config::load(&self.config)?;
        let client =
            crate::zk::connect(&crate::zk::zookeeper_options(&config, self.zookeeper_tls_verify_hostname)).await?;
        Ok(Store::new(client))
    }
}
