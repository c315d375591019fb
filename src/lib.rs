//! kubepool: Nodepool's kubernetes, openshift and openshiftpods drivers, rebuilt for Zuul.
//!
//! The layout follows one request through the system: [`config`] reads `nodepool.yaml`,
//! [`zk`] speaks Nodepool's ZooKeeper protocol, [`launcher`] joins it to the [`drivers`]
//! (built by [`drivers::factory`]), [`k8s`] is the shared Kubernetes client, [`pod_exec`] and
//! [`executor`] serve the Zuul executor's side, and [`cli`] holds one file per subcommand.
//! docs/architecture.md describes the rooms and the lines between them.

pub mod cli;
pub mod config;
pub mod drivers;
pub mod error;
pub mod executor;
pub mod http_server;
pub mod k8s;
pub mod launcher;
pub mod metrics;
pub mod operations;
pub mod operator;
pub mod pod_exec;
pub mod statsd;
pub mod status;
pub mod telemetry;
pub mod webapp;
pub mod zk;

pub use error::Error;
