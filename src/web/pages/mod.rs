//! The console's pages: on air (`/`) with the operator's controls, record
//! and upload (`/thu-am`), the plan (`/lich`), the ledger (`/nhat-ky`) and
//! the report (`/bao-cao`); on the province's central host, sending
//! bulletins to the stations (`/gui-ban-tin`).
//!
//! Pages compute nothing of their own: every read and every action is an
//! operation of the control layer (`crate::control`), as the JSON API's
//! are, with the signed-in user as the typed caller; a refusal is shown
//! from its variant, in the page's language.
//! Forms work without JavaScript (post, then a redirect back with a
//! one-time message); the script only makes them quicker and the on-air
//! view live.

mod action;
mod delivery;
mod emergency;
mod ledger;
mod listen;
mod now;
mod paper;
mod plan;
mod publish;
mod received;
mod record;
mod report;
#[cfg(test)]
mod tests;

use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};

use super::i18n::{t, Lang};
use crate::control::{Error, Shared as AppState};
use crate::ledger::Outcome;
use crate::reason::Reasons;

/// What a page that reads its query starts from: the station, the
/// signed-in reader, and the query (its defaults when it cannot be read).
pub(crate) struct Reading<Q> {
    pub s: AppState,
    pub signed: crate::web::session::Signed,
    pub q: Q,
}

impl<Q> axum::extract::FromRequestParts<AppState> for Reading<Q>
where
    Q: serde::de::DeserializeOwned + Default + Send,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        s: &AppState,
    ) -> Result<Self, Response> {
        let signed = crate::web::session::Signed::from_request_parts(parts, s).await?;
        let q = axum::extract::Query::<Q>::from_request_parts(parts, s).await;
        Ok(Reading {
            s: s.clone(),
            signed,
            q: q.map(|axum::extract::Query(q)| q).unwrap_or_default(),
        })
    }
}

/// The pages' routes, merged by `web::router` with the sign-in routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(now::page))
        .route("/truc-tiep", get(now::live))
        .route("/xep-hang", post(now::queue))
        .route("/xep-hang/{id}/huy", post(now::dequeue))
        .route(
            "/xep-hang/huy-tat-ca",
            get(now::cancel_all_confirm).post(now::cancel_all),
        )
        .route("/bo-qua", post(now::skip))
        .route("/tinh-gui/{id}/{action}", post(received::decide))
        .route("/nghe-thu", post(listen::listen))
        .route("/tam-dung", get(now::pause_confirm).post(now::pause))
        .route("/favicon.ico", get(favicon))
        .route("/tiep-tuc", post(now::resume))
        .route(
            "/khan-cap",
            get(emergency::emergency_confirm).post(emergency::emergency),
        )
        .route("/khan-cap/huy", post(now::emergency_cancel))
        .route("/thu-am", get(record::page))
        .route(
            "/thu-am/tai-len",
            post(record::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/gui-ban-tin",
            get(publish::page)
                .post(publish::send)
                .layer(axum::extract::DefaultBodyLimit::max(publish::MAX_BODY)),
        )
        .route("/gui-ban-tin/{id}", get(delivery::page))
        .route("/lich", get(plan::page))
        .route("/nhat-ky", get(ledger::page))
        .route("/bao-cao", get(report::page))
        .route("/bao-cao.csv", get(report::csv))
        .route(
            &format!("{}{{name}}", super::layout::assets::PREFIX),
            get(super::layout::assets::serve),
        )
        .layer(axum::middleware::from_fn(super::i18n::remember))
}

/// `GET /favicon.ico`: browsers ask on every page; nothing to show, said
/// once a day rather than a 404 each time.
async fn favicon() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(
            axum::http::header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=86400"),
        )],
    )
        .into_response()
}

// -- One-time messages after an action ----------------------------------------

const FLASH_COOKIE: &str = "loa_flash";
/// Sent by the page's script: answer with JSON instead of a redirect.
const FETCH_HEADER: &str = "x-loa-fetch";

/// A message shown once on the next page: whether the action worked, and
/// what happened.
pub(crate) struct Flash {
    ok: bool,
    text: String,
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

impl Flash {
    /// The message a redirect left in the cookie, if any.
    pub(crate) fn take(headers: &HeaderMap) -> Option<Flash> {
        let v = super::session::cookie(headers, FLASH_COOKIE)?;
        let (kind, text) = v.split_once('.')?;
        Some(Flash {
            ok: kind == "ok",
            text: unhex(text)?,
        })
    }

