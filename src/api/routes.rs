//! The handlers of every route: each turns a request into a typed call of
//! the control layer (`crate::control`) and its answer into JSON. They
//! decide nothing themselves; the control layer audits every action.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::{AppState, Caller};
use crate::config::Station;
use crate::control::orders::{self, EmergencyOrder, QueueOrder, What};
use crate::control::reading::{self, day_range, Period};
use crate::control::{blocking, files};
use crate::engine::InZone;
use crate::report::{self, Format};
use crate::schedule;
use crate::timefmt::{self, rfc3339};

/// The station and the caller the auth layer let in: what every changing
/// route starts from.
pub struct By(pub AppState, pub Caller);

impl FromRequestParts<AppState> for By {
    type Rejection = <Extension<Caller> as FromRequestParts<AppState>>::Rejection;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let Extension(caller) = Extension::<Caller>::from_request_parts(parts, s).await?;
        Ok(By(s.clone(), caller))
    }
}

// -- Open routes -------------------------------------------------------------

pub async fn healthz(State(s): State<AppState>) -> Response {
    let running = s.running();
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

pub async fn status(State(s): State<AppState>) -> Json<Value> {
    let v = s.status();
    let tz = v.station.timezone;
    let st = v.engine;
    Json(json!({
        "station": v.station.name,
        "timezone": tz.name(),
        "now": rfc3339(v.now, tz),
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": v.uptime.as_secs(),
        "airing": InZone::new(st.airing, tz),
        "queue": InZone::new(st.queue, tz),
        "queue_length": st.queue_length,
        "next": v.next.plan,
        "output": st.output,
        "paused": st.paused,
        "emergency": InZone::new(st.emergency, tz),
        "clock_suspect": st.clock_suspect,
        "line": st.line.map(|l| json!({ "silent": l.silent, "foreign": l.foreign })),
        "station_file": v.file,
        "fleet": v.fleet.map(|f| json!({
            "station_id": f.station_id,
            "rows_waiting": f.progress.rows_waiting,
            "last_shipped_at": f.progress.last_shipped.map(|t| rfc3339(t, tz)),
            "failures": f.progress.failures,
            "last_error": f.progress.last_error,
        })),
        "upstream": v.upstream.map(|u| json!({
            "connected": u.connected,
            "last_message_at": u.last_message.map(|t| rfc3339(t, tz)),
            "refused": u.refused,
        })),
        "tts_cache": {
            "bytes": v.notices.bytes,
            "cap_bytes": v.notices.cap_bytes,
            "evictions": v.notices.evictions,
        },
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
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
    Ok(blocking(move || {
        let occ = schedule::schedule(&station, from, to);
        Ok(Json(schedule::plan_json(&station, &occ)))
    })
    .await?)
}

pub async fn bulletins(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let station = s.current.get();
    let state = Arc::clone(&s);
    Ok(blocking(move || {
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
    .await?)
}

// -- Queue -------------------------------------------------------------------

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
    let limit = q.limit.unwrap_or(reading::QUEUE_PAGE);
    let page = s.queue_page(offset, limit).await?;
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
    bulletin: Option<String>,
    file: Option<String>,
    text: Option<String>,
    priority: Option<String>,
    at: Option<String>,
}

/// What a body that could not be read is audited as.
const INVALID_BODY: &str = "(invalid body)";

pub async fn queue_add(
    By(s, caller): By,
    body: Result<Json<QueueBody>, JsonRejection>,
) -> ApiResult<Response> {
    let order = order_of(&s, &caller, "queue", body, |b| {
        Ok(QueueOrder {
            what: What::one_of(b.bulletin, b.file, b.text)?,
            priority: orders::parse_priority(b.priority.as_deref())?,
            at: b.at.as_deref().map(orders::parse_at).transpose()?,
        })
    })?;
    let v = s.queue(&caller, order).await?;
    let tz = s.current.get().timezone;
    Ok((StatusCode::ACCEPTED, Json(InZone::new(v, tz))).into_response())
}

/// The order a body asks for; a body that cannot be read, or an order
/// the control layer refuses, is audited as `action` and answered.
fn order_of<B, O>(
    s: &AppState,
    caller: &Caller,
    action: &str,
    body: Result<Json<B>, JsonRejection>,
    read: impl FnOnce(B) -> Result<O, crate::control::Error>,
) -> ApiResult<O> {
    let Json(b) = body.inspect_err(|_| s.audit_unread(caller, action, INVALID_BODY))?;
    Ok(read(b).inspect_err(|e| s.audit_refused(caller, action, e))?)
}

pub async fn queue_remove(
    By(s, caller): By,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let Path(id) = id?;
    s.dequeue(&caller, id).await?;
    Ok(Json(json!({ "removed": id })))
}

// -- On air ------------------------------------------------------------------

pub async fn skip(By(s, caller): By) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "skipped": s.skip(&caller).await? })))
}

