//! Who is calling: bearer tokens checked against the SHA-256 hashes of the
//! station file (`crate::token`), and the role each route needs.
//!
//! Tokens are read from the station as running now: a reload that adds or
//! removes one takes effect on the next request.
//!
//! This module must not touch the engine or the ledger.

use std::net::SocketAddr;

use axum::extract::rejection::ExtensionRejection;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::{AppState, Caller};
use crate::config::Role;
use crate::token;

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (`/healthz`, the OpenAPI document).
    Open,
    /// Anyone on this machine; a token of any role (`metrics` and up) from
    /// elsewhere (`/metrics`: a local Prometheus scrapes without a secret, a
    /// province's Prometheus with a `metrics` token that reads nothing else).
    LoopbackOrMetrics,
    /// A token of at least this role.
    Role(Role),
}

/// Loopback, also as an IPv4-mapped address (a dual-stack `[::]` listener).
fn is_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        v4 => v4.is_loopback(),
    }
}

fn unauthorized(message: &str) -> Response {
    let mut r = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    r
}

/// Whether the request carries a token of the station as running now
/// (`Authorization: Bearer TOKEN`), whatever its role.
pub fn known_token(state: &AppState, headers: &header::HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .is_some_and(|t| token::find(&state.current.get().api.tokens, t).is_some())
}

/// The middleware each route is wrapped in, with the route's `Access`.
pub async fn require(
    State((state, access)): State<(AppState, Access)>,
    peer: Result<ConnectInfo<SocketAddr>, ExtensionRejection>,
    mut req: Request,
    next: Next,
) -> Response {
    // No peer address (not served by `serve`) counts as remote.
    let loopback = peer.is_ok_and(|c| is_loopback(c.0.ip()));
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("").trim().to_string());
    let needed = match access {
        Access::Open => {
            req.extensions_mut().insert(Caller {
                name: "anonymous".into(),
                role: None,
                user: false,
            });
            return next.run(req).await;
        }
        Access::LoopbackOrMetrics if loopback && bearer.is_none() => {
            req.extensions_mut().insert(Caller {
                name: "local".into(),
                role: None,
                user: false,
            });
            return next.run(req).await;
        }
        Access::LoopbackOrMetrics => Role::Metrics,
        Access::Role(r) => r,
    };
    let Some(value) = bearer else {
        return unauthorized(
            "Thiếu mã truy cập / no token: send `Authorization: Bearer TOKEN` \
             (make one with `loa token new NAME ROLE`).",
        );
    };
    let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return unauthorized("Sai định dạng / the Authorization header must read `Bearer TOKEN`.");
    };
    let station = state.current.get();
    let Some(t) = token::find(&station.api.tokens, token) else {
        return unauthorized(
            "Mã truy cập không đúng / unknown token: it is not in [[api.token]] of the \
             station file (was the station reloaded after adding it?).",
        );
    };
    if t.role < needed {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "Không đủ quyền / token \"{}\" has role {}, this needs {}: ask the station's \
                 admin for a token with that role.",
                t.name, t.role, needed
            ),
        )
        .into_response();
    }
    req.extensions_mut().insert(Caller {
        name: t.name.clone(),
        role: Some(t.role),
        user: false,
    });
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_includes_mapped_addresses() {
        assert!(is_loopback("127.0.0.1".parse().unwrap()));
        assert!(is_loopback("::1".parse().unwrap()));
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback("::ffff:192.168.1.2".parse().unwrap()));
        assert!(!is_loopback("10.0.0.1".parse().unwrap()));
    }
}
