//! The station as it runs now, and reloading it.
//!
//! The daemon, the API and the systemd status line all read the running
//! station through [`CurrentStation`]; a reload (SIGHUP or
//! `POST /api/v1/reload`) goes through [`reload`], which keeps the old
//! station when the new file has errors and hands a good one to the engine.
//!
//! It also keeps the last station file that was accepted: a copy of its
//! text in `data_dir` ([`LAST_GOOD`]), which `loa run` falls back to when
//! the file it is given cannot run ([`load_for_run`]), so a typo never takes
//! the station off air. Which file runs is in [`FileState`].
//! This module must not know about HTTP, signals or systemd.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tracing::{error, info, warn};

use crate::check::{self, LoadOptions, Loaded};
use crate::config::Station;
use crate::diag::{Category, Diagnostic, Severity};
use crate::engine::{Command, Handle};

/// The copy of the last accepted station file, in `data_dir`.
pub const LAST_GOOD: &str = "last-good-station.toml";

/// Which station file runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Running {
    /// The station file as it is on disk.
    #[default]
    Current,
    /// The last accepted version: the file on disk has errors.
    LastGood,
}

/// What runs, against what the station file on disk says: shown in
/// `/api/v1/status` (`station_file`), `/metrics` and the systemd status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct FileState {
    pub running: Running,
    /// Errors that keep the station file on disk from running (0 when it
    /// runs).
    pub errors: usize,
    /// Bulletins of the running station whose audio file is missing or
    /// would not play: each is recorded `failed` when it comes due.
    pub failing: Vec<String>,
}

impl FileState {
    /// The file on disk runs.
    pub fn current(loaded: &Loaded) -> FileState {
        FileState {
            running: Running::Current,
            errors: 0,
            failing: failing(loaded),
        }
    }
}

/// Bulletins with an audio error, in the station file's order. An audio
/// error names its bulletin by the loader's own label for it
/// (`config::item_label`); one about no bulletin (`audio_dir` itself)
/// fails them all.
fn failing(loaded: &Loaded) -> Vec<String> {
    let bulletins = loaded.station.iter().flat_map(|s| &s.bulletins);
    let by_label: std::collections::HashMap<String, &str> = bulletins
        .clone()
        .map(|b| (crate::config::item_label("bulletin", &b.id), b.id.as_str()))
        .collect();
    let mut ids: Vec<String> = Vec::new();
    for d in loaded.diagnostics.audio_errors() {
        match d.item.as_deref().and_then(|l| by_label.get(l)) {
            Some(id) if !ids.iter().any(|x| x == id) => ids.push(id.to_string()),
            Some(_) => {}
            None => return bulletins.map(|b| b.id.clone()).collect(),
        }
    }
    ids
}

/// The station the daemon runs now, shared by the signal loop and the API,
/// so a reload from either is seen by both (tokens included).
#[derive(Clone)]
pub struct CurrentStation {
    /// A `watch` so that others (the systemd status line) follow reloads.
    station: Arc<tokio::sync::watch::Sender<Arc<Station>>>,
    /// Which file runs; a `watch` for the same reason.
    file: Arc<tokio::sync::watch::Sender<FileState>>,
    /// One reload at a time: SIGHUP and `POST /api/v1/reload` racing would
    /// each keep the restart-only settings of a station the other replaced.
    reloading: Arc<tokio::sync::Mutex<()>>,
    /// A load is running on a blocking thread (it may outlive a reload
    /// that gave up on it at [`RELOAD_TIMEOUT`]).
    loading: Arc<AtomicBool>,
}

impl CurrentStation {
    pub fn new(station: Arc<Station>, file: FileState) -> Self {
        CurrentStation {
            station: Arc::new(tokio::sync::watch::Sender::new(station)),
            file: Arc::new(tokio::sync::watch::Sender::new(file)),
            reloading: Arc::default(),
            loading: Arc::default(),
        }
    }

    /// Which station file runs.
    pub fn file(&self) -> FileState {
        self.file.borrow().clone()
    }

