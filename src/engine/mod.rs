//! The engine: the one task that decides what airs on the loudspeaker line.
//!
//! It owns the queue of due items, the line (what plays and what is cued
//! behind it), and the memory of which occurrences were already decided.
//! Other parts talk to it through `Handle`: commands go in over a channel,
//! the status comes out over a `watch`. It never touches audio samples
//! (`Playout` does) nor SQLite (`Recorder` does), so it never blocks.
//!
//! How time works here: what is due is decided from the wall clock, asked at
//! least every second. The engine keeps `scan_end`, the instant up to which
//! the plan has been decided; it only moves forward. A forward jump of the
//! clock decides the jumped-over stretch at once, so its occurrences are
//! aired when still within their grace and recorded `missed` otherwise — a
//! backlog is never released. A backward jump decides nothing until the
//! clock is past `scan_end` again, so nothing airs twice. `scan_end` is
//! saved in the ledger (less anything still waiting in the queue), so a
//! restart resumes exactly where the last run stopped deciding.
//!
//! The rooms: this file holds the loop, deciding what is due, reloads and
//! the shutdown; `queue` what waits, `line` what is cued and airs,
//! `command` what others ask and how the engine answers, `emergency` the
//! cut-in and its repeats, `status` what is published.

pub mod clock;
mod command;
mod emergency;
mod line;
pub mod metrics;
pub mod playout;
mod queue;
pub mod recorder;
mod session;
pub mod status;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{error, info, warn};

#[cfg(test)]
pub use clock::TestClock;
pub use clock::{Clock, SystemClock};
pub use command::{
    Command, EmergencyRequest, InUse, Pinger, QueueRequest, Refusal, Repetition, Reply, Target,
};
pub use emergency::EMERGENCY_STATE;
pub use metrics::Metrics;
pub use playout::real::AudioPlayout;
pub use playout::{OutputState, PlayEvent, Playout};
pub use recorder::Recorder;
#[cfg(test)]
pub use status::{AiringView, QueuedView};
pub use status::{InZone, Status};

use crate::config::{Priority, ProgramItem, Station};
use crate::ledger::{Ledger, LedgerError, Outcome, Queued, Source};
use crate::reason::Reason;
use crate::schedule::{self, ItemKind, Occurrence, OccurrenceKey};
use crate::timefmt::rfc3339;
use emergency::Repeat;
use line::OnLine;
use queue::{Audio, Entry, Queue};

/// How long before its instant an item is cued, so the device is open and
/// the file decoding when its first sample is due.
const LEAD: Duration = Duration::seconds(3);
/// How long before the current item ends the next one is cued, so a
/// programme plays back to back. (A relay behind it starts connecting
/// `LEAD` before, like any item on a free line.)
const CUE_NEXT: Duration = Duration::milliseconds(1500);
/// How long before a scheduled emergency what airs starts fading: the
/// player's longest fade (`audio::MAX_FADE`, 0.5 s) and a margin, so the
/// fade has ended when the emergency's first sample is due.
const CUT_AHEAD: Duration = Duration::milliseconds(600);
/// The engine asks the wall clock at least this often.
const TICK: std::time::Duration = std::time::Duration::from_secs(1);
/// After downtime, occurrences older than this are not even recorded missed.
const MAX_BACKFILL: Duration = Duration::days(7);
/// How often the progress of the airing item is checkpointed to the ledger.
const PROGRESS_EVERY: f64 = 5.0;
/// Entry ids are reserved in the ledger this many at a time, so ids never
/// repeat across restarts at the cost of one write per block.
const ID_BLOCK: u64 = 1000;
/// How many waiting entries the status shows (`queue_length` counts all).
pub const STATUS_QUEUE: usize = 20;
/// How often the watermark is saved.
const ALIVE_EVERY: Duration = Duration::seconds(10);

/// How long `Command::Shutdown` takes at most, from the engine receiving
/// it to its task returning: what the daemon waits for. `loa run` exits
/// within 2 s of SIGTERM (README); the rest is the process's own exit.
pub const SHUTDOWN_BUDGET: std::time::Duration = std::time::Duration::from_millis(1900);
/// Of it, the fade-out (at most `crate::audio::MAX_FADE` of audio, 0.5 s)
/// and the playout's last events get this much...
const STOP_BUDGET: std::time::Duration = std::time::Duration::from_millis(1000);
/// ...and the ledger's final writes (the airing row closed, the watermark)
/// at least this much, whatever the fade took: each commit is an fsync,
/// which an SD card may take hundreds of milliseconds over. A fade that
/// ends early leaves its rest to the writes.
const FLUSH_BUDGET: std::time::Duration = std::time::Duration::from_millis(800);
// What is left is for the command's trip to the engine and the task's end.
const _: () = assert!(
    STOP_BUDGET.as_millis() + FLUSH_BUDGET.as_millis() + 100 <= SHUTDOWN_BUDGET.as_millis()
);

