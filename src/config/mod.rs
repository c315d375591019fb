//! `nodepool.yaml` → typed configuration, with Nodepool 11.0.0's accept/reject decisions.
//!
//! [`yaml`] reads the text the way PyYAML does (with positions), [`validate`] checks the tree
//! against the [`schema`] of the top level and the kubernetes, openshift and openshiftpods
//! drivers (collecting every problem), and [`build`] turns a valid tree into the [`model`]
//! with all defaults resolved. docs/config.md is the reference, deviations included.

mod build;
mod check;
pub mod error;
mod kube_shapes;
pub mod model;
mod scalar;
mod schema;
pub mod ssh;
pub mod validate;
pub mod yaml;

pub use error::{ConfigError, Diagnostic};
pub use model::*;
pub use ssh::SshOptions;

use std::path::Path;

/// Reads and parses `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    parse(path, &text)
}

/// Parses the text of a config file; `path` is used in error messages only.
///
/// As Nodepool does, `%(NODEPOOL_...)` is replaced by the value of that environment variable first.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let text = substitute_env_vars(text, std::env::vars());
    let invalid = |diagnostics| ConfigError::Invalid { path: path.to_path_buf(), diagnostics };
    let root = yaml::parse(&text).map_err(|d| invalid(vec![d]))?;
    let mut problems = validate::validate(&root);
    // The typed checks of `build` run on an invalid tree too, so that one run lists every problem.
    match build::build(&root) {
        Ok(config) if problems.is_empty() => return Ok(config),
        Ok(_) => {}
        Err(more) => problems.extend(more),
    }
    problems.sort_by_key(|d| (d.line, d.col));
    Err(invalid(problems))
}

/// Nodepool's `substitute_env_vars`: `%(NAME)` → value, for variables named `NODEPOOL_*`.
pub fn substitute_env_vars(text: &str, vars: impl IntoIterator<Item = (String, String)>) -> String {
    let mut text = text.to_string();
    for (name, value) in vars.into_iter().filter(|(name, _)| name.starts_with("NODEPOOL_")) {
        text = text.replace(&format!("%({name})"), &value);
    }
    text
}

#[cfg(test)]
mod tests;
