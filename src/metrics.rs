//! Prometheus metrics, served as OpenMetrics text on `--metrics-addr` at `/metrics`.
//!
//! What an operator watches: requests handled (by outcome), launch latency, nodes by state,
//! Kubernetes API errors. The launcher updates [`Metrics`]; [`serve`] exposes them.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use tracing::{info, warn};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub provider: String,
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LaunchLabels {
    pub provider: String,
    pub label: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub provider: String,
    pub pool: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PausedLabels {
    pub provider: String,
    pub pool: String,
    pub reason: String,
}

/// Why a pool takes no requests for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseReason {
    /// Its provider's cluster does not answer.
    ProviderUnreachable,
    /// It is at its quota until nodes are returned.
    Quota,
}

impl PauseReason {
    pub const ALL: [PauseReason; 2] = [PauseReason::ProviderUnreachable, PauseReason::Quota];

    pub fn as_str(self) -> &'static str {
        match self {
            PauseReason::ProviderUnreachable => "provider-unreachable",
            PauseReason::Quota => "quota",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub provider: String,
    pub state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub provider: String,
    pub kind: String,
}

/// The launcher's metrics. Cheap to clone; all clones update the same values.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// 1 while the provider's cluster answers, 0 while it does not (its pools are paused).
    pub provider_connected: Family<ProviderLabels, Gauge>,
    /// Node requests finished, by provider and outcome (`fulfilled`, `declined`, `failed`).
    pub requests: Family<OutcomeLabels, Counter>,
    /// Seconds from a node's creation in ZooKeeper until it is ready.
    pub launch_seconds: Family<LaunchLabels, Histogram>,
    /// Nodes of this launcher's providers, by state.
    pub nodes: Family<StateLabels, Gauge>,
    /// Failed Kubernetes API calls (each attempt), by provider and kind (`throttled`, `server`,
    /// `connection`).
    pub api_errors: Family<ErrorLabels, Counter>,
    /// Failed launch attempts, by provider and kind (`transient`, `quota`, `permanent`).
    pub launch_errors: Family<ErrorLabels, Counter>,
    /// 1 while the launcher has a ZooKeeper session, 0 while it is opening a new one.
    pub zookeeper_connected: Gauge,
    /// 1 while the pool is registered and taking requests, 0 while it is not.
    pub pool_serving: Family<PoolLabels, Gauge>,
    /// 1 for the reason a pool is paused (`provider-unreachable`, `quota`), 0 for the others.
    pub pool_paused: Family<PausedLabels, Gauge>,
    /// What `/ready` answers from (the gauges cannot be read back by key set).
    readiness: Arc<std::sync::Mutex<Readiness>>,
    /// Nodepool's statsd metrics, when `STATSD_HOST`/`STATSD_PORT` are set.
    statsd: Option<Arc<crate::statsd::Statsd>>,
    /// When the statsd gauges were last sent.
    gauges_sent: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

/// The state `/ready` reports.
#[derive(Debug, Default)]
struct Readiness {
    zookeeper: bool,
    serving: std::collections::BTreeSet<(String, String)>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kubepool");
        let provider_connected = Family::<ProviderLabels, Gauge>::default();
        let requests = Family::<OutcomeLabels, Counter>::default();
        let launch_seconds = Family::<LaunchLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0])
        });
        let nodes = Family::<StateLabels, Gauge>::default();
        let launch_errors = Family::<ErrorLabels, Counter>::default();
        let api_errors = Family::<ErrorLabels, Counter>::default();
        let zookeeper_connected = Gauge::default();
        let pool_serving = Family::<PoolLabels, Gauge>::default();
        let pool_paused = Family::<PausedLabels, Gauge>::default();
        registry.register("pool_paused", "Whether the pool is paused, by reason", pool_paused.clone());
        registry.register(
            "zookeeper_connected",
            "Whether the launcher has a ZooKeeper session",
            zookeeper_connected.clone(),
        );
        registry.register("pool_serving", "Whether the pool is registered and taking requests", pool_serving.clone());
        registry.register("provider_connected", "Whether the provider's cluster answered", provider_connected.clone());
        registry.register("node_requests", "Node requests handled, by outcome", requests.clone());
        registry.register("launch_seconds", "Seconds from node creation to ready", launch_seconds.clone());
        registry.register("nodes", "Nodes of this launcher's providers, by state", nodes.clone());
        registry.register("kubernetes_api_errors", "Failed Kubernetes API calls, by kind", api_errors.clone());
        registry.register("launch_errors", "Failed launch attempts, by kind", launch_errors.clone());
        Self {
            registry: Arc::new(registry),
            provider_connected,
            requests,
            launch_seconds,
            nodes,
            api_errors,
            launch_errors,
            zookeeper_connected,
            pool_serving,
            pool_paused,
            readiness: Arc::default(),
            statsd: None,
            gauges_sent: Arc::default(),
        }
    }

    /// Also reports Nodepool's statsd metrics to `statsd`.
    pub fn with_statsd(mut self, statsd: crate::statsd::Statsd) -> Self {
        self.statsd = Some(Arc::new(statsd));
        self
    }

    /// The statsd client, if statsd is configured.
    pub fn statsd(&self) -> Option<&crate::statsd::Statsd> {
        self.statsd.as_deref()
    }

    /// The statsd client if statsd is configured and its gauges were not sent within
    /// `interval` (they are then due: the caller sends them).
    pub fn statsd_gauges_due(&self, interval: std::time::Duration) -> Option<&crate::statsd::Statsd> {
        let statsd = self.statsd.as_deref()?;
        let mut sent = self.gauges_sent.lock().ok()?;
        let now = std::time::Instant::now();
        if sent.is_some_and(|at| now.duration_since(at) < interval) {
            return None;
        }
        *sent = Some(now);
        Some(statsd)
    }

    /// The launcher has (true) or is waiting for (false) a ZooKeeper session.
    pub fn set_zookeeper_connected(&self, up: bool) {
        self.zookeeper_connected.set(i64::from(up));
        if let Ok(mut readiness) = self.readiness.lock() {
            readiness.zookeeper = up;
        }
    }

    /// `provider`'s `pool` is (true) or is not (false) taking requests.
    pub fn set_pool_serving(&self, provider: &str, pool: &str, serving: bool) {
        self.pool_serving
            .get_or_create(&PoolLabels { provider: provider.into(), pool: pool.into() })
            .set(i64::from(serving));
        if let Ok(mut readiness) = self.readiness.lock() {
            let key = (provider.to_string(), pool.to_string());
            if serving {
                readiness.serving.insert(key);
            } else {
                readiness.serving.remove(&key);
            }
        }
    }

    /// `provider`'s `pool` is paused for `reason`, or not paused (`None`).
    pub fn set_pool_paused(&self, provider: &str, pool: &str, reason: Option<PauseReason>) {
        for each in PauseReason::ALL {
            let labels = PausedLabels { provider: provider.into(), pool: pool.into(), reason: each.as_str().into() };
            self.pool_paused.get_or_create(&labels).set(i64::from(reason == Some(each)));
        }
    }

    /// `Ok(what)` when the launcher is ready to serve (a ZooKeeper session and at least one pool
    /// taking requests), else `Err(why not)`.
    pub fn ready(&self) -> Result<String, String> {
        let Ok(readiness) = self.readiness.lock() else { return Err("readiness state poisoned".into()) };
        if !readiness.zookeeper {
            return Err("no ZooKeeper session".into());
        }
        if readiness.serving.is_empty() {
            return Err("no pool is taking requests".into());
        }
        let pools: Vec<String> =
            readiness.serving.iter().map(|(provider, pool)| format!("{provider}/{pool}")).collect();
        Ok(format!("serving {}", pools.join(" ")))
    }

    pub fn request_outcome(&self, provider: &str, outcome: &str) {
        self.requests.get_or_create(&OutcomeLabels { provider: provider.into(), outcome: outcome.into() }).inc();
    }

    pub fn launch_seconds(&self, provider: &str, label: &str, seconds: f64) {
        self.launch_seconds
            .get_or_create(&LaunchLabels { provider: provider.into(), label: label.into() })
            .observe(seconds);
    }

    /// An observer for [`crate::k8s::ApiDiscipline`] that counts `provider`'s API errors.
    pub fn api_error_observer(&self, provider: &str) -> crate::k8s::ApiErrorObserver {
        let counter = self.api_errors.clone();
        let provider = provider.to_string();
        std::sync::Arc::new(move |kind| {
            counter.get_or_create(&ErrorLabels { provider: provider.clone(), kind: kind.to_string() }).inc();
        })
    }

    pub fn launch_error(&self, provider: &str, kind: &str) {
        self.launch_errors.get_or_create(&ErrorLabels { provider: provider.into(), kind: kind.into() }).inc();
    }

    /// Replaces the node counts with `counts` ((provider, state) → nodes).
    pub fn set_nodes(&self, counts: &std::collections::BTreeMap<(String, String), i64>) {
        self.nodes.clear();
        for ((provider, state), count) in counts {
            self.nodes.get_or_create(&StateLabels { provider: provider.clone(), state: state.clone() }).set(*count);
        }
    }

    /// The metrics in OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            warn!(%error, "cannot encode metrics");
        }
        out
    }
}

