//! Python's text forms of JSON values, as Nodepool prints them: `json.dumps` (default
//! separators, ASCII only), `str()` of a value in a table cell, and `repr()` of floats.

use serde_json::Value;
use std::fmt::Write;

/// `json.dumps(value)`: `", "` and `": "` separators, non-ASCII escaped, keys in the order given.
pub fn json_dumps(value: &Value) -> String {
    let mut out = String::new();
    dump(value, &mut out);
    out
}

/// `json.dumps` of an object whose keys come in `entries`' order (a Python dict keeps insertion
/// order; a JSON map here may not).
pub fn json_dumps_object(entries: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        dump_str(key, &mut out);
        out.push_str(": ");
        dump(value, &mut out);
    }
    out.push('}');
    out
}

fn dump(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n, "NaN", "Infinity")),
        Value::String(s) => dump_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                dump(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                dump_str(key, out);
                out.push_str(": ");
                dump(item, out);
            }
            out.push('}');
        }
    }
}

fn dump_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// A JSON number as Python prints it: integers as they are, floats as `repr(float)`.
fn number(n: &serde_json::Number, nan: &str, infinity: &str) -> String {
    if n.is_f64() { float_repr(n.as_f64().unwrap_or(f64::NAN), nan, infinity) } else { n.to_string() }
}

/// `repr(f)`: the shortest digits that read back as `f`, positional for exponents -4..16,
/// else `d.ddde+XX`; a whole number keeps `.0`.
pub fn float_repr(f: f64, nan: &str, infinity: &str) -> String {
    if f.is_nan() {
        return nan.to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { infinity.to_string() } else { format!("-{infinity}") };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        };
        format!("{sign}{text}")
    } else {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{first}{fraction}e{exp_sign}{:02}", exponent.unsigned_abs())
    }
}

/// `str(value)` of a value read from JSON: a string as it is, `True`/`False`/`None`, lists and
/// dicts as Python's `repr`.
pub fn str_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => repr(other),
    }
}

/// `repr(value)` of a value read from JSON.
pub fn repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Number(n) => number(n, "nan", "inf"),
        Value::String(s) => repr_str(s),
        Value::Array(items) => format!("[{}]", items.iter().map(repr).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter().map(|(k, v)| format!("{}: {}", repr_str(k), repr(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `repr(str)`: single quotes unless the text has one and no double quote.
fn repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_dumps_as_python() {
        assert_eq!(
            json_dumps(&json!([{"a": "é中", "b": null, "c": [1, 2.5], "d": true}])),
            r#"[{"a": "\u00e9\u4e2d", "b": null, "c": [1, 2.5], "d": true}]"#
        );
        assert_eq!(json_dumps(&json!("😀\n\u{1}")), r#""\ud83d\ude00\n\u0001""#);
        assert_eq!(json_dumps_object(&[("z", json!(1)), ("a", json!("x"))]), r#"{"z": 1, "a": "x"}"#);
    }

    #[test]
    fn floats_as_python_repr() {
        for (f, text) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1.5e-7, "1.5e-07"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456.789, "123456.789"),
            (0.0001, "0.0001"),
            (-2.0, "-2.0"),
            (1e15, "1000000000000000.0"),
        ] {
            assert_eq!(float_repr(f, "nan", "inf"), text);
        }
    }

    #[test]
    fn str_and_repr_as_python() {
        assert_eq!(str_of(&json!({"a": 1, "b": "c"})), "{'a': 1, 'b': 'c'}");
        assert_eq!(str_of(&json!("plain")), "plain");
        assert_eq!(str_of(&json!([true, null])), "[True, None]");
        assert_eq!(repr(&json!("it's")), r#""it's""#);
    }
}
