//! `kubepool config validate` against the real `nodepool config-validate` (Nodepool 11.0.0)
//! on every file of tests/config-corpus/.
//!
//! Each corpus file starts with comment lines:
//! * `# expect: valid|invalid` — kubepool's decision;
//! * `# deviation: <id>` — Nodepool decides the other way, on purpose (the id must be listed
//!   in docs/config.md); without it both must decide alike;
//! * `# error: <key.path>` — kubepool must report a problem at that key path.
//!
//! The Nodepool venv is `$KUBEPOOL_TEST_VENV` (default `$HOME/.cache/kubepool/venv`, made by
//! tests/setup-python.sh); the test fails if it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

const MIN_CORPUS: usize = 60;

struct Case {
    path: PathBuf,
    expect_valid: bool,
    deviation: Option<String>,
    error_paths: Vec<String>,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's python, with the real Nodepool installed.
fn nodepool_python() -> PathBuf {
    let venv = std::env::var_os("KUBEPOOL_TEST_VENV").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").expect("HOME is not set and KUBEPOOL_TEST_VENV is not given");
        Path::new(&home).join(".cache/kubepool/venv")
    });
    let nodepool = venv.join("bin/nodepool");
    assert!(
        nodepool.is_file(),
        "the real Nodepool is missing: {} does not exist. Create the venv with tests/setup-python.sh \
         (or point KUBEPOOL_TEST_VENV at a venv with nodepool==11.0.0).",
        nodepool.display()
    );
    venv.join("bin/python3")
}

fn header(text: &str, key: &str) -> Vec<String> {
    let prefix = format!("# {key}: ");
    text.lines().filter_map(|l| l.strip_prefix(&prefix)).map(|v| v.trim().to_string()).collect()
}

fn corpus() -> Vec<Case> {
    let dir = repo().join("tests/config-corpus");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("corpus file");
            let expect = header(&text, "expect");
            assert!(
                expect == ["valid"] || expect == ["invalid"],
                "{}: needs one '# expect: valid|invalid' line",
                path.display()
            );
            Case {
                expect_valid: expect[0] == "valid",
                deviation: header(&text, "deviation").into_iter().next(),
                error_paths: header(&text, "error"),
                path,
            }
        })
        .collect()
}

/// Nodepool's own `config-validate` decision for every case, from one Python process
/// (tests/peers/nodepool_config_validate.py makes the call the `nodepool` command makes).
fn nodepool_decisions(python: &Path, cases: &[Case]) -> Vec<bool> {
    let peer = repo().join("tests/peers/nodepool_config_validate.py");
    let output = Command::new(python)
        .arg(&peer)
        .args(cases.iter().map(|c| &c.path))
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", peer.display()));
    assert!(output.status.success(), "{} failed: {}", peer.display(), String::from_utf8_lossy(&output.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).expect("the peer's JSON");
    cases
        .iter()
        .map(|case| {
            let path = case.path.to_string_lossy();
            answer["valid"][path.as_ref()].as_bool().unwrap_or_else(|| panic!("no decision for {path}"))
        })
        .collect()
}

fn kubepool(path: &Path) -> (bool, Vec<String>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_kubepool"))
        .args(["--log-format", "text", "config", "validate", "-c"])
        .arg(path)
        .env("RUST_LOG", "off")
        .output()
        .expect("run kubepool");
    let code = output.status.code();
    assert!(matches!(code, Some(0 | 1)), "{}: kubepool exited with {code:?}", path.display());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (code == Some(0), stderr.lines().map(str::to_string).collect(), stdout)
}

/// Checks the error lines' format (`FILE:LINE:COL: key.path: message`) and that each
/// expected key path is among them.
fn check_errors(case: &Case, lines: &[String], failures: &mut Vec<String>) {
    let file = case.path.display().to_string();
    let mut paths = Vec::new();
    for line in lines {
        let parts: Option<Vec<&str>> =
            line.strip_prefix(&format!("{file}:")).map(|rest| rest.splitn(3, ": ").collect());
        let well_formed = parts.as_ref().and_then(|p| {
            let (pos, path) = (p.first()?, p.get(1)?);
            let (l, c) = pos.split_once(':')?;
            (l.parse::<usize>().ok()? > 0 && c.parse::<usize>().ok()? > 0 && p.len() == 3).then_some(*path)
        });
        match well_formed {
            Some(path) => paths.push(path.to_string()),
            None => failures.push(format!("{file}: malformed error line {line:?}")),
        }
    }
    for want in &case.error_paths {
        if !paths.contains(want) {
            failures.push(format!("{file}: no error at {want}; got {lines:?}"));
        }
    }
}

#[test]
fn kubepool_decides_like_nodepool_except_documented_deviations() {
    let python = nodepool_python();
    let cases = corpus();
    assert!(cases.len() >= MIN_CORPUS, "the corpus has {} files, fewer than {MIN_CORPUS}", cases.len());
    let docs = std::fs::read_to_string(repo().join("docs/config.md")).expect("docs/config.md");
    let nodepool_valid = nodepool_decisions(&python, &cases);
    let mut failures = Vec::new();
    let mut deviations = 0;
    for (case, np_valid) in cases.iter().zip(nodepool_valid) {
        let file = case.path.display();
        let (kp_valid, lines, stdout) = kubepool(&case.path);
        if kp_valid != case.expect_valid {
            failures.push(format!("{file}: kubepool says valid={kp_valid}, the file expects {}", case.expect_valid));
        }
        match &case.deviation {
            None if np_valid != kp_valid => {
                failures.push(format!("{file}: nodepool valid={np_valid}, kubepool valid={kp_valid}"));
            }
            None => {}
            Some(id) => {
                deviations += 1;
                if np_valid == kp_valid {
                    failures.push(format!("{file}: deviation {id} expected, but both say valid={kp_valid}"));
                }
                if !docs.contains(&format!("`{id}`")) {
                    failures.push(format!("{file}: deviation `{id}` is not listed in docs/config.md"));
                }
            }
        }
        if kp_valid {
            if lines.iter().any(|l| !l.is_empty()) {
                failures.push(format!("{file}: valid, but kubepool printed errors {lines:?}"));
            }
            if !stdout.starts_with(&format!("{file}: valid; ")) {
                failures.push(format!("{file}: valid, but the summary is {stdout:?}"));
            }
        } else {
            if lines.is_empty() {
                failures.push(format!("{file}: invalid, but kubepool printed no error"));
            }
            check_errors(case, &lines, &mut failures);
        }
    }
    eprintln!("{} corpus files, {deviations} documented deviations", cases.len());
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}
