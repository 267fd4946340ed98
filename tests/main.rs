//! The whole-binary tests: one test target, so that `make test` links one
//! test binary against the release build instead of one per file (each
//! link with thin LTO cost 15–20 s on two cores). Each module is what used
//! to be its own file's target; run one with `cargo test --test suite
//! NAME::` (e.g. `cargo test --features test-hooks --test suite soak::`).
//!
//! The modules' tests share one process and run side by side (cargo's
//! default, one thread per core): none changes the process's environment,
//! working directory or limits (flood's descriptor limit is set in the
//! daemon's child between fork and exec), and each starts its own servers
//! on free loopback ports in its own temporary directory.

mod common;

mod api;
mod attack_files;
mod attack_http;
mod attack_reload;
mod attack_tts;
mod browser;
mod cli;
mod flood;
mod ledger_migrations;
mod monitor;
mod paced;
mod playout;
mod postgres;
mod prometheus;
mod province;
mod readme;
mod relay;
mod soak;
mod tts;
mod unattended;
mod user_cli;
