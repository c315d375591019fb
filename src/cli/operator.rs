//! `kubepool operator`: the Zuul Operator's commands.

use clap::{Args, Subcommand};
use std::time::Duration;

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
    /// Print the OLM bundle's ClusterServiceVersion (YAML), made from deploy/operator/.
    Csv,
    /// Print the `kubepool-launcher` ClusterRole of the OLM bundle (YAML), from deploy/operator/.
    LauncherRole,
    /// Run the operator: keep every `Zuul` (in --namespace, or in all namespaces) running.
    Run(RunArgs),
}

/// Arguments of `kubepool operator run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "KUBEPOOL_OPERATOR_NAMESPACE")]
    pub namespace: Option<String>,
    /// The kubepool image launchers run when a Zuul names none.
    #[arg(long, env = "KUBEPOOL_OPERATOR_KUBEPOOL_IMAGE", default_value_t = crate::operator::default_kubepool_image())]
    pub kubepool_image: String,
    /// Seconds between full passes over every Zuul (drift the watches missed is corrected then).
    #[arg(long, env = "KUBEPOOL_OPERATOR_RESYNC", default_value_t = 300)]
    pub resync_seconds: u64,
    /// Seconds a deleted Zuul's launchers may take to delete their nodes before the operator
    /// deletes the node namespaces itself.
    #[arg(long, env = "KUBEPOOL_OPERATOR_CLEANUP_TIMEOUT", default_value_t = crate::operator::cleanup::DEFAULT_TIMEOUT.as_secs())]
    pub cleanup_timeout_seconds: u64,
}

/// Runs `kubepool operator …`.
pub async fn run(args: OperatorArgs) -> Result<(), crate::Error> {
    match args.command {
        OperatorCommand::Crd => {
            print!("{}", crate::operator::crd_yaml());
            Ok(())
        }
        OperatorCommand::Csv => {
            let text = crate::operator::olm::csv_yaml().map_err(|e| crate::Error::Setup(e.to_string()))?;
            print!("{text}");
            Ok(())
        }
        OperatorCommand::LauncherRole => {
            let text =
                crate::operator::olm::launcher_cluster_role_yaml().map_err(|e| crate::Error::Setup(e.to_string()))?;
            print!("{text}");
            Ok(())
        }
        OperatorCommand::Run(args) => {
            let client = kube::Client::try_default()
                .await
                .map_err(|e| crate::Error::Setup(format!("cannot make a Kubernetes client: {e}")))?;
            let config = crate::operator::controller::Config {
                namespace: args.namespace,
                kubepool_image: args.kubepool_image,
                resync: Duration::from_secs(args.resync_seconds.max(1)),
                cleanup_timeout: Duration::from_secs(args.cleanup_timeout_seconds),
            };
            crate::operator::controller::run(client, config).await.map_err(|e| crate::Error::Setup(e.to_string()))
        }
    }
}
