//! Above `low`.

macro_rules! shout {
    () => {};
}
