//! `/` Đang phát: what airs, its progress and time left, the queue, what
//! is next, today's plan with each past occurrence's outcome, the output,
//! pause, and a banner while an emergency repeats; and the operator's
//! controls. The live part is one fragment (`/truc-tiep`) the page's
//! script fetches every two seconds and swaps in when it changed, drawn by
//! the same code as the first view.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use chrono::{Duration, TimeZone, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::{answer, clock, hm, outcome_badge, problem, shown, Flash};
use crate::api::routes::{self as api, EmergencyBody, QueueBody};
use crate::api::{ApiError, AppState};
use crate::config::{Role, Station};
use crate::ledger::{Filter, Outcome};
use crate::schedule::{self, ItemKind};
use crate::timefmt;
use crate::web::i18n::{t, Lang};
use crate::web::layout::page as layout;
use crate::web::session::{caller, check_csrf, Operator, Signed};

/// How many recordings the pickers offer (newest names first).
const RECORDINGS_OFFERED: usize = 30;

pub(crate) async fn page(
    State(s): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
) -> Response {
    let lang = signed.lang;
    let flash = Flash::take(&headers);
    let live = fragment(&s, &signed).await;
    let controls = if signed.role >= Role::Operator {
        controls(&s, &signed).await
    } else {
        html! {}
    };
    let title = t(lang, "Đang phát", "On air");
    let body = html! {
        h1 { (title) }
        (Flash::show(flash.as_ref()))
        section id="song" class="live" data-live="/truc-tiep" aria-live="off" {
            (live)
        }
        (controls)
    };
    shown(layout(Some(&signed), lang, title, body), flash.as_ref())
}

/// `GET /truc-tiep`: the live part of `/`, for the page's script.
pub(crate) async fn live(State(s): State<AppState>, signed: Signed) -> Response {
    let mut r = fragment(&s, &signed).await.into_response();
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    r
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn f64_of(v: &Value, k: &str) -> f64 {
    v.get(k).and_then(Value::as_f64).unwrap_or(0.0)
}

/// The status's `source` in words (the ledger page's, so a relay reads
/// "tiếp âm" here too).
fn source_word(lang: Lang, s: &str) -> &'static str {
    crate::ledger::Source::parse(s).map_or("", |s| super::ledger::source_word(lang, s))
}

