//! The ledger's writer: a thread that owns the SQLite connection, so no
//! database call ever blocks the engine's tokio task.
//!
//! The engine sends writes and carries on. When a write fails (disk full,
//! a read-only remount), the station keeps airing: the write and every one
//! after it wait in memory, in order, and are retried every few seconds;
//! the failure is logged once and the recovery once. Rows written before
//! are never touched. Airings are named by an engine-side token, so the
//! engine never waits for a row id.
//!
//! With a line monitor, a row closes at once and its `heard_seconds` is
//! written when the monitor's verdicts on it are final (a few seconds
//! later; after a start, when the line's delay is found): the thread asks
//! the monitor a few times a second and never waits on it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tracing::{error, info, warn};

use crate::ledger::{Airing, Ledger, LedgerError, Outcome, Queued};
use crate::monitor::{LineState, Monitor};
use crate::reason::Reasons;

/// How often failed writes are retried.
const RETRY: Duration = Duration::from_secs(5);
/// How often the monitor is asked about closed rows.
const LISTEN: Duration = Duration::from_millis(250);
/// Longest a closed row waits for the monitor's final verdicts.
const LISTEN_MAX: Duration = crate::monitor::HEARD_WAIT;
/// Closed rows waiting for the monitor; past this the oldest is written
/// with what is known.
const LISTENING_MAX: usize = 1000;

/// The writes the writer thread makes: the ledger, or (tests) a store that
/// fails on demand. One list declares the trait and the ledger's impl,
/// which hands each call to the ledger's method of the same name.
macro_rules! store {
    ($(fn $name:ident(&mut self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)+) => {
        trait Store {
            $(fn $name(&mut self $(, $arg: $ty)*) -> $ret;)+
        }

        impl Store for Ledger {
            $(fn $name(&mut self $(, $arg: $ty)*) -> $ret {
                Ledger::$name(self $(, $arg)*)
            })+
        }
    };
}

store! {
    fn begin(&mut self, airing: &Airing, started_at: DateTime<Utc>) -> Result<i64, LedgerError>;
    fn progress(&mut self, id: i64, aired_seconds: f64) -> Result<(), LedgerError>;
    fn finish(&mut self, id: i64, ended_at: DateTime<Utc>, aired_seconds: f64,
        outcome: Outcome, reason: Option<&Reasons>, heard_seconds: Option<f64>)
        -> Result<(), LedgerError>;
    fn record(&mut self, airing: &Airing, outcome: Outcome, reason: Option<&Reasons>)
        -> Result<i64, LedgerError>;
    fn set_heard(&mut self, id: i64, heard_seconds: f64) -> Result<(), LedgerError>;
    fn set_last_alive(&mut self, at: DateTime<Utc>) -> Result<(), LedgerError>;
    fn set_state(&mut self, key: &str, value: Option<&str>) -> Result<(), LedgerError>;
    fn queue_put(&mut self, q: &Queued) -> Result<(), LedgerError>;
    fn queue_remove(&mut self, id: u64) -> Result<(), LedgerError>;
    fn set_next_entry_id(&mut self, next: u64) -> Result<(), LedgerError>;
    fn audit(&mut self, who: &str, action: &str, detail: &str, result: &str)
        -> Result<(), LedgerError>;
}

/// Writes pending for longer than this many entries are summarised in the
/// log instead of piling up unnoticed.
const BACKLOG_WARN: usize = 1000;

#[derive(Debug)]
enum Op {
    Begin {
        token: u64,
        airing: Airing,
        started_at: DateTime<Utc>,
    },
    Progress {
        token: u64,
        aired_seconds: f64,
    },
    Finish {
        token: u64,
        ended_at: DateTime<Utc>,
        aired_seconds: f64,
        outcome: Outcome,
        reason: Option<Reasons>,
    },
    Record {
        airing: Airing,
        outcome: Outcome,
        reason: Option<Reasons>,
    },
    /// What the line monitor heard of a closed row.
    Heard {
        id: i64,
        seconds: f64,
    },
    Alive(DateTime<Utc>),
    /// Keep a waiting operator item across restarts.
    QueuePut(Box<Queued>),
    /// It left the queue for good.
    QueueRemove(u64),
    /// Entry ids below this are handed out.
    NextEntryId(u64),
    State {
        key: &'static str,
        value: Option<String>,
    },
    Audit {
        who: String,
        action: String,
        detail: String,
        result: String,
    },
    /// Reply once everything before it is written (or waiting in the
    /// backlog): `true` when nothing is pending. Closed rows still
    /// waiting for the line monitor get what it knows now.
    Flush(std::sync::mpsc::Sender<bool>),
}

/// Handle to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Op>,
    /// The line monitor, whose alarms the engine's status shows.
    monitor: Option<Monitor>,
    /// How many writes wait for the disk (for `/metrics`).
    waiting: Arc<AtomicUsize>,
}

