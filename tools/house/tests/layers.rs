//! The order of the house, checked: a module may import modules of its own
//! layer or below, never one above; modules of one layer import each other
//! without a cycle; the pairs in `APART` never import each other; every
//! top-level module has a layer.
//!
//! ```text
//! cli → daemon → {api, web, systemd} → {control, fleet} → station → engine
//!     → {schedule, ledger, report, audio, probe, token, check, tts, …} → config
//!     → {diag, timefmt, range, crontab, table}
//! ```
//!
//! The crate is read as Rust (syn), from `src/lib.rs` down its `mod` tree,
//! so comments, doc comments and strings never count, and every path is
//! resolved the way rustc would: `crate::`, `super::`, `self::`, names
//! brought in by `use` (aliases, groups, globs), re-exports at the crate
//! root (`pub use api::X;` in lib.rs makes `crate::X` an import of `api`),
//! `#[macro_export]` macros, paths in macro arguments and in attribute
//! strings (`#[serde(with = "crate::x")]`). The test is itself tested on
//! tools/house/tests/fixtures-layers/, a small fake crate holding each trick.

#[path = "support/tree.rs"]
mod tree;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// Layers from the bottom up; a module's layer is its index. A layer may
/// name a module that does not exist yet.
const LAYERS: &[&[&str]] = &[
    &[
        "diag",
        "timefmt",
        "range",
        "crontab",
        "table",
        "reason",
        "broadcast",
        "signing",
        "hex",
    ],
    &["config"],
    &[
        "media", "probe", "audio", "schedule", "ledger", "report", "token", "check", "tts",
        "monitor",
    ],
    &["engine"],
    &["current"],
    &["control", "fleet"],
    &["api", "web", "systemd", "upstream"],
    &["daemon"],
    &["cli"],
];

/// Modules of one layer that must not import each other at all: the API
/// and the console are both thin adapters over `control`; `daemon`
/// composes them on one listener.
const APART: &[(&str, &str)] = &[("api", "web")];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Violation {
    /// `from` imports `to`, of a higher layer, at `at` (`file:line`).
    Up {
        from: String,
        to: String,
        at: String,
    },
    /// `from` imports `to` though the two are kept apart.
    Apart {
        from: String,
        to: String,
        at: String,
    },
    /// Modules of one layer importing each other in a ring.
    Cycle(Vec<String>),
    /// A top-level module no layer names.
    NoLayer(String),
    /// `pub use m::*;` in lib.rs: `crate::X` could then come from anywhere.
    RootGlob { at: String },
    /// `include!`: code the walk cannot see as a module's own.
    Include { at: String },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Violation::Up { from, to, at } => {
                write!(f, "{at}: {from} imports {to}, a layer above it")
            }
            Violation::Apart { from, to, at } => {
                write!(f, "{at}: {from} imports {to}; the two are kept APART")
            }
            Violation::Cycle(c) => write!(f, "import cycle in one layer: {}", c.join(" → ")),
            Violation::NoLayer(m) => write!(f, "module {m} has no layer; add it to LAYERS"),
            Violation::Include { at } => {
                write!(
                    f,
                    "{at}: include! hides code from the layers test; use a module"
                )
            }
            Violation::RootGlob { at } => {
                write!(
                    f,
                    "{at}: a glob `use` at the crate root hides where names come from"
                )
            }
        }
    }
}

/// What a module brings into scope by name.
#[derive(Default)]
struct Scope {
    children: BTreeSet<String>,
    /// `use` names → the path as written (resolved from this module).
    uses: BTreeMap<String, Vec<String>>,
    globs: Vec<Vec<String>>,
    /// `extern crate self as x;`: `x::…` is `crate::…` (kept at the root).
    externs: BTreeSet<String>,
}

type Scopes = BTreeMap<Vec<String>, Scope>;

/// A path found in the source: the module it is written in, its segments,
/// where.
struct Use {
    module: Vec<String>,
    segs: Vec<String>,
    at: String,
}

fn use_leaves(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>, bool)>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_leaves(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                let bound = prefix.last().cloned();
                out.push((prefix.clone(), bound, false));
            } else {
                let mut p = prefix.clone();
                p.push(name.clone());
                out.push((p, Some(name), false));
            }
        }
        syn::UseTree::Rename(r) => {
            let mut p = prefix.clone();
            if r.ident != "self" {
                p.push(r.ident.to_string());
            }
            let alias = r.rename.to_string();
            out.push((p, (alias != "_").then_some(alias), false));
        }
        syn::UseTree::Glob(_) => out.push((prefix.clone(), None, true)),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_leaves(t, prefix, out);
            }
        }
    }
}

