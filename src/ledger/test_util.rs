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

/// A new ledger at a `fresh` path, opened in `TZ`.
pub(crate) fn fresh_ledger() -> (tempfile::TempDir, PathBuf, Ledger) {
    let (dir, path) = fresh();
    let ledger = Ledger::open(&path, TZ).unwrap();
    (dir, path, ledger)
}
