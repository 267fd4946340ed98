//! `/bao-cao` Báo cáo: a period and a campaign; per campaign the items,
//! minutes aired, target and percent reached, what was missed and why;
//! per bulletin; a chart of minutes aired per day (SVG drawn here, no
//! chart library); the CSV download, which is `GET /api/v1/report`'s
//! answer and so the same bytes as `loa report --format csv`; and a print
//! layout on A4 as an administrative document (`paper`'s frame: heading,
//! the table, "Nơi nhận:" and signatures, then the chart and what did not
//! air as an annex).
//!
//! The sums are `crate::report::report`'s, as for `loa report`.

use std::collections::BTreeMap;

use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Duration, NaiveDate, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::Reading;
use super::{outcome, paper, problem};
use crate::control::reading::Period;
use crate::control::Shared as AppState;
use crate::ledger::{AirtimeRow, Outcome};
use crate::report::{self, Counts, Report};
use crate::timefmt;
use crate::web::i18n::{t, Lang};
use crate::web::layout::page as layout;
use crate::web::session::Signed;

#[derive(Deserialize, Default, Clone)]
pub(crate) struct ReportQuery {
    tu: Option<String>,
    den: Option<String>,
    chien_dich: Option<String>,
    /// `tinh`: the province's report (`[fleet] postgres`); else this station's.
    pham_vi: Option<String>,
    /// With `pham_vi=tinh`: only what one broadcast of the province aired.
    ban_tin: Option<String>,
}

/// The province's report is asked for.
fn province(q: &ReportQuery) -> bool {
    q.pham_vi.as_deref() == Some("tinh")
}

