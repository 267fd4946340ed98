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

pub mod audio_playout;
pub mod clock;
pub mod metrics;
pub mod playout;
pub mod recorder;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};

pub use audio_playout::AudioPlayout;
pub use clock::{Clock, SystemClock, TestClock};
pub use metrics::Metrics;
pub use playout::{Cue, OutputState, PlayEnd, PlayEvent, Playout};
pub use recorder::Recorder;

use crate::config::{Priority, Station};
use crate::ledger::{Airing, Outcome, Source};
use crate::schedule::{self, ItemKind, Occurrence};
use crate::timefmt::rfc3339;

/// How long before its instant an item is cued, so the device is open and
/// the file decoding when its first sample is due.
const LEAD: Duration = Duration::seconds(3);
/// How long before the current item ends the next one is cued, so a
/// programme plays back to back.
const CUE_NEXT: Duration = Duration::milliseconds(1500);
/// The engine asks the wall clock at least this often.
const TICK: std::time::Duration = std::time::Duration::from_secs(1);
/// After downtime, occurrences older than this are not even recorded missed.
const MAX_BACKFILL: Duration = Duration::days(7);
/// How often the progress of the airing item is checkpointed to the ledger.
const PROGRESS_EVERY: f64 = 5.0;
/// Reason recorded for an entry an operator took out of the queue (the
/// audit table says who).
const DEQUEUED: &str = "removed from the queue by an operator";
/// How often the watermark is saved.
const ALIVE_EVERY: Duration = Duration::seconds(10);

/// What an operator asks to air.
#[derive(Debug, Clone)]
pub enum Target {
    /// A bulletin of the station file, by id.
    Bulletin(String),
    /// A file in `audio_dir` (already checked and probed by the caller).
    File {
        file: String,
        path: PathBuf,
        seconds: f64,
    },
}

#[derive(Debug, Clone)]
pub struct QueueRequest {
    pub target: Target,
    /// Default: the bulletin's own priority (normal for files).
    pub priority: Option<Priority>,
    /// Default: now.
    pub at: Option<DateTime<Utc>>,
    pub requested_by: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EmergencyRequest {
    pub target: Target,
    /// Air again this often until `until`.
    pub repeat_every: Option<Duration>,
    pub until: Option<DateTime<Utc>>,
    pub requested_by: Option<String>,
}

pub enum Command {
    Queue(QueueRequest, oneshot::Sender<Result<QueuedView, String>>),
    Dequeue(u64, oneshot::Sender<bool>),
    /// End what airs; replies with its title, if anything aired.
    Skip(String, oneshot::Sender<Option<String>>),
    Pause(String),
    Resume(String),
    Emergency(
        EmergencyRequest,
        oneshot::Sender<Result<QueuedView, String>>,
    ),
    /// Stop repeating the emergency and end it if it airs.
    CancelEmergency(String, oneshot::Sender<bool>),
    Reload(Arc<Station>),
    /// Answer at once: the watchdog's proof that the engine loop turns.
    Ping(oneshot::Sender<()>),
    /// Fade out, close the row as `interrupted`, flush the ledger, return.
    Shutdown,
}

/// What airs now, for the status.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AiringView {
    pub occurrence: String,
    pub bulletin: String,
    pub title: String,
    pub program: Option<String>,
    pub priority: &'static str,
    pub source: &'static str,
    pub started_at: String,
    pub position_seconds: f64,
    pub duration_seconds: f64,
}

/// One waiting entry, for the status and the API.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueuedView {
    pub id: u64,
    pub occurrence: String,
    pub bulletin: String,
    pub title: String,
    pub priority: &'static str,
    pub source: &'static str,
    pub at: String,
    pub planned_seconds: f64,
    pub requested_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EmergencyView {
    pub bulletin: String,
    pub title: String,
    pub repeat_every_seconds: Option<i64>,
    pub until: Option<String>,
    pub next_at: Option<String>,
}

/// The engine's state, published after every change.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Status {
    pub airing: Option<AiringView>,
    pub queue: Vec<QueuedView>,
    pub paused: bool,
    pub output: OutputState,
    pub emergency: Option<EmergencyView>,
    /// The wall clock is behind what the ledger has seen (a board that
    /// booted without a real-time clock): scheduled items wait for it.
    pub clock_suspect: bool,
}

