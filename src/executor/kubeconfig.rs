//! The kubeconfig Zuul's executor writes per build (ZU `prepareKubeConfig`, reference §6.1),
//! built node by node exactly as Zuul does: cluster named after the host part of the API URL
//! with dots as dashes (added once per name, first node wins), user `<namespace>:<user>`,
//! context `<user>/<cluster>`, current context the first one added.

use super::connection::Connection;
use super::pyyaml::{self, Yaml};

#[derive(Debug, Clone, Default)]
pub struct KubeConfig {
    clusters: Vec<(String, Yaml)>,
    users: Vec<(String, Yaml)>,
    contexts: Vec<(String, Yaml)>,
    current_context: Option<String>,
}

impl KubeConfig {
    /// Adds the cluster, user and context of a node; returns the context name.
    pub fn add(&mut self, connection: &Connection) -> String {
        let cluster_name = netloc(&connection.host).replace('.', "-");
        if !self.clusters.iter().any(|(name, _)| *name == cluster_name) {
            let mut cluster = vec![("server", Yaml::str(connection.host.clone()))];
            if let Some(ca) = &connection.ca_crt {
                cluster.push(("certificate-authority-data", ca.clone()));
            }
            if connection.skiptls {
                cluster.push(("insecure-skip-tls-verify", Yaml::Bool(true)));
            }
            self.clusters.push((cluster_name.clone(), Yaml::map(cluster)));
        }
        let user_name = format!("{}:{}", connection.namespace, connection.user);
        self.users.push((user_name.clone(), Yaml::map([("token", connection.token().clone())])));
        let context_name = format!("{user_name}/{cluster_name}");
        self.contexts.push((
            context_name.clone(),
            Yaml::map([
                ("user", Yaml::str(user_name)),
                ("cluster", Yaml::str(cluster_name)),
                ("namespace", Yaml::str(connection.namespace.clone())),
            ]),
        ));
        if self.current_context.is_none() {
            self.current_context = Some(context_name.clone());
        }
        context_name
    }

    /// The file's text, as `yaml.safe_dump(kube_cfg, default_flow_style=False)` writes it.
    pub fn render(&self) -> String {
        let named = |entries: &[(String, Yaml)], field: &str| {
            Yaml::Seq(
                entries
                    .iter()
                    .map(|(name, value)| Yaml::map([("name", Yaml::str(name.clone())), (field, value.clone())]))
                    .collect(),
            )
        };
        pyyaml::dump(&Yaml::map([
            ("apiVersion", Yaml::str("v1")),
            ("kind", Yaml::str("Config")),
            ("preferences", Yaml::map::<String>([])),
            ("users", named(&self.users, "user")),
            ("clusters", named(&self.clusters, "cluster")),
            ("contexts", named(&self.contexts, "context")),
            ("current-context", self.current_context.clone().map(Yaml::Str).unwrap_or(Yaml::Null)),
        ]))
    }
}

/// Python's `urlsplit(url).netloc`: after `scheme:` (letters, digits, `+-.`, starting with a
/// letter) and `//`, up to the first `/`, `?` or `#`; empty without `//`. Leading C0 controls
/// and spaces are stripped and tabs and line breaks removed first, as `urlsplit` does.
fn netloc(url: &str) -> String {
    let url: String =
        url.trim_start_matches(|c: char| c <= ' ').chars().filter(|c| !matches!(c, '\t' | '\r' | '\n')).collect();
    let rest = match url.split_once(':') {
        Some((scheme, rest))
            if scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            rest
        }
        _ => url.as_str(),
    };
    match rest.strip_prefix("//") {
        Some(after) => after.split(['/', '?', '#']).next().unwrap_or("").to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn connection(host: &str, namespace: &str, extra: serde_json::Value) -> Connection {
        let mut port = json!({"host": host, "namespace": namespace, "user": "zuul-worker", "token": "tok",
            "skiptls": false, "pod": "pod-1"});
        if let (Some(port), Some(extra)) = (port.as_object_mut(), extra.as_object()) {
            port.extend(extra.clone());
        }
        let record = json!({"connection_type": "kubectl", "connection_port": port});
        Connection::of(record.as_object().expect("object")).expect("valid").expect("k8s node")
    }

    #[test]
    fn netloc_is_pythons() {
        assert_eq!(netloc("https://k8s.example.com:6443"), "k8s.example.com:6443");
        assert_eq!(netloc("https://k8s.example.com:6443/prefix?x#y"), "k8s.example.com:6443");
        assert_eq!(netloc("  https://[::1]:6443/"), "[::1]:6443");
        assert_eq!(netloc("k8s.example.com:6443"), "");
        assert_eq!(netloc("//host/path"), "host");
    }

    #[test]
    fn names_follow_zuul_and_the_first_cluster_wins() {
        let mut config = KubeConfig::default();
        let first = config.add(&connection("https://k8s.example.com:6443", "ns-1", json!({"ca_crt": "Q0E="})));
        let second = config.add(&connection("https://k8s.example.com:6443", "ns-2", json!({"skiptls": true})));
        assert_eq!(first, "ns-1:zuul-worker/k8s-example-com:6443");
        assert_eq!(second, "ns-2:zuul-worker/k8s-example-com:6443");
        let text = config.render();
        assert_eq!(text.matches("- cluster:").count(), 1, "{text}");
        assert!(text.contains("certificate-authority-data: Q0E="), "{text}");
        assert!(!text.contains("insecure-skip-tls-verify"), "the first node's cluster wins: {text}");
        assert!(text.contains("current-context: ns-1:zuul-worker/k8s-example-com:6443\n"), "{text}");
    }
}