fn given(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The period asked for; this month so far by default.
fn period(q: &ReportQuery, today: NaiveDate) -> (String, String) {
    let first = today.with_day(1).unwrap_or(today);
    (
        given(&q.tu).unwrap_or_else(|| first.format("%Y-%m-%d").to_string()),
        given(&q.den).unwrap_or_else(|| today.format("%Y-%m-%d").to_string()),
    )
}

/// `12,50`: Vietnamese decimal comma, as in `loa report`'s table.
fn vn(x: f64, decimals: usize) -> String {
    format!("{:.*}", decimals, (x * 100.0).round() / 100.0).replace('.', ",")
}

/// `GET /bao-cao.csv`: the report as CSV, the same bytes as the API's
/// `GET /api/v1/report?format=csv` and `loa report --format csv`.
pub(crate) async fn csv(Reading { s, signed, q }: Reading<ReportQuery>) -> Response {
    let today = timefmt::local_date(Utc::now(), s.current.get().timezone);
    let (from, to) = period(&q, today);
    let (f, tt) = (Some(from.as_str()), Some(to.as_str()));
    let made = if province(&q) {
        s.province_report(Period::new(f, tt, given(&q.chien_dich)).broadcast(given(&q.ban_tin)))
            .await
            .map(|r| {
                let text = crate::fleet::format_fleet_report(&r, report::Format::Csv);
                (text, format!("bao-cao-toan-tinh-{from}-{to}"))
            })
    } else {
        s.report(Period::new(f, tt, given(&q.chien_dich)))
            .await
            .map(|r| {
                let text = report::format_report(&r.report, report::Format::Csv);
                (text, format!("bao-cao-{from}-{to}"))
            })
    };
    match made {
        Ok((text, name)) => super::csv_download(text, &name),
        Err(e) => {
            let lang = signed.lang;
            let title = t(lang, "Báo cáo", "Report");
            (
                e.kind().http_status(),
                layout(Some(&signed), lang, title, problem(lang, &e)),
            )
                .into_response()
        }
    }
}

struct Data {
    report: Report,
    /// Minutes aired per local day of the period.
    per_day: Vec<(NaiveDate, f64)>,
    /// (bulletin title, outcome, reason) → how many times.
    not_aired: BTreeMap<(String, &'static str, String), u64>,
}

pub(crate) async fn page(Reading { s, signed, q }: Reading<ReportQuery>) -> Response {
    let lang = signed.lang;
    if province(&q) {
        return province_page(s, signed, q).await;
    }
    let station = s.current.get();
    let tz = station.timezone;
    let now = Utc::now();
    let (from_s, to_s) = period(&q, timefmt::local_date(now, tz));
    let campaign = given(&q.chien_dich);
    let data = s
        .report_with_rows(Period::new(Some(&from_s), Some(&to_s), campaign.clone()))
        .await
        .map(|r| Data {
            per_day: per_day(&r.rows, r.from, r.to, tz),
            not_aired: not_aired(&r.rows, lang),
            report: r.report,
        });
    let title = t(lang, "Báo cáo", "Report");
    let made = now.with_timezone(&tz);
    let asked = Asked {
        from: &from_s,
        to: &to_s,
        campaign: campaign.as_deref(),
        province: false,
        broadcast: None,
    };
    let heading = t(lang, "BÁO CÁO THỜI LƯỢNG PHÁT SÓNG", "AIRTIME REPORT");
    let body = frame(lang, &station, (title, heading), &asked, &made, data, |d| {
        html! {
            (table(lang, &d.report))
            (paper::foot(lang, &station))
            section class="annex" {
            (paper::annex(lang, &of_report(lang, &from_s, &to_s)))
            (legend(lang))
            section class="chart-box" {
                h3 { (t(lang, "Số phút đã phát mỗi ngày", "Minutes aired per day")) }
                div class="scroll" { (chart(lang, &d.per_day)) }
            }
            (missed(lang, d.not_aired.is_empty(), html! {
                table class="data" {
                    thead { tr {
                        th scope="col" { (t(lang, "Bản tin", "Bulletin")) }
                        th scope="col" { (t(lang, "Kết quả", "Outcome")) }
                        th scope="col" { (t(lang, "Lý do", "Reason")) }
                        th scope="col" class="num" { (t(lang, "Số lần", "Times")) }
                    } }
                    tbody {
                        @for ((title, word, reason), n) in &d.not_aired {
                            tr { td { (title) } td { (word) } td { (reason) } td class="num" { (n) } }
                        }
                    }
                }
            }))
            }
        }
    });
    layout(Some(&signed), lang, title, body).into_response()
}

/// What a report page was asked for: the period's first and last day,
/// one campaign or all, this station's or the province's.
struct Asked<'a> {
    from: &'a str,
    to: &'a str,
    campaign: Option<&'a str>,
    province: bool,
    /// The province's broadcast reported on (the province's report only).
    broadcast: Option<&'a str>,
}

/// What both report pages draw around their paper: the heading, the
/// filters, and the refusal, or the CSV and print buttons above the
/// paper's head (`heading`, the period, the campaign, when `made`) and
/// the rest of it, `paper`.
fn frame<T>(
    lang: Lang,
    station: &crate::config::Station,
    (title, heading): (&str, &str),
    a: &Asked<'_>,
    made: &chrono::DateTime<chrono_tz::Tz>,
    data: Result<T, crate::control::Error>,
    paper: impl FnOnce(T) -> Markup,
) -> Markup {
    html! {
        h1 class="screen-only" { (title) }
        (filters(lang, station, a))
        @match data {
            Err(e) => (problem(lang, &e)),
            Ok(d) => {
                div class="actions screen-only" {
                    a class="btn" href=(csv_link(a)) download { (t(lang, "Tải CSV", "Download CSV")) }
                    button type="button" class="btn" data-print { (t(lang, "In báo cáo", "Print")) }
                }
                article class="report" {
                    (paper::head(lang, station, heading, under_title(lang, station, (a.from, a.to), a.campaign, made)))
                    (paper(d))
                }
            }
        }
    }
}

/// The annex's section on what did not air in full: `table`, or a line
/// saying everything did when there is `none`.
fn missed(lang: Lang, none: bool, table: Markup) -> Markup {
    html! {
        section class="missed" {
            h3 { (t(lang, "Không phát trọn và lý do", "Not aired in full, and why")) }
            @if none {
                p { (t(lang, "Mọi lượt đều phát trọn.", "Everything aired in full.")) }
            } @else {
                (table)
            }
        }
    }
}

/// The lines under the printed title: the period, the campaign, when made.
fn under_title(
    lang: Lang,
    station: &crate::config::Station,
    (from, to): (&str, &str),
    campaign: Option<&str>,
    made: &chrono::DateTime<chrono_tz::Tz>,
) -> Markup {
    html! {
        p { (t(lang, "Kỳ báo cáo: từ ", "Period: from ")) (dmy(from)) (t(lang, " đến hết ", " to the end of ")) (dmy(to)) }
        @if let Some(c) = campaign {
            p { (t(lang, "Chiến dịch: ", "Campaign: ")) (station.campaign(c).map_or(c, |x| x.title.as_str())) }
        }
        p class="made" { (t(lang, "Lập lúc ", "Made ")) (made.format("%d/%m/%Y %H:%M")) }
    }
}

/// The report an annex is attached to, in words.
fn of_report(lang: Lang, from: &str, to: &str) -> String {
    match lang {
        Lang::En => format!(
            "airtime report from {} to the end of {}",
            dmy(from),
            dmy(to)
        ),
        _ => format!(
            "báo cáo thời lượng phát sóng từ {} đến hết {}",
            dmy(from),
            dmy(to)
        ),
    }
}

/// The CSV download of the report shown.
fn csv_link(a: &Asked<'_>) -> String {
    let enc = super::record::urlencode;
    format!(
        "/bao-cao.csv?tu={}&den={}{}{}{}",
        a.from,
        a.to,
        a.campaign
            .map(|c| format!("&chien_dich={}", enc(c)))
            .unwrap_or_default(),
        if a.province { "&pham_vi=tinh" } else { "" },
        a.broadcast
            .map(|b| format!("&ban_tin={}", enc(b)))
            .unwrap_or_default(),
    )
}

/// The period, campaign and (with `[fleet] postgres`) scope to report on.
fn filters(lang: Lang, station: &crate::config::Station, a: &Asked<'_>) -> Markup {
    let (from, to, campaign, province) = (a.from, a.to, a.campaign, a.province);
    html! {
        form method="get" action="/bao-cao" class="filters card screen-only" {
            div { label for="tu" { (t(lang, "Từ ngày", "From")) }
                input id="tu" type="date" name="tu" value=(from) required; }
            div { label for="den" { (t(lang, "Đến hết ngày", "To (inclusive)")) }
                input id="den" type="date" name="den" value=(to) required; }
            div { label for="chien_dich" { (t(lang, "Chiến dịch", "Campaign")) }
                select id="chien_dich" name="chien_dich" {
                    option value="" { (t(lang, "Tất cả", "All")) }
                    @for c in &station.campaigns {
                        option value=(c.id) selected[campaign == Some(c.id.as_str())] { (c.title) }
                    }
                } }
            @if station.fleet.postgres.is_some() {
                div { label for="pham_vi" { (t(lang, "Phạm vi", "Scope")) }
                    select id="pham_vi" name="pham_vi" {
                        option value="dai" selected[!province] { (t(lang, "Đài này", "This station")) }
                        option value="tinh" selected[province] { "Toàn tỉnh (province)" }
                    } }
                div { label for="ban_tin" { (t(lang, "Bản tin tỉnh gửi (mã)", "Province broadcast (id)")) }
                    input id="ban_tin" type="text" name="ban_tin" maxlength="64"
                        value=(a.broadcast.unwrap_or_default()); }
            }
            div class="go" { button type="submit" class="btn" { (t(lang, "Xem", "Show")) } }
        }
    }
}

/// `/bao-cao?pham_vi=tinh`: the province's report from `[fleet] postgres`,
/// as `loa report --postgres` (the same sums): a row per station and the
/// total, then the province's campaigns and what did not air in full.
async fn province_page(s: AppState, signed: Signed, q: ReportQuery) -> Response {
    let lang = signed.lang;
    let station = s.current.get();
    let now = Utc::now();
    let (from_s, to_s) = period(&q, timefmt::local_date(now, crate::fleet::MONTH_TZ));
    let campaign = given(&q.chien_dich);
    let broadcast = given(&q.ban_tin);
    let data = s
        .province_report(
            Period::new(Some(&from_s), Some(&to_s), campaign.clone()).broadcast(broadcast.clone()),
        )
        .await;
    let title = t(lang, "Báo cáo toàn tỉnh", "Province report");
    let made = now.with_timezone(&crate::fleet::MONTH_TZ);
    let asked = Asked {
        from: &from_s,
        to: &to_s,
        campaign: campaign.as_deref(),
        province: true,
        broadcast: broadcast.as_deref(),
    };
    let heading = t(
        lang,
        "BÁO CÁO THỜI LƯỢNG PHÁT SÓNG TOÀN TỈNH",
        "PROVINCE AIRTIME REPORT",
    );
    let body = frame(lang, &station, (title, heading), &asked, &made, data, |r| {
        html! {
            section class="stations" {
                h3 { (t(lang, "Theo đài", "Per station")) }
                (stations_table(lang, &r))
            }
            section {
                h3 { (t(lang, "Toàn tỉnh theo chiến dịch", "The province by campaign")) }
                (table(lang, &r.total.report))
            }
            (paper::foot(lang, &station))
            section class="annex" {
            (paper::annex(lang, &of_report(lang, &from_s, &to_s)))
            (legend(lang))
            (missed(lang, r.total.not_aired.is_empty(), html! {
                table class="data" {
                    thead { tr {
                        th scope="col" { (t(lang, "Kết quả", "Outcome")) }
                        th scope="col" { (t(lang, "Lý do", "Reason")) }
                        th scope="col" class="num" { (t(lang, "Số lần", "Times")) }
                    } }
                    tbody {
                        @for ((word, reason), n) in &r.total.not_aired {
                            tr {
                                td { (province_outcome(lang, word)) }
                                td { (reason.render(lang)) } td class="num" { (n) }
                            }
                        }
                    }
                }
            }))
            }
        }
    });
    layout(Some(&signed), lang, title, body).into_response()
}

/// An outcome of the province's `not_aired` in `lang`, as the station's
/// own page words it.
fn province_outcome(lang: Lang, word: &str) -> &'static str {
    match Outcome::parse(word) {
        Some(o) => outcome(lang, Some(o)).0,
        None if word == crate::fleet::CANCELLED => t(lang, "đã huỷ", "cancelled"),
        None => t(lang, "khác", "other"),
    }
}

