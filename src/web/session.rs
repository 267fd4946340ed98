//! Who is signed in: the session cookie, the extractors pages take
//! ([`Signed`], [`Operator`], [`Admin`]), the CSRF check of every form that
//! changes something, and the refusal of cross-origin requests.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::html;

use super::accounts::Accounts;
use super::i18n::{t, Lang};
use super::layout;
use crate::config::Role;
use crate::control::{Caller, Shared as AppState};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "loa_phien";

/// A signed-in user, as the request found them.
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    pub user: String,
    pub role: Role,
    /// The token every changing form of this session must carry
    /// (`<input type="hidden" name="csrf">`), checked by [`check_csrf`].
    pub csrf: String,
    pub lang: Lang,
    /// The station's name, for the header (the station as it runs when
    /// the request came).
    pub station: String,
    /// This host sends bulletins (`[publish]`): its admins see the
    /// section *Gửi bản tin* (province staff always do).
    pub sends: bool,
}

/// The stored id of the request's session, put in the request's extensions
/// by the [`Signed`] extractor (sign-out and the admin page take it with
/// `Extension<SessionId>` after `Signed`).
#[derive(Debug, Clone)]
pub(crate) struct SessionId(pub(crate) String);

/// A signed-in operator or admin; a viewer gets a 403 page.
#[derive(Debug, Clone)]
pub(crate) struct Operator(pub Signed);

/// A signed-in admin; others get a 403 page.
#[derive(Debug, Clone)]
pub(crate) struct Admin(pub Signed);

/// A signed-in user who may send bulletins to the stations: the province
/// role or an admin; others (an operator too) get a 403 page.
#[derive(Debug, Clone)]
pub(crate) struct Publisher(pub Signed);

/// Whether `role` may send bulletins from this host.
pub(crate) fn publishes(role: Role) -> bool {
    matches!(role, Role::Province | Role::Admin)
}

