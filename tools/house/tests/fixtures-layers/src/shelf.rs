//! Globbed at the root.

pub fn g() {}