/// One row per station and the province's total.
fn stations_table(lang: Lang, r: &crate::fleet::FleetReport) -> Markup {
    let monitored = r.total.report.total.heard_rows > 0;
    let row = |p: &crate::fleet::Part| {
        let c = &p.report.total;
        html! {
            (count_cells(c, monitored))
            td class="num" { (vn(c.relay_minutes(), 2)) }
        }
    };
    html! {
        div class="scroll" {
            table class="data report-table" {
                thead { tr {
                    th scope="col" { (t(lang, "Mã đài", "Station id")) }
                    th scope="col" { (t(lang, "Đài", "Station")) }
                    (count_heads(lang, monitored))
                    th scope="col" class="num" { (t(lang, "Phút tiếp âm", "Relay minutes")) }
                } }
                tbody {
                    @for p in &r.stations {
                        tr { td { (p.station_id.as_deref().unwrap_or_default()) } td { (p.name) } (row(p)) }
                    }
                }
                tfoot {
                    tr class="total" {
                        th scope="row" colspan="2" { (t(lang, "Tổng cộng", "Total")) }
                        (row(&r.total))
                    }
                }
            }
        }
    }
}

/// `YYYY-MM-DD` as `dd/mm/yyyy`.
fn dmy(s: &str) -> String {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_else(|_| s.to_string())
}

