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
//! The console uses the API's state and shared functions; the API never
//! imports it.

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
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};

use crate::api::AppState;
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

/// The API and the console with their own accounts, for tests (the pages'
/// too); `loa run` uses [`app`], keeping the accounts for the setup link.
#[cfg(test)]
pub(crate) fn router(state: AppState) -> Router {
    let accounts = Accounts::new(&state.current.get());
    app(state, accounts)
}

/// The API and the console on one listener (`loa run`): `/api/…`,
/// `/healthz` and `/metrics` answer JSON (also their 404s), everything
/// else is the console's.
pub(crate) fn app(state: AppState, accounts: Arc<Accounts>) -> Router {
    crate::api::router_without_fallback(state.clone())
        .merge(routes(accounts).with_state(state))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(security_headers))
}

/// What may use the listener's reserve places while anonymous
/// connections fill the rest (`crate::api::serve`): `/healthz` and
/// `/metrics` (monitoring), a request with a token of the station, or one
/// from a live session of the console (checked against the accounts).
pub(crate) fn reserve_admit(state: AppState, accounts: Arc<Accounts>) -> crate::api::serve::Admit {
    Arc::new(move |parts: &axum::http::request::Parts| {
        let path = parts.uri.path();
        if path == "/healthz"
            || path == "/metrics"
            || crate::api::auth::known_token(&state, &parts.headers)
        {
            return Box::pin(std::future::ready(true));
        }
        let Some(cookie) = session::cookie(&parts.headers, session::COOKIE).map(str::to_string)
        else {
            return Box::pin(std::future::ready(false));
        };
        let idle = state.current.get().api.web.session_idle;
        let accounts = Arc::clone(&accounts);
        Box::pin(async move {
            accounts
                .run(move |s| s.session(chrono::Utc::now(), &cookie, idle))
                .await
                .is_ok_and(|live| live.is_some())
        })
    })
}

async fn not_found(uri: Uri, req: Request) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") || path == "/api" {
        return crate::api::not_found_json().into_response();
    }
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
