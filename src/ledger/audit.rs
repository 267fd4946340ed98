//! The `audit` table: one row per control action taken through the HTTP
//! API, who took it and what came of it.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::{Filter, Ledger, Result};
use crate::timefmt::rfc3339;

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

fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(from_columns!(
        r,
        AuditRow {
            id,
            at,
            who,
            action,
            detail,
            result
        }
    ))
}

impl Ledger {
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
        let sql = "SELECT id, at, who, action, detail, result FROM audit \
                   WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY at_ms, id";
        self.all(action, sql, params![from, to], audit_row)
    }
}

impl Ledger {
    /// A page of audit rows, newest first, and how many rows there are in
    /// all (the admin page's paging).
    pub fn audit_page(&self, offset: usize, limit: usize) -> Result<(Vec<AuditRow>, usize)> {
        let action = "list control actions";
        let total: i64 = self
            .conn
            .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
            .map_err(self.err(action))?;
        let sql = "SELECT id, at, who, action, detail, result FROM audit \
                   ORDER BY at_ms DESC, id DESC LIMIT ?1 OFFSET ?2";
        let rows = self.all(action, sql, params![limit as i64, offset as i64], audit_row)?;
        Ok((rows, total as usize))
    }
}

#[cfg(test)]
mod tests {
    use crate::ledger::test_util::*;

    #[test]
    fn audit_rows_in_range() {
        let (_dir, _, mut ledger) = fresh_ledger();
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
        let (page, total) = ledger.audit_page(1, 1).unwrap();
        assert_eq!(total, 3);
        assert_eq!(page[0].who, "van-thu", "newest first, after one");
        assert_eq!(page[0].action, "queue");
    }
}
