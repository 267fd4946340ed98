//! `loa run` under systemd: readiness, the status line and the watchdog
//! (the `sd_notify(3)` protocol, `Type=notify` + `WatchdogSec=` in
//! `systemd/loa.service`).
//!
//! It owns what is said to the service manager and when:
//! - `READY=1` once, when `daemon::run` says the station is up (station file
//!   loaded, ledger open, API listening), so `systemctl start loa` returns
//!   only when the station really runs, and units ordered after it wait;
//! - `STATUS=` whenever what the operator should see changes ("Đang phát:
//!   …", "Tiếp theo: … lúc 17:00", "Tạm dừng"), shown by `systemctl status`;
//! - `WATCHDOG=1` every half `WatchdogSec`, and only while the engine and
//!   the audio thread both answer: a wedged station stops the pings and
//!   systemd restarts it. A station that is alive but silent on the
//!   loudspeakers is worse than a restart, which costs seconds.
//!
//! It must not touch the engine's state nor the ledger: it only reads the
//! engine's `watch` status and asks `Liveness`. Outside systemd (no
//! `NOTIFY_SOCKET`) nothing is sent and no task runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sd_notify::NotifyState;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::{Priority, Station};
use crate::current::{CurrentStation, FileState, Running};
use crate::engine::{AudioPlayout, Handle, OutputState, Pinger, Playout, Status};
use crate::schedule;

/// Whether the parts that make the station air still answer. The watchdog
/// asks from a blocking thread: implementations may block (the audio ping
/// waits up to 2 s).
pub trait Liveness: Send + Sync + 'static {
    fn engine_alive(&self) -> bool;
    fn audio_alive(&self) -> bool;
}

/// One watchdog round's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Alive,
    EngineWedged,
    AudioWedged,
}

impl Health {
    pub fn of(l: &dyn Liveness) -> Health {
        if !l.engine_alive() {
            Health::EngineWedged
        } else if !l.audio_alive() {
            Health::AudioWedged
        } else {
            Health::Alive
        }
    }
}

/// The running station as the watchdog sees it.
///
/// The engine counts as alive when it answers a ping (its own line, not
/// the command channel, so a backlog of commands is not a wedge) within
/// `ENGINE_PING_TIMEOUT`: a crashed engine, one stuck in an endless
/// `.await` or a loop, and a runtime with every worker stuck all stop the
/// pings.
pub struct StationLiveness {
    engine: Pinger,
    playout: AudioPlayout,
}

impl StationLiveness {
    pub fn new(engine: Pinger, playout: AudioPlayout) -> Self {
        StationLiveness { engine, playout }
    }
}

/// How long the engine may take to answer the watchdog's ping. Its loop
/// wakes at least every second, so this is generous.
const ENGINE_PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

impl Liveness for StationLiveness {
    fn engine_alive(&self) -> bool {
        // Called from a blocking thread (see `Liveness`).
        self.engine.answers(ENGINE_PING_TIMEOUT)
    }

    fn audio_alive(&self) -> bool {
        // Blocking: a round-trip to the audio thread with a 2 s timeout.
        self.playout.alive()
    }
}

/// A test hook: after the given delay, report the audio thread wedged, so a
/// test can see the pings stop without breaking the audio for real. Read
/// from `LOA_TEST_WEDGE_AUDIO` (seconds after start) in a `test-hooks`
/// build only: a shipped build has no such hook. (`LOA_TEST_WEDGE_ENGINE`
/// wedges the engine for real, in `crate::daemon`, so the engine's ping
/// times out.)
pub struct Wedge<L> {
    inner: L,
    start: Instant,
    audio_after: Option<Duration>,
}

impl<L: Liveness> Wedge<L> {
    pub fn new(inner: L, audio_after: Option<Duration>) -> Self {
        Wedge {
            inner,
            start: Instant::now(),
            audio_after,
        }
    }

