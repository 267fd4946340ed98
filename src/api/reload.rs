//! `POST /api/v1/reload`: load the station file again, as SIGHUP does
//! (`crate::station::reload`), and answer with what runs now or with every
//! error.

use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::error::{ApiError, ApiResult};
use super::{AppState, Caller};
use crate::config::Station;
use crate::station::{FileState, Trigger};

/// `POST /api/v1/reload`. The reload and its audit row run on a task of
/// their own: a client that gives up (closes the connection) neither
/// cancels a reload half done nor loses the record of it; the log says it
/// had gone.
pub async fn reload(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let r = reload_and_audit(&s, &caller, &|| tx.is_closed()).await;
        let _ = tx.send(r);
    });
    let (st, file) = rx.await.map_err(|_| {
        ApiError::internal("the reload stopped without an answer; see the daemon's log")
    })??;
    Ok(Json(json!({
        "reloaded": true,
        "bulletins": st.bulletins.len(),
        "programs": st.programs.len(),
        "failing": file.failing,
    })))
}

async fn reload_and_audit(
    s: &AppState,
    caller: &Caller,
    client_gone: &(dyn Fn() -> bool + Sync),
) -> ApiResult<(Arc<Station>, FileState)> {
    let path = s.config_path.clone();
    let what = format!("POST /api/v1/reload by {}", caller.name);
    let trigger = Trigger {
        what: &what,
        client_gone: Some(client_gone),
    };
    let r = match crate::station::reload(&path, &s.current, &s.handle, trigger).await {
        Ok(st) => Ok(st),
        Err(diags) => {
            let mut e = ApiError::unprocessable(
                "invalid_station_file",
                format!(
                    "Tệp cấu hình có lỗi / {} has {} error(s); the station keeps running the \
                     old one. Fix them (`loa check --config {}`) and reload again.",
                    path.display(),
                    diags.len(),
                    path.display()
                ),
            );
            e.errors = diags.iter().map(ToString::to_string).collect();
            Err(e)
        }
    };
    s.audit(
        caller,
        "reload",
        &path.display().to_string(),
        &r.as_ref()
            .map(|(st, file)| {
                format!(
                    "{} bulletins, {} programmes, {} failing",
                    st.bulletins.len(),
                    st.programs.len(),
                    file.failing.len()
                )
            })
            .map_err(Clone::clone),
    );
    r
}
