//! From the parsed TOML tree to the raw shapes, one section and one item at
//! a time, so a type error in one does not hide the problems of the next;
//! serde's messages get a hint in the station file's terms.

use std::collections::HashMap;
use std::ops::Range;

use serde::de::{DeserializeOwned, IntoDeserializer};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::item_label;
use super::load::Loader;
use super::raw::{RawItem, SECTIONS};
use crate::diag::Severity;

impl Loader<'_> {
    /// Parse the text; the top-level sections by name, or `None` (after
    /// reporting them) when there are syntax errors. Unknown sections are
    /// reported and left out.
    pub(super) fn sections<'t>(
        &mut self,
        text: &'t str,
    ) -> Option<HashMap<&'static str, Spanned<DeValue<'t>>>> {
        let (root, errors) = DeTable::parse_recoverable(text);
        if !errors.is_empty() {
            for e in errors {
                self.at(e.span()).error(
                    format!("TOML syntax: {}", e.message().trim_end()),
                    "fix the TOML syntax here; strings need \"double quotes\"",
                );
            }
            return None;
        }
        let root = root.into_inner();

        let mut sections = HashMap::new();
        for (key, value) in root {
            let name = key.get_ref().as_ref();
            if let Some(known) = SECTIONS.iter().find(|s| **s == name) {
                sections.insert(*known, value);
            } else {
                let hint = match closest(name, SECTIONS) {
                    Some(s) => format!(
                        "did you mean [{s}]? Known sections: {}",
                        SECTIONS.join(", ")
                    ),
                    None => format!("known sections: {}", SECTIONS.join(", ")),
                };
                self.at(key.span())
                    .error(format!("unknown section or key `{name}`"), hint);
            }
        }
        Some(sections)
    }

    /// Deserialize one table section on its own.
    pub(super) fn table<T: DeserializeOwned>(
        &mut self,
        v: Spanned<DeValue>,
        what: &str,
    ) -> Option<T> {
        let span = v.span();
        match v.into_inner() {
            DeValue::Table(t) => self.deser(Spanned::new(span, t), what),
            other => {
                self.at(span).error(
                    format!("{what} must be a table, not a {}", other.type_str()),
                    format!("write it as a {what} header followed by its keys"),
                );
                None
            }
        }
    }

    /// A table section that may be left out: its defaults then.
    pub(super) fn optional_table<T: DeserializeOwned + Default>(
        &mut self,
        v: Option<Spanned<DeValue>>,
        what: &str,
    ) -> Option<T> {
        v.map_or_else(|| Some(T::default()), |v| self.table(v, what))
    }

    pub(super) fn deser<T: DeserializeOwned>(
        &mut self,
        t: Spanned<DeTable>,
        what: &str,
    ) -> Option<T> {
        let whole = t.span();
        match T::deserialize(t.into_deserializer()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.serde_error(e.span().unwrap_or(whole), what, e.message());
                None
            }
        }
    }

    /// A problem serde finds, or would find, in `what`: its message, with a
    /// hint in the station file's terms.
    fn serde_error(&mut self, span: Range<usize>, what: &str, message: &str) {
        let msg = message.trim_end().to_string();
        let hint = type_hint(&msg);
        self.at(span).item(what).report(Severity::Error, msg, hint);
    }

    /// Deserialize every `[[kind]]` entry on its own, each with the label
    /// its diagnostics name it by (`bulletin "x"`, or `bulletin #2` when it
    /// has no id). An entry missing a required key is reported and kept, so
    /// that its other keys are checked too.
    pub(super) fn array<T: RawItem>(
        &mut self,
        v: Option<Spanned<DeValue>>,
        kind: &str,
    ) -> Vec<(String, T)> {
        let Some(v) = v else { return Vec::new() };
        let span = v.span();
        let DeValue::Array(items) = v.into_inner() else {
            self.at(span).error(
                format!("`{kind}` must be a list of [[{kind}]] tables"),
                format!("write each one under its own [[{kind}]] header"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let ispan = item.span();
            let DeValue::Table(t) = item.into_inner() else {
                self.at(ispan).error(
                    format!("{kind} #{} must be a table", i + 1),
                    format!("write each one under its own [[{kind}]] header"),
                );
                continue;
            };
            let label = match t.get("id").map(|v| v.get_ref()) {
                Some(DeValue::String(id)) => item_label(kind, id),
                _ => format!("{kind} #{}", i + 1),
            };
            if let Some(v) = self.deser::<T>(Spanned::new(ispan.clone(), t), &label) {
                for key in v.missing_keys() {
                    self.serde_error(ispan.clone(), &label, &format!("missing field `{key}`"));
                }
                out.push((label, v));
            }
        }
        out
    }
}

/// A hint for serde's type errors, which name Rust types.
pub(super) fn type_hint(msg: &str) -> Option<String> {
    // "unknown field `tittle`, expected one of `id`, `title`, ..."
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        return Some(match closest(name, &known) {
            Some(k) => format!("did you mean `{k}`? Otherwise remove the key"),
            None => {
                "remove the key or fix its spelling; see README for the keys of each section".into()
            }
        });
    }
    if msg.contains("unknown field") {
        Some("remove the key or fix its spelling; see README for the keys of each section".into())
    } else if msg.contains("missing field") {
        Some("add the key; see README for the keys of each section".into())
    } else if msg.contains("expected a sequence") {
        Some("write a list in brackets, e.g. at = [\"06:15\"]".into())
    } else if msg.contains("invalid type") {
        Some("check the value's type: text needs \"quotes\", numbers and true/false do not".into())
    } else {
        None
    }
}

