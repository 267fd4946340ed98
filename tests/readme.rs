//! Every station-file example in README.md is one the loader accepts: a
//! newcomer copies them. A block with `[station]` is a whole file; any other
//! block is a part of one, checked after a minimal `[station]`.

use std::path::Path;

use loa::config::{load_str, AudioFiles};

/// The ```toml blocks of `text`, with the line each starts on.
fn toml_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        match open.as_mut() {
            None if line.trim_start().starts_with("```toml") => open = Some((n + 2, String::new())),
            Some(_) if line.trim_start().starts_with("```") => blocks.push(open.take().unwrap()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    assert!(open.is_none(), "README.md: a ```toml block is never closed");
    blocks
}

#[test]
fn every_toml_example_in_the_readme_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = toml_blocks(&readme);
    assert!(blocks.len() >= 4, "found only {} toml blocks", blocks.len());
    let mut failed = Vec::new();
    for (line, body) in &blocks {
        let text = if body.contains("[station]") {
            body.clone()
        } else {
            format!("[station]\nname = \"Xã Thử\"\n{body}")
        };
        // Paths resolve beside the README's example (config/), and audio
        // files are only checked as written: the examples name files a
        // station has, not ones in this repository.
        let draft = load_str(
            &text,
            &root.join("config/readme.toml"),
            AudioFiles::AsWritten,
        );
        if draft.diagnostics.has_errors() || draft.station.is_none() {
            failed.push(format!("README.md line {line}:\n{}", draft.diagnostics));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// README names the ledger's schema version a newcomer will find in
/// `PRAGMA user_version`: the one this build writes.
#[test]
fn the_readme_names_the_ledgers_schema_version() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let said = readme
        .split("(all in the ledger, schema version ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("README says which schema version the ledger is at");
    assert_eq!(
        said,
        loa::ledger::SCHEMA_VERSION.to_string(),
        "README.md names ledger schema version {said}"
    );
}
