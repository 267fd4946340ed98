//! Reading `airtime`: the rows, the outcomes the engine loads at start-up,
//! and the per-bulletin sums `crate::report` arranges.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, Row};
use serde::{Serialize, Serializer};

use super::{ErrorContext, Ledger, LedgerError, Outcome, Result, Source};
use crate::config::Priority;
use crate::reason::{Reason, Reasons};

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
    /// Why it did not complete. JSON listings give it through
    /// `crate::report` (code, arguments and text), not as stored.
    #[serde(skip)]
    pub reason: Option<Reasons>,
    pub requested_by: Option<String>,
    /// Seconds the loudspeaker line carried, as `[monitor]` heard them;
    /// `None` without a monitor (and while airing).
    pub heard_seconds: Option<f64>,
}

fn serialize_priority<S: Serializer>(p: &Priority, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(p.as_str())
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
    pub(super) fn bounds(&self) -> (i64, i64) {
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
    pub counts: Counts,
}

/// Counts and airtime of a set of rows.
///
/// `plays` are the items that went on air: completed, interrupted, failed
/// after they started (a start time or some seconds aired), and one still
/// airing. The outcome columns count rows by outcome, except that an item
/// an operator took off before it started ([`crate::reason::OPERATOR_CANCEL_CODES`]) is
/// only `cancelled`: it is not held against the station as missed or
/// skipped. So `plays` is not the sum of the other columns: a failure
/// before the start is `failed` and no play.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Counts {
    /// Items that went on air.
    pub plays: u64,
    pub completed: u64,
    pub interrupted: u64,
    /// Failed, before or after starting.
    pub failed: u64,
    /// Not aired at their time (the station off air, a busy line…).
    pub missed: u64,
    /// Not aired by rule (quiet hours, the station paused…).
    pub skipped: u64,
    /// Taken off before airing by an operator.
    pub cancelled: u64,
    /// Sum over all rows: the part of an interrupted item that aired did air.
    pub aired_seconds: f64,
    /// The part of `aired_seconds` that relays (tiếp âm) aired; the rest is
    /// local content.
    pub relay_seconds: f64,
    /// Seconds a line monitor heard (`[monitor]`), over `heard_rows` rows
    /// that had one.
    pub heard_seconds: f64,
    pub heard_rows: u64,
}

impl Counts {
    /// Add another set's counts to this one.
    pub fn add(&mut self, o: &Counts) {
        self.plays += o.plays;
        self.completed += o.completed;
        self.interrupted += o.interrupted;
        self.failed += o.failed;
        self.missed += o.missed;
        self.skipped += o.skipped;
        self.cancelled += o.cancelled;
        self.aired_seconds += o.aired_seconds;
        self.relay_seconds += o.relay_seconds;
        self.heard_seconds += o.heard_seconds;
        self.heard_rows += o.heard_rows;
    }

    /// Count `rows` rows of one outcome (`None`: still airing), of which
    /// `on_air` went on air and `cancelled` were taken off by an operator
    /// before they started.
    pub fn tally(&mut self, outcome: Option<Outcome>, rows: u64, on_air: u64, cancelled: u64) {
        let cancelled = cancelled.min(rows);
        self.plays += on_air.min(rows);
        self.cancelled += cancelled;
        match outcome {
            None => {}
            Some(Outcome::Completed) => self.completed += rows,
            Some(Outcome::Interrupted) => self.interrupted += rows,
            Some(Outcome::Failed) => self.failed += rows,
            Some(Outcome::Missed) => self.missed += rows - cancelled,
            Some(Outcome::Skipped) => self.skipped += rows - cancelled,
        }
    }

    pub fn aired_minutes(&self) -> f64 {
        self.aired_seconds / 60.0
    }

    /// Minutes a line monitor heard; `None` when no row had a monitor.
    pub fn heard_minutes(&self) -> Option<f64> {
        (self.heard_rows > 0).then(|| self.heard_seconds / 60.0)
    }

    /// Minutes relayed from a stream or line-in.
    pub fn relay_minutes(&self) -> f64 {
        self.relay_seconds / 60.0
    }

    /// Minutes of the station's own content (files).
    pub fn local_minutes(&self) -> f64 {
        (self.aired_seconds - self.relay_seconds).max(0.0) / 60.0
    }
}

