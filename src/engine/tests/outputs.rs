//! The engine against a playout the test drives: the airing row closed
//! when its events end, the fade's and the ledger's budgets, wedges.

use super::*;

/// A playout the test drives: it notes what it is asked and reports
/// nothing by itself (the test sends the events).
#[derive(Clone, Default)]
struct Scripted {
    cues: Arc<Mutex<Vec<Cue>>>,
    stops: Arc<Mutex<Vec<u64>>>,
}

impl Scripted {
    fn cue_of(&self, file: &str) -> u64 {
        let cues = self.cues.lock().unwrap();
        cues.iter()
            .find(|c| c.path.ends_with(file))
            .unwrap_or_else(|| panic!("{file} was not cued: {cues:?}"))
            .id
    }
}

impl Playout for Scripted {
    fn cue(&mut self, cue: Cue) {
        self.cues.lock().unwrap().push(cue);
    }

    fn stop(&mut self, cue: u64) {
        self.stops.lock().unwrap().push(cue);
    }

    fn connect_early(&mut self, _relay: &crate::audio::relay::RelayCue) {}

    fn state(&self) -> OutputState {
        OutputState::Idle
    }
}

/// `a` (06:00) on the air for 12 s over a scripted playout.
struct OnAir {
    playout: Scripted,
    handle: Handle,
    task: tokio::task::JoinHandle<()>,
    events: mpsc::UnboundedSender<PlayEvent>,
    cue: u64,
    ledger: PathBuf,
    tz: chrono_tz::Tz,
}

async fn on_air(dir: &Path) -> OnAir {
    let (events, rx) = mpsc::unbounded_channel();
    let playout = Scripted::default();
    let clock = TestClock::new(at(5, 59, 55));
    let p = parts(station(dir, STATION), &clock, playout.clone(), rx);
    let task = tokio::spawn(p.engine.run());
    // Cued ahead of 06:00; the test starts it on time.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let cue = playout.cue_of("a.mp3");
    events
        .send(PlayEvent::Started {
            id: cue,
            at: at(6, 0, 0),
        })
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(12)).await;
    events
        .send(PlayEvent::Progress {
            id: cue,
            aired_seconds: 12.0,
        })
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    OnAir {
        playout,
        handle: p.handle,
        task,
        events,
        cue,
        ledger: p.ledger,
        tz: p.tz,
    }
}

/// The one row of `a`, read without flushing the ledger first: what the
/// engine's own flush landed.
fn row_of_a(ledger: &Path, tz: chrono_tz::Tz) -> AirtimeRow {
    let rows = rows(ledger, tz);
    let a = by_bulletin(&rows, "a");
    assert_eq!(a.len(), 1, "{:?}", outcomes(&rows));
    a[0].clone()
}

#[tokio::test(start_paused = true)]
async fn the_airing_row_is_closed_when_the_playout_events_end() {
    let dir = tempfile::tempdir().unwrap();
    let air = on_air(dir.path()).await;
    // The audio side goes away: no event will ever come again.
    drop(air.events);
    air.task.await.unwrap();
    let a = row_of_a(&air.ledger, air.tz);
    assert_eq!(a.outcome, Some(Outcome::Interrupted));
    assert_eq!(reason_of(&a), &Reason::OutputGone);
    assert_eq!(a.aired_seconds, 12.0);
    assert!(air.handle.commands.is_closed(), "the engine is gone");
}

#[tokio::test(start_paused = true)]
async fn a_fade_that_never_ends_leaves_the_ledger_its_own_budget() {
    let dir = tempfile::tempdir().unwrap();
    let air = on_air(dir.path()).await;
    let asked = tokio::time::Instant::now();
    air.handle.commands.send(Command::Shutdown).await.unwrap();
    air.task.await.unwrap();
    let took = asked.elapsed();
    assert!(took >= STOP_BUDGET && took <= SHUTDOWN_BUDGET, "{took:?}");
    assert_eq!(*air.playout.stops.lock().unwrap(), [air.cue]);
    let a = row_of_a(&air.ledger, air.tz);
    assert_eq!(a.outcome, Some(Outcome::Interrupted));
    assert_eq!(reason_of(&a), &Reason::DaemonStopped);
    assert_eq!(a.aired_seconds, 12.0);
    drop(air.events);
}

#[test]
fn the_ledger_keeps_its_budget_however_long_the_fade_takes() {
    let start = tokio::time::Instant::now();
    let d = Deadlines::from(start);
    // A fade that used all of its time leaves the writes all of theirs...
    assert_eq!(d.flush_budget(start + STOP_BUDGET), FLUSH_BUDGET);
    // ...one that ended early leaves them its rest too.
    let early = std::time::Duration::from_millis(300);
    assert_eq!(
        d.flush_budget(start + early),
        STOP_BUDGET + FLUSH_BUDGET - early
    );
    assert!(STOP_BUDGET >= 2 * crate::audio::MAX_FADE);
    assert!(SHUTDOWN_BUDGET < std::time::Duration::from_secs(2));
}

/// An engine that exists but is not running, over a scripted playout
/// (and the sender of its events, which keeps them open).
fn idle_parts(dir: &Path) -> (Parts<Scripted>, mpsc::UnboundedSender<PlayEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let clock = TestClock::new(at(12, 0, 0));
    (
        parts(station(dir, STATION), &clock, Scripted::default(), rx),
        tx,
    )
}

#[tokio::test]
async fn a_full_command_channel_is_not_a_wedged_engine() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _events) = idle_parts(dir.path());
    let mut waiting = 0;
    while p
        .handle
        .commands
        .try_send(Command::Resume(By::token("op")))
        .is_ok()
    {
        waiting += 1;
    }
    assert_eq!(waiting, 64, "the command channel is full");
    let ping = p.handle.ping.clone();
    let alive =
        tokio::task::spawn_blocking(move || ping.answers(std::time::Duration::from_secs(5)));
    // The ping goes out while the commands are still all waiting.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let task = tokio::spawn(p.engine.run());
    assert!(alive.await.unwrap(), "a busy engine is not a wedged one");
    p.handle.commands.send(Command::Shutdown).await.unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn an_engine_that_does_not_turn_or_has_stopped_is_wedged() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _events) = idle_parts(dir.path());
    let answers = |timeout_ms: u64| {
        let ping = p.handle.ping.clone();
        tokio::task::spawn_blocking(move || {
            ping.answers(std::time::Duration::from_millis(timeout_ms))
        })
    };
    assert!(!answers(100).await.unwrap(), "never polled: no answer");
    drop(p.engine);
    // At once, not after the ping's timeout: a minute, so that the bound
    // below holds on a busy machine and still tells the two apart.
    let asked = std::time::Instant::now();
    assert!(!answers(60_000).await.unwrap(), "stopped: no answer");
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(30),
        "at once, not after the timeout: {:?}",
        asked.elapsed()
    );
}