    pub(crate) fn show(f: Option<&Flash>) -> Markup {
        html! {
            div id="thong-bao" class="flash-area" role="status" aria-live="polite" {
                @if let Some(f) = f {
                    p class={ "flash " (if f.ok { "ok" } else { "err" }) } { (f.text) }
                }
            }
        }
    }
}

/// A page, clearing the one-time message it showed.
pub(crate) fn shown(markup: Markup, flash: Option<&Flash>) -> Response {
    let mut r = markup.into_response();
    if flash.is_some() {
        r.headers_mut().append(
            SET_COOKIE,
            HeaderValue::from_static("loa_flash=; Path=/; Max-Age=0; SameSite=Strict; HttpOnly"),
        );
    }
    r
}

/// The answer to a form: for the page's script, `{ok, message}` as JSON
/// with the API's status; without it, a redirect to `back` that shows the
/// message once.
pub(crate) fn answer(headers: &HeaderMap, back: &str, r: Result<String, Problem>) -> Response {
    let (status, ok, text) = match r {
        Ok(m) => (StatusCode::OK, true, m),
        Err(p) => (p.status, false, p.text),
    };
    if headers.contains_key(FETCH_HEADER) {
        return (
            status,
            Json(serde_json::json!({ "ok": ok, "message": text })),
        )
            .into_response();
    }
    // Cookies are small: a long refusal is cut (on a character boundary).
    let mut cut = text.clone();
    while cut.len() > 1200 {
        cut.pop();
    }
    let cookie = format!(
        "{FLASH_COOKIE}={}.{}; Path=/; Max-Age=120; SameSite=Strict; HttpOnly",
        if ok { "ok" } else { "err" },
        hex(&cut)
    );
    let mut res = Redirect::to(back).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(SET_COOKIE, v);
    }
    res
}

// -- Shown the same way on every page ------------------------------------------

/// An instant as `dd/mm/yyyy HH:MM:SS` in the station's zone.
pub(crate) fn date_time(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%d/%m/%Y %H:%M:%S").to_string()
}

/// An RFC 3339 text as `dd/mm/yyyy HH:MM:SS`, in the offset it carries
/// (the station's zone, as stored).
pub(crate) fn dmy_hms(s: &str) -> String {
    parse(s).map_or_else(
        || s.to_string(),
        |t| t.format("%d/%m/%Y %H:%M:%S").to_string(),
    )
}

pub(crate) fn parse(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

/// Seconds as `m:ss` or `h:mm:ss`.
pub(crate) fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// An outcome in words, and its colour class.
pub(crate) fn outcome(lang: Lang, o: Option<Outcome>) -> (&'static str, &'static str) {
    match o {
        None => (t(lang, "đang phát", "on air"), "o-live"),
        Some(Outcome::Completed) => (t(lang, "hoàn thành", "completed"), "o-ok"),
        Some(Outcome::Interrupted) => (t(lang, "bị ngắt", "interrupted"), "o-cut"),
        Some(Outcome::Failed) => (t(lang, "lỗi", "failed"), "o-fail"),
        Some(Outcome::Missed) => (t(lang, "bỏ lỡ", "missed"), "o-miss"),
        Some(Outcome::Skipped) => (t(lang, "bỏ qua", "skipped"), "o-skip"),
    }
}

pub(crate) fn outcome_badge(lang: Lang, o: Option<Outcome>) -> Markup {
    let (word, class) = outcome(lang, o);
    html! { span class={ "badge " (class) } { (word) } }
}

/// A ledger row's reason in the page's language, from the catalogue.
pub(crate) fn reason_words(lang: Lang, r: Option<&Reasons>) -> String {
    r.map(|r| r.text(lang)).unwrap_or_default()
}

/// What a page could not do, in the reader's language, with the status
/// the answer carries.
pub(crate) struct Problem {
    pub(crate) status: StatusCode,
    pub(crate) text: String,
}

impl Problem {
    /// A refusal of the control layer, in `lang`.
    pub(crate) fn of(lang: Lang, e: &Error) -> Problem {
        Problem {
            status: e.kind().http_status(),
            text: words(lang, e),
        }
    }

    /// The page's own refusal (a form it cannot read).
    pub(crate) fn bad_request(text: impl Into<String>) -> Problem {
        Problem {
            status: StatusCode::BAD_REQUEST,
            text: text.into(),
        }
    }
}

/// A refusal of the control layer in the page's language.
pub(crate) fn words(lang: Lang, e: &Error) -> String {
    match lang {
        Lang::Vi => e.vi(),
        Lang::En => e.to_string(),
    }
}

/// An error page body: what went wrong, in the reader's words.
pub(crate) fn problem(lang: Lang, e: &Error) -> Markup {
    problem_text(lang, &words(lang, e))
}

pub(crate) fn problem_text(lang: Lang, text: &str) -> Markup {
    html! {
        div class="flash err" role="alert" {
            strong { (t(lang, "Không làm được: ", "Could not do it: ")) }
            (text)
        }
    }
}

/// A CSV text as a download named `name.csv`.
pub(crate) fn csv_download(text: String, name: &str) -> Response {
    (crate::control::csv_headers(name), text).into_response()
}
