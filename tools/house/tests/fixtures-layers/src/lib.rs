//! A fake crate for tests/layers.rs: never built, only read. Each module
//! holds one trick that a reader of lines would miss or misread.

mod cyc_a;
mod cyc_b;
mod low;
mod orphan;
mod peer_a;
mod peer_b;
mod shelf;
mod top_alias;
mod top_attr;
mod top_comment;
mod top_doc;
mod top_extern;
mod top_group;
mod top_hidden;
mod top_macro;
mod top_macro_arg;
mod top_path;
mod top_self;
mod top_quoted;
mod top_string;
mod top_super;

/// Re-exported at the root: `crate::Hidden` in `low` imports `top_hidden`.
pub use top_hidden::Hidden;
/// A glob at the root: `crate::anything` could come from `shelf`.
pub use shelf::*;
/// The crate under another name: `fake::x` is `crate::x`.
extern crate self as fake;
