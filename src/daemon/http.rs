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
/// Answers go out gzip-compressed to a client that asks for it (pages,
/// reports, JSON), except audio, which is compressed already.
pub(crate) fn app(state: Shared, accounts: Arc<Accounts>) -> Router {
    use tower_http::compression::predicate::{NotForContentType, Predicate};
    use tower_http::compression::{CompressionLayer, DefaultPredicate};
    let api_not_found = Router::new().fallback(|| async { crate::api::not_found_json() });
    let compress = DefaultPredicate::new().and(NotForContentType::const_new("audio/"));
    crate::web::with_console(
        crate::api::router_without_fallback(state.clone()),
        api_not_found,
        state,
        accounts,
    )
    .layer(CompressionLayer::new().compress_when(compress))
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

    /// A browser that accepts gzip gets the page gzipped, and it inflates
    /// to the same page; a client that does not ask gets it plain.
    #[tokio::test]
    async fn pages_go_out_compressed_when_asked() {
        use std::io::Read;
        use tower::ServiceExt;
        let rig = rig("").await;
        let app = super::app(rig.state.clone(), std::sync::Arc::clone(&rig.accounts));
        let get = |gzip: bool| {
            let mut req = axum::http::Request::get("/dang-nhap");
            if gzip {
                req = req.header("accept-encoding", "gzip, deflate, br");
            }
            app.clone()
                .oneshot(req.body(axum::body::Body::empty()).unwrap())
        };
        let plain = get(false).await.unwrap();
        assert_eq!(plain.headers().get("content-encoding"), None);
        let plain = axum::body::to_bytes(plain.into_body(), 1 << 20)
            .await
            .unwrap();
        let zipped = get(true).await.unwrap();
        assert_eq!(zipped.headers()["content-encoding"], "gzip");
        let zipped = axum::body::to_bytes(zipped.into_body(), 1 << 20)
            .await
            .unwrap();
        assert!(
            zipped.len() < plain.len(),
            "{} vs {}",
            zipped.len(),
            plain.len()
        );
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&zipped[..])
            .read_to_end(&mut inflated)
            .unwrap();
        // The same page (each answer carries its own form token, so
        // compare its frame and length).
        let inflated = String::from_utf8(inflated).unwrap();
        assert!(inflated.starts_with("<!DOCTYPE html>") && inflated.ends_with("</html>"));
        assert_eq!(inflated.len(), plain.len());
    }
}
