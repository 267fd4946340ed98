//! The airtime ledger: what aired, when, for how long, and how it ended.
//!
//! This module owns the SQLite file `data_dir/airtime.db` and every SQL
//! statement run against it. It must not decide what airs (that is the
//! engine's job), read the station file, or format anything for people (that
//! is `crate::report`). Its rooms:
//!
//! - `schema`: the file's layout (documented there, for anyone who reads it
//!   with `sqlite3`), migrations, durability, opening, and closing the rows a
//!   crash left open;
//! - `write`: one row per occurrence attempt as playout goes;
//! - `query`: what the engine ([`Ledger::settled_since`]), the CLI and the
//!   API ([`Ledger::rows`], [`Ledger::airtime_totals`] for `crate::report`)
//!   read;
//! - `users`: the web console's accounts, sessions and failed sign-ins;
//! - `audit` and `state`: the control actions taken through the HTTP API, and
//!   the daemon's own bookkeeping;
//! - `error`: [`LedgerError`], worded for the station's operator.

/// `$ty` read from the row `$r` whose columns are its fields, in order
/// (`SELECT a, b, c` for `$ty { a, b, c }`).
macro_rules! from_columns {
    ($r:expr, $ty:ident { $($field:ident),+ $(,)? }) => {{
        let mut column = 0..;
        $ty { $($field: $r.get(column.next().expect("columns never run out"))?),+ }
    }};
}

mod audit;
mod error;
mod heard;
mod legacy;
mod query;
mod schema;
mod state;
#[cfg(test)]
pub(crate) mod test_util;
mod users;
mod waiting;
mod write;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;
use serde::Serialize;

use crate::config::Priority;

use crate::reason::Reasons;
pub use audit::AuditRow;
pub use error::{ErrorContext, LedgerError, Result};
pub use query::{AirtimeRow, BulletinTotals, Counts, Filter};
pub use schema::{APPLICATION_ID, BUSY_TIMEOUT, DAEMON_STOPPED, SCHEMA_VERSION};
pub use users::{SessionRow, SessionUser, User};
pub use waiting::Queued;

/// How an occurrence attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Aired to the end.
    Completed,
    /// Started but cut short (stop, pre-emption, crash).
    Interrupted,
    /// Could not be played (unreadable file, device error).
    Failed,
    /// Its start window passed without it airing.
    Missed,
    /// Deliberately not aired: quiet hours, the station paused, taken off
    /// the queue, an emergency cancelled.
    Skipped,
}

crate::config::words!(Outcome {
    Completed => "completed",
    Interrupted => "interrupted",
    Failed => "failed",
    Missed => "missed",
    Skipped => "skipped",
});

/// Why an item was put on air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The station file's timing.
    Schedule,
    /// An operator queued it through the API.
    Operator,
    /// An emergency broadcast.
    Emergency,
    /// A relay (tiếp âm) the station file schedules: a live source, not a
    /// local file.
    Relay,
    /// The province sent it (`crate::upstream`): a signed bulletin at any
    /// of the three levels.
    Province,
}

crate::config::words!(Source {
    Schedule => "schedule",
    Operator => "operator",
    Emergency => "emergency",
    Relay => "relay",
    Province => "province",
});

impl Source {
    /// Whether the station file's plan put it there (decided again from
    /// the plan after a reload or a restart).
    pub fn is_planned(self) -> bool {
        matches!(self, Source::Schedule | Source::Relay)
    }
}

/// What the engine knows about an occurrence before it airs.
#[derive(Debug, Clone, PartialEq)]
pub struct Airing {
    /// The text of its [`OccurrenceKey`](crate::schedule::OccurrenceKey):
    /// item + `@` + scheduled instant.
    pub occurrence: String,
    pub bulletin: String,
    pub title: String,
    pub campaign: Option<String>,
    pub program: Option<String>,
    pub priority: Priority,
    pub source: Source,
    /// Relative to `audio_dir`.
    pub file: String,
    pub scheduled_at: DateTime<Utc>,
    pub planned_seconds: f64,
    pub requested_by: Option<String>,
}

impl Airing {
    /// An emergency someone started, an operator or the province: it airs
    /// at once, is not kept while it waits (its repeats are), and stopping
    /// the emergency ends it. Told by priority for the province, whose
    /// bulletins come at every level.
    pub fn is_started_emergency(&self) -> bool {
        match self.source {
            Source::Emergency => true,
            Source::Province => self.priority == Priority::Emergency,
            _ => false,
        }
    }

    /// Put in the queue by hand, an operator or the province, and not an
    /// emergency: kept in the ledger while it waits, and counted against
    /// `[api] max_queue`.
    pub fn is_queued_by_hand(&self) -> bool {
        match self.source {
            Source::Operator => true,
            Source::Province => self.priority != Priority::Emergency,
            _ => false,
        }
    }
}

/// A closed row, for [`Ledger::record_all`] to write many at once (tests and
/// benchmarks fill ledgers with them).
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    pub airing: Airing,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub aired_seconds: f64,
    pub outcome: Outcome,
    pub reason: Option<Reasons>,
}

/// An open ledger: one SQLite connection, not `Sync`. The daemon's ledger
/// writer thread owns the one [`Ledger::open`] returns; readers (`loa
/// report`, the API) each open their own with [`Ledger::open_read_only`].
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    tz: Tz,
    recovered: usize,
}

impl Ledger {
    /// The file this ledger lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The station's zone, used for the instants written.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// How many open rows [`Ledger::open`] closed as interrupted.
    pub fn recovered_on_open(&self) -> usize {
        self.recovered
    }

    fn err(&self, action: &'static str) -> impl FnOnce(rusqlite::Error) -> LedgerError + '_ {
        move |e| LedgerError::sqlite(&self.path, action, e)
    }

    /// Every row `sql` selects with `params`, each made by `row`; a failure
    /// says it could not `action`.
    fn all<T, C: FromIterator<T>>(
        &self,
        action: &'static str,
        sql: &str,
        params: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<C> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(self.err(action))?;
        let rows = stmt.query_map(params, row).map_err(self.err(action))?;
        rows.collect::<rusqlite::Result<C>>()
            .map_err(self.err(action))
    }
}
