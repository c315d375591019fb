//! `kubepool`: parse the command line, start logging, hand over to the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = kubepool::cli::parse();
    if let Err(error) = kubepool::telemetry::init(cli.log_format, cli.command.is_query()) {
        eprintln!("kubepool: cannot start logging: {error}");
        return ExitCode::from(2);
    }
    kubepool::cli::run(cli)
}
