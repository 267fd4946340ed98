//! What the ledger's tests (and the report's) share: a zone, instants of
//! one day, airings.

use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::{Airing, Ledger, Source};
use crate::config::Priority;
use crate::schedule::OccurrenceKey;

pub(crate) const TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

pub(crate) fn at(h: u32, m: u32) -> DateTime<Utc> {
    // Local 2026-10-07 h:m, UTC+7.
    TZ.with_ymd_and_hms(2026, 10, 7, h, m, 0)
        .unwrap()
        .with_timezone(&Utc)
}

pub(crate) fn airing(bulletin: &str, campaign: Option<&str>, when: DateTime<Utc>) -> Airing {
    Airing {
        occurrence: OccurrenceKey::new(bulletin, when, TZ).into(),
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

pub(crate) fn fresh() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("nested").join("airtime.db");
    (dir, path)
}

/// An operator's ten items of 7 October 2026 whose report is known: seven
/// taken off the queue, one missed (the line busy too long), one skipped
/// for quiet hours, one aired in full (120 s). So: plays 1, completed 1,
/// cancelled 7, missed 1, skipped 1, 2 minutes aired.
pub(crate) fn ten_queued() -> Vec<super::Settled> {
    use super::{Outcome, Settled};
    use crate::reason::Reason;
    (0..10u32)
        .map(|i| {
            let when = at(6, i);
            let (outcome, reason) = match i {
                0..=6 => (Outcome::Skipped, Some(Reason::Dequeued)),
                7 => (
                    Outcome::Missed,
                    Some(Reason::LineBusy {
                        late_seconds: 400,
                        grace_seconds: 300,
                    }),
                ),
                8 => (Outcome::Skipped, Some(Reason::QuietHours)),
                _ => (Outcome::Completed, None),
            };
            let aired = outcome == Outcome::Completed;
            let mut airing = airing("hop-dan", None, when);
            airing.title = "Họp dân".into();
            airing.source = Source::Operator;
            Settled {
                airing,
                started_at: aired.then_some(when),
                ended_at: aired.then_some(when + chrono::Duration::seconds(120)),
                aired_seconds: if aired { 120.0 } else { 0.0 },
                outcome,
                reason: reason.map(Into::into),
            }
        })
        .collect()
}

/// A new ledger at a `fresh` path, opened in `TZ`.
pub(crate) fn fresh_ledger() -> (tempfile::TempDir, PathBuf, Ledger) {
    let (dir, path) = fresh();
    let ledger = Ledger::open(&path, TZ).unwrap();
    (dir, path, ledger)
}
