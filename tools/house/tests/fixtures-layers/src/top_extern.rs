//! Above `low`.

pub fn f() {}
