//! Above `low`.

pub fn f() {}
pub struct Hidden;