/// The rows of a group of failed, missed or skipped rows that went on air
/// anyway: failed after a start (a start time or some seconds aired).
/// Completed, interrupted and airing rows all went on air, which the
/// covering index tells without this.
const ON_AIR_SQL: &str = "sum(CASE WHEN outcome = 'failed' \
     AND (aired_seconds > 0 OR started_at IS NOT NULL) THEN 1 ELSE 0 END)";

/// SQL counting the rows of a group an operator took off before they
/// started ([`crate::reason::OPERATOR_CANCEL_CODES`]; kept in step by a unit test).
const CANCELLED_SQL: &str = "sum(CASE WHEN outcome IN ('skipped', 'missed') \
     AND reason_code IN ('dequeued', 'emergency_cancelled_by') THEN 1 ELSE 0 END)";

/// How [`Ledger::airtime_totals`] walks the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TotalsPlan {
    /// Scan `airtime_report`, already in group order.
    GroupOrder,
    /// Seek the time range in `airtime_scheduled`, then sort to group.
    TimeRange,
}

const ROW_COLUMNS: &str = "id, occurrence, bulletin, title, campaign, program, priority, source, \
     file, scheduled_at, started_at, ended_at, planned_seconds, aired_seconds, outcome, reason, \
     requested_by, reason_code, reason_args, reason_more, heard_seconds";

impl Ledger {
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
            LedgerError::Corrupt(ErrorContext::new(
                &self.path,
                action,
                format!("unknown outcome `{s}`"),
            ))
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
            .map_err(|e| match LedgerError::sqlite(&self.path, action, e) {
                // A value the CHECK constraints should have kept out.
                LedgerError::Sqlite(c) => LedgerError::Corrupt(c),
                err => err,
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
        let unaired = self.unaired_detail(f)?;
        // One group per outcome, so the counts are plain count(*) and the
        // covering index answers everything; titles are fetched afterwards
        // for the few hundred bulletins rather than read for every row.
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT campaign, bulletin, outcome, max(id), count(*), total(aired_seconds), \
                        total(CASE WHEN source = 'relay' THEN aired_seconds ELSE 0 END) \
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
                    r.get::<_, f64>(6)?,
                ))
            };
            let (campaign, bulletin, outcome, max_id, count, aired, relayed) =
                get(r).map_err(self.err(action))?;
            let count = count.max(0) as u64;
            let (on_air, cancelled) = match outcome.as_deref() {
                None | Some("completed" | "interrupted") => (count, 0),
                Some(o) => unaired
                    .get(&(campaign.clone(), bulletin.clone(), o.to_string()))
                    .copied()
                    .unwrap_or((0, 0)),
            };
            let same = out
                .last()
                .is_some_and(|t| t.campaign == campaign && t.bulletin == bulletin);
            if !same {
                out.push(BulletinTotals {
                    campaign,
                    bulletin,
                    title: String::new(),
                    counts: Counts::default(),
                });
                latest.push(max_id);
            }
            let t = &mut out.last_mut().expect("pushed above").counts;
            let last = latest.last_mut().expect("pushed above");
            *last = (*last).max(max_id);
            let outcome = outcome
                .as_deref()
                .map(|o| self.parse_outcome(o, action))
                .transpose()?;
            t.tally(outcome, count, on_air, cancelled);
            t.aired_seconds += aired;
            t.relay_seconds += relayed;
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
        self.add_heard(f, &mut out)?;
        Ok(out)
    }
}

/// Per (campaign, bulletin, outcome) of the failed, missed and skipped
/// rows: how many went on air and how many an operator cancelled.
type Unaired = HashMap<(Option<String>, String, String), (u64, u64)>;