/// The caller the API's shared functions and the audit log take: the
/// user's name, exactly where the API puts a token's name (so
/// `requested_by` of what a user queues is the user).
pub(crate) fn caller(signed: &Signed) -> Caller {
    Caller {
        name: signed.user.clone(),
        role: Some(signed.role),
        user: true,
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// The console's accounts, put in every web request by the router.
#[allow(clippy::result_large_err)] // An extractor's rejection, as axum's are.
pub(crate) fn accounts(parts: &Parts) -> Result<Arc<Accounts>, Response> {
    parts
        .extensions
        .get::<Arc<Accounts>>()
        .cloned()
        .ok_or_else(|| server_error(Lang::from_parts(parts), "accounts are not set up"))
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        v4 => v4.is_loopback(),
    }
}

/// The peer's address, as the listener put it (or a test's
/// `MockConnectInfo`, as axum's own `ConnectInfo` extractor reads it).
fn peer(e: &axum::http::Extensions) -> Option<IpAddr> {
    use axum::extract::connect_info::MockConnectInfo;
    e.get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .or_else(|| e.get::<MockConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
}

/// The client's address: the peer's, or when a proxy on this machine
/// forwards (`X-Forwarded-For`, last hop), the one it names.
pub(crate) fn client_addr(parts: &Parts) -> String {
    let peer = peer(&parts.extensions);
    if peer.is_some_and(is_loopback) {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .and_then(|v| v.parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip.to_string();
        }
    }
    peer.map_or_else(|| "unknown".into(), |ip| ip.to_string())
}

/// Whether the browser reached us over HTTPS: served with TLS (the
/// listener marks such requests), `[api] behind_https_proxy`, or a proxy on
/// this machine saying `X-Forwarded-Proto: https`.
pub(crate) fn is_https(parts: &Parts, state: &AppState) -> bool {
    let web = &state.current.get().api.web;
    web.tls.is_some()
        || web.behind_https_proxy
        || (peer(&parts.extensions).is_some_and(is_loopback)
            && parts
                .headers
                .get("x-forwarded-proto")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https")))
}

/// `Set-Cookie` for a new session (`value`), or one that ends it (`None`).
pub(crate) fn session_cookie(value: Option<&str>, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = match value {
        Some(v) => format!("{COOKIE}={v}; Path=/; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).expect("hex and ASCII")
}

/// A whole page with `status`.
pub(crate) fn message_page(
    status: StatusCode,
    lang: Lang,
    signed: Option<&Signed>,
    title: &str,
    text: &str,
) -> Response {
    let body = html! {
        h1 { (title) }
        p { (text) }
        p { a href="/" { (t(lang, "Về trang chính", "Back to the main page")) } }
    };
    (status, layout::page(signed, lang, title, body)).into_response()
}

pub(crate) fn server_error(lang: Lang, detail: &str) -> Response {
    tracing::error!("web console: {detail}");
    message_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        lang,
        None,
        t(lang, "Lỗi máy chủ", "Server error"),
        t(
            lang,
            "Đài gặp lỗi khi xử lý yêu cầu này; chi tiết ở nhật ký hệ thống (journalctl -u loa).",
            "The station failed to handle this request; the details are in its log (journalctl -u loa).",
        ),
    )
}

fn forbidden(lang: Lang, signed: &Signed, needs: Role) -> Response {
    let text = match lang {
        Lang::Vi => format!(
            "Tài khoản \"{}\" có vai trò {}; việc này cần vai trò {}. Hãy nhờ quản trị viên của đài.",
            signed.user,
            role_vi(signed.role),
            role_vi(needs)
        ),
        Lang::En => format!(
            "User \"{}\" has role {}; this needs {}. Ask the station's admin.",
            signed.user, signed.role, needs
        ),
    };
    message_page(
        StatusCode::FORBIDDEN,
        lang,
        Some(signed),
        t(lang, "Không đủ quyền", "Not allowed"),
        &text,
    )
}

/// A role in Vietnamese.
pub(crate) fn role_vi(role: Role) -> &'static str {
    match role {
        Role::Metrics => "giám sát (chỉ số)",
        Role::Viewer => "người xem",
        Role::Province => "cán bộ tỉnh",
        Role::Operator => "người vận hành",
        Role::Admin => "quản trị viên",
    }
}

/// A role in `lang`.
pub(crate) fn role_name(lang: Lang, role: Role) -> &'static str {
    match lang {
        Lang::Vi => role_vi(role),
        Lang::En => role.as_str(),
    }
}

/// Where the sign-in page sends back to: only a path on this site.
pub(crate) fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control());
    if ok {
        next
    } else {
        "/"
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn not_signed_in(parts: &Parts, lang: Lang) -> Response {
    if parts.method == Method::GET || parts.method == Method::HEAD {
        let next = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let mut to = format!("/dang-nhap?next={}", percent_encode(&next));
        if lang == Lang::En {
            to.push_str("&lang=en");
        }
        return Redirect::to(&to).into_response();
    }
    message_page(
        StatusCode::UNAUTHORIZED,
        lang,
        None,
        t(lang, "Chưa đăng nhập", "Not signed in"),
        t(
            lang,
            "Phiên đăng nhập đã hết hoặc chưa đăng nhập. Hãy đăng nhập lại rồi làm lại.",
            "Your session ended or you are not signed in. Sign in again and retry.",
        ),
    )
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = Lang::from_parts(parts);
        if let Some(s) = parts.extensions.get::<Signed>() {
            return Ok(s.clone());
        }
        let Some(value) = cookie(&parts.headers, COOKIE).map(str::to_string) else {
            return Err(not_signed_in(parts, lang));
        };
        let accounts = accounts(parts)?;
        let idle = state.current.get().api.web.session_idle;
        let live = accounts
            .run(move |s| s.session(Utc::now(), &value, idle))
            .await
            .map_err(|e| server_error(lang, &format!("{e:#}")))?;
        let Some(live) = live else {
            return Err(not_signed_in(parts, lang));
        };
        let signed = Signed {
            user: live.user,
            role: live.role,
            csrf: live.csrf,
            lang,
            station: state.current.get().name.clone(),
            sends: state.current.get().publish.is_some(),
        };
        parts.extensions.insert(signed.clone());
        parts.extensions.insert(SessionId(live.id));
        Ok(signed)
    }
}

/// The signed-in user if their role is at least `needs`, else a 403 page.
async fn at_least(parts: &mut Parts, state: &AppState, needs: Role) -> Result<Signed, Response> {
    let s = Signed::from_request_parts(parts, state).await?;
    if s.role < needs {
        return Err(forbidden(s.lang, &s, needs));
    }
    Ok(s)
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        at_least(parts, state, Role::Operator).await.map(Operator)
    }
}

impl FromRequestParts<AppState> for Publisher {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let s = Signed::from_request_parts(parts, state).await?;
        if !publishes(s.role) {
            return Err(forbidden(s.lang, &s, Role::Province));
        }
        Ok(Publisher(s))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        at_least(parts, state, Role::Admin).await.map(Admin)
    }
}

/// Refuse a form whose CSRF token is not this session's (a 403 page).
#[allow(clippy::result_large_err)]
pub(crate) fn check_csrf(signed: &Signed, form_token: &str) -> Result<(), Response> {
    if super::accounts::sha2_eq(signed.csrf.as_bytes(), form_token.as_bytes()) {
        return Ok(());
    }
    let lang = signed.lang;
    Err(message_page(
        StatusCode::FORBIDDEN,
        lang,
        Some(signed),
        t(lang, "Biểu mẫu không hợp lệ", "Form refused"),
        stale_form(lang),
    ))
}

