//! What the loader's tests share: load text without looking at the disk,
//! and find the diagnostics they expect.

use std::path::Path;

use super::{load_str, AudioFiles, Loaded};
use crate::diag::Diagnostic;

pub(super) fn load_text(text: &str) -> Loaded {
    load_str(text, Path::new("/tmp/station.toml"), AudioFiles::AsWritten).finish()
}

pub(super) fn errors(l: &Loaded) -> Vec<&Diagnostic> {
    l.diagnostics.errors().collect()
}

/// `rest` after the least `[station]`, loaded.
pub(super) fn load_items(rest: &str) -> Loaded {
    load_text(&with_station(rest))
}

/// Assert the error about `key` of `item` says `words`.
pub(super) fn says(l: &Loaded, item: &str, key: &str, words: &str) {
    let d = find(l, item, key);
    assert!(d.message.contains(words), "{item} {key}: {d}");
}

/// The error about `key` of `item`, or a panic listing what there was.
pub(super) fn find<'a>(l: &'a Loaded, item: &str, key: &str) -> &'a Diagnostic {
    l.diagnostics
        .items
        .iter()
        .find(|d| d.item.as_deref() == Some(item) && d.key.as_deref() == Some(key))
        .unwrap_or_else(|| panic!("no diagnostic for {item} {key}:\n{}", l.diagnostics))
}

/// A station file with the least `[station]` a test needs (`name = "X"`),
/// then `rest` (which starts with its own line break): the same text, line
/// for line, as writing the two lines out in each test.
pub(crate) fn with_station(rest: &str) -> String {
    format!("\n[station]\nname = \"X\"{rest}")
}