/// Binds `addr` and serves `/metrics` until the task is dropped. Returns the bound address
/// (useful with port 0).
pub async fn serve(addr: SocketAddr, metrics: Metrics) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let served = crate::http_server::serve(addr, "metrics", move |request| {
        let answer = respond(&request, &metrics);
        async move { answer }
    })
    .await?;
    info!(addr = %served.0, "serving metrics on /metrics");
    Ok(served)
}

fn respond(request: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match request.uri().path() {
        "/metrics" => (StatusCode::OK, "application/openmetrics-text; version=1.0.0; charset=utf-8", metrics.encode()),
        // Alive: the process answers (a liveness probe; it never restarts a launcher that is
        // waiting out a ZooKeeper or cluster outage).
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_string()),
        "/ready" => match metrics.ready() {
            Ok(what) => (StatusCode::OK, "text/plain", format!("ready: {what}\n")),
            Err(why) => (StatusCode::SERVICE_UNAVAILABLE, "text/plain", format!("not ready: {why}\n")),
        },
        _ => (StatusCode::NOT_FOUND, "text/plain", "not found: try /metrics, /ready or /healthz\n".to_string()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(http::header::CONTENT_TYPE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_counters_with_labels() {
        let metrics = Metrics::new();
        metrics.requests.get_or_create(&OutcomeLabels { provider: "k8s".into(), outcome: "fulfilled".into() }).inc();
        metrics.launch_seconds.get_or_create(&LaunchLabels { provider: "k8s".into(), label: "ns".into() }).observe(1.5);
        let text = metrics.encode();
        assert!(text.contains(r#"kubepool_node_requests_total{provider="k8s",outcome="fulfilled"} 1"#), "{text}");
        assert!(text.contains(r#"kubepool_launch_seconds_count{provider="k8s",label="ns"} 1"#), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn ready_needs_a_session_and_a_serving_pool() {
        let metrics = Metrics::new();
        assert_eq!(metrics.ready(), Err("no ZooKeeper session".into()));
        metrics.set_zookeeper_connected(true);
        assert_eq!(metrics.ready(), Err("no pool is taking requests".into()));
        metrics.set_pool_serving("k8s", "main", true);
        assert_eq!(metrics.ready(), Ok("serving k8s/main".into()));
        metrics.set_zookeeper_connected(false);
        assert!(metrics.ready().is_err());
        metrics.set_zookeeper_connected(true);
        metrics.set_pool_serving("k8s", "main", false);
        assert!(metrics.ready().is_err());
        assert!(metrics.encode().contains(r#"kubepool_pool_serving{provider="k8s",pool="main"} 0"#));
    }

    #[tokio::test]
    async fn serves_metrics_over_http_on_loopback() {
        let metrics = Metrics::new();
        metrics.nodes.get_or_create(&StateLabels { provider: "k8s".into(), state: "ready".into() }).set(3);
        let (addr, task) = serve("127.0.0.1:0".parse().expect("addr"), metrics).await.expect("bind");
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        task.abort();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains(r#"kubepool_nodes{provider="k8s",state="ready"} 3"#), "{response}");
    }
}
