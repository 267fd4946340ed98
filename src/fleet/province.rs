//! The campaign report across a province's stations, from its database:
//! each station's part is built exactly as the station's own `loa report`
//! is (`crate::report::arrange` over the same per-bulletin sums, with the
//! campaigns its file has), and the province's total is the same
//! arrangement over the sums of all stations, targets added up. Beside the
//! campaigns, each part says its minutes by source (relay apart) and why
//! items did not air in full.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono_tz::Tz;
use serde::Serialize;
use tokio_postgres::Client;

use crate::config::{Campaign, Window};
use crate::ledger::{BulletinTotals, Counts, Filter, Outcome, Source};
use crate::reason::{Lang, Reason, Reasons};
use crate::report::{self, Format, Report, UnknownCampaign};

use super::pg_error;

/// One station's part of the province's report, or the total.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    /// `None` for the province's total.
    pub station_id: Option<String>,
    pub name: String,
    pub report: Report,
    /// Counts by source (`schedule`, `operator`, `emergency`, `relay`...).
    pub by_source: BTreeMap<String, Counts>,
    /// Items that did not air in full: (outcome, or `cancelled` for an
    /// operator's cancellation; reason) → how many.
    pub not_aired: BTreeMap<(String, StoredReason), u64>,
}

/// The province's report: its stations by id, then the total.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FleetReport {
    pub stations: Vec<Part>,
    pub total: Part,
}

/// A reason as the province's database holds it: code, arguments and
/// details as the ledger stores them, or (rows shipped before schema
/// version 3) the English text only.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct StoredReason {
    pub code: Option<String>,
    pub args: Option<String>,
    pub more: Option<String>,
    pub text: Option<String>,
}

impl StoredReason {
    /// The reason in `lang` through the one catalogue (`crate::reason`);
    /// old rows' English text as it is; empty when there is none.
    pub(crate) fn render(&self, lang: Lang) -> String {
        self.reasons().map(|r| r.text(lang)).unwrap_or_default()
    }

    fn reasons(&self) -> Option<Reasons> {
        match (&self.code, &self.text) {
            (Some(c), text) => Some(Reasons::from_columns(
                c,
                self.args.as_deref(),
                self.more.as_deref(),
                text.as_deref(),
            )),
            (None, Some(t)) => Some(Reason::Free { text: t.clone() }.into()),
            (None, None) => None,
        }
    }
}

/// The report's query over the rows, with `$extra` among its conditions.
macro_rules! report_sql {
    ($extra:literal) => {
        concat!(
            "SELECT station_id, campaign, bulletin, source, outcome, reason, \
                    max(row_id), count(*), sum(aired_seconds), (array_agg(title ORDER BY row_id DESC))[1], \
                    reason_code, reason_args, reason_more, ",
            on_air_sql!(),
            ", ",
            cancelled_sql!(),
            ", coalesce(sum(heard_seconds), 0), count(heard_seconds) \
             FROM loa_airtime \
             WHERE scheduled_at >= $1::text::timestamptz AND scheduled_at < $2::text::timestamptz \
               AND ($3::text IS NULL OR campaign = $3)",
            $extra,
            " GROUP BY station_id, campaign, bulletin, source, outcome, reason, reason_code, reason_args, \
               reason_more"
        )
    };
}
/// The report's one pass over the period's rows: `$1` and `$2` the period
/// (RFC 3339 text, or `-infinity` / `infinity`), `$3` a campaign or NULL.
/// Reasons are NULL for completed rows, so grouping by them costs nothing
/// where most rows are. Then the rows that went on air and those an
/// operator cancelled (`ON_AIR_SQL`, `CANCELLED_SQL`), and the seconds a
/// line monitor heard over how many rows had a figure.
/// (Public for the benchmark's EXPLAIN.)
pub const REPORT_SQL: &str = report_sql!("");

/// [`REPORT_SQL`] for the rows of one broadcast of the province (`$4`,
/// `crate::upstream`): always from the rows, the monthly sums do not
/// keep broadcasts.
pub const REPORT_BROADCAST_SQL: &str = report_sql!(" AND broadcast = $4");

