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
use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::config::{Campaign, Priority};
use crate::ledger::{AirtimeRow, BulletinTotals, Filter, Ledger, Outcome, Result, Source};
use crate::reason::{Lang, ReasonJson, Reasons};
use crate::table::{csv_line, render_table, Line, BOM};
use crate::timefmt::rfc3339;

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

// ---------------------------------------------------------------------------
// Report formatting
// ---------------------------------------------------------------------------

const COUNT_HEADERS: [&str; 6] = [
    "Lượt phát",
    "Hoàn thành",
    "Bị ngắt",
    "Lỗi",
    "Bỏ lỡ",
    "Bỏ qua",
];
const MINUTES: &str = "Phút đã phát";
const RELAY_MINUTES: &str = "Phút tiếp âm";
const LOCAL_MINUTES: &str = "Phút nội dung địa phương";
const TARGET: &str = "Chỉ tiêu (phút)";
const PERCENT: &str = "% chỉ tiêu";
const WHOLE_CAMPAIGN: &str = "(cả chiến dịch)";
const TOTAL: &str = "Tổng cộng";

/// Render the report.
pub fn format_report(r: &Report, fmt: Format) -> String {
    match fmt {
        Format::Table => report_table(r),
        Format::Csv => report_csv(r),
        Format::Json => report_json(r),
    }
}

pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `12,50`: two decimals, Vietnamese decimal comma.
pub(crate) fn vn2(x: f64) -> String {
    format!("{:.2}", round2(x)).replace('.', ",")
}

/// `75,8`: one decimal, Vietnamese decimal comma.
fn vn1(x: f64) -> String {
    format!("{x:.1}").replace('.', ",")
}

/// Aired, relayed and local minutes, each written by `fmt`.
fn minute_cells(c: &Counts, fmt: fn(f64) -> String) -> [String; 3] {
    [
        fmt(c.aired_minutes()),
        fmt(c.relay_minutes()),
        fmt(c.local_minutes()),
    ]
}

/// Two decimals with a point, as CSV and programs read them.
fn csv2(x: f64) -> String {
    format!("{:.2}", round2(x))
}

pub(crate) fn count_cells(c: &Counts) -> Vec<String> {
    [
        c.plays,
        c.completed,
        c.interrupted,
        c.failed,
        c.missed,
        c.skipped,
    ]
    .iter()
    .map(u64::to_string)
    .collect()
}

/// The period in words, e.g. `từ 01/10/2026 đến hết 31/10/2026 (giờ UTC+07:00)`.
/// `to` is exclusive, so a midnight `to` is shown as the end of the day before.
fn period_vi(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, tz: Tz) -> String {
    let midnight = |t: DateTime<Utc>| t.with_timezone(&tz).time() == NaiveTime::MIN;
    let from_s = match from {
        None => "từ đầu sổ".to_string(),
        Some(t) if midnight(t) => format!("từ {}", t.with_timezone(&tz).format("%d/%m/%Y")),
        Some(t) => format!("từ {}", t.with_timezone(&tz).format("%d/%m/%Y %H:%M")),
    };
    let to_s = match to {
        None => "đến nay".to_string(),
        Some(t) if midnight(t) => {
            let day = t
                .with_timezone(&tz)
                .date_naive()
                .pred_opt()
                .unwrap_or_default();
            format!("đến hết {}", day.format("%d/%m/%Y"))
        }
        Some(t) => format!(
            "đến trước {}",
            t.with_timezone(&tz).format("%d/%m/%Y %H:%M")
        ),
    };
    let offset = from
        .or(to)
        .unwrap_or_else(Utc::now)
        .with_timezone(&tz)
        .format("%:z");
    format!("{from_s} {to_s} (giờ UTC{offset})")
}

