//! The web console: server-rendered pages for the operator's phone and
//! the commune office's browser, on the API's listener.
//!
//! - `accounts`: users, passwords, sessions, the sign-in slowdown and the
//!   first-start code, below HTTP (also used by `loa user`);
//! - `session`: who is signed in ([`session::Signed`], `Operator`, `Admin`),
//!   CSRF and same-origin checks;
//! - `passwords`: argon2 checks and hashes on one thread with kept memory;
//! - `signin`: `/dang-nhap`, `/dang-xuat`, `/thiet-lap`;
//! - `admin`: `/tai-khoan`;
//! - `pages`: the station's pages; `layout` and `i18n`: what they share.
//!
//! The console is an adapter over the control layer (`crate::control`),
//! as the API is; neither imports the other. `crate::daemon` serves both
//! on one listener.

pub(crate) mod accounts;
mod admin;
pub(crate) mod i18n;
pub(crate) mod layout;
pub(crate) mod pages;
pub(crate) mod passwords;
pub(crate) mod session;
mod signin;

#[cfg(test)]
pub(crate) mod test_rig;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use axum::{Extension, Router};

use crate::control::Shared as AppState;
use accounts::Accounts;
use i18n::{t, Lang};

/// The Content-Security-Policy of every answer: nothing from elsewhere, no
/// inline scripts, no framing.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The console's routes: sign-in, the admin page and the pages, each
/// non-GET request checked for its origin, the accounts in every request.
fn routes(accounts: Arc<Accounts>) -> Router<AppState> {
    signin::routes()
        .merge(admin::routes())
        .merge(pages::routes())
        .layer(axum::middleware::from_fn(session::same_origin))
        .layer(Extension(accounts))
}

/// The console's router, its own 404 page for what is not under `/api/`,
/// and its security headers on every answer. `api` is the JSON API's
/// router (with its own 404s under `/api/`), merged in by whoever serves
/// both on one listener (`crate::daemon`); the console never calls it.
pub(crate) fn with_console(
    api: Router,
    api_not_found: Router,
    state: AppState,
    accounts: Arc<Accounts>,
) -> Router {
    api.merge(routes(accounts).with_state(state))
        .fallback_service(console_not_found(api_not_found))
        .layer(axum::middleware::from_fn(security_headers))
}

/// The console's router alone, for its tests (no API routes: `/api/…`
/// answers the console's own 404 there).
#[cfg(test)]
pub(crate) fn console_only(state: AppState, accounts: Arc<Accounts>) -> Router {
    with_console(Router::new(), Router::new(), state, accounts)
}

/// The console's session cookie of a request, if it carries one.
pub(crate) fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    session::cookie(headers, session::COOKIE).map(str::to_string)
}

/// Whether `cookie` is a live session of the console (checked against the
/// accounts): the listener's reserve places admit it.
pub(crate) async fn live_session(
    state: &AppState,
    accounts: &Arc<Accounts>,
    cookie: String,
) -> bool {
    let idle = state.current.get().api.web.session_idle;
    accounts
        .run(move |s| s.session(chrono::Utc::now(), &cookie, idle))
        .await
        .is_ok_and(|live| live.is_some())
}

/// Paths under `/api/` go to `api_not_found` (the API's JSON 404); the
/// rest get the console's page.
fn console_not_found(api_not_found: Router) -> Router {
    Router::new().fallback(move |uri: Uri, req: Request| {
        let api_not_found = api_not_found.clone();
        async move {
            let path = uri.path();
            if path.starts_with("/api/") || path == "/api" {
                use tower::ServiceExt;
                return match api_not_found.oneshot(req).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                };
            }
            not_found(req).await
        }
    })
}

async fn not_found(req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let lang = Lang::from_parts(&parts);
    session::message_page(
        StatusCode::NOT_FOUND,
        lang,
        None,
        t(lang, "Không có trang này", "No such page"),
        t(
            lang,
            "Đường dẫn này không có trên trang của đài.",
            "This address is not one of the station's pages.",
        ),
    )
}

/// Middleware: the security headers on every answer, and no caching of
/// pages (they show who is signed in).
async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let html = h
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if html && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// The first-start link while no admin exists:
/// `http://HOST:PORT/thiet-lap?ma=CODE`, for the listener bound at `listen`.
pub(crate) fn setup_link(
    accounts: &Accounts,
    station: &crate::config::Station,
    listen: std::net::SocketAddr,
) -> anyhow::Result<Option<String>> {
    let Some(code) = accounts.setup_code()? else {
        return Ok(None);
    };
    let scheme = if station.api.web.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let host = if listen.ip().is_unspecified() {
        // Every address: the station's own name works on this machine and
        // usually on the LAN.
        hostname().unwrap_or_else(|| "127.0.0.1".into())
    } else {
        match listen.ip() {
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        }
    };
    let link = format!("{scheme}://{host}:{}/thiet-lap?ma={code}", listen.port());
    accounts.link.send_replace(Some(link.clone()));
    Ok(Some(link))
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}
