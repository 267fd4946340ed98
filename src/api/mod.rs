//! The HTTP control API: what operators and the commune office's tools use
//! to see and steer the station while `loa run` airs.
//!
//! Every route is declared once, in [`routes`]: its method, path, the
//! access it needs, and what the OpenAPI document says about it. Both the
//! router and `GET /api/v1/openapi.json` are built from that table, so the
//! document cannot leave a route out.
//!
//! The API owns no station state and decides nothing: each handler turns
//! its request into a typed call of the control layer (`crate::control`),
//! which reads the engine's status, commands it, reads the ledger off the
//! runtime and audits; the handler turns the answer into JSON, and a
//! refusal into its status, code and message (`error`).

pub mod auth;
pub mod error;
mod metrics;
pub mod openapi;
pub mod routes;
pub mod serve;
pub mod upload;

#[cfg(test)]
mod tests;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, MethodRouter};
use axum::Router;

pub use crate::control::Caller;
pub use auth::Access;
pub use error::ApiError;

/// Largest JSON body any control route reads. Requests are a few hundred
/// bytes; anything bigger is a mistake or an attack.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// What every handler reaches: the control layer.
pub type AppState = crate::control::Shared;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// What a route's request body is, for the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    /// JSON; the string is the name of a schema in `openapi::schemas`.
    Json(&'static str),
    /// `multipart/form-data` with one file part.
    Multipart,
}