    /// Wrap `inner` with the delay from `LOA_TEST_WEDGE_AUDIO` (only in a
    /// build with the `test-hooks` feature; a shipped build never wedges).
    pub fn from_env(inner: L) -> Self {
        #[cfg(feature = "test-hooks")]
        let after = {
            let name = "LOA_TEST_WEDGE_AUDIO";
            std::env::var(name)
                .ok()
                .and_then(|v| match v.parse::<f64>() {
                    Ok(s) if s >= 0.0 => {
                        warn!("{name}={v}: test hook, the watchdog will stop after {s} s");
                        Some(Duration::from_secs_f64(s))
                    }
                    _ => {
                        warn!("{name}={v} ignored: give seconds, e.g. {name}=3");
                        None
                    }
                })
        };
        #[cfg(not(feature = "test-hooks"))]
        let after = None;
        Wedge::new(inner, after)
    }
}

impl<L: Liveness> Liveness for Wedge<L> {
    fn engine_alive(&self) -> bool {
        self.inner.engine_alive()
    }

    fn audio_alive(&self) -> bool {
        let wedged = self.audio_after.is_some_and(|d| self.start.elapsed() >= d);
        !wedged && self.inner.audio_alive()
    }
}

type Sink = dyn Fn(&[NotifyState]) + Send + Sync;

/// Where notifications go: the service manager's socket, or (tests) a
/// recorder.
#[derive(Clone)]
pub struct Notifier {
    sink: Arc<Sink>,
}

impl Notifier {
    /// `$NOTIFY_SOCKET`, when systemd gave one.
    pub fn from_env() -> Option<Notifier> {
        std::env::var_os("NOTIFY_SOCKET")?;
        let warned = std::sync::atomic::AtomicBool::new(false);
        Some(Notifier::new(move |states| {
            if let Err(e) = sd_notify::notify(states) {
                // Once: a broken socket would otherwise log every ping.
                if !warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    warn!("cannot notify systemd through $NOTIFY_SOCKET: {e}");
                }
            }
        }))
    }

    pub fn new(sink: impl Fn(&[NotifyState]) + Send + Sync + 'static) -> Notifier {
        Notifier {
            sink: Arc::new(sink),
        }
    }

    pub fn send(&self, states: &[NotifyState]) {
        (self.sink)(states)
    }
}

/// Ping `notifier` every `every` while `liveness` says the station answers.
/// Returns only when the runtime shuts down.
pub async fn watchdog(liveness: Arc<dyn Liveness>, every: Duration, notifier: Notifier) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Health::Alive;
    loop {
        tick.tick().await;
        let l = Arc::clone(&liveness);
        let Ok(health) = tokio::task::spawn_blocking(move || Health::of(&*l)).await else {
            return;
        };
        if health != last {
            match health {
                Health::Alive => info!("the station answers again; watchdog pings resume"),
                Health::EngineWedged => error!(
                    "the engine does not answer: watchdog pings stop, systemd restarts the station when WatchdogSec runs out"
                ),
                Health::AudioWedged => error!(
                    "the audio thread does not answer: watchdog pings stop, systemd restarts the station when WatchdogSec runs out"
                ),
            }
            last = health;
        }
        if health == Health::Alive {
            notifier.send(&[NotifyState::Watchdog]);
        }
    }
}

/// How far ahead the status line looks for what airs next.
const NEXT_HORIZON_DAYS: i64 = 8;
/// The status line is refreshed at least this often (so "next" moves on
/// after an occurrence that did not air).
const STATUS_REFRESH: Duration = Duration::from_secs(30);
/// Longest output error shown in the status line.
const MAX_REASON_CHARS: usize = 120;

/// The one-line status `systemctl status loa` shows, Vietnamese first:
/// what airs, else that the station is paused, else what airs next; then
/// the output's failure and a suspect clock, if any.
pub fn status_line(status: &Status, station: &Station, now: DateTime<Utc>) -> String {
    let mut line = if let Some(a) = &status.airing {
        let mut s = format!("Đang phát: {}", one_line(&a.title));
        if a.priority == Priority::Emergency {
            s.push_str(" (khẩn cấp)");
        }
        s
    } else if status.paused {
        "Tạm dừng".to_string()
    } else {
        match next_up(status, station, now) {
            Some((title, at)) => format!(
                "Tiếp theo: {} lúc {}",
                one_line(&title),
                when(at, station, now)
            ),
            None => format!("Không có gì trong lịch {NEXT_HORIZON_DAYS} ngày tới"),
        }
    };
    if let OutputState::Failed { reason } = &status.output {
        let reason = reason.0.text(crate::reason::Lang::Vi);
        let reason: String = one_line(&reason).chars().take(MAX_REASON_CHARS).collect();
        line.push_str(&format!(" · {reason}"));
    }
    if status.clock_suspect {
        line.push_str(" · Đồng hồ chưa đúng giờ, lịch đang chờ");
    }
    if let Some(l) = status.line {
        if l.silent {
            line.push_str(" · Loa không có tiếng");
        }
        if l.foreign {
            line.push_str(" · Có tiếng lạ trên loa");
        }
    }
    line
}