/// Leaves of a `use` item: (path, name bound, is a glob).
fn leaves(u: &syn::ItemUse) -> Vec<(Vec<String>, Option<String>, bool)> {
    let mut out = Vec::new();
    let mut prefix = Vec::new();
    if u.leading_colon.is_some() {
        prefix.push(String::new()); // `::x`: an external crate
    }
    use_leaves(&u.tree, &mut prefix, &mut out);
    out
}

fn fill_scopes(items: &[syn::Item], module: &[String], scopes: &mut Scopes) {
    scopes.entry(module.to_vec()).or_default();
    for item in items {
        match item {
            syn::Item::Mod(m) => {
                let name = m.ident.to_string();
                scopes
                    .get_mut(module)
                    .unwrap()
                    .children
                    .insert(name.clone());
                let mut sub = module.to_vec();
                sub.push(name);
                scopes.entry(sub.clone()).or_default();
                if let Some((_, inner)) = &m.content {
                    fill_scopes(inner, &sub, scopes);
                }
            }
            syn::Item::Use(u) => {
                let s = scopes.get_mut(module).unwrap();
                for (path, name, glob) in leaves(u) {
                    if glob {
                        s.globs.push(path);
                    } else if let Some(n) = name {
                        s.uses.insert(n, path);
                    }
                }
            }
            // `#[macro_export]` puts the macro at the crate root.
            syn::Item::Macro(m) if m.attrs.iter().any(|a| a.path().is_ident("macro_export")) => {
                if let Some(ident) = &m.ident {
                    let name = ident.to_string();
                    let mut path = vec!["crate".to_string()];
                    path.extend(module.iter().cloned());
                    path.push(name.clone());
                    let root = scopes.entry(Vec::new()).or_default();
                    root.uses.insert(name, path);
                }
            }
            syn::Item::ExternCrate(e) if e.ident == "self" => {
                if let Some((_, alias)) = &e.rename {
                    let root = scopes.entry(Vec::new()).or_default();
                    root.externs.insert(alias.to_string());
                }
            }
            _ => {}
        }
    }
}

/// The absolute path (from the crate root) that `segs`, written in
/// `module`, names; `None` if it leaves the crate or names a root item that
/// is no module.
fn resolve(
    scopes: &Scopes,
    module: &[String],
    segs: &[String],
    depth: usize,
) -> Option<Vec<String>> {
    if depth > 32 || segs.is_empty() {
        return None;
    }
    match segs[0].as_str() {
        "" if segs.len() > 1 && is_self_alias(scopes, &segs[1]) => {
            lookup(scopes, &[], &segs[2..], depth)
        }
        "" => None,
        "crate" | "$crate" => lookup(scopes, &[], &segs[1..], depth),
        "self" => lookup(scopes, module, &segs[1..], depth),
        "super" => {
            let ups = segs.iter().take_while(|s| *s == "super").count();
            let base = &module[..module.len().checked_sub(ups)?];
            lookup(scopes, base, &segs[ups..], depth)
        }
        _ => {
            if let Some(found) = lookup_strict(scopes, module, segs, depth) {
                return Some(found);
            }
            if is_self_alias(scopes, &segs[0]) {
                return lookup(scopes, &[], &segs[1..], depth);
            }
            lookup(scopes, module, segs, depth)
        }
    }
}

/// Whether `name` is the crate itself under another name.
fn is_self_alias(scopes: &Scopes, name: &str) -> bool {
    scopes
        .get(&Vec::new())
        .is_some_and(|r| r.externs.contains(name))
}

/// `rest` looked up in module `base`: a child module, a `use` name, a name
/// from a glob; else an item of `base` itself (no module at the root).
fn lookup(scopes: &Scopes, base: &[String], rest: &[String], depth: usize) -> Option<Vec<String>> {
    if rest.is_empty() {
        return Some(base.to_vec());
    }
    if let Some(found) = lookup_strict(scopes, base, rest, depth) {
        return Some(found);
    }
    if base.is_empty() {
        return None;
    }
    let mut p = base.to_vec();
    p.extend(rest.iter().cloned());
    Some(p)
}