impl Recorder {
    /// Start the writer thread on an open ledger.
    #[cfg(test)]
    pub fn start(ledger: Ledger) -> Recorder {
        Recorder::spawn(ledger, RETRY, None)
    }

    /// `start`, with the line monitor that says what each airing's row
    /// records as heard (asked after the row is closed, on this thread).
    pub fn start_monitored(ledger: Ledger, monitor: Option<Monitor>) -> Recorder {
        Recorder::spawn(ledger, RETRY, monitor)
    }

    /// The writer thread on any store, retrying failed writes every
    /// `retry` (tests drive it in milliseconds).
    fn spawn<S: Store + Send + 'static>(
        store: S,
        retry: Duration,
        monitor: Option<Monitor>,
    ) -> Recorder {
        let (tx, rx) = mpsc::channel();
        let waiting = Arc::new(AtomicUsize::new(0));
        let mut writer = Writer::new(store, retry);
        writer.monitor = monitor.clone();
        writer.waiting = Arc::clone(&waiting);
        thread::Builder::new()
            .name("loa-ledger".into())
            .spawn(move || writer.run(rx))
            .expect("spawn the ledger thread");
        Recorder {
            tx,
            monitor,
            waiting,
        }
    }

    /// What the line monitor hears now (`None`: no `[monitor]`).
    pub fn line(&self) -> Option<LineState> {
        self.monitor.as_ref().map(Monitor::state)
    }

    /// The count of writes waiting for the disk, kept up to date by the
    /// writer thread.
    pub(super) fn waiting(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.waiting)
    }

    fn send(&self, op: Op) {
        // The thread lives as long as any Recorder; a send can only fail
        // after it panicked, and then the log already says why.
        let _ = self.tx.send(op);
    }

    pub fn begin(&self, token: u64, airing: Airing, started_at: DateTime<Utc>) {
        self.send(Op::Begin {
            token,
            airing,
            started_at,
        });
    }

    pub fn progress(&self, token: u64, aired_seconds: f64) {
        self.send(Op::Progress {
            token,
            aired_seconds,
        });
    }

    pub fn finish(
        &self,
        token: u64,
        ended_at: DateTime<Utc>,
        aired_seconds: f64,
        outcome: Outcome,
        reason: Option<Reasons>,
    ) {
        self.send(Op::Finish {
            token,
            ended_at,
            aired_seconds,
            outcome,
            reason,
        });
    }

    pub fn record(&self, airing: Airing, outcome: Outcome, reason: Option<Reasons>) {
        self.send(Op::Record {
            airing,
            outcome,
            reason,
        });
    }

    /// Remember how far the engine has decided the plan (see the engine).
    pub fn alive(&self, at: DateTime<Utc>) {
        self.send(Op::Alive(at));
    }

    /// Keep a waiting operator item, so a restart finds it again.
    pub fn queue_put(&self, q: Queued) {
        self.send(Op::QueuePut(Box::new(q)));
    }

    /// Forget a kept item: it aired, was recorded or was removed.
    pub fn queue_remove(&self, id: u64) {
        self.send(Op::QueueRemove(id));
    }

    /// Reserve entry ids below `next`, so the next run hands out none of them.
    pub fn next_entry_id(&self, next: u64) {
        self.send(Op::NextEntryId(next));
    }

    /// Set or clear a value of the daemon's bookkeeping (`state` table).
    pub fn state(&self, key: &'static str, value: Option<String>) {
        self.send(Op::State { key, value });
    }

    pub fn audit(&self, who: &str, action: &str, detail: &str, result: &str) {
        self.send(Op::Audit {
            who: who.into(),
            action: action.into(),
            detail: detail.into(),
            result: result.into(),
        });
    }

    /// Wait until every write sent so far was attempted. Returns whether
    /// all of them landed (`false`: some wait for the disk to recover).
    /// Closed rows still waiting for the line monitor's final verdicts get
    /// what it knows now: the engine flushes when the daemon stops.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = mpsc::channel();
        self.send(Op::Flush(tx));
        rx.recv_timeout(timeout).unwrap_or(false)
    }
}

