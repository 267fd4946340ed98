//! `loa run`: wire the station file, the ledger, the audio thread and the
//! engine together, and live with signals.
//!
//! SIGTERM and SIGINT stop the station cleanly (the airing item fades out
//! and is recorded `interrupted`); SIGHUP reloads the station file, keeping
//! the old one when the new one cannot run. Which file it starts with (the
//! given one, or the last good copy) is `crate::current::load_for_run`'s.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

mod http;
#[cfg(feature = "test-hooks")]
mod wedge;

use crate::config::Station;
use crate::current::{self, CurrentStation, FileState, Startup};
use crate::engine::{self, AudioPlayout, Command, Engine, Handle, Recorder, SystemClock};
use crate::ledger::Ledger;
use crate::monitor::Monitor;

/// How far back the engine is told what already has a ledger row.
const SETTLED_LOOKBACK_DAYS: i64 = 8;

/// A running station: what the API and the watchdog need to reach.
pub struct Running {
    pub handle: Handle,
    /// The station as running now: replaced by each successful reload.
    pub current: CurrentStation,
    /// The ledger's writer, for audit rows (no SQLite call on the runtime).
    pub recorder: Recorder,
    /// The audio thread's adapter, for the watchdog's ping (`crate::systemd`).
    pub playout: AudioPlayout,
    engine: tokio::task::JoinHandle<()>,
}

/// The playout the engine drives: in a `test-hooks` build, wrapped so a
/// test can wedge the engine for real (see `wedge`); otherwise as it is.
#[cfg(feature = "test-hooks")]
fn wedge_hook(playout: AudioPlayout) -> wedge::WedgeHook<AudioPlayout> {
    wedge::WedgeHook::from_env(playout)
}
#[cfg(not(feature = "test-hooks"))]
fn wedge_hook(playout: AudioPlayout) -> AudioPlayout {
    playout
}

/// Open the ledger, start the audio thread and the engine. The ledger's
/// open (an fsync) and the output check block, so they run on a blocking
/// thread, never on the runtime's workers that carry the engine.
async fn start(station: Station, file: FileState) -> Result<Running> {
    let station = Arc::new(station);
    let monitor = match &station.monitor {
        Some(m) => Some(Monitor::start(m).context("starting the line monitor")?),
        None => None,
    };
    let (ledger, resume, playout, events_rx) = {
        let station = Arc::clone(&station);
        let monitor = monitor.clone();
        tokio::task::spawn_blocking(move || open_parts(&station, monitor.as_ref()))
            .await
            .context("starting the station")??
    };
    let recorder = Recorder::start_monitored(ledger, monitor.clone());
    let api_recorder = recorder.clone();
    let (engine, handle) = Engine::new(
        Arc::clone(&station),
        SystemClock,
        wedge_hook(playout.clone()),
        events_rx,
        recorder,
        resume,
    );
    let engine = tokio::spawn(engine.run());
    let current = CurrentStation::new(Arc::clone(&station), file);
    current::render_notices(&current, &handle);
    Ok(Running {
        handle,
        current,
        recorder: api_recorder,
        playout,
        engine,
    })
}

/// The blocking half of [`start`]: the ledger and what it remembers, and
/// the audio thread.
fn open_parts(
    station: &Station,
    monitor: Option<&Monitor>,
) -> Result<(
    Ledger,
    engine::Resume,
    AudioPlayout,
    mpsc::UnboundedReceiver<engine::PlayEvent>,
)> {
    let path = station.ledger_path();
    let ledger = Ledger::open(&path, station.timezone)
        .with_context(|| format!("opening the airtime ledger {}", path.display()))?;
    if ledger.recovered_on_open() > 0 {
        warn!(
            rows = ledger.recovered_on_open(),
            "closed rows a crash or power cut left open as interrupted (\"daemon stopped\")"
        );
    }
    let now = engine::Clock::now(&SystemClock);
    let resume =
        engine::Resume::read(&ledger, now - chrono::Duration::days(SETTLED_LOOKBACK_DAYS))?;
    if let Err(e) = crate::audio::check(&station.output) {
        // Keep running: the device may appear later (a USB card not yet up),
        // and every attempt is recorded `failed` with this reason meanwhile.
        error!("audio output not usable yet: {e}");
    }
    let (audio_tx, audio_rx) = mpsc::unbounded_channel();
    let player =
        crate::audio::spawn_wrapped(&station.output, &station.data_dir, audio_tx, |sink| {
            match monitor {
                Some(m) => m.tap(sink),
                None => sink,
            }
        })
        .context("starting the audio thread")?;
    crate::current::measure_loudness_in_background(station);
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let playout = AudioPlayout::new(player, audio_rx, events_tx);
    Ok((ledger, resume, playout, events_rx))
}

