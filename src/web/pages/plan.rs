//! `/lich` Lịch phát: one week, day by day, what airs when (the plan of
//! `crate::schedule`, as `GET /api/v1/schedule` and `loa schedule` give
//! it), and the minutes planned per campaign that week.

use std::collections::BTreeMap;

use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Duration, NaiveDate, Utc};
use maud::html;
use serde::Deserialize;

use super::clock;
use super::Reading;
use crate::schedule::ItemKind;
use crate::timefmt;
use crate::web::i18n::{t, Lang};
use crate::web::layout::page as layout;

#[derive(Deserialize, Default)]
pub(crate) struct WeekQuery {
    tuan: Option<String>,
}

const DAYS_VI: [&str; 7] = [
    "Thứ Hai",
    "Thứ Ba",
    "Thứ Tư",
    "Thứ Năm",
    "Thứ Sáu",
    "Thứ Bảy",
    "Chủ Nhật",
];
const DAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

struct Row {
    at: String,
    title: String,
    campaign: Option<String>,
    seconds: f64,
    program: bool,
}

pub(crate) async fn page(Reading { s, signed, q }: Reading<WeekQuery>) -> Response {
    let lang = signed.lang;
    let station = s.current.get();
    let tz = station.timezone;
    let today = timefmt::local_date(Utc::now(), tz);
    let picked = q
        .tuan
        .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
        .unwrap_or(today);
    let monday = picked - Duration::days(i64::from(picked.weekday().num_days_from_monday()));
    let days = s.plan(monday, 7, false).await.map(|plan| {
        let mut days: Vec<Vec<Row>> = (0..7).map(|_| Vec::new()).collect();
        let mut minutes: BTreeMap<String, f64> = BTreeMap::new();
        for p in plan {
            let day = (p.at.date_naive() - monday).num_days().clamp(0, 6) as usize;
            for (c, m) in p.minutes {
                *minutes.entry(c).or_default() += m;
            }
            days[day].push(Row {
                at: p.at.format("%H:%M").to_string(),
                title: p.title,
                campaign: p.campaign,
                seconds: p.planned_seconds,
                program: p.kind == ItemKind::Program,
            });
        }
        (days, minutes)
    });
    let title = t(lang, "Lịch phát", "Plan");
    let week = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let names = match lang {
        Lang::Vi => DAYS_VI,
        Lang::En => DAYS_EN,
    };
    let body = html! {
        h1 { (title) }
        p class="period" {
            (t(lang, "Tuần từ ", "Week of ")) strong { (monday.format("%d/%m/%Y")) }
            (t(lang, " đến ", " to ")) strong { ((monday + Duration::days(6)).format("%d/%m/%Y")) }
        }
        nav class="pager" aria-label=(t(lang, "Chọn tuần", "Pick a week")) {
            a class="btn" href={ "/lich?tuan=" (week(monday - Duration::days(7))) } { "‹ " (t(lang, "Tuần trước", "Previous week")) }
            a class="btn" href="/lich" { (t(lang, "Tuần này", "This week")) }
            a class="btn" href={ "/lich?tuan=" (week(monday + Duration::days(7))) } { (t(lang, "Tuần sau", "Next week")) " ›" }
            form method="get" action="/lich" class="inline" {
                label for="tuan" class="sr-only" { (t(lang, "Ngày trong tuần", "A day of the week")) }
                input id="tuan" type="date" name="tuan" value=(week(picked));
                button type="submit" class="btn" { (t(lang, "Xem", "Show")) }
            }
        }
        @match days {
            Err(e) => (super::problem(lang, &e)),
            Ok((days, minutes)) => {
                section class="card" {
                    h2 { (t(lang, "Số phút dự kiến theo chiến dịch", "Planned minutes per campaign")) }
                    @if minutes.is_empty() {
                        p class="idle" { (t(lang, "Tuần này không có gì theo lịch.", "Nothing is planned this week.")) }
                    } @else {
                        table class="data" {
                            thead { tr { th scope="col" { (t(lang, "Chiến dịch", "Campaign")) } th scope="col" class="num" { (t(lang, "Phút", "Minutes")) } } }
                            tbody {
                                @for (c, m) in &minutes {
                                    tr {
                                        td { @if c.is_empty() { (crate::report::NO_CAMPAIGN) } @else {
                                            (station.campaign(c).map_or(c.as_str(), |x| x.title.as_str())) } }
                                        td class="num" { (format!("{m:.1}").replace('.', ",")) }
                                    }
                                }
                            }
                        }
                    }
                }
                div class="week" {
                    @for (i, rows) in days.iter().enumerate() {
                        @let date = monday + Duration::days(i as i64);
                        section class={ "card day" @if date == today { " today" } } {
                            h2 { (names[i]) " " (date.format("%d/%m")) }
                            @if rows.is_empty() {
                                p class="idle" { "—" }
                            } @else {
                                ol class="rows" {
                                    @for r in rows {
                                        li {
                                            span class="time" { (r.at) }
                                            span class="what" {
                                                @if r.program { "▶ " }
                                                (r.title)
                                                small {
                                                    @if let Some(c) = &r.campaign { " · " (c) }
                                                    " · " (clock(r.seconds))
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(Some(&signed), lang, title, body).into_response()
}
