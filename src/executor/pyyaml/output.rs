//! The text being written and libyaml's writer state (`column`, `whitespace`, `indention`,
//! the current indent and flow level), with its primitives: characters, line breaks, the
//! indent and indicators (libyaml `src/emitter.c`: `PUT`, `PUT_BREAK`, `write_indent`,
//! `write_indicator`). The document walk ([`super::emitter`]) and the scalar writers
//! ([`super::scalar`]) both write through it.

/// libyaml's `best_width` (PyYAML's default).
pub(super) const BEST_WIDTH: usize = 80;

pub(super) struct Output {
    pub out: String,
    pub column: usize,
    pub whitespace: bool,
    pub indention: bool,
    pub indent: isize,
    pub flow_level: usize,
}

impl Default for Output {
    /// The state at the start of a document.
    fn default() -> Self {
        Output { out: String::new(), column: 0, whitespace: true, indention: true, indent: -1, flow_level: 0 }
    }
}

impl Output {
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
}