/// Why a form without its CSRF token was refused, and what to do.
pub(crate) fn stale_form(lang: Lang) -> &'static str {
    t(
        lang,
        "Biểu mẫu này đã cũ hoặc không do trang của đài gửi. Hãy mở lại trang rồi làm lại.",
        "This form is stale or was not sent by the station's page. Open the page again and retry.",
    )
}

/// The cookie that carries the pre-session nonce of the forms shown before
/// anyone is signed in (sign-in, first start).
pub(crate) const PRE_COOKIE: &str = "loa_bieu_mau";

/// The CSRF token of the forms shown before a session exists: a signed
/// double submit. The browser keeps a random nonce in [`PRE_COOKIE`]
/// (HttpOnly, SameSite=Strict); the form carries the nonce's HMAC under
/// the station's web secret. Another site can neither read the cookie nor
/// make the HMAC, so it cannot post a form that passes.
#[derive(Debug, Clone)]
pub(crate) struct PreSession {
    nonce: String,
    /// The form's `csrf` field.
    pub(crate) token: String,
    /// Whether the request came without a (well-formed) nonce: the answer
    /// must set [`PreSession::cookie`].
    pub(crate) fresh: bool,
}

impl PreSession {
    /// The request's pre-session, or a new one.
    pub(crate) async fn of(headers: &HeaderMap, accounts: &Arc<Accounts>) -> anyhow::Result<Self> {
        let sent = cookie(headers, PRE_COOKIE)
            .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_string);
        let fresh = sent.is_none();
        let nonce = match sent {
            Some(n) => n,
            None => super::accounts::random_hex::<32>()?,
        };
        let n = nonce.clone();
        let token = accounts.run(move |s| Ok(s.pre_csrf(&n))).await?;
        Ok(PreSession {
            nonce,
            token,
            fresh,
        })
    }

    /// Whether a posted form's token is this (browser-kept) nonce's.
    pub(crate) fn accepts(&self, form_token: &str) -> bool {
        !self.fresh && super::accounts::sha2_eq(self.token.as_bytes(), form_token.as_bytes())
    }

    /// `Set-Cookie` keeping the nonce, when the browser does not have it.
    pub(crate) fn set_cookie(&self, secure: bool) -> Option<HeaderValue> {
        let secure = if secure { "; Secure" } else { "" };
        self.fresh.then(|| {
            let text = format!(
                "{PRE_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
                self.nonce
            );
            HeaderValue::from_str(&text).expect("hex and ASCII")
        })
    }
}

/// Middleware: every request that is not GET or HEAD must come from this
/// site's own pages. `Sec-Fetch-Site` (sent by current browsers) must be
/// `same-origin` or `none`; else `Origin`, when sent, must name this host
/// (`Host`, or `X-Forwarded-Host` from a proxy on this machine only, as
/// with `X-Forwarded-Proto` and `-For`).
pub(crate) async fn same_origin(req: Request, next: Next) -> Response {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return next.run(req).await;
    }
    let h = req.headers();
    let fetch_site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let cross = match fetch_site {
        Some(site) => site != "same-origin" && site != "none",
        None => match h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            None => false,
            Some(origin) => {
                let proxied = peer(req.extensions()).is_some_and(is_loopback);
                let host = h
                    .get("x-forwarded-host")
                    .filter(|_| proxied)
                    .or_else(|| h.get(header::HOST))
                    .and_then(|v| v.to_str().ok());
                let origin_host = origin.split_once("://").map(|(_, rest)| rest);
                origin_host.is_none() || origin_host != host
            }
        },
    };
    if !cross {
        return next.run(req).await;
    }
    let (parts, _) = req.into_parts();
    let lang = Lang::from_parts(&parts);
    message_page(
        StatusCode::FORBIDDEN,
        lang,
        None,
        t(lang, "Yêu cầu bị từ chối", "Request refused"),
        t(
            lang,
            "Yêu cầu này đến từ một trang web khác, không phải trang của đài.",
            "This request came from another web site, not from the station's pages.",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/lich?tuan=2"), "/lich?tuan=2");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next(""), "/");
    }

    #[test]
    fn cookies_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; loa_phien=abc".parse().unwrap());
        h.append(header::COOKIE, "lang=en".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "lang"), Some("en"));
        assert_eq!(cookie(&h, "x"), None);
    }

    #[test]
    fn next_is_percent_encoded() {
        assert_eq!(percent_encode("/lich?a=1&b=2"), "/lich%3Fa%3D1%26b%3D2");
    }
}
