//! The airtime ledger: what aired, when, for how long, and how it ended.
//!
//! This module owns the SQLite file `data_dir/airtime.db` and every SQL
//! statement run against it: its schema and migrations, writing one row per
//! occurrence attempt as playout goes, closing rows a crash left open, and the
//! queries the engine (`has_completed`, `settled_since`), the CLI (`rows`,
//! [`Ledger::airtime_totals`] for `crate::report`) and the HTTP API (`audit`)
//! need. It must not decide what airs (that is the engine's job), read the
//! station file, or format anything for people (that is `crate::report`).
//!
//! # Schema (version 1)
//!
//! The file is a plain SQLite 3 database so anyone can query it with
//! `sqlite3 airtime.db`. It is marked with `PRAGMA application_id = 0x6C6F6100`
//! ("loa\0") and carries its schema version in `PRAGMA user_version`; loa
//! refuses files with another application id, and files written by a newer
//! loa. Tables are ordinary (not `STRICT`) so that older `sqlite3` shells, as
//! shipped by Debian 11 and the like, can still open it.
//!
//! Instants are RFC 3339 text in the station's offset with milliseconds, e.g.
//! `2026-10-07T06:15:00.000+07:00`, so they read naturally in `sqlite3`. Text
//! instants with offsets do not compare correctly across offsets, so each table
//! also has a derived integer column (UTC milliseconds since the Unix epoch)
//! that range queries and ordering use.
//!
//! Table `airtime`, one row per occurrence attempt:
//!
//! | column          | type      | meaning |
//! |-----------------|-----------|---------|
//! | id              | INTEGER   | primary key, increases with insertion |
//! | occurrence      | TEXT      | stable key: item id + `@` + scheduled instant; indexed |
//! | bulletin        | TEXT      | bulletin id from the station file |
//! | title           | TEXT      | bulletin title at the time it aired |
//! | campaign        | TEXT NULL | campaign id, NULL when the bulletin has none |
//! | program         | TEXT NULL | programme id when aired as part of one |
//! | priority        | TEXT      | `normal`, `priority` or `emergency` |
//! | source          | TEXT      | `schedule`, `operator` or `emergency` |
//! | file            | TEXT      | audio file, relative to `audio_dir` |
//! | scheduled_at    | TEXT      | instant it was due |
//! | started_at      | TEXT NULL | instant audio started; NULL if it never started |
//! | ended_at        | TEXT NULL | instant audio stopped; NULL if it never started or is airing |
//! | planned_seconds | REAL      | length of the audio file |
//! | aired_seconds   | REAL      | seconds actually aired (checkpointed while airing) |
//! | outcome         | TEXT NULL | `completed`, `interrupted`, `failed`, `missed`, `skipped`; NULL while airing |
//! | reason          | TEXT NULL | why it was not completed, free text |
//! | requested_by    | TEXT NULL | API token name of the operator who queued it |
//! | scheduled_ms    | INTEGER   | `scheduled_at` as UTC epoch milliseconds; indexed, for range queries |
//!
//! Indexes: `airtime_occurrence (occurrence)`, `airtime_scheduled
//! (scheduled_ms)`, and `airtime_report (campaign, bulletin, outcome,
//! scheduled_ms, aired_seconds)`, which holds everything the report sums in
//! the order it groups, so a year of rows is summed without a sort.
//!
//! Table `audit`, one row per control action taken through the HTTP API:
//! `id INTEGER PRIMARY KEY, at TEXT` (RFC 3339 as above), `at_ms INTEGER`
//! (UTC epoch ms, indexed), `who TEXT` (token name), `action TEXT`,
//! `detail TEXT`, `result TEXT`.
//!
//! Table `state`, the daemon's own bookkeeping: `key TEXT PRIMARY KEY,
//! value TEXT`. `decided_until` is the instant (RFC 3339) up to which the
//! daemon has decided every scheduled occurrence, so a restart knows what it
//! missed while it was down, and a clock that went backwards replays nothing.
//! `emergency` (JSON) is a repeating emergency in force, so its repeats go
//! on after a power cut.
//!
//! Example: minutes aired per campaign in October 2026 (UTC+7):
//!
//! ```sql
//! SELECT campaign, round(sum(aired_seconds) / 60, 2) AS minutes
//! FROM airtime
//! WHERE scheduled_at >= '2026-10-01T00:00:00.000+07:00'
//!   AND scheduled_at <  '2026-11-01T00:00:00.000+07:00'
//! GROUP BY campaign;
//! ```
//!
//! (Comparing the text is fine as long as every row has the same offset,
//! which holds for Vietnam; otherwise compare `scheduled_ms`.)
//!
//! # Durability
//!
//! The file is in WAL mode so that `loa report` and `sqlite3` can read while
//! the daemon writes, with `synchronous = FULL`: commune stations lose power
//! often, and with `NORMAL` a power cut may roll back the last commits, which
//! would forget that a bulletin completed and let it air twice. Writes are a
//! handful per bulletin, so the extra fsync costs nothing that matters.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, Row};
use serde::{Serialize, Serializer};

use crate::config::Priority;
use crate::timefmt::{parse_rfc3339, rfc3339};

/// `PRAGMA application_id` of a loa ledger: "loa\0".
pub const APPLICATION_ID: i32 = 0x6C6F_6100;

/// How long a statement waits for another connection's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Migrations in order: `MIGRATIONS[n]` takes the schema from version `n` to
/// `n + 1`. Never edit a released entry; append a new one.
const MIGRATIONS: &[&str] = &[
    // v1
    "CREATE TABLE airtime (
        id              INTEGER PRIMARY KEY,
        occurrence      TEXT NOT NULL,
        bulletin        TEXT NOT NULL,
        title           TEXT NOT NULL,
        campaign        TEXT,
        program         TEXT,
        priority        TEXT NOT NULL CHECK (priority IN ('normal', 'priority', 'emergency')),
        source          TEXT NOT NULL CHECK (source IN ('schedule', 'operator', 'emergency')),
        file            TEXT NOT NULL,
        scheduled_at    TEXT NOT NULL,
        started_at      TEXT,
        ended_at        TEXT,
        planned_seconds REAL NOT NULL,
        aired_seconds   REAL NOT NULL DEFAULT 0,
        outcome         TEXT CHECK (outcome IN ('completed', 'interrupted', 'failed', 'missed', 'skipped')),
        reason          TEXT,
        requested_by    TEXT,
        scheduled_ms    INTEGER NOT NULL
    );
    CREATE INDEX airtime_occurrence ON airtime (occurrence);
    CREATE INDEX airtime_scheduled ON airtime (scheduled_ms);
    CREATE INDEX airtime_report ON airtime (campaign, bulletin, outcome, scheduled_ms, aired_seconds);
    CREATE TABLE audit (
        id     INTEGER PRIMARY KEY,
        at     TEXT NOT NULL,
        at_ms  INTEGER NOT NULL,
        who    TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL,
        result TEXT NOT NULL
    );
    CREATE INDEX audit_at ON audit (at_ms);
    CREATE TABLE state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );",
];

/// `state` key: the instant up to which the daemon has decided the plan.
const DECIDED_UNTIL: &str = "decided_until";

