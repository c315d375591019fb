//! statsd, as Nodepool reports to it when `STATSD_HOST`/`STATSD_PORT` are set
//! (`nodepool/stats.py`): the same metric names, so existing Grafana dashboards keep working.
//! Prometheus (`--metrics-addr`) is independent of it.
//!
//! * `nodepool.launch[.provider.P[.AZ]|.requestor.R].{ready,error.quota,error.unknown}`: a
//!   timer (ms) and a counter per finished launch;
//! * `nodepool.nodes.STATE`, `nodepool.provider.P.nodes.STATE`, `nodepool.label.L.nodes.STATE`:
//!   gauges of every node, with every state of registered providers and labels at 0;
//! * `nodepool.provider.P.max_servers` (at start and on reloads),
//!   `nodepool.provider.P.pool.POOL.addressable_requests`,
//!   `nodepool.tenant_limits.TENANT.RESOURCE` (`updateTenantLimits`): gauges;
//! * `nodepool.provider.P.leaked.nodes`: a counter per leaked resource deleted.
//!
//! Metrics go out as Python's `statsd` client sends a pipeline: `name:value|type` lines joined
//! by newlines, at most 512 bytes a datagram. Sending never blocks or fails the launcher.

use kubepool_driver_api::Limits;
use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use tracing::{debug, warn};

/// The largest datagram (the Python client's `maxudpsize`).
const MAX_DATAGRAM: usize = 512;

/// Node states Nodepool initialises to 0 (`zk.Node.VALID_STATES`).
pub const NODE_STATES: [&str; 11] =
    ["building", "testing", "ready", "in-use", "used", "hold", "deleting", "failed", "init", "aborted", "deleted"];

#[derive(Debug, thiserror::Error)]
pub enum StatsdError {
    #[error("STATSD_HOST={host} STATSD_PORT={port}: {reason}")]
    Address { host: String, port: String, reason: String },
    #[error("cannot open a UDP socket for statsd: {0}")]
    Socket(#[source] std::io::Error),
}

/// A statsd client: a UDP socket connected to the server.
#[derive(Debug)]
pub struct Statsd {
    socket: UdpSocket,
    target: SocketAddr,
}

impl Statsd {
    /// From `STATSD_HOST` and `STATSD_PORT` (defaults `localhost` and 8125, as the Python
    /// client); `None` when neither is set, as in Nodepool.
    pub fn from_env() -> Option<Result<Self, StatsdError>> {
        let host = std::env::var("STATSD_HOST").ok().filter(|h| !h.is_empty());
        let port = std::env::var("STATSD_PORT").ok().filter(|p| !p.is_empty());
        if host.is_none() && port.is_none() {
            return None;
        }
        let host = host.unwrap_or_else(|| "localhost".into());
        let port_text = port.unwrap_or_else(|| "8125".into());
        let address = |reason: String| StatsdError::Address { host: host.clone(), port: port_text.clone(), reason };
        let result = port_text
            .parse::<u16>()
            .map_err(|e| address(format!("not a port: {e}")))
            .and_then(|port| {
                (host.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|e| address(e.to_string()))?
                    .next()
                    .ok_or_else(|| address("the host does not resolve".into()))
            })
            .and_then(Self::new);
        Some(result)
    }

    /// A client sending to `target`.
    pub fn new(target: SocketAddr) -> Result<Self, StatsdError> {
        let local: SocketAddr = if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
            .parse()
            .map_err(|_| StatsdError::Socket(std::io::Error::new(std::io::ErrorKind::InvalidInput, "local address")))?;
        let socket = UdpSocket::bind(local).map_err(StatsdError::Socket)?;
        socket.set_nonblocking(true).map_err(StatsdError::Socket)?;
        Ok(Self { socket, target })
    }

    /// Where the metrics go.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// Sends `lines` (`name:value|type`) packed into datagrams.
    pub fn send(&self, lines: &[String]) {
        let mut datagram = String::new();
        for line in lines {
            if !datagram.is_empty() && datagram.len() + 1 + line.len() > MAX_DATAGRAM {
                self.send_datagram(&datagram);
                datagram.clear();
            }
            if !datagram.is_empty() {
                datagram.push('\n');
            }
            datagram.push_str(line);
        }
        if !datagram.is_empty() {
            self.send_datagram(&datagram);
        }
    }

    fn send_datagram(&self, datagram: &str) {
        match self.socket.send_to(datagram.as_bytes(), self.target) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => debug!("statsd datagram dropped"),
            Err(error) => warn!(%error, target = %self.target, "cannot send to statsd"),
        }
    }

