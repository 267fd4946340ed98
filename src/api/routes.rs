//! The handlers of every route but the upload: each turns a request into a
//! read of the published status, a command to the engine, or a read of the
//! ledger, and says what happened. Control actions are audited, refused
//! ones included, with the caller's token name.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::error::{ApiError, ApiResult};
use super::notice::Purpose;
use super::target::{describe, parse_at, parse_priority, target};
use super::{files, AppState, Caller};
use crate::config::Station;
use crate::engine::{Command, EmergencyRequest, InZone, QueueRequest, Reply};
use crate::ledger::{Filter, Ledger};
use crate::range::{self, RangeError};
use crate::report::{self, Format};
use crate::schedule;
use crate::timefmt::{self, rfc3339};

/// Longest range `GET /api/v1/schedule` and `GET /api/v1/airtime` expand.
pub const MAX_RANGE_DAYS: i64 = 400;
/// How long a handler waits for the engine to answer.
const ENGINE_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// Shortest repeat of an emergency: back-to-back repeats would hold the
/// line forever.
const MIN_REPEAT_SECONDS: u32 = 60;
/// Longest repeat: beyond a day it is a new announcement, not a repeat.
const MAX_REPEAT_SECONDS: u32 = 24 * 3600;

fn engine_gone() -> ApiError {
    ApiError::unavailable(
        "Bộ điều phối đã dừng / the engine is not running (the daemon is stopping?); \
         see the daemon's log",
    )
}

/// Send a command that replies, and wait (bounded) for the reply: what
/// the engine did, or its refusal as an API error.
async fn ask<T>(s: &AppState, make: impl FnOnce(Reply<T>) -> Command) -> ApiResult<T> {
    let (tx, rx) = oneshot::channel();
    let sent = tokio::time::timeout(ENGINE_TIMEOUT, s.handle.commands.send(make(tx))).await;
    if !matches!(sent, Ok(Ok(()))) {
        return Err(engine_gone());
    }
    match tokio::time::timeout(ENGINE_TIMEOUT, rx).await {
        Ok(Ok(reply)) => Ok(reply?),
        _ => Err(engine_gone()),
    }
}

async fn tell(s: &AppState, cmd: Command) -> ApiResult<()> {
    match tokio::time::timeout(ENGINE_TIMEOUT, s.handle.commands.send(cmd)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(engine_gone()),
    }
}

/// Run blocking work (SQLite, probing, the filesystem) off the runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("a background task failed: {e}")))?
}

// -- Open routes -------------------------------------------------------------

pub async fn healthz(State(s): State<AppState>) -> Response {
    let running = !s.handle.commands.is_closed();
    let body = Json(json!({
        "ok": running,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": s.started.elapsed().as_secs(),
    }));
    if running {
        body.into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

pub async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        super::metrics::render(&s),
    )
        .into_response()
}

pub async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}

// -- Reading the station -----------------------------------------------------

/// How many upcoming occurrences the status shows.
const STATUS_NEXT: usize = 5;

pub async fn status(State(s): State<AppState>) -> Json<Value> {
    let st = s.handle.status.borrow().clone();
    let station = s.current.get();
    let now = Utc::now();
    let next = next_occurrences(&s, &station, now);
    let tz = station.timezone;
    Json(json!({
        "station": station.name,
        "timezone": station.timezone.name(),
        "now": rfc3339(now, station.timezone),
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": s.started.elapsed().as_secs(),
        "airing": InZone::new(st.airing, tz),
        "queue": InZone::new(st.queue, tz),
        "queue_length": st.queue_length,
        "next": next,
        "output": st.output,
        "paused": st.paused,
        "emergency": InZone::new(st.emergency, tz),
        "clock_suspect": st.clock_suspect,
        "station_file": s.current.file(),
        "fleet": fleet_status(&s, &station),
        "tts_cache": {
            "bytes": s.notices.cache_bytes(&station.data_dir.join(crate::config::TTS_DIR)),
            "cap_bytes": station.tts.cache_bytes(),
            "evictions": s.notices.evictions(),
        },
    }))
}

