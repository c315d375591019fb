//! A small schema checker with voluptuous' semantics (Nodepool validates with voluptuous):
//! types are Python `isinstance` checks (so `true` passes as an int), extra keys are
//! rejected, and `Forms` is `v.Any` over mapping forms. Unlike voluptuous it does not stop
//! at the first problem: every problem of the tree is collected with its position and path.

use super::error::Diagnostic;
use super::yaml::{Node, Value};

#[derive(Debug)]
pub enum Schema {
    Str,
    /// A Python int; `true`/`false` pass too (`bool` is an `int` subclass).
    Int,
    Float,
    Bool,
    /// `v.Any(str, int)`.
    StrOrInt,
    /// kubepool's `gpu`: an int or a float.
    Number,
    /// Any mapping.
    Dict,
    /// Any list.
    List,
    /// `{str: schema}`.
    MapOf(&'static Schema),
    /// `[schema]`.
    ListOf(&'static Schema),
    Struct(&'static Struct),
    /// `v.Any(form, ...)`: valid if one form fits; otherwise the problems of the first form
    /// whose `marker` key is present (else the first form without a marker) are reported.
    Forms(&'static [&'static Struct]),
}

/// A mapping with known keys.
#[derive(Debug)]
pub struct Struct {
    /// What the mapping is, for messages ("kubernetes pool").
    pub what: &'static str,
    /// The keys, in groups so that drivers can share them.
    pub groups: &'static [&'static [Field]],
    /// The schema of any other string key; `None`: other keys are rejected.
    pub extra: Option<&'static Schema>,
    /// For [`Schema::Forms`]: the key that selects this form.
    pub marker: Option<&'static str>,
}

#[derive(Debug)]
pub struct Field {
    pub key: &'static str,
    pub required: bool,
    pub schema: &'static Schema,
}

pub const fn req(key: &'static str, schema: &'static Schema) -> Field {
    Field { key, required: true, schema }
}

pub const fn opt(key: &'static str, schema: &'static Schema) -> Field {
    Field { key, required: false, schema }
}

/// `path.key`, or `key` at the top.
pub fn child(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// `path[index]`.
pub fn item(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

fn expected(node: &Node, path: &str, what: &str, out: &mut Vec<Diagnostic>) {
    out.push(Diagnostic::at(node.pos, path, format!("expected {what}, got {}", node.value.type_name())));
}

/// Checks `node` against `schema`, appending every problem to `out`.
pub fn check(node: &Node, schema: &Schema, path: &str, out: &mut Vec<Diagnostic>) {
    let v = &node.value;
    match schema {
        Schema::Str if !matches!(v, Value::Str(_)) => expected(node, path, "str", out),
        Schema::Int | Schema::StrOrInt | Schema::Number if matches!(v, Value::BigInt(_)) => {
            out.push(Diagnostic::at(node.pos, path, "integer out of range (kubepool reads 64-bit integers)".into()))
        }
        Schema::Int if !matches!(v, Value::Int(_) | Value::Bool(_)) => expected(node, path, "int", out),
        Schema::Float if !matches!(v, Value::Float(_)) => expected(node, path, "float", out),
        Schema::Bool if !matches!(v, Value::Bool(_)) => expected(node, path, "bool", out),
        Schema::StrOrInt if !matches!(v, Value::Str(_) | Value::Int(_) | Value::Bool(_)) => {
            expected(node, path, "str or int", out)
        }
        Schema::Number if !matches!(v, Value::Int(_) | Value::Float(_)) => expected(node, path, "a number", out),
        Schema::Dict if node.as_map().is_none() => expected(node, path, "dict", out),
        Schema::List if node.as_seq().is_none() => expected(node, path, "list", out),
        Schema::MapOf(value_schema) => match node.as_map() {
            None => expected(node, path, "dict", out),
            Some(entries) => {
                for (key, value) in entries {
                    match key.as_str() {
                        Some(k) => check(value, value_schema, &child(path, k), out),
                        None => expected(key, path, "str key", out),
                    }
                }
            }
        },
        Schema::ListOf(item_schema) => match node.as_seq() {
            None => expected(node, path, "list", out),
            Some(items) => {
                for (i, it) in items.iter().enumerate() {
                    check(it, item_schema, &item(path, i), out);
                }
            }
        },
        Schema::Struct(s) => check_struct(node, s, path, out),
        Schema::Forms(forms) => check_forms(node, forms, path, out),
        _ => {}
    }
}

fn check_struct(node: &Node, s: &Struct, path: &str, out: &mut Vec<Diagnostic>) {
    let Some(entries) = node.as_map() else {
        return expected(node, path, &format!("dict ({})", s.what), out);
    };
    let fields = || s.groups.iter().flat_map(|g| g.iter());
    for field in fields().filter(|f| f.required) {
        if node.get(field.key).is_none() {
            out.push(Diagnostic::at(node.pos, path, format!("required key '{}' is missing in {}", field.key, s.what)));
        }
    }
    for (key, value) in entries {
        let Some(k) = key.as_str() else {
            expected(key, path, "str key", out);
            continue;
        };
        match (fields().find(|f| f.key == k), s.extra) {
            (Some(field), _) => check(value, field.schema, &child(path, k), out),
            (None, Some(extra)) => check(value, extra, &child(path, k), out),
            (None, None) => out.push(Diagnostic::at(
                key.pos,
                &child(path, k),
                format!("unknown key (extra keys are not allowed in {})", s.what),
            )),
        }
    }
}

fn check_forms(node: &Node, forms: &[&Struct], path: &str, out: &mut Vec<Diagnostic>) {
    let mut reported = None;
    for form in forms {
        let mut problems = Vec::new();
        check_struct(node, form, path, &mut problems);
        if problems.is_empty() {
            return;
        }
        let selected = match form.marker {
            Some(marker) => node.get(marker).is_some(),
            None => reported.is_none(),
        };
        if selected {
            reported = Some(problems);
        }
    }
    out.extend(reported.unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml;

    static A: Struct = Struct {
        what: "form A",
        groups: &[&[req("name", &Schema::Str), opt("cpu", &Schema::Int)]],
        extra: None,
        marker: None,
    };
    static B: Struct = Struct {
        what: "form B",
        groups: &[&[req("name", &Schema::Str), req("spec", &Schema::Dict)]],
        extra: None,
        marker: Some("spec"),
    };
    static FORMS: Schema = Schema::Forms(&[&A, &B]);
    static LIST: Schema = Schema::ListOf(&FORMS);

    fn problems(text: &str) -> Vec<String> {
        let node = yaml::parse(text).expect("yaml");
        let mut out = Vec::new();
        check(&node, &LIST, "labels", &mut out);
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn collects_every_problem_with_its_path() {
        let found = problems("- {name: a, cpu: x}\n- {cpu: true, other: 1}\n");
        assert_eq!(
            found,
            [
                "1:18: labels[0].cpu: expected int, got str",
                "2:3: labels[1]: required key 'name' is missing in form A",
                "2:15: labels[1].other: unknown key (extra keys are not allowed in form A)",
            ]
        );
    }

    #[test]
    fn forms_report_the_form_the_marker_selects() {
        assert!(problems("- {name: a, spec: {}}\n- {name: b}\n").is_empty());
        assert_eq!(
            problems("- {name: a, spec: {}, cpu: 1}\n"),
            ["1:23: labels[0].cpu: unknown key (extra keys are not allowed in form B)"]
        );
    }
}