/// The schema version this loa writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The reason written on rows a crash or power cut left open.
pub const DAEMON_STOPPED: &str = "daemon stopped";

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// What kind of trouble the ledger is in; callers may react differently
/// (e.g. keep airing but alarm on `DiskFull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file or its directory cannot be written.
    ReadOnly,
    /// Another process holds a lock longer than [`BUSY_TIMEOUT`].
    Locked,
    DiskFull,
    /// The path cannot hold a file: it is a directory, or a part of it is a
    /// regular file.
    BadPath,
    /// Not a SQLite file, or a SQLite file of another program.
    NotALedger,
    /// Written by a newer loa.
    TooNew,
    Corrupt,
    /// Opening for reading and there is no file.
    Missing,
    /// `progress`/`finish` on a row that is not open.
    NoSuchRow,
    Io,
    Other,
}

/// A ledger failure: what loa was doing, on which file, why, and what to do.
#[derive(Debug)]
pub struct LedgerError {
    pub kind: ErrorKind,
    pub path: PathBuf,
    /// What loa was doing, e.g. "record the start of an airing".
    pub action: &'static str,
    /// The cause as SQLite or the OS put it, or a precise detail.
    pub cause: String,
}

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

impl LedgerError {
    fn new(kind: ErrorKind, path: &Path, action: &'static str, cause: impl Into<String>) -> Self {
        LedgerError {
            kind,
            path: path.to_path_buf(),
            action,
            cause: cause.into(),
        }
    }

    fn sqlite(path: &Path, action: &'static str, e: rusqlite::Error) -> Self {
        let kind = match e.sqlite_error_code() {
            Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen) => {
                ErrorKind::ReadOnly
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => ErrorKind::Locked,
            Some(ErrorCode::DiskFull) => ErrorKind::DiskFull,
            Some(ErrorCode::NotADatabase) => ErrorKind::NotALedger,
            Some(ErrorCode::DatabaseCorrupt) => ErrorKind::Corrupt,
            Some(ErrorCode::SystemIoFailure) => ErrorKind::Io,
            _ => ErrorKind::Other,
        };
        LedgerError::new(kind, path, action, e.to_string())
    }

    fn io(path: &Path, action: &'static str, e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::PermissionDenied | K::ReadOnlyFilesystem => ErrorKind::ReadOnly,
            K::StorageFull => ErrorKind::DiskFull,
            K::NotADirectory | K::AlreadyExists | K::IsADirectory => ErrorKind::BadPath,
            _ => ErrorKind::Io,
        };
        LedgerError::new(kind, path, action, e.to_string())
    }
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        let dir = self
            .path
            .parent()
            .map_or_else(|| ".".into(), |d| d.display().to_string());
        let (what, help) = match self.kind {
            ErrorKind::ReadOnly => (
                "the file or its directory is read-only or not writable by this user".to_string(),
                format!(
                    "make {dir} writable by the user running loa (e.g. `chown -R loa {dir}`), \
                     or set data_dir in the station file to a writable directory; if the disk \
                     was remounted read-only after errors, look at `dmesg`"
                ),
            ),
            ErrorKind::Locked => (
                format!(
                    "another process kept it locked for more than {} s",
                    BUSY_TIMEOUT.as_secs()
                ),
                "is a second loa daemon running for this station, or a `sqlite3` session with \
                 an open transaction? Stop it, then retry"
                    .to_string(),
            ),
            ErrorKind::DiskFull => (
                "the disk is full".to_string(),
                format!(
                    "free space on the disk holding {dir}; airtime cannot be recorded until then"
                ),
            ),
            ErrorKind::BadPath => (
                "that path cannot hold the ledger file".to_string(),
                "data_dir in the station file must name a directory (loa creates it when \
                 missing); a file with that name or a part of it is in the way"
                    .to_string(),
            ),
            ErrorKind::NotALedger => (
                "this file is not a loa airtime ledger".to_string(),
                "loa never modifies a file it did not create: move that file away, or set \
                 data_dir in the station file to loa's own directory"
                    .to_string(),
            ),
            ErrorKind::TooNew => (
                "it was written by a newer version of loa".to_string(),
                "upgrade loa on this machine; a ledger cannot go back to an older loa".to_string(),
            ),
            ErrorKind::Corrupt => (
                "the database file is damaged".to_string(),
                format!(
                    "stop loa, keep a copy of the file, then run \
                     `sqlite3 {path} .recover | sqlite3 recovered.db` and put recovered.db \
                     in its place"
                ),
            ),
            ErrorKind::Missing => (
                "there is no ledger at this path yet".to_string(),
                "the daemon creates it the first time it runs; check data_dir in the station file"
                    .to_string(),
            ),
            ErrorKind::NoSuchRow => (
                "no airing with that id is open (never begun, or already finished)".to_string(),
                "this is a bug in loa; please report it with the log".to_string(),
            ),
            ErrorKind::Io => (
                "the operating system reported an I/O error".to_string(),
                "check the disk or SD card (`dmesg`, `smartctl`); it may be failing".to_string(),
            ),
            ErrorKind::Other => (
                "SQLite refused the operation".to_string(),
                "run with RUST_LOG=debug and report the error with the log".to_string(),
            ),
        };
        write!(
            f,
            "cannot {}: airtime ledger {path}: {what} ({})\n  help: {help}",
            self.action, self.cause
        )
    }
}

impl std::error::Error for LedgerError {}

// ---------------------------------------------------------------------------
// Row types
// ---------------------------------------------------------------------------

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
    /// Deliberately not aired (quiet hours, disabled, already aired).
    Skipped,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Completed,
        Outcome::Interrupted,
        Outcome::Failed,
        Outcome::Missed,
        Outcome::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Interrupted => "interrupted",
            Outcome::Failed => "failed",
            Outcome::Missed => "missed",
            Outcome::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Schedule => "schedule",
            Source::Operator => "operator",
            Source::Emergency => "emergency",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        [Source::Schedule, Source::Operator, Source::Emergency]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the engine knows about an occurrence before it airs.
#[derive(Debug, Clone, PartialEq)]
pub struct Airing {
    /// Item id + `@` + scheduled instant; see [`occurrence_key`].
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

/// The stable key of an occurrence: `item@instant`, the instant in RFC 3339
/// with the station's offset, so the same occurrence gets the same key in
/// every run of the daemon.
pub fn occurrence_key(item: &str, scheduled_at: DateTime<Utc>, tz: Tz) -> String {
    format!("{item}@{}", rfc3339(scheduled_at, tz))
}

/// A closed row written in bulk: imports, tests and benchmarks.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    pub airing: Airing,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub aired_seconds: f64,
    pub outcome: Outcome,
    pub reason: Option<String>,
}

/// One row of `airtime`, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AirtimeRow {
    pub id: i64,
    pub occurrence: String,
    pub bulletin: String,
    pub title: String,
    pub campaign: Option<String>,
    pub program: Option<String>,
    #[serde(serialize_with = "serialize_priority")]
    pub priority: Priority,
    pub source: Source,
    pub file: String,
    pub scheduled_at: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub planned_seconds: f64,
    pub aired_seconds: f64,
    /// `None` while airing.
    pub outcome: Option<Outcome>,
    pub reason: Option<String>,
    pub requested_by: Option<String>,
}