pub(crate) fn report_table(r: &Report) -> String {
    let mut out = String::new();
    out.push_str("BÁO CÁO THỜI LƯỢNG PHÁT SÓNG\n");
    let _ = writeln!(out, "Kỳ báo cáo: {}", period_vi(r.from, r.to, r.tz));
    if let Some(c) = &r.campaign_filter {
        let _ = writeln!(out, "Chiến dịch: {c}");
    }
    out.push('\n');

    let mut headers = vec!["Chiến dịch", "Bản tin"];
    headers.extend(COUNT_HEADERS);
    headers.extend([MINUTES, RELAY_MINUTES, LOCAL_MINUTES, TARGET, PERCENT]);
    let mut lines = Vec::new();
    for c in &r.campaigns {
        let mut row = vec![c.title.clone(), WHOLE_CAMPAIGN.to_string()];
        row.extend(count_cells(&c.counts));
        row.extend(minute_cells(&c.counts, vn2));
        row.push(c.target_minutes.map(vn2).unwrap_or_default());
        row.push(c.percent_of_target().map(vn1).unwrap_or_default());
        lines.push(Line::Row(row));
        for b in &c.bulletins {
            let mut row = vec![String::new(), b.title.clone()];
            row.extend(count_cells(&b.counts));
            row.extend(minute_cells(&b.counts, vn2));
            row.extend([String::new(), String::new()]);
            lines.push(Line::Row(row));
        }
    }
    if r.campaigns.is_empty() {
        out.push_str("Không có chiến dịch hay lượt phát nào trong kỳ này.\n");
        return out;
    }
    lines.push(Line::Rule);
    let mut row = vec![TOTAL.to_string(), String::new()];
    row.extend(count_cells(&r.total));
    row.extend(minute_cells(&r.total, vn2));
    row.extend([String::new(), String::new()]);
    lines.push(Line::Row(row));
    let right: Vec<bool> = (0..headers.len()).map(|i| i >= 2).collect();
    out.push_str(&render_table(&headers, &right, &lines));
    out
}

/// The CSV has one row per bulletin, carrying its campaign's columns, then
/// one subtotal row per campaign and one total row; the `Loại dòng` column
/// tells them apart, so a pivot table filters on `bản tin` and sums freely.
fn report_csv(r: &Report) -> String {
    let mut out = String::from(BOM);
    csv_line(&mut out, report_csv_headers());
    for cells in report_csv_rows(r) {
        csv_line(&mut out, cells.iter().map(String::as_str));
    }
    out
}

/// The header cells of [`report_csv`].
pub(crate) fn report_csv_headers() -> Vec<&'static str> {
    let mut headers = vec![
        "Từ",
        "Đến trước",
        "Loại dòng",
        "Mã chiến dịch",
        "Chiến dịch",
        "Mã bản tin",
        "Bản tin",
    ];
    headers.extend(COUNT_HEADERS);
    headers.extend([MINUTES, RELAY_MINUTES, LOCAL_MINUTES, TARGET, PERCENT]);
    headers
}

/// The records of [`report_csv`] after its header.
pub(crate) fn report_csv_rows(r: &Report) -> Vec<Vec<String>> {
    let (from, to) = (
        r.from.map(|t| local_plain(t, r.tz)).unwrap_or_default(),
        r.to.map(|t| local_plain(t, r.tz)).unwrap_or_default(),
    );
    let mut out = Vec::new();
    let line =
        |out: &mut Vec<Vec<String>>, kind: &str, c: &CampaignReport, b: Option<&BulletinReport>| {
            let counts = b.map_or(&c.counts, |b| &b.counts);
            let mut cells = vec![
                from.clone(),
                to.clone(),
                kind.to_string(),
                c.campaign.clone().unwrap_or_default(),
                c.title.clone(),
                b.map(|b| b.bulletin.clone()).unwrap_or_default(),
                b.map(|b| b.title.clone()).unwrap_or_default(),
            ];
            cells.extend(count_cells(counts));
            cells.extend(minute_cells(counts, csv2));
            if b.is_none() {
                cells.push(
                    c.target_minutes
                        .map(|t| format!("{t:.2}"))
                        .unwrap_or_default(),
                );
                cells.push(
                    c.percent_of_target()
                        .map(|p| format!("{p:.1}"))
                        .unwrap_or_default(),
                );
            } else {
                cells.extend([String::new(), String::new()]);
            }
            out.push(cells);
        };
    for c in &r.campaigns {
        for b in &c.bulletins {
            line(&mut out, "bản tin", c, Some(b));
        }
        line(&mut out, "cộng chiến dịch", c, None);
    }
    let mut cells = vec![from.clone(), to.clone(), "tổng cộng".to_string()];
    cells.extend(std::iter::repeat_n(String::new(), 4));
    cells.extend(count_cells(&r.total));
    cells.extend(minute_cells(&r.total, csv2));
    cells.extend([String::new(), String::new()]);
    out.push(cells);
    out
}

