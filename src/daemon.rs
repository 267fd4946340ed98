//! `loa run`: wire the station file, the ledger, the audio thread and the
//! engine together, and live with signals.
//!
//! SIGTERM and SIGINT stop the station cleanly (the airing item fades out
//! and is recorded `interrupted`); SIGHUP reloads the station file, keeping
//! the old one when the new one has errors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

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
    /// The station as started (restart-only settings come from here).
    pub station: Arc<Station>,
    /// The station as running now: replaced by each successful reload.
    pub current: CurrentStation,
    /// The ledger's writer, for audit rows (no SQLite call on the runtime).
    pub recorder: Recorder,
    /// The audio thread's adapter, for the watchdog's ping (`crate::notify`).
    pub playout: AudioPlayout,
    engine: tokio::task::JoinHandle<()>,
}

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
        emergency: ledger.state("emergency")?,
    };
    let recorder = Recorder::start(ledger);
    let api_recorder = recorder.clone();

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
        current: CurrentStation::new(Arc::clone(&station)),
        station,
        recorder: api_recorder,
        playout,
        engine,
    })
}

/// Load the station file again: the station, or every error (all
/// diagnostics are logged either way).
async fn load_for_reload(path: &Path) -> Result<Station, Vec<crate::diag::Diagnostic>> {
    let path = path.to_path_buf();
    let shown = path.clone();
    let loaded = tokio::task::spawn_blocking(move || config::load(&path, LoadOptions::default()))
        .await
        .map_err(|e| {
            vec![crate::diag::Diagnostic {
                severity: crate::diag::Severity::Error,
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
            crate::diag::Severity::Error => error!("{d}"),
            crate::diag::Severity::Warning => warn!("{d}"),
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
) -> Result<Arc<Station>, Vec<crate::diag::Diagnostic>> {
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
    let listen = station.api.listen;
    // Bind before the engine starts, so a taken port stops the start with a
    // clear message instead of leaving a station nobody can control.
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| {
        format!(
            "cannot listen on {listen} ([api] listen in {}); another loa (or another program) may use \
             that port: stop it, or set another address under [api] listen",
            config_path.display()
        )
    })?;
    info!(listen = %listen, "HTTP API listening");
    log_next(&station);
    let running = start(station)?;
    let api = crate::api::ApiState::new(
        running.handle.clone(),
        running.current.clone(),
        running.recorder.clone(),
        config_path.clone(),
    );
    let server = tokio::spawn(crate::api::serve(listener, api));
    // READY once the API listens.
    let systemd = crate::notify::ready(&running);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                info!("SIGHUP: reloading {}", config_path.display());
                // Errors are logged; the old station keeps running.
                let _ = reload(&config_path, &running.current, &running.handle).await;
            }
        }
    }
    info!("stopping");
    systemd.stopping();
    server.abort();
    let _ = running.handle.commands.send(Command::Shutdown).await;
    if tokio::time::timeout(engine::SHUTDOWN_BUDGET, running.engine)
        .await
        .is_err()
    {
        warn!("the engine did not stop in time; exiting anyway");
    }
    Ok(ExitCode::SUCCESS)
}

/// Say what airs next, so whoever starts the station knows what to wait for.
fn log_next(station: &Station) {
    let now = chrono::Utc::now();
    let next = crate::schedule::schedule(station, now, now + chrono::Duration::days(8));
    match next.first() {
        Some(o) => info!(
            id = o.id,
            "next: {} at {}",
            o.title,
            o.at.format("%Y-%m-%d %H:%M:%S %:z")
        ),
        None => warn!("nothing is scheduled in the next 8 days (see `loa schedule`)"),
    }
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
