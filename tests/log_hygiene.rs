//! What kubepool writes to stderr when it goes to a file, a pipe or journald: no terminal colour
//! codes, with `--log-format json` only valid JSON objects with unique keys, a start-up line
//! naming the version and the config file, and a fatal error as exactly one line. And in the
//! source: no log message of `debug!` and above formats a value with Rust's `Debug`
//! (`Some("…")`, `Deleting`), which is for developers' eyes.

#[path = "support/source_files.rs"]
mod source_files;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::process::{Command, Output, Stdio};

/// A JSON value that refuses an object with the same key twice (serde_json keeps the last one).
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }
}

/// Runs kubepool with `args`, stderr into a pipe (not a terminal), RUST_LOG=info.
fn kubepool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubepool"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run kubepool")
}

const MISSING: &str = "/nonexistent/kubepool-log-test/nodepool.yaml";

#[test]
fn text_logs_into_a_file_carry_no_escape_codes_and_a_fatal_error_is_one_line() {
    let output = kubepool(&["launcher", "-c", MISSING]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains('\u{1b}'), "escape codes in {stderr:?}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "a start-up line and one line for the fatal error: {stderr}");
    assert!(lines[0].contains("kubepool launcher starting") && lines[0].contains(MISSING), "{stderr}");
    assert!(lines[0].contains(concat!("version=\"", env!("CARGO_PKG_VERSION"), "\"")), "{stderr}");
    assert_eq!(lines[1], format!("kubepool: {MISSING}: cannot read: No such file or directory (os error 2)"));
}

#[test]
fn json_logs_are_valid_objects_with_unique_keys_and_a_fatal_error_is_one_of_them() {
    let output = kubepool(&["--log-format", "json", "launcher", "-c", MISSING]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut records = Vec::new();
    for line in stderr.lines() {
        serde_json::from_str::<UniqueKeys>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        records.push(serde_json::from_str::<serde_json::Value>(line).expect("JSON object"));
    }
    assert_eq!(records.len(), 2, "{stderr}");
    assert_eq!(records[0]["message"], "kubepool launcher starting");
    assert_eq!(records[0]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(records[0]["config"], MISSING);
    assert_eq!(records[1]["level"], "ERROR");
    assert_eq!(records[1]["message"], format!("{MISSING}: cannot read: No such file or directory (os error 2)"));
}

#[test]
fn the_unique_key_check_catches_a_repeated_key() {
    let repeated = r#"{"span":{"name":"k8s","name":"provider"}}"#;
    assert!(serde_json::from_str::<UniqueKeys>(repeated).is_err());
    assert!(serde_json::from_str::<UniqueKeys>(r#"{"span":{"provider":"k8s","name":"provider"}}"#).is_ok());
}

#[test]
fn a_file_without_zookeeper_servers_is_valid_but_the_launcher_refuses_it_in_one_line() {
    let dir = std::env::temp_dir().join(format!("kubepool-log-nozk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("nodepool.yaml");
    std::fs::write(&path, "labels: []\nproviders: []\n").expect("write");
    let path = path.to_string_lossy().into_owned();
    let validate = kubepool(&["config", "validate", "-c", &path]);
    assert_eq!(validate.status.code(), Some(0), "{}", String::from_utf8_lossy(&validate.stderr));
    let output = kubepool(&["launcher", "-c", &path]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "a start-up line and one line for the fatal error: {stderr}");
    assert_eq!(
        lines[1],
        format!("kubepool: {path}: no zookeeper-servers: the launcher needs at least one ZooKeeper server")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The tracing macros whose messages operators read (`trace!` is for developers).
const LOG_MACROS: [&str; 8] =
    ["debug!(", "info!(", "warn!(", "error!(", "debug_span!(", "info_span!(", "warn_span!(", "error_span!("];

/// The arguments of every log macro call in `code`: (line, text up to the matching parenthesis).
fn log_calls(code: &str) -> Vec<(usize, String)> {
    let mut calls = Vec::new();
    for name in LOG_MACROS {
        for (at, _) in code.match_indices(name) {
            let boundary = at == 0 || !code.as_bytes()[at - 1].is_ascii_alphanumeric();
            if !boundary {
                continue;
            }
            let start = at + name.len();
            let mut depth = 1;
            let end = code[start..]
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(code.len(), |(i, _)| start + i);
            calls.push((code[..at].lines().count().max(1), code[start..end].to_string()));
        }
    }
    calls
}

/// Why `args` (a log macro's arguments) formats with `Debug`: a `?field` / `field = ?value`, or
/// a `{:?}` in its message.
fn debug_formatting(args: &str) -> Option<&'static str> {
    let bytes = args.as_bytes();
    let sigil = bytes.iter().enumerate().any(|(i, b)| {
        *b == b'?'
            && bytes.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic() || *n == b'_')
            && (i == 0 || matches!(bytes[i - 1], b' ' | b'(' | b',' | b'=' | b'\n'))
    });
    if sigil {
        Some("a ?field")
    } else if args.contains(":?}") || args.contains(":#?}") {
        Some("a {:?} in the message")
    } else {
        None
    }
}

#[test]
fn log_messages_format_no_value_with_debug() {
    let mut files = Vec::new();
    source_files::rust_files(&source_files::src_dir(), &mut files);
    let mut found = Vec::new();
    let mut calls = 0;
    for file in &files {
        let code = source_files::code(&std::fs::read_to_string(file).expect("read source"));
        for (line, args) in log_calls(&code) {
            calls += 1;
            if let Some(why) = debug_formatting(&args) {
                found.push(format!("{}:{line}: {why}: {}", file.display(), args.trim()));
            }
        }
    }
    assert!(calls > 100, "only {calls} log calls found: the scan is broken");
    assert!(found.is_empty(), "Debug formatting in log messages:\n{}", found.join("\n"));
}

#[test]
fn the_debug_formatting_check_catches_both_forms() {
    assert_eq!(debug_formatting(r#"pod = %name, ?state, "changed""#), Some("a ?field"));
    assert_eq!(debug_formatting(r#"retry_in = ?backoff, "retrying""#), Some("a ?field"));
    assert_eq!(debug_formatting(r#""ended: {:?}", first.ended"#), Some("a {:?} in the message"));
    assert_eq!(debug_formatting(r#""ended: {ended:?}""#), Some("a {:?} in the message"));
    assert_eq!(debug_formatting(r#"pod = %name, waited_seconds, "is it? yes""#), None);
    let calls = log_calls("fn f() { info!(a = %b(c), \"x\"); tracing::warn!(?d, \"y\"); }");
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[1].1, "?d, \"y\"");
}
