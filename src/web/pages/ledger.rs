//! `/nhat-ky` Nhật ký: the airtime ledger's rows (as `GET /api/v1/airtime`
//! and `loa airtime` read them) with filters on days, campaign, outcome
//! and source, a page at a time; times in the station's zone as
//! `dd/mm/yyyy HH:MM:SS`.

use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::Reading;
use super::{dmy_hms, outcome, outcome_badge, problem};
use crate::control::reading::Period;
use crate::ledger::{AirtimeRow, Outcome, Source};
use crate::web::i18n::{t, Lang};
use crate::web::layout::page as layout;

/// The report's legend entries that are ledger outcomes (by their English
/// column names).
const OUTCOME_WORDS: [&str; 5] = ["Completed", "Interrupted", "Failed", "Missed", "Skipped"];

/// Rows per page.
const PAGE: usize = 50;

#[derive(Deserialize, Default, Clone)]
pub(crate) struct LedgerQuery {
    tu: Option<String>,
    den: Option<String>,
    chien_dich: Option<String>,
    ket_qua: Option<String>,
    nguon: Option<String>,
    trang: Option<usize>,
}

fn given(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub(crate) fn source_word(lang: Lang, s: Source) -> &'static str {
    let (vi, en) = crate::report::source_words(s);
    t(lang, vi, en)
}

