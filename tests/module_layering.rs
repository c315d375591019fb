//! The lines between kubepool's rooms (docs/architecture.md), checked on the source text.
//!
//! Every `crate::…` and `super::…` path in the code of a file of `src/` (test modules and
//! comments left out) is resolved
//! to the module file it names. An edge between a module and one nested in it is containment,
//! not an import, and is left out. Then:
//! * no cycle: no module imports a module that imports it back, directly or around a ring;
//! * a driver's folder is reached from outside only by the driver factory, and the drivers'
//!   toolkit (`drivers/common/`) only from `drivers/`;
//! * the lines in docs/architecture.md: drivers import no front end (config, launcher, zk,
//!   cli, operator), `zk/` imports no Kubernetes room, `executor/` no launcher.
//!
//! Run with `-- --nocapture` to see the counts.

#[path = "support/source_files.rs"]
mod source_files;

use source_files::{code, rust_files};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `crate::a::b` for `src/a/b.rs` and `src/a/b/mod.rs`; `crate` for `src/lib.rs`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("file under src");
    let mut parts: Vec<String> =
        relative.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    std::iter::once("crate".to_string()).chain(parts).collect::<Vec<_>>().join("::")
}

/// Every path starting with `crate::` or `super::` in `text`, braces expanded.
fn paths(text: &str) -> Vec<Vec<String>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &text[at..];
        let starts = rest.starts_with("crate::") || rest.starts_with("super::");
        let boundary = at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        if starts && boundary {
            let (found, used) = parse_tree(rest);
            out.extend(found);
            at += used.max(1);
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

/// Parses `a::b::{c, d::{e}}` at the start of `text`; returns the paths and the bytes used.
fn parse_tree(text: &str) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    let mut at = 0;
    loop {
        let ident: String = text[at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if ident.is_empty() {
            if text[at..].starts_with('{') {
                let mut out = Vec::new();
                at += 1;
                loop {
                    let rest = text[at..].trim_start();
                    at = text.len() - rest.len();
                    if rest.starts_with('}') || rest.is_empty() {
                        return (out, at + 1);
                    }
                    let (inner, used) = parse_tree(rest);
                    out.extend(inner.into_iter().map(|p| prefix.iter().cloned().chain(p).collect()));
                    at += used;
                    let rest = text[at..].trim_start();
                    at = text.len() - rest.len();
                    if rest.starts_with(',') {
                        at += 1;
                    } else if !rest.starts_with('}') {
                        // `a as b` and the like: skip to the next separator.
                        let skip = rest.find([',', '}']).unwrap_or(rest.len());
                        at += skip;
                    }
                }
            }
            return (vec![prefix], at);
        }
        at += ident.len();
        prefix.push(ident);
        if text[at..].starts_with("::") {
            at += 2;
        } else {
            return (vec![prefix], at);
        }
    }
}

/// The module a path names: the longest prefix that is a module, `super` resolved from `from`.
fn resolve(path: &[String], from: &str, modules: &BTreeSet<String>) -> Option<String> {
    let mut base: Vec<String> = from.split("::").map(str::to_string).collect();
    let mut rest = path;
    if rest.first().is_some_and(|s| s == "super") {
        // In `a/b.rs` and in `a/b/mod.rs` (both module a::b) `super` is `a`.
        while rest.first().is_some_and(|s| s == "super") {
            base.pop()?;
            rest = &rest[1..];
        }
    } else {
        base = vec!["crate".to_string()];
        rest = &rest[1..];
    }
    let mut best = None;
    let mut candidate = base.clone();
    if modules.contains(&candidate.join("::")) {
        best = Some(candidate.join("::"));
    }
    for segment in rest {
        candidate.push(segment.clone());
        let name = candidate.join("::");
        if modules.contains(&name) {
            best = Some(name);
        }
    }
    best
}

fn nested(a: &str, b: &str) -> bool {
    a == b || a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::")) || a == "crate" || b == "crate"
}

struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
}