/// A closed row waiting for the monitor's final verdicts.
#[derive(Debug)]
struct Listening {
    id: i64,
    started_at: DateTime<Utc>,
    aired_seconds: f64,
    give_up: Instant,
}

struct Writer<S> {
    ledger: S,
    retry: Duration,
    /// Engine token → row id, for airings whose row exists.
    rows: HashMap<u64, i64>,
    /// With a line monitor: engine token → when its airing started.
    monitor: Option<Monitor>,
    started: HashMap<u64, DateTime<Utc>>,
    /// Closed rows whose heard seconds the monitor has yet to settle.
    listening: VecDeque<Listening>,
    backlog: VecDeque<Op>,
    failing: Option<String>,
    waiting: Arc<AtomicUsize>,
}

impl<S: Store> Writer<S> {
    fn new(ledger: S, retry: Duration) -> Self {
        Writer {
            ledger,
            retry,
            rows: HashMap::new(),
            monitor: None,
            started: HashMap::new(),
            listening: VecDeque::new(),
            backlog: VecDeque::new(),
            failing: None,
            waiting: Arc::default(),
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Op>) {
        loop {
            let mut wait = if self.backlog.is_empty() {
                Duration::from_secs(3600)
            } else {
                self.retry
            };
            if !self.listening.is_empty() {
                wait = wait.min(LISTEN);
            }
            let got = rx.recv_timeout(wait);
            self.listen();
            match got {
                Ok(Op::Flush(reply)) => {
                    self.drain();
                    self.listen_now();
                    self.drain();
                    let _ = reply.send(self.backlog.is_empty());
                }
                Ok(op) => {
                    self.backlog.push_back(op);
                    self.drain();
                }
                Err(RecvTimeoutError::Timeout) => self.drain(),
                Err(RecvTimeoutError::Disconnected) => {
                    self.drain();
                    if !self.backlog.is_empty() {
                        error!(
                            pending = self.backlog.len(),
                            "ledger: exiting with writes that could not be saved"
                        );
                    }
                    return;
                }
            }
        }
    }

    /// Apply pending writes in order; stop at the first failure.
    fn drain(&mut self) {
        self.drain_backlog();
        self.waiting.store(self.backlog.len(), Ordering::Relaxed);
    }

    fn drain_backlog(&mut self) {
        while let Some(op) = self.backlog.pop_front() {
            match self.apply(&op) {
                Ok(()) => {}
                Err(e) => {
                    self.backlog.push_front(op);
                    let msg = e.to_string();
                    if self.failing.as_deref() != Some(msg.as_str()) {
                        error!(error = %msg, pending = self.backlog.len(),
                            "ledger write failed; the station keeps airing and retries every {} s", self.retry.as_secs_f64());
                        self.failing = Some(msg);
                    }
                    if self.backlog.len().is_multiple_of(BACKLOG_WARN) {
                        warn!(pending = self.backlog.len(), "ledger writes still waiting");
                    }
                    return;
                }
            }
        }
        if self.failing.take().is_some() {
            info!("ledger is writable again; every pending write was saved");
        }
    }

    /// Queue the heard seconds of the closed rows whose verdicts are
    /// final (or that waited long enough) for writing.
    fn listen(&mut self) {
        self.listen_until(Instant::now());
    }

    /// Queue every closed row's heard seconds with what the monitor knows
    /// now (the daemon stops: frames not yet decided count as not heard).
    fn listen_now(&mut self) {
        self.listen_until(Instant::now() + LISTEN_MAX);
    }

    /// [`Writer::listen`], giving up on the rows due by `now`.
    fn listen_until(&mut self, now: Instant) {
        let Some(monitor) = &self.monitor else {
            return;
        };
        let over = self.listening.len().saturating_sub(LISTENING_MAX);
        let mut i = 0;
        while i < self.listening.len() {
            let l = &self.listening[i];
            let seconds = match monitor.heard(l.started_at, l.aired_seconds) {
                Some(s) => s,
                None if i < over || now >= l.give_up => {
                    monitor.heard_so_far(l.started_at, l.aired_seconds)
                }
                None => {
                    i += 1;
                    continue;
                }
            };
            let id = l.id;
            self.listening.remove(i);
            self.backlog.push_back(Op::Heard { id, seconds });
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), LedgerError> {
        match op {
            Op::Begin {
                token,
                airing,
                started_at,
            } => {
                let id = self.ledger.begin(airing, *started_at)?;
                self.rows.insert(*token, id);
                if self.monitor.is_some() {
                    self.started.insert(*token, *started_at);
                }
            }
            Op::Progress {
                token,
                aired_seconds,
            } => {
                if let Some(id) = self.rows.get(token) {
                    self.ledger.progress(*id, *aired_seconds)?;
                }
            }
            Op::Finish {
                token,
                ended_at,
                aired_seconds,
                outcome,
                reason,
            } => {
                if let Some(id) = self.rows.get(token).copied() {
                    // Heard seconds follow when the monitor knows them.
                    self.ledger.finish(
                        id,
                        *ended_at,
                        *aired_seconds,
                        *outcome,
                        reason.as_ref(),
                        None,
                    )?;
                    self.rows.remove(token);
                    if let Some(started_at) = self.started.remove(token) {
                        self.listening.push_back(Listening {
                            id,
                            started_at,
                            aired_seconds: *aired_seconds,
                            give_up: Instant::now() + LISTEN_MAX,
                        });
                    }
                }
            }
            Op::Record {
                airing,
                outcome,
                reason,
            } => {
                self.ledger.record(airing, *outcome, reason.as_ref())?;
            }
            Op::Heard { id, seconds } => self.ledger.set_heard(*id, *seconds)?,
            Op::Alive(at) => self.ledger.set_last_alive(*at)?,
            Op::QueuePut(q) => self.ledger.queue_put(q)?,
            Op::QueueRemove(id) => self.ledger.queue_remove(*id)?,
            Op::NextEntryId(next) => self.ledger.set_next_entry_id(*next)?,
            Op::State { key, value } => self.ledger.set_state(key, value.as_deref())?,
            Op::Audit {
                who,
                action,
                detail,
                result,
            } => self.ledger.audit(who, action, detail, result)?,
            Op::Flush(_) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use crate::ledger::test_util::{airing, at};
    use crate::ledger::ErrorContext;
    use crate::reason::Reason;

    /// A store that keeps what landed, in order, and fails every write
    /// while `full` is set, as a full disk does.
    #[derive(Clone, Default)]
    struct Disk {
        full: Arc<AtomicBool>,
        landed: Arc<Mutex<Vec<String>>>,
        /// Writes tried while full, by name.
        refused: Arc<Mutex<Vec<String>>>,
        ids: Arc<AtomicUsize>,
    }

    impl Disk {
        fn write(&self, what: String) -> Result<(), LedgerError> {
            if self.full.load(Ordering::SeqCst) {
                self.refused.lock().unwrap().push(what);
                return Err(LedgerError::DiskFull(ErrorContext {
                    path: "airtime.db".into(),
                    action: "test write",
                    cause: "database or disk is full".into(),
                }));
            }
            self.landed.lock().unwrap().push(what);
            Ok(())
        }

        fn landed(&self) -> Vec<String> {
            self.landed.lock().unwrap().clone()
        }

        /// Wait up to 2 s for `n` writes to have landed.
        fn wait_landed(&self, n: usize) -> Vec<String> {
            let deadline = Instant::now() + Duration::from_secs(2);
            while self.landed().len() < n && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            self.landed()
        }
    }

    impl Store for Disk {
        fn begin(&mut self, a: &Airing, _: DateTime<Utc>) -> Result<i64, LedgerError> {
            let id = 100 + self.ids.load(Ordering::SeqCst) as i64;
            self.write(format!("begin {} = {id}", a.bulletin))?;
            self.ids.fetch_add(1, Ordering::SeqCst);
            Ok(id)
        }
        fn progress(&mut self, id: i64, s: f64) -> Result<(), LedgerError> {
            self.write(format!("progress {id} {s}"))
        }
        fn finish(
            &mut self,
            id: i64,
            _: DateTime<Utc>,
            s: f64,
            o: Outcome,
            _: Option<&Reasons>,
            _: Option<f64>,
        ) -> Result<(), LedgerError> {
            self.write(format!("finish {id} {s} {o}"))
        }
        fn record(
            &mut self,
            a: &Airing,
            o: Outcome,
            _: Option<&Reasons>,
        ) -> Result<i64, LedgerError> {
            self.write(format!("record {} {o}", a.bulletin)).map(|()| 0)
        }
        fn set_heard(&mut self, id: i64, s: f64) -> Result<(), LedgerError> {
            self.write(format!("heard {id} {s}"))
        }
        fn set_last_alive(&mut self, _: DateTime<Utc>) -> Result<(), LedgerError> {
            self.write("alive".into())
        }
        fn set_state(&mut self, key: &str, value: Option<&str>) -> Result<(), LedgerError> {
            self.write(format!("state {key}={value:?}"))
        }
        fn queue_put(&mut self, q: &Queued) -> Result<(), LedgerError> {
            self.write(format!("queue put {}", q.id))
        }
        fn queue_remove(&mut self, id: u64) -> Result<(), LedgerError> {
            self.write(format!("queue remove {id}"))
        }
        fn set_next_entry_id(&mut self, next: u64) -> Result<(), LedgerError> {
            self.write(format!("next entry id {next}"))
        }
        fn audit(&mut self, who: &str, action: &str, _: &str, _: &str) -> Result<(), LedgerError> {
            self.write(format!("audit {who} {action}"))
        }
    }

    #[test]
    fn failed_writes_wait_in_order_and_land_once_when_the_disk_recovers() {
        let disk = Disk::default();
        let rec = Recorder::spawn(disk.clone(), Duration::from_millis(20), None);
        rec.begin(1, airing("sang", None, at(6, 0)), at(6, 0));
        assert!(rec.flush(Duration::from_secs(2)));
        assert_eq!(disk.landed(), ["begin sang = 100"]);

        disk.full.store(true, Ordering::SeqCst);
        rec.progress(1, 30.0);
        rec.audit("op", "pause", "", "ok");
        rec.finish(1, at(6, 2), 120.0, Outcome::Completed, None);
        rec.begin(2, airing("chieu", None, at(17, 0)), at(17, 0));
        rec.record(
            airing("toi", None, at(19, 0)),
            Outcome::Failed,
            Some(
                Reason::FileFailed {
                    error: "bad file".into(),
                }
                .into(),
            ),
        );
        rec.state("k", Some("v".into()));
        rec.alive(at(19, 0));
        rec.finish(2, at(17, 2), 60.0, Outcome::Interrupted, None);
        assert!(
            !rec.flush(Duration::from_secs(2)),
            "writes wait for the disk"
        );
        assert_eq!(
            disk.landed().len(),
            1,
            "nothing lands while the disk is full"
        );
        assert_eq!(
            rec.waiting().load(Ordering::SeqCst),
            8,
            "/metrics counts them"
        );

        // Retried on the interval, not only when something new comes in;
        // and always the oldest write first, never one behind it.
        let deadline = Instant::now() + Duration::from_secs(2);
        while disk.refused.lock().unwrap().len() < 4 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        let refused = disk.refused.lock().unwrap().clone();
        assert!(refused.len() >= 4, "retried only {refused:?}");
        assert!(
            refused.iter().all(|w| w == "progress 100 30"),
            "{refused:?}"
        );

        // The disk recovers; nothing new is sent: the retry alone lands
        // every write, in the order sent, each once.
        disk.full.store(false, Ordering::SeqCst);
        let expected = [
            "begin sang = 100",
            "progress 100 30",
            "audit op pause",
            "finish 100 120 completed",
            "begin chieu = 101",
            "record toi failed",
            "state k=Some(\"v\")",
            "alive",
            "finish 101 60 interrupted",
        ];
        assert_eq!(disk.wait_landed(expected.len()), expected);
        assert!(rec.flush(Duration::from_secs(2)), "nothing left pending");
        assert_eq!(rec.waiting().load(Ordering::SeqCst), 0);
        rec.progress(1, 1.0); // row 1 is closed: nothing to write
        assert!(rec.flush(Duration::from_secs(2)));
        assert_eq!(disk.landed(), expected, "no write doubled");
    }

    #[test]
    fn a_row_closes_at_once_and_gets_its_heard_seconds_when_the_monitor_knows_them() {
        let disk = Disk::default();
        let monitor = Monitor::detached(100);
        let rec = Recorder::spawn(
            disk.clone(),
            Duration::from_millis(20),
            Some(monitor.clone()),
        );
        let started = at(6, 0);
        rec.begin(1, airing("sang", None, started), started);
        // The monitor listens, and has decided none of the item's frames:
        // the row closes without waiting for them (it used to wait 5 s on
        // this thread).
        let from = crate::monitor::frame_of(started.into());
        monitor.feed(|m| m.captured(from - 50, 0.0));
        let ended = started + chrono::Duration::seconds(5);
        rec.finish(1, ended, 5.0, Outcome::Completed, None);
        assert_eq!(
            disk.wait_landed(2),
            ["begin sang = 100", "finish 100 5 completed"]
        );
        // The line carries the item, 300 ms late; once its frames are
        // decided the row gets its heard seconds.
        let level = |f: i64| {
            (0..50)
                .contains(&(f - from))
                .then(|| 0.02 + 0.2 * ((f * 37).rem_euclid(17) as f32 / 17.0))
        };
        monitor.feed(|m| {
            for f in from - 50..from + 50 + crate::monitor::LAG + 10 {
                if let Some(l) = level(f) {
                    m.sent(f, l);
                }
                m.captured(f, level(f - 3).unwrap_or(0.0));
            }
        });
        let landed = disk.wait_landed(3);
        assert_eq!(
            landed.get(2).map(String::as_str),
            Some("heard 100 5"),
            "{landed:?}"
        );
    }

    #[test]
    fn a_flush_writes_what_the_monitor_knows_of_rows_still_waiting() {
        let disk = Disk::default();
        let monitor = Monitor::detached(100);
        let rec = Recorder::spawn(disk.clone(), Duration::from_millis(20), Some(monitor));
        rec.begin(1, airing("sang", None, at(6, 0)), at(6, 0));
        rec.finish(1, at(6, 1), 60.0, Outcome::Interrupted, None);
        // The daemon stops: nothing decided, nothing heard.
        assert!(rec.flush(Duration::from_secs(4)));
        assert_eq!(
            disk.landed(),
            [
                "begin sang = 100",
                "finish 100 60 interrupted",
                "heard 100 0"
            ]
        );
    }

    #[test]
    fn pending_writes_wait_for_the_retry_interval() {
        let disk = Disk::default();
        let rec = Recorder::spawn(disk.clone(), Duration::from_secs(3600), None);
        disk.full.store(true, Ordering::SeqCst);
        rec.audit("op", "pause", "", "ok");
        assert!(!rec.flush(Duration::from_secs(2)));
        let tries = disk.refused.lock().unwrap().len();
        disk.full.store(false, Ordering::SeqCst);
        thread::sleep(Duration::from_millis(200));
        assert_eq!(
            disk.refused.lock().unwrap().len(),
            tries,
            "no retry before the interval"
        );
        assert!(disk.landed().is_empty());
        // A new write (or a flush) tries the backlog at once.
        rec.audit("op", "resume", "", "ok");
        assert!(rec.flush(Duration::from_secs(2)));
        assert_eq!(disk.landed(), ["audit op pause", "audit op resume"]);
    }
}