impl Ledger {
    /// What the covering index cannot tell of the rows `f` selects: which
    /// failed rows had started and which rows an operator cancelled. The
    /// partial index `airtime_unaired` finds the few rows that did not air
    /// in full without walking the others (over `benches/ledger.rs`'s year
    /// of rows, about half the time of the main sums; walking
    /// `airtime_report` again took as long as the main sums).
    fn unaired_detail(&self, f: &Filter) -> Result<Unaired> {
        let action = "sum airtime";
        let (from, to) = f.bounds();
        let sql = format!(
            "SELECT campaign, bulletin, outcome, {ON_AIR_SQL}, {CANCELLED_SQL} \
             FROM airtime INDEXED BY airtime_unaired \
             WHERE scheduled_ms >= ?1 AND scheduled_ms < ?2 \
               AND (?3 IS NULL OR campaign = ?3) \
               AND outcome IN ('failed', 'missed', 'skipped') \
             GROUP BY campaign, bulletin, outcome"
        );
        self.all(action, &sql, params![from, to, f.campaign], |r| {
            let count = |i| r.get::<_, i64>(i).map(|n| n.max(0) as u64);
            Ok(((r.get(0)?, r.get(1)?, r.get(2)?), (count(3)?, count(4)?)))
        })
    }
}

impl Ledger {
    /// Up to `limit` rows after row `after`, by id, stopping before the
    /// first one still airing: every row up to the last one returned is
    /// closed, so a mark at its id never skips one that closes later.
    pub fn closed_after(&self, after: i64, limit: usize) -> Result<Vec<AirtimeRow>> {
        let action = "read closed rows to ship";
        let sql = format!("SELECT {ROW_COLUMNS} FROM airtime WHERE id > ?1 ORDER BY id LIMIT ?2");
        let rows: Vec<_> = self.all(action, &sql, params![after, limit as i64], row_from_sql)?;
        Ok(rows
            .into_iter()
            .take_while(|r| r.outcome.is_some())
            .collect())
    }

    /// How many closed rows come after row `after` (an item still airing
    /// is not waiting yet).
    pub fn rows_after(&self, after: i64) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT count(*) FROM airtime WHERE id > ?1 AND outcome IS NOT NULL",
                [after],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(self.err("count rows to ship"))
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
        heard_seconds: r.get(20)?,
        outcome: match outcome {
            None => None,
            Some(o) => Some(Outcome::parse(&o).ok_or_else(|| bad(14, "outcome", &o))?),
        },
        reason: {
            let text: Option<String> = r.get(15)?;
            let code: Option<String> = r.get(17)?;
            let args: Option<String> = r.get(18)?;
            let more: Option<String> = r.get(19)?;
            match (code, text) {
                (Some(c), text) => Some(Reasons::from_columns(
                    &c,
                    args.as_deref(),
                    more.as_deref(),
                    text.as_deref(),
                )),
                // Written without a code (by hand, with `sqlite3`): kept as text.
                (None, Some(t)) => Some(Reason::Free { text: t }.into()),
                (None, None) => None,
            }
        },
        requested_by: r.get(16)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::test_util::*;
    use crate::ledger::Settled;

    #[test]
    fn record_and_settled_since() {
        let (_dir, path) = fresh();
        let mut ledger = Ledger::open(&path, TZ).unwrap();
        let early = airing("b0", None, at(5, 0));
        let a = airing("b1", None, at(6, 15));
        let b = airing("b2", None, at(6, 30));
        ledger
            .record(&early, Outcome::Missed, Some(&Reason::StationPaused.into()))
            .unwrap();
        ledger
            .record(&a, Outcome::Failed, Some(&Reason::NoAudio.into()))
            .unwrap();
        let id = ledger.begin(&a, at(6, 20)).unwrap();
        ledger
            .finish(id, at(6, 22), 120.0, Outcome::Completed, None, None)
            .unwrap();
        ledger
            .record(&b, Outcome::Skipped, Some(&Reason::QuietHours.into()))
            .unwrap();
        ledger
            .begin(&airing("b3", None, at(7, 0)), at(7, 0))
            .unwrap();

        let r = &ledger.rows(&Filter::default()).unwrap()[0];
        assert_eq!(r.outcome, Some(Outcome::Missed));
        assert_eq!(r.reason, Some(Reason::StationPaused.into()));
        assert_eq!((r.started_at.as_ref(), r.ended_at.as_ref()), (None, None));
        assert_eq!(r.aired_seconds, 0.0);

        let settled = ledger.settled_since(at(6, 0)).unwrap();
        assert_eq!(settled.len(), 2, "{settled:?}");
        assert_eq!(settled[&a.occurrence], Outcome::Completed);
        assert_eq!(settled[&b.occurrence], Outcome::Skipped);
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
            let on_air = rows.iter().filter(|r| match r.outcome {
                None | Some(Outcome::Completed | Outcome::Interrupted) => true,
                Some(Outcome::Failed) => r.aired_seconds > 0.0 || r.started_at.is_some(),
                Some(Outcome::Missed | Outcome::Skipped) => false,
            });
            assert_eq!(
                a.iter().map(|t| t.counts.plays).sum::<u64>(),
                on_air.count() as u64
            );
            let aired: f64 = rows.iter().map(|r| r.aired_seconds).sum();
            assert_eq!(a.iter().map(|t| t.counts.aired_seconds).sum::<f64>(), aired);
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
        let c1b1 = &all[3].counts;
        // b1 in c1: d + i and d + 2i both divisible by 3, so i in {0, 3}
        // (completed, missed) and d in {0, 3, .., 27}: 10 days each.
        // Only the completed ones and the one airing went on air.
        assert_eq!(c1b1.plays, 10 + 1);
        assert_eq!((c1b1.completed, c1b1.missed), (10, 10));
        assert_eq!(c1b1.interrupted + c1b1.failed + c1b1.skipped, 0);
        assert_eq!(all[3].title, "Bản tin b1", "title of the latest row");
        assert_eq!(all[1].title, "b2 v28");

        let plans: Vec<_> = filters
            .iter()
            .map(|f| ledger.totals_plan(f).unwrap())
            .collect();
        use TotalsPlan::*;
        assert_eq!(plans, [GroupOrder, TimeRange, GroupOrder, GroupOrder]);
    }

