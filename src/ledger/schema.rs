//! The ledger file: its schema and migrations, durability, opening it, and
//! closing the rows a crash left open.
//!
//! # Schema (version 7)
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
//! | reason          | TEXT NULL | why it was not completed, in English, for people reading the file with `sqlite3`; loa reads the code |
//! | requested_by    | TEXT NULL | API token name of the operator who queued it |
//! | scheduled_ms    | INTEGER   | `scheduled_at` as UTC epoch milliseconds; indexed, for range queries |
//! | reason_code     | TEXT NULL | (since version 5) the main reason's code (`crate::reason::Reason::code`), e.g. `interrupted_by_emergency`, `quiet_hours`; `free` for older text no code matched |
//! | reason_args     | TEXT NULL | its arguments, a JSON object, e.g. `{"bulletin": "bao-lu", "title": "Báo lũ"}` |
//! | reason_more     | TEXT NULL | further reasons (a relay's drops, fallback, silence), a JSON array of `{"code", "args"}`; NULL when none |
//! | heard_seconds   | REAL NULL | (since version 7) seconds of the airing the loudspeaker line carried, as `[monitor]` heard it (`crate::monitor`); written with the row's end; NULL without a monitor, while airing, and on rows from before |
//!
//! Indexes: `airtime_occurrence (occurrence)`, `airtime_scheduled
//! (scheduled_ms)`, and `airtime_report (campaign, bulletin, outcome,
//! scheduled_ms, aired_seconds)`, which holds everything the report sums in
//! the order it groups, so a year of rows is summed without a sort; and
//! (since version 6) `airtime_unaired (scheduled_ms) WHERE outcome IN
//! ('failed', 'missed', 'skipped')`, the few rows the report must read
//! whole (did a failure start, did an operator cancel), found without
//! walking every row; (since version 7) `airtime_heard (scheduled_ms)
//! WHERE heard_seconds IS NOT NULL`, the rows a line monitor heard, summed
//! apart for the report (none at a station without `[monitor]`).
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
//! on after a power cut. `next_entry_id` is the first queue entry id the
//! next run may hand out, so ids never repeat across restarts. `fleet_shipped_id`
//! is the id of the last `airtime` row copied to the province's PostgreSQL
//! (`[fleet] postgres`): every closed row up to it is there.
//!
//! Table `queue` (since version 2), what operators queued that has not aired
//! yet, so a restart or a power cut does not lose it: `id` (the entry id the
//! API shows), the `airtime` columns `occurrence`, `bulletin`, `title`,
//! `campaign`, `program`, `priority`, `source`, `file`, `scheduled_at`,
//! `scheduled_ms`, `planned_seconds` and `requested_by` as the row it will
//! become, and the engine's own `path` (the resolved audio file), `sort_ms`
//! and `ord` (its place in the queue) and `grace_seconds`. A row goes when
//! its item starts airing or is recorded (missed, skipped, removed).
//!
//! Tables `users`, `sessions` and `signin_failures` (since version 4), the
//! web console's accounts: `users` has `name` (primary key), `role`
//! (`viewer`, `operator`, `admin`), `password` (an argon2id PHC string, never
//! the password), `enabled` (0 or 1) and `created_at`; `sessions` has `id`
//! (HMAC-SHA-256 of the cookie's value under the secret in `data_dir`, hex:
//! the cookie itself is not stored), `user`, `created_ms`, `seen_ms` (last
//! request, UTC epoch ms; idle sessions expire), `addr` and `agent` (the
//! browser, for the admin page); `signin_failures` has `at_ms`, `name` and
//! `addr` of each failed sign-in, for the slowdown.
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
//! The file keeps a rollback journal (`journal_mode = TRUNCATE`), with
//! `synchronous = FULL`: commune stations lose power often, and with `NORMAL`
//! a power cut may roll back the last commits, which would forget that a
//! bulletin completed and let it air twice. Writes are a handful per
//! bulletin, so the extra fsyncs cost nothing that matters.
//!
//! Not WAL, and no memory map (`mmap_size = 0`): WAL keeps its index in a
//! `-shm` file that every connection maps into memory, and a write into a
//! mapping of a file that has become unwritable (`chattr +i`, a file system
//! remounted read-only after an SD card error) is not an error SQLite can
//! return but a SIGBUS that kills the daemon, losing what waited in memory.
//! With a rollback journal every write is a plain `write(2)` whose failure
//! the engine logs, keeps and retries. Readers (`loa report`, `loa airtime`,
//! `sqlite3`, the API) still read while the daemon runs; a reader and a
//! commit wait for each other for milliseconds, within [`BUSY_TIMEOUT`].
//! `locking_mode = EXCLUSIVE` would keep WAL's index in heap memory instead,
//! but it locks every other process (and the API's own connections) out of
//! the file. A ledger an older loa left in WAL mode is switched at the
//! daemon's start.