/// The earliest of what waits in the engine's queue and what the plan has.
fn next_up(
    status: &Status,
    station: &Station,
    now: DateTime<Utc>,
) -> Option<(String, DateTime<Utc>)> {
    let queued = status.queue_next.as_ref().map(|q| (q.title.clone(), q.at));
    let planned = [1, NEXT_HORIZON_DAYS].iter().find_map(|&days| {
        schedule::schedule(station, now, now + chrono::Duration::days(days))
            .first()
            .map(|o| (o.title.to_string(), o.at.with_timezone(&Utc)))
    });
    match (queued, planned) {
        (Some(q), Some(p)) if p.1 < q.1 => Some(p),
        (Some(q), _) => Some(q),
        (None, p) => p,
    }
}

/// `17:00` today, `05:30 ngày 08/10` another day (station-local).
fn when(at: DateTime<Utc>, station: &Station, now: DateTime<Utc>) -> String {
    let tz = station.timezone;
    let local = at.with_timezone(&tz);
    let time = if local.format("%S").to_string() == "00" {
        local.format("%H:%M").to_string()
    } else {
        local.format("%H:%M:%S").to_string()
    };
    if local.date_naive() == now.with_timezone(&tz).date_naive() {
        time
    } else {
        format!("{time} ngày {}", local.format("%d/%m"))
    }
}

/// A notification is newline-separated: a title must stay on one line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The status line, led by a loud note when the station file on disk does
/// not run (the last good copy does) and followed by the count of
/// bulletins that will fail.
pub fn status_with_file(line: String, file: &FileState) -> String {
    let mut out = String::new();
    if file.running == Running::LastGood {
        out.push_str(&format!(
            "TỆP CẤU HÌNH LỖI ({} lỗi), đang chạy bản tốt gần nhất (station file has errors: running the last good copy) · ",
            file.errors
        ));
    }
    out.push_str(&line);
    if !file.failing.is_empty() {
        out.push_str(&format!(
            " · {} bản tin thiếu/hỏng tệp âm thanh",
            file.failing.len()
        ));
    }
    out
}

/// The status line led by the web console's first-start link while no
/// admin exists.
fn with_setup(line: String, setup: Option<&str>) -> String {
    match setup {
        Some(link) => format!("Thiết lập lần đầu (first start): mở {link} · {line}"),
        None => line,
    }
}

/// Keep `STATUS=` in step with the engine's status, the station file and
/// the console's first-start link.
async fn status_task(
    mut status: watch::Receiver<Status>,
    mut station: watch::Receiver<Arc<Station>>,
    mut file: watch::Receiver<FileState>,
    mut setup: watch::Receiver<Option<String>>,
    notifier: Notifier,
) {
    let mut last = String::new();
    loop {
        let line = {
            let st = station.borrow_and_update().clone();
            let s = status.borrow_and_update().clone();
            let f = file.borrow_and_update().clone();
            let link = setup.borrow_and_update().clone();
            with_setup(
                status_with_file(status_line(&s, &st, Utc::now()), &f),
                link.as_deref(),
            )
        };
        if line != last {
            notifier.send(&[NotifyState::Status(&line)]);
            last = line;
        }
        tokio::select! {
            r = status.changed() => if r.is_err() { return },
            r = station.changed() => if r.is_err() { return },
            r = file.changed() => if r.is_err() { return },
            Ok(()) = setup.changed() => {}
            _ = tokio::time::sleep(STATUS_REFRESH) => {}
        }
    }
}

