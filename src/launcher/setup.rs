//! From `nodepool.yaml` to a running engine: connect to each provider's cluster, build its
//! driver, and resolve the pools into [`PoolPlan`]s.

use super::naming::NodepoolNaming;
use super::plan::PoolPlan;
use crate::config::{self, Config, LabelKind as ConfigLabelKind};
use crate::drivers::factory;
use crate::drivers::spec::{DriverKind, DriverSpec, LabelKind, LabelSpec, PoolSpec, Timeouts};
use crate::metrics::{Metrics, ProviderLabels};
use crate::{Error, k8s};
use kubepool_driver_api::Driver;
use std::collections::BTreeMap;
use std::sync::Arc;
use tracing::{Instrument, info, info_span, warn};

/// The drivers and pools the engine serves.
pub struct Providers {
    pub drivers: BTreeMap<String, Arc<dyn Driver>>,
    pub clouds: BTreeMap<String, Option<String>>,
    pub pools: Vec<PoolPlan>,
}

/// How the launcher uses each provider's cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterSettings {
    /// Requests per second each provider's client may make.
    pub api_qps: u32,
    /// Requests that may go at once above the rate, after a quiet spell.
    pub api_burst: u32,
    /// Where node tokens come from.
    pub node_token: k8s::TokenSource,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            api_qps: k8s::discipline::DEFAULT_QPS,
            api_burst: k8s::discipline::DEFAULT_BURST,
            node_token: k8s::TokenSource::default(),
        }
    }
}

/// Connects to every provider kubepool serves and resolves its pools.
pub async fn providers(config: &Config, metrics: &Metrics, settings: &ClusterSettings) -> Result<Providers, Error> {
    let mut out = Providers { drivers: BTreeMap::new(), clouds: BTreeMap::new(), pools: Vec::new() };
    for provider in config.kubepool_providers() {
        let span = info_span!("provider", name = %provider.name, driver = %provider.driver);
        async {
            let discipline = k8s::ApiDiscipline {
                qps: settings.api_qps.max(1),
                burst: settings.api_burst.max(1),
                observer: Some(metrics.api_error_observer(&provider.name)),
                ..k8s::ApiDiscipline::default()
            };
            let mut cluster = k8s::connect_with(provider.context.as_deref(), discipline).await?;
            cluster.node_token = settings.node_token;
            // A cluster that does not answer now is no reason to stop serving the others: its
            // pools stay paused until it answers (launcher::health).
            let connected = match cluster.check_health().await {
                Ok(()) => {
                    info!(server = %cluster.server, "connected to the cluster");
                    true
                }
                Err(reason) => {
                    warn!(server = %cluster.server, %reason, "the cluster does not answer; its pools wait until it does");
                    false
                }
            };
            match cluster.node_token {
                k8s::TokenSource::Request { .. } if cluster.ca_crt_base64.is_none() => warn!(
                    "the kubeconfig names no CA for this cluster: node tokens come from token Secrets (which carry it)"
                ),
                k8s::TokenSource::Request { lifetime } => {
                    info!(lifetime_hours = lifetime.as_secs() / 3600, "node tokens come from the TokenRequest API")
                }
                k8s::TokenSource::Secret => info!("node tokens come from token Secrets"),
            }
            metrics
                .provider_connected
                .get_or_create(&ProviderLabels { provider: provider.name.clone() })
                .set(i64::from(connected));
            if provider.max_concurrency == 0 {
                warn!("max-concurrency is 0: this provider handles no requests");
            }
            if provider.max_concurrency != 0 {
                out.pools.extend(provider.pools.iter().map(|pool| plan(provider, pool)));
            }
            let driver = factory::build(&driver_spec(provider), cluster, Arc::new(NodepoolNaming))
                .map_err(|e| Error::Setup(e.to_string()))?;
            out.drivers.insert(provider.name.clone(), driver);
            out.clouds.insert(provider.name.clone(), provider.context.clone());
            Ok::<_, Error>(())
        }
        .instrument(span)
        .await?;
    }
    Ok(out)
}

/// A provider's driver spec: nodepool.yaml's keys in the drivers' terms (a kubernetes
/// `namespace` label and an openshift `project` label are both [`LabelKind::Namespace`]).
fn driver_spec(provider: &config::Provider) -> DriverSpec {
    DriverSpec {
        provider: provider.name.clone(),
        kind: match provider.driver {
            config::Driver::Kubernetes => DriverKind::Kubernetes,
            config::Driver::Openshift => DriverKind::Openshift,
            config::Driver::OpenshiftPods => DriverKind::OpenshiftPods,
        },
        pools: provider
            .pools
            .iter()
            .map(|pool| PoolSpec { name: pool.name.clone(), labels: pool.labels.iter().map(label_spec).collect() })
            .collect(),
        timeouts: Timeouts::default(),
    }
}

fn label_spec(label: &config::PoolLabel) -> LabelSpec {
    let kind = match (&label.kind, &label.ssh) {
        (ConfigLabelKind::Namespace, _) => LabelKind::Namespace,
        (ConfigLabelKind::Pod(template), Some(ssh)) => LabelKind::Ssh(template.clone(), Box::new(ssh.clone())),
        (ConfigLabelKind::Pod(template), None) => LabelKind::Pod(template.clone()),
        (ConfigLabelKind::Spec(spec), _) => LabelKind::Spec(spec.clone()),
    };
    LabelSpec {
        name: label.name.clone(),
        kind,
        labels: strings(&label.labels),
        dynamic_labels: strings(&label.dynamic_labels),
        annotations: strings(&label.annotations),
        python_path: label.python_path.clone(),
        shell_type: label.shell_type.clone(),
        buildset_namespace: label.buildset_namespace,
    }
}

fn plan(provider: &config::Provider, pool: &config::Pool) -> PoolPlan {
    PoolPlan {
        provider: provider.name.clone(),
        pool: pool.name.clone(),
        priority: pool.priority,
        labels: pool.labels.iter().map(|l| (l.name.clone(), l.resources.clone())).collect(),
        limits: pool.limits.clone(),
        node_attributes: pool.node_attributes.clone(),
        launch_retries: u32::try_from(provider.launch_retries).unwrap_or(1).max(1),
        max_concurrency: usize::try_from(provider.max_concurrency).ok().filter(|m| *m > 0),
    }
}

/// Kubernetes label values from YAML values (strings as they are, others as written).
fn strings(map: &serde_json::Map<String, serde_json::Value>) -> BTreeMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))).collect()
}