    #[test]
    fn cancelled_items_are_not_plays_nor_held_against_the_station() {
        use crate::reason::By;
        let (_dir, path) = fresh();
        let mut ledger = Ledger::open(&path, TZ).unwrap();
        let item = |i: u32, outcome, reason: Option<Reason>, started: bool, aired: f64| {
            let when = at(6, i);
            Settled {
                airing: airing("b1", Some("c1"), when),
                started_at: started.then_some(when),
                ended_at: started.then_some(when),
                aired_seconds: aired,
                outcome,
                reason: reason.map(Into::into),
            }
        };
        let mut rows = Vec::new();
        // An operator queued ten: took seven off, one was missed, one
        // skipped for quiet hours, one aired.
        for i in 0..7 {
            rows.push(item(
                i,
                Outcome::Skipped,
                Some(Reason::Dequeued),
                false,
                0.0,
            ));
        }
        let busy = Reason::LineBusy {
            late_seconds: 400,
            grace_seconds: 300,
        };
        rows.push(item(7, Outcome::Missed, Some(busy), false, 0.0));
        rows.push(item(
            8,
            Outcome::Skipped,
            Some(Reason::QuietHours),
            false,
            0.0,
        ));
        rows.push(item(9, Outcome::Completed, None, true, 120.0));
        // A failure before the start is no play; one after it is.
        let bad = || Reason::FileFailed {
            error: "bad".into(),
        };
        rows.push(item(10, Outcome::Failed, Some(bad()), false, 0.0));
        rows.push(item(11, Outcome::Failed, Some(bad()), true, 0.0));
        // An emergency cancelled before it aired, and one cut short.
        let by = || Reason::EmergencyCancelledBy { by: By::user("op") };
        rows.push(item(12, Outcome::Skipped, Some(by()), false, 0.0));
        rows.push(item(13, Outcome::Interrupted, Some(by()), true, 30.0));
        ledger.record_all(rows).unwrap();

        for plan in [TotalsPlan::GroupOrder, TotalsPlan::TimeRange] {
            let t = ledger
                .airtime_totals_with(&Filter::default(), plan)
                .unwrap();
            assert_eq!(t.len(), 1);
            let c = &t[0].counts;
            assert_eq!(c.plays, 1 + 1 + 1, "{c:?}");
            assert_eq!((c.completed, c.interrupted, c.failed), (1, 1, 2), "{c:?}");
            assert_eq!((c.missed, c.skipped, c.cancelled), (1, 1, 8), "{c:?}");
            assert_eq!(c.aired_seconds, 150.0);
        }
    }

    #[test]
    fn the_cancel_sql_names_the_operator_cancel_codes() {
        for code in crate::reason::OPERATOR_CANCEL_CODES {
            assert!(CANCELLED_SQL.contains(&format!("'{code}'")), "{code}");
        }
    }
}
