//! A module no layer names.

pub fn f() {}
