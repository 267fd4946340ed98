//! Who is calling: bearer tokens checked against the SHA-256 hashes of the
//! station file, and the role each route needs.
//!
//! The station file holds hashes only, so a copy of it (a backup, a
//! screenshot) gives no control of the station. The presented token is
//! hashed and compared with every configured hash in constant time, with no
//! early exit, so response timing says nothing about how close a guess was.
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
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::AppState;
use crate::config::{ApiToken, Role};

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (`/healthz`, the OpenAPI document).
    Open,
    /// Anyone on this machine; a viewer token from elsewhere (`/metrics`:
    /// a local Prometheus scrapes without a secret).
    LoopbackOrViewer,
    /// A token of at least this role.
    Role(Role),
}

/// The authenticated caller, put in the request's extensions for handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name, as written in the audit log; `local` for an
    /// unauthenticated loopback request on a loopback-open route.
    pub name: String,
    pub role: Option<Role>,
}

pub fn role_str(r: Role) -> &'static str {
    match r {
        Role::Viewer => "viewer",
        Role::Operator => "operator",
        Role::Admin => "admin",
    }
}

/// SHA-256 of a token's bytes.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Equal in time independent of where they differ. Hand-written rather
/// than the `subtle` crate: it is one loop over 32 bytes, and `black_box`
/// keeps the optimiser from turning it back into an early exit.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(diff) == 0
}

/// The configured token whose hash matches `presented`, if any. Every
/// configured hash is compared, whatever matched earlier.
pub fn find<'t>(tokens: &'t [ApiToken], presented: &str) -> Option<&'t ApiToken> {
    let h = hash(presented);
    let mut found = None;
    for t in tokens {
        if ct_eq(&t.sha256, &h) {
            found = Some(t);
        }
    }
    found
}

/// A fresh token: `loa_` and 32 random bytes from the OS in hex. The prefix
/// lets secret scanners and people recognise what leaked.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("loa_{}", hex(&bytes)))
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
            });
            return next.run(req).await;
        }
        Access::LoopbackOrViewer if loopback && bearer.is_none() => {
            req.extensions_mut().insert(Caller {
                name: "local".into(),
                role: None,
            });
            return next.run(req).await;
        }
        Access::LoopbackOrViewer => Role::Viewer,
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
    let Some(t) = find(&station.api.tokens, token) else {
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
                t.name,
                role_str(t.role),
                role_str(needed)
            ),
        )
        .into_response();
    }
    req.extensions_mut().insert(Caller {
        name: t.name.clone(),
        role: Some(t.role),
    });
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(name: &str, role: Role, secret: &str) -> ApiToken {
        ApiToken {
            name: name.into(),
            role,
            sha256: hash(secret),
        }
    }

    #[test]
    fn hash_is_sha256_hex_of_the_bytes() {
        // The value `loa token new` prints and the loader's example use.
        assert_eq!(
            hex(&hash("test")),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
    }

    #[test]
    fn finds_only_the_matching_token() {
        let tokens = vec![
            token("a", Role::Viewer, "secret-a"),
            token("b", Role::Admin, "secret-b"),
        ];
        assert_eq!(find(&tokens, "secret-b").unwrap().name, "b");
        assert_eq!(find(&tokens, "secret-a").unwrap().name, "a");
        assert!(find(&tokens, "secret-c").is_none());
        assert!(find(&tokens, "").is_none());
        assert!(find(&[], "secret-a").is_none());
    }

    #[test]
    fn constant_time_compare_is_equality() {
        let a = hash("x");
        let mut b = a;
        assert!(ct_eq(&a, &b));
        b[31] ^= 1;
        assert!(!ct_eq(&a, &b));
        b = a;
        b[0] ^= 0x80;
        assert!(!ct_eq(&a, &b));
    }

    #[test]
    fn loopback_includes_mapped_addresses() {
        assert!(is_loopback("127.0.0.1".parse().unwrap()));
        assert!(is_loopback("::1".parse().unwrap()));
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback("::ffff:192.168.1.2".parse().unwrap()));
        assert!(!is_loopback("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn new_tokens_are_fresh_and_well_formed() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert!(a.starts_with("loa_"));
        assert!(a[4..].bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
