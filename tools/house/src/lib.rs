//! Nothing to build: the checks are the tests (see Cargo.toml).
