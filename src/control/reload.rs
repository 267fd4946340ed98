//! Loading the station file again, as SIGHUP does
//! (`crate::current::reload`): what runs now, or every error (the station
//! keeps the old file).

use std::sync::Arc;

use tokio::sync::oneshot;

use super::{Caller, Error, Result, Shared};
use crate::config::Station;
use crate::current::{FileState, Trigger};

/// The station that runs after a reload, and which file it is.
pub struct AfterReload {
    pub station: Arc<Station>,
    pub file: FileState,
}

/// Reload the station file. The reload and its audit row run on a task of
/// their own: a caller that gives up (an HTTP client that closes the
/// connection) neither cancels a reload half done nor loses the record of
/// it; the log says it had gone. `door` names it in the log (e.g. `POST
/// /api/v1/reload by quan-tri`).
pub async fn reload(c: &Shared, caller: Caller, door: String) -> Result<AfterReload> {
    let (tx, rx) = oneshot::channel();
    let c = Arc::clone(c);
    tokio::spawn(async move {
        let r = reload_and_audit(&c, &caller, &door, &|| tx.is_closed()).await;
        let _ = tx.send(r);
    });
    rx.await.map_err(|_| {
        Error::Internal("the reload stopped without an answer; see the daemon's log".into())
    })?
}

async fn reload_and_audit(
    c: &Shared,
    caller: &Caller,
    door: &str,
    client_gone: &(dyn Fn() -> bool + Sync),
) -> Result<AfterReload> {
    let path = c.config_path.clone();
    let trigger = Trigger {
        what: door,
        client_gone: Some(client_gone),
    };
    let r = match crate::current::reload(&path, &c.current, &c.handle, trigger).await {
        Ok((station, file)) => Ok(AfterReload { station, file }),
        Err(diags) => Err(Error::InvalidStationFile {
            path: path.display().to_string(),
            errors: diags.iter().map(ToString::to_string).collect(),
        }),
    };
    c.audit(caller, "reload", &path.display().to_string(), &r, |r| {
        format!(
            "{} bulletins, {} programmes, {} failing",
            r.station.bulletins.len(),
            r.station.programs.len(),
            r.file.failing.len()
        )
    });
    r
}
