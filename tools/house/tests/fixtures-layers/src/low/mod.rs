//! The bottom layer of the fixture: each line below hides an upward edge
//! (or only looks like one) the way a real module might.

mod deep;
#[path = "elsewhere.rs"]
mod moved;
use crate::{top_group::{inner::{a, b}}};
use crate::top_alias as ta;
use crate::*;

/* crate::top_comment::f(); */
/// Calls crate::top_doc::f(), in a doc comment only.
pub fn tricks() {
    self::top_self::f();
    let _ = "crate::top_quoted::f()";
    // crate::top_comment::g();
    let _url = "http://example.org"; crate::top_string::f();
    /*
       crate::top_comment::h();
    */
    let _ = a + b;
    ta::f();
}

pub fn hidden() -> crate::Hidden {
    todo!()
}

pub fn macros() {
    crate::top_macro::shout!();
    let _ = format!("{}", crate::top_macro_arg::f());
}

#[derive(Deserialize)]
pub struct Wire {
    #[serde(with = "crate::top_attr::codec")]
    pub at: u64,
}