/// How other tasks reach the engine.
#[derive(Clone)]
pub struct Handle {
    pub commands: mpsc::Sender<Command>,
    pub status: watch::Receiver<Status>,
    pub metrics: Arc<Metrics>,
}

/// Something decided to air, waiting for the line.
#[derive(Debug, Clone)]
struct Entry {
    id: u64,
    airing: Airing,
    path: PathBuf,
    /// Queue order after priority: a programme's items share the
    /// programme's instant so nothing slips between them.
    sort_at: DateTime<Utc>,
    order: u64,
    grace: Duration,
}

/// A cue sent to the playout and not yet finished.
#[derive(Debug)]
struct OnLine {
    entry: Entry,
    cue: u64,
    started_at: Option<DateTime<Utc>>,
    aired: f64,
    written_aired: f64,
    /// Why it is being stopped (set when the engine stops it).
    stop: Option<Stop>,
}

#[derive(Debug, Clone)]
enum Stop {
    /// Record `interrupted` with this reason.
    Interrupt(String),
    /// Put it back in the queue if it had not started (pre-emption).
    Requeue(String),
    /// Record it `skipped` if it had not started (dequeued).
    Drop,
}

struct Repeat {
    target: Target,
    every: Duration,
    until: Option<DateTime<Utc>>,
    next_at: DateTime<Utc>,
    requested_by: Option<String>,
    title: String,
    bulletin: String,
}

/// `state` key of the repeating emergency in force.
pub const EMERGENCY_STATE: &str = "emergency";

/// A repeating emergency as saved in the ledger, so a storm warning keeps
/// repeating after a power cut.
#[derive(Serialize, serde::Deserialize)]
struct SavedRepeat {
    bulletin: Option<String>,
    file: Option<String>,
    path: Option<PathBuf>,
    seconds: Option<f64>,
    every_seconds: i64,
    until: Option<DateTime<Utc>>,
    next_at: DateTime<Utc>,
    requested_by: Option<String>,
    title: String,
}

impl Repeat {
    fn save(&self) -> String {
        let (bulletin, file, path, seconds) = match &self.target {
            Target::Bulletin(id) => (Some(id.clone()), None, None, None),
            Target::File {
                file,
                path,
                seconds,
            } => (None, Some(file.clone()), Some(path.clone()), Some(*seconds)),
        };
        serde_json::to_string(&SavedRepeat {
            bulletin,
            file,
            path,
            seconds,
            every_seconds: self.every.num_seconds(),
            until: self.until,
            next_at: self.next_at,
            requested_by: self.requested_by.clone(),
            title: self.title.clone(),
        })
        .expect("a repeat serializes")
    }

    fn restore(json: &str) -> Option<Repeat> {
        let s: SavedRepeat = serde_json::from_str(json).ok()?;
        let target = match (s.bulletin, s.file, s.path, s.seconds) {
            (Some(id), ..) => Target::Bulletin(id),
            (None, Some(file), Some(path), Some(seconds)) => Target::File {
                file,
                path,
                seconds,
            },
            _ => return None,
        };
        let bulletin = match &target {
            Target::Bulletin(id) => id.clone(),
            Target::File { file, .. } => file.clone(),
        };
        Some(Repeat {
            target,
            every: Duration::seconds(s.every_seconds.max(60)),
            until: s.until,
            next_at: s.next_at,
            requested_by: s.requested_by,
            title: s.title,
            bulletin,
        })
    }
}

pub struct Engine<C: Clock, P: Playout> {
    station: Arc<Station>,
    clock: C,
    playout: P,
    events: mpsc::UnboundedReceiver<PlayEvent>,
    commands: mpsc::Receiver<Command>,
    status: watch::Sender<Status>,
    recorder: Recorder,
    queue: Vec<Entry>,
    line: VecDeque<OnLine>,
    /// Occurrence keys decided (aired, queued or recorded) → instant; pruned.
    decided: HashMap<String, DateTime<Utc>>,
    scan_end: DateTime<Utc>,
    alive_saved: DateTime<Utc>,
    clock_suspect: bool,
    paused: bool,
    repeat: Option<Repeat>,
    seq: u64,
    shutting_down: bool,
    metrics: Arc<Metrics>,
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
}

