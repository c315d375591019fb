//! Kubernetes objects as YAML documents.
//!
//! Block style for maps and lists. A string is plain when it is a word that reads the same in
//! YAML 1.1 and 1.2 (starts with a letter, no `yes`/`on`/`null`...), otherwise double-quoted
//! with JSON escapes; numbers, booleans and null as JSON writes them.

use serde_json::Value;
use std::fmt::Write as _;

/// `value` as one YAML document (ending in a newline).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    out
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Object(_) => "{}".to_string(),
        Value::Array(_) => "[]".to_string(),
        Value::String(text) => string_text(text),
        // A JSON scalar is a YAML flow scalar with the same meaning.
        other => other.to_string(),
    }
}

/// `text` plain if no YAML reader can take it for anything but that string, else quoted.
fn string_text(text: &str) -> String {
    const SPECIAL: [&str; 10] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan"];
    let mut chars = text.chars();
    let word = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !SPECIAL.contains(&text.to_ascii_lowercase().as_str());
    if word { text.to_string() } else { Value::String(text.to_string()).to_string() }
}

fn is_block(value: &Value) -> bool {
    match value {
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => false,
    }
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (key, value) in map {
        let key = string_text(key);
        if is_block(value) {
            let _ = writeln!(out, "{:indent$}{key}:", "");
            write_block(out, value, indent + 2);
        } else {
            let _ = writeln!(out, "{:indent$}{key}: {}", "", scalar_text(value));
        }
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        if is_block(item) {
            // The item's first line goes on the dash's line: "- key: value".
            let mut block = String::new();
            write_block(&mut block, item, indent + 2);
            let _ = write!(out, "{:indent$}- ", "");
            out.push_str(&block[indent + 2..]);
        } else {
            let _ = writeln!(out, "{:indent$}- {}", "", scalar_text(item));
        }
    }
}

fn write_block(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) => write_map(out, map, indent),
        Value::Array(items) => write_seq(out, items, indent),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::to_yaml;
    use serde_json::json;

    #[test]
    fn nested_maps_and_lists_in_block_style_with_quoted_strings() {
        let value = json!({"a": {"b": [1, "yes", {"c": null, "d": []}], "e": {}}, "f": "x\ny"});
        assert_eq!(
            to_yaml(&value),
            "a:\n  b:\n    - 1\n    - \"yes\"\n    - c: null\n      d: []\n  e: {}\nf: \"x\\ny\"\n"
        );
    }

    #[test]
    fn the_output_reads_back_as_the_same_value() {
        let value = json!({"spec": {"versions": [{"name": "v1", "schema": {"x": [true, 2.5, "0x1F"]}}]}});
        let text = to_yaml(&value);
        let parsed = crate::config::yaml::parse(&text).expect("valid YAML");
        assert_eq!(
            parsed.get("spec").and_then(|s| s.get("versions")).and_then(|v| v.as_seq()).map(<[_]>::len),
            Some(1)
        );
    }
}