/// How other tasks reach the engine.
#[derive(Clone)]
pub struct Handle {
    pub commands: mpsc::Sender<Command>,
    pub status: watch::Receiver<Status>,
    pub metrics: Arc<Metrics>,
    /// The watchdog's proof that the loop turns (see `Pinger`).
    pub ping: Pinger,
}

pub struct Engine<C: Clock, P: Playout> {
    station: Arc<Station>,
    clock: C,
    playout: P,
    events: mpsc::UnboundedReceiver<PlayEvent>,
    commands: mpsc::Receiver<Command>,
    pings: mpsc::Receiver<oneshot::Sender<()>>,
    status: watch::Sender<Status>,
    recorder: Recorder,
    queue: Queue,
    line: VecDeque<OnLine>,
    /// Occurrence keys decided (aired, queued or recorded) → instant; pruned.
    decided: HashMap<String, DateTime<Utc>>,
    scan_end: DateTime<Utc>,
    alive_saved: DateTime<Utc>,
    clock_suspect: bool,
    paused: bool,
    repeat: Option<Repeat>,
    seq: u64,
    /// Ids below this are reserved in the ledger.
    id_limit: u64,
    shutting_down: bool,
    metrics: Arc<Metrics>,
    /// Seconds aired (or cued) in each session, for `[session] max_minutes`.
    sessions: HashMap<session::SessionKey, f64>,
}

/// What the engine needs from the ledger when it starts.
pub struct Resume {
    /// Occurrences with a row, keyed by occurrence (from `settled_since`).
    pub settled: HashMap<String, Outcome>,
    /// Where the last run got to (`scan_end`), if there was one.
    pub last_alive: Option<DateTime<Utc>>,
    /// The repeating emergency in force when the last run stopped (the
    /// ledger's `state` value `emergency`).
    pub emergency: Option<String>,
    /// What operators queued that had not aired when the last run stopped.
    pub queued: Vec<Queued>,
    /// The first entry id this run may hand out.
    pub next_id: u64,
    /// When the last item that aired started, for `/metrics`.
    pub last_aired: Option<DateTime<Utc>>,
}

impl Resume {
    /// What `ledger` remembers, with the rows settled since `since`.
    pub fn read(ledger: &Ledger, since: DateTime<Utc>) -> Result<Resume, LedgerError> {
        Ok(Resume {
            settled: ledger.settled_since(since)?,
            last_alive: ledger.last_alive()?,
            emergency: ledger.state(EMERGENCY_STATE)?,
            queued: ledger.queued()?,
            next_id: ledger.next_entry_id()?,
            last_aired: ledger.last_aired()?,
        })
    }
}

/// Why the engine's loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// `Command::Shutdown`.
    Asked,
    /// Every `Handle` was dropped.
    Abandoned,
    /// The playout's events ended: nothing will report what airs.
    PlayoutGone,
}

impl Exit {
    /// The reason recorded for what was airing.
    fn reason(self) -> Reason {
        match self {
            Exit::Asked | Exit::Abandoned => Reason::DaemonStopped,
            Exit::PlayoutGone => Reason::OutputGone,
        }
    }
}

/// The longest grace of any item: how far back a restart looks.
pub fn max_grace(station: &Station) -> Duration {
    let secs = station
        .bulletins
        .iter()
        .map(|b| b.grace_seconds)
        .chain(station.programs.iter().map(|p| p.grace_seconds))
        .chain(station.relays.iter().map(|r| r.grace_seconds))
        .max()
        .unwrap_or(crate::config::DEFAULT_GRACE_SECONDS);
    Duration::seconds(i64::from(secs))
}

