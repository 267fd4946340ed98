//! What can go wrong with the ledger, worded for the station's operator:
//! each message names the file, what loa was doing, why, and what to do.

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

use super::BUSY_TIMEOUT;

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
    pub(super) fn new(
        kind: ErrorKind,
        path: &Path,
        action: &'static str,
        cause: impl Into<String>,
    ) -> Self {
        LedgerError {
            kind,
            path: path.to_path_buf(),
            action,
            cause: cause.into(),
        }
    }

    pub(super) fn sqlite(path: &Path, action: &'static str, e: rusqlite::Error) -> Self {
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

    pub(super) fn io(path: &Path, action: &'static str, e: std::io::Error) -> Self {
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
}