fn lookup_strict(
    scopes: &Scopes,
    base: &[String],
    rest: &[String],
    depth: usize,
) -> Option<Vec<String>> {
    let scope = scopes.get(base)?;
    let name = &rest[0];
    if scope.children.contains(name) {
        let mut p = base.to_vec();
        p.extend(rest.iter().cloned());
        return Some(p);
    }
    if let Some(target) = scope.uses.get(name) {
        let mut segs = target.clone();
        segs.extend(rest[1..].iter().cloned());
        return resolve(scopes, base, &segs, depth + 1);
    }
    for g in &scope.globs {
        let Some(from) = resolve(scopes, base, g, depth + 1) else {
            continue;
        };
        if from != base && scopes.contains_key(&from) {
            if let Some(found) = lookup_strict(scopes, &from, rest, depth + 1) {
                return Some(found);
            }
        }
    }
    None
}

/// Collects every path written in one file.
struct Paths<'a> {
    module: Vec<String>,
    file: &'a str,
    out: Vec<Use>,
    includes: Vec<String>,
}

impl Paths<'_> {
    fn push(&mut self, segs: Vec<String>, line: usize) {
        self.out.push(Use {
            module: self.module.clone(),
            segs,
            at: format!("{}:{line}", self.file),
        });
    }

    /// Paths inside a token stream (macro arguments, attribute arguments):
    /// `a::b::c` runs of identifiers, and string literals that are whole
    /// paths when `strings` is set (`#[serde(with = "crate::x")]`).
    fn tokens(&mut self, ts: TokenStream, strings: bool) {
        let toks: Vec<TokenTree> = ts.into_iter().collect();
        let mut i = 0;
        while i < toks.len() {
            match &toks[i] {
                TokenTree::Group(g) => self.tokens(g.stream(), strings),
                TokenTree::Literal(l) if strings => {
                    if let Ok(syn::Lit::Str(s)) = syn::parse_str::<syn::Lit>(&l.to_string()) {
                        if let Ok(p) = syn::parse_str::<syn::Path>(&s.value()) {
                            if p.segments.len() > 1 && p.leading_colon.is_none() {
                                self.push(segments(&p), tree::line(l.span()));
                            }
                        }
                    }
                }
                TokenTree::Ident(id) => {
                    let line = tree::line(id.span());
                    let dollar =
                        i > 0 && matches!(&toks[i - 1], TokenTree::Punct(p) if p.as_char() == '$');
                    let outer = i >= 2 && is_colon2(&toks, i - 2);
                    let mut segs = vec![if dollar {
                        format!("${id}")
                    } else {
                        id.to_string()
                    }];
                    let mut j = i + 1;
                    while is_colon2(&toks, j) {
                        match toks.get(j + 2) {
                            Some(TokenTree::Ident(next)) => segs.push(next.to_string()),
                            _ => break,
                        }
                        j += 3;
                    }
                    if segs.len() > 1 && !outer {
                        self.push(segs, line);
                    }
                    i = j.max(i + 1);
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

fn is_colon2(toks: &[TokenTree], j: usize) -> bool {
    matches!(
        (toks.get(j), toks.get(j + 1)),
        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
            if a.as_char() == ':' && b.as_char() == ':' && a.spacing() == proc_macro2::Spacing::Joint
    )
}

fn segments(p: &syn::Path) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    if p.leading_colon.is_some() {
        v.push(String::new());
    }
    v.extend(p.segments.iter().map(|s| s.ident.to_string()));
    v
}

impl<'ast> Visit<'ast> for Paths<'_> {
    fn visit_path(&mut self, p: &'ast syn::Path) {
        let line = tree::line(
            p.segments
                .first()
                .map_or_else(proc_macro2::Span::call_site, |s| s.ident.span()),
        );
        self.push(segments(p), line);
        syn::visit::visit_path(self, p);
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let line = tree::line(u.use_token.span);
        for (path, _, _) in leaves(u) {
            self.push(path, line);
        }
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        if m.path.is_ident("include") {
            let line = tree::line(m.path.segments[0].ident.span());
            self.includes.push(format!("{}:{line}", self.file));
        }
        self.visit_path(&m.path);
        self.tokens(m.tokens.clone(), false);
    }

    fn visit_attribute(&mut self, a: &'ast syn::Attribute) {
        // Doc comments are `#[doc = "…"]`: prose, never a path.
        if a.path().is_ident("doc") || a.path().is_ident("path") {
            return;
        }
        self.visit_path(a.path());
        if let syn::Meta::List(l) = &a.meta {
            self.tokens(l.tokens.clone(), true);
        }
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        for a in &m.attrs {
            self.visit_attribute(a);
        }
        if let Some((_, items)) = &m.content {
            self.module.push(m.ident.to_string());
            for i in items {
                self.visit_item(i);
            }
            self.module.pop();
        }
    }
}

struct Checked {
    violations: Vec<Violation>,
    /// Module → modules it imports (top level, itself excluded).
    edges: BTreeMap<String, BTreeSet<String>>,
}

fn check(src: &Path, layers: &[&[&str]], apart: &[(&str, &str)]) -> Checked {
    let files = tree::walk(src);
    let mut scopes = Scopes::new();
    for f in &files {
        fill_scopes(&f.ast.items, &f.module, &mut scopes);
    }
    let layer_of = |m: &str| layers.iter().position(|l| l.contains(&m));
    let top: BTreeSet<String> = scopes[&Vec::new()].children.clone();
    let mut v = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let rel = f
            .path
            .strip_prefix(src)
            .unwrap_or(&f.path)
            .display()
            .to_string();
        let mut paths = Paths {
            module: f.module.clone(),
            file: &rel,
            out: Vec::new(),
            includes: Vec::new(),
        };
        paths.visit_file(&f.ast);
        v.extend(paths.includes.drain(..).map(|at| Violation::Include { at }));
        if f.module.is_empty() {
            for item in &f.ast.items {
                if let syn::Item::Use(u) = item {
                    if leaves(u).iter().any(|l| l.2) {
                        v.push(Violation::RootGlob {
                            at: format!("{rel}:{}", tree::line(u.use_token.span)),
                        });
                    }
                }
            }
        }
        for u in paths.out {
            let Some(from) = u.module.first() else {
                continue;
            };
            let Some(abs) = resolve(&scopes, &u.module, &u.segs, 0) else {
                continue;
            };
            let Some(to) = abs.first().filter(|t| top.contains(*t) && *t != from) else {
                continue;
            };
            edges.entry(from.clone()).or_default().insert(to.clone());
            let (lf, lt) = (layer_of(from), layer_of(to));
            if let (Some(lf), Some(lt)) = (lf, lt) {
                if lt > lf {
                    v.push(Violation::Up {
                        from: from.clone(),
                        to: to.clone(),
                        at: u.at.clone(),
                    });
                }
            }
            if apart
                .iter()
                .any(|&(a, b)| (a == from && b == to) || (a == to && b == from))
            {
                v.push(Violation::Apart {
                    from: from.clone(),
                    to: to.clone(),
                    at: u.at,
                });
            }
        }
    }
    for m in &top {
        if layer_of(m).is_none() {
            v.push(Violation::NoLayer(m.clone()));
        }
    }
    v.extend(cycles(&edges, &layer_of));
    v.sort();
    v.dedup();
    Checked {
        violations: v,
        edges,
    }
}

/// Rings of imports among modules of one layer (each found once, from its
/// smallest name).
fn cycles(
    edges: &BTreeMap<String, BTreeSet<String>>,
    layer_of: &dyn Fn(&str) -> Option<usize>,
) -> Vec<Violation> {
    fn visit(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        layer_of: &dyn Fn(&str) -> Option<usize>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
        out: &mut Vec<Violation>,
    ) {
        match state.get(m) {
            Some(1) => {
                let at = path.iter().position(|p| p == m).unwrap_or(0);
                let mut c = path[at..].to_vec();
                c.push(m.to_string());
                out.push(Violation::Cycle(c));
                return;
            }
            Some(_) => return,
            None => {}
        }
        state.insert(m.to_string(), 1);
        path.push(m.to_string());
        for d in edges.get(m).into_iter().flatten() {
            if layer_of(d).is_some() && layer_of(d) == layer_of(m) {
                visit(d, edges, layer_of, state, path, out);
            }
        }
        path.pop();
        state.insert(m.to_string(), 2);
    }
    let mut state = BTreeMap::new();
    let mut out = Vec::new();
    for m in edges.keys() {
        visit(m, edges, layer_of, &mut state, &mut Vec::new(), &mut out);
    }
    out
}

#[test]
fn src_keeps_its_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../src");
    let got = check(&src, LAYERS, APART);
    let text: Vec<String> = got.violations.iter().map(|v| v.to_string()).collect();
    assert!(
        text.is_empty(),
        "src/ breaks its layers:\n{}",
        text.join("\n")
    );
    // The walk did see the crate: the daemon imports the engine.
    assert!(got.edges["daemon"].contains("engine"), "{:?}", got.edges);
}

