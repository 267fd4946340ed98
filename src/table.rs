//! Plain text tables for terminals: columns aligned by what a terminal
//! shows, not by bytes, so Vietnamese titles line up. Also the one CSV
//! writer every CSV of loa goes through (`loa airtime`, `loa report`, the
//! API's and the report page's downloads, the province report).

use std::borrow::Cow;

/// Columns a string takes on a terminal. Vietnamese is mostly precomposed
/// (one char, one column), but text typed on some keyboards arrives
/// decomposed, with tone marks as combining characters that take no column.
pub fn width(s: &str) -> usize {
    s.chars()
        .filter(|c| !matches!(*c, '\u{0300}'..='\u{036F}' | '\u{1DC0}'..='\u{1DFF}'))
        .count()
}

pub enum Line {
    Row(Vec<String>),
    /// A horizontal rule across all columns.
    Rule,
}

pub fn render_table(headers: &[&str], right: &[bool], lines: &[Line]) -> String {
    // Widths are measured after control characters become spaces, which
    // keeps the count: one char for one char.
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for l in lines {
        if let Line::Row(cells) = l {
            for (w, c) in widths.iter_mut().zip(cells) {
                *w = (*w).max(width(c));
            }
        }
    }
    let mut out = String::new();
    let row = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut line = String::new();
        for (i, c) in cells.enumerate() {
            // A newline in a title would break the row in two.
            let c = &c.replace(['\n', '\r', '\t'], " ");
            if i > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(widths[i].saturating_sub(width(c)));
            if right[i] {
                line.push_str(&pad);
                line.push_str(c);
            } else {
                line.push_str(c);
                line.push_str(&pad);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    let rule: String = widths
        .iter()
        .map(|w| "─".repeat(*w))
        .collect::<Vec<_>>()
        .join("  ");
    row(&mut out, &mut headers.iter().copied());
    out.push_str(&rule);
    out.push('\n');
    for l in lines {
        match l {
            Line::Row(cells) => row(&mut out, &mut cells.iter().map(String::as_str)),
            Line::Rule => {
                out.push_str(&rule);
                out.push('\n');
            }
        }
    }
    out
}

/// A table built row by row; rendered with `render_table`.
pub struct Table {
    header: Vec<String>,
    right: Vec<bool>,
    lines: Vec<Line>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            right: vec![false; header.len()],
            lines: Vec::new(),
        }
    }

    /// Align these columns to the right (numbers).
    pub fn right(mut self, cols: &[usize]) -> Self {
        for &i in cols {
            if let Some(r) = self.right.get_mut(i) {
                *r = true;
            }
        }
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.lines.push(Line::Row(cells));
    }

    pub fn render(&self) -> String {
        let header: Vec<&str> = self.header.iter().map(String::as_str).collect();
        render_table(&header, &self.right, &self.lines)
    }
}

/// UTF-8 byte-order mark: without it Excel reads the file as the local
/// code page and Vietnamese turns to mojibake.
pub const BOM: &str = "\u{feff}";

/// One RFC 4180 record, CRLF-terminated, each cell made safe for a
/// spreadsheet first ([`csv_safe`]).
pub fn csv_line<'a>(out: &mut String, cells: impl IntoIterator<Item = &'a str>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let cell = csv_safe(cell);
        if cell.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&cell);
        }
    }
    out.push_str("\r\n");
}

/// A cell a spreadsheet will show as text, never run as a formula
/// (OWASP's rule against CSV injection): text that starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return gets a leading `'`, which Excel and
/// LibreOffice take as "this is text". An operator's notice titled
/// `=HYPERLINK(...)` stays a title. A plain number (`-3`, `-0.5`) is left
/// as it is, so sums still work.
pub fn csv_safe(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// `-12` or `-0.50`: an optional minus, digits, an optional decimal part.
fn is_plain_number(s: &str) -> bool {
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    let s = s.strip_prefix('-').unwrap_or(s);
    match s.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_numbers_stay_numbers() {
        for (cell, want) in [
            ("=1+1", "'=1+1"),
            (
                "=HYPERLINK(\"http://x\",\"a\")",
                "'=HYPERLINK(\"http://x\",\"a\")",
            ),
            ("+1", "'+1"),
            ("-1+2", "'-1+2"),
            ("-", "'-"),
            ("-3.", "'-3."),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-3", "-3"),
            ("-0.5", "-0.5"),
            ("12.50", "12.50"),
            ("Thông báo = 1", "Thông báo = 1"),
            ("", ""),
        ] {
            assert_eq!(csv_safe(cell), want, "{cell:?}");
        }
    }

    #[test]
    fn a_csv_line_quotes_after_making_safe() {
        let mut out = String::new();
        csv_line(&mut out, ["=1+1", "a,b", "=\"x\",y", "-2", "\r=1"]);
        assert_eq!(out, "'=1+1,\"a,b\",\"'=\"\"x\"\",y\",-2,\"'\r=1\"\r\n");
    }

    #[test]
    fn aligns_vietnamese_by_characters() {
        let mut t = Table::new(&["Mã", "Phút"]).right(&[1]);
        t.row(vec!["thông-điệp".into(), "5".into()]);
        t.row(vec!["a".into(), "12.5".into()]);
        let out = t.render();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "Mã          Phút");
        assert_eq!(lines[2], "thông-điệp     5");
        assert_eq!(lines[3], "a           12.5");
    }
}