pub async fn pause(By(s, caller): By) -> ApiResult<Json<Value>> {
    s.pause(&caller).await?;
    Ok(Json(json!({ "paused": true })))
}

pub async fn resume(By(s, caller): By) -> ApiResult<Json<Value>> {
    s.resume(&caller).await?;
    Ok(Json(json!({ "paused": false })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyBody {
    bulletin: Option<String>,
    file: Option<String>,
    text: Option<String>,
    repeat_every: Option<String>,
    until: Option<String>,
}

pub async fn emergency(
    By(s, caller): By,
    body: Result<Json<EmergencyBody>, JsonRejection>,
) -> ApiResult<Response> {
    let order = order_of(&s, &caller, "emergency", body, |b| {
        Ok(EmergencyOrder {
            what: What::one_of(b.bulletin, b.file, b.text)?,
            repeat_every: b.repeat_every,
            until: b.until.as_deref().map(orders::parse_at).transpose()?,
        })
    })?;
    let v = s.emergency(&caller, order).await?;
    let tz = s.current.get().timezone;
    Ok((StatusCode::ACCEPTED, Json(InZone::new(v.entry, tz))).into_response())
}

pub async fn emergency_cancel(By(s, caller): By) -> ApiResult<Json<Value>> {
    s.cancel_emergency(&caller).await?;
    Ok(Json(json!({ "cancelled": true })))
}

/// `POST /api/v1/reload`: load the station file again, as SIGHUP does;
/// what runs now, or every error.
pub async fn reload(By(s, caller): By) -> ApiResult<Json<Value>> {
    let door = format!("POST /api/v1/reload by {}", caller.name);
    let r = crate::control::reload::reload(&s, caller, door).await?;
    Ok(Json(json!({
        "reloaded": true,
        "bulletins": r.station.bulletins.len(),
        "programs": r.station.programs.len(),
        "failing": r.file.failing,
    })))
}

// -- The ledger ----------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    from: Option<String>,
    to: Option<String>,
    campaign: Option<String>,
    format: Option<String>,
}

fn format_of(format: Option<&str>) -> ApiResult<Format> {
    match format {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(other) => Err(ApiError::bad_request(
            "bad_format",
            format!("Định dạng sai / format {other:?}: write format=json or format=csv"),
        )),
    }
}

/// A JSON or CSV text as a response; CSV as a download named `name`.
fn document(text: String, fmt: Format, name: &str) -> Response {
    match fmt {
        Format::Csv => (crate::control::csv_headers(name), text).into_response(),
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
    let fmt = format_of(q.format.as_deref())?;
    let a = s
        .airtime(Period::new(q.from.as_deref(), q.to.as_deref(), q.campaign))
        .await?;
    let name = format!(
        "airtime-{}-{}",
        day(a.from, &a.station),
        day(a.to - Duration::milliseconds(1), &a.station)
    );
    Ok(document(report::format_airtime(&a.rows, fmt), fmt, &name))
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
    /// `scope=province`: one broadcast of the province.
    pub(crate) broadcast: Option<String>,
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
    if !province && q.broadcast.is_some() {
        return Err(ApiError::bad_request(
            "broadcast_needs_province",
            "`broadcast` filters the province's report: add scope=province",
        ));
    }
    let fmt = format_of(q.format.as_deref())?;
    let (from, to) = (q.from.as_deref(), q.to.as_deref());
    if province {
        let period = Period::new(from, to, q.campaign).broadcast(q.broadcast);
        let r = s.province_report(period).await?;
        let (a, b) = crate::range::parse(crate::fleet::MONTH_TZ, from, to)
            .map_err(crate::control::Error::from)?;
        let name = report_name("bao-cao-toan-tinh", a, b, &s.current.get());
        return Ok(document(
            crate::fleet::format_fleet_report(&r, fmt),
            fmt,
            &name,
        ));
    }
    let r = s.report(Period::new(from, to, q.campaign)).await?;
    let name = report_name("bao-cao", r.from, r.to, &r.station);
    Ok(document(report::format_report(&r.report, fmt), fmt, &name))
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

pub async fn audit(
    State(s): State<AppState>,
    q: Result<Query<RangeQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q?;
    let rows = s.audit_rows(q.from.as_deref(), q.to.as_deref()).await?;
    Ok(Json(serde_json::to_value(rows).unwrap_or_default()))
}
