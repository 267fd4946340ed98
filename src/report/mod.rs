//! What officials and operators read about airtime: the per-row listing
//! (`loa airtime`) and the per-campaign report (`loa report`), as an aligned
//! table, CSV for spreadsheets, or JSON for programs.
//!
//! This module owns the shape of the report and every formatting decision:
//! Vietnamese labels, rounding, the CSV layout. It sums nothing itself over
//! raw rows — [`Ledger::airtime_totals`] does that in SQL so a year of rows
//! reports in milliseconds — and it must not write to the ledger or read the
//! station file: campaigns are handed in.
//!
//! Numbers in the table use the Vietnamese decimal comma (`12,50`), as in
//! official documents; CSV and JSON use a decimal point, because CSV's own
//! separator is the comma and programs expect it (the report page says so
//! beside its CSV download: [`CSV_NUMBERS`]).
//!
//! Rows come in a stable order everywhere: campaigns as the station file
//! lists them (then those only the ledger knows, by id, then the bulletins
//! without one), and inside a campaign its bulletins by title, then id.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::config::Campaign;
use crate::ledger::{BulletinTotals, Filter, Ledger, Result};

/// Label of the group of rows whose bulletin belongs to no campaign.
pub const NO_CAMPAIGN: &str = "(không thuộc chiến dịch)";

/// Output format of both the listing and the report, and the value of
/// `--format` for `loa airtime` and `loa report`:
/// - `Table`: aligned columns for a terminal;
/// - `Csv`: RFC 4180, UTF-8 with a byte-order mark so Excel shows Vietnamese;
/// - `Json`: pretty-printed JSON with English keys.
///
/// (Said here rather than on each variant: clap would print variant docs in
/// `--help`, which lists the bare names.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

pub use crate::ledger::Counts;

/// One bulletin inside a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct BulletinReport {
    /// Bulletin id.
    pub bulletin: String,
    /// Its title as last aired.
    pub title: String,
    pub counts: Counts,
}

/// One campaign, or the group of bulletins without one.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignReport {
    /// Campaign id; `None` for bulletins without a campaign.
    pub campaign: Option<String>,
    /// From the station file; the id when the station file no longer has it.
    pub title: String,
    pub target_minutes: Option<f64>,
    pub counts: Counts,
    /// Ordered by title, then bulletin id.
    pub bulletins: Vec<BulletinReport>,
}

impl CampaignReport {
    /// Aired minutes as a percentage of the target, when there is a target.
    pub fn percent_of_target(&self) -> Option<f64> {
        self.target_minutes
            .filter(|t| *t > 0.0)
            .map(|t| self.counts.aired_minutes() / t * 100.0)
    }
}

/// The officials' report for one period.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The `--campaign` filter, when one was given.
    pub campaign_filter: Option<String>,
    /// The station's zone, for showing the period.
    pub tz: Tz,
    /// Station-file campaigns in file order, then campaigns only the ledger
    /// knows (by id), then the bulletins without a campaign.
    pub campaigns: Vec<CampaignReport>,
    /// Sum over `campaigns`.
    pub total: Counts,
}

/// A campaign named neither in the station file nor in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCampaign {
    pub id: String,
    pub known: Vec<String>,
}

impl std::fmt::Display for UnknownCampaign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no campaign `{}` in the station file or the ledger; known campaigns: {}",
            self.id,
            if self.known.is_empty() {
                "(none)".to_string()
            } else {
                self.known.join(", ")
            }
        )
    }
}

/// A campaign filter that names nothing would give an empty report that
/// reads as "nothing aired": refuse it. `Ok(Err(..))` is that refusal; the
/// outer error is the ledger's.
pub fn check_campaign(
    ledger: &Ledger,
    campaigns: &[Campaign],
    id: Option<&str>,
) -> Result<std::result::Result<(), UnknownCampaign>> {
    let Some(id) = id else { return Ok(Ok(())) };
    if campaigns.iter().any(|c| c.id == id) {
        return Ok(Ok(()));
    }
    let f = Filter {
        from: None,
        to: None,
        campaign: Some(id.to_string()),
    };
    if !ledger.airtime_totals(&f)?.is_empty() {
        return Ok(Ok(()));
    }
    Ok(Err(UnknownCampaign {
        id: id.to_string(),
        known: campaigns.iter().map(|c| c.id.clone()).collect(),
    }))
}

/// The most days a period is walked day by day for an annual window.
const MAX_WALK_DAYS: i64 = 20 * 366;

