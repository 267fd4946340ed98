//! What the line monitor heard (`airtime.heard_seconds`, schema v7), summed
//! for the report apart from the main sums: the covering index
//! `airtime_report` does not hold the column, and the partial index
//! `airtime_heard` finds the monitored rows without walking the others
//! (none at a station without `[monitor]`).

use std::collections::HashMap;

use rusqlite::params;

use super::query::BulletinTotals;
use super::{Filter, Ledger, Result};

impl Ledger {
    /// Add heard seconds, and how many rows had them, to `totals`.
    pub(super) fn add_heard(&self, f: &Filter, totals: &mut [BulletinTotals]) -> Result<()> {
        let action = "sum heard airtime";
        let (from, to) = f.bounds();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT campaign, bulletin, total(heard_seconds), count(*) \
                 FROM airtime INDEXED BY airtime_heard \
                 WHERE heard_seconds IS NOT NULL \
                   AND scheduled_ms >= ?1 AND scheduled_ms < ?2 \
                   AND (?3 IS NULL OR campaign = ?3) \
                 GROUP BY campaign, bulletin",
            )
            .map_err(self.err(action))?;
        let heard: HashMap<(Option<String>, String), (f64, u64)> = stmt
            .query_map(params![from, to, f.campaign], |r| {
                Ok((
                    (r.get(0)?, r.get(1)?),
                    (r.get(2)?, r.get::<_, i64>(3)?.max(0) as u64),
                ))
            })
            .and_then(|rows| rows.collect())
            .map_err(self.err(action))?;
        for t in totals {
            if let Some((seconds, rows)) = heard.get(&(t.campaign.clone(), t.bulletin.clone())) {
                t.counts.heard_seconds = *seconds;
                t.counts.heard_rows = *rows;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::ledger::test_util::{airing, at, fresh_ledger};
    use crate::ledger::{Filter, Outcome};

    #[test]
    fn the_report_sums_heard_seconds_of_the_rows_a_monitor_heard_only() {
        let (_d, _p, mut l) = fresh_ledger();
        for (m, heard) in [(0, Some(90.0)), (10, Some(30.5)), (20, None)] {
            let id = l
                .begin(&airing("b", Some("c"), at(6, m)), at(6, m))
                .unwrap();
            l.finish(id, at(6, m + 2), 120.0, Outcome::Completed, None, heard)
                .unwrap();
        }
        let t = l.airtime_totals(&Filter::default()).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].counts.heard_seconds, 120.5);
        assert_eq!(t[0].counts.heard_rows, 2);
        assert_eq!(t[0].counts.aired_seconds, 360.0);
        let rows = l.rows(&Filter::default()).unwrap();
        let heard: Vec<_> = rows.iter().map(|r| r.heard_seconds).collect();
        assert_eq!(heard, [Some(90.0), Some(30.5), None]);
    }
}
