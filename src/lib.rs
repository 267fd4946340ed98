//! loa — a broadcast scheduler for commune radio stations.
//!
//! See `README.md` for what it does; each module's doc comment says what it
//! owns and what it must not touch.

pub mod api;
pub mod audio;
pub mod check;
pub mod cli;
pub mod config;
pub mod crontab;
pub mod daemon;
pub mod diag;
pub mod engine;
#[cfg(test)]
mod layers;
pub mod ledger;
pub mod media;
pub mod notify;
pub mod probe;
pub mod range;
pub mod report;
pub mod schedule;
pub mod station;
pub mod table;
pub mod timefmt;
pub mod token;
