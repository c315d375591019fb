//! PyYAML's implicit resolvers (`yaml/resolver.py`, YAML 1.1 types) and its float text.
//!
//! A string may be written plain only if reading it back plain gives a string again, i.e. no
//! implicit resolver claims it. Python's `re.match(r'^…$')` also matches before one final
//! newline; [`reads_back_as_other_type`] does the same.

use std::sync::LazyLock;

static IMPLICIT: LazyLock<Vec<regex::Regex>> = LazyLock::new(|| {
    [
        // bool
        r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
        // float
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        // int
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
        // merge
        r"^(?:<<)$",
        // null (the verbose pattern's ` ` alternative is the empty string)
        r"^(?:~|null|Null|NULL|)$",
        // timestamp
        r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
        // value
        r"^(?:=)$",
        // yaml
        r"^(?:!|&|\*)$",
    ]
    .into_iter()
    .filter_map(|pattern| regex::Regex::new(pattern).ok())
    .collect()
});

/// Would the plain scalar `value` read back as something other than a string?
pub fn reads_back_as_other_type(value: &str) -> bool {
    let candidates = [Some(value), value.strip_suffix('\n')];
    IMPLICIT.iter().any(|re| candidates.iter().flatten().any(|v| re.is_match(v)))
}

/// PyYAML's `represent_float`: `repr(x).lower()`, `.0` put before a bare exponent, and
/// `.inf`, `-.inf`, `.nan`.
pub fn float_text(x: f64) -> String {
    if x.is_nan() {
        return ".nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { ".inf".into() } else { "-.inf".into() };
    }
    let repr = python_repr(x);
    if !repr.contains('.') && repr.contains('e') { repr.replacen('e', ".0e", 1) } else { repr }
}

/// Python's `repr(float)`: the shortest digits that read back, in fixed notation when the
/// decimal point falls within -4 < point <= 16, else `d.ddde±XX`.
fn python_repr(x: f64) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let sci = format!("{:e}", x.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let point = exponent + 1;
    let sign = if x < 0.0 { "-" } else { "" };
    let n = digits.len() as i32;
    let body = if -4 < point && point <= 16 {
        if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point >= n {
            format!("{}{}.0", digits, "0".repeat((point - n) as usize))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let e = point - 1;
        let e_text = format!("{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
        if rest.is_empty() { format!("{first}e{e_text}") } else { format!("{first}.{rest}e{e_text}") }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_that_read_back_as_other_types() {
        for s in ["", "~", "null", "NULL", "true", "Off", "yes", "12", "-0x1F", "0o7", "1_000", "1:30", "1.5", ".inf"] {
            let expected = s != "0o7";
            assert_eq!(reads_back_as_other_type(s), expected, "{s:?}");
        }
        for s in ["2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "<<", "=", "*"] {
            assert!(reads_back_as_other_type(s), "{s:?}");
        }
        for s in ["truex", "1.2.3", "pod-1", "k8s-example-com:6443", "y", "0xZZ", "2001-1-1"] {
            assert!(!reads_back_as_other_type(s), "{s:?}");
        }
        // Python's `$` matches before a final newline.
        assert!(reads_back_as_other_type("true\n"));
        assert!(!reads_back_as_other_type("true\n\n"));
    }

    #[test]
    fn floats_are_written_like_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (1e16, "1.0e+16"),
            (1.5e16, "1.5e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (0.0001, "0.0001"),
            (0.00001, "1.0e-05"),
            (1.25e-7, "1.25e-07"),
            (-0.0, "-0.0"),
            (f64::INFINITY, ".inf"),
            (f64::NEG_INFINITY, "-.inf"),
            (0.1 + 0.2, "0.30000000000000004"),
        ];
        for (x, text) in cases {
            assert_eq!(float_text(x), text, "{x}");
        }
        assert_eq!(float_text(f64::NAN), ".nan");
    }
}