#[derive(Serialize)]
pub(crate) struct JsonCounts {
    plays: u64,
    completed: u64,
    interrupted: u64,
    failed: u64,
    missed: u64,
    skipped: u64,
    aired_minutes: f64,
    aired_seconds: f64,
    relay_minutes: f64,
    local_minutes: f64,
}

impl From<&Counts> for JsonCounts {
    fn from(c: &Counts) -> Self {
        JsonCounts {
            plays: c.plays,
            completed: c.completed,
            interrupted: c.interrupted,
            failed: c.failed,
            missed: c.missed,
            skipped: c.skipped,
            aired_minutes: round2(c.aired_minutes()),
            aired_seconds: (c.aired_seconds * 1000.0).round() / 1000.0,
            relay_minutes: round2(c.relay_minutes()),
            local_minutes: round2(c.local_minutes()),
        }
    }
}

#[derive(Serialize)]
struct JsonBulletin<'a> {
    bulletin: &'a str,
    title: &'a str,
    #[serde(flatten)]
    counts: JsonCounts,
}

#[derive(Serialize)]
struct JsonCampaign<'a> {
    campaign: Option<&'a str>,
    title: &'a str,
    #[serde(flatten)]
    counts: JsonCounts,
    target_minutes: Option<f64>,
    percent_of_target: Option<f64>,
    bulletins: Vec<JsonBulletin<'a>>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    from: Option<String>,
    to: Option<String>,
    campaign_filter: Option<&'a str>,
    campaigns: Vec<JsonCampaign<'a>>,
    total: JsonCounts,
}

fn report_json(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(&report_json_doc(r)).expect("plain structs serialize");
    s.push('\n');
    s
}

/// The document [`report_json`] prints, for the province's report to nest.
pub(crate) fn report_json_doc(r: &Report) -> impl Serialize + '_ {
    JsonReport {
        from: r.from.map(|t| rfc3339(t, r.tz)),
        to: r.to.map(|t| rfc3339(t, r.tz)),
        campaign_filter: r.campaign_filter.as_deref(),
        campaigns: r
            .campaigns
            .iter()
            .map(|c| JsonCampaign {
                campaign: c.campaign.as_deref(),
                title: &c.title,
                counts: (&c.counts).into(),
                target_minutes: c.target_minutes,
                percent_of_target: c.percent_of_target().map(round2),
                bulletins: c
                    .bulletins
                    .iter()
                    .map(|b| JsonBulletin {
                        bulletin: &b.bulletin,
                        title: &b.title,
                        counts: (&b.counts).into(),
                    })
                    .collect(),
            })
            .collect(),
        total: (&r.total).into(),
    }
}

// ---------------------------------------------------------------------------
// Airtime listing
// ---------------------------------------------------------------------------

/// How an outcome reads on screen; `None` is a row still airing.
pub fn outcome_vi(o: Option<Outcome>) -> &'static str {
    match o {
        None => "đang phát",
        Some(Outcome::Completed) => "hoàn thành",
        Some(Outcome::Interrupted) => "bị ngắt",
        Some(Outcome::Failed) => "lỗi",
        Some(Outcome::Missed) => "bỏ lỡ",
        Some(Outcome::Skipped) => "bỏ qua",
    }
}

/// How a source reads on screen.
pub fn source_vi(s: Source) -> &'static str {
    match s {
        Source::Schedule => "theo lịch",
        Source::Operator => "người vận hành",
        Source::Emergency => "khẩn cấp",
        Source::Relay => "tiếp âm",
    }
}

/// How a priority reads on screen.
pub fn priority_vi(p: Priority) -> &'static str {
    match p {
        Priority::Normal => "thường",
        Priority::Priority => "ưu tiên",
        Priority::Emergency => "khẩn cấp",
    }
}

/// Render airtime rows (as [`Ledger::rows`] returns them).
pub fn format_airtime(rows: &[AirtimeRow], fmt: Format) -> String {
    match fmt {
        Format::Table => airtime_table(rows),
        Format::Csv => airtime_csv(rows),
        Format::Json => {
            let rows: Vec<AirtimeJson> = rows.iter().map(AirtimeJson::of).collect();
            let mut s = serde_json::to_string_pretty(&rows).expect("plain structs serialize");
            s.push('\n');
            s
        }
    }
}

