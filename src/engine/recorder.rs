//! The ledger's writer: a thread that owns the SQLite connection, so no
//! database call ever blocks the engine's tokio task.
//!
//! The engine sends writes and carries on. When a write fails (disk full,
//! a read-only remount), the station keeps airing: the write and every one
//! after it wait in memory, in order, and are retried every few seconds;
//! the failure is logged once and the recovery once. Rows written before
//! are never touched. Airings are named by an engine-side token, so the
//! engine never waits for a row id.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{error, info, warn};

use crate::ledger::{Airing, Ledger, LedgerError, Outcome, Queued};

/// How often failed writes are retried.
const RETRY: Duration = Duration::from_secs(5);

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
        reason: Option<String>,
    },
    Record {
        airing: Airing,
        outcome: Outcome,
        reason: Option<String>,
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
    /// backlog): `true` when nothing is pending.
    Flush(std::sync::mpsc::Sender<bool>),
}

/// Handle to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Op>,
}

impl Recorder {
    /// Start the writer thread on an open ledger.
    pub fn start(ledger: Ledger) -> Recorder {
        let (tx, rx) = mpsc::channel();
        thread::Builder::new()
            .name("loa-ledger".into())
            .spawn(move || Writer::new(ledger).run(rx))
            .expect("spawn the ledger thread");
        Recorder { tx }
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
        reason: Option<String>,
    ) {
        self.send(Op::Finish {
            token,
            ended_at,
            aired_seconds,
            outcome,
            reason,
        });
    }

    pub fn record(&self, airing: Airing, outcome: Outcome, reason: Option<String>) {
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
    pub fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = mpsc::channel();
        self.send(Op::Flush(tx));
        rx.recv_timeout(timeout).unwrap_or(false)
    }
}

struct Writer {
    ledger: Ledger,
    /// Engine token → row id, for airings whose row exists.
    rows: HashMap<u64, i64>,
    backlog: VecDeque<Op>,
    failing: Option<String>,
}

impl Writer {
    fn new(ledger: Ledger) -> Self {
        Writer {
            ledger,
            rows: HashMap::new(),
            backlog: VecDeque::new(),
            failing: None,
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Op>) {
        loop {
            let wait = if self.backlog.is_empty() {
                Duration::from_secs(3600)
            } else {
                RETRY
            };
            match rx.recv_timeout(wait) {
                Ok(Op::Flush(reply)) => {
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
        while let Some(op) = self.backlog.pop_front() {
            match self.apply(&op) {
                Ok(()) => {}
                Err(e) => {
                    self.backlog.push_front(op);
                    let msg = e.to_string();
                    if self.failing.as_deref() != Some(msg.as_str()) {
                        error!(error = %msg, pending = self.backlog.len(),
                            "ledger write failed; the station keeps airing and retries every {}s", RETRY.as_secs());
                        self.failing = Some(msg);
                    }
                    if self.backlog.len() % BACKLOG_WARN == 0 {
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

    fn apply(&mut self, op: &Op) -> Result<(), LedgerError> {
        match op {
            Op::Begin {
                token,
                airing,
                started_at,
            } => {
                let id = self.ledger.begin(airing, *started_at)?;
                self.rows.insert(*token, id);
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
                    self.ledger.finish(
                        id,
                        *ended_at,
                        *aired_seconds,
                        *outcome,
                        reason.as_deref(),
                    )?;
                    self.rows.remove(token);
                }
            }
            Op::Record {
                airing,
                outcome,
                reason,
            } => {
                self.ledger.record(airing, *outcome, reason.as_deref())?;
            }
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