    /// Follow which station file runs.
    pub fn subscribe_file(&self) -> tokio::sync::watch::Receiver<FileState> {
        self.file.subscribe()
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

/// Longest a reload may spend loading the station file (reading, parsing,
/// probing its audio files) before it is given up and the old station kept.
/// A station of 100,000 bulletins loads in a few seconds.
pub const RELOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// A diagnostic about loading as a whole (not about a place in the file).
fn load_failure(path: &Path, message: String, hint: &str) -> Vec<Diagnostic> {
    vec![Diagnostic {
        severity: Severity::Error,
        category: Category::Station,
        file: path.to_path_buf(),
        position: None,
        item: None,
        key: None,
        message,
        hint: Some(hint.into()),
    }]
}

/// Clears [`CurrentStation::loading`] when a load ends, even one that ran
/// past [`RELOAD_TIMEOUT`] and was given up.
struct Loading(Arc<AtomicBool>);

impl Drop for Loading {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Load the station file again: the station (its text, to keep as the last
/// good one, and what fails), or every error (all diagnostics are logged
/// either way). Off the runtime, at most [`RELOAD_TIMEOUT`], and one load
/// at a time: a load given up at the timeout still holds the CPU until it
/// ends, and a reload asked meanwhile is refused instead of adding another.
async fn load_for_reload(
    path: &Path,
    current: &CurrentStation,
) -> Result<(Station, String, FileState), Vec<Diagnostic>> {
    if current.loading.swap(true, Ordering::AcqRel) {
        return Err(load_failure(
            path,
            format!(
                "a previous reload is still loading the station file (it ran past the {} s \
                 limit); the station keeps running the old one",
                RELOAD_TIMEOUT.as_secs()
            ),
            "wait, then reload again; if it happens again, look in the log for what the load \
             is stuck on (audio files on a slow network disk?)",
        ));
    }
    let loading = Loading(Arc::clone(&current.loading));
    let owned = path.to_path_buf();
    let task = tokio::task::spawn_blocking(move || {
        let _loading = loading;
        check::load_with_text(&owned, LoadOptions::default())
    });
    let (text, loaded) = match tokio::time::timeout(RELOAD_TIMEOUT, task).await {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            return Err(load_failure(
                path,
                format!("loading the station file failed: {e}"),
                "see the daemon's log",
            ))
        }
        Err(_) => {
            return Err(load_failure(
                path,
                format!(
                    "loading the station file took more than {} s; gave up, the station keeps \
                     running the old one",
                    RELOAD_TIMEOUT.as_secs()
                ),
                "check that the file and its audio files are on a local disk; `loa check` \
                 shows how long loading takes",
            ))
        }
    };
    log_diagnostics(&loaded);
    let file = FileState::current(&loaded);
    match loaded.station {
        Some(s) => Ok((s, text, file)),
        None => Err(loaded.diagnostics.errors().cloned().collect()),
    }
}

/// Every diagnostic to the log; audio errors also say what will fail.
fn log_diagnostics(loaded: &Loaded) {
    for d in &loaded.diagnostics.items {
        match d.severity {
            Severity::Error => error!("{d}"),
            Severity::Warning => warn!("{d}"),
        }
    }
    let failing = failing(loaded);
    if loaded.station.is_some() && !failing.is_empty() {
        error!(
            bulletins = %failing.join(", "),
            "these bulletins' audio is missing or would not play: each is recorded failed when it comes due; the rest airs"
        );
    }
}

/// What a reload ends with: the station now running and which file runs,
/// or every error (the old station keeps running).
pub type Reloaded = Result<(Arc<Station>, FileState), Vec<Diagnostic>>;

/// Who asked for a reload, for the log line that says how it ended.
pub struct Trigger<'a> {
    /// E.g. `SIGHUP`, or `POST /api/v1/reload by quan-tri`.
    pub what: &'a str,
    /// For a request: whether its client has gone (closed the connection)
    /// by the time the reload ends.
    pub client_gone: Option<&'a (dyn Fn() -> bool + Sync)>,
}

/// Reload the station file into the running station: what SIGHUP and
/// `POST /api/v1/reload` both do. A file that cannot run changes nothing
/// and its errors are returned; one that can (audio errors allowed: those
/// items fail when due) keeps the restart-only settings of the running
/// station, becomes the last good copy and goes to the engine. Either way
/// one line says how it ended, what asked for it and how long it took.
pub async fn reload(
    path: &Path,
    current: &CurrentStation,
    handle: &Handle,
    trigger: Trigger<'_>,
) -> Reloaded {
    info!(trigger = trigger.what, "reloading {}", path.display());
    let started = std::time::Instant::now();
    let r = reload_unlogged(path, current, handle).await;
    log_reload(&r, path, &trigger, started.elapsed());
    r
}

/// The log line of [`reload`].
fn log_reload(r: &Reloaded, path: &Path, trigger: &Trigger<'_>, took: Duration) {
    let client = match trigger.client_gone.map(|gone| gone()) {
        Some(true) => "; the client had gone before the answer",
        Some(false) | None => "",
    };
    let seconds = format!("{:.3}", took.as_secs_f64());
    match r {
        Ok((st, file)) => info!(
            trigger = trigger.what,
            config = %path.display(),
            bulletins = st.bulletins.len(),
            programs = st.programs.len(),
            relays = st.relays.len(),
            failing = file.failing.len(),
            seconds,
            "reload done: the station file on disk runs now{client}"
        ),
        Err(errors) => error!(
            trigger = trigger.what,
            config = %path.display(),
            errors = errors.len(),
            seconds,
            reason = %errors.first().map(ToString::to_string).unwrap_or_default(),
            "reload refused: still running the old one{client}"
        ),
    }
}

async fn reload_unlogged(path: &Path, current: &CurrentStation, handle: &Handle) -> Reloaded {
    let _one_at_a_time = current.reloading.lock().await;
    let (mut new, text, file) = match load_for_reload(path, current).await {
        Ok(loaded) => loaded,
        Err(errors) => {
            let stations = errors
                .iter()
                .filter(|d| d.category == Category::Station)
                .count();
            current.file.send_modify(|f| {
                f.running = Running::LastGood;
                f.errors = stations;
            });
            return Err(errors);
        }
    };
    keep_restart_only_settings(&current.get(), &mut new);
    measure_loudness_in_background(&new);
    let data_dir = new.data_dir.clone();
    // Awaited: whoever asked for the reload may rely on the copy (an fsync).
    let _ = tokio::task::spawn_blocking(move || save_last_good(&data_dir, &text)).await;
    let new = Arc::new(new);
    current.set(Arc::clone(&new));
    current.file.send_replace(file.clone());
    let _ = handle
        .commands
        .send(Command::Reload(Arc::clone(&new)))
        .await;
    render_notices(current, handle);
    Ok((new, file))
}

/// Read aloud, in the background, the typed notices of the running station
/// whose cache is missing, so that they are ready when due; then probe
/// them and hand the station to the engine again. A notice the speech
/// engine fails on is logged and recorded `failed` with the reason when
/// due; the rest of the station airs meanwhile. A reload that comes first
/// renders its own.
pub fn render_notices(current: &CurrentStation, handle: &Handle) {
    let station = current.get();
    if !station.bulletins.iter().any(crate::tts::needs_render) {
        return;
    }
    let (current, handle) = (current.clone(), handle.clone());
    tokio::spawn(async move {
        let st = Arc::clone(&station);
        let Ok(results) =
            tokio::task::spawn_blocking(move || crate::tts::render_missing(&st)).await
        else {
            return;
        };
        let mut new = (*station).clone();
        let (mut read, mut failed) = (Vec::new(), Vec::new());
        for (path, r) in results {
            for b in new
                .bulletins
                .iter_mut()
                .filter(|b| b.text.is_some() && b.path == path)
            {
                match &r {
                    Ok(audio) => {
                        info!(bulletin = %b.id, seconds = audio.seconds, "typed notice read aloud");
                        b.audio = Some(audio.clone());
                        b.tts_error = None;
                        read.push(b.id.clone());
                    }
                    Err(e) => {
                        error!(bulletin = %b.id, "cannot read the typed notice aloud: {e}; it is recorded failed when due");
                        b.tts_error = Some(e.to_string());
                        failed.push(b.id.clone());
                    }
                }
            }
        }
        let _one_at_a_time = current.reloading.lock().await;
        if !Arc::ptr_eq(&current.get(), &station) {
            return;
        }
        let new = Arc::new(new);
        current.set(Arc::clone(&new));
        // The status and /metrics name the notices that will fail.
        current.file.send_modify(|f| {
            f.failing.retain(|id| !read.contains(id));
            for id in failed {
                if !f.failing.contains(&id) {
                    f.failing.push(id);
                }
            }
        });
        let _ = handle.commands.send(Command::Reload(new)).await;
    });
}

/// Queue the station's bulletin files whose loudness is not known yet to
/// be measured in the background (at start, and on each reload for the
/// files it adds); they air as recorded until then. Nothing when
/// levelling is off. Costs a `stat` per file.
pub(crate) fn measure_loudness_in_background(station: &Station) {
    if station.output.loudness_lufs.is_none() {
        return;
    }
    crate::audio::loudness::cache(&station.data_dir).measure_in_background(
        station
            .bulletins
            .iter()
            .filter(|b| b.audio.is_some())
            .map(|b| b.path.clone()),
    );
}

/// What `loa run` starts with.
pub struct Startup {
    pub station: Station,
    pub file: FileState,
}

/// Load the station file for `loa run`. A file that can run (audio errors
/// allowed) is kept as the last good copy; one that cannot is replaced by
/// the last good copy, loudly. `None` only when neither can run: the
/// station never runs nothing when something good is known. Everything
/// found is logged.
pub fn load_for_run(path: &Path) -> Option<Startup> {
    let (text, loaded) = check::load_with_text(path, LoadOptions::default());
    log_diagnostics(&loaded);
    let errors = loaded.diagnostics.station_errors().count();
    let file = FileState::current(&loaded);
    if let Some(station) = loaded.station {
        save_last_good(&station.data_dir, &text);
        return Some(Startup { station, file });
    }
    let copy = crate::config::data_dir_of(&text, path).join(LAST_GOOD);
    let good = match crate::config::read_station_file(&copy) {
        Ok(good) => good,
        Err(e) if e.not_found => {
            error!(
                errors,
                last_good = %copy.display(),
                "the station file has errors and no last good copy is kept; not starting"
            );
            return None;
        }
        Err(e) => {
            error!(
                errors,
                last_good = %copy.display(),
                "the station file has errors and the last good copy cannot be read ({e}); not starting"
            );
            return None;
        }
    };
    // Relative paths in the copy are relative to the station file's folder;
    // its diagnostics point into the copy.
    let mut last = check::load_str(&good, path, LoadOptions::default());
    for d in &mut last.diagnostics.items {
        d.file.clone_from(&copy);
    }
    log_diagnostics(&last);
    let failing = failing(&last);
    match last.station {
        Some(station) => {
            error!(
                errors,
                config = %path.display(),
                last_good = %copy.display(),
                "THE STATION FILE HAS ERRORS: running the last good copy instead; fix the file (loa check) and reload"
            );
            Some(Startup {
                station,
                file: FileState {
                    running: Running::LastGood,
                    errors,
                    failing,
                },
            })
        }
        None => {
            error!(
                last_good = %copy.display(),
                "the station file has errors and the last good copy no longer loads; not starting"
            );
            None
        }
    }
}

/// Keep `text` as the last accepted station file: written whole, then
/// renamed over the old copy, so a power cut leaves one or the other.
/// A failure is logged, not fatal: the station airs either way.
pub fn save_last_good(data_dir: &Path, text: &str) {
    let copy = data_dir.join(LAST_GOOD);
    match write_atomically(&copy, text) {
        Ok(()) => info!(last_good = %copy.display(), "kept as the last good station file"),
        Err(e) => warn!(
            last_good = %copy.display(),
            "cannot keep the last good station file: {e}"
        ),
    }
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    std::fs::create_dir_all(&dir)?;
    if crate::config::read_station_file(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    let tmp = dir.join(format!(".{LAST_GOOD}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(&dir)?.sync_all()
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