/// The known name closest to `s`, if it is a plausible typo.
pub(super) fn closest<'k>(s: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(s, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) || k.starts_with(s) || s.starts_with(k))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use crate::config::test_support::*;
    use crate::config::{load_str, AudioFiles};

    #[test]
    fn a_type_error_does_not_hide_the_next_items_problems() {
        let l = load_items(
            r#"

[[bulletin]]
id = "a"
title = "A"
file = "a.mp3"
at = "06:00"

[[bulletin]]
id = "b"
title = "B"
file = "b.mp3"
grace = "soon"
"#,
        );
        let e = errors(&l);
        assert_eq!(e.len(), 2, "{}", l.diagnostics);
        assert_eq!(e[0].position.unwrap().0, 9);
        assert!(e[0].hint.as_deref().unwrap().contains("list"));
        assert_eq!(find(&l, "bulletin \"b\"", "grace").position.unwrap().0, 15);
    }

    #[test]
    fn unknown_keys_and_sections_get_suggestions() {
        let l = load_items(
            r#"

[[bulletins]]
id = "a"

[[bulletin]]
id = "b"
title = "B"
file = "b.mp3"
tittle = "typo"
"#,
        );
        let e = errors(&l);
        assert_eq!(e.len(), 2, "{}", l.diagnostics);
        assert!(
            e[0].hint.as_deref().unwrap().contains("[bulletin]"),
            "{}",
            e[0]
        );
        assert_eq!(e[1].position.unwrap().0, 12);
        assert!(e[1].message.contains("tittle"));
        assert!(
            e[1].hint.as_deref().unwrap().contains("`title`"),
            "{}",
            e[1]
        );
    }

    #[test]
    fn a_missing_key_does_not_hide_the_items_other_problems() {
        let dir = tempfile::tempdir().unwrap();
        let text = &with_station(
            r#"

[[bulletin]]
id = "a"
file = "missing.mp3"
at = ["99:00"]

[[program]]
title = "P"
at = ["98:00"]
"#,
        );
        let l = load_str(text, &dir.path().join("station.toml"), AudioFiles::Resolve).finish();
        let found: Vec<String> = l.diagnostics.errors().map(|d| d.to_string()).collect();
        let path = dir.path().join("station.toml");
        let (p, audio) = (path.display(), dir.path().display());
        assert_eq!(
            found,
            [
                format!(
                    "{p}:5:1: error: bulletin \"a\": missing field `title`\n  \
                     help: add the key; see README for the keys of each section"
                ),
                format!(
                    "{p}:7:8: error: bulletin \"a\", key `file`: cannot open {audio}/missing.mp3: \
                     No such file or directory (os error 2)\n  \
                     help: put the file there, or fix the path (relative to audio_dir {audio})"
                ),
                format!(
                    "{p}:8:7: error: bulletin \"a\", key `at`: `99:00` is not a time of day\n  \
                     help: write \"HH:MM\" or \"HH:MM:SS\" from 00:00 to 23:59:59, e.g. \"06:15\""
                ),
                format!(
                    "{p}:10:1: error: program #1: missing field `id`\n  \
                     help: add the key; see README for the keys of each section"
                ),
                format!(
                    "{p}:10:1: error: program #1: missing field `items`\n  \
                     help: add the key; see README for the keys of each section"
                ),
                format!(
                    "{p}:12:7: error: program #1, key `at`: `98:00` is not a time of day\n  \
                     help: write \"HH:MM\" or \"HH:MM:SS\" from 00:00 to 23:59:59, e.g. \"06:15\""
                ),
            ],
            "{}",
            l.diagnostics
        );
    }
}