    /// A finished launch (`subkey` `ready`, `error.quota` or `error.unknown`) that took `ms`.
    pub fn launch(&self, provider: &str, az: Option<&str>, requestor: Option<&str>, subkey: &str, ms: u64) {
        let mut keys =
            vec![format!("nodepool.launch.provider.{provider}.{subkey}"), format!("nodepool.launch.{subkey}")];
        if let Some(az) = az.filter(|az| !az.is_empty()) {
            keys.push(format!("nodepool.launch.provider.{provider}.{az}.{subkey}"));
        }
        if let Some(requestor) = requestor.filter(|r| !r.is_empty()) {
            keys.push(format!("nodepool.launch.requestor.{}.{subkey}", normalize(requestor)));
        }
        let lines: Vec<String> = keys.iter().flat_map(|key| [format!("{key}:{ms}|ms"), format!("{key}:1|c")]).collect();
        self.send(&lines);
    }

    /// Nodepool's `nodepool.provider.P.leaked.nodes` counter: a leaked resource of `provider`
    /// was deleted.
    pub fn leaked(&self, provider: &str) {
        self.send(&[format!("nodepool.provider.{provider}.leaked.nodes:1|c")]);
    }

    /// Nodepool's tenant limit gauges (see [`tenant_limit_lines`]).
    pub fn tenant_limits(&self, tenants: &BTreeMap<String, Limits>) {
        self.send(&tenant_limit_lines(tenants));
    }

    /// Gauges, `(name, value)`.
    pub fn gauges(&self, gauges: &[(String, i64)]) {
        let lines: Vec<String> = gauges.iter().map(|(key, value)| format!("{key}:{value}|g")).collect();
        self.send(&lines);
    }
}

/// Nodepool's `normalize_statsd_name`: `.` (graphite's hierarchy) and `:` (statsd's delimiter)
/// become `_`.
pub fn normalize(name: &str) -> String {
    name.replace(['.', ':'], "_")
}

/// The resources Nodepool gives every tenant limit (`setTenantResourceLimits`), unlimited
/// ones as infinity.
const TENANT_RESOURCES: [&str; 3] = ["cores", "instances", "ram"];

/// The gauges of `updateTenantLimits`: `nodepool.tenant_limits.TENANT.RESOURCE` for each
/// tenant's `cores`, `instances` and `ram` — `inf` when unlimited, as Python prints
/// `math.inf` — and any other resource it limits; names normalised.
pub fn tenant_limit_lines(tenants: &BTreeMap<String, Limits>) -> Vec<String> {
    let mut lines = Vec::new();
    for (tenant, limits) in tenants {
        let tenant = normalize(tenant);
        for resource in TENANT_RESOURCES {
            let value = limits.get(resource).map_or_else(|| "inf".to_string(), |limit| limit.to_string());
            lines.push(format!("nodepool.tenant_limits.{tenant}.{resource}:{value}|g"));
        }
        for (resource, limit) in limits.entries().filter(|(r, _)| !TENANT_RESOURCES.contains(r)) {
            lines.push(format!("nodepool.tenant_limits.{tenant}.{}:{limit}|g", normalize(resource)));
        }
    }
    lines
}