pub(crate) async fn page(Reading { s, signed, q }: Reading<LedgerQuery>) -> Response {
    let lang = signed.lang;
    let station = s.current.get();
    let want_outcome = given(&q.ket_qua).and_then(Outcome::parse);
    let want_source = given(&q.nguon).and_then(Source::parse);
    let campaign = given(&q.chien_dich).map(str::to_string);
    let rows = s
        .airtime(Period::new(given(&q.tu), given(&q.den), campaign))
        .await
        .map(|a| {
            let rows: Vec<AirtimeRow> = a
                .rows
                .into_iter()
                .filter(|r| want_outcome.is_none_or(|o| r.outcome == Some(o)))
                .filter(|r| want_source.is_none_or(|s| r.source == s))
                .collect();
            (a.from, a.to, rows)
        });
    let page_no = q.trang.unwrap_or(1).max(1);
    let title = t(lang, "Nhật ký", "Ledger");
    let link = |n: usize| {
        let mut s = format!("/nhat-ky?trang={n}");
        for (k, v) in [
            ("tu", &q.tu),
            ("den", &q.den),
            ("chien_dich", &q.chien_dich),
            ("ket_qua", &q.ket_qua),
            ("nguon", &q.nguon),
        ] {
            if let Some(v) = given(v) {
                s.push_str(&format!("&{k}={}", super::record::urlencode(v)));
            }
        }
        s
    };
    let tz = station.timezone;
    let today = crate::timefmt::local_date(chrono::Utc::now(), tz)
        .format("%Y-%m-%d")
        .to_string();
    let shown_from = given(&q.tu).unwrap_or(&today).to_string();
    let shown_to = given(&q.den).unwrap_or(&shown_from).to_string();
    let body = html! {
        h1 { (title) }
        form method="get" action="/nhat-ky" class="filters card" {
            div { label for="tu" { (t(lang, "Từ ngày", "From")) }
                input id="tu" type="date" name="tu" value=(shown_from); }
            div { label for="den" { (t(lang, "Đến hết ngày", "To (inclusive)")) }
                input id="den" type="date" name="den" value=(shown_to); }
            div { label for="chien_dich" { (t(lang, "Chiến dịch", "Campaign")) }
                select id="chien_dich" name="chien_dich" {
                    option value="" { (t(lang, "Tất cả", "All")) }
                    @for c in &station.campaigns {
                        option value=(c.id) selected[given(&q.chien_dich) == Some(c.id.as_str())] { (c.title) }
                    }
                } }
            div { label for="ket_qua" { (t(lang, "Kết quả", "Outcome")) }
                select id="ket_qua" name="ket_qua" {
                    option value="" { (t(lang, "Tất cả", "All")) }
                    @for o in Outcome::ALL {
                        option value=(o.as_str()) selected[want_outcome == Some(o)] { (outcome(lang, Some(o)).0) }
                    }
                } }
            div { label for="nguon" { (t(lang, "Nguồn", "Source")) }
                select id="nguon" name="nguon" {
                    option value="" { (t(lang, "Tất cả", "All")) }
                    @for src in Source::ALL {
                        option value=(src.as_str()) selected[want_source == Some(src)] { (source_word(lang, src)) }
                    }
                } }
            div class="go" { button type="submit" class="btn" { (t(lang, "Lọc", "Filter")) } }
        }
        @match rows {
            Err(e) => (problem(lang, &e)),
            Ok((from, to, rows)) => {
                @let pages = rows.len().div_ceil(PAGE).max(1);
                @let monitored = rows.iter().any(|r| r.heard_seconds.is_some());
                @let page_no = page_no.min(pages);
                p class="period" {
                    (super::date_time(from, tz)) " – " (super::date_time(to, tz)) " · "
                    (rows.len()) (t(lang, " dòng", " rows"))
                }
                @if rows.is_empty() {
                    p class="idle" { (t(lang, "Không có dòng nào.", "No rows.")) }
                } @else {
                    div class="scroll" {
                        table class="data ledger" {
                            thead { tr {
                                th scope="col" { (t(lang, "Giờ hẹn", "Scheduled")) }
                                th scope="col" { (t(lang, "Bắt đầu", "Started")) }
                                th scope="col" { (t(lang, "Kết thúc", "Ended")) }
                                th scope="col" { (t(lang, "Bản tin", "Bulletin")) }
                                th scope="col" { (t(lang, "Chiến dịch", "Campaign")) }
                                th scope="col" { (t(lang, "Nguồn", "Source")) }
                                th scope="col" class="num" { (t(lang, "Đã phát", "Aired")) }
                                @if monitored {
                                    th scope="col" class="num" { (t(lang, "Nghe được trên loa", "Heard on the line")) }
                                }
                                th scope="col" { (t(lang, "Kết quả", "Outcome")) }
                                th scope="col" { (t(lang, "Lý do", "Reason")) }
                                th scope="col" { (t(lang, "Người yêu cầu", "Requested by")) }
                            } }
                            tbody {
                                @for r in rows.iter().skip((page_no - 1) * PAGE).take(PAGE) {
                                    tr {
                                        td class="nowrap" { (dmy_hms(&r.scheduled_at)) }
                                        td class="nowrap" { (r.started_at.as_deref().map(dmy_hms).unwrap_or_default()) }
                                        td class="nowrap" { (r.ended_at.as_deref().map(dmy_hms).unwrap_or_default()) }
                                        td { (r.title) }
                                        td { (r.campaign.as_deref().and_then(|c| station.campaign(c)).map_or(r.campaign.as_deref().unwrap_or(""), |c| c.title.as_str())) }
                                        td { (source_word(lang, r.source)) }
                                        td class="num" { (super::clock(r.aired_seconds)) }
                                        @if monitored {
                                            td class="num" { (r.heard_seconds.map(super::clock).unwrap_or_default()) }
                                        }
                                        td { (outcome_badge(lang, r.outcome)) }
                                        td { (super::reason_words(lang, r.reason.as_ref())) }
                                        td { (r.requested_by.as_deref().unwrap_or("")) }
                                    }
                                }
                            }
                        }
                    }
                    // Outcomes that read alike (bỏ lỡ, bỏ qua), in words.
                    details class="legend-box" {
                        summary { (t(lang, "Ý nghĩa các kết quả", "What each outcome means")) }
                        ul class="legend" {
                            @for (vi, vi_means, en, en_means) in crate::report::LEGEND.iter().filter(|l| OUTCOME_WORDS.contains(&l.2)) {
                                li { b { (t(lang, vi, en)) } ": " (t(lang, vi_means, en_means)) }
                            }
                        }
                    }
                    @if pages > 1 {
                        nav class="pager" aria-label=(t(lang, "Trang", "Pages")) {
                            @if page_no > 1 { a class="btn" href=(link(page_no - 1)) { "‹ " (t(lang, "Trước", "Previous")) } }
                            span { (t(lang, "Trang ", "Page ")) (page_no) " / " (pages) }
                            @if page_no < pages { a class="btn" href=(link(page_no + 1)) { (t(lang, "Sau", "Next")) " ›" } }
                        }
                    }
                }
            }
        }
    };
    layout(Some(&signed), lang, title, body).into_response()
}