/// One route: the single place it is declared.
pub struct Route {
    pub method: Method,
    /// axum syntax: `/api/v1/queue/{id}` (the same as OpenAPI's).
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    /// Query parameters: (name, description).
    pub query: &'static [(&'static str, &'static str)],
    pub body: Body,
    /// Success status and what it returns; error statuses are derived
    /// from `access` and `body`, plus these.
    pub ok: (u16, &'static str),
    pub errors: &'static [u16],
    pub handler: fn() -> MethodRouter<AppState>,
}

const RANGE: &[(&str, &str)] = &[
    (
        "from",
        "First day (YYYY-MM-DD, station's local date) or instant (RFC 3339)",
    ),
    (
        "to",
        "Last day, inclusive (YYYY-MM-DD), or instant (RFC 3339, exclusive)",
    ),
];
const LEDGER_QUERY: &[(&str, &str)] = &[
    (
        "from",
        "First day (YYYY-MM-DD, station's local date) or instant (RFC 3339)",
    ),
    (
        "to",
        "Last day, inclusive (YYYY-MM-DD), or instant (RFC 3339, exclusive)",
    ),
    ("campaign", "Only this campaign's rows"),
    (
        "format",
        "json (default) or csv (UTF-8 with BOM, for Excel)",
    ),
];

/// The report's query: the ledger's, and whose report.
const REPORT_QUERY: &[(&str, &str)] = &[
    LEDGER_QUERY[0],
    LEDGER_QUERY[1],
    LEDGER_QUERY[2],
    LEDGER_QUERY[3],
    (
        "scope",
        "station (default): this station's ledger; province: every station's, from [fleet] postgres (as `loa report --postgres`)",
    ),
    (
        "broadcast",
        "scope=province only: the rows one bulletin of the province aired (the id `loa publish` printed)",
    ),
];

/// Every route of the API.
pub fn routes() -> Vec<Route> {
    use crate::config::Role::{Admin, Operator, Viewer};
    use routes as r;
    use Access::*;
    vec![
        Route {
            method: Method::Get,
            path: "/healthz",
            access: Open,
            summary: "Liveness: 200 while the engine runs, 503 when it stopped",
            query: &[],
            body: Body::None,
            ok: (200, "Health"),
            errors: &[503],
            handler: || get(r::healthz),
        },
        Route {
            method: Method::Get,
            path: "/metrics",
            access: LoopbackOrMetrics,
            summary: "Prometheus metrics (open on loopback; a metrics token or any other from elsewhere)",
            query: &[],
            body: Body::None,
            ok: (200, "text/plain Prometheus exposition"),
            errors: &[],
            handler: || get(r::metrics),
        },
        Route {
            method: Method::Get,
            path: "/api/v1/openapi.json",
            access: Open,
            summary: "This document",
            query: &[],
            body: Body::None,
            ok: (200, "OpenAPI 3 document"),
            errors: &[],
            handler: || get(r::openapi),
        },
        Route {
            method: Method::Get,
            path: "/api/v1/status",
            access: Role(Viewer),
            summary: "What airs now, the first 20 queued entries and queue_length, the next occurrences, output state, pause",
            query: &[],
            body: Body::None,
            ok: (200, "Status"),
            errors: &[],
            handler: || get(r::status),
        },
        Route {
            method: Method::Get,
            path: "/api/v1/schedule",
            access: Role(Viewer),
            summary: "The plan, as `loa schedule --format json` (at most 400 days)",
            query: RANGE,
            body: Body::None,
            ok: (200, "Plan"),
            errors: &[400],
            handler: || get(r::schedule),
        },
        Route {
            method: Method::Get,
            path: "/api/v1/bulletins",
            access: Role(Viewer),
            summary: "Configured bulletins and programmes, and the audio files in audio_dir with their probe",
            query: &[],
            body: Body::None,
            ok: (200, "Bulletins"),
            errors: &[],
            handler: || get(r::bulletins),
        },
        Route {
            method: Method::Get,
            path: "/api/v1/queue",
            access: Role(Viewer),
            summary: "Items waiting to air, in airing order, a page at a time",
            query: &[
                ("offset", "How many entries to pass over (default 0)"),
                ("limit", "How many entries to return, 1 to 500 (default 50)"),
            ],
            body: Body::None,
            ok: (200, "Queue"),
            errors: &[400],
            handler: || get(r::queue_list),
        },
        Route {
            method: Method::Post,
            path: "/api/v1/queue",
            access: Role(Operator),
            summary: "Queue a bulletin, an audio file or a typed notice read aloud (source operator); 429 when [api] max_queue items already wait (checked before a notice is read aloud)",
            query: &[],
            body: Body::Json("QueueRequest"),
            ok: (202, "QueuedEntry"),
            errors: &[404, 422, 429, 503, 507],
            handler: || post(r::queue_add),
        },
        Route {
            method: Method::Delete,
            path: "/api/v1/queue/{id}",
            access: Role(Operator),
            summary: "Remove a waiting entry from the queue",
            query: &[],
            body: Body::None,
            ok: (200, "Removed"),
            errors: &[400, 404],
            handler: || delete(r::queue_remove),
        },
        Route {
            method: Method::Post,
            path: "/api/v1/skip",
            access: Role(Operator),
            summary: "End what airs (recorded interrupted); the next item airs",
            query: &[],
            body: Body::None,
            ok: (200, "Skipped"),
            errors: &[409],
            handler: || post(r::skip),
        },
        Route {
            method: Method::Post,
            path: "/api/v1/pause",
            access: Role(Operator),
            summary: "Take the station off air; items due meanwhile are recorded skipped",
            query: &[],
            body: Body::None,
            ok: (200, "Paused"),
            errors: &[409],
            handler: || post(r::pause),
        },
        Route {
            method: Method::Post,
            path: "/api/v1/resume",
            access: Role(Operator),
            summary: "Put the station back on air",
            query: &[],
            body: Body::None,
            ok: (200, "Paused"),
            errors: &[409],
            handler: || post(r::resume),
        },
        Route {
            method: Method::Post,
            path: "/api/v1/emergency",
            access: Role(Operator),
            summary: "Air an emergency (a bulletin, a file or a typed notice read aloud) at once, cutting what airs; optionally repeat until a time",
            query: &[],
            body: Body::Json("EmergencyRequest"),
            ok: (202, "QueuedEntry"),
            errors: &[404, 422, 503, 507],
            handler: || post(r::emergency),
        },
        Route {
            method: Method::Delete,
            path: "/api/v1/emergency",
            access: Role(Operator),
            summary: "Stop repeating the emergency and end it if it airs",
            query: &[],
            body: Body::None,
            ok: (200, "Cancelled"),
            errors: &[409],
            handler: || delete(r::emergency_cancel),
        },
        Route {
            method: Method::Post,
            path: "/api/v1/audio",
            access: Role(Operator),
            summary: "Upload a recording into audio_dir (multipart, one file part), probed first",
            query: &[],
            body: Body::Multipart,
            ok: (201, "Uploaded"),
            errors: &[400, 413, 415, 422, 507],
            handler: || post(upload::upload).layer(DefaultBodyLimit::disable()),
        },
        Route {
            method: Method::Post,
            path: "/api/v1/reload",
            access: Role(Admin),
            summary: "Reload the station file (like SIGHUP); 422 with every error when invalid",
            query: &[],
            body: Body::None,
            ok: (200, "Reloaded"),
            errors: &[422],
            handler: || post(r::reload),
        },
        Route {
            method: Method::Get,
            path: "/api/v1/airtime",
            access: Role(Viewer),
            summary: "Ledger rows, as `loa airtime` (default today; at most 400 days)",
            query: LEDGER_QUERY,
            body: Body::None,
            ok: (200, "Airtime rows (JSON) or CSV"),
            errors: &[400, 404],
            handler: || get(r::airtime),
        },
        Route {
            method: Method::Get,
            path: "/api/v1/report",
            access: Role(Viewer),
            summary: "Airtime per campaign and bulletin, as `loa report` (default: whole ledger); scope=province: across the province's stations",
            query: REPORT_QUERY,
            body: Body::None,
            ok: (200, "Report or FleetReport (JSON) or CSV"),
            errors: &[400, 404, 409, 503],
            handler: || get(r::report),
        },
        Route {
            method: Method::Get,
            path: "/api/v1/audit",
            access: Role(Admin),
            summary: "Control actions taken through the API: who, what, when, result (default: last 30 days)",
            query: RANGE,
            body: Body::None,
            ok: (200, "AuditRows"),
            errors: &[400],
            handler: || get(r::audit),
        },
    ]
}

/// The router of every route in [`routes`], each behind its access check,
/// with a JSON 404 for any other path (the API's tests; `loa run` serves
/// the API with the web console, `crate::daemon`).
#[cfg(test)]
pub fn router(state: AppState) -> Router {
    router_without_fallback(state).fallback(|| async { not_found_json() })
}

/// The API's 404.
pub fn not_found_json() -> ApiError {
    ApiError::not_found(
        "no_route",
        "Không có đường dẫn này / no such route: see GET /api/v1/openapi.json",
    )
}

/// [`router`] without its 404, to be merged with the web console's routes
/// (a router has one fallback; the merged one answers JSON under `/api/`).
pub fn router_without_fallback(state: AppState) -> Router {
    let mut router = Router::new();
    for r in routes() {
        let guard = axum::middleware::from_fn_with_state((state.clone(), r.access), auth::require);
        router = router.route(r.path, (r.handler)().layer(guard));
    }
    router
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Sai phương thức / this route does not take that method: see GET /api/v1/openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .with_state(state)
}
