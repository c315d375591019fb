//! `nodepool.yaml` → typed configuration, with Nodepool 11.0.0's accept/reject decisions.
//!
//! [`yaml`] reads the text the way PyYAML does (with positions), [`validate`] checks the tree
//! against the [`schema`] of the top level and the kubernetes, openshift and openshiftpods
//! drivers (collecting every problem), and [`build`] turns a valid tree into the [`model`]
//! with all defaults resolved. docs/config.md is the reference, deviations included.

mod build;
pub mod buildset;
mod check;
pub mod error;
mod kube_shapes;
pub mod model;
mod pool_labels;
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
    let mut problems = unset_env_vars(&text, &root);
    problems.extend(validate::validate(&root));
    // The typed checks of `build` run on an invalid tree too, so that one run lists every problem.
    match build::build(&root) {
        Ok(config) if problems.is_empty() => return Ok(config),
        Ok(_) => {}
        Err(more) => problems.extend(more),
    }
    problems.sort_by_key(|d| (d.line, d.col));
    Err(invalid(problems))
}

/// Every `%(NODEPOOL_...)` left after substitution: a variable that is not set. Nodepool keeps
/// the text as it is (a server named `%(NODEPOOL_ZK_HOST)s`); kubepool names the variable.
fn unset_env_vars(text: &str, root: &yaml::Node) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut rest = line;
        let mut col = 1;
        while let Some(start) = rest.find("%(NODEPOOL_") {
            let Some(end) = rest[start..].find(')') else { break };
            let name = &rest[start + 2..start + end];
            if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                let pos = yaml::Pos { line: index + 1, col: col + start };
                out.push(Diagnostic::at(
                    pos,
                    &string_path(root, "", pos.line).unwrap_or_default(),
                    format!("environment variable {name} is not set (%({name}) is replaced by its value)"),
                ));
            }
            col += start + end + 1;
            rest = &rest[start + end + 1..];
        }
    }
    out
}

/// The key path of the string value on `line` (where an unset variable was left).
fn string_path(node: &yaml::Node, path: &str, line: usize) -> Option<String> {
    match &node.value {
        yaml::Value::Str(_) if node.pos.line == line => Some(path.to_string()),
        yaml::Value::Seq(items) => {
            items.iter().enumerate().find_map(|(i, n)| string_path(n, &check::item(path, i), line))
        }
        yaml::Value::Map(pairs) => pairs.iter().find_map(|(k, v)| {
            let key = k.as_str().map(str::to_string).unwrap_or_default();
            string_path(v, &check::child(path, &key), line)
        }),
        _ => None,
    }
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
