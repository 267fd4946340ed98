//! Diagnostics: what is wrong in a station file, where, and what to do.
//!
//! Every user-facing problem found while loading a station is one
//! `Diagnostic`. They are collected, never thrown, so that `loa check` can
//! report all of them at once.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// What an error stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Category {
    /// The station file itself: syntax, unknown keys, impossible times,
    /// references to what does not exist. The station cannot run from it.
    #[default]
    Station,
    /// An audio file (or `audio_dir`) that is missing, unreadable or would
    /// not play right. `loa check` still fails, but `loa run` and a reload
    /// keep the item: it is recorded `failed` when it comes due.
    Audio,
}

/// One problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub category: Category,
    pub file: PathBuf,
    /// 1-based line and column in `file`, when known.
    pub position: Option<(usize, usize)>,
    /// The item it is about, e.g. `bulletin "cds-thong-diep"`.
    pub item: Option<String>,
    /// The key it is about, e.g. `at`.
    pub key: Option<String>,
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {sev}: ")?;
        match (&self.item, &self.key) {
            (Some(item), Some(key)) => write!(f, "{item}, key `{key}`: ")?,
            (Some(item), None) => write!(f, "{item}: ")?,
            (None, Some(key)) => write!(f, "key `{key}`: ")?,
            (None, None) => {}
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  help: {hint}")?;
        }
        Ok(())
    }
}

/// All problems found in one station file.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
    /// Errors that make the station file meaningless: it cannot run.
    pub fn station_errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.errors().filter(|d| d.category == Category::Station)
    }
    /// Errors about audio files: their items fail when due.
    pub fn audio_errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.errors().filter(|d| d.category == Category::Audio)
    }
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }
    /// Sort by position so the report reads top to bottom.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            (a.position.is_none(), a.position, b.severity).cmp(&(
                b.position.is_none(),
                b.position,
                a.severity,
            ))
        });
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.items {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Where each line of a text starts, so that each diagnostic's line is
/// found by a binary search, not by counting the lines before it (which,
/// with a warning per item in a file of 100,000 items, grew with the
/// square of the file).
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    /// 1-based line and column (in characters) of byte `offset` in `text`,
    /// the text this index was made from.
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        // The number of lines starting at or before `offset` (at least 1).
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1].min(offset);
        (line, text[start..offset].chars().count() + 1)
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Collects the diagnostics of one file: `r.at(span).item(label).key("at")
/// .error(message, help)`.
pub struct Reporter<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub diags: Diagnostics,
    /// Made at the first diagnostic with a place.
    lines: std::cell::OnceCell<LineIndex>,
}

impl<'a> Reporter<'a> {
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Self::resume(file, text, Diagnostics::default())
    }

    /// Go on reporting about `file`, after `diags`.
    pub fn resume(file: &'a Path, text: &'a str, diags: Diagnostics) -> Self {
        Reporter {
            file,
            text,
            diags,
            lines: std::cell::OnceCell::new(),
        }
    }

    /// 1-based line and column (in characters) of byte `offset` in the text.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let lines = self.lines.get_or_init(|| LineIndex::new(self.text));
        lines.line_col(self.text, offset)
    }

    /// A diagnostic about what is written at `span` (byte offsets in the
    /// text), or about no place in particular when it is `None`.
    pub fn at(&mut self, span: impl Into<Option<Range<usize>>>) -> DiagnosticBuilder<'_, 'a> {
        DiagnosticBuilder {
            reporter: self,
            span: span.into(),
            item: None,
            key: None,
            category: Category::Station,
        }
    }

    /// A diagnostic about the file as a whole.
    pub fn whole_file(&mut self) -> DiagnosticBuilder<'_, 'a> {
        self.at(None)
    }
}

/// One diagnostic being described; `error`, `warn` or `report` adds it.
#[must_use = "a diagnostic is only reported by error, warn or report"]
pub struct DiagnosticBuilder<'r, 'a> {
    reporter: &'r mut Reporter<'a>,
    span: Option<Range<usize>>,
    item: Option<String>,
    key: Option<String>,
    category: Category,
}

impl DiagnosticBuilder<'_, '_> {
    /// A problem with an audio file, not with the station file: see
    /// [`Category::Audio`].
    pub fn audio(mut self) -> Self {
        self.category = Category::Audio;
        self
    }

    /// The item it is about, e.g. `bulletin "cds-thong-diep"` or `[output]`.
    pub fn item(mut self, item: &str) -> Self {
        self.item = Some(item.to_string());
        self
    }

    /// The key of the item it is about, e.g. `at`.
    pub fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_string());
        self
    }

    /// Report an error, with what to do about it.
    pub fn error(self, message: impl Into<String>, help: impl Into<String>) {
        self.report(Severity::Error, message, Some(help.into()));
    }

    /// Report a warning, with what to do about it.
    pub fn warn(self, message: impl Into<String>, help: impl Into<String>) {
        self.report(Severity::Warning, message, Some(help.into()));
    }

    /// Report a problem whose help may be unknown.
    pub fn report(self, severity: Severity, message: impl Into<String>, help: Option<String>) {
        let r = self.reporter;
        r.diags.push(Diagnostic {
            severity,
            category: self.category,
            file: r.file.to_path_buf(),
            position: self.span.map(|s| r.line_col(s.start)),
            item: self.item,
            key: self.key,
            message: message.into(),
            hint: help,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let t = "a = 1\nđài = \"x\"\n";
        let line_col = |t, offset| LineIndex::new(t).line_col(t, offset);
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        // "đài = " is 6 characters but 8 bytes.
        assert_eq!(line_col(t, 6 + 8), (2, 7));
    }

    #[test]
    fn the_line_index_agrees_with_counting_at_every_offset() {
        let t = "a = 1\n\nđài = \"x\"\r\n# ờ\nlast";
        let index = LineIndex::new(t);
        for offset in 0..=t.len() + 3 {
            let clamped = floor_char_boundary(t, offset.min(t.len()));
            let before = &t[..clamped];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            assert_eq!(index.line_col(t, offset), (line, col), "offset {offset}");
        }
        assert_eq!(LineIndex::new("").line_col("", 5), (1, 1));
    }

    #[test]
    fn the_builder_fills_what_it_was_told() {
        let t = "a = 1\nat = [\"25:00\"]\n";
        let mut r = Reporter::new(Path::new("s.toml"), t);
        r.at(12..19)
            .item("bulletin \"x\"")
            .key("at")
            .error("`25:00` is not a time of day", "write HH:MM");
        r.whole_file().warn("odd", "look");
        r.at(Some(0..1))
            .item("[station]")
            .report(Severity::Error, "no help", None);
        let shown: Vec<String> = r.diags.items.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            shown,
            [
                "s.toml:2:7: error: bulletin \"x\", key `at`: `25:00` is not a time of day\n  help: write HH:MM",
                "s.toml: warning: odd\n  help: look",
                "s.toml:1:1: error: [station]: no help",
            ]
        );
    }
}
