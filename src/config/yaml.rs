//! YAML text → a tree of [`Node`]s with positions, resolved the way Nodepool reads it.
//!
//! Nodepool loads its config with PyYAML's `SafeLoader`, which implements YAML 1.1: plain
//! `yes`/`no`/`on`/`off` are booleans, `0o17` is a string but `017` an octal integer,
//! `1.0e3` is a string (the exponent needs a sign), merge keys (`<<`) are honoured, duplicate
//! keys are allowed (the last one wins) and unknown tags are errors. The tokenizer is
//! `saphyr-parser`; the scalar resolution in [`resolve`](super::scalar) follows PyYAML.

use super::error::Diagnostic;
pub use super::error::Pos;
use super::scalar::{self, Scalar};
use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use std::collections::HashMap;

/// Most nodes a document may expand to through aliases (guards against "billion laughs").
const MAX_NODES: usize = 1_000_000;

/// Deepest nesting of collections (PyYAML fails on deep nesting too, through Python's
/// recursion limit); keeps every recursive walk of the tree shallow.
const MAX_DEPTH: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer beyond i64 (Python's are unbounded).
    BigInt(String),
    Float(f64),
    Str(String),
    /// A timestamp or binary scalar: valid YAML, but never a valid value here.
    Other(&'static str),
    Seq(Vec<Node>),
    /// Keys are unique (the last duplicate wins, as in a Python dict); order of first appearance.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// The Python type name of the value, for messages ("expected int, got str").
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Other(name) => name,
            Value::Seq(_) => "list",
            Value::Map(_) => "dict",
        }
    }
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The value of string key `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
    }
}

/// Parses `text` as one YAML document. An empty stream is the document `null`, as in PyYAML.
pub fn parse(text: &str) -> Result<Node, Diagnostic> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            let m = e.marker();
            Diagnostic::at(Pos { line: m.line(), col: m.col() + 1 }, "", format!("invalid YAML: {}", e.info()))
        })?;
        builder.event(event, span)?;
    }
    match builder.documents.len() {
        0 => Ok(Node { value: Value::Null, pos: Pos { line: 1, col: 1 } }),
        1 => Ok(builder.documents.remove(0)),
        _ => Err(Diagnostic::at(builder.documents[1].pos, "", "expected a single document in the stream".into())),
    }
}

enum Frame {
    Seq(Node, usize),
    Map(Node, usize, Vec<(Node, Node)>, Option<Node>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    documents: Vec<Node>,
    total: usize,
}

fn pos_of(span: &Span) -> Pos {
    Pos { line: span.start.line(), col: span.start.col() + 1 }
}

fn collection_tag_ok(tag: &Option<std::borrow::Cow<'_, Tag>>, want: &str) -> bool {
    match tag {
        None => true,
        Some(t) => (t.handle == "!" && t.suffix.is_empty()) || (t.is_yaml_core_schema() && t.suffix == want),
    }
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Diagnostic> {
        let pos = pos_of(&span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar_value(&text, style, tag.as_deref(), pos)?;
                self.push(Node { value, pos }, anchor, 1, 1)
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if self.stack.len() >= MAX_DEPTH => {
                Err(Diagnostic::at(pos, "", format!("collections nested deeper than {MAX_DEPTH} levels")))
            }
            Event::SequenceStart(anchor, tag) => {
                if !collection_tag_ok(&tag, "seq") {
                    return Err(Diagnostic::at(pos, "", "unsupported tag on a sequence".into()));
                }
                self.stack.push(Frame::Seq(Node { value: Value::Seq(Vec::new()), pos }, anchor));
                Ok(())
            }
            Event::MappingStart(anchor, tag) => {
                if !collection_tag_ok(&tag, "map") {
                    return Err(Diagnostic::at(pos, "", "unsupported tag on a mapping".into()));
                }
                self.stack.push(Frame::Map(Node { value: Value::Null, pos }, anchor, Vec::new(), None));
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq(node, anchor)) => {
                    let weight = weight(&node);
                    // Its items were counted as they came: the sequence itself adds one.
                    self.push(node, anchor, weight, 1)
                }
                _ => Err(Diagnostic::at(pos, "", "invalid YAML: unbalanced sequence".into())),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map(mut node, anchor, pairs, _)) => {
                    node.value = Value::Map(merge_and_dedupe(pairs)?);
                    let weight = weight(&node);
                    self.push(node, anchor, weight, 1)
                }
                _ => Err(Diagnostic::at(pos, "", "invalid YAML: unbalanced mapping".into())),
            },
            Event::Alias(id) => {
                let Some((node, weight)) = self.anchors.get(&id).cloned() else {
                    return Err(Diagnostic::at(pos, "", "found undefined alias".into()));
                };
                // An alias repeats the whole anchored subtree.
                self.push(node, 0, weight, weight)
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd | Event::Nothing => {
                Ok(())
            }
        }
    }

    /// Adds `node` (whose subtree has `weight` nodes) to the document; `added` is how many
    /// nodes that puts into the expanded document beyond those already counted.
    fn push(&mut self, node: Node, anchor: usize, weight: usize, added: usize) -> Result<(), Diagnostic> {
        self.total = self.total.saturating_add(added);
        if self.total > MAX_NODES {
            return Err(Diagnostic::at(node.pos, "", format!("document expands to more than {MAX_NODES} nodes")));
        }
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), weight));
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map(_, _, pairs, key)) => match key.take() {
                None => *key = Some(node),
                Some(k) => pairs.push((k, node)),
            },
        }
        Ok(())
    }
}

/// How many nodes `node` counts for the expansion limit.
fn weight(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(weight).sum::<usize>(),
        Value::Map(pairs) => 1 + pairs.iter().map(|(k, v)| weight(k) + weight(v)).sum::<usize>(),
        _ => 1,
    }
}

fn scalar_value(text: &str, style: ScalarStyle, tag: Option<&Tag>, pos: Pos) -> Result<Value, Diagnostic> {
    let scalar = match tag {
        None if style == ScalarStyle::Plain => scalar::resolve_plain(text),
        None => Scalar::Str,
        Some(t) if t.handle == "!" && t.suffix.is_empty() => Scalar::Str,
        Some(t) if t.is_yaml_core_schema() => scalar::resolve_tagged(&t.suffix, text)
            .ok_or_else(|| Diagnostic::at(pos, "", format!("the scalar cannot be read as !!{}", t.suffix)))?,
        Some(t) => return Err(Diagnostic::at(pos, "", format!("unsupported tag {}{}", t.handle, t.suffix))),
    };
    Ok(match scalar {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(Some(i)) => Value::Int(i),
        Scalar::Int(None) => Value::BigInt(text.to_string()),
        Scalar::Float(f) => Value::Float(f),
        Scalar::Str => Value::Str(text.to_string()),
        Scalar::Timestamp => Value::Other("timestamp"),
        Scalar::Binary => Value::Other("bytes"),
        Scalar::Merge => Value::Other("merge"),
        Scalar::Invalid(what) => return Err(Diagnostic::at(pos, "", format!("cannot construct the scalar: {what}"))),
    })
}

/// Applies merge keys (`<<`) and keeps the last of duplicate keys, as PyYAML builds a dict.
fn merge_and_dedupe(pairs: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, Diagnostic> {
    let mut merged: Vec<(Node, Node)> = Vec::new();
    let mut own: Vec<(Node, Node)> = Vec::new();
    for (key, value) in pairs {
        if key.value == Value::Other("merge") {
            let maps: Vec<&Node> = match &value.value {
                Value::Map(_) => vec![&value],
                Value::Seq(items) => items.iter().rev().collect(),
                _ => return Err(Diagnostic::at(value.pos, "", "a merge key (<<) needs a mapping".into())),
            };
            for map in maps {
                let Some(entries) = map.as_map() else {
                    return Err(Diagnostic::at(map.pos, "", "a merge key (<<) needs mappings".into()));
                };
                merged.extend(entries.iter().cloned());
            }
        } else {
            own.push((key, value));
        }
    }
    let mut out: Vec<(Node, Node)> = Vec::new();
    for (key, value) in merged.into_iter().chain(own) {
        if matches!(key.value, Value::Seq(_) | Value::Map(_)) {
            return Err(Diagnostic::at(key.pos, "", "found unhashable key".into()));
        }
        match out.iter_mut().find(|(k, _)| same_key(&k.value, &key.value)) {
            Some(slot) => slot.1 = value,
            None => out.push((key, value)),
        }
    }
    Ok(out)
}

/// Python dict key equality for scalars (`1 == 1.0 == True`).
fn same_key(a: &Value, b: &Value) -> bool {
    fn number(v: &Value) -> Option<f64> {
        match v {
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A YAML value as JSON (what the Kubernetes API receives). Non-string keys become strings.
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.value {
        Value::Null | Value::Other(_) => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::BigInt(s) => J::String(s.clone()),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.clone()),
        Value::Seq(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match to_json(k) {
                        J::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value {
        parse(text).expect("parses").value
    }

    #[test]
    fn yaml_1_1_scalars() {
        assert_eq!(value("yes"), Value::Bool(true));
        assert_eq!(value("Off"), Value::Bool(false));
        assert_eq!(value("017"), Value::Int(15));
        assert_eq!(value("1_000"), Value::Int(1000));
        assert_eq!(value("1:30"), Value::Int(90));
        assert_eq!(value("0x1F"), Value::Int(31));
        assert_eq!(value("1.0e3"), Value::Str("1.0e3".into()));
        assert_eq!(value("1.0e+3"), Value::Float(1000.0));
        assert_eq!(value("'yes'"), Value::Str("yes".into()));
        assert_eq!(value("~"), Value::Null);
        assert_eq!(value(""), Value::Null);
        assert_eq!(value("2024-01-02"), Value::Other("timestamp"));
        assert_eq!(value("99999999999999999999"), Value::BigInt("99999999999999999999".into()));
    }

    #[test]
    fn positions_are_one_based() {
        let root = parse("a:\n  b: 1\n").expect("parses");
        let b = root.get("a").and_then(|a| a.get("b")).expect("a.b");
        assert_eq!(b.pos, Pos { line: 2, col: 6 });
    }

    #[test]
    fn merge_keys_and_duplicates() {
        let root = parse("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n  y: 4\n").expect("parses");
        let m = root.get("m").expect("m");
        assert_eq!(m.get("x").map(|n| &n.value), Some(&Value::Int(1)));
        assert_eq!(m.get("y").map(|n| &n.value), Some(&Value::Int(4)));
        assert_eq!(m.as_map().map(<[_]>::len), Some(2));
    }

    #[test]
    fn rejects_what_pyyaml_rejects() {
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
        assert!(parse("a: !custom x\n").is_err());
        assert!(parse("a: =\n").is_err());
        assert!(parse("? [1]\n: x\n").is_err());
        assert!(parse("a: *nowhere\n").is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        assert!(parse(&format!("{}1{}", "[".repeat(150), "]".repeat(150))).is_ok());
        // saphyr-parser has its own limit on flow nesting; block nesting reaches ours.
        assert!(parse(&format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000))).is_err());
        let block: String = (0..300).map(|depth| format!("{}a:\n", " ".repeat(depth))).collect();
        let err = parse(&block).expect_err("too deep");
        assert!(err.message.contains("nested deeper"), "{err:?}");
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse(&text).expect_err("too big");
        assert!(err.message.contains("more than"), "{err:?}");
    }

    #[test]
    fn a_large_file_without_aliases_is_not_taken_for_a_bomb() {
        // 50,000 labels three levels deep: about 300,000 nodes, each counted once (counting
        // every node again at each enclosing level made this "more than 1,000,000").
        let mut text = String::from("providers:\n  - name: p\n    pools:\n      - name: main\n        labels:\n");
        for i in 0..50_000 {
            text.push_str(&format!("          - name: label-{i}\n            type: pod\n"));
        }
        let root = parse(&text).expect("a large file without aliases");
        let labels =
            root.get("providers").and_then(Node::as_seq).and_then(|p| p[0].get("pools")).and_then(Node::as_seq);
        assert_eq!(labels.and_then(|p| p[0].get("labels")).and_then(Node::as_seq).map(<[Node]>::len), Some(50_000));
    }
}
