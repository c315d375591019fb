//! `kubepool executor prepare`: from a fulfilled request (or node records in a JSON file),
//! write the kubeconfig, inventory and `zuul.resources` Zuul's executor would, and with
//! `--forward` stream the pods' console logs to local ports until SIGTERM.

use super::launcher::shutdown_signal;
use super::zk_args::ZkArgs;
use crate::Error;
use crate::executor::{self, ForwardOptions, output};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum ExecutorCommand {
    /// Write <dir>/kube/config (0600), <dir>/inventory.yaml and <dir>/resources.json, and print
    /// `zuul.resources` as JSON; with --forward, then forward the pods' console ports until
    /// SIGTERM or SIGINT (their ports are `stream_port1`/`stream_port2`).
    Prepare(PrepareArgs),
}

#[derive(Debug, Args)]
pub struct PrepareArgs {
    #[command(flatten)]
    pub zk: ZkArgs,
    /// A fulfilled node request (e.g. 200-0000000042), read from ZooKeeper.
    #[arg(long, conflicts_with = "nodes", required_unless_present = "nodes")]
    pub request: Option<String>,
    /// Node records instead of a request: a JSON list of {"name", "label", "node"} objects.
    #[arg(long)]
    pub nodes: Option<PathBuf>,
    /// The nodeset names of the request's nodes, in request order (default: the labels).
    #[arg(long = "name")]
    pub names: Vec<String>,
    /// Where to write the files.
    #[arg(long)]
    pub dir: PathBuf,
    /// Forward each pod's console ports (19885, 19886) to local ports until SIGTERM.
    #[arg(long)]
    pub forward: bool,
}

pub async fn run(command: ExecutorCommand) -> Result<(), Error> {
    match command {
        ExecutorCommand::Prepare(args) => prepare(args).await,
    }
}

async fn prepare(args: PrepareArgs) -> Result<(), Error> {
    let records = match (&args.request, &args.nodes) {
        (Some(request), _) => executor::records::from_request(&args.zk.store().await?, request, &args.names).await?,
        (None, Some(path)) => executor::records::load_file(path)?,
        (None, None) => return Err(Error::Operation("give --request or --nodes".into())),
    };
    let prepared = executor::prepare(&records)?;
    let paths = output::Paths::under(&args.dir);
    let no_ports = BTreeMap::new();
    output::write_all(&paths, &prepared, &prepared.resources(&no_ports))?;
    tracing::info!(dir = %args.dir.display(), nodes = records.len(), pods = prepared.pods.len(), "executor files written");
    if !args.forward {
        println!("{}", prepared.resources(&no_ports));
        return Ok(());
    }
    let shutdown = shutdown_signal()?;
    let forwards = executor::forward::forward_pods(&prepared, &ForwardOptions::default()).await?;
    let resources = prepared.resources(&executor::forward::stream_ports(&forwards));
    output::write_resources(&paths, &resources)?;
    println!("{resources}");
    shutdown.await;
    for forward in forwards.into_values() {
        forward.stop().await;
    }
    Ok(())
}
