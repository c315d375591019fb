//! YAML 1.1 scalar resolution, as PyYAML's `SafeLoader` does it (`yaml/resolver.py`,
//! `yaml/constructor.py`): which plain scalars are booleans, integers, floats, nulls,
//! timestamps or merge keys.

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    /// `None`: an integer too large for i64.
    Int(Option<i64>),
    Float(f64),
    Str,
    Timestamp,
    Binary,
    Merge,
    /// PyYAML's constructor fails on it (e.g. the `=` value key).
    Invalid(&'static str),
}

/// Resolves an untagged plain scalar.
pub fn resolve_plain(text: &str) -> Scalar {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => return Scalar::Bool(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => return Scalar::Bool(false),
        "<<" => return Scalar::Merge,
        "=" => return Scalar::Invalid("the YAML value key is not supported"),
        _ => {}
    }
    if let Some(i) = int(text) {
        return Scalar::Int(i);
    }
    if let Some(f) = float(text) {
        return Scalar::Float(f);
    }
    if is_timestamp(text) {
        return Scalar::Timestamp;
    }
    Scalar::Str
}

/// Resolves a scalar with an explicit core tag (`!!str`, `!!int`, ...); `None` if it does
/// not read as that type.
pub fn resolve_tagged(suffix: &str, text: &str) -> Option<Scalar> {
    Some(match suffix {
        "str" => Scalar::Str,
        "null" => Scalar::Null,
        "bool" => match resolve_plain(text) {
            b @ Scalar::Bool(_) => b,
            _ => return None,
        },
        "int" => Scalar::Int(int(text)?),
        "float" => Scalar::Float(float(text).or_else(|| int(text).flatten().map(|i| i as f64))?),
        "timestamp" => Scalar::Timestamp,
        "binary" => Scalar::Binary,
        "merge" => Scalar::Merge,
        _ => return None,
    })
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

fn all(text: &str, ok: impl Fn(u8) -> bool) -> bool {
    !text.is_empty() && text.bytes().all(ok)
}

/// `Some(Some(i))` an integer, `Some(None)` an integer beyond i64, `None` not an integer.
fn int(text: &str) -> Option<Option<i64>> {
    let (negative, body) = split_sign(text);
    let (digits, radix) = if let Some(rest) = body.strip_prefix("0b") {
        all(rest, |b| b == b'0' || b == b'1' || b == b'_').then_some((rest, 2))?
    } else if let Some(rest) = body.strip_prefix("0x") {
        all(rest, |b| b.is_ascii_hexdigit() || b == b'_').then_some((rest, 16))?
    } else if body == "0" {
        (body, 10)
    } else if let Some(rest) = body.strip_prefix('0') {
        all(rest, |b| (b'0'..=b'7').contains(&b) || b == b'_').then_some((rest, 8))?
    } else if body.starts_with(|c: char| ('1'..='9').contains(&c)) {
        if body.contains(':') {
            return sexagesimal_int(body, negative);
        }
        all(body, |b| b.is_ascii_digit() || b == b'_').then_some((body, 10))?
    } else {
        return None;
    };
    let cleaned: String = digits.chars().filter(|&c| c != '_').collect();
    if cleaned.is_empty() {
        // PyYAML's int() fails on it: not a usable integer either way.
        return None;
    }
    Some(
        i128::from_str_radix(&cleaned, radix)
            .ok()
            .map(|v| if negative { -v } else { v })
            .and_then(|v| i64::try_from(v).ok()),
    )
}

fn sexagesimal_int(body: &str, negative: bool) -> Option<Option<i64>> {
    let mut parts = body.split(':');
    let first = parts.next()?;
    if !all(first, |b| b.is_ascii_digit() || b == b'_') {
        return None;
    }
    let mut value: Option<i64> = first.replace('_', "").parse::<i64>().ok();
    for part in parts {
        if !is_sexagesimal_part(part) {
            return None;
        }
        let digit: i64 = part.parse().ok()?;
        value = value.and_then(|v| v.checked_mul(60)).and_then(|v| v.checked_add(digit));
    }
    Some(value.map(|v| if negative { -v } else { v }))
}

/// `[0-5]?[0-9]`
fn is_sexagesimal_part(part: &str) -> bool {
    let b = part.as_bytes();
    match b.len() {
        1 => b[0].is_ascii_digit(),
        2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
        _ => false,
    }
}

fn float(text: &str) -> Option<f64> {
    if matches!(text, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN);
    }
    let (negative, body) = split_sign(text);
    let sign = if negative { -1.0 } else { 1.0 };
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return Some(sign * f64::INFINITY);
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    if let Some(exp) = exponent {
        let (_, digits) = split_sign(exp);
        if !(exp.starts_with(['+', '-']) && all(digits, |b| b.is_ascii_digit())) {
            return None;
        }
    }
    let (int_part, frac) = mantissa.split_once('.')?;
    if frac.contains('.') || !frac.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return None;
    }
    if int_part.is_empty() {
        // `.5` form: no sign allowed, a digit must follow the dot.
        if negative || text.starts_with('+') || !frac.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
    } else if int_part.contains(':') {
        if exponent.is_some() {
            return None;
        }
        let mut parts = int_part.split(':');
        let first = parts.next()?;
        if !(first.starts_with(|c: char| c.is_ascii_digit()) && all(first, |b| b.is_ascii_digit() || b == b'_')) {
            return None;
        }
        let mut v: f64 = first.replace('_', "").parse().ok()?;
        for part in parts {
            if !is_sexagesimal_part(part) {
                return None;
            }
            v = v * 60.0 + part.parse::<f64>().ok()?;
        }
        return Some(sign * (v + format!("0.{}", frac.replace('_', "")).parse::<f64>().unwrap_or(0.0)));
    } else if !(int_part.starts_with(|c: char| c.is_ascii_digit())
        && all(int_part, |b| b.is_ascii_digit() || b == b'_'))
    {
        return None;
    }
    let cleaned: String = mantissa.chars().filter(|&c| c != '_').collect();
    let full = match exponent {
        Some(exp) => format!("{cleaned}e{exp}"),
        None => cleaned,
    };
    full.parse::<f64>().ok().map(|v| sign * v)
}