use std::path::Path;
use std::time::Duration;

use chrono_tz::Tz;
use rusqlite::{params, Connection, OpenFlags};

use super::{ErrorContext, Ledger, LedgerError, Result};
use crate::reason::Reason;
use crate::timefmt::{parse_rfc3339, rfc3339};

/// `PRAGMA application_id` of a loa ledger: "loa\0".
pub const APPLICATION_ID: i32 = 0x6C6F_6100;

/// The ledger's journal (see "Durability"): a rollback journal truncated
/// after each commit, rather than deleted, so the file stays in place.
const JOURNAL_MODE: &str = "truncate";

/// How long a statement waits for another connection's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Migrations in order: `MIGRATIONS[n]` takes the schema from version `n` to
/// `n + 1`. Never edit a released entry; append a new one.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // v2
    "CREATE TABLE queue (
        id              INTEGER PRIMARY KEY,
        occurrence      TEXT NOT NULL,
        bulletin        TEXT NOT NULL,
        title           TEXT NOT NULL,
        campaign        TEXT,
        program         TEXT,
        priority        TEXT NOT NULL CHECK (priority IN ('normal', 'priority', 'emergency')),
        source          TEXT NOT NULL CHECK (source IN ('schedule', 'operator', 'emergency')),
        file            TEXT NOT NULL,
        path            TEXT NOT NULL,
        scheduled_at    TEXT NOT NULL,
        scheduled_ms    INTEGER NOT NULL,
        sort_ms         INTEGER NOT NULL,
        ord             INTEGER NOT NULL,
        grace_seconds   INTEGER NOT NULL,
        planned_seconds REAL NOT NULL,
        requested_by    TEXT
    );",
    // v3: relays are recorded with source 'relay'. SQLite cannot change a
    // CHECK in place: the table is rebuilt (rows and ids kept) and its
    // indexes made again; the report's index also covers `source`, so relay
    // minutes are summed apart without reading the table.
    "CREATE TABLE airtime_v3 (
        id              INTEGER PRIMARY KEY,
        occurrence      TEXT NOT NULL,
        bulletin        TEXT NOT NULL,
        title           TEXT NOT NULL,
        campaign        TEXT,
        program         TEXT,
        priority        TEXT NOT NULL CHECK (priority IN ('normal', 'priority', 'emergency')),
        source          TEXT NOT NULL CHECK (source IN ('schedule', 'operator', 'emergency', 'relay')),
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
    INSERT INTO airtime_v3 SELECT id, occurrence, bulletin, title, campaign, program, priority,
        source, file, scheduled_at, started_at, ended_at, planned_seconds, aired_seconds,
        outcome, reason, requested_by, scheduled_ms FROM airtime;
    DROP TABLE airtime;
    ALTER TABLE airtime_v3 RENAME TO airtime;
    CREATE INDEX airtime_occurrence ON airtime (occurrence);
    CREATE INDEX airtime_scheduled ON airtime (scheduled_ms);
    CREATE INDEX airtime_report ON airtime (campaign, bulletin, outcome, scheduled_ms, aired_seconds, source);",
    // v4: the web console's users, their sessions and failed sign-ins.
    "CREATE TABLE users (
        name       TEXT PRIMARY KEY,
        role       TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        password   TEXT NOT NULL,
        enabled    INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL
    );
    CREATE TABLE sessions (
        id         TEXT PRIMARY KEY,
        user       TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        seen_ms    INTEGER NOT NULL,
        addr       TEXT NOT NULL,
        agent      TEXT NOT NULL
    );
    CREATE INDEX sessions_user ON sessions (user);
    CREATE TABLE signin_failures (
        id    INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        name  TEXT NOT NULL,
        addr  TEXT NOT NULL
    );
    CREATE INDEX signin_failures_at ON signin_failures (at_ms);",
    // v5: reasons as data (`crate::reason`): the main reason's code and
    // arguments, and the details after it. `legacy::convert` then reads the
    // English sentences of older rows into them (see `RUST_STEPS`).
    "ALTER TABLE airtime ADD COLUMN reason_code TEXT;
    ALTER TABLE airtime ADD COLUMN reason_args TEXT;
    ALTER TABLE airtime ADD COLUMN reason_more TEXT;",
    // v6: the rows that did not air in full, for the report's plays and
    // cancellations (`query::Ledger::unaired_detail`).
    "CREATE INDEX airtime_unaired ON airtime (scheduled_ms)
        WHERE outcome IN ('failed', 'missed', 'skipped');",
    // v7: proof of play, what the line monitor heard of each airing.
    "ALTER TABLE airtime ADD COLUMN heard_seconds REAL;
    CREATE INDEX airtime_heard ON airtime (scheduled_ms) WHERE heard_seconds IS NOT NULL;",
    // v8: bulletins the province sends (`crate::upstream`) are recorded and
    // queued with source 'province', and a console account may have the role
    // 'province' (it publishes them). SQLite cannot change a CHECK in place:
    // the three tables are rebuilt, rows and ids kept, indexes made again.
    "CREATE TABLE airtime_v8 (
        id              INTEGER PRIMARY KEY,
        occurrence      TEXT NOT NULL,
        bulletin        TEXT NOT NULL,
        title           TEXT NOT NULL,
        campaign        TEXT,
        program         TEXT,
        priority        TEXT NOT NULL CHECK (priority IN ('normal', 'priority', 'emergency')),
        source          TEXT NOT NULL
                        CHECK (source IN ('schedule', 'operator', 'emergency', 'relay', 'province')),
        file            TEXT NOT NULL,
        scheduled_at    TEXT NOT NULL,
        started_at      TEXT,
        ended_at        TEXT,
        planned_seconds REAL NOT NULL,
        aired_seconds   REAL NOT NULL DEFAULT 0,
        outcome         TEXT CHECK (outcome IN ('completed', 'interrupted', 'failed', 'missed', 'skipped')),
        reason          TEXT,
        requested_by    TEXT,
        scheduled_ms    INTEGER NOT NULL,
        reason_code     TEXT,
        reason_args     TEXT,
        reason_more     TEXT,
        heard_seconds   REAL
    );
    INSERT INTO airtime_v8 SELECT id, occurrence, bulletin, title, campaign, program, priority,
        source, file, scheduled_at, started_at, ended_at, planned_seconds, aired_seconds,
        outcome, reason, requested_by, scheduled_ms, reason_code, reason_args, reason_more,
        heard_seconds FROM airtime;
    DROP TABLE airtime;
    ALTER TABLE airtime_v8 RENAME TO airtime;
    CREATE INDEX airtime_occurrence ON airtime (occurrence);
    CREATE INDEX airtime_scheduled ON airtime (scheduled_ms);
    CREATE INDEX airtime_report ON airtime (campaign, bulletin, outcome, scheduled_ms, aired_seconds, source);
    CREATE INDEX airtime_unaired ON airtime (scheduled_ms)
        WHERE outcome IN ('failed', 'missed', 'skipped');
    CREATE INDEX airtime_heard ON airtime (scheduled_ms) WHERE heard_seconds IS NOT NULL;
    CREATE TABLE queue_v8 (
        id              INTEGER PRIMARY KEY,
        occurrence      TEXT NOT NULL,
        bulletin        TEXT NOT NULL,
        title           TEXT NOT NULL,
        campaign        TEXT,
        program         TEXT,
        priority        TEXT NOT NULL CHECK (priority IN ('normal', 'priority', 'emergency')),
        source          TEXT NOT NULL
                        CHECK (source IN ('schedule', 'operator', 'emergency', 'relay', 'province')),
        file            TEXT NOT NULL,
        path            TEXT NOT NULL,
        scheduled_at    TEXT NOT NULL,
        scheduled_ms    INTEGER NOT NULL,
        sort_ms         INTEGER NOT NULL,
        ord             INTEGER NOT NULL,
        grace_seconds   INTEGER NOT NULL,
        planned_seconds REAL NOT NULL,
        requested_by    TEXT
    );
    INSERT INTO queue_v8 SELECT id, occurrence, bulletin, title, campaign, program, priority,
        source, file, path, scheduled_at, scheduled_ms, sort_ms, ord, grace_seconds,
        planned_seconds, requested_by FROM queue;
    DROP TABLE queue;
    ALTER TABLE queue_v8 RENAME TO queue;
    CREATE TABLE users_v8 (
        name       TEXT PRIMARY KEY,
        role       TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'province', 'admin')),
        password   TEXT NOT NULL,
        enabled    INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL
    );
    INSERT INTO users_v8 SELECT name, role, password, enabled, created_at FROM users;
    DROP TABLE users;
    ALTER TABLE users_v8 RENAME TO users;",
];

