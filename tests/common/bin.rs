//! Which `loa` binary the whole-binary tests run.
//!
//! `make test` builds the binary that ships (`cargo build --release`, as
//! `make deb` packs it), keeps a copy in `target/shipped/loa` and names it
//! in `LOA_BIN`; the tests run that file, and tests/package.sh packs the
//! same one. (`cargo test` builds its own `CARGO_BIN_EXE_loa`, with the
//! dev-dependencies' extra features and, under `make test`, the
//! `test-hooks` feature: not the shipped file.) Without `LOA_BIN` — a
//! developer's `cargo test` — the tests run `CARGO_BIN_EXE_loa`.
//!
//! The few tests that wedge the engine or jump the wall clock through
//! `LOA_TEST_*` variables run [`hooks`], built with the `test-hooks`
//! feature, which the shipped binary does not have.

#![allow(dead_code)]

use std::path::PathBuf;

/// The binary under test.
pub fn loa() -> PathBuf {
    match std::env::var_os("LOA_BIN") {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.is_file(),
                "LOA_BIN={} is not a file: build it first (`make test` does)",
                p.display()
            );
            p
        }
        None => PathBuf::from(env!("CARGO_BIN_EXE_loa")),
    }
}

/// The daemon with its fault hooks: `CARGO_BIN_EXE_loa`, which `make test`
/// builds with the `test-hooks` feature (`cargo test --release --features
/// test-hooks`); fails, saying so, in a build without it.
pub fn hooks() -> PathBuf {
    #[cfg(not(feature = "test-hooks"))]
    panic!(
        "this test needs the daemon built with its test hooks: run `make test`, \
         or `cargo test --features test-hooks`"
    );
    #[cfg(feature = "test-hooks")]
    PathBuf::from(env!("CARGO_BIN_EXE_loa"))
}
