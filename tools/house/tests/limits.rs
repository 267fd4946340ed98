//! Rooms a reader can hold (issue 18): no source file over 1,000 lines, no
//! function body over 150 lines, no function with more than 7 arguments
//! (clippy's `too_many_arguments`: `self` counts). Read with syn, so a
//! function's length is its body's braces, wherever it is (free, in an
//! `impl`, a trait, or nested).

#[path = "support/tree.rs"]
mod tree;

use std::path::Path;

use syn::visit::Visit;

const MAX_FILE_LINES: usize = 1000;
const MAX_BODY_LINES: usize = 150;
const MAX_ARGS: usize = 7;

/// Functions allowed a longer body: (file under src/, function, why). Only
/// data tables, a body that is mostly one literal, belong here; an entry
/// whose function is gone or fits is itself reported, so the list stays
/// true.
const LONG_TABLES: &[(&str, &str, &str)] = &[
    (
        "api/mod.rs",
        "routes",
        "the API's route table: one `vec![Route { .. }]` literal, read by the router and the OpenAPI document",
    ),
    (
        "api/openapi.rs",
        "response_schemas",
        "the JSON schemas of the API's answers: one literal per answer",
    ),
];

type Allowed<'t> = &'t [(&'t str, &'t str, &'t str)];

struct Fns<'a> {
    file: &'a str,
    allowed: Allowed<'a>,
    /// The allowed entries found over the limit.
    used: Vec<(&'a str, &'a str)>,
    out: Vec<String>,
}

impl Fns<'_> {
    fn check(&mut self, name: &syn::Ident, sig: &syn::Signature, body: Option<&syn::Block>) {
        let at = tree::line(name.span());
        let args = sig.inputs.len();
        if args > MAX_ARGS {
            self.out.push(format!(
                "{}:{at}: {name} takes {args} arguments (at most {MAX_ARGS})",
                self.file
            ));
        }
        let Some(b) = body else { return };
        let lines =
            b.brace_token.span.close().start().line - b.brace_token.span.open().start().line + 1;
        let allowed = self
            .allowed
            .iter()
            .find(|&&(f, n, _)| f == self.file && name == n);
        if let (true, Some(&(f, n, _))) = (lines > MAX_BODY_LINES, allowed) {
            self.used.push((f, n));
        }
        if lines > MAX_BODY_LINES && allowed.is_none() {
            self.out.push(format!(
                "{}:{at}: {name}'s body is {lines} lines (at most {MAX_BODY_LINES})",
                self.file
            ));
        }
    }
}

impl<'ast> Visit<'ast> for Fns<'_> {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.check(&f.sig.ident, &f.sig, Some(&f.block));
        syn::visit::visit_item_fn(self, f);
    }
    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.check(&f.sig.ident, &f.sig, Some(&f.block));
        syn::visit::visit_impl_item_fn(self, f);
    }
    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        self.check(&f.sig.ident, &f.sig, f.default.as_ref());
        syn::visit::visit_trait_item_fn(self, f);
    }
}

/// Every breach of the limits in the `.rs` files under `src`, and every
/// `allowed` entry that is not needed.
fn breaches(src: &Path, allowed: Allowed) -> Vec<String> {
    let mut out = Vec::new();
    let mut used = Vec::new();
    for path in tree::rust_files(src) {
        let rel = path.strip_prefix(src).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            out.push(format!("{rel}: {lines} lines (at most {MAX_FILE_LINES})"));
        }
        let mut fns = Fns {
            file: &rel,
            allowed,
            used: Vec::new(),
            out: Vec::new(),
        };
        fns.visit_file(&tree::parse(&path));
        out.extend(fns.out);
        used.extend(
            fns.used
                .iter()
                .map(|&(f, n)| (f.to_string(), n.to_string())),
        );
    }
    for &(f, n, _) in allowed {
        if !used.iter().any(|(uf, un)| uf == f && un == n) {
            out.push(format!(
                "{f}: {n} is allowed a long body but is gone or fits; remove it from the list"
            ));
        }
    }
    out
}

#[test]
fn src_keeps_its_limits() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../src");
    let got = breaches(&src, LONG_TABLES);
    assert!(got.is_empty(), "over the limits:\n{}", got.join("\n"));
}

#[test]
fn each_limit_is_caught() {
    // Cargo's own scratch folder for integration tests: no temp-dir crate
    // to build.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("limits-fixture");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let body = |name: &str, lines: usize| {
        format!(
            "fn {name}() {{\n{}}}\n",
            "    let _ = 1;\n".repeat(lines - 2)
        )
    };
    let args = "struct S;\nimpl S {\n    \
                fn many(&self, a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8) {}\n    \
                fn seven(&self, a: u8, b: u8, c: u8, d: u8, e: u8, f: u8) {}\n}\n";
    let a = format!("{}{}{args}", body("long", 151), body("fits", 150));
    std::fs::write(dir.join("a.rs"), a).unwrap();
    std::fs::write(dir.join("b.rs"), body("table", 151)).unwrap();
    std::fs::write(dir.join("big.rs"), "// x\n".repeat(1001)).unwrap();
    std::fs::write(dir.join("fits.rs"), "// x\n".repeat(1000)).unwrap();
    let allowed = [("b.rs", "table", "data"), ("a.rs", "fits", "stale")];
    let got = breaches(&dir, &allowed);
    assert_eq!(
        got,
        [
            "a.rs:1: long's body is 151 lines (at most 150)",
            "a.rs:304: many takes 8 arguments (at most 7)",
            "big.rs: 1001 lines (at most 1000)",
            "a.rs: fits is allowed a long body but is gone or fits; remove it from the list",
        ]
    );
}
