//! `kubepool console-server`: serve the console logs kubepool's connection plugin writes
//! (`ansible_kubepool_console_dir`) with the zuul_console protocol, in place of the pod's
//! zuul_console daemon and its port forward. Prints `Listening on <addr>` once ready.

use crate::Error;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ConsoleServerArgs {
    /// The directory of the `console-<log id>.log` files.
    #[arg(long)]
    pub dir: PathBuf,
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
}

pub async fn run(args: ConsoleServerArgs) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|source| Error::Listen { addr: args.listen.clone(), source })?;
    let addr = listener.local_addr().map_err(|source| Error::Listen { addr: args.listen.clone(), source })?;
    let shutdown = super::launcher::shutdown_signal()?;
    println!("Listening on {addr}");
    tokio::select! {
        () = crate::pod_exec::console::serve(listener, args.dir) => Ok(()),
        () = shutdown => Ok(()),
    }
}
