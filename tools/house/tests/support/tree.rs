//! The crate read as Rust, for tests/layers.rs and tests/limits.rs: every
//! file of the module tree (from `lib.rs`, following `mod x;` and
//! `#[path]`), parsed with syn, each with the module path it holds.
//! Comments, doc comments and string literals are not paths to syn, so
//! nothing in them is ever read as an import.

#![allow(dead_code)] // each test uses part of it

use std::path::{Path, PathBuf};

/// One source file of the crate.
pub struct ModFile {
    /// The module the file is (`["api", "routes"]`); empty for `lib.rs`.
    pub module: Vec<String>,
    pub path: PathBuf,
    pub ast: syn::File,
}

/// The files of the crate rooted at `src/lib.rs`, in walk order.
pub fn walk(src: &Path) -> Vec<ModFile> {
    let mut out = Vec::new();
    read_file(src.join("lib.rs"), Vec::new(), &mut out);
    out
}

/// Every `.rs` file under `dir`, sorted (also those no `mod` reaches).
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    fn go(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                go(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    go(dir, &mut out);
    out.sort();
    out
}

pub fn parse(path: &Path) -> syn::File {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    syn::parse_file(&text).unwrap_or_else(|e| {
        let at = e.span().start();
        panic!("{}:{}:{}: {e}", path.display(), at.line, at.column + 1)
    })
}

fn read_file(path: PathBuf, module: Vec<String>, out: &mut Vec<ModFile>) {
    let ast = parse(&path);
    let dir = path.parent().unwrap().to_path_buf();
    let stem = path.file_stem().unwrap().to_str().unwrap();
    // `lib.rs` and `mod.rs` keep their children beside them; `foo.rs` keeps
    // them in `foo/`.
    let child_dir = if matches!(stem, "lib" | "main" | "mod") {
        dir.clone()
    } else {
        dir.join(stem)
    };
    read_items(&ast.items, &module, &dir, &child_dir, &path, out);
    out.push(ModFile { module, path, ast });
}

fn read_items(
    items: &[syn::Item],
    module: &[String],
    file_dir: &Path,
    child_dir: &Path,
    from: &Path,
    out: &mut Vec<ModFile>,
) {
    for item in items {
        let syn::Item::Mod(m) = item else { continue };
        let name = m.ident.to_string();
        let mut sub = module.to_vec();
        sub.push(name.clone());
        if let Some((_, inner)) = &m.content {
            read_items(inner, &sub, file_dir, &child_dir.join(&name), from, out);
            continue;
        }
        let file = match path_attr(&m.attrs) {
            Some(p) => file_dir.join(p),
            None => {
                let flat = child_dir.join(format!("{name}.rs"));
                if flat.exists() {
                    flat
                } else {
                    child_dir.join(&name).join("mod.rs")
                }
            }
        };
        assert!(
            file.exists(),
            "{}: `mod {name};` has no file ({} does not exist)",
            from.display(),
            file.display()
        );
        read_file(file, sub, out);
    }
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

/// The first line of a span (1-based).
pub fn line(span: proc_macro2::Span) -> usize {
    span.start().line
}