impl<C: Clock, P: Playout> Engine<C, P> {
    pub fn new(
        station: Arc<Station>,
        clock: C,
        playout: P,
        events: mpsc::UnboundedReceiver<PlayEvent>,
        recorder: Recorder,
        resume: Resume,
    ) -> (Self, Handle) {
        let now = clock.now();
        let mut clock_suspect = false;
        let scan_end = match resume.last_alive {
            Some(t) if t > now + Duration::minutes(1) => {
                warn!(
                    clock = %rfc3339(now, station.timezone),
                    ledger = %rfc3339(t, station.timezone),
                    "the wall clock is behind the ledger's last activity (no real-time clock? NTP not synced yet?); scheduled items wait until the clock catches up"
                );
                clock_suspect = true;
                t
            }
            Some(t) => t.max(now - MAX_BACKFILL),
            // A first start airs what is within grace and invents no misses.
            None => now - max_grace(&station),
        };
        let repeat = resume.emergency.as_deref().and_then(Repeat::restore);
        if let Some(r) = &repeat {
            warn!(
                bulletin = %r.bulletin,
                next = %rfc3339(r.next_at.max(now), station.timezone),
                "a repeating emergency was in force when the station stopped; its repeats go on"
            );
        }
        let decided = resume.settled.keys().map(|k| (k.clone(), now)).collect();
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        // One ping at a time: one still waiting means the loop is stuck.
        let (ping_tx, ping_rx) = mpsc::channel(1);
        let status = Status {
            output: playout.state(),
            clock_suspect,
            ..Status::idle()
        };
        let (status_tx, status_rx) = watch::channel(status);
        let metrics = Arc::new(Metrics::new(recorder.waiting()));
        metrics.seed_last_aired(resume.last_aired);
        let mut engine = Engine {
            station,
            clock,
            playout,
            events,
            commands: cmd_rx,
            pings: ping_rx,
            status: status_tx,
            recorder,
            queue: Queue::default(),
            line: VecDeque::new(),
            decided,
            scan_end,
            // Saved on the first scan: even a run killed seconds after it
            // started leaves a watermark, so the next one looks back far
            // enough to settle what this one decided.
            alive_saved: DateTime::<Utc>::MIN_UTC,
            clock_suspect,
            paused: false,
            repeat,
            seq: resume.next_id.max(1) - 1,
            id_limit: resume.next_id.max(1),
            shutting_down: false,
            metrics: Arc::clone(&metrics),
            sessions: HashMap::new(),
        };
        engine.restore(resume.queued, now);
        (
            engine,
            Handle {
                commands: cmd_tx,
                status: status_rx,
                metrics,
                ping: Pinger { tx: ping_tx },
            },
        )
    }

    /// Run until `Command::Shutdown`, every handle is dropped, or the
    /// playout's events end; then shut down (the airing row closed, the
    /// ledger flushed) whichever it was.
    pub async fn run(mut self) {
        let exit = self.serve().await;
        if exit == Exit::PlayoutGone {
            error!("the playout stopped reporting events: the engine stops");
        }
        self.shutdown(exit).await;
    }