fn graph() -> Graph {
    // Another tree's src/ may be measured (`KUBEPOOL_LAYERING_SRC`), to compare before and after.
    let src = std::env::var_os("KUBEPOOL_LAYERING_SRC").map_or_else(source_files::src_dir, PathBuf::from);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = module_of(&src, file);
        let text = std::fs::read_to_string(file).expect("read source");
        let targets = edges.entry(from.clone()).or_default();
        for path in paths(&code(&text)) {
            if let Some(to) = resolve(&path, &from, &modules).filter(|to| !nested(&from, to)) {
                targets.insert(to);
            }
        }
    }
    Graph { edges }
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[w].min(s.low[v]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.index[w].min(s.low[v]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.edges.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.out
}

/// Pairs of modules that import each other directly.
fn mutual_pairs(graph: &Graph) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (a, targets) in &graph.edges {
        for b in targets {
            if a < b && graph.edges.get(b).is_some_and(|t| t.contains(a)) {
                out.push((a.clone(), b.clone()));
            }
        }
    }
    out
}

fn within(module: &str, room: &str) -> bool {
    module == room || module.starts_with(&format!("{room}::"))
}

/// Edges from outside `room` into it, except from `allowed`.
fn entries_into(graph: &Graph, room: &str, allowed: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for (from, targets) in &graph.edges {
        if within(from, room) || allowed.iter().any(|a| within(from, a)) {
            continue;
        }
        for to in targets.iter().filter(|t| within(t, room)) {
            out.push(format!("{from} -> {to}"));
        }
    }
    out
}

/// Edges from `room` into any of `forbidden`.
fn exits_to(graph: &Graph, room: &str, forbidden: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for (from, targets) in graph.edges.iter().filter(|(from, _)| within(from, room)) {
        for to in targets.iter().filter(|t| forbidden.iter().any(|f| within(t, f))) {
            out.push(format!("{from} -> {to}"));
        }
    }
    out
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let graph = graph();
    let edge_count: usize = graph.edges.values().map(BTreeSet::len).sum();
    let pairs = mutual_pairs(&graph);
    let rings = cycles(&graph);
    println!("{} modules, {edge_count} imports between them", graph.edges.len());
    println!("{} pairs import each other: {pairs:#?}", pairs.len());
    println!("{} cycles: {rings:#?}", rings.len());
    assert!(pairs.is_empty() && rings.is_empty(), "import cycles: {pairs:?} {rings:?}");
}

#[test]
fn a_driver_folder_is_reached_only_through_the_factory() {
    let graph = graph();
    let mut wrong = Vec::new();
    for driver in ["crate::drivers::kubernetes", "crate::drivers::openshift", "crate::drivers::openshiftpods"] {
        // `openshift` is a prefix of `openshiftpods`: `within` compares whole segments.
        wrong.extend(entries_into(&graph, driver, &["crate::drivers::factory"]));
    }
    // The toolkit is the drivers' own: a front end sees spec, naming and factory only.
    wrong.extend(entries_into(&graph, "crate::drivers::common", &["crate::drivers"]));
    assert!(wrong.is_empty(), "imports into a driver's folder from outside it: {wrong:#?}");
}

#[test]
fn the_lines_in_the_architecture_page_hold() {
    let graph = graph();
    let front_ends =
        ["crate::config", "crate::launcher", "crate::zk", "crate::cli", "crate::operator", "crate::operations"];
    let mut wrong = exits_to(&graph, "crate::drivers", &front_ends);
    wrong.extend(exits_to(&graph, "crate::zk", &["crate::k8s", "crate::drivers", "crate::pod_exec"]));
    wrong.extend(exits_to(&graph, "crate::executor", &["crate::launcher"]));
    wrong.extend(exits_to(&graph, "crate::k8s", &["crate::drivers", "crate::launcher", "crate::config", "crate::zk"]));
    assert!(wrong.is_empty(), "imports across a line of docs/architecture.md: {wrong:#?}");
}

#[test]
fn the_path_parser_reads_grouped_imports() {
    let found = paths("use crate::room::{a, b::{self, c}};\nlet x = super::api::get();");
    let found: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert_eq!(found, ["crate::room::a", "crate::room::b::self", "crate::room::b::c", "super::api::get"]);
}
