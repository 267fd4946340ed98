//! STAND-IN until the web-auth branch lands (it owns this file): who is
//! signed in. Here a request "signs in" with the `x-loa-test-user` and
//! `x-loa-test-role` headers so the pages compile and can be looked at.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::i18n::Lang;
use crate::api::Caller;
use crate::config::Role;

#[derive(Debug, Clone)]
pub(crate) struct Signed {
    pub user: String,
    pub role: Role,
    pub csrf: String,
    pub lang: Lang,
}

pub(crate) struct Operator(pub Signed);

impl<S: Send + Sync> FromRequestParts<S> for Signed {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let h = |n: &str| {
            parts
                .headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let cookie = h("cookie").and_then(|c| {
            c.split(';')
                .find_map(|p| p.trim().strip_prefix("loa_test=").map(str::to_string))
        });
        let (user, role) = match (h("x-loa-test-user"), cookie) {
            (Some(u), _) => (u, h("x-loa-test-role")),
            (None, Some(c)) => match c.split_once('.') {
                Some((u, r)) => (u.to_string(), Some(r.to_string())),
                None => (c, None),
            },
            _ => return Err(Redirect::to("/dang-nhap").into_response()),
        };
        let role = role.and_then(|r| Role::parse(&r)).unwrap_or(Role::Viewer);
        Ok(Signed {
            user,
            role,
            csrf: "csrf-stand-in".into(),
            lang: Lang::from_parts(parts),
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Operator {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Response> {
        let signed = Signed::from_request_parts(parts, s).await?;
        if signed.role < Role::Operator {
            return Err((StatusCode::FORBIDDEN, "forbidden").into_response());
        }
        Ok(Operator(signed))
    }
}

#[allow(clippy::result_large_err)]
pub(crate) fn check_csrf(signed: &Signed, token: &str) -> Result<(), Response> {
    if token == signed.csrf {
        Ok(())
    } else {
        Err((StatusCode::FORBIDDEN, "csrf").into_response())
    }
}

pub(crate) fn caller(signed: &Signed) -> Caller {
    Caller {
        name: signed.user.clone(),
        role: Some(signed.role),
    }
}
