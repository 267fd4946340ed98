//! loa — a broadcast scheduler for commune radio stations.
//!
//! See `README.md` for what it does; each module's doc comment says what it
//! owns and what it must not touch.

pub(crate) mod api;
pub mod audio;
pub(crate) mod broadcast;
pub(crate) mod check;
pub mod cli;
pub mod config;
pub(crate) mod control;
pub mod crontab;
pub(crate) mod current;
pub(crate) mod daemon;
pub(crate) mod diag;
pub(crate) mod engine;
pub mod fleet;
pub(crate) mod hex;
pub mod ledger;
pub(crate) mod media;
pub mod monitor;
pub mod probe;
pub(crate) mod range;
pub mod reason;
pub mod report;
pub mod schedule;
pub(crate) mod signing;
pub(crate) mod systemd;
pub(crate) mod table;
pub mod timefmt;
pub(crate) mod token;
pub(crate) mod tts;
pub(crate) mod upstream;
pub(crate) mod web;