/// A row's reason in Vietnamese, from the catalogue (empty when none).
pub fn reason_vi(r: Option<&Reasons>) -> String {
    r.map(|r| r.text(Lang::Vi)).unwrap_or_default()
}

/// An airtime row as JSON listings give it (`loa airtime --format json`,
/// `GET /api/v1/airtime`): the row's columns, and its reason as data and
/// as text: `reason_code` and `reason_args` (the main reason),
/// `reason_details` (further reasons, each `{code, args, text}`), `reason`
/// (every reason in English, as before) and `reason_vi` (in Vietnamese).
#[derive(Serialize)]
pub struct AirtimeJson<'a> {
    #[serde(flatten)]
    row: &'a AirtimeRow,
    reason: Option<String>,
    reason_vi: Option<String>,
    reason_code: Option<&'static str>,
    reason_args: Option<serde_json::Map<String, serde_json::Value>>,
    reason_details: Vec<ReasonJson>,
}

impl<'a> AirtimeJson<'a> {
    pub fn of(row: &'a AirtimeRow) -> AirtimeJson<'a> {
        let r = row.reason.as_ref();
        AirtimeJson {
            row,
            reason: r.map(|r| r.text(Lang::En)),
            reason_vi: r.map(|r| r.text(Lang::Vi)),
            reason_code: r.map(|r| r.main.code()),
            reason_args: r.map(|r| r.main.args()),
            reason_details: r.map_or_else(Vec::new, |r| {
                r.more.iter().map(|m| ReasonJson::of(m, Lang::En)).collect()
            }),
        }
    }
}

fn parse_stored(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

/// `07/10/2026 06:15:00` in the offset it was stored with.
fn shown(s: &str) -> String {
    parse_stored(s).map_or_else(
        || s.to_string(),
        |t| t.format("%d/%m/%Y %H:%M:%S").to_string(),
    )
}

/// `2026-10-07 06:15:00`: what spreadsheets parse as a date-time.
fn plain(s: &str) -> String {
    parse_stored(s).map_or_else(
        || s.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

pub(crate) fn local_plain(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn airtime_table(rows: &[AirtimeRow]) -> String {
    if rows.is_empty() {
        return "Không có lượt phát nào trong khoảng thời gian này.\n".to_string();
    }
    let headers = [
        "Giờ dự kiến",
        "Bắt đầu",
        "Bản tin",
        "Chiến dịch",
        "Kết quả",
        "Lý do",
        "Giây đã phát",
    ];
    let mut aired = 0.0;
    let lines: Vec<Line> = rows
        .iter()
        .map(|r| {
            aired += r.aired_seconds;
            // The start is nearly always on the scheduled day: show the time only.
            let started = match (r.started_at.as_deref(), parse_stored(&r.scheduled_at)) {
                (None, _) => String::new(),
                (Some(s), Some(sched)) => match parse_stored(s) {
                    Some(t) if t.date_naive() == sched.date_naive() => {
                        t.format("%H:%M:%S").to_string()
                    }
                    _ => shown(s),
                },
                (Some(s), None) => shown(s),
            };
            Line::Row(vec![
                shown(&r.scheduled_at),
                started,
                r.title.clone(),
                r.campaign.clone().unwrap_or_default(),
                outcome_vi(r.outcome).to_string(),
                reason_vi(r.reason.as_ref()),
                format!("{:.1}", r.aired_seconds).replace('.', ","),
            ])
        })
        .collect();
    let right = [false, false, false, false, false, false, true];
    let mut out = render_table(&headers, &right, &lines);
    let _ = writeln!(
        out,
        "\n{} lượt, {} phút đã phát",
        rows.len(),
        vn2(aired / 60.0)
    );
    out
}

fn airtime_csv(rows: &[AirtimeRow]) -> String {
    let mut out = String::from(BOM);
    csv_line(
        &mut out,
        [
            "Giờ dự kiến",
            "Bắt đầu",
            "Kết thúc",
            "Mã bản tin",
            "Bản tin",
            "Mã chiến dịch",
            "Mã chương trình",
            "Mức ưu tiên",
            "Nguồn",
            "Kết quả",
            "Lý do",
            "Giây dự kiến",
            "Giây đã phát",
            "Người yêu cầu",
            "Tệp",
            "Mã lượt phát",
        ],
    );
    for r in rows {
        let opt = |s: &Option<String>| s.as_deref().map(plain).unwrap_or_default();
        let cells = [
            plain(&r.scheduled_at),
            opt(&r.started_at),
            opt(&r.ended_at),
            r.bulletin.clone(),
            r.title.clone(),
            r.campaign.clone().unwrap_or_default(),
            r.program.clone().unwrap_or_default(),
            priority_vi(r.priority).to_string(),
            source_vi(r.source).to_string(),
            outcome_vi(r.outcome).to_string(),
            reason_vi(r.reason.as_ref()),
            format!("{:.3}", r.planned_seconds),
            format!("{:.3}", r.aired_seconds),
            r.requested_by.clone().unwrap_or_default(),
            r.file.clone(),
            r.occurrence.clone(),
        ];
        csv_line(&mut out, cells.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::test_util::{airing, TZ};
    use crate::ledger::{Airing, Settled};
    use chrono::TimeZone;

    fn local(m: u32, d: u32, h: u32) -> DateTime<Utc> {
        TZ.with_ymd_and_hms(2026, m, d, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn october() -> Filter {
        Filter {
            from: Some(local(10, 1, 0)),
            to: Some(local(11, 1, 0)),
            campaign: None,
        }
    }

    fn campaigns() -> Vec<Campaign> {
        let c = |id: &str, title: &str, target| Campaign {
            id: id.into(),
            title: title.into(),
            window: None,
            target_minutes: target,
        };
        vec![
            c("c1", "Tiêm chủng mở rộng", Some(10.0)),
            c("c2", "Phòng cháy", None),
            c("c3", "Bầu cử", Some(30.0)),
        ]
    }

    fn settled(
        bulletin: &str,
        title: &str,
        campaign: Option<&str>,
        when: DateTime<Utc>,
        outcome: Outcome,
        aired: f64,
    ) -> Settled {
        Settled {
            airing: Airing {
                title: title.into(),
                ..airing(bulletin, campaign, when)
            },
            started_at: (aired > 0.0).then_some(when),
            ended_at: None,
            aired_seconds: aired,
            outcome,
            reason: None,
        }
    }

    /// The known rows; expected sums are worked out by hand in the tests.
    fn ledger() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("airtime.db"), TZ).unwrap();
        use Outcome::*;
        l.record_all([
            settled(
                "b1",
                "Thông điệp 5K",
                Some("c1"),
                local(10, 2, 6),
                Completed,
                120.0,
            ),
            settled(
                "b1",
                "Thông điệp 5K",
                Some("c1"),
                local(10, 3, 6),
                Completed,
                120.0,
            ),
            settled(
                "b1",
                "Thông điệp 5K",
                Some("c1"),
                local(10, 4, 6),
                Interrupted,
                30.0,
            ),
            settled("b2", "Lịch tiêm", Some("c1"), local(10, 5, 6), Failed, 0.0),
            settled("b2", "Lịch tiêm", Some("c1"), local(10, 6, 6), Missed, 0.0),
            settled(
                "b3",
                "Mùa khô",
                Some("c2"),
                local(10, 7, 17),
                Completed,
                90.0,
            ),
            settled("b3", "Mùa khô", Some("c2"), local(10, 8, 17), Skipped, 0.0),
            settled("b4", "Thời tiết", None, local(10, 9, 6), Completed, 60.0),
            settled("b5", "Cũ", Some("c-old"), local(10, 10, 6), Completed, 45.0),
            // Outside October: left out.
            settled(
                "b1",
                "Thông điệp 5K",
                Some("c1"),
                local(11, 1, 6),
                Completed,
                120.0,
            ),
            settled(
                "b1",
                "Thông điệp 5K",
                Some("c1"),
                local(9, 30, 23),
                Completed,
                120.0,
            ),
        ])
        .unwrap();
        (dir, l)
    }

    fn counts(plays: u64, done: u64, int: u64, fail: u64, miss: u64, skip: u64, s: f64) -> Counts {
        Counts {
            plays,
            completed: done,
            interrupted: int,
            failed: fail,
            missed: miss,
            skipped: skip,
            aired_seconds: s,
            relay_seconds: 0.0,
        }
    }

    #[test]
    fn relay_minutes_are_shown_apart_from_local_minutes() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("airtime.db"), TZ).unwrap();
        let mut relay = settled(
            "vov1",
            "Tiếp âm VOV1",
            None,
            local(10, 2, 6),
            Outcome::Completed,
            540.0,
        );
        relay.airing.source = Source::Relay;
        let file = settled(
            "b4",
            "Thời tiết",
            None,
            local(10, 2, 7),
            Outcome::Completed,
            60.0,
        );
        l.record_all([relay, file]).unwrap();
        let r = report(&l, &campaigns(), &october()).unwrap();
        assert_eq!(r.total.aired_minutes(), 10.0);
        assert_eq!(r.total.relay_minutes(), 9.0);
        assert_eq!(r.total.local_minutes(), 1.0);
        let csv = format_report(&r, Format::Csv);
        assert!(
            csv.contains("Phút đã phát,Phút tiếp âm,Phút nội dung địa phương,"),
            "{csv}"
        );
        assert!(
            csv.contains(",Tiếp âm VOV1,1,1,0,0,0,0,9.00,9.00,0.00,"),
            "{csv}"
        );
        assert!(
            csv.contains(",tổng cộng,,,,,2,2,0,0,0,0,10.00,9.00,1.00,"),
            "{csv}"
        );
        let v: serde_json::Value = serde_json::from_str(&format_report(&r, Format::Json)).unwrap();
        assert_eq!(v["total"]["relay_minutes"], 9.0);
        assert_eq!(v["total"]["local_minutes"], 1.0);
        let table = format_report(&r, Format::Table);
        assert!(table.contains("Phút tiếp âm"), "{table}");
    }

    #[test]
    fn totals_on_known_rows() {
        let (_d, l) = ledger();
        let r = report(&l, &campaigns(), &october()).unwrap();
        let ids: Vec<_> = r.campaigns.iter().map(|c| c.campaign.as_deref()).collect();
        assert_eq!(
            ids,
            [Some("c1"), Some("c2"), Some("c3"), Some("c-old"), None]
        );

        let c1 = &r.campaigns[0];
        assert_eq!(c1.title, "Tiêm chủng mở rộng");
        assert_eq!(c1.counts, counts(5, 2, 1, 1, 1, 0, 270.0));
        assert_eq!(c1.counts.aired_minutes(), 4.5);
        assert_eq!(c1.percent_of_target(), Some(45.0));
        let b: Vec<_> = c1
            .bulletins
            .iter()
            .map(|b| (&*b.bulletin, &*b.title))
            .collect();
        assert_eq!(b, [("b1", "Thông điệp 5K"), ("b2", "Lịch tiêm")]);
        assert_eq!(c1.bulletins[0].counts, counts(3, 2, 1, 0, 0, 0, 270.0));
        assert_eq!(c1.bulletins[1].counts, counts(2, 0, 0, 1, 1, 0, 0.0));

        assert_eq!(r.campaigns[1].counts, counts(2, 1, 0, 0, 0, 1, 90.0));
        assert_eq!(r.campaigns[1].percent_of_target(), None);
        let c3 = &r.campaigns[2];
        assert_eq!(c3.counts, Counts::default());
        assert!(c3.bulletins.is_empty());
        assert_eq!(c3.percent_of_target(), Some(0.0));
        assert_eq!(r.campaigns[3].title, "c-old");
        assert_eq!(r.campaigns[3].counts, counts(1, 1, 0, 0, 0, 0, 45.0));
        assert_eq!(r.campaigns[4].title, NO_CAMPAIGN);
        assert_eq!(r.campaigns[4].counts, counts(1, 1, 0, 0, 0, 0, 60.0));
        assert_eq!(r.total, counts(9, 5, 1, 1, 1, 1, 465.0));

        let table = format_report(&r, Format::Table);
        assert!(
            table.contains("Kỳ báo cáo: từ 01/10/2026 đến hết 31/10/2026 (giờ UTC+07:00)"),
            "{table}"
        );
        let total = table.lines().find(|l| l.starts_with(TOTAL)).unwrap();
        assert!(total.ends_with(" 7,75"), "{total}");
        let c1_line = table.lines().find(|l| l.starts_with("Tiêm chủng")).unwrap();
        let tail: Vec<_> = c1_line.split_whitespace().rev().take(3).collect();
        assert_eq!(tail, ["45,0", "10,00", "4,50"], "{c1_line}");
    }

    #[test]
    fn table_columns_align_by_characters_not_bytes() {
        let (_d, l) = ledger();
        let table = format_report(
            &report(&l, &campaigns(), &october()).unwrap(),
            Format::Table,
        );
        let header = table.lines().find(|l| l.starts_with("Chiến dịch")).unwrap();
        let end_of = |line: &str, needle: &str| {
            let at = line.find(needle).unwrap() + needle.len();
            line[..at].chars().count()
        };
        let col_end = end_of(header, "Lượt phát");
        // Rows whose first cells differ in byte length but not in chars.
        for start in ["Tiêm chủng", "Phòng cháy", "Bầu cử", TOTAL] {
            let line = table.lines().find(|l| l.starts_with(start)).unwrap();
            let plays = line
                .split_whitespace()
                .find(|w| w.parse::<u64>().is_ok())
                .unwrap();
            let at = line.find(&format!(" {plays} ")).unwrap() + 1 + plays.len();
            assert_eq!(line[..at].chars().count(), col_end, "{line}\n{table}");
        }
        assert_eq!(
            crate::table::width("Vie\u{0302}\u{0323}t"),
            4,
            "decomposed tone marks take no column"
        );
    }

    #[test]
    fn campaign_filter_applies() {
        let (_d, l) = ledger();
        let f = Filter {
            campaign: Some("c1".into()),
            ..october()
        };
        let r = report(&l, &campaigns(), &f).unwrap();
        assert_eq!(r.campaigns.len(), 1);
        assert_eq!(r.campaigns[0].campaign.as_deref(), Some("c1"));
        assert_eq!(r.total, r.campaigns[0].counts);
        assert!(format_report(&r, Format::Table).contains("Chiến dịch: c1"));

        let f = Filter {
            campaign: Some("c3".into()),
            ..october()
        };
        let r = report(&l, &campaigns(), &f).unwrap();
        assert_eq!(r.campaigns.len(), 1);
        assert_eq!(r.total, Counts::default());
    }

    #[test]
    fn empty_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("airtime.db"), TZ).unwrap();
        let r = report(&l, &campaigns(), &Filter::default()).unwrap();
        assert_eq!(
            r.campaigns.len(),
            3,
            "station campaigns listed, no empty no-campaign group"
        );
        assert_eq!(r.total, Counts::default());
        let table = format_report(&r, Format::Table);
        assert!(table.contains("từ đầu sổ đến nay"), "{table}");
        assert!(table.lines().any(|l| l.starts_with("Bầu cử")), "{table}");
        let v: serde_json::Value = serde_json::from_str(&format_report(&r, Format::Json)).unwrap();
        assert_eq!(v["total"]["plays"], 0);
        assert_eq!(v["from"], serde_json::Value::Null);

        let r = report(&l, &[], &Filter::default()).unwrap();
        assert!(format_report(&r, Format::Table).contains("Không có chiến dịch"));
        let csv = format_report(&r, Format::Csv);
        assert_eq!(
            csv.matches("\r\n").count(),
            2,
            "header and total only: {csv}"
        );
        assert_eq!(format_airtime(&[], Format::Json), "[]\n");
        assert!(format_airtime(&[], Format::Table).starts_with("Không có lượt phát"));
    }

    #[test]
    fn json_shape() {
        let (_d, l) = ledger();
        let r = report(&l, &campaigns(), &october()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&format_report(&r, Format::Json)).unwrap();
        assert_eq!(v["from"], "2026-10-01T00:00:00.000+07:00");
        let c1 = &v["campaigns"][0];
        let mut keys: Vec<_> = c1.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "aired_minutes",
                "aired_seconds",
                "bulletins",
                "campaign",
                "completed",
                "failed",
                "interrupted",
                "local_minutes",
                "missed",
                "percent_of_target",
                "plays",
                "relay_minutes",
                "skipped",
                "target_minutes",
                "title"
            ]
        );
        assert_eq!(c1["campaign"], "c1");
        assert_eq!(c1["aired_minutes"], 4.5);
        assert_eq!(c1["target_minutes"], 10.0);
        assert_eq!(c1["percent_of_target"], 45.0);
        assert_eq!(c1["bulletins"][0]["bulletin"], "b1");
        assert_eq!(c1["bulletins"][0]["plays"], 3);
        assert_eq!(v["campaigns"][1]["target_minutes"], serde_json::Value::Null);
        assert_eq!(v["campaigns"][4]["campaign"], serde_json::Value::Null);
        assert_eq!(v["total"]["aired_minutes"], 7.75);
    }

    #[test]
    fn csv_has_bom_and_quotes_commas_quotes_and_newlines() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("airtime.db"), TZ).unwrap();
        let title = "Thông báo \"khẩn\", họp\ndân";
        l.record_all([settled(
            "b1",
            title,
            Some("c1"),
            local(10, 2, 6),
            Outcome::Completed,
            61.0,
        )])
        .unwrap();
        let quoted = "\"Thông báo \"\"khẩn\"\", họp\ndân\"";

