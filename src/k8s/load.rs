//! Finding a cluster, user and namespace, the one way every command does it (what
//! `kubectl --kubeconfig --context --namespace` select): a kubeconfig — files given (a path, or a
//! `:`-separated list like `KUBECONFIG`), one already parsed, or the environment's (`KUBECONFIG`,
//! else `~/.kube/config`) — with a context (default: its current one); with no kubeconfig in the
//! environment, the in-cluster service account, as Nodepool does.

use super::K8sError;
use kube::Config;
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::PathBuf;

/// Where the kubeconfig comes from.
#[derive(Debug, Clone)]
pub enum KubeconfigSource {
    /// `KUBECONFIG`, else `~/.kube/config`, else the in-cluster service account.
    Environment,
    /// These files, merged as kubectl merges a `KUBECONFIG` list.
    Files(Vec<PathBuf>),
    /// A kubeconfig already read (one the executor wrote, a test's).
    Parsed(Box<Kubeconfig>),
}

impl KubeconfigSource {
    /// `--kubeconfig` as kubectl reads it: a path or a `:`-separated list; none (or an empty
    /// list): the environment's.
    pub fn from_list(list: Option<&str>) -> Self {
        let files: Vec<PathBuf> =
            list.unwrap_or_default().split(':').filter(|p| !p.is_empty()).map(PathBuf::from).collect();
        if files.is_empty() { KubeconfigSource::Environment } else { KubeconfigSource::Files(files) }
    }
}

/// The environment's kubeconfig, as kubectl finds it: `KUBECONFIG` (a path or a `:`-separated
/// list), else `~/.kube/config` when it exists; `None`: there is none (in-cluster, then).
pub fn environment_kubeconfig() -> Option<String> {
    std::env::var("KUBECONFIG").ok().filter(|v| !v.is_empty()).or_else(|| {
        let home = std::env::var_os("HOME")?;
        let path = std::path::Path::new(&home).join(".kube/config");
        path.exists().then(|| path.to_string_lossy().into_owned())
    })
}

/// The cluster configuration `source` and `context` select. Its `default_namespace` is
/// `namespace` if given, else the context's, else `default`.
pub async fn load(
    source: KubeconfigSource,
    context: Option<&str>,
    namespace: Option<&str>,
) -> Result<Config, K8sError> {
    let error = |source| K8sError::Kubeconfig { context: context.map(str::to_string), source };
    let kubeconfig = match source {
        KubeconfigSource::Environment if environment_kubeconfig().is_none() => {
            let mut config = Config::incluster().map_err(|source| K8sError::InCluster { source })?;
            if let Some(namespace) = namespace {
                config.default_namespace = namespace.to_string();
            }
            return Ok(config);
        }
        KubeconfigSource::Environment => Kubeconfig::read().map_err(error)?,
        KubeconfigSource::Files(files) => {
            let mut merged: Option<Kubeconfig> = None;
            for file in &files {
                let next = Kubeconfig::read_from(file).map_err(error)?;
                merged = Some(match merged {
                    None => next,
                    Some(current) => current.merge(next).map_err(error)?,
                });
            }
            merged.unwrap_or_default()
        }
        KubeconfigSource::Parsed(kubeconfig) => *kubeconfig,
    };
    let options = KubeConfigOptions { context: context.map(str::to_string), ..Default::default() };
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(error)?;
    if let Some(namespace) = namespace {
        config.default_namespace = namespace.to_string();
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = r#"
apiVersion: v1
kind: Config
current-context: a
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: a
  context: {cluster: c, user: u, namespace: ns-a}
- name: b
  context: {cluster: c, user: u}
"#;

    fn parsed() -> KubeconfigSource {
        KubeconfigSource::Parsed(Box::new(Kubeconfig::from_yaml(KUBECONFIG).expect("kubeconfig")))
    }

    #[tokio::test]
    async fn the_namespace_is_the_given_one_else_the_contexts_else_default() {
        assert_eq!(load(parsed(), None, None).await.expect("a").default_namespace, "ns-a");
        assert_eq!(load(parsed(), Some("b"), None).await.expect("b").default_namespace, "default");
        assert_eq!(load(parsed(), Some("b"), Some("mine")).await.expect("b").default_namespace, "mine");
    }

    #[tokio::test]
    async fn a_missing_context_is_an_error_naming_it() {
        let error = load(parsed(), Some("nope"), None).await.expect_err("no such context").to_string();
        assert!(error.contains("nope"), "{error}");
    }

    #[test]
    fn a_list_splits_like_kubeconfig() {
        assert!(matches!(KubeconfigSource::from_list(None), KubeconfigSource::Environment));
        assert!(matches!(KubeconfigSource::from_list(Some("")), KubeconfigSource::Environment));
        let KubeconfigSource::Files(files) = KubeconfigSource::from_list(Some("/a::/b")) else { panic!("files") };
        assert_eq!(files, [PathBuf::from("/a"), PathBuf::from("/b")]);
    }
}
