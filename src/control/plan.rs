//! The plan as the pages show it: the occurrences of a range of local days,
//! each with its campaign and planned minutes, and, when asked, what the
//! ledger says became of it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::reading::open_ledger;
use super::{blocking, Control, Result};
use crate::ledger::{Filter, Outcome};
use crate::schedule::{self, ItemKind};
use crate::timefmt;

/// One occurrence of the plan.
#[derive(Debug, Clone)]
pub struct Planned {
    /// In the station's zone.
    pub at: DateTime<Tz>,
    pub kind: ItemKind,
    pub title: String,
    /// The campaign's title, for a bulletin or relay that has one.
    pub campaign: Option<String>,
    pub planned_seconds: f64,
    /// Planned minutes per campaign id (`""`: none): the occurrence's own,
    /// or its programme's items'.
    pub minutes: Vec<(String, f64)>,
    /// From the ledger, when asked: `None` no row yet, `Some(None)` on
    /// air now, `Some(Some(o))` how it ended. A programme: the first of
    /// its items that did not air well, else aired.
    pub outcome: Option<Option<Outcome>>,
}

impl Control {
    /// The plan of `days` local days from `first`, with the ledger's
    /// outcomes when `outcomes` (a ledger that cannot be read shows none).
    pub async fn plan(&self, first: NaiveDate, days: u32, outcomes: bool) -> Result<Vec<Planned>> {
        let station = self.current.get();
        blocking(move || {
            let tz = station.timezone;
            let from = timefmt::start_of_day(first, tz);
            let to = timefmt::start_of_day(first + chrono::Duration::days(i64::from(days)), tz);
            let mut seen: HashMap<String, Option<Outcome>> = HashMap::new();
            if outcomes {
                if let Ok(ledger) = open_ledger(&station) {
                    for r in ledger.rows(&Filter {
                        from: Some(from),
                        to: Some(to),
                        campaign: None,
                    })? {
                        seen.insert(r.occurrence, r.outcome);
                    }
                }
            }
            Ok(schedule::schedule(&station, from, to)
                .iter()
                .map(|o| {
                    let key = o.key();
                    let minutes = match o.kind {
                        ItemKind::Bulletin | ItemKind::Relay => {
                            vec![(
                                o.campaign.unwrap_or("").to_string(),
                                o.planned_seconds / 60.0,
                            )]
                        }
                        ItemKind::Program => o
                            .items
                            .iter()
                            .map(|&i| {
                                let item = station.item_info(i);
                                (item.campaign.unwrap_or("").to_string(), item.seconds / 60.0)
                            })
                            .collect(),
                    };
                    Planned {
                        at: o.at,
                        kind: o.kind,
                        title: o.title.to_string(),
                        campaign: o
                            .campaign
                            .and_then(|c| station.campaign(c))
                            .map(|c| c.title.clone()),
                        planned_seconds: o.planned_seconds,
                        minutes,
                        outcome: match o.kind {
                            ItemKind::Bulletin | ItemKind::Relay => seen.get(&key).copied(),
                            ItemKind::Program => program_outcome(&seen, o.id, &key),
                        },
                    }
                })
                .collect())
        })
        .await
    }

    /// Today's plan (local day), with the ledger's outcomes.
    pub async fn today(&self) -> Result<Vec<Planned>> {
        let day = timefmt::local_date(Utc::now(), self.current.get().timezone);
        self.plan(day, 1, true).await
    }
}

/// A programme's outcome from its items' rows (`prog/item@instant`): the
/// first that did not air well, else aired; on air while one airs.
fn program_outcome(
    outcomes: &HashMap<String, Option<Outcome>>,
    program: &str,
    key: &str,
) -> Option<Option<Outcome>> {
    let instant = key.split_once('@')?.1;
    let prefix = format!("{program}/");
    let suffix = format!("@{instant}");
    let items: Vec<Option<Outcome>> = outcomes
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix) && k.ends_with(&suffix))
        .map(|(_, o)| *o)
        .collect();
    if items.is_empty() {
        return None;
    }
    if items.iter().any(Option::is_none) {
        return Some(None);
    }
    Some(
        items
            .into_iter()
            .flatten()
            .find(|o| *o != Outcome::Completed)
            .or(Some(Outcome::Completed)),
    )
}
