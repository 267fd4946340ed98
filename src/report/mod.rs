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
//! separator is the comma and programs expect it.

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
    /// Ordered by bulletin id.
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
        group(Some(c.id.clone()), c.title.clone(), c.target_minutes, rows);
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
pub use airtime::{format_airtime, outcome_vi, priority_vi, reason_vi, source_vi, AirtimeJson};
pub use format::format_report;
pub(crate) use format::{
    count_cells, report_csv_headers, report_csv_rows, report_json_doc, report_table, round2, vn2,
    JsonCounts,
};

#[cfg(test)]
mod tests;
