//! Diagnostics: what is wrong in a station file, where, and what to do.
//!
//! Every user-facing problem found while loading a station is one
//! `Diagnostic`. They are collected, never thrown, so that `loa check` can
//! report all of them at once.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
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

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Builder used by the loader: one file, many diagnostics.
pub struct Reporter<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub diags: Diagnostics,
}

impl<'a> Reporter<'a> {
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Reporter {
            file,
            text,
            diags: Diagnostics::default(),
        }
    }

    pub fn report(
        &mut self,
        severity: Severity,
        span: Option<std::ops::Range<usize>>,
        item: Option<&str>,
        key: Option<&str>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.diags.push(Diagnostic {
            severity,
            file: self.file.to_path_buf(),
            position: span.map(|s| line_col(self.text, s.start)),
            item: item.map(str::to_string),
            key: key.map(str::to_string),
            message: message.into(),
            hint,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let t = "a = 1\nđài = \"x\"\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        // "đài = " is 6 characters but 8 bytes.
        assert_eq!(line_col(t, 6 + 8), (2, 7));
    }
}