    /// The loop: decide, dispatch, publish, then wait for an event, a
    /// command, a ping or the next thing due.
    async fn serve(&mut self) -> Exit {
        loop {
            let now = self.clock.now();
            self.scan(now);
            self.repeat_emergency(now);
            self.dispatch(now);
            self.publish(now);
            let wake = self.next_wake(now);
            tokio::select! {
                ev = self.events.recv() => match ev {
                    Some(ev) => self.on_event(ev),
                    None => return Exit::PlayoutGone,
                },
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Shutdown) => return Exit::Asked,
                    None => return Exit::Abandoned,
                    Some(cmd) => self.on_command(cmd),
                },
                Some(pong) = self.pings.recv() => {
                    let _ = pong.send(());
                }
                _ = tokio::time::sleep(wake) => {}
            }
        }
    }

    fn next_id(&mut self) -> u64 {
        self.seq += 1;
        if self.seq >= self.id_limit {
            self.id_limit = self.seq + ID_BLOCK;
            self.recorder.next_entry_id(self.id_limit);
        }
        self.seq
    }

    fn tz(&self) -> chrono_tz::Tz {
        self.station.timezone
    }

    /// Sleep until the next thing to do, at most `TICK`.
    fn next_wake(&self, now: DateTime<Utc>) -> std::time::Duration {
        let mut wake = TICK;
        let mut consider = |t: DateTime<Utc>| {
            if let Ok(d) = (t - now).to_std() {
                wake = wake.min(d);
            }
        };
        if let Some(cur) = self.line.front() {
            if let Some(start) = cur.started_at {
                let end =
                    start + Duration::milliseconds((cur.entry.airing.planned_seconds * 1e3) as i64);
                // A relay behind it connects LEAD ahead (`dispatch`).
                consider(end - LEAD);
                consider(end - CUE_NEXT);
            }
        }
        if let Some(first) = self.queue.first_due() {
            consider(first.airing.scheduled_at - LEAD);
        }
        // Wake to start cutting for a scheduled emergency on time.
        if !self.line.is_empty() {
            for e in self.queue.iter() {
                if e.airing.priority == Priority::Emergency {
                    consider(e.airing.scheduled_at - CUT_AHEAD);
                }
            }
        }
        wake.max(std::time::Duration::from_millis(5))
    }

    // -- Deciding what is due ------------------------------------------------

    /// Decide every occurrence from `scan_end` up to `now + LEAD`.
    fn scan(&mut self, now: DateTime<Utc>) {
        let until = now + LEAD;
        if until <= self.scan_end {
            return;
        }
        if self.clock_suspect {
            info!("the wall clock has caught up with the ledger; scheduled items air again");
            self.clock_suspect = false;
        }
        let mut from = self.scan_end;
        if now - from > MAX_BACKFILL {
            warn!(
                from = %rfc3339(from, self.tz()),
                to = %rfc3339(now, self.tz()),
                "the clock jumped forward by more than 7 days; only the last 7 days are recorded as missed"
            );
            from = now - MAX_BACKFILL;
        }
        let station = Arc::clone(&self.station);
        for o in schedule::schedule_with_quiet(&station, from, until) {
            self.decide(&station, &o, now);
        }
        self.scan_end = until;
        if now - self.alive_saved >= ALIVE_EVERY {
            self.recorder.alive(self.watermark());
            self.alive_saved = now;
        }
        let horizon = now - Duration::days(2);
        if self.decided.len() > 50_000 {
            self.decided.retain(|_, t| *t > horizon);
        }
        if self.sessions.len() > 1000 {
            self.prune_sessions(horizon);
        }
    }

    /// Everything scheduled before this instant is settled: aired, recorded,
    /// or on the line. Saved so a restart decides again exactly what was
    /// still waiting (rows in the ledger keep it from airing twice).
    fn watermark(&self) -> DateTime<Utc> {
        self.queue
            .iter()
            .chain(self.line.iter().map(|c| &c.entry))
            .filter(|e| e.airing.source.is_planned())
            .map(|e| e.sort_at)
            .fold(self.scan_end, DateTime::min)
    }

    /// Turn one occurrence into queue entries (one per programme item).
    fn decide(&mut self, station: &Station, o: &Occurrence, now: DateTime<Utc>) {
        let at = o.at.with_timezone(&Utc);
        let grace = Duration::seconds(i64::from(o.grace_seconds));
        match o.kind {
            ItemKind::Bulletin => {
                let b = &station.bulletins[o.index];
                let entry = Entry::new(
                    self.next_id(),
                    Audio::Bulletin(b),
                    o.key(),
                    Source::Schedule,
                    at,
                )
                .priority(o.priority)
                .order(o.index as u64)
                .grace(grace);
                self.admit_or_quiet(entry, o.quiet, now);
            }
            ItemKind::Program => {
                let p = &station.programs[o.index];
                let mut offset = 0.0;
                let mut seen: HashMap<ProgramItem, u32> = HashMap::new();
                for (k, &item) in o.items.iter().enumerate() {
                    let info = station.item_info(item);
                    let n = seen.entry(item).or_insert(0);
                    *n += 1;
                    let key: String =
                        OccurrenceKey::program_item(&p.id, info.id, *n, at, self.tz()).into();
                    let item_at = at + Duration::milliseconds((offset * 1e3) as i64);
                    offset += info.seconds;
                    let order = (1 << 32) | ((o.index as u64) << 16) | k as u64;
                    let (audio, source) = match item {
                        ProgramItem::Bulletin(b) => {
                            (Audio::Bulletin(&station.bulletins[b]), Source::Schedule)
                        }
                        ProgramItem::Relay(r) => (Self::relay_audio(station, r), Source::Relay),
                    };
                    let entry = Entry::new(self.next_id(), audio, key, source, item_at)
                        .program(p.id.clone())
                        .priority(o.priority)
                        .sort_at(at)
                        .order(order)
                        .grace(grace);
                    self.admit_or_quiet(entry, o.quiet, now);
                }
            }
            ItemKind::Relay => {
                let entry = Entry::new(
                    self.next_id(),
                    Self::relay_audio(station, o.index),
                    o.key(),
                    Source::Relay,
                    at,
                )
                .priority(o.priority)
                .order((2 << 32) | o.index as u64)
                .grace(grace);
                self.admit_or_quiet(entry, o.quiet, now);
            }
        }
    }

    /// What relay `index` of `station` plays: its source, its fallback
    /// bulletin's file, and the loudness it is levelled toward.
    fn relay_audio(station: &Station, index: usize) -> Audio<'_> {
        let relay = &station.relays[index];
        let fallback = relay.fallback.map(|i| station.bulletins[i].path.as_path());
        Audio::Relay {
            relay,
            fallback,
            loudness_lufs: station.output.loudness_lufs.map(f64::from),
        }
    }

    /// Queue a scheduled entry, or, when quiet hours hold it back, record it
    /// `skipped` once: a report shows what quiet hours kept off the air.
    fn admit_or_quiet(&mut self, entry: Entry, quiet: bool, now: DateTime<Utc>) {
        if !quiet {
            self.admit(entry, now);
            return;
        }
        if self.decided.contains_key(&entry.airing.occurrence) {
            return;
        }
        self.decided
            .insert(entry.airing.occurrence.clone(), entry.airing.scheduled_at);
        self.close_unaired(entry, Outcome::Skipped, Reason::QuietHours);
    }

    fn reload(&mut self, station: Arc<Station>, now: DateTime<Utc>) {
        info!(
            bulletins = station.bulletins.len(),
            programs = station.programs.len(),
            "station file reloaded"
        );
        // Scheduled entries not yet on the line are decided again against
        // the new plan: removed items go, changed ones are re-planned. What
        // aired or was recorded stays decided, so nothing airs twice.
        let old = self.queue.take_where(|e| e.airing.source.is_planned());
        for e in &old {
            self.decided.remove(&e.airing.occurrence);
        }
        self.station = station;
        let station = Arc::clone(&self.station);
        let from = old
            .iter()
            .map(|e| e.sort_at)
            .min()
            .unwrap_or(self.scan_end)
            .min(now - max_grace(&station))
            .min(self.scan_end);
        for o in schedule::schedule_with_quiet(&station, from, self.scan_end) {
            self.decide(&station, &o, now);
        }
        for e in old {
            if !self.decided.contains_key(&e.airing.occurrence) {
                info!(occurrence = %e.airing.occurrence, "no longer in the station file; dropped from the queue");
            }
        }
        // Typed notices an operator queued while they were being read
        // aloud take their audio (or its failure) from the new station.
        for mut e in self.queue.take_where(|e| e.pending) {
            if let Some(b) = station.bulletin(&e.airing.bulletin) {
                e.pending = b.tts_error.is_none() && crate::tts::needs_render(b);
                e.fails = b
                    .tts_error
                    .clone()
                    .map(|error| Reason::SpeechFailed { error });
                e.airing.planned_seconds = b.seconds();
            }
            self.enqueue(e);
        }
    }

    /// Fade out what airs, close its row, save the watermark and flush the
    /// ledger, within `SHUTDOWN_BUDGET`.
    async fn shutdown(&mut self, exit: Exit) {
        let deadlines = Deadlines::from(tokio::time::Instant::now());
        self.shutting_down = true;
        // Not saved: the ledger keeps the repeat for the next start.
        self.repeat = None;
        self.stop_current(exit.reason());
        // Wait (bounded) for the fade-out and the final events.
        while !self.line.is_empty() {
            match tokio::time::timeout_at(deadlines.stop, self.events.recv()).await {
                Ok(Some(ev)) => self.on_event(ev),
                _ => break,
            }
        }
        // Whatever did not report back is closed now.
        let now = self.clock.now();
        while let Some(c) = self.line.pop_front() {
            if c.started_at.is_some() {
                self.recorder.finish(
                    c.cue,
                    now,
                    c.ledger_aired(),
                    Outcome::Interrupted,
                    Some(exit.reason().into()),
                );
            }
        }
        self.recorder.alive(self.watermark());
        let recorder = self.recorder.clone();
        let budget = deadlines.flush_budget(tokio::time::Instant::now());
        let flushed = tokio::task::spawn_blocking(move || recorder.flush(budget)).await;
        if !matches!(flushed, Ok(true)) {
            warn!(
                budget_ms = budget.as_millis(),
                "the ledger's last writes did not land before the daemon exits; the next start closes what they left open"
            );
        }
        info!("engine stopped");
    }
}

/// When each part of the shutdown must be over, from its start.
#[derive(Debug, Clone, Copy)]
struct Deadlines {
    /// The fade-out and the playout's last events.
    stop: tokio::time::Instant,
    /// The ledger's final writes.
    flush: tokio::time::Instant,
}

impl Deadlines {
    fn from(start: tokio::time::Instant) -> Deadlines {
        Deadlines {
            stop: start + STOP_BUDGET,
            flush: start + STOP_BUDGET + FLUSH_BUDGET,
        }
    }

    /// What the ledger's final writes may take from `now`.
    fn flush_budget(&self, now: tokio::time::Instant) -> std::time::Duration {
        self.flush.saturating_duration_since(now)
    }
}