/// The same columns from the monthly sums, for periods of whole months:
/// `$1` and `$2` the first days of the months (`date`, or `-infinity` /
/// `infinity`), `$3` a campaign or NULL. Not grouped again: a group of
/// several months comes back as several rows, which the report adds up as
/// it adds up the outcomes of a bulletin.
pub const REPORT_MONTHS_SQL: &str = "SELECT station_id, nullif(campaign, ''), bulletin, source, \
            outcome, nullif(reason, ''), last_row_id, plays, aired_seconds, last_title, \
            nullif(reason_code, ''), nullif(reason_args, ''), nullif(reason_more, ''), on_air, \
            cancelled, heard_seconds, heard_rows \
     FROM loa_airtime_month \
     WHERE month >= $1::text::date AND month < $2::text::date \
       AND ($3::text IS NULL OR campaign = $3)";

/// The first day of `t`'s month when `t` is the start of a month in `tz`
/// (the zone `loa_airtime_month` counts months in).
fn month_start(t: chrono::DateTime<chrono::Utc>, tz: Tz) -> Option<String> {
    use chrono::{Datelike, Timelike};
    let local = t.with_timezone(&tz);
    (local.day() == 1 && local.num_seconds_from_midnight() == 0 && local.nanosecond() == 0)
        .then(|| local.format("%Y-%m-%d").to_string())
}

/// Name of the total's part.
const PROVINCE: &str = "Toàn tỉnh";

/// Sums for the rows `f` selects, from the province's database.
pub(crate) async fn fleet_report(
    client: &Client,
    f: &Filter,
    broadcast: Option<&str>,
    tz: Tz,
) -> anyhow::Result<FleetReport> {
    let pg = |e: tokio_postgres::Error| anyhow::anyhow!(pg_error(&e));
    // A report is one big aggregate: compiling it (JIT) costs more than it
    // saves, and memory enough to hash the groups beats sorting on disk.
    client
        .batch_execute("SET jit = off; SET work_mem = '256MB'")
        .await
        .map_err(pg)?;
    let stations = client
        .query(
            "SELECT station_id, name FROM loa_station ORDER BY station_id",
            &[],
        )
        .await
        .map_err(pg)?;
    let mut campaigns: BTreeMap<String, Vec<Campaign>> = BTreeMap::new();
    for r in client
        .query(
            "SELECT station_id, campaign, title, target_minutes, window_from, window_to \
             FROM loa_campaign ORDER BY station_id, position",
            &[],
        )
        .await
        .map_err(pg)?
    {
        campaigns.entry(r.get(0)).or_default().push(Campaign {
            id: r.get(1),
            title: r.get(2),
            window: Window::from_ends(r.get(4), r.get(5)),
            target_minutes: r.get(3),
        });
    }
    let (sql, from, to) = query_period(f, broadcast.is_some());
    let groups = match broadcast {
        Some(b) => client.query(sql, &[&from, &to, &f.campaign, &b]).await,
        None => client.query(sql, &[&from, &to, &f.campaign]).await,
    }
    .map_err(pg)?;

    let mut acc = accumulate(&groups)?;

    let mut parts = Vec::new();
    let mut all = Acc::default();
    let mut all_campaigns: Vec<Campaign> = Vec::new();
    for s in &stations {
        let id: String = s.get(0);
        let name: String = s.get(1);
        let a = acc.remove(&id).unwrap_or_default();
        let own = campaigns.remove(&id).unwrap_or_default();
        for c in &own {
            // Each station's target pro-rated by its own window; the
            // province's is their sum.
            let c = &Campaign {
                window: None,
                target_minutes: report::target_in(c, f.from, f.to, tz),
                ..c.clone()
            };
            match all_campaigns.iter_mut().find(|t| t.id == c.id) {
                None => all_campaigns.push(c.clone()),
                Some(t) => {
                    t.target_minutes = match (t.target_minutes, c.target_minutes) {
                        (Some(x), Some(y)) => Some(x + y),
                        (x, y) => x.or(y),
                    }
                }
            }
        }
        let mut totals = Vec::new();
        for (key, (t, _)) in a.totals {
            let (sum, _) = all.totals.entry(key).or_insert_with(|| {
                (
                    BulletinTotals {
                        counts: Counts::default(),
                        ..t.clone()
                    },
                    0,
                )
            });
            sum.counts.add(&t.counts);
            totals.push(t);
        }
        for (src, c) in &a.by_source {
            all.by_source.entry(src.clone()).or_default().add(c);
        }
        for (k, n) in &a.not_aired {
            *all.not_aired.entry(k.clone()).or_default() += n;
        }
        parts.push(Part {
            station_id: Some(id),
            name,
            report: report::arrange(totals, &own, f, tz),
            by_source: a.by_source,
            not_aired: a.not_aired,
        });
    }
    if let Some(id) = f.campaign.as_deref() {
        if !all_campaigns.iter().any(|c| c.id == id) && all.totals.is_empty() {
            anyhow::bail!(UnknownCampaign {
                id: id.to_string(),
                known: all_campaigns.iter().map(|c| c.id.clone()).collect(),
            });
        }
    }
    let totals = all.totals.into_values().map(|(t, _)| t).collect();
    let total = Part {
        station_id: None,
        name: PROVINCE.to_string(),
        report: report::arrange(totals, &all_campaigns, f, tz),
        by_source: all.by_source,
        not_aired: all.not_aired,
    };
    Ok(FleetReport {
        stations: parts,
        total,
    })
}

