//! loa — a broadcast scheduler for commune radio stations.
//!
//! See `README.md` for what it does; each module's doc comment says what it
//! owns and what it must not touch.

pub mod api;
pub mod audio;
pub mod cli;
pub mod config;
pub mod crontab;
pub mod daemon;
pub mod diag;
pub mod engine;
pub mod ledger;
pub mod media;
pub mod notify;
pub mod probe;
pub mod report;
pub mod schedule;
pub mod table;
pub mod timefmt;
