//! Writing `airtime`: one row per occurrence attempt, opened when audio
//! starts, checkpointed while it airs, closed when it ends; or written closed
//! at once for what never started.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::types::ToSqlOutput;
use rusqlite::{params, params_from_iter, Connection, ToSql};

use super::{Airing, ErrorContext, Ledger, LedgerError, Outcome, Result, Settled, Source};
use crate::config::Priority;
use crate::reason::Reasons;
use crate::timefmt::rfc3339;

/// The part of a row that depends on how far the airing got.
#[derive(Default)]
struct Closing<'a> {
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    aired_seconds: f64,
    outcome: Option<Outcome>,
    reason: Option<&'a Reasons>,
}

impl Airing {
    /// The columns the `airtime` and `queue` tables both hold, in this
    /// order: occurrence, bulletin, title, campaign, program, priority,
    /// source, file.
    pub(super) fn named(&self) -> [&dyn ToSql; 8] {
        [
            &self.occurrence,
            &self.bulletin,
            &self.title,
            &self.campaign,
            &self.program,
            &self.priority,
            &self.source,
            &self.file,
        ]
    }
}

/// Priorities and sources are stored as their words.
impl ToSql for Priority {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl ToSql for Source {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl Ledger {
    fn insert(conn: &Connection, tz: Tz, a: &Airing, end: Closing) -> rusqlite::Result<i64> {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO airtime (occurrence, bulletin, title, campaign, program, priority, \
             source, file, scheduled_at, started_at, ended_at, planned_seconds, aired_seconds, \
             outcome, reason, requested_by, scheduled_ms, reason_code, reason_args, reason_more) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
             ?18, ?19, ?20)",
        )?;
        let rest: [&dyn ToSql; 12] = [
            &rfc3339(a.scheduled_at, tz),
            &end.started_at.map(|t| rfc3339(t, tz)),
            &end.ended_at.map(|t| rfc3339(t, tz)),
            &a.planned_seconds,
            &end.aired_seconds,
            &end.outcome.map(Outcome::as_str),
            &end.reason.map(ToString::to_string),
            &a.requested_by,
            &a.scheduled_at.timestamp_millis(),
            &end.reason.map(|r| r.main.code()),
            &end.reason.map(Reasons::args_json),
            &end.reason.and_then(Reasons::more_json),
        ];
        stmt.insert(params_from_iter(a.named().into_iter().chain(rest)))
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

    /// Close the row `begin` wrote, with the seconds the line monitor
    /// heard when known (`None`: no monitor, or its verdicts follow through
    /// `set_heard`).
    pub fn finish(
        &mut self,
        id: i64,
        ended_at: DateTime<Utc>,
        aired_seconds: f64,
        outcome: Outcome,
        reason: Option<&Reasons>,
        heard_seconds: Option<f64>,
    ) -> Result<()> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE airtime SET ended_at = ?2, aired_seconds = ?3, outcome = ?4, reason = ?5, \
                 reason_code = ?6, reason_args = ?7, reason_more = ?8, heard_seconds = ?9 \
                 WHERE id = ?1 AND outcome IS NULL",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    rfc3339(ended_at, self.tz),
                    aired_seconds,
                    outcome.as_str(),
                    reason.map(ToString::to_string),
                    reason.map(|r| r.main.code()),
                    reason.map(Reasons::args_json),
                    reason.and_then(Reasons::more_json),
                    heard_seconds,
                ])
            })
            .map_err(self.err("record the end of an airing"))?;
        self.expect_one(n, id, "record the end of an airing")
    }

    /// The seconds the line monitor heard of a closed row: the monitor's
    /// verdicts come a few seconds after the row closes.
    pub fn set_heard(&mut self, id: i64, heard_seconds: f64) -> Result<()> {
        let action = "record what the line monitor heard";
        let n = self
            .conn
            .prepare_cached("UPDATE airtime SET heard_seconds = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id, heard_seconds]))
            .map_err(self.err(action))?;
        self.expect_one(n, id, action)
    }

    fn expect_one(&self, n: usize, id: i64, action: &'static str) -> Result<()> {
        if n == 1 {
            Ok(())
        } else {
            Err(LedgerError::NoSuchRow(ErrorContext::new(
                &self.path,
                action,
                format!("row {id}"),
            )))
        }
    }

    /// Write a closed row for an occurrence that never started: missed,
    /// skipped, or failed before any audio went out.
    pub fn record(
        &mut self,
        a: &Airing,
        outcome: Outcome,
        reason: Option<&Reasons>,
    ) -> Result<i64> {
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
                reason: s.reason.as_ref(),
            };
            Self::insert(&tx, tz, &s.airing, end).map_err(sq)?;
            n += 1;
        }
        tx.commit().map_err(sq)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::test_util::*;
    use crate::ledger::Filter;
    use crate::schedule::OccurrenceKey;
    use rusqlite::Connection;
    use std::time::Duration;

    #[test]
    fn begin_progress_finish_and_reopen_keeps_rows() {
        let (_dir, path) = fresh();
        let a = airing("b1", Some("c1"), at(6, 15));
        {
            let mut ledger = Ledger::open(&path, TZ).unwrap();
            let id = ledger.begin(&a, at(6, 15)).unwrap();
            assert!(
                ledger.settled_since(at(0, 0)).unwrap().is_empty(),
                "a row on air is not settled"
            );
            ledger.progress(id, 60.0).unwrap();
            let open = &ledger.rows(&Filter::default()).unwrap()[0];
            assert_eq!(open.outcome, None);
            assert_eq!(open.aired_seconds, 60.0);
            ledger
                .finish(id, at(6, 17), 120.0, Outcome::Completed, None, None)
                .unwrap();
            // A finished row cannot be finished or checkpointed again.
            let e = ledger.progress(id, 1.0).unwrap_err();
            assert!(matches!(e, LedgerError::NoSuchRow(_)), "{e:?}");
        }
        let ledger = Ledger::open(&path, TZ).unwrap();
        assert_eq!(ledger.recovered_on_open(), 0);
        let rows = ledger.rows(&Filter::default()).unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.occurrence, "b1@2026-10-07T06:15:00.000+07:00");
        let key = OccurrenceKey::parse(&r.occurrence).unwrap();
        assert_eq!((key.item(), key.scheduled_at()), ("b1", at(6, 15)));
        assert_eq!(r.scheduled_at, "2026-10-07T06:15:00.000+07:00");
        assert_eq!(
            r.started_at.as_deref(),
            Some("2026-10-07T06:15:00.000+07:00")
        );
        assert_eq!(r.ended_at.as_deref(), Some("2026-10-07T06:17:00.000+07:00"));
        assert_eq!(r.outcome, Some(Outcome::Completed));
        assert_eq!(r.aired_seconds, 120.0);
        assert_eq!(r.campaign.as_deref(), Some("c1"));
    }

    #[test]
    fn a_locked_ledger_times_out_with_a_clear_error() {
        let (_dir, path, mut ledger) = fresh_ledger();
        ledger.conn.busy_timeout(Duration::from_millis(50)).unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let e = ledger
            .record(&airing("b1", None, at(6, 0)), Outcome::Missed, None)
            .err()
            .unwrap();
        assert!(matches!(e, LedgerError::Busy(_)), "{e:?}");
        other.execute_batch("ROLLBACK").unwrap();
    }
}