/// One station's sums while the groups are read.
#[derive(Default)]
struct Acc {
    totals: BTreeMap<(Option<String>, String), (BulletinTotals, i64)>,
    by_source: BTreeMap<String, Counts>,
    not_aired: BTreeMap<(String, StoredReason), u64>,
}

/// The groups of the report query, summed per station.
fn accumulate(groups: &[tokio_postgres::Row]) -> anyhow::Result<BTreeMap<String, Acc>> {
    let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
    for g in groups {
        let station: String = g.get(0);
        let campaign: Option<String> = g.get(1);
        let bulletin: String = g.get(2);
        let source: String = g.get(3);
        let outcome: String = g.get(4);
        let reason: Option<String> = g.get(5);
        let max_id: i64 = g.get(6);
        let n = g.get::<_, i64>(7).max(0) as u64;
        let aired: f64 = g.get(8);
        let title: String = g.get(9);
        let reason = StoredReason {
            code: g.get(10),
            args: g.get(11),
            more: g.get(12),
            text: reason,
        };
        let on_air = g.get::<_, i64>(13).max(0) as u64;
        let cancelled = g.get::<_, i64>(14).max(0) as u64;
        let outcome = Outcome::parse(&outcome)
            .ok_or_else(|| anyhow::anyhow!("unknown outcome `{outcome}` in loa_airtime"))?;
        let mut c = Counts {
            aired_seconds: aired,
            heard_seconds: g.get(15),
            heard_rows: g.get::<_, i64>(16).max(0) as u64,
            ..Counts::default()
        };
        c.tally(Some(outcome), n, on_air, cancelled);
        let a = acc.entry(station).or_default();
        // Titles as the station's own report has them: its latest row's.
        let (t, latest) = a
            .totals
            .entry((campaign.clone(), bulletin.clone()))
            .or_insert_with(|| {
                (
                    BulletinTotals {
                        campaign,
                        bulletin,
                        title: title.clone(),
                        counts: Counts::default(),
                    },
                    max_id,
                )
            });
        t.counts.add(&c);
        if max_id > *latest {
            *latest = max_id;
            t.title = title;
        }
        a.by_source.entry(source).or_default().add(&c);
        if outcome != Outcome::Completed {
            // A group is cancelled whole or not at all: the test is on its
            // outcome and reason, which it groups by.
            let word = if cancelled > 0 {
                CANCELLED
            } else {
                outcome.as_str()
            };
            *a.not_aired.entry((word.to_string(), reason)).or_default() += n;
        }
    }
    Ok(acc)
}