/// What `daemon::run` keeps to talk to systemd after `ready`.
pub struct Systemd {
    notifier: Option<Notifier>,
}

/// The station is up: say `READY=1`, then keep the status line and the
/// watchdog going. Call it once the API listens. Without `NOTIFY_SOCKET`
/// it does nothing. `setup` is the web console's first-start link, shown
/// first in the status line while it is `Some`.
pub fn ready(
    handle: &Handle,
    current: &CurrentStation,
    playout: &AudioPlayout,
    setup: watch::Receiver<Option<String>>,
) -> Systemd {
    // The status line's "next" follows reloads (SIGHUP or the API).
    let station_rx = current.subscribe();
    let Some(notifier) = Notifier::from_env() else {
        return Systemd { notifier: None };
    };
    let status = {
        let s = handle.status.borrow().clone();
        let line = status_with_file(status_line(&s, &current.get(), Utc::now()), &current.file());
        with_setup(line, setup.borrow().as_deref())
    };
    notifier.send(&[NotifyState::Ready, NotifyState::Status(&status)]);
    info!("told systemd the station is ready");
    tokio::spawn(status_task(
        handle.status.clone(),
        station_rx,
        current.subscribe_file(),
        setup,
        notifier.clone(),
    ));
    if let Some(timeout) = sd_notify::watchdog_enabled() {
        let every = timeout / 2;
        info!(
            "systemd watchdog: {} s; pinging every {} ms while the engine and the audio thread answer",
            timeout.as_secs_f64(),
            every.as_millis()
        );
        let liveness = Wedge::from_env(StationLiveness::new(handle.ping.clone(), playout.clone()));
        tokio::spawn(watchdog(Arc::new(liveness), every, notifier.clone()));
    }
    Systemd {
        notifier: Some(notifier),
    }
}

