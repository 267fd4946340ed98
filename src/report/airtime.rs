//! The per-row listing (`loa airtime`) as an aligned table, CSV and JSON,
//! and the Vietnamese words for outcomes, sources, priorities and reasons.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::format::vn2;
use super::Format;
use crate::config::Priority;
use crate::ledger::{AirtimeRow, Outcome, Source};
use crate::reason::{Lang, ReasonJson, Reasons};
use crate::table::{csv_line, render_table, Line, BOM};

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

/// How a source reads, in Vietnamese and in English: the one place for
/// these words (the pages, the CSV, `loa airtime`, the printed report).
pub fn source_words(s: Source) -> (&'static str, &'static str) {
    match s {
        Source::Schedule => ("theo lịch", "scheduled"),
        Source::Operator => ("người vận hành", "operator"),
        Source::Emergency => ("khẩn cấp", "emergency"),
        Source::Relay => ("tiếp âm", "relay"),
        Source::Province => ("Tỉnh gửi", "Sent by the province"),
    }
}

/// How a source reads on screen.
pub fn source_vi(s: Source) -> &'static str {
    source_words(s).0
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

pub(super) fn parse_stored(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

/// `07/10/2026 06:15:00` in the offset it was stored with.
pub(super) fn shown(s: &str) -> String {
    parse_stored(s).map_or_else(
        || s.to_string(),
        |t| t.format("%d/%m/%Y %H:%M:%S").to_string(),
    )
}

/// `2026-10-07 06:15:00`: what spreadsheets parse as a date-time.
pub(super) fn plain(s: &str) -> String {
    parse_stored(s).map_or_else(
        || s.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

pub(crate) fn local_plain(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The column of the seconds a line monitor heard (`[monitor]`).
const HEARD_HEADER: &str = "Giây nghe được trên loa";

pub(super) fn airtime_table(rows: &[AirtimeRow]) -> String {
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
    let monitored = rows.iter().any(|r| r.heard_seconds.is_some());
    let mut aired = 0.0;
    let mut heard = 0.0;
    let lines: Vec<Line> = rows
        .iter()
        .map(|r| {
            aired += r.aired_seconds;
            heard += r.heard_seconds.unwrap_or(0.0);
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
            let mut cells = vec![
                shown(&r.scheduled_at),
                started,
                r.title.clone(),
                r.campaign.clone().unwrap_or_default(),
                outcome_vi(r.outcome).to_string(),
                reason_vi(r.reason.as_ref()),
                format!("{:.1}", r.aired_seconds).replace('.', ","),
            ];
            if monitored {
                cells.push(
                    r.heard_seconds
                        .map_or_else(String::new, |h| format!("{h:.1}").replace('.', ",")),
                );
            }
            Line::Row(cells)
        })
        .collect();
    let mut headers = headers.to_vec();
    let mut right = vec![false, false, false, false, false, false, true];
    if monitored {
        headers.push(HEARD_HEADER);
        right.push(true);
    }
    let mut out = render_table(&headers, &right, &lines);
    let _ = write!(
        out,
        "\n{} lượt, {} phút đã phát",
        rows.len(),
        vn2(aired / 60.0)
    );
    if monitored {
        let _ = write!(out, ", {} phút nghe được trên loa", vn2(heard / 60.0));
    }
    out.push('\n');
    out
}

pub(super) fn airtime_csv(rows: &[AirtimeRow]) -> String {
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
            HEARD_HEADER,
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
            r.heard_seconds
                .map_or_else(String::new, |h| format!("{h:.3}")),
        ];
        csv_line(&mut out, cells.iter().map(String::as_str));
    }
    out
}