/// Steps in Rust run in the same transaction right after the SQL migration
/// that reaches their version.
const RUST_STEPS: &[(i64, RustStep)] = &[(5, super::legacy::convert)];

type RustStep = fn(&rusqlite::Transaction) -> rusqlite::Result<()>;

/// The schema version this loa writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The reason written on rows a crash or power cut left open.
pub const DAEMON_STOPPED: Reason = Reason::DaemonStopped;

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
        let mut ledger = Self::open_migrated(path, tz)?;
        ledger.recovered = ledger.close_open_rows()?;
        if ledger.recovered > 0 {
            tracing::warn!(
                ledger = %path.display(),
                rows = ledger.recovered,
                "closed airings left open by a previous run as interrupted ({})",
                DAEMON_STOPPED.code()
            );
        }
        Ok(ledger)
    }

    /// Open the ledger for the web console's accounts (`loa user`, the
    /// sign-in pages): created and migrated like [`Ledger::open`], but rows
    /// left open are not touched, so it is safe while the daemon airs. Its
    /// writes are the `users`, `sessions`, `signin_failures` and `audit`
    /// tables only.
    pub fn open_accounts(path: &Path, tz: Tz) -> Result<Ledger> {
        Self::open_migrated(path, tz)
    }

    fn open_migrated(path: &Path, tz: Tz) -> Result<Ledger> {
        if path.is_dir() {
            return Err(LedgerError::BadPath(ErrorContext::new(
                path,
                "open the ledger",
                "it is a directory",
            )));
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
        Ok(ledger)
    }

    /// Open an existing ledger for reading only (`loa report`, `loa
    /// airtime`): never creates, migrates or recovers anything, so it is safe
    /// while the daemon runs.
    pub fn open_read_only(path: &Path, tz: Tz) -> Result<Ledger> {
        Ledger::open_existing(path, tz, OpenFlags::SQLITE_OPEN_READ_ONLY)
    }

    /// Open an existing ledger beside the daemon's writer for the shipper's
    /// own bookkeeping (`crate::fleet`): like [`Ledger::open_read_only`] it
    /// never creates, migrates or recovers, but it may write `state`.
    pub fn open_beside(path: &Path, tz: Tz) -> Result<Ledger> {
        Ledger::open_existing(path, tz, OpenFlags::SQLITE_OPEN_READ_WRITE)
    }

    fn open_existing(path: &Path, tz: Tz, mode: OpenFlags) -> Result<Ledger> {
        if !path.exists() {
            return Err(LedgerError::Missing(ErrorContext::new(
                path,
                "open the ledger",
                "no such file",
            )));
        }
        let conn = Connection::open_with_flags(path, mode | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| LedgerError::sqlite(path, "open the ledger", e))?;
        let ledger = Ledger {
            conn,
            path: path.to_path_buf(),
            tz,
            recovered: 0,
        };
        ledger.configure()?;
        ledger.check_identity()?;
        if mode.contains(OpenFlags::SQLITE_OPEN_READ_WRITE) {
            // A connection's journal mode is its own (only WAL is kept in
            // the file): writing beside the daemon, use the daemon's. A
            // file still in WAL mode stays so; the daemon switches it.
            if let Err(e) = ledger.use_rollback_journal() {
                tracing::debug!(ledger = %path.display(), "journal mode left as it was: {e}");
            }
        }
        let version = ledger.user_version()?;
        if version > SCHEMA_VERSION {
            return Err(ledger.too_new(version));
        }
        if version < SCHEMA_VERSION {
            return Err(LedgerError::NotMigrated(ErrorContext::new(
                path,
                "open the ledger",
                format!("schema version {version}, this loa reads {SCHEMA_VERSION}"),
            )));
        }
        Ok(ledger)
    }

    fn configure(&self) -> Result<()> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(self.err("open the ledger"))?;
        // No memory map of the file (SQLite's default, said out loud): see
        // "Durability" above.
        self.conn
            .pragma_update(None, "mmap_size", 0)
            .map_err(self.err("open the ledger"))
    }

    /// Switch this connection to the rollback journal (see "Durability"),
    /// converting a file an older loa left in WAL mode. Returns the mode in
    /// force: still `wal` when another process holds the file open.
    fn use_rollback_journal(&self) -> rusqlite::Result<String> {
        self.conn
            .pragma_update_and_check(None, "journal_mode", JOURNAL_MODE, |r| r.get(0))
    }

    fn user_version(&self) -> Result<i64> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(self.err("read the ledger's schema version"))
    }

    fn too_new(&self, version: i64) -> LedgerError {
        LedgerError::TooNew(ErrorContext::new(
            &self.path,
            "open the ledger",
            format!("schema version {version}, this loa knows up to {SCHEMA_VERSION}"),
        ))
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
                if let LedgerError::NotALedger(c) = &mut err {
                    c.cause = "it is not a SQLite database".into();
                }
                err
            })?;
        if app_id == APPLICATION_ID {
            return Ok(());
        }
        if app_id != 0 {
            return Err(LedgerError::NotALedger(ErrorContext::new(
                &self.path,
                action,
                format!("it is a SQLite database of another program (application_id {app_id:#x})"),
            )));
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
            Err(LedgerError::NotALedger(ErrorContext::new(
                &self.path,
                action,
                format!(
                    "it is a SQLite database of another program (tables: {})",
                    tables.join(", ")
                ),
            )))
        }
    }

    fn set_durability(&self) -> Result<()> {
        let action = "set up the ledger";
        match self.use_rollback_journal() {
            Ok(mode) if mode.eq_ignore_ascii_case(JOURNAL_MODE) => {}
            // Leaving WAL needs the file to itself: a `sqlite3` shell or an
            // older loa holding it open. The ledger works in WAL meanwhile,
            // only without the protection against files made unwritable.
            Ok(mode) => tracing::warn!(
                ledger = %self.path.display(), %mode,
                "the ledger stays in {mode} journal mode until the next start: another \
                 program holds it open"
            ),
            Err(e) => tracing::warn!(
                ledger = %self.path.display(),
                "the ledger's journal mode cannot be set to {JOURNAL_MODE}: {e}; \
                 it keeps its current mode until the next start"
            ),
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
            for (_, step) in RUST_STEPS.iter().filter(|(v, _)| *v == n as i64 + 1) {
                step(&tx).map_err(|e| LedgerError::sqlite(&self.path, action, e))?;
            }
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
                "UPDATE airtime SET outcome = 'interrupted', reason = ?2, reason_code = ?3, \
                 reason_args = '{}', reason_more = NULL, ended_at = ?4 WHERE id = ?1",
                params![id, DAEMON_STOPPED.to_string(), DAEMON_STOPPED.code(), ended],
            )
            .map_err(sq)?;
        }
        tx.commit().map_err(sq)?;
        Ok(open.len())
    }

    /// SQLite's own consistency check: `"ok"`, or the problems it found, one
    /// per line.
    pub fn integrity_check(&self) -> Result<String> {
        let action = "check the ledger's integrity";
        let lines: Vec<String> = self.all(action, "PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::test_util::*;
    use crate::ledger::{Filter, Outcome};
    use std::fs::Permissions;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

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
        assert_eq!(mode, JOURNAL_MODE);
        let mmap: i64 = ledger
            .conn
            .pragma_query_value(None, "mmap_size", |r| r.get(0))
            .unwrap();
        assert_eq!(mmap, 0);
        let app: i32 = ledger
            .conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        assert_eq!(app, APPLICATION_ID);
        assert_eq!(ledger.integrity_check().unwrap(), "ok");
        assert_eq!(ledger.recovered_on_open(), 0);
    }

    fn journal_mode(l: &Ledger) -> String {
        l.conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_ledger_an_older_loa_left_in_wal_mode_leaves_it() {
        let (_dir, path) = fresh();
        drop(Ledger::open(&path, TZ).unwrap());
        let c = Connection::open(&path).unwrap();
        let wal: String = c
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .unwrap();
        assert_eq!(wal, "wal");
        // Even beside an idle `sqlite3` shell (no transaction open).
        let mut l = Ledger::open(&path, TZ).unwrap();
        assert_eq!(journal_mode(&l), JOURNAL_MODE);
        l.record(&airing("b1", None, at(6, 15)), Outcome::Completed, None)
            .unwrap();
        drop((l, c));
        let l = Ledger::open_read_only(&path, TZ).unwrap();
        assert_eq!(l.rows(&crate::ledger::Filter::default()).unwrap().len(), 1);
        assert!(!path.with_extension("db-wal").exists());
        // Writers beside the daemon use its journal too.
        let beside = Ledger::open_beside(&path, TZ).unwrap();
        assert_eq!(journal_mode(&beside), JOURNAL_MODE);
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
        assert_eq!(r.reason, Some(DAEMON_STOPPED.into()));
        assert_eq!(r.aired_seconds, 42.5);
        assert_eq!(r.ended_at.as_deref(), Some("2026-10-07T06:15:42.500+07:00"));
        let settled = ledger.settled_since(at(0, 0)).unwrap();
        assert_eq!(settled[&a.occurrence], Outcome::Interrupted);
        drop(ledger);
        assert_eq!(
            Ledger::open(&path, TZ).unwrap().recovered_on_open(),
            0,
            "recovery happens once"
        );
    }

    #[test]
    fn read_only_open_does_not_recover_rows_of_the_running_daemon() {
        let (_dir, path, mut daemon) = fresh_ledger();
        let id = daemon
            .begin(&airing("b1", None, at(6, 15)), at(6, 15))
            .unwrap();
        let reader = Ledger::open_read_only(&path, TZ).unwrap();
        assert_eq!(reader.rows(&Filter::default()).unwrap()[0].outcome, None);
        daemon
            .finish(id, at(6, 16), 60.0, Outcome::Completed, None, None)
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
        assert!(matches!(e, LedgerError::Missing(_)), "{e:?}");
        assert!(!path.exists());
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("data_dir"), "{msg}");
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
        assert!(matches!(e, LedgerError::NotALedger(_)), "{e:?}");
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
        assert!(matches!(e, LedgerError::NotALedger(_)), "{e:?}");
        assert!(e.to_string().contains("another program"), "{e}");
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_refused() {
        let (_dir, path) = fresh();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "[station]\nname = \"x\"\n".repeat(40)).unwrap();
        let e = Ledger::open(&path, TZ).err().unwrap();
        assert!(matches!(e, LedgerError::NotALedger(_)), "{e:?}");
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
        assert!(matches!(e, LedgerError::TooNew(_)), "{e:?}");
        assert!(e.to_string().contains("upgrade loa"), "{e}");
        let e = Ledger::open_read_only(&path, TZ).err().unwrap();
        assert!(matches!(e, LedgerError::TooNew(_)), "{e:?}");
    }

    #[test]
    fn an_unwritable_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let ro = Unwritable::new(dir.path());
        let path = ro.dir.join("airtime.db");
        let e = Ledger::open(&path, TZ).err().unwrap();
        assert!(matches!(e, LedgerError::ReadOnly(_)), "{:?}: {e:?}", ro.how);
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("not writable"), "{msg}");
        assert!(msg.contains("help: make"), "{msg}");
    }

    /// How [`Unwritable`] stopped this process from creating files.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Refusal {
        /// Mode 0555: enough for any user but root.
        Permissions,
        /// The immutable attribute, which binds root too (ext4, xfs, btrfs;
        /// needs CAP_LINUX_IMMUTABLE).
        Immutable,
        /// sysfs, which takes no new file from anyone, root included.
        Sysfs,
    }

    /// A directory this process cannot create a file in, by the first
    /// [`Refusal`] that works for whoever runs the test; none working is a
    /// failure, never a skip. Dropping it lifts the immutable attribute so
    /// the temporary directory can be removed.
    struct Unwritable {
        dir: PathBuf,
        how: Refusal,
    }

    impl Unwritable {
        fn new(base: &Path) -> Unwritable {
            let dir = base.join("ro");
            std::fs::create_dir(&dir).unwrap();
            std::fs::set_permissions(&dir, Permissions::from_mode(0o555)).unwrap();
            if refuses_new_files(&dir) {
                return Unwritable {
                    dir,
                    how: Refusal::Permissions,
                };
            }
            let immutable = set_immutable(&dir, true);
            if immutable.is_ok() {
                let ro = Unwritable {
                    dir,
                    how: Refusal::Immutable,
                };
                if refuses_new_files(&ro.dir) {
                    return ro;
                }
            }
            let sys = Path::new("/sys");
            if sys.join("kernel").is_dir() && refuses_new_files(sys) {
                return Unwritable {
                    dir: sys.to_path_buf(),
                    how: Refusal::Sysfs,
                };
            }
            panic!(
                "cannot make a directory this process may not write to: mode 0555 does not \
                 stop it (root), the immutable attribute did not ({immutable:?}), and there \
                 is no sysfs; run the test as another user"
            );
        }
    }

    impl Drop for Unwritable {
        fn drop(&mut self) {
            if self.how == Refusal::Immutable {
                set_immutable(&self.dir, false).unwrap();
            }
        }
    }

    fn refuses_new_files(dir: &Path) -> bool {
        let probe = dir.join("loa-probe");
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
        {
            Ok(_) => {
                std::fs::remove_file(&probe).unwrap();
                false
            }
            Err(_) => true,
        }
    }

    /// `chattr +i` / `chattr -i`, by the ioctls it uses.
    fn set_immutable(dir: &Path, on: bool) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        // linux/fs.h; the libc crate has the ioctls but not the flag.
        const FS_IMMUTABLE_FL: libc::c_int = 0x10;
        let f = std::fs::File::open(dir)?;
        let fd = f.as_raw_fd();
        let mut flags: libc::c_int = 0;
        // SAFETY: FS_IOC_GETFLAGS writes one int through the pointer, which
        // is valid for the call; `f` keeps the descriptor open.
        let got = unsafe { libc::ioctl(fd, libc::FS_IOC_GETFLAGS, &raw mut flags) };
        if got != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if on {
            flags |= FS_IMMUTABLE_FL;
        } else {
            flags &= !FS_IMMUTABLE_FL;
        }
        // SAFETY: FS_IOC_SETFLAGS reads one int through the pointer, as above.
        let set = unsafe { libc::ioctl(fd, libc::FS_IOC_SETFLAGS, &raw const flags) };
        if set != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    #[test]
    fn a_path_that_cannot_hold_a_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, b"").unwrap();
        let e = Ledger::open(&blocked.join("data").join("airtime.db"), TZ)
            .err()
            .unwrap();
        assert!(matches!(e, LedgerError::BadPath(_)), "{e:?}");
        assert!(
            e.to_string().contains("create the ledger's directory"),
            "{e}"
        );
        let e = Ledger::open(dir.path(), TZ).err().unwrap();
        assert!(matches!(e, LedgerError::BadPath(_)), "{e:?}");
        assert!(e.to_string().contains("it is a directory"), "{e}");
    }
}
