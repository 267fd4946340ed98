//! STAND-IN until the web-auth branch lands (it owns this file): the web
//! console's router, the pages merged with the sign-in routes.

pub(crate) mod assets;
pub(crate) mod i18n;
pub(crate) mod layout;
pub(crate) mod pages;
pub(crate) mod session;

use axum::Router;

/// The console's routes, to be merged with the API's.
pub(crate) fn router(state: crate::api::AppState) -> Router {
    pages::routes().with_state(state)
}