fn serialize_priority<S: Serializer>(p: &Priority, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(p.as_str())
}

/// One row of `audit`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub who: String,
    pub action: String,
    pub detail: String,
    pub result: String,
}

/// Which rows: `scheduled_at` in `[from, to)`, optionally one campaign.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// A campaign id; rows of other campaigns and of none are left out.
    pub campaign: Option<String>,
}

impl Filter {
    fn bounds(&self) -> (i64, i64) {
        (
            self.from.map_or(i64::MIN, |t| t.timestamp_millis()),
            self.to.map_or(i64::MAX, |t| t.timestamp_millis()),
        )
    }
}

/// Sums over the rows of one (campaign, bulletin) pair, computed in SQL for
/// `crate::report`.
#[derive(Debug, Clone, PartialEq)]
pub struct BulletinTotals {
    pub campaign: Option<String>,
    pub bulletin: String,
    /// Title of the latest row of that bulletin.
    pub title: String,
    pub plays: u64,
    pub completed: u64,
    pub interrupted: u64,
    pub failed: u64,
    pub missed: u64,
    pub skipped: u64,
    pub aired_seconds: f64,
}

// ---------------------------------------------------------------------------
// The ledger
// ---------------------------------------------------------------------------

/// An open ledger. One connection; not `Sync`: the daemon owns it from one
/// task (or behind a mutex).
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    tz: Tz,
    recovered: usize,
}

/// How [`Ledger::airtime_totals`] walks the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TotalsPlan {
    /// Scan `airtime_report`, already in group order.
    GroupOrder,
    /// Seek the time range in `airtime_scheduled`, then sort to group.
    TimeRange,
}

/// The part of a row that depends on how far the airing got.
#[derive(Default)]
struct Closing<'a> {
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    aired_seconds: f64,
    outcome: Option<Outcome>,
    reason: Option<&'a str>,
}

const ROW_COLUMNS: &str = "id, occurrence, bulletin, title, campaign, program, priority, source, \
     file, scheduled_at, started_at, ended_at, planned_seconds, aired_seconds, outcome, reason, \
     requested_by";

