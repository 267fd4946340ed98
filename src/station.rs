//! The station as it runs now, and reloading it.
//!
//! The daemon, the API and the systemd status line all read the running
//! station through [`CurrentStation`]; a reload (SIGHUP or
//! `POST /api/v1/reload`) goes through [`reload`], which keeps the old
//! station when the new file has errors and hands a good one to the engine.
//! This module must not know about HTTP, signals or systemd.

use std::path::Path;
use std::sync::Arc;

use tracing::{error, warn};

use crate::check::{self, LoadOptions};
use crate::config::Station;
use crate::diag::{Diagnostic, Severity};
use crate::engine::{Command, Handle};

/// The station the daemon runs now, shared by the signal loop and the API,
/// so a reload from either is seen by both (tokens included).
#[derive(Clone)]
pub struct CurrentStation {
    /// A `watch` so that others (the systemd status line) follow reloads.
    station: Arc<tokio::sync::watch::Sender<Arc<Station>>>,
    /// One reload at a time: SIGHUP and `POST /api/v1/reload` racing would
    /// each keep the restart-only settings of a station the other replaced.
    reloading: Arc<tokio::sync::Mutex<()>>,
}

impl CurrentStation {
    pub fn new(station: Arc<Station>) -> Self {
        CurrentStation {
            station: Arc::new(tokio::sync::watch::Sender::new(station)),
            reloading: Arc::default(),
        }
    }

    pub fn get(&self) -> Arc<Station> {
        Arc::clone(&self.station.borrow())
    }

    /// Follow the station through reloads.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Arc<Station>> {
        self.station.subscribe()
    }

    fn set(&self, station: Arc<Station>) {
        self.station.send_replace(station);
    }
}

/// Load the station file again: the station, or every error (all
/// diagnostics are logged either way).
async fn load_for_reload(path: &Path) -> Result<Station, Vec<Diagnostic>> {
    let path = path.to_path_buf();
    let shown = path.clone();
    let loaded = tokio::task::spawn_blocking(move || check::load(&path, LoadOptions::default()))
        .await
        .map_err(|e| {
            vec![Diagnostic {
                severity: Severity::Error,
                file: shown,
                position: None,
                item: None,
                key: None,
                message: format!("loading the station file failed: {e}"),
                hint: Some("see the daemon's log".into()),
            }]
        })?;
    for d in &loaded.diagnostics.items {
        match d.severity {
            Severity::Error => error!("{d}"),
            Severity::Warning => warn!("{d}"),
        }
    }
    match loaded.station {
        Some(s) => Ok(s),
        None => {
            error!(
                errors = loaded.diagnostics.errors().count(),
                "the new station file has errors; still running the old one"
            );
            Err(loaded.diagnostics.errors().cloned().collect())
        }
    }
}

/// Reload the station file into the running station: what SIGHUP and
/// `POST /api/v1/reload` both do. An invalid file changes nothing and its
/// errors are returned; a valid one keeps the restart-only settings of the
/// running station and goes to the engine.
pub async fn reload(
    path: &Path,
    current: &CurrentStation,
    handle: &Handle,
) -> Result<Arc<Station>, Vec<Diagnostic>> {
    let _one_at_a_time = current.reloading.lock().await;
    let mut new = load_for_reload(path).await?;
    keep_restart_only_settings(&current.get(), &mut new);
    let new = Arc::new(new);
    current.set(Arc::clone(&new));
    let _ = handle
        .commands
        .send(Command::Reload(Arc::clone(&new)))
        .await;
    Ok(new)
}

/// Some settings are read once at start: the output device, the API
/// address, the ledger's place and the timezone its keys are written in.
/// A reload keeps the running ones and says so.
fn keep_restart_only_settings(old: &Station, new: &mut Station) {
    if old.output != new.output {
        warn!("[output] changed: it takes effect at the next restart (systemctl restart loa)");
        new.output = old.output.clone();
    }
    if old.api.listen != new.api.listen {
        warn!("[api] listen changed: it takes effect at the next restart");
        new.api.listen = old.api.listen;
    }
    if old.data_dir != new.data_dir || old.timezone != new.timezone {
        warn!("data_dir or timezone changed: they take effect at the next restart");
        new.data_dir = old.data_dir.clone();
        new.timezone = old.timezone;
    }
}