/// The longest grace of any item: how far back a restart looks.
pub fn max_grace(station: &Station) -> Duration {
    let secs = station
        .bulletins
        .iter()
        .map(|b| b.grace_seconds)
        .chain(station.programs.iter().map(|p| p.grace_seconds))
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
        let status = Status {
            airing: None,
            queue: Vec::new(),
            paused: false,
            output: playout.state(),
            emergency: None,
            clock_suspect,
        };
        let (status_tx, status_rx) = watch::channel(status);
        let metrics = Arc::new(Metrics::default());
        let engine = Engine {
            station,
            clock,
            playout,
            events,
            commands: cmd_rx,
            status: status_tx,
            recorder,
            queue: Vec::new(),
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
            seq: 0,
            shutting_down: false,
            metrics: Arc::clone(&metrics),
        };
        (
            engine,
            Handle {
                commands: cmd_tx,
                status: status_rx,
                metrics,
            },
        )
    }

    /// Run until `Command::Shutdown` (or every handle is dropped).
    pub async fn run(mut self) {
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
                    None => break,
                },
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Shutdown) | None => {
                        self.shutdown().await;
                        return;
                    }
                    Some(cmd) => self.on_command(cmd),
                },
                _ = tokio::time::sleep(wake) => {}
            }
        }
    }

    fn next_id(&mut self) -> u64 {
        self.seq += 1;
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
                consider(
                    start + Duration::milliseconds((cur.entry.airing.planned_seconds * 1e3) as i64)
                        - CUE_NEXT,
                );
            }
        }
        if let Some(first) = self.queue.iter().map(|e| e.airing.scheduled_at).min() {
            consider(first - LEAD);
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
        for o in schedule::schedule(&station, from, until) {
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
    }

    /// Everything scheduled before this instant is settled: aired, recorded,
    /// or on the line. Saved so a restart decides again exactly what was
    /// still waiting (rows in the ledger keep it from airing twice).
    fn watermark(&self) -> DateTime<Utc> {
        self.queue
            .iter()
            .chain(self.line.iter().map(|c| &c.entry))
            .filter(|e| e.airing.source == Source::Schedule)
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
                let key = o.key();
                let entry = self.entry(
                    key,
                    b,
                    None,
                    o.priority,
                    Source::Schedule,
                    at,
                    at,
                    o.index as u64,
                    grace,
                    None,
                );
                self.admit(entry, now);
            }
            ItemKind::Program => {
                let p = &station.programs[o.index];
                let stamp = rfc3339(at, self.tz());
                let mut offset = 0.0;
                let mut seen: HashMap<usize, u32> = HashMap::new();
                for (k, &bi) in o.items.iter().enumerate() {
                    let b = &station.bulletins[bi];
                    let n = seen.entry(bi).or_insert(0);
                    *n += 1;
                    let key = if *n == 1 {
                        format!("{}/{}@{stamp}", p.id, b.id)
                    } else {
                        format!("{}/{}#{}@{stamp}", p.id, b.id, n)
                    };
                    let item_at = at + Duration::milliseconds((offset * 1e3) as i64);
                    offset += b.seconds();
                    let order = (1 << 32) | ((o.index as u64) << 16) | k as u64;
                    let entry = self.entry(
                        key,
                        b,
                        Some(p.id.clone()),
                        o.priority,
                        Source::Schedule,
                        item_at,
                        at,
                        order,
                        grace,
                        None,
                    );
                    self.admit(entry, now);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn entry(
        &mut self,
        occurrence: String,
        b: &crate::config::Bulletin,
        program: Option<String>,
        priority: Priority,
        source: Source,
        scheduled_at: DateTime<Utc>,
        sort_at: DateTime<Utc>,
        order: u64,
        grace: Duration,
        requested_by: Option<String>,
    ) -> Entry {
        Entry {
            id: self.next_id(),
            airing: Airing {
                occurrence,
                bulletin: b.id.clone(),
                title: b.title.clone(),
                campaign: b.campaign.clone(),
                program,
                priority,
                source,
                file: b.file.clone(),
                scheduled_at,
                planned_seconds: b.seconds(),
                requested_by,
            },
            path: b.path.clone(),
            sort_at,
            order,
            grace,
        }
    }

    /// Queue an entry, or record it missed when its grace is already over.
    fn admit(&mut self, e: Entry, now: DateTime<Utc>) {
        if self.decided.contains_key(&e.airing.occurrence) {
            return;
        }
        self.decided
            .insert(e.airing.occurrence.clone(), e.airing.scheduled_at);
        let late = now - e.airing.scheduled_at;
        if late > e.grace {
            let reason = format!(
                "station off air at its time (daemon stopped or clock jumped); first seen {} late, grace {}",
                human(late),
                human(e.grace)
            );
            self.close_unaired(e, Outcome::Missed, reason);
            return;
        }
        self.enqueue(e);
    }

    fn enqueue(&mut self, e: Entry) {
        let key = |e: &Entry| (std::cmp::Reverse(e.airing.priority), e.sort_at, e.order);
        let pos = self.queue.partition_point(|q| key(q) <= key(&e));
        self.queue.insert(pos, e);
    }

    fn close_unaired(&mut self, e: Entry, outcome: Outcome, reason: String) {
        self.metrics
            .outcome(outcome, e.airing.campaign.as_deref(), 0.0);
        info!(
            occurrence = %e.airing.occurrence,
            outcome = outcome.as_str(),
            reason = %reason,
            "not aired"
        );
        self.recorder.record(e.airing, outcome, Some(reason));
    }

    /// Keep the ledger's copy of the repeating emergency current.
    fn save_repeat(&self) {
        self.recorder
            .state(EMERGENCY_STATE, self.repeat.as_ref().map(Repeat::save));
    }

    fn repeat_emergency(&mut self, now: DateTime<Utc>) {
        let Some(r) = &mut self.repeat else { return };
        if r.until.is_some_and(|u| now > u) {
            info!(bulletin = %r.bulletin, "emergency repeats ended");
            self.repeat = None;
            self.save_repeat();
            return;
        }
        if now < r.next_at {
            return;
        }
        // Never release a backlog of repeats after a clock jump.
        while r.next_at <= now {
            r.next_at += r.every;
        }
        let (target, by) = (r.target.clone(), r.requested_by.clone());
        self.save_repeat();
        if let Ok(e) = self.operator_entry(
            &target,
            Some(Priority::Emergency),
            Some(now),
            by,
            Source::Emergency,
        ) {
            self.decided.insert(e.airing.occurrence.clone(), now);
            self.enqueue(e);
        }
    }

    // -- Putting things on the line ------------------------------------------

    fn is_due(e: &Entry, now: DateTime<Utc>) -> bool {
        e.airing.scheduled_at <= now
    }

    fn dispatch(&mut self, now: DateTime<Utc>) {
        if self.shutting_down {
            return;
        }
        self.preempt(now);
        self.settle_unairable(now);
        loop {
            let cue_at = match self.line.back() {
                None => None,
                Some(last) => {
                    // Only one cue waits behind the airing item, and only
                    // near its end, so a later priority item still gets in.
                    if self.line.len() >= 2 || last.stop.is_some() {
                        return;
                    }
                    let Some(start) = last.started_at else { return };
                    let end = start
                        + Duration::milliseconds((last.entry.airing.planned_seconds * 1e3) as i64);
                    if now < end - CUE_NEXT {
                        return;
                    }
                    Some(end)
                }
            };
            // The first entry, in queue order, due by the time the line is
            // free; when none is, the next scheduled one within LEAD.
            let free_at = cue_at.unwrap_or(now).max(now);
            let pick = self
                .queue
                .iter()
                .position(|e| e.airing.scheduled_at <= free_at && self.may_air(e, free_at))
                .or_else(|| {
                    if cue_at.is_some() {
                        return None;
                    }
                    self.queue
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| {
                            e.airing.scheduled_at <= now + LEAD
                                && self.may_air(e, e.airing.scheduled_at)
                        })
                        .min_by_key(|(_, e)| {
                            (e.airing.scheduled_at, std::cmp::Reverse(e.airing.priority))
                        })
                        .map(|(i, _)| i)
                });
            let Some(i) = pick else { return };
            let e = self.queue.remove(i);
            let start_at = (e.airing.scheduled_at > free_at).then_some(e.airing.scheduled_at);
            self.cue(e, start_at);
        }
    }

    /// Whether `e` may start at `t`: a paused station and quiet hours hold
    /// back everything but emergencies (they are recorded `skipped` when
    /// due, by `settle_unairable`).
    fn may_air(&self, e: &Entry, t: DateTime<Utc>) -> bool {
        e.airing.priority == Priority::Emergency
            || !(self.paused
                || self
                    .station
                    .quiet
                    .contains(t.with_timezone(&self.tz()).time()))
    }

    /// Record as skipped or missed the due entries that must not air now.
    fn settle_unairable(&mut self, now: DateTime<Utc>) {
        let local = now.with_timezone(&self.tz()).time();
        let quiet = self.station.quiet.contains(local);
        let line_busy = !self.line.is_empty();
        let mut i = 0;
        while i < self.queue.len() {
            let e = &self.queue[i];
            if !Self::is_due(e, now) {
                i += 1;
                continue;
            }
            let emergency = e.airing.priority == Priority::Emergency;
            let verdict = if now - e.airing.scheduled_at > e.grace {
                Some((
                    Outcome::Missed,
                    format!(
                        "{} late: the line was busy past its grace of {}",
                        human(now - e.airing.scheduled_at),
                        human(e.grace)
                    ),
                ))
            } else if self.paused && !emergency {
                Some((Outcome::Skipped, "station paused".to_string()))
            } else if quiet && !emergency && !line_busy {
                Some((Outcome::Skipped, "quiet hours".to_string()))
            } else {
                None
            };
            match verdict {
                Some((outcome, reason)) => {
                    let e = self.queue.remove(i);
                    self.close_unaired(e, outcome, reason);
                }
                None => i += 1,
            }
        }
    }

    /// An emergency due while something else is on the line cuts it.
    fn preempt(&mut self, now: DateTime<Utc>) {
        let Some(em) = self
            .queue
            .iter()
            .find(|e| e.airing.priority == Priority::Emergency && Self::is_due(e, now))
        else {
            return;
        };
        let Some(cur) = self.line.front() else { return };
        if cur.entry.airing.priority == Priority::Emergency || cur.stop.is_some() {
            return;
        }
        let reason = format!(
            "interrupted by emergency \"{}\" ({})",
            em.airing.bulletin, em.airing.title
        );
        let cues: Vec<u64> = self.line.iter().map(|c| c.cue).collect();
        for c in self.line.iter_mut() {
            c.stop = Some(if c.started_at.is_some() {
                Stop::Interrupt(reason.clone())
            } else {
                Stop::Requeue(reason.clone())
            });
        }
        for cue in cues {
            self.playout.stop(cue);
        }
    }

    fn cue(&mut self, e: Entry, start_at: Option<DateTime<Utc>>) {
        let cue = self.next_id();
        self.playout.cue(Cue {
            id: cue,
            path: e.path.clone(),
            expected_seconds: e.airing.planned_seconds,
            start_at,
        });
        self.line.push_back(OnLine {
            entry: e,
            cue,
            started_at: None,
            aired: 0.0,
            written_aired: 0.0,
            stop: None,
        });
    }

    // -- What the playout reports --------------------------------------------

    fn on_event(&mut self, ev: PlayEvent) {
        match ev {
            PlayEvent::Started { cue, at } => {
                let tz = self.tz();
                let Some(c) = self.line.iter_mut().find(|c| c.cue == cue) else {
                    return;
                };
                c.started_at = Some(at);
                let late_ms = (at - c.entry.airing.scheduled_at).num_milliseconds();
                self.metrics.lateness(late_ms as f64 / 1e3);
                info!(
                    occurrence = %c.entry.airing.occurrence,
                    title = %c.entry.airing.title,
                    priority = c.entry.airing.priority.as_str(),
                    late_ms,
                    "airing {} (scheduled {})",
                    c.entry.airing.bulletin,
                    rfc3339(c.entry.airing.scheduled_at, tz)
                );
                self.recorder.begin(cue, c.entry.airing.clone(), at);
            }
            PlayEvent::Progress { cue, aired_seconds } => {
                if let Some(c) = self.line.iter_mut().find(|c| c.cue == cue) {
                    c.aired = aired_seconds;
                    if aired_seconds - c.written_aired >= PROGRESS_EVERY {
                        c.written_aired = aired_seconds;
                        self.recorder.progress(cue, aired_seconds);
                    }
                }
            }
            PlayEvent::Finished {
                cue,
                aired_seconds,
                end,
            } => {
                let Some(pos) = self.line.iter().position(|c| c.cue == cue) else {
                    return;
                };
                let c = self.line.remove(pos).expect("position is valid");
                self.finished(c, aired_seconds, end);
            }
        }
    }

    fn finished(&mut self, c: OnLine, aired: f64, end: PlayEnd) {
        let now = self.clock.now();
        let started = c.started_at.is_some();
        let (outcome, reason) = match (&end, &c.stop) {
            (PlayEnd::Cancelled, Some(Stop::Requeue(_))) if !started => {
                self.enqueue(c.entry);
                return;
            }
            (PlayEnd::Cancelled, Some(Stop::Drop)) if !started => {
                self.close_unaired(c.entry, Outcome::Skipped, DEQUEUED.to_string());
                return;
            }
            (PlayEnd::Cancelled, _) if !started => {
                if self.shutting_down {
                    // Not decided after all: the next run decides it again.
                    self.decided.remove(&c.entry.airing.occurrence);
                }
                return;
            }
            (PlayEnd::Completed, _) if started => (Outcome::Completed, None),
            (PlayEnd::Completed, _) => (
                Outcome::Failed,
                Some("nothing was played: the file holds no audio".to_string()),
            ),
            (PlayEnd::Failed(r), _) => (Outcome::Failed, Some(r.clone())),
            (
                PlayEnd::Stopped | PlayEnd::Cancelled,
                Some(Stop::Interrupt(r) | Stop::Requeue(r)),
            ) => (Outcome::Interrupted, Some(r.clone())),
            (PlayEnd::Stopped | PlayEnd::Cancelled, _) => {
                (Outcome::Interrupted, Some("stopped".to_string()))
            }
        };
        info!(
            occurrence = %c.entry.airing.occurrence,
            outcome = outcome.as_str(),
            aired_seconds = format!("{aired:.2}"),
            reason = reason.as_deref().unwrap_or(""),
            "ended {}",
            c.entry.airing.bulletin
        );
        self.metrics
            .outcome(outcome, c.entry.airing.campaign.as_deref(), aired);
        if let Some(start) = c.started_at {
            // A completed item ended when its last sample went out: derive
            // it from the samples, not from when the event was handled.
            let ended = if outcome == Outcome::Completed {
                start + Duration::microseconds((aired * 1e6) as i64)
            } else {
                now
            };
            self.recorder.finish(c.cue, ended, aired, outcome, reason);
        } else {
            self.recorder.record(c.entry.airing, outcome, reason);
        }
    }

    // -- Commands ------------------------------------------------------------

    fn on_command(&mut self, cmd: Command) {
        let now = self.clock.now();
        match cmd {
            Command::Queue(req, reply) => {
                let r = self
                    .operator_entry(
                        &req.target,
                        req.priority,
                        req.at,
                        req.requested_by,
                        Source::Operator,
                    )
                    .map(|e| {
                        let view = self.view(&e);
                        self.decided.insert(e.airing.occurrence.clone(), now);
                        self.enqueue(e);
                        view
                    });
                let _ = reply.send(r);
            }
            Command::Dequeue(id, reply) => {
                let found = if let Some(i) = self.queue.iter().position(|e| e.id == id) {
                    let e = self.queue.remove(i);
                    self.close_unaired(e, Outcome::Skipped, DEQUEUED.to_string());
                    true
                } else if let Some(c) = self
                    .line
                    .iter_mut()
                    .find(|c| c.entry.id == id && c.started_at.is_none())
                {
                    c.stop = Some(Stop::Drop);
                    let cue = c.cue;
                    self.playout.stop(cue);
                    true
                } else {
                    false
                };
                let _ = reply.send(found);
            }
            Command::Skip(by, reply) => {
                let title = self.stop_current(format!("skipped by {by}"));
                let _ = reply.send(title);
            }
            Command::Pause(by) => {
                info!(by = %by, "station paused");
                self.paused = true;
                // What airs stops; what was cued behind it goes back.
                self.stop_current(format!("station paused by {by}"));
            }
            Command::Resume(by) => {
                info!(by = %by, "station resumed");
                self.paused = false;
            }
            Command::Emergency(req, reply) => {
                let r = self
                    .operator_entry(
                        &req.target,
                        Some(Priority::Emergency),
                        Some(now),
                        req.requested_by.clone(),
                        Source::Emergency,
                    )
                    .map(|e| {
                        let view = self.view(&e);
                        if let Some(every) = req.repeat_every {
                            self.repeat = Some(Repeat {
                                target: req.target.clone(),
                                every,
                                until: req.until,
                                next_at: now + every,
                                requested_by: req.requested_by.clone(),
                                title: e.airing.title.clone(),
                                bulletin: e.airing.bulletin.clone(),
                            });
                        } else {
                            self.repeat = None;
                        }
                        self.save_repeat();
                        warn!(bulletin = %e.airing.bulletin, by = ?req.requested_by, "emergency broadcast");
                        self.decided.insert(e.airing.occurrence.clone(), now);
                        self.enqueue(e);
                        view
                    });
                let _ = reply.send(r);
            }
            Command::CancelEmergency(by, reply) => {
                let had = self.repeat.take().is_some();
                self.save_repeat();
                let before = self.queue.len();
                let (cancelled, kept): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut self.queue)
                    .into_iter()
                    .partition(|e| e.airing.source == Source::Emergency);
                self.queue = kept;
                for e in cancelled {
                    self.close_unaired(e, Outcome::Skipped, format!("emergency cancelled by {by}"));
                }
                let mut stopped = false;
                if self
                    .line
                    .front()
                    .is_some_and(|c| c.entry.airing.source == Source::Emergency)
                {
                    stopped = self
                        .stop_current(format!("emergency cancelled by {by}"))
                        .is_some();
                }
                let _ = reply.send(had || stopped || before != self.queue.len());
            }
            Command::Reload(station) => self.reload(station, now),
            Command::Ping(reply) => {
                let _ = reply.send(());
            }
            Command::Shutdown => unreachable!("handled in run"),
        }
    }

    /// Stop what airs (recorded `interrupted` with `reason`); anything cued
    /// behind it goes back to the queue. Returns the stopped item's title.
    fn stop_current(&mut self, reason: String) -> Option<String> {
        let mut title = None;
        let mut cues = Vec::new();
        for c in self.line.iter_mut() {
            if c.started_at.is_some() && title.is_none() {
                title = Some(c.entry.airing.title.clone());
                c.stop = Some(Stop::Interrupt(reason.clone()));
            } else {
                c.stop = Some(Stop::Requeue(reason.clone()));
            }
            cues.push(c.cue);
        }
        for cue in cues {
            self.playout.stop(cue);
        }
        title
    }

    /// Build an entry for something an operator asked for.
    fn operator_entry(
        &mut self,
        target: &Target,
        priority: Option<Priority>,
        at: Option<DateTime<Utc>>,
        requested_by: Option<String>,
        source: Source,
    ) -> Result<Entry, String> {
        let now = self.clock.now();
        let at = at.unwrap_or(now);
        let id = self.next_id();
        let order = (1 << 40) + id;
        let stamp = rfc3339(at, self.tz());
        let grace = Duration::seconds(i64::from(crate::config::DEFAULT_GRACE_SECONDS));
        match target {
            Target::Bulletin(bid) => {
                let station = Arc::clone(&self.station);
                let b = station.bulletin(bid).ok_or_else(|| {
                    format!("no bulletin with id \"{bid}\"; see GET /api/v1/bulletins")
                })?;
                let key = format!("{}:{id}/{bid}@{stamp}", source.as_str());
                let mut e = self.entry(
                    key,
                    b,
                    None,
                    priority.unwrap_or(b.priority),
                    source,
                    at,
                    at,
                    order,
                    Duration::seconds(i64::from(b.grace_seconds)).max(grace),
                    requested_by,
                );
                e.id = id;
                Ok(e)
            }
            Target::File {
                file,
                path,
                seconds,
            } => Ok(Entry {
                id,
                airing: Airing {
                    occurrence: format!("{}:{id}/{file}@{stamp}", source.as_str()),
                    bulletin: file.clone(),
                    title: file.clone(),
                    campaign: None,
                    program: None,
                    priority: priority.unwrap_or(Priority::Normal),
                    source,
                    file: file.clone(),
                    scheduled_at: at,
                    planned_seconds: *seconds,
                    requested_by,
                },
                path: path.clone(),
                sort_at: at,
                order,
                grace,
            }),
        }
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
        let (old, kept): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|e| e.airing.source == Source::Schedule);
        self.queue = kept;
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
        for o in schedule::schedule(&station, from, self.scan_end) {
            self.decide(&station, &o, now);
        }
        for e in old {
            if !self.decided.contains_key(&e.airing.occurrence) {
                info!(occurrence = %e.airing.occurrence, "no longer in the station file; dropped from the queue");
            }
        }
    }

    async fn shutdown(&mut self) {
        self.shutting_down = true;
        // Not saved: the ledger keeps the repeat for the next start.
        self.repeat = None;
        self.stop_current("daemon stopped".to_string());
        // Wait (bounded) for the fade-out and the final events.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(1500);
        while !self.line.is_empty() {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
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
                    c.aired,
                    Outcome::Interrupted,
                    Some("daemon stopped".into()),
                );
            }
        }
        self.recorder.alive(self.watermark());
        let recorder = self.recorder.clone();
        let _ = tokio::task::spawn_blocking(move || {
            recorder.flush(std::time::Duration::from_millis(400))
        })
        .await;
        info!("engine stopped");
    }

    // -- Status ----------------------------------------------------------------

    fn view(&self, e: &Entry) -> QueuedView {
        QueuedView {
            id: e.id,
            occurrence: e.airing.occurrence.clone(),
            bulletin: e.airing.bulletin.clone(),
            title: e.airing.title.clone(),
            priority: e.airing.priority.as_str(),
            source: e.airing.source.as_str(),
            at: rfc3339(e.airing.scheduled_at, self.tz()),
            planned_seconds: e.airing.planned_seconds,
            requested_by: e.airing.requested_by.clone(),
        }
    }

    fn publish(&mut self, now: DateTime<Utc>) {
        let tz = self.tz();
        let airing = self.line.front().and_then(|c| {
            let started = c.started_at?;
            Some(AiringView {
                occurrence: c.entry.airing.occurrence.clone(),
                bulletin: c.entry.airing.bulletin.clone(),
                title: c.entry.airing.title.clone(),
                program: c.entry.airing.program.clone(),
                priority: c.entry.airing.priority.as_str(),
                source: c.entry.airing.source.as_str(),
                started_at: rfc3339(started, tz),
                position_seconds: c
                    .aired
                    .max(((now - started).num_milliseconds() as f64 / 1e3).max(0.0))
                    .min(c.entry.airing.planned_seconds),
                duration_seconds: c.entry.airing.planned_seconds,
            })
        });
        let mut queue: Vec<QueuedView> = self
            .line
            .iter()
            .filter(|c| c.started_at.is_none())
            .map(|c| self.view(&c.entry))
            .collect();
        queue.extend(self.queue.iter().map(|e| self.view(e)));
        let emergency = self.repeat.as_ref().map(|r| EmergencyView {
            bulletin: r.bulletin.clone(),
            title: r.title.clone(),
            repeat_every_seconds: Some(r.every.num_seconds()),
            until: r.until.map(|u| rfc3339(u, tz)),
            next_at: Some(rfc3339(r.next_at, tz)),
        });
        let status = Status {
            airing,
            queue,
            paused: self.paused,
            output: self.playout.state(),
            emergency,
            clock_suspect: self.clock_suspect,
        };
        self.status.send_if_modified(|s| {
            if *s == status {
                false
            } else {
                *s = status;
                true
            }
        });
    }
}

/// `1h 5m`, `10m`, `45s` — how officials read a delay.
pub fn human(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}