impl Ledger {
    /// Open the ledger for writing, creating it (and its directory) when
    /// missing, migrating it to [`SCHEMA_VERSION`], then closing rows that a
    /// crash or power cut left open (outcome NULL) as `interrupted`, reason
    /// "daemon stopped", ended at `started_at + aired_seconds` — the last
    /// checkpoint, the fairest account of what aired.
    ///
    /// Only the daemon may call this: a second process would close the rows
    /// the running daemon is airing. Readers use [`Ledger::open_read_only`].
    pub fn open(path: &Path, tz: Tz) -> Result<Ledger> {
        if path.is_dir() {
            return Err(LedgerError::new(
                ErrorKind::BadPath,
                path,
                "open the ledger",
                "it is a directory",
            ));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| LedgerError::io(path, "create the ledger's directory", e))?;
        }
        let conn =
            Connection::open(path).map_err(|e| LedgerError::sqlite(path, "open the ledger", e))?;
        let mut ledger = Ledger {
            conn,
            path: path.to_path_buf(),
            tz,
            recovered: 0,
        };
        ledger.configure()?;
        ledger.check_identity()?;
        ledger.set_durability()?;
        ledger.migrate()?;
        ledger.recovered = ledger.close_open_rows()?;
        if ledger.recovered > 0 {
            tracing::warn!(
                ledger = %path.display(),
                rows = ledger.recovered,
                "closed airings left open by a previous run as interrupted (\"{DAEMON_STOPPED}\")"
            );
        }
        Ok(ledger)
    }

    /// Open an existing ledger for reading only (`loa report`, `loa
    /// airtime`): never creates, migrates or recovers anything, so it is safe
    /// while the daemon runs.
    pub fn open_read_only(path: &Path, tz: Tz) -> Result<Ledger> {
        if !path.exists() {
            return Err(LedgerError::new(
                ErrorKind::Missing,
                path,
                "open the ledger",
                "no such file",
            ));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| LedgerError::sqlite(path, "open the ledger", e))?;
        let ledger = Ledger {
            conn,
            path: path.to_path_buf(),
            tz,
            recovered: 0,
        };
        ledger.configure()?;
        ledger.check_identity()?;
        let version = ledger.user_version()?;
        if version > SCHEMA_VERSION {
            return Err(ledger.too_new(version));
        }
        if version < SCHEMA_VERSION {
            return Err(LedgerError::new(
                ErrorKind::Missing,
                path,
                "open the ledger",
                format!(
                    "schema version {version}, this loa reads {SCHEMA_VERSION}; \
                     start the daemon once so it migrates the file"
                ),
            ));
        }
        Ok(ledger)
    }

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

    fn configure(&self) -> Result<()> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(self.err("open the ledger"))
    }

    fn user_version(&self) -> Result<i64> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(self.err("read the ledger's schema version"))
    }

    fn too_new(&self, version: i64) -> LedgerError {
        LedgerError::new(
            ErrorKind::TooNew,
            &self.path,
            "open the ledger",
            format!("schema version {version}, this loa knows up to {SCHEMA_VERSION}"),
        )
    }

    /// Refuse anything that is not empty and not ours: reading the header
    /// is the first access, so a non-SQLite file fails here with NOTADB.
    fn check_identity(&self) -> Result<()> {
        let action = "open the ledger";
        let app_id: i32 = self
            .conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(|e| {
                let mut err = LedgerError::sqlite(&self.path, action, e);
                if err.kind == ErrorKind::NotALedger {
                    err.cause = "it is not a SQLite database".into();
                }
                err
            })?;
        if app_id == APPLICATION_ID {
            return Ok(());
        }
        if app_id != 0 {
            return Err(LedgerError::new(
                ErrorKind::NotALedger,
                &self.path,
                action,
                format!("it is a SQLite database of another program (application_id {app_id:#x})"),
            ));
        }
        let tables: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare("SELECT name FROM sqlite_master ORDER BY name")
                .map_err(self.err(action))?;
            let names = stmt
                .query_map([], |r| r.get(0))
                .map_err(self.err(action))?
                .collect::<rusqlite::Result<_>>()
                .map_err(self.err(action))?;
            names
        };
        if tables.is_empty() {
            Ok(())
        } else {
            Err(LedgerError::new(
                ErrorKind::NotALedger,
                &self.path,
                action,
                format!(
                    "it is a SQLite database of another program (tables: {})",
                    tables.join(", ")
                ),
            ))
        }
    }

    fn set_durability(&self) -> Result<()> {
        let action = "set up the ledger";
        let mode: String = self
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(self.err(action))?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Some file systems (network mounts) cannot do WAL; the ledger
            // still works, readers just block the writer briefly.
            tracing::warn!(ledger = %self.path.display(), %mode, "WAL journal mode unavailable");
        }
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(self.err(action))?;
        // After a checkpoint, cut the WAL back to 4 MB: a burst of writes
        // (an import) must not leave a large file on a small SD card.
        self.conn
            .pragma_update(None, "journal_size_limit", 4 * 1024 * 1024)
            .map_err(self.err(action))
    }

    fn migrate(&mut self) -> Result<()> {
        let action = "migrate the ledger";
        let version = self.user_version()?;
        if version > SCHEMA_VERSION {
            return Err(self.too_new(version));
        }
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        // IMMEDIATE takes the write lock first, so two processes opening a
        // fresh file cannot both run the migrations; re-read under the lock.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| LedgerError::sqlite(&self.path, action, e))?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| LedgerError::sqlite(&self.path, action, e))?;
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(sql)
                .map_err(|e| LedgerError::sqlite(&self.path, action, e))?;
            tx.pragma_update(None, "user_version", n as i64 + 1)
                .map_err(|e| LedgerError::sqlite(&self.path, action, e))?;
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(|e| LedgerError::sqlite(&self.path, action, e))?;
        tx.commit()
            .map_err(|e| LedgerError::sqlite(&self.path, action, e))?;
        if version < SCHEMA_VERSION {
            tracing::info!(
                ledger = %self.path.display(),
                from = version,
                to = SCHEMA_VERSION,
                "ledger schema migrated"
            );
        }
        Ok(())
    }

    fn close_open_rows(&mut self) -> Result<usize> {
        let action = "close airings left open by a previous run";
        let tz = self.tz;
        let path = self.path.clone();
        let sq = |e| LedgerError::sqlite(&path, action, e);
        let tx = self.conn.transaction().map_err(sq)?;
        let open: Vec<(i64, Option<String>, f64)> = {
            let mut stmt = tx
                .prepare("SELECT id, started_at, aired_seconds FROM airtime WHERE outcome IS NULL")
                .map_err(sq)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(sq)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sq)?;
            rows
        };
        for (id, started, aired) in &open {
            let ended = started.as_deref().and_then(parse_rfc3339).map(|s| {
                rfc3339(
                    s + chrono::Duration::milliseconds((aired * 1000.0).round() as i64),
                    tz,
                )
            });
            tx.execute(
                "UPDATE airtime SET outcome = 'interrupted', reason = ?2, ended_at = ?3 \
                 WHERE id = ?1",
                params![id, DAEMON_STOPPED, ended],
            )
            .map_err(sq)?;
        }
        tx.commit().map_err(sq)?;
        Ok(open.len())
    }

    fn insert(conn: &Connection, tz: Tz, a: &Airing, end: Closing) -> rusqlite::Result<i64> {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO airtime (occurrence, bulletin, title, campaign, program, priority, \
             source, file, scheduled_at, started_at, ended_at, planned_seconds, aired_seconds, \
             outcome, reason, requested_by, scheduled_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )?;
        stmt.insert(params![
            a.occurrence,
            a.bulletin,
            a.title,
            a.campaign,
            a.program,
            a.priority.as_str(),
            a.source.as_str(),
            a.file,
            rfc3339(a.scheduled_at, tz),
            end.started_at.map(|t| rfc3339(t, tz)),
            end.ended_at.map(|t| rfc3339(t, tz)),
            a.planned_seconds,
            end.aired_seconds,
            end.outcome.map(Outcome::as_str),
            end.reason,
            a.requested_by,
            a.scheduled_at.timestamp_millis(),
        ])
    }

    /// Write the row of an item that has just started: outcome NULL until
    /// [`Ledger::finish`]. Returns the row id.
    pub fn begin(&mut self, a: &Airing, started_at: DateTime<Utc>) -> Result<i64> {
        let end = Closing {
            started_at: Some(started_at),
            ..Closing::default()
        };
        Self::insert(&self.conn, self.tz, a, end).map_err(self.err("record the start of an airing"))
    }

    /// Checkpoint the seconds aired so far, so a crash leaves a fair count.
    pub fn progress(&mut self, id: i64, aired_seconds: f64) -> Result<()> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE airtime SET aired_seconds = ?2 WHERE id = ?1 AND outcome IS NULL",
            )
            .and_then(|mut s| s.execute(params![id, aired_seconds]))
            .map_err(self.err("checkpoint airtime"))?;
        self.expect_one(n, id, "checkpoint airtime")
    }

    /// Close the row `begin` wrote.
    pub fn finish(
        &mut self,
        id: i64,
        ended_at: DateTime<Utc>,
        aired_seconds: f64,
        outcome: Outcome,
        reason: Option<&str>,
    ) -> Result<()> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE airtime SET ended_at = ?2, aired_seconds = ?3, outcome = ?4, reason = ?5 \
                 WHERE id = ?1 AND outcome IS NULL",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    rfc3339(ended_at, self.tz),
                    aired_seconds,
                    outcome.as_str(),
                    reason
                ])
            })
            .map_err(self.err("record the end of an airing"))?;
        self.expect_one(n, id, "record the end of an airing")
    }

    fn expect_one(&self, n: usize, id: i64, action: &'static str) -> Result<()> {
        if n == 1 {
            Ok(())
        } else {
            Err(LedgerError::new(
                ErrorKind::NoSuchRow,
                &self.path,
                action,
                format!("row {id}"),
            ))
        }
    }

    /// Write a closed row for an occurrence that never started: missed,
    /// skipped, or failed before any audio went out.
    pub fn record(&mut self, a: &Airing, outcome: Outcome, reason: Option<&str>) -> Result<i64> {
        let end = Closing {
            outcome: Some(outcome),
            reason,
            ..Closing::default()
        };
        Self::insert(&self.conn, self.tz, a, end)
            .map_err(self.err("record an occurrence that did not air"))
    }

    /// Write many closed rows in one transaction (one fsync instead of one
    /// per row). Returns how many were written.
    pub fn record_all(&mut self, rows: impl IntoIterator<Item = Settled>) -> Result<usize> {
        let action = "record airings in bulk";
        let tz = self.tz;
        let path = self.path.clone();
        let sq = |e| LedgerError::sqlite(&path, action, e);
        let tx = self.conn.transaction().map_err(sq)?;
        let mut n = 0;
        for s in rows {
            let end = Closing {
                started_at: s.started_at,
                ended_at: s.ended_at,
                aired_seconds: s.aired_seconds,
                outcome: Some(s.outcome),
                reason: s.reason.as_deref(),
            };
            Self::insert(&tx, tz, &s.airing, end).map_err(sq)?;
            n += 1;
        }
        tx.commit().map_err(sq)?;
        Ok(n)
    }

    /// Has this occurrence aired to the end? Playout asks before airing so
    /// nothing airs twice, even across restarts.
    pub fn has_completed(&self, occurrence: &str) -> Result<bool> {
        self.conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM airtime \
                 WHERE occurrence = ?1 AND outcome = 'completed')",
            )
            .and_then(|mut s| s.query_row([occurrence], |r| r.get(0)))
            .map_err(self.err("look up an occurrence"))
    }

    /// The last outcome (by row id) of each occurrence scheduled at or after
    /// `since`, for the engine to load once at start-up. Rows still airing
    /// are left out; after [`Ledger::open`] there are none.
    pub fn settled_since(&self, since: DateTime<Utc>) -> Result<HashMap<String, Outcome>> {
        let action = "load settled occurrences";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT occurrence, outcome FROM airtime \
                 WHERE scheduled_ms >= ?1 AND outcome IS NOT NULL ORDER BY id",
            )
            .map_err(self.err(action))?;
        let mut rows = stmt
            .query([since.timestamp_millis()])
            .map_err(self.err(action))?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next().map_err(self.err(action))? {
            let occ: String = r.get(0).map_err(self.err(action))?;
            let outcome: String = r.get(1).map_err(self.err(action))?;
            out.insert(occ, self.parse_outcome(&outcome, action)?);
        }
        Ok(out)
    }

    fn parse_outcome(&self, s: &str, action: &'static str) -> Result<Outcome> {
        Outcome::parse(s).ok_or_else(|| {
            LedgerError::new(
                ErrorKind::Corrupt,
                &self.path,
                action,
                format!("unknown outcome `{s}`"),
            )
        })
    }

    /// Rows scheduled in `[from, to)`, optionally of one campaign, ordered by
    /// scheduled time then id.
    pub fn rows(&self, f: &Filter) -> Result<Vec<AirtimeRow>> {
        let action = "list airtime";
        let (from, to) = f.bounds();
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM airtime \
                 WHERE scheduled_ms >= ?1 AND scheduled_ms < ?2 \
                   AND (?3 IS NULL OR campaign = ?3) \
                 ORDER BY scheduled_ms, id"
            ))
            .map_err(self.err(action))?;
        let rows = stmt
            .query_map(params![from, to, f.campaign], row_from_sql)
            .map_err(self.err(action))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| {
                let mut err = LedgerError::sqlite(&self.path, action, e);
                if err.kind == ErrorKind::Other {
                    // A value the CHECK constraints should have kept out.
                    err.kind = ErrorKind::Corrupt;
                }
                err
            })?;
        Ok(rows)
    }

    /// Per (campaign, bulletin) sums over the rows `f` selects, aggregated by
    /// SQLite so a year of airtime reports in milliseconds. Ordered by
    /// campaign (NULL first), then bulletin.
    pub fn airtime_totals(&self, f: &Filter) -> Result<Vec<BulletinTotals>> {
        let plan = self.totals_plan(f)?;
        self.airtime_totals_with(f, plan)
    }

    /// Which index sums `f` fastest. SQLite without STAT4 cannot tell how
    /// many rows a range holds and takes `airtime_scheduled` for any
    /// two-sided range, which then needs a sort of every row in it: fine for
    /// a week, five times slower than scanning `airtime_report` in group
    /// order for a year. Rows are spread fairly evenly over time, so the
    /// share of the ledger's time span the range covers is a good estimate.
    fn totals_plan(&self, f: &Filter) -> Result<TotalsPlan> {
        if f.campaign.is_some() || (f.from.is_none() && f.to.is_none()) {
            return Ok(TotalsPlan::GroupOrder);
        }
        let (lo, hi): (Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT min(scheduled_ms), max(scheduled_ms) FROM airtime",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err("sum airtime"))?;
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return Ok(TotalsPlan::GroupOrder);
        };
        let (from, to) = f.bounds();
        let covered = (to.min(hi + 1) as f64 - from.max(lo) as f64).max(0.0);
        let span = (hi + 1 - lo) as f64;
        Ok(if covered / span < 0.15 {
            TotalsPlan::TimeRange
        } else {
            TotalsPlan::GroupOrder
        })
    }

    fn airtime_totals_with(&self, f: &Filter, plan: TotalsPlan) -> Result<Vec<BulletinTotals>> {
        let action = "sum airtime";
        let (from, to) = f.bounds();
        let index = match plan {
            TotalsPlan::GroupOrder => "airtime_report",
            TotalsPlan::TimeRange => "airtime_scheduled",
        };
        // One group per outcome, so the counts are plain count(*) and the
        // covering index answers everything; titles are fetched afterwards
        // for the few hundred bulletins rather than read for every row.
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT campaign, bulletin, outcome, max(id), count(*), total(aired_seconds) \
                 FROM airtime INDEXED BY {index} \
                 WHERE scheduled_ms >= ?1 AND scheduled_ms < ?2 \
                   AND (?3 IS NULL OR campaign = ?3) \
                 GROUP BY campaign, bulletin, outcome \
                 ORDER BY campaign, bulletin, outcome"
            ))
            .map_err(self.err(action))?;
        let mut rows = stmt
            .query(params![from, to, f.campaign])
            .map_err(self.err(action))?;
        let mut out: Vec<BulletinTotals> = Vec::new();
        let mut latest: Vec<i64> = Vec::new();
        while let Some(r) = rows.next().map_err(self.err(action))? {
            let get = |r: &Row| -> rusqlite::Result<_> {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, f64>(5)?,
                ))
            };
            let (campaign, bulletin, outcome, max_id, count, aired) =
                get(r).map_err(self.err(action))?;
            let same = out
                .last()
                .is_some_and(|t| t.campaign == campaign && t.bulletin == bulletin);
            if !same {
                out.push(BulletinTotals {
                    campaign,
                    bulletin,
                    title: String::new(),
                    plays: 0,
                    completed: 0,
                    interrupted: 0,
                    failed: 0,
                    missed: 0,
                    skipped: 0,
                    aired_seconds: 0.0,
                });
                latest.push(max_id);
            }
            let t = out.last_mut().expect("pushed above");
            let last = latest.last_mut().expect("pushed above");
            *last = (*last).max(max_id);
            let count = count.max(0) as u64;
            t.plays += count;
            t.aired_seconds += aired;
            match outcome
                .as_deref()
                .map(|o| self.parse_outcome(o, action))
                .transpose()?
            {
                None => {}
                Some(Outcome::Completed) => t.completed += count,
                Some(Outcome::Interrupted) => t.interrupted += count,
                Some(Outcome::Failed) => t.failed += count,
                Some(Outcome::Missed) => t.missed += count,
                Some(Outcome::Skipped) => t.skipped += count,
            }
        }
        let mut title = self
            .conn
            .prepare_cached("SELECT title FROM airtime WHERE id = ?1")
            .map_err(self.err(action))?;
        for (t, id) in out.iter_mut().zip(latest) {
            t.title = title
                .query_row([id], |r| r.get(0))
                .map_err(self.err(action))?;
        }
        Ok(out)
    }

    /// Record a control action taken through the API, at the current time.
    pub fn audit(&mut self, who: &str, action: &str, detail: &str, result: &str) -> Result<()> {
        self.audit_at(Utc::now(), who, action, detail, result)
    }

    /// [`Ledger::audit`] at a given instant.
    pub fn audit_at(
        &mut self,
        at: DateTime<Utc>,
        who: &str,
        action: &str,
        detail: &str,
        result: &str,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO audit (at, at_ms, who, action, detail, result) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    rfc3339(at, self.tz),
                    at.timestamp_millis(),
                    who,
                    action,
                    detail,
                    result
                ])
            })
            .map_err(self.err("record a control action"))?;
        Ok(())
    }

    /// Audit rows in `[from, to)`, oldest first.
    pub fn audit_rows(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<AuditRow>> {
        let action = "list control actions";
        let f = Filter {
            from,
            to,
            campaign: None,
        };
        let (from, to) = f.bounds();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, at, who, action, detail, result FROM audit \
                 WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY at_ms, id",
            )
            .map_err(self.err(action))?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                Ok(AuditRow {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    who: r.get(2)?,
                    action: r.get(3)?,
                    detail: r.get(4)?,
                    result: r.get(5)?,
                })
            })
            .map_err(self.err(action))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err(action))?;
        Ok(rows)
    }

    /// The instant up to which the daemon decided the plan, if it ever ran.
    pub fn last_alive(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .state(DECIDED_UNTIL)?
            .as_deref()
            .and_then(parse_rfc3339))
    }

    /// Save the instant up to which the daemon decided the plan.
    pub fn set_last_alive(&mut self, at: DateTime<Utc>) -> Result<()> {
        self.set_state(DECIDED_UNTIL, Some(&rfc3339(at, self.tz)))
    }

    /// A value of the daemon's own bookkeeping (table `state`).
    pub fn state(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM state WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(self.err("read the daemon's bookkeeping"))
    }

    /// Set (or with `None`, remove) a value of the daemon's bookkeeping.
    pub fn set_state(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        let r = match value {
            Some(v) => self
                .conn
                .prepare_cached(
                    "INSERT INTO state (key, value) VALUES (?1, ?2) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .and_then(|mut s| s.execute(params![key, v])),
            None => self
                .conn
                .prepare_cached("DELETE FROM state WHERE key = ?1")
                .and_then(|mut s| s.execute([key])),
        };
        r.map_err(self.err("save the daemon's bookkeeping"))?;
        Ok(())
    }

    /// SQLite's own consistency check: `"ok"`, or the problems it found, one
    /// per line.
    pub fn integrity_check(&self) -> Result<String> {
        let action = "check the ledger's integrity";
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(self.err(action))?;
        let lines = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.err(action))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err(action))?;
        Ok(lines.join("\n"))
    }
}