impl Systemd {
    /// Say `STOPPING=1`, so `systemctl status` shows the station going down
    /// rather than hung.
    pub fn stopping(&self) {
        if let Some(n) = &self.notifier {
            n.send(&[NotifyState::Stopping, NotifyState::Status("Đang dừng")]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Mutex;

    use crate::engine::{AiringView, QueuedView};
    use crate::ledger::Source;

    struct Fake {
        engine: AtomicBool,
        audio: AtomicBool,
        rounds: AtomicUsize,
    }

    impl Fake {
        fn new() -> Arc<Fake> {
            Arc::new(Fake {
                engine: AtomicBool::new(true),
                audio: AtomicBool::new(true),
                rounds: AtomicUsize::new(0),
            })
        }
    }

    impl Liveness for Arc<Fake> {
        fn engine_alive(&self) -> bool {
            self.rounds.fetch_add(1, Ordering::SeqCst);
            self.engine.load(Ordering::SeqCst)
        }
        fn audio_alive(&self) -> bool {
            self.audio.load(Ordering::SeqCst)
        }
    }

    fn recorder() -> (Notifier, Arc<Mutex<Vec<String>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = Arc::clone(&log);
        let n = Notifier::new(move |states| {
            let mut g = l.lock().unwrap();
            g.extend(states.iter().map(|s| s.to_string()));
        });
        (n, log)
    }

    #[test]
    fn health_names_the_part_that_does_not_answer() {
        let f = Fake::new();
        assert_eq!(Health::of(&f), Health::Alive);
        f.audio.store(false, Ordering::SeqCst);
        assert_eq!(Health::of(&f), Health::AudioWedged);
        f.engine.store(false, Ordering::SeqCst);
        assert_eq!(Health::of(&f), Health::EngineWedged);
    }

    #[test]
    fn the_wedge_hook_takes_effect_after_its_delay() {
        let w = Wedge::new(Fake::new(), Some(Duration::from_secs(3600)));
        assert_eq!(Health::of(&w), Health::Alive);
        let w = Wedge::new(Fake::new(), Some(Duration::ZERO));
        assert_eq!(Health::of(&w), Health::AudioWedged);
        let w = Wedge::new(Fake::new(), None);
        assert_eq!(Health::of(&w), Health::Alive);
    }

    /// Wait (virtual time) until the fake has been asked `n` times.
    async fn rounds(f: &Fake, n: usize) {
        while f.rounds.load(Ordering::SeqCst) < n {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pings_stop_while_a_part_is_wedged_and_resume_after() {
        let f = Fake::new();
        let (n, log) = recorder();
        let dog = tokio::spawn(watchdog(
            Arc::new(Arc::clone(&f)),
            Duration::from_secs(5),
            n,
        ));
        rounds(&f, 3).await;
        let pings = |log: &Mutex<Vec<String>>| {
            log.lock()
                .unwrap()
                .iter()
                .filter(|s| *s == "WATCHDOG=1")
                .count()
        };
        assert_eq!(pings(&log), 3);
        f.audio.store(false, Ordering::SeqCst);
        rounds(&f, 6).await;
        assert_eq!(pings(&log), 3, "no ping while the audio thread is wedged");
        f.audio.store(true, Ordering::SeqCst);
        f.engine.store(false, Ordering::SeqCst);
        rounds(&f, 9).await;
        assert_eq!(pings(&log), 3, "no ping while the engine is wedged");
        f.engine.store(true, Ordering::SeqCst);
        rounds(&f, 11).await;
        assert_eq!(pings(&log), 5);
        dog.abort();
    }

    /// A sound card whose driver hangs in `open` until released: the audio
    /// thread blocks in it and stops answering, as with a wedged driver.
    struct HangingSink {
        release: Arc<(Mutex<bool>, std::sync::Condvar)>,
    }

    impl crate::audio::Sink for HangingSink {
        fn open(
            &mut self,
            _: crate::audio::Format,
        ) -> Result<crate::audio::Format, crate::audio::SinkError> {
            let (lock, cv) = &*self.release;
            let mut released = lock.lock().unwrap();
            while !*released {
                released = cv.wait(released).unwrap();
            }
            Err(crate::audio::SinkError::new("test card released"))
        }
        fn begin(&mut self, _: Instant) {}
        fn write(&mut self, _: &[f32]) -> Result<usize, crate::audio::SinkError> {
            Ok(0)
        }
        fn pending(&self) -> Duration {
            Duration::ZERO
        }
        fn delivered(&self) -> crate::audio::Delivery {
            crate::audio::Delivery::default()
        }
        fn discard_pending(&mut self) {}
        fn end(&mut self) -> Result<(), crate::audio::SinkError> {
            Ok(())
        }
        fn close(&mut self) {}
        fn is_open(&self) -> bool {
            false
        }
    }

    /// Releases a `HangingSink` when dropped.
    struct Unblock(Arc<(Mutex<bool>, std::sync::Condvar)>);

    impl Drop for Unblock {
        fn drop(&mut self) {
            *self.0 .0.lock().unwrap_or_else(|e| e.into_inner()) = true;
            self.0 .1.notify_all();
        }
    }

    /// The daemon's wiring on `sink`: a real audio thread under an
    /// `AudioPlayout`, and a real engine over it, not running yet.
    fn real_station(
        sink: Box<dyn crate::audio::Sink>,
    ) -> (
        crate::engine::Engine<crate::engine::SystemClock, AudioPlayout>,
        Handle,
        AudioPlayout,
        tempfile::TempDir,
    ) {
        let (audio_tx, audio_rx) = tokio::sync::mpsc::unbounded_channel();
        let player =
            crate::audio::Player::spawn(sink, crate::audio::PlayerOptions::default(), audio_tx)
                .unwrap();
        let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
        let playout = AudioPlayout::new(player, audio_rx, events_tx);
        let dir = tempfile::tempdir().unwrap();
        let st = station();
        let ledger =
            crate::ledger::Ledger::open(&dir.path().join("airtime.db"), st.timezone).unwrap();
        let resume = crate::engine::Resume::read(&ledger, chrono::Utc::now()).unwrap();
        let (engine, handle) = crate::engine::Engine::new(
            Arc::new(st),
            crate::engine::SystemClock,
            playout.clone(),
            events_rx,
            crate::engine::Recorder::start(ledger),
            resume,
        );
        (engine, handle, playout, dir)
    }

    /// Shut the engine down and wait until its task is gone.
    async fn stop(handle: &Handle, task: tokio::task::JoinHandle<()>) {
        handle
            .commands
            .send(crate::engine::Command::Shutdown)
            .await
            .unwrap();
        task.await.unwrap();
    }

    /// Ask `l` from a blocking thread, as the watchdog does; with how long
    /// it took.
    async fn ask(l: &Arc<StationLiveness>) -> (Health, Duration) {
        let l = Arc::clone(l);
        tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            (Health::of(&*l), t.elapsed())
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_engine_that_does_not_answer_or_is_gone_is_wedged() {
        let (engine, handle, playout, _dir) =
            real_station(Box::new(crate::audio::NullSink::new(false)));
        let l = Arc::new(StationLiveness::new(handle.ping.clone(), playout));

        // The engine exists but its loop never turns: the ping times out.
        let (health, took) = ask(&l).await;
        assert_eq!(health, Health::EngineWedged);
        assert!(took >= ENGINE_PING_TIMEOUT, "{took:?}");

        // Its loop runs: it answers (once it took the stale ping).
        let task = tokio::spawn(engine.run());
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (health, took) = ask(&l).await;
        assert_eq!(health, Health::Alive);
        assert!(took < ENGINE_PING_TIMEOUT, "{took:?}");

        // Stopped and gone: the closed line says so at once.
        stop(&handle, task).await;
        let (health, took) = ask(&l).await;
        assert_eq!(health, Health::EngineWedged);
        assert!(took < Duration::from_secs(1), "{took:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_audio_thread_stuck_in_its_driver_is_wedged() {
        let release = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let sink = HangingSink {
            release: Arc::clone(&release),
        };
        let (engine, handle, playout, _dir) = real_station(Box::new(sink));
        // Dropped first, also when an assertion fails: the audio thread is
        // let go before the player is shut down and joined.
        let unblock = Unblock(Arc::clone(&release));
        let task = tokio::spawn(engine.run());
        let l = Arc::new(StationLiveness::new(handle.ping.clone(), playout.clone()));
        assert_eq!(ask(&l).await.0, Health::Alive);

        // An item makes the audio thread open the card, where it hangs.
        let mut cueing = playout.clone();
        cueing.cue(crate::engine::playout::Cue {
            id: 999,
            path: crate::audio::testdata("tone1s.wav"),
            expected_seconds: 1.0,
            start_at: None,
            relay: None,
        });
        // Once the thread is in the driver, a ping waits its 2 s and fails.
        let mut asked = ask(&l).await;
        for _ in 0..40 {
            if asked.0 != Health::Alive {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            asked = ask(&l).await;
        }
        let (health, took) = asked;
        assert_eq!(health, Health::AudioWedged);
        assert!(took >= Duration::from_secs(2), "{took:?}");

        // The driver lets go: the thread answers again.
        drop(unblock);
        let mut health = Health::AudioWedged;
        for _ in 0..5 {
            health = ask(&l).await.0;
            if health == Health::Alive {
                break;
            }
        }
        assert_eq!(health, Health::Alive);
        stop(&handle, task).await;
    }

    fn station() -> Station {
        let dir = tempfile::tempdir().unwrap();
        let audio = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("audio");
        let path = dir.path().join("station.toml");
        std::fs::write(
            &path,
            format!(
                r#"
[station]
name = "Test"
timezone = "Asia/Ho_Chi_Minh"
audio_dir = "{}"
data_dir = "var"

[[bulletin]]
id = "chieu"
title = "Bản tin\nbuổi chiều"
file = "cds/thong-diep.mp3"
at = ["17:00"]
"#,
                audio.display()
            ),
        )
        .unwrap();
        let loaded = crate::check::load(&path, crate::check::LoadOptions::default());
        loaded
            .station
            .unwrap_or_else(|| panic!("{}", loaded.diagnostics))
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Assert the status line of `s` at `at` (HH:MM on 7 October 2026,
    /// station time) on the test station.
    fn says(s: &Status, at: &str, line: &str) {
        let now = utc(&format!("2026-10-07T{at}:00+07:00"));
        assert_eq!(status_line(s, &station(), now), line);
    }

    #[test]
    fn status_line_says_what_airs_next_today_or_another_day() {
        let s = Status::idle();
        says(&s, "09:00", "Tiếp theo: Bản tin buổi chiều lúc 17:00");
        says(
            &s,
            "18:00",
            "Tiếp theo: Bản tin buổi chiều lúc 17:00 ngày 08/10",
        );
    }

    #[test]
    fn status_line_prefers_an_earlier_queued_item() {
        let mut s = Status::idle();
        s.queue_next = Some(QueuedView {
            id: 1,
            occurrence: "x".into(),
            bulletin: "x".into(),
            title: "Thông báo họp dân".into(),
            priority: Priority::Normal,
            source: Source::Operator,
            at: utc("2026-10-07T09:30:15+07:00"),
            planned_seconds: 10.0,
            requested_by: None,
        });
        says(&s, "09:00", "Tiếp theo: Thông báo họp dân lúc 09:30:15");
    }

    #[test]
    fn status_line_shows_airing_paused_and_troubles() {
        let st = station();
        let now = utc("2026-10-07T09:00:00+07:00");
        let mut s = Status::idle();
        s.paused = true;
        assert_eq!(status_line(&s, &st, now), "Tạm dừng");
        s.airing = Some(AiringView {
            occurrence: "o".into(),
            bulletin: "b".into(),
            title: "Cảnh báo bão".into(),
            program: None,
            priority: Priority::Emergency,
            source: Source::Emergency,
            started_at: utc("2026-10-07T09:00:00+07:00"),
            position_seconds: 1.0,
            duration_seconds: 30.0,
        });
        s.output = OutputState::Failed {
            reason: crate::reason::Reason::DeviceFailed {
                error: "no sound card\nplug it in".into(),
            }
            .into(),
        };
        s.clock_suspect = true;
        assert_eq!(
            status_line(&s, &st, now),
            "Đang phát: Cảnh báo bão (khẩn cấp) · thiết bị âm thanh bị lỗi: no sound card plug it in · Đồng hồ chưa đúng giờ, lịch đang chờ"
        );
    }

    #[tokio::test]
    async fn status_task_sends_only_changes() {
        let st = Arc::new(station());
        let (status_tx, status_rx) = watch::channel(Status::idle());
        let (station_tx, station_rx) = watch::channel(Arc::clone(&st));
        let (file_tx, file_rx) = watch::channel(FileState::default());
        let (n, log) = recorder();
        let (setup_tx, setup_rx) = watch::channel(None);
        let task = tokio::spawn(status_task(status_rx, station_rx, file_rx, setup_rx, n));
        let wait_for = |k: usize| {
            let log = Arc::clone(&log);
            async move {
                for _ in 0..200 {
                    if log.lock().unwrap().len() >= k {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                panic!("only {:?}", log.lock().unwrap());
            }
        };
        wait_for(1).await;
        // Same line: nothing sent. Paused: one more.
        status_tx.send_replace(Status::idle());
        let mut paused = Status::idle();
        paused.paused = true;
        status_tx.send_replace(paused);
        wait_for(2).await;
        // The station file breaks on a reload: said first, loudly.
        file_tx.send_replace(FileState {
            running: Running::LastGood,
            errors: 2,
            failing: vec!["chieu".into()],
        });
        wait_for(3).await;
        // No web console admin yet: the setup link leads.
        setup_tx.send_replace(Some("http://loa:8077/thiet-lap?ma=ab".into()));
        wait_for(4).await;
        drop(status_tx);
        task.await.unwrap();
        drop(station_tx);
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 4, "{log:?}");
        assert!(
            log[3].starts_with(
                "STATUS=Thiết lập lần đầu (first start): mở http://loa:8077/thiet-lap?ma=ab · TỆP"
            ),
            "{}",
            log[3]
        );
        assert!(log[0].starts_with("STATUS=Tiếp theo: Bản tin buổi chiều"));
        assert_eq!(log[1], "STATUS=Tạm dừng");
        assert!(
            log[2].starts_with("STATUS=TỆP CẤU HÌNH LỖI (2 lỗi)")
                && log[2].contains("Tạm dừng · 1 bản tin"),
            "{}",
            log[2]
        );
    }
}
