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
/// data tables, a body that is mostly one literal, belong here.
const LONG_TABLES: &[(&str, &str, &str)] = &[];

struct Fns<'a> {
    file: &'a str,
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
        let allowed = LONG_TABLES
            .iter()
            .any(|&(f, n, _)| f == self.file && name == n);
        if lines > MAX_BODY_LINES && !allowed {
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

/// Every breach of the limits in the `.rs` files under `src`.
fn breaches(src: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for path in tree::rust_files(src) {
        let rel = path.strip_prefix(src).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            out.push(format!("{rel}: {lines} lines (at most {MAX_FILE_LINES})"));
        }
        let mut fns = Fns {
            file: &rel,
            out: Vec::new(),
        };
        fns.visit_file(&tree::parse(&path));
        out.extend(fns.out);
    }
    out
}

#[test]
fn src_keeps_its_limits() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let got = breaches(&src);
    assert!(got.is_empty(), "over the limits:\n{}", got.join("\n"));
}

#[test]
fn each_limit_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let long_body = format!("fn long() {{\n{}}}\n", "    let _ = 1;\n".repeat(149));
    let ok_body = format!("fn fits() {{\n{}}}\n", "    let _ = 1;\n".repeat(148));
    let args = "struct S;\nimpl S {\n    fn many(&self, a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8) {}\n    \
                fn seven(&self, a: u8, b: u8, c: u8, d: u8, e: u8, f: u8) {}\n}\n";
    std::fs::write(
        dir.path().join("a.rs"),
        format!("{long_body}{ok_body}{args}"),
    )
    .unwrap();
    std::fs::write(dir.path().join("big.rs"), "// x\n".repeat(1001)).unwrap();
    std::fs::write(dir.path().join("fits.rs"), "// x\n".repeat(1000)).unwrap();
    let got = breaches(dir.path());
    assert_eq!(
        got,
        [
            "a.rs:1: long's body is 151 lines (at most 150)".to_string(),
            "a.rs:304: many takes 8 arguments (at most 7)".to_string(),
            "big.rs: 1001 lines (at most 1000)".to_string(),
        ]
    );
}
