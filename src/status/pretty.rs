//! The text tables of Nodepool's CLI and webapp: PrettyTable 0.7 (Nodepool's pin) with every
//! column left-aligned, one space of padding and `+---+` rules.

/// Renders `headers` and `rows` (cells may hold several lines) as `str(PrettyTable)` does with
/// `align = 'l'`. No trailing newline, as `str()` has none.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| block_width(h)).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(block_width(cell));
        }
    }
    let rule = {
        let mut rule = String::from("+");
        for width in &widths {
            rule.push_str(&"-".repeat(width + 2));
            rule.push('+');
        }
        rule
    };
    let mut lines =
        vec![rule.clone(), line(&widths, &headers.iter().map(|h| h.to_string()).collect::<Vec<_>>()), rule.clone()];
    for row in rows {
        let cells: Vec<Vec<&str>> = row.iter().map(|cell| cell.split('\n').collect()).collect();
        let height = cells.iter().map(Vec::len).max().unwrap_or(1);
        for y in 0..height {
            let parts: Vec<String> = cells.iter().map(|c| c.get(y).copied().unwrap_or("").to_string()).collect();
            lines.push(line(&widths, &parts));
        }
    }
    lines.push(rule);
    lines.join("\n")
}

fn line(widths: &[usize], cells: &[String]) -> String {
    let mut out = String::from("|");
    for (width, cell) in widths.iter().zip(cells) {
        out.push(' ');
        out.push_str(cell);
        out.push_str(&" ".repeat(width.saturating_sub(str_width(cell))));
        out.push_str(" |");
    }
    out
}

/// The widest line of `text`.
fn block_width(text: &str) -> usize {
    text.split('\n').map(str_width).max().unwrap_or(0)
}

/// PrettyTable's `_str_block_width` (its own rules, bugs included: only NUL and U+001F count 0).
fn str_width(text: &str) -> usize {
    let width: i64 = text.chars().map(char_width).sum();
    usize::try_from(width).unwrap_or(0)
}

fn char_width(c: char) -> i64 {
    let code = c as u32;
    match code {
        0x21..=0x7e => 1,
        0x4e00..=0x9fff | 0xac00..=0xd7af => 2,
        0x0300..=0x036f | 0x1ab0..=0x1aff | 0x1dc0..=0x1dff | 0x20d0..=0x20ff | 0xfe20..=0xfe2f => 0,
        0x3040..=0x30ff | 0xff01..=0xff60 | 0x3000..=0x303e => 2,
        0x08 | 0x7f => -1,
        0x00 | 0x1f => 0,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_table_has_its_header_and_rules() {
        assert_eq!(
            render(&["ID", "Longer header", "Age"], &[]),
            "+----+---------------+-----+\n| ID | Longer header | Age |\n+----+---------------+-----+\n+----+---------------+-----+"
        );
    }

    #[test]
    fn cells_are_left_aligned_and_wide_characters_count_twice() {
        let rows = vec![vec!["0000000001".to_string(), "é中\nline2".to_string(), "x".to_string()]];
        assert_eq!(
            render(&["ID", "Longer header", "Age"], &rows),
            "+------------+---------------+-----+\n\
             | ID         | Longer header | Age |\n\
             +------------+---------------+-----+\n\
             | 0000000001 | é中           | x   |\n\
             |            | line2         |     |\n\
             +------------+---------------+-----+"
        );
    }
}