/// The copy to the province's database, when `[fleet] postgres` is set.
fn fleet_status(s: &AppState, station: &Station) -> Value {
    if station.fleet.postgres.is_none() {
        return Value::Null;
    }
    let p = s.fleet.get();
    json!({
        "station_id": station.fleet.station_id,
        "rows_waiting": p.rows_waiting,
        "last_shipped_at": p.last_shipped.map(|t| rfc3339(t, station.timezone)),
        "failures": p.failures,
        "last_error": p.last_error,
    })
}

/// The next few occurrences in the coming 24 hours. Cached for a second
/// per station: the status is polled, the plan changes by the minute.
fn next_occurrences(s: &AppState, station: &Arc<Station>, now: DateTime<Utc>) -> Value {
    {
        let cache = s.next_cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, st, v)) = cache.as_ref() {
            if Arc::ptr_eq(st, station) && now >= *at && now - *at < Duration::seconds(1) {
                return v.clone();
            }
        }
    }
    // Computed outside the lock: concurrent status requests never wait on
    // each other's schedule expansion (two may compute it; both are right).
    let occ: Vec<_> = schedule::schedule(station, now, now + Duration::hours(24))
        .into_iter()
        .take(STATUS_NEXT)
        .collect();
    let v = schedule::plan_json(station, &occ);
    *s.next_cache.lock().unwrap_or_else(|e| e.into_inner()) =
        Some((now, Arc::clone(station), v.clone()));
    v
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
}

/// A refused range, with the query's own field names.
pub(crate) fn range_error(e: RangeError) -> ApiError {
    let code = match e {
        RangeError::TooLong { .. } => "range_too_long",
        _ => "bad_range",
    };
    ApiError::bad_request(code, format!("Khoảng thời gian sai / {}", e.message("")))
}

/// `from`/`to` as a range of days (today by default), at most
/// `MAX_RANGE_DAYS` long.
pub(crate) fn day_range(
    station: &Station,
    from: Option<&str>,
    to: Option<&str>,
) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    let (from, to) = range::days(station.timezone, from, to, Utc::now()).map_err(range_error)?;
    range::cap(from, to, MAX_RANGE_DAYS).map_err(range_error)?;
    Ok((from, to))
}

pub async fn schedule(
    State(s): State<AppState>,
    q: Result<Query<RangeQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q?;
    let station = s.current.get();
    let (from, to) = day_range(&station, q.from.as_deref(), q.to.as_deref())?;
    // A year of a busy station is a few milliseconds: still off the
    // runtime, since it is the operator who chooses the range.
    blocking(move || {
        let occ = schedule::schedule(&station, from, to);
        Ok(Json(schedule::plan_json(&station, &occ)))
    })
    .await
}

pub async fn bulletins(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let station = s.current.get();
    let state = Arc::clone(&s);
    blocking(move || {
        let levels = crate::audio::loudness::cache(&station.data_dir);
        let target = station.output.loudness_lufs.map(f64::from);
        let bulletins: Vec<Value> = station
            .bulletins
            .iter()
            .map(|b| {
                json!({
                    "id": b.id,
                    "title": b.title,
                    "file": b.file,
                    "campaign": b.campaign,
                    "priority": b.priority.as_str(),
                    "enabled": b.enabled,
                    "scheduled": !matches!(b.timing, crate::config::Timing::Unscheduled),
                    "audio": b.audio,
                    "loudness": b.audio.as_ref().and_then(|_| levels.lookup(&b.path)).map(|l| {
                        // Silence measures -inf, which JSON cannot say.
                        let finite = |x: f64| x.is_finite().then_some(x);
                        json!({
                            "lufs": finite(l.lufs),
                            "true_peak_dbtp": finite(l.true_peak_dbtp),
                            "gain_db": target.map_or(0.0, |t| l.gain_db(t)),
                        })
                    }),
                })
            })
            .collect();
        let programs: Vec<Value> = station
            .programs
            .iter()
            .map(|p| {
                json!({
                    "id": p.id,
                    "title": p.title,
                    "priority": p.priority.as_str(),
                    "enabled": p.enabled,
                    "items": p.items.iter().map(|&i| station.item_info(i).id).collect::<Vec<_>>(),
                })
            })
            .collect();
        let relays: Vec<Value> = station
            .relays
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "title": r.title,
                    "source": r.source.describe(),
                    "duration_seconds": r.seconds,
                    "fallback": r.fallback.map(|i| &station.bulletins[i].id),
                    "campaign": r.campaign,
                    "priority": r.priority.as_str(),
                    "enabled": r.enabled,
                    "scheduled": !matches!(r.timing, crate::config::Timing::Unscheduled),
                })
            })
            .collect();
        let files = files::list(&station.audio_dir, &state.probes);
        Ok(Json(json!({
            "bulletins": bulletins,
            "programs": programs,
            "relays": relays,
            "files": files,
        })))
    })
    .await
}

