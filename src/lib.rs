//! loa — a broadcast scheduler for commune radio stations.
//!
//! See `README.md` for what it does and `DESIGN.md`-style notes in each
//! module's doc comment for what each part owns.

pub mod audio;
pub mod config;
pub mod crontab;
pub mod diag;
pub mod ledger;
pub mod probe;
pub mod report;
pub mod schedule;
pub mod timefmt;
