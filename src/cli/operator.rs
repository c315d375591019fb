//! `kubepool operator`: the Zuul Operator's commands.

use clap::{Args, Subcommand};

/// Arguments of `kubepool operator`.
#[derive(Debug, Args)]
pub struct OperatorArgs {
    #[command(subcommand)]
    pub command: OperatorCommand,
}

/// What `kubepool operator` does.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Print the `Zuul` CustomResourceDefinition (YAML) for `kubectl apply -f -`.
    Crd,
}

/// Runs `kubepool operator …`.
pub fn run(args: OperatorArgs) -> Result<(), crate::Error> {
    match args.command {
        OperatorCommand::Crd => {
            print!("{}", crate::operator::crd_yaml());
            Ok(())
        }
    }
}