/// The live part: drawn from the API's own status answer.
async fn fragment(s: &AppState, signed: &Signed) -> Markup {
    let lang = signed.lang;
    let op = signed.role >= Role::Operator;
    let axum::Json(st) = api::status(State(Arc::clone(s))).await;
    let station = s.current.get();
    let plan = today(&station).await.render(lang);
    let paused = st["paused"].as_bool().unwrap_or(false);
    let airing = st.get("airing").filter(|a| !a.is_null());
    let emergency = st.get("emergency").filter(|a| !a.is_null());
    let queue = st["queue"].as_array().cloned().unwrap_or_default();
    let queue_length = st["queue_length"].as_u64().unwrap_or(0);
    html! {
        @if let Some(e) = emergency {
            div class="banner emergency" role="alert" {
                p {
                    strong { (t(lang, "KHẨN CẤP đang lặp lại: ", "EMERGENCY repeating: ")) }
                    (str_of(e, "title"))
                }
                p {
                    (t(lang, "Mỗi ", "Every ")) (every(lang, f64_of(e, "repeat_every_seconds")))
                    @if let Some(u) = e.get("until").and_then(Value::as_str) {
                        (t(lang, " đến ", " until ")) (hm(u))
                    }
                    (t(lang, " · lần tới ", " · next at ")) (hm(str_of(e, "next_at")))
                }
                @if op {
                    form method="post" action="/khan-cap/huy" data-fetch {
                        input type="hidden" name="csrf" value=(signed.csrf);
                        button type="submit" class="btn big light" { (t(lang, "Dừng khẩn cấp", "Stop the emergency")) }
                    }
                }
            }
        }
        @if paused {
            div class="banner paused" role="alert" {
                p { strong { (t(lang, "Đài đang TẠM DỪNG: không phát gì.", "The station is PAUSED: nothing airs.")) } }
                @if op {
                    form method="post" action="/tiep-tuc" data-fetch {
                        input type="hidden" name="csrf" value=(signed.csrf);
                        button type="submit" class="btn big" { (t(lang, "Phát lại", "Resume")) }
                    }
                }
            }
        }
        @if st["clock_suspect"].as_bool().unwrap_or(false) {
            p class="banner warn" {
                (t(lang, "Đồng hồ máy có vẻ chậm hơn sổ phát sóng: các mục theo lịch đang chờ. Kiểm tra giờ (NTP).",
                       "The clock looks behind the ledger: scheduled items wait. Check the time (NTP)."))
            }
        }
        div class="card onair" {
            h2 { (t(lang, "Đang phát", "On air")) }
            @if let Some(a) = airing {
                @let dur = f64_of(a, "duration_seconds");
                @let started = crate::web::pages::parse(str_of(a, "started_at"))
                    .map(|t| t.timestamp_millis()).unwrap_or(0);
                p class="title" { (str_of(a, "title")) }
                p class="meta" {
                    (source_word(lang, str_of(a, "source")))
                    " · " (t(lang, "bắt đầu ", "started ")) (hm(str_of(a, "started_at")))
                    " · " (t(lang, "dài ", "length ")) (clock(dur))
                }
                progress class="bar" max=(format!("{dur:.1}")) value="0"
                    data-started=(started) data-duration=(format!("{dur:.3}"))
                    aria-label=(t(lang, "Tiến độ", "Progress")) {}
                p class="left" data-left-label=(t(lang, "còn lại", "left")) {}
                @if op {
                    form method="post" action="/bo-qua" data-fetch class="inline" {
                        input type="hidden" name="csrf" value=(signed.csrf);
                        button type="submit" class="btn" { (t(lang, "Bỏ qua", "Skip")) }
                    }
                }
            } @else {
                p class="idle" { (t(lang, "Không phát gì lúc này.", "Nothing airs right now.")) }
            }
            @if op && !paused {
                form method="post" action="/tam-dung" data-fetch class="inline" {
                    input type="hidden" name="csrf" value=(signed.csrf);
                    button type="submit" class="btn" { (t(lang, "Tạm dừng đài", "Pause the station")) }
                }
            }
            p class="output" { (output_line(lang, &st["output"])) }
        }
        div class="card" {
            h2 { (t(lang, "Hàng chờ", "Queue")) " (" (queue_length) ")" }
            @if queue.is_empty() {
                p class="idle" { (t(lang, "Không có mục nào đang chờ.", "Nothing waits.")) }
            } @else {
                ol class="rows" {
                    @for q in &queue {
                        li {
                            span class="time" { (hm(str_of(q, "at"))) }
                            span class="what" {
                                (str_of(q, "title"))
                                small { " · " (source_word(lang, str_of(q, "source")))
                                    @if let Some(by) = q.get("requested_by").and_then(Value::as_str) { " · " (by) }
                                    " · " (clock(f64_of(q, "planned_seconds"))) }
                            }
                            @if op {
                                form method="post" action={ "/xep-hang/" (q["id"]) "/huy" } data-fetch class="inline" {
                                    input type="hidden" name="csrf" value=(signed.csrf);
                                    button type="submit" class="btn small" aria-label={ (t(lang, "Hủy ", "Cancel ")) (str_of(q, "title")) } {
                                        (t(lang, "Hủy", "Cancel"))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(n) = st["next"].as_array().and_then(|n| n.first()) {
                p class="next" {
                    strong { (t(lang, "Tiếp theo theo lịch: ", "Next on the plan: ")) }
                    (hm(str_of(n, "at"))) " " (str_of(n, "title"))
                }
            }
        }
        div class="card" {
            h2 { (t(lang, "Lịch hôm nay", "Today's plan")) }
            (plan)
        }
    }
}

/// A repeat interval in words: `30 phút`, `1 giờ 30 phút`.
fn every(lang: Lang, seconds: f64) -> String {
    let m = (seconds / 60.0).round() as u64;
    match (m / 60, m % 60) {
        (0, m) => format!("{m} {}", t(lang, "phút", "min")),
        (h, 0) => format!("{h} {}", t(lang, "giờ", "h")),
        (h, m) => format!("{h} {} {m} {}", t(lang, "giờ", "h"), t(lang, "phút", "min")),
    }
}

/// Why the output failed, in the page's language, from its code.
fn output_reason(lang: Lang, o: &Value) -> String {
    let args = o
        .get("reason_args")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    o.get("reason_code")
        .and_then(Value::as_str)
        .and_then(|code| crate::reason::Reason::from_parts(code, &args))
        .map_or_else(|| str_of(o, "reason").to_string(), |r| r.text(lang.into()))
}

fn output_line(lang: Lang, o: &Value) -> Markup {
    let state = o.get("state").and_then(Value::as_str).unwrap_or("");
    html! {
        (t(lang, "Loa: ", "Output: "))
        @match state {
            "open" => span class="badge o-ok" { (t(lang, "đang mở", "open")) },
            "idle" => span class="badge o-skip" { (t(lang, "nghỉ (mở khi có bản tin)", "idle (opens for the next item)")) },
            "failed" => {
                span class="badge o-fail" { (t(lang, "lỗi", "failed")) }
                " " (output_reason(lang, o))
            },
            other => (other),
        }
    }
}

/// Today's plan in the station's zone, each past occurrence with its
/// outcome from the ledger.
async fn today(station: &Arc<Station>) -> PlanRows {
    let st = Arc::clone(station);
    let rows = api::blocking(move || {
        let tz = st.timezone;
        let day = timefmt::local_date(Utc::now(), tz);
        let from = timefmt::start_of_day(day, tz);
        let to = timefmt::start_of_day(day.succ_opt().unwrap_or(day), tz);
        let occ = schedule::schedule(&st, from, to);
        let mut outcomes: HashMap<String, Option<Outcome>> = HashMap::new();
        if let Ok(ledger) = api::open_ledger(&st) {
            for r in ledger.rows(&Filter {
                from: Some(from),
                to: Some(to),
                campaign: None,
            })? {
                outcomes.insert(r.occurrence, r.outcome);
            }
        }
        let now = Utc::now();
        Ok(occ
            .iter()
            .map(|o| {
                let key = o.key();
                let got = match o.kind {
                    ItemKind::Bulletin | ItemKind::Relay => outcomes.get(&key).copied(),
                    ItemKind::Program => program_outcome(&outcomes, o.id, &key),
                };
                let campaign = o
                    .campaign
                    .and_then(|c| st.campaign(c))
                    .map(|c| c.title.clone());
                PlanRow {
                    at: o.at.format("%H:%M").to_string(),
                    title: o.title.to_string(),
                    campaign,
                    outcome: got,
                    past: o.at.with_timezone(&Utc) <= now,
                }
            })
            .collect::<Vec<_>>())
    })
    .await;
    PlanRows(rows)
}

struct PlanRow {
    at: String,
    title: String,
    campaign: Option<String>,
    /// `Some(None)`: on air now; `None`: no row yet.
    outcome: Option<Option<Outcome>>,
    past: bool,
}

struct PlanRows(Result<Vec<PlanRow>, ApiError>);

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

impl PlanRows {
    fn render(&self, lang: Lang) -> Markup {
        match &self.0 {
            Err(e) => problem(lang, e),
            Ok(rows) if rows.is_empty() => html! {
                p class="idle" { (t(lang, "Hôm nay không có gì theo lịch.", "Nothing is planned today.")) }
            },
            Ok(rows) => html! {
                ol class="rows plan" {
                    @for r in rows {
                        li class=[(!r.past).then_some("future")] {
                            span class="time" { (r.at) }
                            span class="what" {
                                (r.title)
                                @if let Some(c) = &r.campaign { small { " · " (c) } }
                            }
                            @match r.outcome {
                                Some(o) => (outcome_badge(lang, o)),
                                None if r.past => span class="badge o-wait" { (t(lang, "không có trong sổ", "not in the ledger")) },
                                None => span class="badge o-next" { (t(lang, "sắp phát", "upcoming")) },
                            }
                        }
                    }
                }
            },
        }
    }
}

/// Something an operator may air: a bulletin of the station file, or a
/// recording in `audio_dir`.
pub(crate) struct Pick {
    /// `b:ID` or `f:NAME`, as the forms send it.
    pub(crate) value: String,
    pub(crate) title: String,
    pub(crate) seconds: f64,
    /// A recording in `audio_dir` rather than a bulletin.
    pub(crate) recording: bool,
}

impl Pick {
    /// How the pickers name it.
    fn name(&self, lang: Lang) -> String {
        if self.recording {
            format!("{}{}", t(lang, "Bản ghi: ", "Recording: "), self.title)
        } else {
            self.title.clone()
        }
    }
}

/// Bulletins that can play, then the newest recordings.
pub(crate) async fn picks(s: &AppState) -> Vec<Pick> {
    let station = s.current.get();
    let state = Arc::clone(s);
    let mut out: Vec<Pick> = station
        .bulletins
        .iter()
        .filter(|b| b.audio.is_some())
        .map(|b| Pick {
            value: format!("b:{}", b.id),
            title: b.title.clone(),
            seconds: b.seconds(),
            recording: false,
        })
        .collect();
    let dir = station.audio_dir.clone();
    let used: Vec<String> = station.bulletins.iter().map(|b| b.file.clone()).collect();
    let files = api::blocking(move || Ok(crate::api::files::list(&dir, &state.probes)))
        .await
        .unwrap_or_default();
    let mut recordings: Vec<Pick> = files
        .into_iter()
        .filter(|f| f.audio.is_some() && !used.contains(&f.file))
        .map(|f| Pick {
            title: f.file.clone(),
            recording: true,
            seconds: f.audio.as_ref().map_or(0.0, |a| a.seconds),
            value: format!("f:{}", f.file),
        })
        .collect();
    recordings.reverse();
    recordings.truncate(RECORDINGS_OFFERED);
    out.extend(recordings);
    out
}

/// The operator's forms under the live part.
async fn controls(s: &AppState, signed: &Signed) -> Markup {
    let lang = signed.lang;
    let picks = picks(s).await;
    html! {
        section class="card" aria-labelledby="h-queue" {
            h2 id="h-queue" { (t(lang, "Xếp hàng một bản tin", "Queue a bulletin")) }
            label for="tim" { (t(lang, "Tìm theo tên", "Search by title")) }
            input id="tim" type="search" class="search" data-filter="#ds-phat" autocomplete="off"
                placeholder=(t(lang, "gõ vài chữ của tên bản tin", "type part of the title"));
            ul id="ds-phat" class="rows picks" {
                @for p in &picks {
                    @let name = p.name(lang);
                    li data-title=(name.to_lowercase()) {
                        span class="what" { (name) small { " · " (clock(p.seconds)) } }
                        form method="post" action="/xep-hang" data-fetch class="inline" {
                            input type="hidden" name="csrf" value=(signed.csrf);
                            input type="hidden" name="what" value=(p.value);
                            button type="submit" class="btn small" aria-label={ (t(lang, "Xếp hàng ", "Queue ")) (name) } {
                                (t(lang, "Xếp hàng", "Queue"))
                            }
                        }
                    }
                }
            }
            form method="post" action="/xep-hang" class="stack" {
                input type="hidden" name="csrf" value=(signed.csrf);
                label for="q-text" { (t(lang, "Hoặc gõ thông báo để đọc", "Or type a notice to read aloud")) }
                textarea id="q-text" name="text" rows="3" required maxlength="2000" {}
                button type="submit" class="btn" { (t(lang, "Đọc và xếp hàng", "Read aloud and queue")) }
            }
        }
        section class="card danger" aria-labelledby="h-em" {
            h2 id="h-em" { (t(lang, "Phát khẩn cấp", "Emergency")) }
            p { (t(lang, "Cắt ngay mục đang phát. Bạn sẽ được hỏi lại trước khi phát.",
                       "Cuts what airs at once. You are asked to confirm first.")) }
            form method="get" action="/khan-cap" class="stack" {
                label for="em-what" { (t(lang, "Phát gì", "What to air")) }
                select id="em-what" name="what" {
                    option value="" { (t(lang, "— gõ thông báo bên dưới —", "— type a notice below —")) }
                    @for p in &picks {
                        option value=(p.value) { (p.name(lang)) " (" (clock(p.seconds)) ")" }
                    }
                }
                label for="em-text" { (t(lang, "Hoặc gõ thông báo để đọc", "Or type a notice to read aloud")) }
                textarea id="em-text" name="text" rows="3" maxlength="2000" {}
                div class="row2" {
                    div {
                        label for="em-every" { (t(lang, "Lặp lại mỗi (phút)", "Repeat every (minutes)")) }
                        input id="em-every" name="every" type="number" min="1" max="1440" inputmode="numeric"
                            placeholder=(t(lang, "không lặp", "no repeat"));
                    }
                    div {
                        label for="em-until" { (t(lang, "Đến (giờ:phút)", "Until (HH:MM)")) }
                        input id="em-until" name="until" type="time";
                    }
                }
                button type="submit" class="btn big red" { (t(lang, "Phát khẩn cấp…", "Air emergency…")) }
            }
        }
    }
}

// -- Actions ------------------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    csrf: String,
}

#[derive(Deserialize)]
pub(crate) struct QueueForm {
    csrf: String,
    #[serde(default)]
    what: String,
    /// A typed notice, read aloud, instead of `what`.
    text: Option<String>,
}

/// What a form asks to air: a typed notice (read aloud by the API) when
/// one is given, else `b:ID` / `f:NAME` as the API's `bulletin` / `file`.
fn form_target(
    what: &str,
    text: &Option<String>,
) -> (Option<String>, Option<String>, Option<String>) {
    match non_empty(text) {
        Some(t) => (None, None, Some(t.to_string())),
        None => {
            let (b, f) = split_what(what);
            (b, f, None)
        }
    }
}

/// `b:ID` / `f:NAME` as the API's `bulletin` / `file`.
fn split_what(what: &str) -> (Option<String>, Option<String>) {
    match what.split_once(':') {
        Some(("b", id)) => (Some(id.to_string()), None),
        Some(("f", name)) => (None, Some(name.to_string())),
        _ => (None, None),
    }
}

fn bad_form(e: FormRejection) -> ApiError {
    ApiError::bad_request("bad_form", format!("Biểu mẫu hỏng / {}", e.body_text()))
}

/// Check the form's CSRF token: a refusal is a response of its own
/// (returned at once, so its size does not matter).
#[allow(clippy::result_large_err)]
fn form_ok<T>(
    signed: &Signed,
    form: Result<Form<T>, FormRejection>,
    token: impl Fn(&T) -> &str,
) -> Result<Result<T, ApiError>, Response> {
    match form {
        Ok(Form(f)) => {
            check_csrf(signed, token(&f))?;
            Ok(Ok(f))
        }
        // No readable form: no token either.
        Err(e) => {
            check_csrf(signed, "")?;
            Ok(Err(bad_form(e)))
        }
    }
}

/// One control of the front page: check the form's token, do the work on a
/// readable form, and answer (a flash and back to "/", or JSON for the
/// page's script).
async fn act<T, Fut>(
    signed: &Signed,
    headers: &HeaderMap,
    form: Result<Form<T>, FormRejection>,
    token: impl Fn(&T) -> &str,
    work: impl FnOnce(T) -> Fut,
) -> Response
where
    Fut: std::future::Future<Output = Result<String, ApiError>>,
{
    let f = match form_ok(signed, form, token) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let r = match f {
        Ok(f) => work(f).await,
        Err(e) => Err(e),
    };
    answer(headers, "/", r)
}

pub(crate) async fn queue(
    State(s): State<AppState>,
    Operator(signed): Operator,
    headers: HeaderMap,
    form: Result<Form<QueueForm>, FormRejection>,
) -> Response {
    let lang = signed.lang;
    let who = caller(&signed);
    act(
        &signed,
        &headers,
        form,
        |f| &f.csrf,
        |f| async move {
            let (bulletin, file, text) = form_target(&f.what, &f.text);
            let body = QueueBody {
                bulletin,
                file,
                text,
                priority: None,
                at: None,
            };
            api::queue_add(State(Arc::clone(&s)), Extension(who), Ok(Json(body))).await?;
            Ok(t(lang, "Đã xếp hàng.", "Queued.").to_string())
        },
    )
    .await
}

pub(crate) async fn dequeue(
    State(s): State<AppState>,
    Operator(signed): Operator,
    headers: HeaderMap,
    Path(id): Path<u64>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let lang = signed.lang;
    let who = caller(&signed);
    act(
        &signed,
        &headers,
        form,
        |f| &f.csrf,
        |_| async move {
            api::queue_remove(State(s), Extension(who), Ok(Path(id)))
                .await
                .map(drop)?;
            Ok(t(
                lang,
                "Đã hủy mục trong hàng chờ.",
                "Removed from the queue.",
            )
            .to_string())
        },
    )
    .await
}

/// The three controls that take nothing but the token.
macro_rules! simple_action {
    ($name:ident, $api:ident, $vi:literal, $en:literal) => {
        pub(crate) async fn $name(
            State(s): State<AppState>,
            Operator(signed): Operator,
            headers: HeaderMap,
            form: Result<Form<CsrfForm>, FormRejection>,
        ) -> Response {
            let lang = signed.lang;
            let who = caller(&signed);
            act(
                &signed,
                &headers,
                form,
                |f| &f.csrf,
                |_| async move {
                    api::$api(State(s), Extension(who)).await.map(drop)?;
                    Ok(t(lang, $vi, $en).to_string())
                },
            )
            .await
        }
    };
}

simple_action!(
    skip,
    skip,
    "Đã bỏ qua mục đang phát.",
    "Skipped what aired."
);
simple_action!(pause, pause, "Đài đã tạm dừng.", "The station is paused.");
simple_action!(resume, resume, "Đài phát lại.", "The station airs again.");
simple_action!(
    emergency_cancel,
    emergency_cancel,
    "Đã dừng khẩn cấp.",
    "The emergency is stopped."
);

#[derive(Deserialize)]
pub(crate) struct EmergencyQuery {
    #[serde(default)]
    what: String,
    text: Option<String>,
    every: Option<String>,
    until: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct EmergencyForm {
    csrf: String,
    #[serde(default)]
    what: String,
    text: Option<String>,
    every: Option<String>,
    until: Option<String>,
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `HH:MM` as the next such instant in the station's zone (today, or
/// tomorrow when it has passed), RFC 3339 as the API takes it.
fn until_instant(station: &Station, hhmm: &str) -> Result<String, ApiError> {
    // The station file's parser: HH:MM (a browser may add :SS), no leap second.
    let time = crate::config::parse_time_of_day(hhmm).ok_or_else(|| {
        ApiError::unprocessable(
            "bad_time",
            format!("Giờ sai / {hhmm:?} is not a time: write HH:MM, e.g. 17:30"),
        )
    })?;
    let tz = station.timezone;
    let now = Utc::now();
    let mut day = timefmt::local_date(now, tz);
    for _ in 0..2 {
        if let Some(at) = tz.from_local_datetime(&day.and_time(time)).earliest() {
            let at = at.with_timezone(&Utc);
            if at > now {
                return Ok(timefmt::rfc3339(at, tz));
            }
        }
        day += Duration::days(1);
    }
    Err(ApiError::unprocessable("bad_time", hhmm.to_string()))
}

/// `GET /khan-cap`: what will air, how often and until when; one red
/// button confirms.
pub(crate) async fn emergency_confirm(
    State(s): State<AppState>,
    Operator(signed): Operator,
    q: Result<Query<EmergencyQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let lang = signed.lang;
    let title = t(lang, "Xác nhận phát khẩn cấp", "Confirm the emergency");
    let picks = picks(&s).await;
    let body = match q {
        Err(_) => problem(
            lang,
            &ApiError::bad_request(
                "bad_query",
                t(lang, "Chưa chọn phát gì.", "Nothing chosen to air."),
            ),
        ),
        Ok(Query(q)) => match (non_empty(&q.text), picks.iter().find(|p| p.value == q.what)) {
            (None, None) => problem(
                lang,
                &ApiError::not_found(
                    "unknown",
                    if q.what.is_empty() {
                        t(
                            lang,
                            "Chưa chọn bản tin nào và chưa gõ thông báo.",
                            "No bulletin chosen and no notice typed.",
                        )
                    } else {
                        t(
                            lang,
                            "Không tìm thấy bản tin hay bản ghi này.",
                            "No such bulletin or recording.",
                        )
                    },
                ),
            ),
            (text, pick) => {
                let every = non_empty(&q.every);
                let until = non_empty(&q.until);
                html! {
                    div class="card danger" {
                        @match (text, pick) {
                            (Some(text), _) => {
                                p { (t(lang, "Đọc thông báo này:", "Reads this notice aloud:")) }
                                blockquote class="big-what notice" { (text) }
                            }
                            (None, Some(p)) => {
                                p class="big-what" { (p.name(lang)) }
                                p { (t(lang, "Dài ", "Length ")) (clock(p.seconds)) }
                            }
                            (None, None) => {}
                        }
                        p {
                            @match every {
                                Some(n) => {
                                    (t(lang, "Lặp lại mỗi ", "Repeats every ")) (n) (t(lang, " phút", " minutes"))
                                    @match until {
                                        Some(u) => { (t(lang, " đến ", " until ")) (u) }
                                        None => { (t(lang, " cho đến khi bấm dừng", " until stopped")) }
                                    }
                                }
                                None => (t(lang, "Phát một lần.", "Airs once.")),
                            }
                        }
                        p { strong { (t(lang, "Mục đang phát sẽ bị cắt ngay.", "What airs now is cut at once.")) } }
                        form method="post" action="/khan-cap" class="stack" {
                            input type="hidden" name="csrf" value=(signed.csrf);
                            @match (text, pick) {
                                (Some(text), _) => { input type="hidden" name="text" value=(text); }
                                (None, Some(p)) => { input type="hidden" name="what" value=(p.value); }
                                (None, None) => {}
                            }
                            @if let Some(n) = every { input type="hidden" name="every" value=(n); }
                            @if let Some(u) = until { input type="hidden" name="until" value=(u); }
                            button type="submit" class="btn big red" { (t(lang, "Phát khẩn cấp ngay", "Air the emergency now")) }
                        }
                        a class="btn big light" href="/" { (t(lang, "Thôi, quay lại", "No, go back")) }
                    }
                }
            }
        },
    };
    layout(Some(&signed), lang, title, html! { h1 { (title) } (body) }).into_response()
}

pub(crate) async fn emergency(
    State(s): State<AppState>,
    Operator(signed): Operator,
    headers: HeaderMap,
    form: Result<Form<EmergencyForm>, FormRejection>,
) -> Response {
    let lang = signed.lang;
    let who = caller(&signed);
    act(
        &signed,
        &headers,
        form,
        |f| &f.csrf,
        |f| async move {
            let (bulletin, file, text) = form_target(&f.what, &f.text);
            let station = s.current.get();
            let until = non_empty(&f.until)
                .map(|u| until_instant(&station, u))
                .transpose()?;
            let body = EmergencyBody {
                bulletin,
                file,
                text,
                repeat_every: non_empty(&f.every).map(|n| format!("{n}m")),
                until,
            };
            api::emergency(State(Arc::clone(&s)), Extension(who), Ok(Json(body))).await?;
            Ok(t(lang, "Đang phát khẩn cấp.", "The emergency airs.").to_string())
        },
    )
    .await
}

#[cfg(test)]
mod words {
    use super::*;

    #[test]
    fn every_source_in_the_status_has_words_a_relay_too() {
        for s in ["schedule", "operator", "emergency", "relay"] {
            assert_ne!(source_word(Lang::Vi, s), "", "{s}");
        }
        assert_eq!(source_word(Lang::Vi, "relay"), "tiếp âm");
        assert_eq!(source_word(Lang::En, "nonsense"), "");
    }
}