/// The headings of the columns `count_cells` fills.
fn count_heads(lang: Lang, monitored: bool) -> Markup {
    html! {
        th scope="col" class="num" { (t(lang, "Lượt phát", "Plays")) }
        th scope="col" class="num" { (t(lang, "Hoàn thành", "Completed")) }
        th scope="col" class="num" { (t(lang, "Bị ngắt", "Interrupted")) }
        th scope="col" class="num" { (t(lang, "Lỗi", "Failed")) }
        th scope="col" class="num" { (t(lang, "Bỏ lỡ", "Missed")) }
        th scope="col" class="num" { (t(lang, "Bỏ qua", "Skipped")) }
        th scope="col" class="num" { (t(lang, "Đã huỷ", "Cancelled")) }
        th scope="col" class="num" { (t(lang, "Phút đã phát", "Minutes aired")) }
        @if monitored {
            th scope="col" class="num" { (t(lang, "Phút nghe được trên loa", "Minutes heard on the line")) }
            th scope="col" class="num" { (t(lang, "% nghe được", "% heard")) }
        }
    }
}

/// A period's counts: plays, outcomes and the minutes aired.
fn count_cells(c: &Counts, monitored: bool) -> Markup {
    html! {
        td class="num" { (c.plays) }
        td class="num" { (c.completed) }
        td class="num" { (c.interrupted) }
        td class="num" { (c.failed) }
        td class="num" { (c.missed) }
        td class="num" { (c.skipped) }
        td class="num" { (c.cancelled) }
        td class="num" { (vn(c.aired_minutes(), 2)) }
        @if monitored {
            td class="num" { (c.heard_minutes().map(|m| vn(m, 2)).unwrap_or_default()) }
            td class="num" {
                @if let Some(m) = c.heard_minutes().filter(|_| c.aired_seconds > 0.0) {
                    (format!("{:.1}", m / c.aired_minutes() * 100.0).replace('.', ","))
                }
            }
        }
    }
}