/// The fixture's layers: `low` at the bottom, a `top_*` module for each
/// trick above it, so each upward edge names the trick that hides it.
const FIXTURE_LAYERS: &[&[&str]] = &[
    &["low", "shelf"],
    &["peer_a", "peer_b", "cyc_a", "cyc_b"],
    &[
        "top_super",
        "top_self",
        "top_string",
        "top_comment",
        "top_doc",
        "top_quoted",
        "top_group",
        "top_alias",
        "top_hidden",
        "top_path",
        "top_macro",
        "top_macro_arg",
        "top_attr",
        "top_extern",
    ],
];

/// Modules of the fixture that only a comment, a doc comment or a string
/// names: never imports.
const PROSE_ONLY: &[&str] = &["top_comment", "top_doc", "top_quoted"];

fn fixture() -> Checked {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures-layers/src");
    check(&src, FIXTURE_LAYERS, &[("peer_a", "peer_b")])
}

fn up(to: &str, at: &str) -> Violation {
    Violation::Up {
        from: "low".into(),
        to: to.into(),
        at: at.into(),
    }
}

#[test]
fn each_trick_is_caught() {
    let got = fixture().violations;
    let all: Vec<String> = got.iter().map(|v| v.to_string()).collect();
    let all = all.join("\n");
    for want in [
        // `super::super::top_super::f()` from low::deep.
        up("top_super", "low/deep.rs:4"),
        // `use crate::*;` then `self::top_self::f()`.
        up("top_self", "low/mod.rs:14"),
        // `"http://x"` before `crate::top_string::f()` on one line.
        up("top_string", "low/mod.rs:17"),
        // `use crate::{top_group::{inner::{a, b}}}`.
        up("top_group", "low/mod.rs:7"),
        // `use crate::top_alias as ta;` then `ta::f()`: both lines.
        up("top_alias", "low/mod.rs:8"),
        up("top_alias", "low/mod.rs:22"),
        // lib.rs `pub use top_hidden::Hidden;`, low names `crate::Hidden`.
        up("top_hidden", "low/mod.rs:25"),
        // `#[path = "elsewhere.rs"] mod moved;`.
        up("top_path", "low/elsewhere.rs:3"),
        // `crate::top_macro::shout!()` and a path inside `format!`.
        up("top_macro", "low/mod.rs:30"),
        up("top_macro_arg", "low/mod.rs:31"),
        // `#[serde(with = "crate::top_attr::codec")]`.
        up("top_attr", "low/mod.rs:36"),
        // lib.rs `extern crate self as fake;`, low calls `fake::top_extern::f()`.
        up("top_extern", "low/deep.rs:5"),
        Violation::Include {
            at: "low/deep.rs:6".into(),
        },
        Violation::Apart {
            from: "peer_a".into(),
            to: "peer_b".into(),
            at: "peer_a.rs:3".into(),
        },
        Violation::Cycle(vec!["cyc_a".into(), "cyc_b".into(), "cyc_a".into()]),
        Violation::NoLayer("orphan".into()),
        Violation::RootGlob {
            at: "lib.rs:29".into(),
        },
    ] {
        assert!(got.contains(&want), "not caught: {want}\nreported:\n{all}");
    }
    // Comments, doc comments and strings are not imports.
    for never in PROSE_ONLY {
        assert!(
            !all.contains(never),
            "{never} reported, but only prose names it:\n{all}"
        );
    }
}

#[test]
fn the_fixture_reports_nothing_else() {
    // Each violation is one of the tricks: no path is misread into an edge.
    let got = fixture().violations;
    let ups: BTreeSet<String> = got
        .iter()
        .filter_map(|v| match v {
            Violation::Up { to, .. } => Some(to.clone()),
            _ => None,
        })
        .collect();
    // Every module above `low` but those only prose names is reached.
    let want: BTreeSet<String> = FIXTURE_LAYERS[2]
        .iter()
        .filter(|m| !PROSE_ONLY.contains(m))
        .map(|m| m.to_string())
        .collect();
    assert_eq!(ups, want);
    let others = got
        .iter()
        .filter(|v| !matches!(v, Violation::Up { .. }))
        .count();
    assert_eq!(others, 5, "{got:#?}");
}
