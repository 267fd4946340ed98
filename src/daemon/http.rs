//! The listener's router: the JSON API and the web console side by side,
//! each an adapter over the control layer, composed here where both are
//! known (neither imports the other).

use std::sync::Arc;

use axum::Router;

use crate::control::Shared;
use crate::web::accounts::Accounts;

/// The API and the console on one listener (`loa run`): `/api/…`,
/// `/healthz` and `/metrics` answer JSON (also their 404s), everything
/// else is the console's.
pub(crate) fn app(state: Shared, accounts: Arc<Accounts>) -> Router {
    let api_not_found = Router::new().fallback(|| async { crate::api::not_found_json() });
    crate::web::with_console(
        crate::api::router_without_fallback(state.clone()),
        api_not_found,
        state,
        accounts,
    )
}

/// What may use the listener's reserve places while anonymous
/// connections fill the rest (`crate::api::serve`): `/healthz` and
/// `/metrics` (monitoring), a request with a token of the station, or one
/// from a live session of the console.
pub(crate) fn reserve_admit(state: Shared, accounts: Arc<Accounts>) -> crate::api::serve::Admit {
    Arc::new(move |parts: &axum::http::request::Parts| {
        let path = parts.uri.path();
        if path == "/healthz"
            || path == "/metrics"
            || crate::api::auth::known_token(&state, &parts.headers)
        {
            return Box::pin(std::future::ready(true));
        }
        let Some(cookie) = crate::web::session_cookie(&parts.headers) else {
            return Box::pin(std::future::ready(false));
        };
        let (state, accounts) = (Arc::clone(&state), Arc::clone(&accounts));
        Box::pin(async move { crate::web::live_session(&state, &accounts, cookie).await })
    })
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::web::test_rig::rig;

    /// One listener: the console's pages, the API's JSON (its 404s too),
    /// and tokens still guarding the API.
    #[tokio::test]
    async fn the_listener_serves_the_console_and_the_api() {
        use tower::ServiceExt;
        let rig = rig("").await;
        let app = super::app(rig.state.clone(), std::sync::Arc::clone(&rig.accounts));
        for (path, status, has) in [
            ("/dang-nhap", StatusCode::OK, "<html"),
            ("/healthz", StatusCode::OK, "\"ok\""),
            ("/tai-khoan", StatusCode::SEE_OTHER, ""),
            ("/api/v1/khong-co", StatusCode::NOT_FOUND, "\"no_route\""),
            ("/api/v1/status", StatusCode::UNAUTHORIZED, "unauthorized"),
            (
                "/khong-co-trang-nay",
                StatusCode::NOT_FOUND,
                "Không có trang này",
            ),
        ] {
            let req = axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap();
            let r = app.clone().oneshot(req).await.unwrap();
            assert_eq!(r.status(), status, "{path}");
            let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            let body = String::from_utf8_lossy(&body);
            assert!(body.contains(has), "{path}: {body}");
        }
    }
}