/// Under a report whose figures a line monitor confirmed, the sentence
/// that says so (on the page and on paper).
fn heard_note(lang: Lang, monitored: bool) -> Markup {
    html! {
        @if monitored {
            p class="heard-note" {
                (t(lang, "Số phút nghe được trên loa do thiết bị giám sát đường loa của đài xác nhận: đó là thời gian đường loa thực sự mang nội dung đã phát, tại điểm đặt thiết bị giám sát.",
                         "Minutes heard on the line were confirmed by the station's line monitor: the time the loudspeaker line really carried what aired, where the monitor listens."))
            }
        }
    }
}

/// What each count means (`crate::report::LEGEND`), and how the CSV
/// writes numbers, under the figures.
fn legend(lang: Lang) -> Markup {
    let (csv_vi, csv_en) = report::CSV_NUMBERS;
    // In the annex, so the signatures stay on the page of the total.
    html! {
        section class="legend-box" {
            h3 { (t(lang, "Chú giải các cột", "What the columns mean")) }
            ul class="legend" {
                @for (vi, vi_means, en, en_means) in report::LEGEND {
                    li { b { (t(lang, vi, en)) } ": " (t(lang, vi_means, en_means)) }
                }
            }
            p class="legend csv-note" { (t(lang, csv_vi, csv_en)) }
        }
    }
}

fn table(lang: Lang, r: &Report) -> Markup {
    let monitored = r.total.heard_rows > 0;
    html! {
        @if r.campaigns.is_empty() {
            p { (t(lang, "Không có chiến dịch hay lượt phát nào trong kỳ này.", "No campaign and nothing aired in this period.")) }
        } @else {
            div class="scroll" {
                table class="data report-table" {
                    thead { tr {
                        th scope="col" { (t(lang, "Chiến dịch / bản tin", "Campaign / bulletin")) }
                        (count_heads(lang, monitored))
                        th scope="col" class="num" { (t(lang, "Chỉ tiêu (phút)", "Target (min)")) }
                        th scope="col" class="num" { (t(lang, "% chỉ tiêu", "% of target")) }
                    } }
                    @for c in &r.campaigns {
                        tbody class="campaign" {
                            tr class="group" {
                                th scope="row" { (c.title) }
                                (count_cells(&c.counts, monitored))
                                td class="num" { (c.target_minutes.map(|x| vn(x, 2)).unwrap_or_default()) }
                                td class="num" { (c.percent_of_target().map(|p| format!("{p:.1}").replace('.', ",")).unwrap_or_default()) }
                            }
                            @for b in &c.bulletins {
                                tr {
                                    td class="sub" { (b.title) }
                                    (count_cells(&b.counts, monitored))
                                    td {} td {}
                                }
                            }
                        }
                    }
                    tfoot {
                        tr class="total" {
                            th scope="row" { (t(lang, "Tổng cộng", "Total")) }
                            (count_cells(&r.total, monitored))
                            td {} td {}
                        }
                    }
                }
            }
            (heard_note(lang, monitored))
        }
    }
}

