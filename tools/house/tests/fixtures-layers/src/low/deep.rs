//! One level down in `low`: `super::super` is the crate root.

pub fn up() {
    super::super::top_super::f();
    fake::top_extern::f();
    include!("hidden.rs");
}
