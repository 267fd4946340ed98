//! The order of the house, checked: a module may import modules of its own
//! layer or below, never one above, and modules of one layer import each
//! other without a cycle.
//!
//! ```text
//! cli → daemon → {api, web, notify} → {control, fleet} → station → engine
//!     → {schedule, ledger, report, audio, probe, token, check, tts, …} → config
//!     → {diag, timefmt, range, crontab, table}
//! ```
//!
//! The test reads every `.rs` file under `src/` and collects the
//! `crate::name` paths it uses (also inside `use crate::{a, b::c}` groups).
//! A new top-level module must be given a layer here, or the test fails.

/// Layers from the bottom up; a module's layer is its index.
const LAYERS: &[&[&str]] = &[
    &["diag", "timefmt", "range", "crontab", "table"],
    &["config"],
    &[
        "media", "probe", "audio", "schedule", "ledger", "report", "token", "check", "tts",
    ],
    &["engine"],
    &["station"],
    &["control", "fleet"],
    &["api", "web", "notify"],
    &["daemon"],
    &["cli"],
];

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    use super::LAYERS;

    fn layer_of(module: &str) -> Option<usize> {
        LAYERS.iter().position(|l| l.contains(&module))
    }

    /// The top-level module a source file belongs to (`src/api/routes.rs` →
    /// `api`); `None` for `lib.rs`, `main.rs` and this file.
    fn module_of(src: &Path, file: &Path) -> Option<String> {
        let rel = file.strip_prefix(src).ok()?;
        let first = rel.components().next()?.as_os_str().to_str()?;
        let name = first.strip_suffix(".rs").unwrap_or(first);
        match name {
            "lib" | "main" | "layers" | "bin" => None,
            n => Some(n.to_string()),
        }
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    fn ident_at(s: &str) -> &str {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        &s[..end]
    }

    /// Top-level names of `crate::…` paths in a text, including the first
    /// names inside `crate::{…}` groups.
    pub(super) fn crate_imports(text: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for (i, _) in text.match_indices("crate::") {
            // `loa_crate::` or `mycrate::` are other paths.
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &text[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 0usize;
                let mut start = true;
                for (j, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => start = true,
                        c if start && !c.is_whitespace() => {
                            start = false;
                            let name = ident_at(&group[j..]);
                            if !name.is_empty() && name != "self" {
                                found.insert(name.to_string());
                            }
                        }
                        _ => {}
                    }
                }
            } else {
                let name = ident_at(rest);
                if !name.is_empty() {
                    found.insert(name.to_string());
                }
            }
        }
        found
    }

    fn graph() -> BTreeMap<String, BTreeSet<String>> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in files {
            let Some(m) = module_of(&src, &f) else {
                continue;
            };
            // Comments name modules without importing them.
            let text: String = std::fs::read_to_string(&f)
                .unwrap()
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            let deps = g.entry(m.clone()).or_default();
            for d in crate_imports(&text) {
                if d != m {
                    deps.insert(d);
                }
            }
        }
        g
    }

    #[test]
    fn every_module_has_a_layer() {
        let unknown: Vec<String> = graph()
            .keys()
            .filter(|m| layer_of(m).is_none())
            .cloned()
            .collect();
        assert!(
            unknown.is_empty(),
            "modules without a layer: {unknown:?}; add each to LAYERS in src/layers.rs"
        );
    }

    #[test]
    fn no_module_imports_one_above_it() {
        let mut wrong = Vec::new();
        for (m, deps) in graph() {
            let Some(lm) = layer_of(&m) else { continue };
            for d in deps {
                // Names that are not modules (macros, `crate::VERSION`) have
                // no layer and are not imports of a module.
                if let Some(ld) = layer_of(&d) {
                    if ld > lm {
                        wrong.push(format!("{m} (layer {lm}) imports {d} (layer {ld})"));
                    }
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "imports that point up:\n{}",
            wrong.join("\n")
        );
    }

    #[test]
    fn modules_of_one_layer_have_no_cycle() {
        let g = graph();
        // Depth-first search for a back edge within each layer.
        fn visit(
            m: &str,
            g: &BTreeMap<String, BTreeSet<String>>,
            state: &mut BTreeMap<String, u8>,
            path: &mut Vec<String>,
        ) -> Option<Vec<String>> {
            match state.get(m) {
                Some(1) => {
                    let at = path.iter().position(|p| p == m).unwrap_or(0);
                    let mut cycle = path[at..].to_vec();
                    cycle.push(m.to_string());
                    return Some(cycle);
                }
                Some(_) => return None,
                None => {}
            }
            state.insert(m.to_string(), 1);
            path.push(m.to_string());
            let lm = layer_of(m);
            for d in g.get(m).into_iter().flatten() {
                if layer_of(d) == lm {
                    if let Some(c) = visit(d, g, state, path) {
                        return Some(c);
                    }
                }
            }
            path.pop();
            state.insert(m.to_string(), 2);
            None
        }
        let mut state = BTreeMap::new();
        for m in g.keys() {
            if let Some(c) = visit(m, &g, &mut state, &mut Vec::new()) {
                panic!("import cycle: {}", c.join(" → "));
            }
        }
    }

    #[test]
    fn reads_grouped_and_plain_paths() {
        let text = "use crate::config::{self, Station};\n\
                    use crate::{engine::Handle, ledger, timefmt::{self, rfc3339}};\n\
                    let x = crate::schedule::plan(s);\n\
                    let y = mycrate::cli::run();";
        let got: Vec<String> = crate_imports(text).into_iter().collect();
        assert_eq!(got, ["config", "engine", "ledger", "schedule", "timefmt"]);
    }

    #[test]
    fn an_upward_import_is_caught() {
        // The check itself: `config` naming `engine` must be seen as pointing up.
        let deps = crate_imports("use crate::engine::Handle;");
        let up: Vec<&String> = deps
            .iter()
            .filter(|d| layer_of(d) > layer_of("config"))
            .collect();
        assert_eq!(up, ["engine"]);
    }
}