/// `loa run`: until SIGTERM/SIGINT.
pub async fn run(config_path: PathBuf, startup: Startup) -> Result<ExitCode> {
    let Startup { station, file } = startup;
    info!(
        station = %station.name,
        config = %config_path.display(),
        bulletins = station.bulletins.len(),
        programs = station.programs.len(),
        version = env!("CARGO_PKG_VERSION"),
        "starting"
    );
    // Handlers first: once the API answers or systemd hears READY=1, a
    // reload (SIGHUP, `systemctl reload`) or a stop must not meet a signal's
    // default action, which for SIGHUP kills the station.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
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
    // A certificate that cannot be used stops the start, like a taken
    // port: serving the console's passwords in clear instead is no fallback.
    let tls = match &station.api.web.tls {
        Some(t) => Some(
            crate::api::serve::tls_acceptor(&t.cert, &t.key).with_context(|| {
                format!(
                "cannot serve HTTPS ([api] tls_cert / tls_key in {}): fix the files, or remove \
                 both keys to serve plain HTTP",
                config_path.display()
            )
            })?,
        ),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    info!(listen = %listen, "HTTP API and web console listening ({scheme}://{listen}/)");
    log_next(&station);
    let running = start(station, file).await?;
    let api = crate::control::Control::new(
        running.handle.clone(),
        running.current.clone(),
        running.recorder.clone(),
        config_path.clone(),
    );
    let accounts = crate::web::accounts::Accounts::new(&running.current.get());
    // The address bound (the port, when the station file says 0).
    let bound = listener.local_addr().unwrap_or(listen);
    announce_setup(&accounts, running.current.get(), bound).await;
    let fleet_progress = api.fleet.clone();
    // Listens to the province's broker when the station file has
    // `[upstream]`; follows reloads.
    let upstream = crate::upstream::station::spawn(api.clone());
    let admit = http::reserve_admit(api.clone(), std::sync::Arc::clone(&accounts));
    let app = http::app(api, std::sync::Arc::clone(&accounts));
    let server = tokio::spawn(crate::api::serve::serve(
        listener,
        app,
        crate::api::serve::Limits::default(),
        tls,
        admit,
    ));
    // Copies closed airtime rows to the province's database when the
    // station file has `[fleet] postgres`; idle otherwise.
    let shipper = crate::fleet::spawn(running.current.clone(), fleet_progress);
    // READY once the API listens.
    let systemd = crate::systemd::ready(
        &running.handle,
        &running.current,
        &running.playout,
        accounts.setup_link_watch(),
    );
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                // On a task of its own, so this loop keeps answering
                // signals (SIGTERM above all) whatever the reload does.
                // Its outcome is logged; the old station keeps running on
                // errors.
                let (path, current, handle) =
                    (config_path.clone(), running.current.clone(), running.handle.clone());
                tokio::spawn(async move {
                    let trigger = current::Trigger { what: "SIGHUP", client_gone: None };
                    let _ = current::reload(&path, &current, &handle, trigger).await;
                });
            }
        }
    }
    info!("stopping");
    systemd.stopping();
    server.abort();
    shipper.abort();
    upstream.abort();
    let _ = running.handle.commands.send(Command::Shutdown).await;
    if tokio::time::timeout(engine::SHUTDOWN_BUDGET, running.engine)
        .await
        .is_err()
    {
        warn!("the engine did not stop in time; exiting anyway");
    }
    Ok(ExitCode::SUCCESS)
}

/// With no admin in the web console yet, log the one-time setup link (it
/// also leads the systemd status line until an admin exists). An accounts
/// store that cannot be opened is logged; the station airs regardless.
async fn announce_setup(
    accounts: &Arc<crate::web::accounts::Accounts>,
    station: Arc<Station>,
    listen: std::net::SocketAddr,
) {
    let accounts = Arc::clone(accounts);
    let link =
        tokio::task::spawn_blocking(move || crate::web::setup_link(&accounts, &station, listen))
            .await;
    match link {
        Ok(Ok(Some(link))) => warn!(
            "no web console admin yet: open {link} to make one (the link works until an admin \
             exists), or run `sudo loa user add NAME --role admin`"
        ),
        Ok(Ok(None)) => {}
        Ok(Err(e)) => error!("the web console's accounts cannot be opened: {e:#}"),
        Err(e) => error!("the web console's accounts cannot be opened: {e}"),
    }
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