fn row_from_sql(r: &Row) -> rusqlite::Result<AirtimeRow> {
    let bad = |i: usize, what: &str, v: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown {what} `{v}`").into(),
        )
    };
    let priority: String = r.get(6)?;
    let source: String = r.get(7)?;
    let outcome: Option<String> = r.get(14)?;
    Ok(AirtimeRow {
        id: r.get(0)?,
        occurrence: r.get(1)?,
        bulletin: r.get(2)?,
        title: r.get(3)?,
        campaign: r.get(4)?,
        program: r.get(5)?,
        priority: Priority::parse(&priority).ok_or_else(|| bad(6, "priority", &priority))?,
        source: Source::parse(&source).ok_or_else(|| bad(7, "source", &source))?,
        file: r.get(8)?,
        scheduled_at: r.get(9)?,
        started_at: r.get(10)?,
        ended_at: r.get(11)?,
        planned_seconds: r.get(12)?,
        aired_seconds: r.get(13)?,
        outcome: match outcome {
            None => None,
            Some(o) => Some(Outcome::parse(&o).ok_or_else(|| bad(14, "outcome", &o))?),
        },
        reason: r.get(15)?,
        requested_by: r.get(16)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        // Local 2026-10-07 h:m, UTC+7.
        TZ.with_ymd_and_hms(2026, 10, 7, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn airing(bulletin: &str, campaign: Option<&str>, when: DateTime<Utc>) -> Airing {
        Airing {
            occurrence: occurrence_key(bulletin, when, TZ),
            bulletin: bulletin.into(),
            title: format!("Bản tin {bulletin}"),
            campaign: campaign.map(Into::into),
            program: None,
            priority: Priority::Normal,
            source: Source::Schedule,
            file: format!("{bulletin}.mp3"),
            scheduled_at: when,
            planned_seconds: 120.0,
            requested_by: None,
        }
    }

    fn fresh() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("nested").join("airtime.db");
        (dir, path)
    }

    #[test]
    fn open_creates_file_directories_and_schema() {
        let (_dir, path) = fresh();
        let ledger = Ledger::open(&path, TZ).unwrap();
        assert!(path.exists());
        assert_eq!(ledger.user_version().unwrap(), SCHEMA_VERSION);
        let mode: String = ledger
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let app: i32 = ledger
            .conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        assert_eq!(app, APPLICATION_ID);
        assert_eq!(ledger.integrity_check().unwrap(), "ok");
        assert_eq!(ledger.recovered_on_open(), 0);
    }

    #[test]
    fn begin_progress_finish_and_reopen_keeps_rows() {
        let (_dir, path) = fresh();
        let a = airing("b1", Some("c1"), at(6, 15));
        {
            let mut ledger = Ledger::open(&path, TZ).unwrap();
            let id = ledger.begin(&a, at(6, 15)).unwrap();
            assert!(!ledger.has_completed(&a.occurrence).unwrap());
            ledger.progress(id, 60.0).unwrap();
            let open = &ledger.rows(&Filter::default()).unwrap()[0];
            assert_eq!(open.outcome, None);
            assert_eq!(open.aired_seconds, 60.0);
            ledger
                .finish(id, at(6, 17), 120.0, Outcome::Completed, None)
                .unwrap();
            // A finished row cannot be finished or checkpointed again.
            let e = ledger.progress(id, 1.0).unwrap_err();
            assert_eq!(e.kind, ErrorKind::NoSuchRow);
        }
        let ledger = Ledger::open(&path, TZ).unwrap();
        assert_eq!(ledger.recovered_on_open(), 0);
        let rows = ledger.rows(&Filter::default()).unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.occurrence, "b1@2026-10-07T06:15:00.000+07:00");
        assert_eq!(r.scheduled_at, "2026-10-07T06:15:00.000+07:00");
        assert_eq!(
            r.started_at.as_deref(),
            Some("2026-10-07T06:15:00.000+07:00")
        );
        assert_eq!(r.ended_at.as_deref(), Some("2026-10-07T06:17:00.000+07:00"));
        assert_eq!(r.outcome, Some(Outcome::Completed));
        assert_eq!(r.aired_seconds, 120.0);
        assert_eq!(r.campaign.as_deref(), Some("c1"));
        assert!(ledger.has_completed(&a.occurrence).unwrap());
    }

    #[test]
    fn crash_leaves_open_row_which_reopen_closes_as_interrupted() {
        let (_dir, path) = fresh();
        let a = airing("b1", None, at(6, 15));
        {
            let mut ledger = Ledger::open(&path, TZ).unwrap();
            let id = ledger.begin(&a, at(6, 15)).unwrap();
            ledger.progress(id, 42.5).unwrap();
            // Dropped without finish: the daemon died.
        }
        let ledger = Ledger::open(&path, TZ).unwrap();
        assert_eq!(ledger.recovered_on_open(), 1);
        let r = &ledger.rows(&Filter::default()).unwrap()[0];
        assert_eq!(r.outcome, Some(Outcome::Interrupted));
        assert_eq!(r.reason.as_deref(), Some(DAEMON_STOPPED));
        assert_eq!(r.aired_seconds, 42.5);
        assert_eq!(r.ended_at.as_deref(), Some("2026-10-07T06:15:42.500+07:00"));
        assert!(!ledger.has_completed(&a.occurrence).unwrap());
        drop(ledger);
        assert_eq!(
            Ledger::open(&path, TZ).unwrap().recovered_on_open(),
            0,
            "recovery happens once"
        );
    }

    #[test]
    fn read_only_open_does_not_recover_rows_of_the_running_daemon() {
        let (_dir, path) = fresh();
        let mut daemon = Ledger::open(&path, TZ).unwrap();
        let id = daemon
            .begin(&airing("b1", None, at(6, 15)), at(6, 15))
            .unwrap();
        let reader = Ledger::open_read_only(&path, TZ).unwrap();
        assert_eq!(reader.rows(&Filter::default()).unwrap()[0].outcome, None);
        daemon
            .finish(id, at(6, 16), 60.0, Outcome::Completed, None)
            .unwrap();
        assert_eq!(
            reader.rows(&Filter::default()).unwrap()[0].outcome,
            Some(Outcome::Completed)
        );
    }

    #[test]
    fn read_only_open_of_a_missing_file_says_so() {
        let (_dir, path) = fresh();
        let e = Ledger::open_read_only(&path, TZ).err().unwrap();
        assert_eq!(e.kind, ErrorKind::Missing);
        assert!(!path.exists());
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("data_dir"), "{msg}");
    }

    #[test]
    fn record_and_settled_since() {
        let (_dir, path) = fresh();
        let mut ledger = Ledger::open(&path, TZ).unwrap();
        let early = airing("b0", None, at(5, 0));
        let a = airing("b1", None, at(6, 15));
        let b = airing("b2", None, at(6, 30));
        ledger
            .record(&early, Outcome::Missed, Some("late"))
            .unwrap();
        ledger
            .record(&a, Outcome::Failed, Some("file unreadable"))
            .unwrap();
        let id = ledger.begin(&a, at(6, 20)).unwrap();
        ledger
            .finish(id, at(6, 22), 120.0, Outcome::Completed, None)
            .unwrap();
        ledger
            .record(&b, Outcome::Skipped, Some("quiet hours"))
            .unwrap();
        ledger
            .begin(&airing("b3", None, at(7, 0)), at(7, 0))
            .unwrap();

        let r = &ledger.rows(&Filter::default()).unwrap()[0];
        assert_eq!(r.outcome, Some(Outcome::Missed));
        assert_eq!(r.reason.as_deref(), Some("late"));
        assert_eq!((r.started_at.as_ref(), r.ended_at.as_ref()), (None, None));
        assert_eq!(r.aired_seconds, 0.0);

        let settled = ledger.settled_since(at(6, 0)).unwrap();
        assert_eq!(settled.len(), 2, "{settled:?}");
        assert_eq!(settled[&a.occurrence], Outcome::Completed);
        assert_eq!(settled[&b.occurrence], Outcome::Skipped);
        assert!(ledger.has_completed(&a.occurrence).unwrap());
        assert!(!ledger.has_completed(&b.occurrence).unwrap());
    }

    #[test]
    fn filters_select_half_open_ranges_and_campaigns_in_order() {
        let (_dir, path) = fresh();
        let mut ledger = Ledger::open(&path, TZ).unwrap();
        // Inserted out of order: the listing orders by scheduled time.
        for (b, c, t) in [
            ("b3", Some("c2"), at(8, 0)),
            ("b1", Some("c1"), at(6, 0)),
            ("b2", None, at(7, 0)),
            ("b4", Some("c1"), at(9, 0)),
        ] {
            ledger
                .record(&airing(b, c, t), Outcome::Missed, None)
                .unwrap();
        }
        let ids = |f: Filter| -> Vec<String> {
            ledger
                .rows(&f)
                .unwrap()
                .into_iter()
                .map(|r| r.bulletin)
                .collect()
        };
        assert_eq!(ids(Filter::default()), ["b1", "b2", "b3", "b4"]);
        let window = Filter {
            from: Some(at(7, 0)),
            to: Some(at(9, 0)),
            campaign: None,
        };
        assert_eq!(ids(window), ["b2", "b3"]);
        let c1 = Filter {
            campaign: Some("c1".into()),
            ..Filter::default()
        };
        assert_eq!(ids(c1), ["b1", "b4"]);
    }

    #[test]
    fn both_ways_of_summing_agree_and_are_chosen_by_range_width() {
        let (_dir, path) = fresh();
        let mut ledger = Ledger::open(&path, TZ).unwrap();
        let day = |d: i64, h: u32| at(h, 0) + chrono::Duration::days(d);
        let mut rows = Vec::new();
        for d in 0..30 {
            for (i, outcome) in Outcome::ALL.into_iter().enumerate() {
                let b = ["b1", "b2", "b3"][(d as usize + i) % 3];
                let c = [Some("c1"), None, Some("c2")][(d as usize + 2 * i) % 3];
                let mut a = airing(b, c, day(d, 6 + i as u32));
                a.title = format!("{b} v{d}");
                rows.push(Settled {
                    airing: a,
                    started_at: None,
                    ended_at: None,
                    aired_seconds: (d * 10 + i as i64) as f64,
                    outcome,
                    reason: None,
                });
            }
        }
        ledger.record_all(rows).unwrap();
        // A row still airing counts as a play with no outcome.
        ledger
            .begin(&airing("b1", Some("c1"), day(29, 20)), day(29, 20))
            .unwrap();

        let filters = [
            Filter::default(),
            Filter {
                from: Some(day(3, 0)),
                to: Some(day(5, 0)),
                campaign: None,
            },
            Filter {
                from: Some(day(1, 0)),
                to: Some(day(28, 0)),
                campaign: None,
            },
            Filter {
                campaign: Some("c2".into()),
                ..Filter::default()
            },
        ];
        for f in &filters {
            let a = ledger
                .airtime_totals_with(f, TotalsPlan::GroupOrder)
                .unwrap();
            let b = ledger
                .airtime_totals_with(f, TotalsPlan::TimeRange)
                .unwrap();
            assert_eq!(a, b, "{f:?}");
            let rows = ledger.rows(f).unwrap();
            assert_eq!(a.iter().map(|t| t.plays).sum::<u64>(), rows.len() as u64);
            let aired: f64 = rows.iter().map(|r| r.aired_seconds).sum();
            assert_eq!(a.iter().map(|t| t.aired_seconds).sum::<f64>(), aired);
        }
        let all = ledger.airtime_totals(&Filter::default()).unwrap();
        let keys: Vec<_> = all
            .iter()
            .map(|t| (t.campaign.as_deref(), &*t.bulletin))
            .collect();
        assert_eq!(
            keys,
            [
                (None, "b1"),
                (None, "b2"),
                (None, "b3"),
                (Some("c1"), "b1"),
                (Some("c1"), "b2"),
                (Some("c1"), "b3"),
                (Some("c2"), "b1"),
                (Some("c2"), "b2"),
                (Some("c2"), "b3"),
            ]
        );
        let c1b1 = &all[3];
        // b1 in c1: d + i and d + 2i both divisible by 3, so i in {0, 3}
        // (completed, missed) and d in {0, 3, .., 27}: 10 days each.
        assert_eq!(c1b1.plays, 20 + 1);
        assert_eq!((c1b1.completed, c1b1.missed), (10, 10));
        assert_eq!(c1b1.interrupted + c1b1.failed + c1b1.skipped, 0);
        assert_eq!(c1b1.title, "Bản tin b1", "title of the latest row");
        assert_eq!(all[1].title, "b2 v28");

        assert_eq!(
            ledger.totals_plan(&filters[0]).unwrap(),
            TotalsPlan::GroupOrder
        );
        assert_eq!(
            ledger.totals_plan(&filters[1]).unwrap(),
            TotalsPlan::TimeRange
        );
        assert_eq!(
            ledger.totals_plan(&filters[2]).unwrap(),
            TotalsPlan::GroupOrder
        );
        assert_eq!(
            ledger.totals_plan(&filters[3]).unwrap(),
            TotalsPlan::GroupOrder
        );
    }

    #[test]
    fn audit_rows_in_range() {
        let (_dir, path) = fresh();
        let mut ledger = Ledger::open(&path, TZ).unwrap();
        ledger
            .audit_at(at(6, 0), "chu-tich", "stop", "", "ok")
            .unwrap();
        ledger
            .audit_at(at(7, 0), "van-thu", "queue", "b1", "queued")
            .unwrap();
        ledger.audit("van-thu", "pause", "", "ok").unwrap();
        let rows = ledger.audit_rows(Some(at(6, 30)), Some(at(8, 0))).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].at, "2026-10-07T07:00:00.000+07:00");
        assert_eq!(
            (rows[0].who.as_str(), rows[0].detail.as_str()),
            ("van-thu", "b1")
        );
        assert_eq!(ledger.audit_rows(None, None).unwrap().len(), 3);
    }

    #[test]
    fn an_empty_file_is_migrated() {
        let (_dir, path) = fresh();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"").unwrap();
        let mut ledger = Ledger::open(&path, TZ).unwrap();
        assert_eq!(ledger.user_version().unwrap(), SCHEMA_VERSION);
        ledger
            .record(&airing("b1", None, at(6, 0)), Outcome::Missed, None)
            .unwrap();
    }

    #[test]
    fn a_foreign_sqlite_file_is_refused_untouched() {
        let (_dir, path) = fresh();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('x');",
            )
            .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let e = Ledger::open(&path, TZ).err().unwrap();
        assert_eq!(e.kind, ErrorKind::NotALedger);
        let msg = e.to_string();
        assert!(msg.contains("not a loa airtime ledger"), "{msg}");
        assert!(msg.contains("contacts"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "file was modified");

        // Another program's marked database too.
        let other = path.with_file_name("other.db");
        Connection::open(&other)
            .unwrap()
            .pragma_update(None, "application_id", 1234)
            .unwrap();
        let e = Ledger::open(&other, TZ).err().unwrap();
        assert_eq!(e.kind, ErrorKind::NotALedger);
        assert!(e.to_string().contains("another program"), "{e}");
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_refused() {
        let (_dir, path) = fresh();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "[station]\nname = \"x\"\n".repeat(40)).unwrap();
        let e = Ledger::open(&path, TZ).err().unwrap();
        assert_eq!(e.kind, ErrorKind::NotALedger, "{e}");
        assert!(e.to_string().contains("not a SQLite database"), "{e}");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let (_dir, path) = fresh();
        drop(Ledger::open(&path, TZ).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let e = Ledger::open(&path, TZ).err().unwrap();
        assert_eq!(e.kind, ErrorKind::TooNew);
        assert!(e.to_string().contains("upgrade loa"), "{e}");
        let e = Ledger::open_read_only(&path, TZ).err().unwrap();
        assert_eq!(e.kind, ErrorKind::TooNew);
    }

    #[test]
    fn an_unwritable_directory_is_a_clear_error() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        // root ignores permission bits; then use sysfs, which refuses new
        // files even to root.
        let path = if std::fs::write(ro.join("probe"), b"").is_err() {
            ro.join("airtime.db")
        } else if Path::new("/sys/kernel").is_dir() {
            PathBuf::from("/sys/loa-test-airtime.db")
        } else {
            eprintln!("running as root without sysfs: cannot make an unwritable directory");
            return;
        };
        let e = Ledger::open(&path, TZ).err().unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(e.kind, ErrorKind::ReadOnly, "{e}");
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("not writable"), "{msg}");
        assert!(msg.contains("help: make"), "{msg}");
    }

    #[test]
    fn a_path_that_cannot_hold_a_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, b"").unwrap();
        let e = Ledger::open(&blocked.join("data").join("airtime.db"), TZ)
            .err()
            .unwrap();
        assert_eq!(e.kind, ErrorKind::BadPath, "{e}");
        assert!(
            e.to_string().contains("create the ledger's directory"),
            "{e}"
        );
        let e = Ledger::open(dir.path(), TZ).err().unwrap();
        assert_eq!(e.kind, ErrorKind::BadPath, "{e}");
        assert!(e.to_string().contains("it is a directory"), "{e}");
    }

    #[test]
    fn error_messages_name_file_cause_and_remedy() {
        let path = Path::new("/var/lib/loa/airtime.db");
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let e = LedgerError::sqlite(path, "record the start of an airing", full);
        assert_eq!(e.kind, ErrorKind::DiskFull);
        let msg = e.to_string();
        assert!(msg.starts_with("cannot record the start of an airing: airtime ledger /var/lib/loa/airtime.db: the disk is full"), "{msg}");
        assert!(
            msg.contains("free space on the disk holding /var/lib/loa"),
            "{msg}"
        );

        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        let e = LedgerError::sqlite(path, "open the ledger", busy);
        assert_eq!(e.kind, ErrorKind::Locked);
        assert!(e.to_string().contains("second loa daemon"), "{e}");
    }

    #[test]
    fn a_locked_ledger_times_out_with_a_clear_error() {
        let (_dir, path) = fresh();
        let mut ledger = Ledger::open(&path, TZ).unwrap();
        ledger.conn.busy_timeout(Duration::from_millis(50)).unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let e = ledger
            .record(&airing("b1", None, at(6, 0)), Outcome::Missed, None)
            .err()
            .unwrap();
        assert_eq!(e.kind, ErrorKind::Locked, "{e}");
        other.execute_batch("ROLLBACK").unwrap();
    }
}

#[cfg(test)]
mod state_tests {
    use super::*;

    #[test]
    fn last_alive_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airtime.db");
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let mut l = Ledger::open(&path, tz).unwrap();
        assert_eq!(l.last_alive().unwrap(), None);
        let t = DateTime::parse_from_rfc3339("2026-10-07T06:00:03.250+07:00")
            .unwrap()
            .with_timezone(&Utc);
        l.set_last_alive(t).unwrap();
        l.set_last_alive(t).unwrap();
        drop(l);
        let l = Ledger::open_read_only(&path, tz).unwrap();
        assert_eq!(l.last_alive().unwrap(), Some(t));
    }
}