/// The report query for `f`'s period and its bounds.
fn query_period(f: &Filter, broadcast: bool) -> (&'static str, String, String) {
    // Whole months (the usual report) are summed from the monthly sums;
    // any other period, and one broadcast's rows, from the rows themselves.
    let months = match (
        broadcast,
        f.from.map(|t| month_start(t, super::MONTH_TZ)),
        f.to.map(|t| month_start(t, super::MONTH_TZ)),
    ) {
        (true, _, _) | (_, Some(None), _) | (_, _, Some(None)) => None,
        (false, from, to) => Some((
            from.flatten().unwrap_or_else(|| "-infinity".into()),
            to.flatten().unwrap_or_else(|| "infinity".into()),
        )),
    };
    match months {
        Some((from, to)) => (REPORT_MONTHS_SQL, from, to),
        None => {
            let bound = |t: Option<chrono::DateTime<chrono::Utc>>, none: &str| {
                t.map_or_else(|| none.to_string(), |t| t.to_rfc3339())
            };
            (
                if broadcast {
                    REPORT_BROADCAST_SQL
                } else {
                    REPORT_SQL
                },
                bound(f.from, "-infinity"),
                bound(f.to, "infinity"),
            )
        }
    }
}

/// How a source reads: the ledger's own words, or the stored text for one
/// this loa does not know.
fn source_label(s: &str) -> String {
    Source::parse(s).map_or_else(|| s.to_string(), |s| report::source_vi(s).to_string())
}

/// The outcome word of an operator's cancellation in `not_aired`.
pub(crate) const CANCELLED: &str = "cancelled";

/// An outcome of `not_aired` in `lang`.
pub(crate) fn outcome_label(s: &str, lang: Lang) -> &str {
    match (s, lang) {
        (CANCELLED, Lang::Vi) => "đã huỷ",
        (CANCELLED, Lang::En) => CANCELLED,
        (_, Lang::Vi) => Outcome::parse(s).map_or(s, |o| report::outcome_vi(Some(o))),
        (_, Lang::En) => s,
    }
}

/// Render the province's report.
pub(crate) fn format_fleet_report(r: &FleetReport, fmt: Format) -> String {
    match fmt {
        Format::Table => table(r),
        Format::Csv => csv(r),
        Format::Json => json(r),
    }
}

fn part_heading(p: &Part) -> String {
    match &p.station_id {
        Some(id) => format!("=== Đài {} (mã {id}) ===\n", p.name),
        None => format!("=== {} ===\n", p.name),
    }
}

fn table(r: &FleetReport) -> String {
    let mut out = format!(
        "BÁO CÁO THỜI LƯỢNG PHÁT SÓNG TOÀN TỈNH: {} đài\n\n",
        r.stations.len()
    );
    for p in r.stations.iter().chain([&r.total]) {
        out.push_str(&part_heading(p));
        out.push_str(&report::report_table(&p.report));
        if !p.by_source.is_empty() {
            let by: Vec<String> = p
                .by_source
                .iter()
                .map(|(s, c)| {
                    format!(
                        "{} {} lượt, {} phút",
                        source_label(s),
                        c.plays,
                        report::vn2(c.aired_minutes())
                    )
                })
                .collect();
            let _ = writeln!(out, "Theo nguồn: {}", by.join(" · "));
        }
        if !p.not_aired.is_empty() {
            out.push_str("Không phát trọn và lý do:\n");
            for ((o, why), n) in &p.not_aired {
                let why = why.render(Lang::Vi);
                let why = if why.is_empty() {
                    "(không ghi lý do)".to_string()
                } else {
                    why
                };
                let _ = writeln!(out, "  {}: {why}: {n}", outcome_label(o, Lang::Vi));
            }
        }
        out.push('\n');
    }
    out
}

