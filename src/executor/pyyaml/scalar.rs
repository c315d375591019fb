//! Scalars: libyaml's `analyze_scalar`, `select_scalar_style` and the plain, single- and
//! double-quoted writers, with PyYAML's `allow_unicode=False` (every non-ASCII character is
//! "special" and escaped in double quotes).

use super::Yaml;
use super::output::{BEST_WIDTH, Output};
use super::resolve;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Plain,
    Single,
    Double,
}

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Analysis {
    pub multiline: bool,
    pub flow_plain: bool,
    pub block_plain: bool,
    pub single_quoted: bool,
}

/// A scalar event: its text, whether it may be written plain without changing type
/// (`plain_implicit`), and the analysis of its text.
pub(super) struct Scalar {
    pub value: String,
    plain_implicit: bool,
    pub analysis: Analysis,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's `IS_BLANKZ`: space, tab, a line break or NUL (also the end of the string).
fn is_blankz(c: Option<char>) -> bool {
    match c {
        None | Some('\0' | ' ' | '\t') => true,
        Some(c) => is_break(c),
    }
}

/// Printable ASCII or a line feed; anything else needs a double-quoted escape here.
fn is_plain_ascii(c: char) -> bool {
    c == '\n' || (' '..='~').contains(&c)
}

impl Scalar {
    pub fn of(value: &Yaml) -> Scalar {
        let (value, plain_implicit) = match value.resolved() {
            Yaml::Null => ("null".to_string(), true),
            Yaml::Bool(b) => (if *b { "true" } else { "false" }.to_string(), true),
            Yaml::Int(i) => (i.to_string(), true),
            Yaml::Float(f) => (resolve::float_text(*f), true),
            Yaml::Str(s) => (s.clone(), !resolve::reads_back_as_other_type(s)),
            // Collections never reach here (the emitter writes them itself).
            Yaml::Seq(_) | Yaml::Map(_) | Yaml::Shared(_) => (String::new(), false),
        };
        let analysis = analyze(&value);
        Scalar { value, plain_implicit, analysis }
    }

    /// libyaml's `select_scalar_style` for an untagged scalar with no requested style.
    pub fn style(&self, flow: bool, simple_key: bool) -> Style {
        if simple_key && self.analysis.multiline {
            return Style::Double;
        }
        let plain_allowed = if flow { self.analysis.flow_plain } else { self.analysis.block_plain };
        let mut style = Style::Plain;
        if !plain_allowed || (self.value.is_empty() && (flow || simple_key)) || !self.plain_implicit {
            style = Style::Single;
        }
        if style == Style::Single && !self.analysis.single_quoted {
            style = Style::Double;
        }
        style
    }

    pub fn write(&self, output: &mut Output, style: Style, allow_breaks: bool) {
        match style {
            Style::Plain => write_plain(output, &self.value, allow_breaks),
            Style::Single => write_single_quoted(output, &self.value, allow_breaks),
            Style::Double => write_double_quoted(output, &self.value, allow_breaks),
        }
    }
}

fn analyze(value: &str) -> Analysis {
    let chars: Vec<char> = value.chars().collect();
    if chars.is_empty() {
        return Analysis { multiline: false, flow_plain: false, block_plain: true, single_quoted: true };
    }
    let mut block_indicators = false;
    let mut flow_indicators = false;
    let mut line_breaks = false;
    let mut special = false;
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);

    if value.starts_with("---") || value.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut preceded_by_whitespace = true;
    let last = chars.len() - 1;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = is_blankz(chars.get(i + 1).copied());
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                flow_indicators = true;
                block_indicators = true;
            }
            if c == '?' || c == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if c == '-' && followed_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        } else {
            if ",?[]{}".contains(c) {
                flow_indicators = true;
            }
            if c == ':' {
                flow_indicators = true;
                if followed_by_whitespace {
                    block_indicators = true;
                }
            }
            if c == '#' && preceded_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        }
        if !is_plain_ascii(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= i == last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            leading_break |= i == 0;
            trailing_break |= i == last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blankz(Some(c));
    }

    let mut analysis = Analysis { multiline: line_breaks, flow_plain: true, block_plain: true, single_quoted: true };
    if leading_space || leading_break || trailing_space || trailing_break {
        analysis.flow_plain = false;
        analysis.block_plain = false;
    }
    if break_space {
        analysis.flow_plain = false;
        analysis.block_plain = false;
        analysis.single_quoted = false;
    }
    if space_break || special {
        analysis.flow_plain = false;
        analysis.block_plain = false;
        analysis.single_quoted = false;
    }
    if line_breaks {
        analysis.flow_plain = false;
        analysis.block_plain = false;
    }
    if flow_indicators {
        analysis.flow_plain = false;
    }
    if block_indicators {
        analysis.block_plain = false;
    }
    analysis
}