/// PyYAML's timestamp pattern: `YYYY-MM-DD`, or a date with a time.
fn is_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if b.len() == 10 && digits(&b[0..4]) && b[4] == b'-' && digits(&b[5..7]) && b[7] == b'-' && digits(&b[8..10]) {
        return true;
    }
    // Date with time: YYYY-M[M]-D[D](T|t|spaces)H[H]:MM:SS...
    let Some(split) = text.find(['T', 't', ' ', '\t']) else {
        return false;
    };
    let (date, rest) = text.split_at(split);
    let mut date_parts = date.split('-');
    let ok_date = matches!(
        (date_parts.next(), date_parts.next(), date_parts.next(), date_parts.next()),
        (Some(y), Some(m), Some(d), None)
            if y.len() == 4 && digits(y.as_bytes()) && (1..=2).contains(&m.len()) && digits(m.as_bytes())
                && (1..=2).contains(&d.len()) && digits(d.as_bytes())
    );
    let time = rest.trim_start_matches(['T', 't', ' ', '\t']);
    let mut time_parts = time.splitn(3, ':');
    let ok_time = matches!(
        (time_parts.next(), time_parts.next(), time_parts.next()),
        (Some(h), Some(m), Some(s))
            if (1..=2).contains(&h.len()) && digits(h.as_bytes()) && m.len() == 2 && digits(m.as_bytes())
                && s.len() >= 2 && digits(&s.as_bytes()[..2])
    );
    ok_date && ok_time
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_follow_pyyaml() {
        assert_eq!(float("1.0"), Some(1.0));
        assert_eq!(float("-1.5"), Some(-1.5));
        assert_eq!(float("1."), Some(1.0));
        assert_eq!(float(".5"), Some(0.5));
        assert_eq!(float("1_0.5"), Some(10.5));
        assert_eq!(float("1:30.0"), Some(90.0));
        assert_eq!(float("-.inf"), Some(f64::NEG_INFINITY));
        assert!(float(".nan").is_some_and(f64::is_nan));
        assert_eq!(float("1e3"), None);
        assert_eq!(float("1.0e3"), None);
        assert_eq!(float("1"), None);
        assert_eq!(float("abc"), None);
        assert_eq!(float("-.5"), None);
    }

    #[test]
    fn ints_follow_pyyaml() {
        assert_eq!(int("0"), Some(Some(0)));
        assert_eq!(int("-12"), Some(Some(-12)));
        assert_eq!(int("0b101"), Some(Some(5)));
        assert_eq!(int("0o17"), None);
        assert_eq!(int("1:0:0"), Some(Some(3600)));
        assert_eq!(int("1:60"), None);
        assert_eq!(int("08"), None);
        assert_eq!(int("12a"), None);
    }

    #[test]
    fn timestamps_are_recognised() {
        assert!(is_timestamp("2001-12-14"));
        assert!(is_timestamp("2001-12-14t21:59:43.10-05:00"));
        assert!(is_timestamp("2001-12-14 21:59:43.10 -5"));
        assert!(!is_timestamp("2001-12"));
        assert!(!is_timestamp("registry/image:latest"));
    }
}
