//! The report (`loa report`) as an aligned table, CSV and JSON.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::{local_plain, BulletinReport, CampaignReport, Counts, Format, Report};
use crate::table::{csv_line, render_table, Line, BOM};
use crate::timefmt::rfc3339;

pub(super) const COUNT_HEADERS: [&str; 7] = [
    "Lượt phát",
    "Hoàn thành",
    "Bị ngắt",
    "Lỗi",
    "Bỏ lỡ",
    "Bỏ qua",
    "Đã huỷ",
];

/// What each count means, in plain words: (column, meaning) in Vietnamese
/// and in English, in the columns' order. The page, the table and the CSV
/// print it under the figures, so `bỏ lỡ`, `bỏ qua` and `đã huỷ` read apart.
pub(crate) const LEGEND: [(&str, &str, &str, &str); 7] = [
    (
        "Lượt phát",
        "số lượt đã thực sự lên sóng (phát trọn, bị ngắt giữa chừng, hoặc lỗi sau khi đã bắt đầu phát)",
        "Plays",
        "items that really went on air (in full, cut short, or failed after they started)",
    ),
    (
        "Hoàn thành",
        "phát trọn từ đầu đến cuối",
        "Completed",
        "aired from start to end",
    ),
    (
        "Bị ngắt",
        "đang phát thì dừng (phát khẩn cấp chen vào, người vận hành dừng, mất nguồn tiếp âm…)",
        "Interrupted",
        "stopped while airing (an emergency cut in, an operator stopped it, a relay dropped…)",
    ),
    (
        "Lỗi",
        "không phát được hoặc hỏng giữa chừng vì lỗi tệp, loa, thiết bị",
        "Failed",
        "could not air, or broke off, because of a file, speech or device fault",
    ),
    (
        "Bỏ lỡ",
        "đến giờ mà đài không phát được (đài tắt, đường truyền bận quá lâu…): lỗi phía đài",
        "Missed",
        "due but the station could not air it (off air, the line busy too long…): the station's shortfall",
    ),
    (
        "Bỏ qua",
        "không phát theo quy định (giờ yên tĩnh, đài đang tạm dừng…)",
        "Skipped",
        "not aired by rule (quiet hours, the station paused…)",
    ),
    (
        "Đã huỷ",
        "người vận hành rút khỏi hàng chờ hoặc huỷ phát khẩn cấp trước khi phát: không tính là lỗi của đài",
        "Cancelled",
        "taken off the queue, or an emergency cancelled, by an operator before it aired: not held against the station",
    ),
];

/// How numbers read in the CSV, said on the page beside its download.
pub(crate) const CSV_NUMBERS: (&str, &str) = (
    "Tệp CSV: các cột cách nhau bằng dấu phẩy, số thập phân dùng dấu chấm (12.50 phút), \
     trên trang này viết 12,50.",
    "CSV file: columns separated by commas, decimals with a point (12.50 minutes); \
     this page writes 12,50.",
);
pub(super) const MINUTES: &str = "Phút đã phát";
pub(super) const RELAY_MINUTES: &str = "Phút tiếp âm";
pub(super) const LOCAL_MINUTES: &str = "Phút nội dung địa phương";
pub(super) const TARGET: &str = "Chỉ tiêu (phút)";
pub(super) const PERCENT: &str = "% chỉ tiêu";
pub(super) const WHOLE_CAMPAIGN: &str = "(cả chiến dịch)";
pub(super) const TOTAL: &str = "Tổng cộng";

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
pub(super) fn vn1(x: f64) -> String {
    format!("{x:.1}").replace('.', ",")
}

/// Aired, relayed and local minutes, each written by `fmt`.
pub(super) fn minute_cells(c: &Counts, fmt: fn(f64) -> String) -> [String; 3] {
    [
        fmt(c.aired_minutes()),
        fmt(c.relay_minutes()),
        fmt(c.local_minutes()),
    ]
}

/// Two decimals with a point, as CSV and programs read them.
pub(super) fn csv2(x: f64) -> String {
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
        c.cancelled,
    ]
    .iter()
    .map(u64::to_string)
    .collect()
}

/// The period in words, e.g. `từ 01/10/2026 đến hết 31/10/2026 (giờ UTC+07:00)`.
/// `to` is exclusive, so a midnight `to` is shown as the end of the day before.
pub(super) fn period_vi(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, tz: Tz) -> String {
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
    out.push_str("\nChú thích:\n");
    for (term, meaning, _, _) in LEGEND {
        let _ = writeln!(out, "  {term}: {meaning}");
    }
    out
}

/// The CSV has one row per bulletin, carrying its campaign's columns, then
/// one subtotal row per campaign and one total row; the `Loại dòng` column
/// tells them apart, so a pivot table filters on `bản tin` and sums freely.
pub(super) fn report_csv(r: &Report) -> String {
    let mut out = String::from(BOM);
    csv_line(&mut out, report_csv_headers());
    for cells in report_csv_rows(r) {
        csv_line(&mut out, cells.iter().map(String::as_str));
    }
    for cells in legend_csv_rows() {
        csv_line(&mut out, cells.iter().map(String::as_str));
    }
    out
}

/// The legend as CSV records after the figures: `Loại dòng` = `chú thích`,
/// the column in `Mã bản tin`, what it counts in `Bản tin`; so a pivot
/// table that filters on `bản tin` leaves them out.
pub(crate) fn legend_csv_rows() -> Vec<Vec<String>> {
    let width = report_csv_headers().len();
    LEGEND
        .iter()
        .map(|(term, meaning, _, _)| {
            let mut cells = vec![String::new(); width];
            cells[2] = "chú thích".into();
            cells[5] = (*term).into();
            cells[6] = (*meaning).into();
            cells
        })
        .collect()
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
    cancelled: u64,
    aired_minutes: f64,
    aired_seconds: f64,
    relay_minutes: f64,
    local_minutes: f64,
    /// Minutes the line monitor heard; null without one.
    heard_minutes: Option<f64>,
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
            cancelled: c.cancelled,
            aired_minutes: round2(c.aired_minutes()),
            aired_seconds: (c.aired_seconds * 1000.0).round() / 1000.0,
            relay_minutes: round2(c.relay_minutes()),
            local_minutes: round2(c.local_minutes()),
            heard_minutes: c.heard_minutes().map(round2),
        }
    }
}

#[derive(Serialize)]
pub(super) struct JsonBulletin<'a> {
    bulletin: &'a str,
    title: &'a str,
    #[serde(flatten)]
    counts: JsonCounts,
}

#[derive(Serialize)]
pub(super) struct JsonCampaign<'a> {
    campaign: Option<&'a str>,
    title: &'a str,
    #[serde(flatten)]
    counts: JsonCounts,
    target_minutes: Option<f64>,
    percent_of_target: Option<f64>,
    bulletins: Vec<JsonBulletin<'a>>,
}

#[derive(Serialize)]
pub(super) struct JsonReport<'a> {
    from: Option<String>,
    to: Option<String>,
    campaign_filter: Option<&'a str>,
    campaigns: Vec<JsonCampaign<'a>>,
    total: JsonCounts,
}

pub(super) fn report_json(r: &Report) -> String {
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
