//! What can go wrong with the ledger, worded for the station's operator:
//! each message names the file, what loa was doing, why, and what to do.

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

use super::BUSY_TIMEOUT;

/// Where a ledger operation failed and why; every [`LedgerError`] carries
/// one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorContext {
    /// The ledger file.
    pub path: PathBuf,
    /// What loa was doing, e.g. "record the start of an airing".
    pub action: &'static str,
    /// The cause as SQLite or the OS put it, or a precise detail.
    pub cause: String,
}

impl ErrorContext {
    pub(super) fn new(path: &Path, action: &'static str, cause: impl Into<String>) -> Self {
        ErrorContext {
            path: path.to_path_buf(),
            action,
            cause: cause.into(),
        }
    }
}

/// A ledger failure, one variant per kind of trouble, so that callers can
/// react differently (keep airing but alarm on `DiskFull`; answer an HTTP
/// request with the status that fits). Each says, through its
/// [`ErrorContext`] and `Display`, what loa was doing, on which file, why,
/// and what to do.
#[derive(Debug)]
pub enum LedgerError {
    /// Opening for reading and there is no ledger at the path yet.
    Missing(ErrorContext),
    /// Opening for reading a ledger an older loa wrote, which the daemon
    /// has yet to migrate (readers never migrate).
    NotMigrated(ErrorContext),
    /// Another process held a lock longer than [`BUSY_TIMEOUT`]; a retry
    /// may succeed.
    Busy(ErrorContext),
    /// The file or its directory cannot be written.
    ReadOnly(ErrorContext),
    DiskFull(ErrorContext),
    /// The path cannot hold a file: it is a directory, or a part of it is a
    /// regular file.
    BadPath(ErrorContext),
    /// The operating system reported an I/O error.
    Io(ErrorContext),
    /// Not a SQLite file, or a SQLite file of another program.
    NotALedger(ErrorContext),
    /// Written by a newer loa.
    TooNew(ErrorContext),
    /// The file is damaged, or holds a value loa never writes.
    Corrupt(ErrorContext),
    /// `progress`/`finish` on a row that is not open: a bug in loa.
    NoSuchRow(ErrorContext),
    /// SQLite refused the operation for another reason.
    Sqlite(ErrorContext),
}

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

impl LedgerError {
    /// What loa was doing, on which file, and the cause.
    pub fn context(&self) -> &ErrorContext {
        match self {
            LedgerError::Missing(c)
            | LedgerError::NotMigrated(c)
            | LedgerError::Busy(c)
            | LedgerError::ReadOnly(c)
            | LedgerError::DiskFull(c)
            | LedgerError::BadPath(c)
            | LedgerError::Io(c)
            | LedgerError::NotALedger(c)
            | LedgerError::TooNew(c)
            | LedgerError::Corrupt(c)
            | LedgerError::NoSuchRow(c)
            | LedgerError::Sqlite(c) => c,
        }
    }

    pub(super) fn sqlite(path: &Path, action: &'static str, e: rusqlite::Error) -> Self {
        let kind: fn(ErrorContext) -> LedgerError = match e.sqlite_error_code() {
            Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen) => {
                LedgerError::ReadOnly
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => LedgerError::Busy,
            Some(ErrorCode::DiskFull) => LedgerError::DiskFull,
            Some(ErrorCode::NotADatabase) => LedgerError::NotALedger,
            Some(ErrorCode::DatabaseCorrupt) => LedgerError::Corrupt,
            // SQLite says "disk I/O error" for a write(2) refused with
            // EPERM too: a file made immutable, a read-only remount.
            Some(ErrorCode::SystemIoFailure) if unwritable(path) => LedgerError::ReadOnly,
            Some(ErrorCode::SystemIoFailure) => LedgerError::Io,
            _ => LedgerError::Sqlite,
        };
        kind(ErrorContext::new(path, action, e.to_string()))
    }

    pub(super) fn io(path: &Path, action: &'static str, e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind: fn(ErrorContext) -> LedgerError = match e.kind() {
            K::PermissionDenied | K::ReadOnlyFilesystem => LedgerError::ReadOnly,
            K::StorageFull => LedgerError::DiskFull,
            K::NotADirectory | K::AlreadyExists | K::IsADirectory => LedgerError::BadPath,
            _ => LedgerError::Io,
        };
        kind(ErrorContext::new(path, action, e.to_string()))
    }
}