// -- Queue -------------------------------------------------------------------

/// How many entries `GET /api/v1/queue` returns when no `limit` is given.
const QUEUE_PAGE: usize = 50;
/// The largest `limit` it takes.
const MAX_QUEUE_PAGE: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    offset: Option<usize>,
    limit: Option<usize>,
}

pub async fn queue_list(
    State(s): State<AppState>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q?;
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(QUEUE_PAGE);
    if !(1..=MAX_QUEUE_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "bad_limit",
            format!(
                "Giới hạn sai / limit must be from 1 to {MAX_QUEUE_PAGE} (default {QUEUE_PAGE})"
            ),
        ));
    }
    let (tx, rx) = oneshot::channel();
    tell(
        &s,
        Command::QueuePage {
            offset,
            limit,
            reply: tx,
        },
    )
    .await?;
    let page = match tokio::time::timeout(ENGINE_TIMEOUT, rx).await {
        Ok(Ok(page)) => page,
        _ => return Err(engine_gone()),
    };
    let tz = s.current.get().timezone;
    Ok(Json(json!({
        "queue_length": page.total,
        "offset": offset,
        "limit": limit,
        "queue": InZone::new(page.entries, tz),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueBody {
    pub(crate) bulletin: Option<String>,
    pub(crate) file: Option<String>,
    pub(crate) text: Option<String>,
    pub(crate) priority: Option<String>,
    pub(crate) at: Option<String>,
}

pub async fn queue_add(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<QueueBody>, JsonRejection>,
) -> ApiResult<Response> {
    let detail = match &body {
        Ok(Json(b)) => format!(
            "{}{}{}{}{}",
            b.bulletin
                .as_deref()
                .map(|x| format!("bulletin={x} "))
                .unwrap_or_default(),
            b.file
                .as_deref()
                .map(|x| format!("file={x} "))
                .unwrap_or_default(),
            b.text
                .as_deref()
                .map(|x| format!("text={} ", x.chars().take(80).collect::<String>()))
                .unwrap_or_default(),
            b.priority
                .as_deref()
                .map(|x| format!("priority={x} "))
                .unwrap_or_default(),
            b.at.as_deref()
                .map(|x| format!("at={x}"))
                .unwrap_or_default(),
        )
        .trim()
        .to_string(),
        Err(_) => "(invalid body)".to_string(),
    };
    let r = async {
        let Json(b) = body?;
        let station = s.current.get();
        let priority = parse_priority(b.priority.as_deref())?;
        let at = parse_at(b.at.as_deref(), Utc::now())?;
        let what = (b.bulletin, b.file, b.text);
        let (target, hold) = target(&s, &station, what, Purpose::Queue).await?;
        let req = QueueRequest {
            target,
            priority,
            at,
            requested_by: Some(caller.name.clone()),
        };
        let r = ask(&s, |tx| Command::Queue(req, tx)).await;
        if let Some(h) = hold {
            h.settle(r.is_ok());
        }
        r
    }
    .await;
    s.audit(
        &caller,
        "queue",
        &detail,
        &r.as_ref()
            .map(|v| format!("id {} {}", v.id, v.occurrence))
            .map_err(Clone::clone),
    );
    let v = r?;
    let tz = s.current.get().timezone;
    Ok((StatusCode::ACCEPTED, Json(InZone::new(v, tz))).into_response())
}

pub async fn queue_remove(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let Path(id) = id?;
    let r = ask(&s, |tx| Command::Dequeue(id, tx))
        .await
        .map(|()| format!("removed {id}"));
    s.audit(&caller, "dequeue", &format!("id={id}"), &r);
    r?;
    Ok(Json(json!({ "removed": id })))
}

// -- On air ------------------------------------------------------------------

pub async fn skip(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    let by = caller.by();
    let r = ask(&s, |tx| Command::Skip(by, tx)).await;
    s.audit(&caller, "skip", "", &r);
    Ok(Json(json!({ "skipped": r? })))
}

/// Wait (bounded) until the engine published `paused == want`.
async fn await_paused(s: &AppState, want: bool) {
    let mut rx = s.handle.status.clone();
    let _ = tokio::time::timeout(ENGINE_TIMEOUT, rx.wait_for(|st| st.paused == want)).await;
}

pub async fn pause(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    let r = if s.handle.status.borrow().paused {
        Err(ApiError::conflict(
            "already_paused",
            "Đài đã tạm dừng / the station is already paused: POST /api/v1/resume to air again",
        ))
    } else {
        match tell(&s, Command::Pause(caller.by())).await {
            Ok(()) => {
                await_paused(&s, true).await;
                Ok("paused".to_string())
            }
            Err(e) => Err(e),
        }
    };
    s.audit(&caller, "pause", "", &r);
    r?;
    Ok(Json(json!({ "paused": true })))
}

pub async fn resume(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    let r = if !s.handle.status.borrow().paused {
        Err(ApiError::conflict(
            "not_paused",
            "Đài không tạm dừng / the station is not paused",
        ))
    } else {
        match tell(&s, Command::Resume(caller.by())).await {
            Ok(()) => {
                await_paused(&s, false).await;
                Ok("resumed".to_string())
            }
            Err(e) => Err(e),
        }
    };
    s.audit(&caller, "resume", "", &r);
    r?;
    Ok(Json(json!({ "paused": false })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyBody {
    pub(crate) bulletin: Option<String>,
    pub(crate) file: Option<String>,
    pub(crate) text: Option<String>,
    pub(crate) repeat_every: Option<String>,
    pub(crate) until: Option<String>,
}

pub async fn emergency(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<EmergencyBody>, JsonRejection>,
) -> ApiResult<Response> {
    let detail = match &body {
        Ok(Json(b)) => format!(
            "{}{}{}repeat_every={} until={}",
            b.bulletin
                .as_deref()
                .map(|x| format!("bulletin={x} "))
                .unwrap_or_default(),
            b.file
                .as_deref()
                .map(|x| format!("file={x} "))
                .unwrap_or_default(),
            b.text
                .as_deref()
                .map(|x| format!("text={} ", x.chars().take(80).collect::<String>()))
                .unwrap_or_default(),
            b.repeat_every.as_deref().unwrap_or("-"),
            b.until.as_deref().unwrap_or("-"),
        ),
        Err(_) => "(invalid body)".to_string(),
    };
    let r = async {
        let Json(b) = body?;
        let now = Utc::now();
        let repeat_every = match b.repeat_every.as_deref() {
            None => None,
            Some(x) => match crate::config::parse_duration(x) {
                Some(n) if (MIN_REPEAT_SECONDS..=MAX_REPEAT_SECONDS).contains(&n) => {
                    Some(Duration::seconds(i64::from(n)))
                }
                Some(n) if n < MIN_REPEAT_SECONDS => {
                    return Err(ApiError::unprocessable(
                        "repeat_too_often",
                        format!(
                            "Lặp quá dày / repeat_every {x:?} is shorter than one minute: write \
                             e.g. \"30m\""
                        ),
                    ))
                }
                Some(_) => {
                    return Err(ApiError::unprocessable(
                        "repeat_too_rare",
                        format!(
                            "Khoảng lặp quá dài / repeat_every {x:?} is longer than a day: \
                             warnings usually repeat every 30 to 120 minutes, e.g. \"30m\""
                        ),
                    ))
                }
                None => {
                    return Err(ApiError::unprocessable(
                        "bad_duration",
                        format!(
                            "Khoảng lặp sai / repeat_every {x:?} is not a duration: write e.g. \
                             \"30m\", \"1h\" or \"1h30m\""
                        ),
                    ))
                }
            },
        };
        if b.until.is_some() && repeat_every.is_none() {
            return Err(ApiError::unprocessable(
                "until_without_repeat",
                "Thiếu khoảng lặp / \"until\" says when repeats stop, but there is no \
                 \"repeat_every\": add one (e.g. \"30m\"), or leave \"until\" out to air once",
            ));
        }
        let until = match b.until.as_deref() {
            None => None,
            Some(u) => match parse_at(Some(u), now)? {
                Some(t) if t > now => Some(t),
                _ => {
                    return Err(ApiError::unprocessable(
                        "time_in_past",
                        format!("until {u} is not in the future"),
                    ))
                }
            },
        };
        let station = s.current.get();
        let asked = (b.bulletin, b.file, b.text);
        let (target, hold) = target(&s, &station, asked, Purpose::Emergency).await?;
        let what = describe(&target);
        let req = EmergencyRequest {
            target,
            repeat_every,
            until,
            requested_by: Some(caller.name.clone()),
        };
        let r = ask(&s, |tx| Command::Emergency(req, tx)).await;
        if let Some(h) = hold {
            h.settle(r.is_ok());
        }
        Ok((r?, what))
    }
    .await;
    s.audit(
        &caller,
        "emergency",
        &detail,
        &r.as_ref()
            .map(|(v, what)| format!("{what} id {}", v.id))
            .map_err(Clone::clone),
    );
    let (v, _) = r?;
    let tz = s.current.get().timezone;
    Ok((StatusCode::ACCEPTED, Json(InZone::new(v, tz))).into_response())
}

pub async fn emergency_cancel(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    let by = caller.by();
    let r = ask(&s, |tx| Command::CancelEmergency(by, tx))
        .await
        .map(|()| "cancelled".to_string());
    s.audit(&caller, "cancel_emergency", "", &r);
    r?;
    Ok(Json(json!({ "cancelled": true })))
}

// -- The ledger ----------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) campaign: Option<String>,
    pub(crate) format: Option<String>,
}

fn format_of(q: &LedgerQuery) -> ApiResult<Format> {
    match q.format.as_deref() {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(other) => Err(ApiError::bad_request(
            "bad_format",
            format!("Định dạng sai / format {other:?}: write format=json or format=csv"),
        )),
    }
}

pub(crate) fn open_ledger(station: &Station) -> ApiResult<Ledger> {
    let path = station.ledger_path();
    Ledger::open_read_only(&path, station.timezone).map_err(|e| {
        ApiError::internal(format!(
            "Không mở được sổ phát sóng / the airtime ledger {} cannot be read: {e}",
            path.display()
        ))
    })
}

/// Refuse a campaign named nowhere, as `loa report` does.
pub(crate) fn check_campaign(
    station: &Station,
    ledger: &Ledger,
    id: Option<&str>,
) -> ApiResult<()> {
    report::check_campaign(ledger, &station.campaigns, id)?
        .map_err(|e| ApiError::not_found("unknown_campaign", format!("Không có chiến dịch / {e}")))
}

/// A JSON or CSV text as a response; CSV as a download named `name`.
fn document(text: String, fmt: Format, name: &str) -> Response {
    match fmt {
        Format::Csv => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\""))
                        .unwrap_or(HeaderValue::from_static("attachment")),
                ),
            ],
            text,
        )
            .into_response(),
        _ => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            text,
        )
            .into_response(),
    }
}