/// The node gauges of `updateNodeStats`: each node by state, provider and label, with every
/// state of the registered `providers` and `labels` present (at 0 when no node has it). Ordered
/// as Nodepool initialises them.
pub fn node_gauges<'a>(
    nodes: impl IntoIterator<Item = (&'a str, Option<&'a str>, &'a [String])>,
    providers: &[String],
    labels: &[String],
) -> Vec<(String, i64)> {
    let mut gauges: Vec<(String, i64)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut add = |key: String, by: i64| match index.get(&key) {
        Some(&i) => gauges[i].1 += by,
        None => {
            index.insert(key.clone(), gauges.len());
            gauges.push((key, by));
        }
    };
    for state in NODE_STATES {
        add(format!("nodepool.nodes.{state}"), 0);
        for provider in providers {
            add(format!("nodepool.provider.{provider}.nodes.{state}"), 0);
        }
    }
    for label in labels {
        for state in NODE_STATES {
            add(format!("nodepool.label.{label}.nodes.{state}"), 0);
        }
    }
    for (state, provider, node_labels) in nodes {
        add(format!("nodepool.nodes.{state}"), 1);
        for label in node_labels {
            add(format!("nodepool.label.{label}.nodes.{state}"), 1);
        }
        // Nodepool formats a missing provider as `None`.
        add(format!("nodepool.provider.{}.nodes.{state}", provider.unwrap_or("None")), 1);
    }
    gauges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener() -> (UdpSocket, SocketAddr) {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_read_timeout(Some(std::time::Duration::from_secs(5))).expect("timeout");
        let addr = socket.local_addr().expect("addr");
        (socket, addr)
    }

    fn receive(socket: &UdpSocket) -> String {
        let mut buffer = [0u8; 2048];
        let (n, _) = socket.recv_from(&mut buffer).expect("a datagram");
        String::from_utf8_lossy(&buffer[..n]).into_owned()
    }

    #[test]
    fn a_launch_is_a_timer_and_a_counter_per_key_as_nodepool_names_them() {
        let (socket, addr) = listener();
        let statsd = Statsd::new(addr).expect("client");
        statsd.launch("k8s", Some("zone-a"), Some("zuul.example.com:1"), "ready", 1234);
        assert_eq!(
            receive(&socket),
            "nodepool.launch.provider.k8s.ready:1234|ms\nnodepool.launch.provider.k8s.ready:1|c\n\
             nodepool.launch.ready:1234|ms\nnodepool.launch.ready:1|c\n\
             nodepool.launch.provider.k8s.zone-a.ready:1234|ms\nnodepool.launch.provider.k8s.zone-a.ready:1|c\n\
             nodepool.launch.requestor.zuul_example_com_1.ready:1234|ms\nnodepool.launch.requestor.zuul_example_com_1.ready:1|c"
        );
    }

    #[test]
    fn a_long_pipeline_is_split_into_datagrams_of_at_most_512_bytes() {
        let (socket, addr) = listener();
        let statsd = Statsd::new(addr).expect("client");
        let gauges: Vec<(String, i64)> =
            (0..40).map(|i| (format!("nodepool.label.label-{i:02}.nodes.ready"), i)).collect();
        statsd.gauges(&gauges);
        let mut lines = Vec::new();
        while lines.len() < 40 {
            let datagram = receive(&socket);
            assert!(datagram.len() <= MAX_DATAGRAM, "{}", datagram.len());
            lines.extend(datagram.lines().map(str::to_string));
        }
        assert_eq!(lines[0], "nodepool.label.label-00.nodes.ready:0|g");
        assert_eq!(lines[39], "nodepool.label.label-39.nodes.ready:39|g");
    }

    #[test]
    fn tenant_limits_are_gauges_with_nodepools_names_and_inf_for_unlimited() {
        let (socket, addr) = listener();
        let statsd = Statsd::new(addr).expect("client");
        let tenants = BTreeMap::from([
            ("example.org:main".to_string(), Limits::unlimited().with("instances", 5).with("volumes", 2)),
            ("other".to_string(), Limits::unlimited().with("cores", 8).with("ram", 16384)),
        ]);
        statsd.tenant_limits(&tenants);
        assert_eq!(
            receive(&socket),
            "nodepool.tenant_limits.example_org_main.cores:inf|g\n\
             nodepool.tenant_limits.example_org_main.instances:5|g\n\
             nodepool.tenant_limits.example_org_main.ram:inf|g\n\
             nodepool.tenant_limits.example_org_main.volumes:2|g\n\
             nodepool.tenant_limits.other.cores:8|g\n\
             nodepool.tenant_limits.other.instances:inf|g\n\
             nodepool.tenant_limits.other.ram:16384|g"
        );
        assert!(tenant_limit_lines(&BTreeMap::new()).is_empty());
    }

    #[test]
    fn a_deleted_leak_is_counted_per_provider() {
        let (socket, addr) = listener();
        Statsd::new(addr).expect("client").leaked("k8s");
        assert_eq!(receive(&socket), "nodepool.provider.k8s.leaked.nodes:1|c");
    }

    #[test]
    fn node_gauges_count_every_node_and_zero_the_known_rest() {
        let labels = vec!["pod".to_string()];
        let gauges = node_gauges(
            [("ready", Some("k8s"), labels.as_slice()), ("in-use", Some("k8s"), labels.as_slice())],
            &["k8s".to_string()],
            &["pod".to_string(), "ns".to_string()],
        );
        let value = |key: &str| gauges.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
        assert_eq!(value("nodepool.nodes.ready"), Some(1));
        assert_eq!(value("nodepool.nodes.hold"), Some(0));
        assert_eq!(value("nodepool.provider.k8s.nodes.in-use"), Some(1));
        assert_eq!(value("nodepool.label.pod.nodes.ready"), Some(1));
        assert_eq!(value("nodepool.label.ns.nodes.ready"), Some(0));
        assert_eq!(gauges.len(), 11 + 11 + 22);
    }
}