/// Minutes aired per local day, every day of the period (none left out).
fn per_day(
    rows: &[AirtimeRow],
    from: Option<chrono::DateTime<Utc>>,
    to: Option<chrono::DateTime<Utc>>,
    tz: chrono_tz::Tz,
) -> Vec<(NaiveDate, f64)> {
    let mut by_day: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for r in rows {
        if let Some(t) = super::parse(&r.scheduled_at) {
            *by_day.entry(t.date_naive()).or_default() += r.aired_seconds / 60.0;
        }
    }
    let (Some(from), Some(to)) = (from, to) else {
        return by_day.into_iter().collect();
    };
    let first = timefmt::local_date(from, tz);
    let last = timefmt::local_date(to - Duration::milliseconds(1), tz);
    let mut out = Vec::new();
    let mut d = first;
    while d <= last && out.len() < 400 {
        out.push((d, by_day.get(&d).copied().unwrap_or(0.0)));
        d += Duration::days(1);
    }
    out
}

/// What did not air in full, grouped by bulletin, outcome (in `lang`) and
/// reason.
fn not_aired(rows: &[AirtimeRow], lang: Lang) -> BTreeMap<(String, &'static str, String), u64> {
    let mut out = BTreeMap::new();
    for r in rows {
        match r.outcome {
            None | Some(Outcome::Completed) => {}
            Some(o) => {
                let cancelled = matches!(o, Outcome::Missed | Outcome::Skipped)
                    && r.reason.as_ref().is_some_and(|x| x.is_operator_cancel());
                let word = if cancelled {
                    t(lang, "đã huỷ", "cancelled")
                } else {
                    outcome(lang, Some(o)).0
                };
                *out.entry((
                    r.title.clone(),
                    word,
                    super::reason_words(lang, r.reason.as_ref()),
                ))
                .or_default() += 1;
            }
        }
    }
    out
}

/// A bar chart of minutes per day, drawn as SVG on the server.
fn chart(lang: Lang, days: &[(NaiveDate, f64)]) -> Markup {
    if days.is_empty() {
        return html! { p { (t(lang, "Không có ngày nào.", "No days.")) } };
    }
    let max = days.iter().map(|d| d.1).fold(0.0_f64, f64::max);
    // A round top for the scale: 1, 2, 5, 10, 20, 50… minutes.
    let mut top = 1.0_f64;
    let mut steps = [2.0, 2.5, 2.0].iter().cycle();
    while top < max {
        top *= steps.next().copied().unwrap_or(2.0);
    }
    let (w, h, left, bottom, topm) = (720.0, 220.0, 44.0, 28.0, 12.0);
    let plot_w = w - left - 8.0;
    let plot_h = h - bottom - topm;
    let step = plot_w / days.len() as f64;
    let bar = (step * 0.7).max(1.0);
    let label_every = (days.len() as f64 / 10.0).ceil().max(1.0) as usize;
    let desc = t(
        lang,
        "Biểu đồ cột: số phút đã phát mỗi ngày",
        "Bar chart: minutes aired per day",
    );
    html! {
        svg class="chart" viewBox={ "0 0 " (w) " " (h) } role="img" aria-label=(desc) xmlns="http://www.w3.org/2000/svg" {
            title { (desc) }
            @for i in 0..=4 {
                @let v = top * f64::from(i) / 4.0;
                @let y = topm + plot_h - plot_h * f64::from(i) / 4.0;
                line class="grid" x1=(left) x2=(w - 8.0) y1=(format!("{y:.1}")) y2=(format!("{y:.1}")) {}
                text class="axis" x=(left - 6.0) y=(format!("{:.1}", y + 4.0)) text-anchor="end" { (vn(v, if top < 4.0 { 2 } else { 0 })) }
            }
            @for (i, (d, m)) in days.iter().enumerate() {
                @let bh = if top > 0.0 { plot_h * m / top } else { 0.0 };
                @let x = left + step * i as f64 + (step - bar) / 2.0;
                rect class="bar" x=(format!("{x:.1}")) y=(format!("{:.1}", topm + plot_h - bh)) width=(format!("{bar:.1}")) height=(format!("{bh:.1}")) {
                    title { (d.format("%d/%m")) ": " (vn(*m, 2)) (t(lang, " phút", " min")) }
                }
                @if i % label_every == 0 {
                    text class="axis" x=(format!("{:.1}", x + bar / 2.0)) y=(h - 10.0) text-anchor="middle" { (d.format("%d/%m")) }
                }
            }
        }
    }
}