fn put_char(output: &mut Output, c: char) {
    let mut buffer = [0u8; 4];
    output.put(c.encode_utf8(&mut buffer));
}

fn write_plain(output: &mut Output, text: &str, allow_breaks: bool) {
    let chars: Vec<char> = text.chars().collect();
    if !output.whitespace && (!chars.is_empty() || output.flow_level > 0) {
        output.put(" ");
    }
    let mut spaces = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' {
            if allow_breaks && !spaces && output.column > BEST_WIDTH && chars.get(i + 1) != Some(&' ') {
                output.write_indent();
            } else {
                put_char(output, c);
            }
            spaces = true;
        } else {
            // Plain scalars never hold line breaks (the analysis forbids it).
            put_char(output, c);
            output.indention = false;
            spaces = false;
        }
        i += 1;
    }
    output.whitespace = false;
    output.indention = false;
}

fn write_single_quoted(output: &mut Output, text: &str, allow_breaks: bool) {
    let chars: Vec<char> = text.chars().collect();
    output.write_indicator("'", true, false, false);
    let mut spaces = false;
    let mut breaks = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            if allow_breaks
                && !spaces
                && output.column > BEST_WIDTH
                && i != 0
                && i != chars.len() - 1
                && chars.get(i + 1) != Some(&' ')
            {
                output.write_indent();
            } else {
                put_char(output, c);
            }
            spaces = true;
        } else if is_break(c) {
            // Only '\n' gets here: the other breaks are non-ASCII or '\r', which force double quotes.
            if !breaks {
                output.put_break();
            }
            output.put_break();
            output.indention = true;
            breaks = true;
        } else {
            if breaks {
                output.write_indent();
            }
            if c == '\'' {
                output.put("'");
            }
            put_char(output, c);
            output.indention = false;
            spaces = false;
            breaks = false;
        }
    }
    if breaks {
        output.write_indent();
    }
    output.write_indicator("'", false, false, false);
    output.whitespace = false;
    output.indention = false;
}

fn escape(c: char) -> String {
    let short = match c {
        '\0' => Some('0'),
        '\u{07}' => Some('a'),
        '\u{08}' => Some('b'),
        '\t' => Some('t'),
        '\n' => Some('n'),
        '\u{0B}' => Some('v'),
        '\u{0C}' => Some('f'),
        '\r' => Some('r'),
        '\u{1B}' => Some('e'),
        '"' => Some('"'),
        '\\' => Some('\\'),
        '\u{85}' => Some('N'),
        '\u{A0}' => Some('_'),
        '\u{2028}' => Some('L'),
        '\u{2029}' => Some('P'),
        _ => None,
    };
    match short {
        Some(s) => format!("\\{s}"),
        None => {
            let value = c as u32;
            if value <= 0xFF {
                format!("\\x{value:02X}")
            } else if value <= 0xFFFF {
                format!("\\u{value:04X}")
            } else {
                format!("\\U{value:08X}")
            }
        }
    }
}

fn write_double_quoted(output: &mut Output, text: &str, allow_breaks: bool) {
    let chars: Vec<char> = text.chars().collect();
    output.write_indicator("\"", true, false, false);
    let mut spaces = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !(' '..='~').contains(&c) || c == '"' || c == '\\' {
            output.put(&escape(c));
            spaces = false;
        } else if c == ' ' {
            if allow_breaks && !spaces && output.column > BEST_WIDTH && i != 0 && i != chars.len() - 1 {
                output.write_indent();
                if chars.get(i + 1) == Some(&' ') {
                    output.put("\\");
                }
            } else {
                put_char(output, c);
            }
            spaces = true;
        } else {
            put_char(output, c);
            spaces = false;
        }
        i += 1;
    }
    output.write_indicator("\"", false, false, false);
    output.whitespace = false;
    output.indention = false;
}
