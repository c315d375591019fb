//! `kubepool config validate -c FILE`: the `nodepool config-validate` replacement.

use crate::config::{self, Config};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a nodepool.yaml as `nodepool config-validate` does; every problem is listed on
    /// stderr as FILE:LINE:COL: key.path: message, and the exit status is 1.
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The nodepool.yaml to check.
    #[arg(short = 'c', long = "config", default_value = "/etc/nodepool/nodepool.yaml", env = "KUBEPOOL_CONFIG")]
    pub config: PathBuf,
}

pub fn run(args: ConfigArgs) -> ExitCode {
    match args.command {
        ConfigCommand::Validate(args) => validate(&args),
    }
}

fn validate(args: &ValidateArgs) -> ExitCode {
    match config::load(&args.config) {
        Ok(config) => {
            println!("{}: valid; {}", args.config.display(), summary(&config));
            ExitCode::SUCCESS
        }
        Err(error) => {
            for line in error.lines() {
                eprintln!("{line}");
            }
            ExitCode::FAILURE
        }
    }
}

fn summary(config: &Config) -> String {
    let pools: usize = config.providers.iter().map(|p| p.pools.len()).sum();
    let labels: usize = config.providers.iter().flat_map(|p| &p.pools).map(|p| p.labels.len()).sum();
    format!(
        "{} provider(s) served with {pools} pool(s) and {labels} pool label(s); {} provider(s) of other drivers ignored",
        config.providers.len(),
        config.ignored_providers.len()
    )
}
