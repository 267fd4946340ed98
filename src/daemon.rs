//! `loa run`: wire the station file, the ledger, the audio thread and the
//! engine together, and live with signals.
//!
//! SIGTERM and SIGINT stop the station cleanly (the airing item fades out
//! and is recorded `interrupted`); SIGHUP reloads the station file, keeping
//! the old one when the new one has errors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::config::{self, LoadOptions, Station};
use crate::engine::{self, AudioPlayout, Command, Engine, Handle, Recorder, SystemClock};
use crate::ledger::Ledger;

/// How far back the engine is told what already has a ledger row.
const SETTLED_LOOKBACK_DAYS: i64 = 8;

/// A running station: what the API and the watchdog need to reach.
pub struct Running {
    pub handle: Handle,
    pub station: Arc<Station>,
    /// The audio thread's adapter, for the watchdog's ping (`crate::notify`).
    pub playout: AudioPlayout,
    engine: tokio::task::JoinHandle<()>,
}

/// Open the ledger, start the audio thread and the engine.
pub fn start(station: Station) -> Result<Running> {
    let station = Arc::new(station);
    let path = station.ledger_path();
    let ledger = Ledger::open(&path, station.timezone)
        .with_context(|| format!("opening the airtime ledger {}", path.display()))?;
    if ledger.recovered_on_open() > 0 {
        warn!(
            rows = ledger.recovered_on_open(),
            "closed rows a crash or power cut left open as interrupted (\"daemon stopped\")"
        );
    }
    let now = Utc::now();
    let resume = engine::Resume {
        settled: ledger.settled_since(now - chrono::Duration::days(SETTLED_LOOKBACK_DAYS))?,
        last_alive: ledger.last_alive()?,
    };
    let recorder = Recorder::start(ledger);

    if let Err(e) = crate::audio::check(&station.output) {
        // Keep running: the device may appear later (a USB card not yet up),
        // and every attempt is recorded `failed` with this reason meanwhile.
        error!("audio output not usable yet: {e}");
    }
    let (audio_tx, audio_rx) = mpsc::unbounded_channel();
    let player =
        crate::audio::spawn(&station.output, audio_tx).context("starting the audio thread")?;
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let playout = AudioPlayout::new(player, audio_rx, events_tx);
    let (engine, handle) = Engine::new(
        Arc::clone(&station),
        SystemClock,
        playout.clone(),
        events_rx,
        recorder,
        resume,
    );
    let engine = tokio::spawn(engine.run());
    Ok(Running {
        handle,
        station,
        playout,
        engine,
    })
}

/// Load the station file again for a reload; `None` (errors logged) when
/// it is not valid.
pub async fn reload_station(path: &Path) -> Option<Station> {
    let path = path.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || config::load(&path, LoadOptions::default()))
        .await
        .ok()?;
    for d in &loaded.diagnostics.items {
        match d.severity {
            crate::diag::Severity::Error => error!("{d}"),
            crate::diag::Severity::Warning => warn!("{d}"),
        }
    }
    if loaded.station.is_none() {
        error!(
            errors = loaded.diagnostics.errors().count(),
            "the new station file has errors; still running the old one"
        );
    }
    loaded.station
}

/// `loa run`: until SIGTERM/SIGINT.
pub async fn run(config_path: PathBuf, station: Station) -> Result<ExitCode> {
    info!(
        station = %station.name,
        config = %config_path.display(),
        bulletins = station.bulletins.len(),
        programs = station.programs.len(),
        version = env!("CARGO_PKG_VERSION"),
        "starting"
    );
    let running = start(station)?;
    // READY once the API listens.
    let systemd = crate::notify::ready(&running);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut current = Arc::clone(&running.station);
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                info!("SIGHUP: reloading {}", config_path.display());
                if let Some(mut new) = reload_station(&config_path).await {
                    keep_restart_only_settings(&current, &mut new);
                    let new = Arc::new(new);
                    current = Arc::clone(&new);
                    systemd.reloaded(Arc::clone(&new));
                    let _ = running.handle.commands.send(Command::Reload(new)).await;
                }
            }
        }
    }
    info!("stopping");
    systemd.stopping();
    let _ = running.handle.commands.send(Command::Shutdown).await;
    if tokio::time::timeout(Duration::from_millis(1900), running.engine)
        .await
        .is_err()
    {
        warn!("the engine did not stop in time; exiting anyway");
    }
    Ok(ExitCode::SUCCESS)
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