/// `YYYY-MM-DD` of an instant in the station's zone, for file names.
fn day(t: DateTime<Utc>, station: &Station) -> String {
    timefmt::local_date(t, station.timezone).to_string()
}

pub async fn airtime(
    State(s): State<AppState>,
    q: Result<Query<LedgerQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let fmt = format_of(&q)?;
    let station = s.current.get();
    let (from, to) = day_range(&station, q.from.as_deref(), q.to.as_deref())?;
    blocking(move || {
        let ledger = open_ledger(&station)?;
        check_campaign(&station, &ledger, q.campaign.as_deref())?;
        let rows = ledger.rows(&Filter {
            from: Some(from),
            to: Some(to),
            campaign: q.campaign.clone(),
        })?;
        let name = format!(
            "airtime-{}-{}",
            day(from, &station),
            day(to - Duration::milliseconds(1), &station)
        );
        Ok(document(report::format_airtime(&rows, fmt), fmt, &name))
    })
    .await
}

/// `GET /api/v1/report`'s query: the ledger's, and whose report.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) campaign: Option<String>,
    pub(crate) format: Option<String>,
    /// `station` (default): this station's ledger; `province`: every
    /// station's, from the province's database (`[fleet] postgres`).
    pub(crate) scope: Option<String>,
}