        let r = report(&l, &campaigns(), &october()).unwrap();
        let csv = format_report(&r, Format::Csv);
        assert!(csv.starts_with("\u{feff}Từ,Đến trước,Loại dòng,"), "{csv}");
        let bulletin_row = format!(
            "2026-10-01 00:00:00,2026-11-01 00:00:00,bản tin,c1,Tiêm chủng mở rộng,b1,{quoted},1,1,0,0,0,0,1.02,0.00,1.02,,\r\n"
        );
        assert!(csv.contains(&bulletin_row), "{csv}");
        assert!(
            csv.contains(
                ",cộng chiến dịch,c1,Tiêm chủng mở rộng,,,1,1,0,0,0,0,1.02,0.00,1.02,10.00,10.2\r\n"
            ),
            "{csv}"
        );
        assert!(
            csv.ends_with(",tổng cộng,,,,,1,1,0,0,0,0,1.02,0.00,1.02,,\r\n"),
            "{csv}"
        );

        let table = format_report(&r, Format::Table);
        assert!(table.contains("Thông báo \"khẩn\", họp dân"), "{table}");
        assert!(!table.lines().any(|l| l.starts_with("dân")), "{table}");

        let rows = l.rows(&Filter::default()).unwrap();
        let csv = format_airtime(&rows, Format::Csv);
        assert!(csv.starts_with("\u{feff}Giờ dự kiến,"), "{csv}");
        assert!(
            csv.contains(&format!("2026-10-02 06:00:00,2026-10-02 06:00:00,,b1,{quoted},c1,,thường,theo lịch,hoàn thành,,120.000,61.000,")),
            "{csv}"
        );
    }

    #[test]
    fn airtime_listing_formats() {
        let (_d, l) = ledger();
        let rows = l.rows(&october()).unwrap();
        assert_eq!(rows.len(), 9);
        let table = format_airtime(&rows, Format::Table);
        let first = table.lines().nth(2).unwrap();
        assert!(
            first.starts_with("02/10/2026 06:00:00  06:00:00  Thông điệp 5K"),
            "{table}"
        );
        assert!(
            first.contains("hoàn thành") && first.ends_with("120,0"),
            "{first}"
        );
        assert!(
            table.contains("bị ngắt") && table.contains("bỏ qua"),
            "{table}"
        );
        assert!(table.ends_with("9 lượt, 7,75 phút đã phát\n"), "{table}");

        let v: serde_json::Value =
            serde_json::from_str(&format_airtime(&rows, Format::Json)).unwrap();
        let a = v.as_array().unwrap();
        assert_eq!(a.len(), 9);
        assert_eq!(a[0]["outcome"], "completed");
        assert_eq!(a[0]["priority"], "normal");
        assert_eq!(a[0]["source"], "schedule");
        assert_eq!(a[0]["scheduled_at"], "2026-10-02T06:00:00.000+07:00");
        assert_eq!(a[0]["campaign"], "c1");
        assert_eq!(a[7]["campaign"], serde_json::Value::Null);
    }

    #[test]
    fn period_wording() {
        let p = period_vi(Some(local(10, 1, 6)), Some(local(10, 1, 12)), TZ);
        assert_eq!(
            p,
            "từ 01/10/2026 06:00 đến trước 01/10/2026 12:00 (giờ UTC+07:00)"
        );
    }

    #[test]
    fn format_values_are_the_command_line_names_without_help() {
        use clap::ValueEnum;
        let values: Vec<_> = Format::value_variants()
            .iter()
            .map(|f| f.to_possible_value().unwrap())
            .collect();
        let names: Vec<_> = values.iter().map(|v| v.get_name()).collect();
        assert_eq!(names, ["table", "csv", "json"]);
        // With help on a value, `--help` turns the one-line list of
        // possible values into a paragraph per value.
        assert!(values.iter().all(|v| v.get_help().is_none()));
    }
}