/// A campaign's target for the period `from`..`to` (local days of `tz`):
/// pro-rated to the days of its window inside the period (a window of 1–31
/// October with 310 minutes, over 16 October–15 November: 16 of 31 days,
/// 160 minutes); `None` when the period misses the window, so no percent
/// is shown against a target the period never had. A campaign without a
/// window keeps its target whole; so does a window open at one end, which
/// has no length to divide by, and an annual window over an open period.
pub fn target_in(
    c: &Campaign,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    tz: Tz,
) -> Option<f64> {
    use crate::config::DateSpec;
    let target = c.target_minutes?;
    let Some(w) = c.window else {
        return Some(target);
    };
    let first = from.map(|t| crate::timefmt::local_date(t, tz));
    // `to` is exclusive: the period's last day is the one before it.
    let last = to.map(|t| crate::timefmt::local_date(t - chrono::Duration::milliseconds(1), tz));
    match (w.from, w.to) {
        (DateSpec::Fixed(a), DateSpec::Fixed(b)) => {
            let lo = first.map_or(a, |f| f.max(a));
            let hi = last.map_or(b, |l| l.min(b));
            if lo > hi {
                return None;
            }
            if a == chrono::NaiveDate::MIN || b == chrono::NaiveDate::MAX {
                return Some(target);
            }
            let inside = (hi - lo).num_days() + 1;
            let all = (b - a).num_days() + 1;
            Some(target * inside as f64 / all as f64)
        }
        _ => {
            let (Some(first), Some(last)) = (first, last) else {
                return Some(target);
            };
            if (last - first).num_days() > MAX_WALK_DAYS {
                return Some(target);
            }
            let inside = first
                .iter_days()
                .take_while(|d| *d <= last)
                .filter(|d| w.contains(*d))
                .count();
            if inside == 0 {
                return None;
            }
            // One cycle of the window, counted in the year the period starts.
            let year = chrono::Datelike::year(&first);
            let start = chrono::NaiveDate::from_ymd_opt(year, 1, 1)?;
            let end = chrono::NaiveDate::from_ymd_opt(year, 12, 31)?;
            let cycle = start
                .iter_days()
                .take_while(|d| *d <= end)
                .filter(|d| w.contains(*d))
                .count();
            (cycle > 0).then(|| target * inside as f64 / cycle as f64)
        }
    }
}

/// Build the report for the rows `f` selects. The sums come from SQL; this
/// only arranges them around the station's campaigns.
pub fn report(ledger: &Ledger, campaigns: &[Campaign], f: &Filter) -> Result<Report> {
    let totals = ledger.airtime_totals(f)?;
    Ok(arrange(totals, campaigns, f, ledger.tz()))
}

/// The pure part of [`report`], which the province's report
/// (`crate::fleet`) builds each station's part and its total with.
pub(crate) fn arrange(
    totals: Vec<BulletinTotals>,
    campaigns: &[Campaign],
    f: &Filter,
    tz: Tz,
) -> Report {
    let mut by_campaign: BTreeMap<Option<String>, Vec<BulletinTotals>> = BTreeMap::new();
    for t in totals {
        by_campaign.entry(t.campaign.clone()).or_default().push(t);
    }
    let wanted = |id: &str| f.campaign.as_deref().is_none_or(|c| c == id);

    let mut out = Vec::new();
    let mut group = |campaign: Option<String>,
                     title: String,
                     target: Option<f64>,
                     rows: Vec<BulletinTotals>| {
        let mut counts = Counts::default();
        let mut rows = rows;
        rows.sort_by(|a, b| (&a.title, &a.bulletin).cmp(&(&b.title, &b.bulletin)));
        let bulletins = rows
            .into_iter()
            .map(|t| {
                let c = t.counts;
                counts.add(&c);
                BulletinReport {
                    bulletin: t.bulletin,
                    title: t.title,
                    counts: c,
                }
            })
            .collect();
        out.push(CampaignReport {
            campaign,
            title,
            target_minutes: target,
            counts,
            bulletins,
        });
    };
    for c in campaigns.iter().filter(|c| wanted(&c.id)) {
        let rows = by_campaign.remove(&Some(c.id.clone())).unwrap_or_default();
        let target = target_in(c, f.from, f.to, tz);
        group(Some(c.id.clone()), c.title.clone(), target, rows);
    }
    let unnamed = by_campaign.remove(&None);
    // The BTreeMap leaves the ledger-only campaigns ordered by id.
    for (id, rows) in by_campaign {
        let id = id.expect("None removed above");
        group(Some(id.clone()), id, None, rows);
    }
    if let Some(rows) = unnamed {
        group(None, NO_CAMPAIGN.to_string(), None, rows);
    }

    let mut total = Counts::default();
    for c in &out {
        total.add(&c.counts);
    }
    Report {
        from: f.from,
        to: f.to,
        campaign_filter: f.campaign.clone(),
        tz,
        campaigns: out,
        total,
    }
}

mod airtime;
mod format;

pub(crate) use airtime::local_plain;
pub use airtime::{
    format_airtime, outcome_vi, priority_vi, reason_vi, source_vi, source_words, AirtimeJson,
};
pub use format::format_report;
pub(crate) use format::{
    count_cells, legend_csv_rows, report_csv_headers, report_csv_rows, report_json_doc,
    report_table, round2, vn2, JsonCounts, CSV_NUMBERS, LEGEND,
};

#[cfg(test)]
mod tests;
