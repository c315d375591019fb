//! Config errors: one [`Diagnostic`] per problem, all of a file reported together.

use std::fmt;
use std::path::PathBuf;

/// A position in the file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// One problem in a config file: where it is, which key, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub col: usize,
    /// The key path, e.g. `providers[0].pools[1].labels[2].memory`; empty for the document.
    pub path: String,
    pub message: String,
}

impl Diagnostic {
    pub fn at(pos: Pos, path: &str, message: String) -> Self {
        Diagnostic { line: pos.line, col: pos.col, path: path.to_string(), message }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "(document)" } else { &self.path };
        write!(f, "{}:{}: {}: {}", self.line, self.col, path, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid config; every problem found is listed.
    #[error("{}", render(path, diagnostics))]
    Invalid { path: PathBuf, diagnostics: Vec<Diagnostic> },
}

impl ConfigError {
    /// One line per problem, `FILE:LINE:COL: key.path: message`.
    pub fn lines(&self) -> Vec<String> {
        match self {
            ConfigError::Read { .. } => vec![self.to_string()],
            ConfigError::Invalid { path, diagnostics } => diagnostic_lines(path, diagnostics),
        }
    }
}

fn diagnostic_lines(path: &std::path::Path, diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics.iter().map(|d| format!("{}:{d}", path.display())).collect()
}

fn render(path: &std::path::Path, diagnostics: &[Diagnostic]) -> String {
    diagnostic_lines(path, diagnostics).join("\n")
}
