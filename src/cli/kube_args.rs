//! `--kubeconfig`, `--context` and `-n/--namespace`: what kubectl's own options select, for every
//! command that talks to a cluster on the user's behalf ([`crate::k8s::load`] reads them).

use crate::k8s::KubeconfigSource;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Args)]
pub struct KubeArgs {
    /// The kubeconfig: a path or a `:`-separated list (default: KUBECONFIG, else ~/.kube/config,
    /// else in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<String>,
    /// The kubeconfig context (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
    /// The pod's namespace (default: the context's).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

impl KubeArgs {
    /// `--kubeconfig` with each path made absolute (an agent started elsewhere reads the same
    /// files).
    pub fn absolute_kubeconfig(&self) -> Option<String> {
        match self.source() {
            KubeconfigSource::Files(files) => {
                Some(files.iter().map(|f| absolute(f).to_string_lossy().into_owned()).collect::<Vec<_>>().join(":"))
            }
            _ => None,
        }
    }

    pub fn source(&self) -> KubeconfigSource {
        KubeconfigSource::from_list(self.kubeconfig.as_deref())
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
