//! The console's pages (on air, plan, ledger, report).

use axum::Router;

use crate::api::AppState;

/// Every page's route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}
