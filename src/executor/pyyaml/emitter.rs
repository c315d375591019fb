//! libyaml's emitter state machine for block documents, written as recursion over [`Yaml`]
//! (libyaml `src/emitter.c`: `emit_block_mapping_key`, `emit_block_sequence_item`,
//! `emit_flow_*` for empty collections, `write_indent`, `write_indicator`, anchors).

use super::Yaml;
use super::scalar::Scalar;
use std::collections::HashMap;

/// libyaml's `best_indent` and `best_width` (PyYAML's defaults).
pub(super) const BEST_INDENT: isize = 2;
pub(super) const BEST_WIDTH: usize = 80;
/// Keys longer than this (in UTF-8 bytes) are written as `? key`.
const MAX_SIMPLE_KEY: usize = 128;

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Context {
    pub mapping: bool,
    pub simple_key: bool,
}

pub(super) struct Emitter {
    pub out: String,
    pub column: usize,
    pub whitespace: bool,
    pub indention: bool,
    pub indent: isize,
    indents: Vec<isize>,
    pub flow_level: usize,
    /// Anchor names of shared collections referenced more than once, by `Rc` address.
    anchors: HashMap<*const Yaml, String>,
    /// Anchors already written once (later references are aliases).
    written: std::collections::HashSet<*const Yaml>,
}

impl Emitter {
    pub fn dump(root: &Yaml) -> String {
        let mut emitter = Emitter {
            out: String::new(),
            column: 0,
            whitespace: true,
            indention: true,
            indent: -1,
            indents: Vec::new(),
            flow_level: 0,
            anchors: HashMap::new(),
            written: Default::default(),
        };
        let mut seen = HashMap::new();
        emitter.assign_anchors(root, &mut seen);
        emitter.node(root, Context::default());
        // DOCUMENT-END (implicit): a final line break.
        emitter.write_indent();
        emitter.out
    }

    /// PyYAML's serializer `anchor_node`: depth first in key order; a collection gets the next
    /// `id%03d` when it is met the second time.
    fn assign_anchors(&mut self, value: &Yaml, seen: &mut HashMap<*const Yaml, bool>) {
        if let Yaml::Shared(inner) = value {
            let target = inner.resolved();
            if matches!(target, Yaml::Map(_) | Yaml::Seq(_)) {
                let key = target as *const Yaml;
                if seen.contains_key(&key) {
                    if !self.anchors.contains_key(&key) {
                        let name = format!("id{:03}", self.anchors.len() + 1);
                        self.anchors.insert(key, name);
                    }
                    return;
                }
                seen.insert(key, true);
            }
            return self.assign_anchors(target, seen);
        }
        match value {
            Yaml::Seq(items) => items.iter().for_each(|item| self.assign_anchors(item, seen)),
            Yaml::Map(entries) => entries.values().for_each(|v| self.assign_anchors(v, seen)),
            _ => {}
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    /// One character or indicator; libyaml counts columns in characters.
    pub fn put(&mut self, text: &str) {
        self.out.push_str(text);
        self.column += text.chars().count();
    }

    pub fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    pub fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(" ");
        }
        self.whitespace = true;
        self.indention = true;
    }

    pub fn write_indicator(&mut self, indicator: &str, need_whitespace: bool, is_whitespace: bool, is_indention: bool) {
        if need_whitespace && !self.whitespace {
            self.put(" ");
        }
        self.put(indicator);
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn write_anchor(&mut self, indicator: &str, name: &str) {
        self.write_indicator(indicator, true, false, false);
        self.put(name);
        self.whitespace = false;
        self.indention = false;
    }

    fn node(&mut self, value: &Yaml, context: Context) {
        if let Yaml::Shared(inner) = value {
            let target = inner.resolved();
            let key = target as *const Yaml;
            if let Some(name) = self.anchors.get(&key).cloned() {
                if !self.written.insert(key) {
                    self.write_anchor("*", &name);
                    if context.simple_key {
                        self.put(" ");
                    }
                    return;
                }
                self.write_anchor("&", &name);
            }
            return self.node(target, context);
        }
        match value {
            Yaml::Map(entries) if entries.is_empty() => self.empty_collection("{", "}"),
            Yaml::Seq(items) if items.is_empty() => self.empty_collection("[", "]"),
            Yaml::Map(entries) => self.block_mapping(entries),
            Yaml::Seq(items) => self.block_sequence(items, context),
            scalar => self.scalar(&Scalar::of(scalar), context),
        }
    }

    fn empty_collection(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        self.flow_level -= 1;
        self.pop_indent();
        self.write_indicator(close, false, false, false);
    }

    fn block_mapping(&mut self, entries: &std::collections::BTreeMap<String, Yaml>) {
        self.increase_indent(false, false);
        for (key, value) in entries {
            self.write_indent();
            let key_scalar = Scalar::of(&Yaml::Str(key.clone()));
            let simple = key_scalar.value.len() <= MAX_SIMPLE_KEY && !key_scalar.analysis.multiline;
            if simple {
                self.scalar(&key_scalar, Context { mapping: true, simple_key: true });
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.scalar(&key_scalar, Context { mapping: true, simple_key: false });
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(value, Context { mapping: true, simple_key: false });
        }
        self.pop_indent();
    }

    fn block_sequence(&mut self, items: &[Yaml], context: Context) {
        let indentless = context.mapping && !self.indention;
        self.increase_indent(false, indentless);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Context::default());
        }
        self.pop_indent();
    }

    fn scalar(&mut self, scalar: &Scalar, context: Context) {
        let style = scalar.style(self.flow_level > 0, context.simple_key);
        self.increase_indent(true, false);
        scalar.write(self, style, !context.simple_key);
        self.pop_indent();
    }
}