/// The station's own CSV records with its id and name in front; then, per
/// part, one record per source (`Loại dòng` = `nguồn`, the source in
/// `Bản tin`) and one per reason (`không phát trọn`, the outcome in `Mã bản
/// tin`, the reason in `Bản tin`, how many in `Lượt phát`).
fn csv(r: &FleetReport) -> String {
    let mut out = String::from(crate::table::BOM);
    let mut headers = vec!["Mã đài", "Đài"];
    headers.extend(report::report_csv_headers());
    crate::table::csv_line(&mut out, headers);
    for p in r.stations.iter().chain([&r.total]) {
        let id = p.station_id.clone().unwrap_or_else(|| "(toàn tỉnh)".into());
        let head = |out: &mut String, cells: Vec<String>| {
            let mut all = vec![id.clone(), p.name.clone()];
            all.extend(cells);
            crate::table::csv_line(out, all.iter().map(String::as_str));
        };
        for cells in report::report_csv_rows(&p.report) {
            head(&mut out, cells);
        }
        let period = |rep: &Report| {
            [
                rep.from
                    .map(|t| report::local_plain(t, rep.tz))
                    .unwrap_or_default(),
                rep.to
                    .map(|t| report::local_plain(t, rep.tz))
                    .unwrap_or_default(),
            ]
        };
        for (s, c) in &p.by_source {
            let mut cells: Vec<String> = period(&p.report).into();
            cells.extend([
                "nguồn".into(),
                String::new(),
                String::new(),
                s.clone(),
                source_label(s),
            ]);
            cells.extend(report::count_cells(c));
            for m in [c.aired_minutes(), c.relay_minutes(), c.local_minutes()] {
                cells.push(format!("{:.2}", report::round2(m)));
            }
            cells.extend([String::new(), String::new()]);
            head(&mut out, cells);
        }
        for ((o, why), n) in &p.not_aired {
            let mut cells: Vec<String> = period(&p.report).into();
            cells.extend([
                "không phát trọn".into(),
                String::new(),
                String::new(),
                o.clone(),
                why.render(Lang::Vi),
                n.to_string(),
            ]);
            cells.extend(std::iter::repeat_n(String::new(), 11));
            head(&mut out, cells);
        }
    }
    for cells in report::legend_csv_rows() {
        let mut all = vec![String::new(), String::new()];
        all.extend(cells);
        crate::table::csv_line(&mut out, all.iter().map(String::as_str));
    }
    out
}

/// A reason of `not_aired`: as data and in both languages.
#[derive(Serialize)]
struct JsonWhy<'a> {
    outcome: &'a str,
    /// In English, as before.
    reason: String,
    reason_vi: String,
    reason_code: Option<&'static str>,
    reason_args: Option<serde_json::Map<String, serde_json::Value>>,
    count: u64,
}

#[derive(Serialize)]
struct JsonPart<'a, D: Serialize> {
    station_id: Option<&'a str>,
    name: &'a str,
    /// What the station's own `loa report --format json` prints.
    report: D,
    by_source: BTreeMap<&'a str, report::JsonCounts>,
    not_aired: Vec<JsonWhy<'a>>,
}

fn json_part(p: &Part) -> JsonPart<'_, impl Serialize + '_> {
    JsonPart {
        station_id: p.station_id.as_deref(),
        name: &p.name,
        report: report::report_json_doc(&p.report),
        by_source: p
            .by_source
            .iter()
            .map(|(s, c)| (s.as_str(), c.into()))
            .collect(),
        not_aired: p
            .not_aired
            .iter()
            .map(|((o, why), n)| {
                let r = why.reasons();
                JsonWhy {
                    outcome: o,
                    reason: why.render(Lang::En),
                    reason_vi: why.render(Lang::Vi),
                    reason_code: r.as_ref().map(|r| r.main.code()),
                    reason_args: r.as_ref().map(|r| r.main.args()),
                    count: *n,
                }
            })
            .collect(),
    }
}

fn json(r: &FleetReport) -> String {
    #[derive(Serialize)]
    struct Doc<'a, D: Serialize> {
        stations: Vec<JsonPart<'a, D>>,
        total: JsonPart<'a, D>,
    }
    let doc = Doc {
        stations: r.stations.iter().map(json_part).collect(),
        total: json_part(&r.total),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("plain structs serialize");
    s.push('\n');
    s
}