pub async fn report(
    State(s): State<AppState>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let province = match q.scope.as_deref() {
        None | Some("station") => false,
        Some("province") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "bad_scope",
                format!("unknown scope `{other}`: use `station` (default) or `province`"),
            ))
        }
    };
    let q = LedgerQuery {
        from: q.from,
        to: q.to,
        campaign: q.campaign,
        format: q.format,
    };
    let fmt = format_of(&q)?;
    let station = s.current.get();
    if province {
        return province_report(&station, q, fmt).await;
    }
    let (from, to) =
        range::parse(station.timezone, q.from.as_deref(), q.to.as_deref()).map_err(range_error)?;
    blocking(move || {
        let ledger = open_ledger(&station)?;
        check_campaign(&station, &ledger, q.campaign.as_deref())?;
        let filter = Filter {
            from,
            to,
            campaign: q.campaign.clone(),
        };
        let r = report::report(&ledger, &station.campaigns, &filter)?;
        let name = report_name("bao-cao", from, to, &station);
        Ok(document(report::format_report(&r, fmt), fmt, &name))
    })
    .await
}

/// The download's name: `bao-cao-2026-10-01-2026-10-31` for a period.
fn report_name(
    prefix: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    station: &Station,
) -> String {
    match (from, to) {
        (Some(a), Some(b)) => format!(
            "{prefix}-{}-{}",
            day(a, station),
            day(b - Duration::milliseconds(1), station)
        ),
        _ => prefix.to_string(),
    }
}

