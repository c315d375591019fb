//! YAML text exactly as Zuul's executor writes it: PyYAML's `yaml.dump(data,
//! Dumper=CSafeDumper, default_flow_style=False)` (libyaml's emitter behind PyYAML's safe
//! representer), for the values kubeconfigs and inventories hold.
//!
//! What PyYAML does and this module reproduces: mapping keys sorted; block style, except `{}`
//! and `[]` for empty collections; libyaml's choice of plain, single- or double-quoted scalars
//! (strings that would read back as another type are quoted, non-ASCII is escaped); lines
//! folded at spaces past column 80; and anchors (`&id001`/`*id001`) where one Python dict or
//! list object appears twice — modelled here by [`Yaml::Shared`] values whose `Rc` is cloned.

mod emitter;
mod output;
mod resolve;
mod scalar;

use std::collections::BTreeMap;
use std::rc::Rc;

/// A YAML value as PyYAML's safe representer sees Python data.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    /// Python `int` (JSON integers fit in `i128`).
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Yaml>),
    /// Keys sorted by code point, as PyYAML's `sort_keys=True` sorts Python strings.
    Map(BTreeMap<String, Yaml>),
    /// One Python object referenced from several places: a dict or list behind clones of the
    /// same `Rc` gets an anchor and aliases; scalars never do (PyYAML's `ignore_aliases`).
    Shared(Rc<Yaml>),
}

impl Yaml {
    /// A mapping from `(key, value)` pairs.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Yaml)>) -> Self {
        Yaml::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn str(value: impl Into<String>) -> Self {
        Yaml::Str(value.into())
    }

    /// The value behind any number of [`Yaml::Shared`] wrappers.
    pub fn resolved(&self) -> &Yaml {
        match self {
            Yaml::Shared(inner) => inner.resolved(),
            other => other,
        }
    }

    /// Python truthiness (`if value:`), which Zuul's executor uses for optional fields.
    pub fn is_truthy(&self) -> bool {
        match self.resolved() {
            Yaml::Null => false,
            Yaml::Bool(b) => *b,
            Yaml::Int(i) => *i != 0,
            Yaml::Float(f) => *f != 0.0,
            Yaml::Str(s) => !s.is_empty(),
            Yaml::Seq(items) => !items.is_empty(),
            Yaml::Map(entries) => !entries.is_empty(),
            Yaml::Shared(_) => true,
        }
    }
}

impl From<&serde_json::Value> for Yaml {
    /// JSON as Python's `json.loads` reads it: integers stay integers, other numbers are floats.
    fn from(value: &serde_json::Value) -> Self {
        use serde_json::Value;
        match value {
            Value::Null => Yaml::Null,
            Value::Bool(b) => Yaml::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Yaml::Int(i128::from(i))
                } else if let Some(u) = n.as_u64() {
                    Yaml::Int(i128::from(u))
                } else {
                    Yaml::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => Yaml::Str(s.clone()),
            Value::Array(items) => Yaml::Seq(items.iter().map(Yaml::from).collect()),
            Value::Object(entries) => Yaml::Map(entries.iter().map(|(k, v)| (k.clone(), Yaml::from(v))).collect()),
        }
    }
}

/// The document PyYAML writes for `value` (always ends with a newline).
pub fn dump(value: &Yaml) -> String {
    emitter::Emitter::dump(value)
}

#[cfg(test)]
mod tests;
