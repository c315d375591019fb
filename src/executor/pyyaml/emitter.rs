//! libyaml's emitter state machine for block documents, written as recursion over [`Yaml`]
//! (libyaml `src/emitter.c`: `emit_block_mapping_key`, `emit_block_sequence_item`,
//! `emit_flow_*` for empty collections, `write_indent`, `write_indicator`, anchors).

use super::Yaml;
use super::output::Output;
use super::scalar::Scalar;
use std::collections::HashMap;

/// libyaml's `best_indent` (PyYAML's default).
pub(super) const BEST_INDENT: isize = 2;
/// Keys longer than this (in UTF-8 bytes) are written as `? key`.
const MAX_SIMPLE_KEY: usize = 128;

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Context {
    pub mapping: bool,
    pub simple_key: bool,
}

pub(super) struct Emitter {
    output: Output,
    indents: Vec<isize>,
    /// Anchor names of shared collections referenced more than once, by `Rc` address.
    anchors: HashMap<*const Yaml, String>,
    /// Anchors already written once (later references are aliases).
    written: std::collections::HashSet<*const Yaml>,
}

impl Emitter {
    pub fn dump(root: &Yaml) -> String {
        let mut emitter = Emitter {
            output: Output::default(),
            indents: Vec::new(),
            anchors: HashMap::new(),
            written: Default::default(),
        };
        let mut seen = HashMap::new();
        emitter.assign_anchors(root, &mut seen);
        emitter.node(root, Context::default());
        // DOCUMENT-END (implicit): a final line break.
        emitter.output.write_indent();
        emitter.output.out
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
        self.indents.push(self.output.indent);
        if self.output.indent < 0 {
            self.output.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.output.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.output.indent = self.indents.pop().unwrap_or(-1);
    }

    fn write_anchor(&mut self, indicator: &str, name: &str) {
        self.output.write_indicator(indicator, true, false, false);
        self.output.put(name);
        self.output.whitespace = false;
        self.output.indention = false;
    }

    fn node(&mut self, value: &Yaml, context: Context) {
        if let Yaml::Shared(inner) = value {
            let target = inner.resolved();
            let key = target as *const Yaml;
            if let Some(name) = self.anchors.get(&key).cloned() {
                if !self.written.insert(key) {
                    self.write_anchor("*", &name);
                    if context.simple_key {
                        self.output.put(" ");
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
        self.output.write_indicator(open, true, true, false);
        self.increase_indent(true, false);
        self.output.flow_level += 1;
        self.output.flow_level -= 1;
        self.pop_indent();
        self.output.write_indicator(close, false, false, false);
    }

    fn block_mapping(&mut self, entries: &std::collections::BTreeMap<String, Yaml>) {
        self.increase_indent(false, false);
        for (key, value) in entries {
            self.output.write_indent();
            let key_scalar = Scalar::of(&Yaml::Str(key.clone()));
            let simple = key_scalar.value.len() <= MAX_SIMPLE_KEY && !key_scalar.analysis.multiline;
            if simple {
                self.scalar(&key_scalar, Context { mapping: true, simple_key: true });
                self.output.write_indicator(":", false, false, false);
            } else {
                self.output.write_indicator("?", true, false, true);
                self.scalar(&key_scalar, Context { mapping: true, simple_key: false });
                self.output.write_indent();
                self.output.write_indicator(":", true, false, true);
            }
            self.node(value, Context { mapping: true, simple_key: false });
        }
        self.pop_indent();
    }

    fn block_sequence(&mut self, items: &[Yaml], context: Context) {
        let indentless = context.mapping && !self.output.indention;
        self.increase_indent(false, indentless);
        for item in items {
            self.output.write_indent();
            self.output.write_indicator("-", true, false, true);
            self.node(item, Context::default());
        }
        self.pop_indent();
    }

    fn scalar(&mut self, scalar: &Scalar, context: Context) {
        let style = scalar.style(self.output.flow_level > 0, context.simple_key);
        self.increase_indent(true, false);
        scalar.write(&mut self.output, style, !context.simple_key);
        self.pop_indent();
    }
}