/// Whether the ledger or a file SQLite keeps beside it refuses to be opened
/// for writing (opening writes nothing).
fn unwritable(path: &Path) -> bool {
    use std::io::ErrorKind as K;
    ["", "-journal", "-wal", "-shm"].iter().any(|ext| {
        let mut p = path.as_os_str().to_owned();
        p.push(ext);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .is_err_and(|e| matches!(e.kind(), K::PermissionDenied | K::ReadOnlyFilesystem))
    })
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ErrorContext {
            path,
            action,
            cause,
        } = self.context();
        let dir = path
            .parent()
            .map_or_else(|| ".".into(), |d| d.display().to_string());
        let path = path.display();
        let (what, help) = match self {
            LedgerError::ReadOnly(_) => (
                "the file or its directory is read-only, immutable or not writable by this user"
                    .to_string(),
                format!(
                    "make {dir} writable by the user running loa (e.g. `chown -R loa {dir}`), \
                     or set data_dir in the station file to a writable directory; a file \
                     made immutable shows an `i` in `lsattr {dir}` (undo: `chattr -i`); if the \
                     disk was remounted read-only after errors, look at `dmesg`"
                ),
            ),
            LedgerError::Busy(_) => (
                format!(
                    "another process kept it locked for more than {} s",
                    BUSY_TIMEOUT.as_secs()
                ),
                "is a second loa daemon running for this station, or a `sqlite3` session with \
                 an open transaction? Stop it, then retry"
                    .to_string(),
            ),
            LedgerError::DiskFull(_) => (
                "the disk is full".to_string(),
                format!(
                    "free space on the disk holding {dir}; airtime cannot be recorded until then"
                ),
            ),
            LedgerError::BadPath(_) => (
                "that path cannot hold the ledger file".to_string(),
                "data_dir in the station file must name a directory (loa creates it when \
                 missing); a file with that name or a part of it is in the way"
                    .to_string(),
            ),
            LedgerError::NotALedger(_) => (
                "this file is not a loa airtime ledger".to_string(),
                "loa never modifies a file it did not create: move that file away, or set \
                 data_dir in the station file to loa's own directory"
                    .to_string(),
            ),
            LedgerError::TooNew(_) => (
                "it was written by a newer version of loa".to_string(),
                "upgrade loa on this machine; a ledger cannot go back to an older loa".to_string(),
            ),
            LedgerError::Corrupt(_) => (
                "the database file is damaged".to_string(),
                format!(
                    "stop loa, keep a copy of the file, then run \
                     `sqlite3 {path} .recover | sqlite3 recovered.db` and put recovered.db \
                     in its place"
                ),
            ),
            LedgerError::Missing(_) => (
                "there is no ledger at this path yet".to_string(),
                "the daemon creates it the first time it runs; check data_dir in the station file"
                    .to_string(),
            ),
            LedgerError::NotMigrated(_) => (
                "it was written by an older loa and is not migrated yet".to_string(),
                "start the daemon once (`systemctl restart loa`, or `loa run`): it migrates the \
                 file, keeping every row; then run this again"
                    .to_string(),
            ),
            LedgerError::NoSuchRow(_) => (
                "no airing with that id is open (never begun, or already finished)".to_string(),
                "this is a bug in loa; please report it with the log".to_string(),
            ),
            LedgerError::Io(_) => (
                "the operating system reported an I/O error".to_string(),
                "check the disk or SD card (`dmesg`, `smartctl`); it may be failing".to_string(),
            ),
            LedgerError::Sqlite(_) => (
                "SQLite refused the operation".to_string(),
                "run with RUST_LOG=debug and report the error with the log".to_string(),
            ),
        };
        write!(
            f,
            "cannot {action}: airtime ledger {path}: {what} ({cause})\n  help: {help}"
        )
    }
}

impl std::error::Error for LedgerError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_name_file_cause_and_remedy() {
        let path = Path::new("/var/lib/loa/airtime.db");
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let e = LedgerError::sqlite(path, "record the start of an airing", full);
        assert!(matches!(e, LedgerError::DiskFull(_)), "{e:?}");
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
        assert!(matches!(e, LedgerError::Busy(_)), "{e:?}");
        assert!(e.to_string().contains("second loa daemon"), "{e}");
    }
}
