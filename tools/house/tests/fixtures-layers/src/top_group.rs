//! Above `low`.

pub mod inner {
    pub const a: u8 = 0;
    pub const b: u8 = 0;
}