/// The province's report (`scope=province`): what `loa report --postgres`
/// prints, read from `[fleet] postgres`.
async fn province_report(station: &Station, q: LedgerQuery, fmt: Format) -> ApiResult<Response> {
    let r = province_report_data(station, &q).await?;
    let (from, to) = range::parse(crate::fleet::MONTH_TZ, q.from.as_deref(), q.to.as_deref())
        .map_err(range_error)?;
    let name = report_name("bao-cao-toan-tinh", from, to, station);
    Ok(document(
        crate::fleet::format_fleet_report(&r, fmt),
        fmt,
        &name,
    ))
}

/// The province's report over `q`'s period and campaign, for the API and
/// the report page. A station file without `[fleet] postgres` is a 409
/// saying what to set; a database that does not answer, a 503.
pub(crate) async fn province_report_data(
    station: &Station,
    q: &LedgerQuery,
) -> ApiResult<crate::fleet::FleetReport> {
    let Some(url) = station.fleet.postgres.clone() else {
        return Err(ApiError::conflict(
            "no_province_database",
            "the province's report is read from the province's database: set `postgres` \
             (a PostgreSQL connection string) under [fleet] in this station file, then reload",
        ));
    };
    let (from, to) = range::parse(crate::fleet::MONTH_TZ, q.from.as_deref(), q.to.as_deref())
        .map_err(range_error)?;
    let filter = Filter {
        from,
        to,
        campaign: q.campaign.clone(),
    };
    crate::fleet::read_report(&url, &filter).await.map_err(|e| {
        match e.downcast_ref::<report::UnknownCampaign>() {
            Some(u) => ApiError::not_found("unknown_campaign", u.to_string()),
            None => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "province_database",
                format!("{e:#}"),
            ),
        }
    })
}

/// The audit listing's default reach.
const AUDIT_DEFAULT_DAYS: i64 = 30;

pub async fn audit(
    State(s): State<AppState>,
    q: Result<Query<RangeQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q?;
    let station = s.current.get();
    let (from, to) =
        range::parse(station.timezone, q.from.as_deref(), q.to.as_deref()).map_err(range_error)?;
    let from = from.unwrap_or_else(|| Utc::now() - Duration::days(AUDIT_DEFAULT_DAYS));
    if let Some(to) = to {
        if to <= from {
            return Err(range_error(RangeError::Reversed {
                from: rfc3339(from, station.timezone),
                to: rfc3339(to, station.timezone),
            }));
        }
    }
    let recorder = s.recorder.clone();
    blocking(move || {
        // Read what was just written: actions are audited asynchronously.
        recorder.flush(StdDuration::from_millis(500));
        let ledger = open_ledger(&station)?;
        let rows = ledger.audit_rows(Some(from), to)?;
        Ok(Json(serde_json::to_value(rows).unwrap_or_default()))
    })
    .await
}
