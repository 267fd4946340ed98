//! What other tasks ask of the engine, and how it answers: the commands,
//! their typed refusals, and the watchdog's separate ping line.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::{mpsc, oneshot};
use tracing::info;

use super::clock::Clock;
use super::playout::Playout;
use super::queue::{Audio, Entry};
use super::status::{QueuePage, QueuedView};
use super::Engine;
use crate::config::{Priority, Station, DEFAULT_GRACE_SECONDS};
use crate::ledger::{Outcome, Source};
use crate::reason::{By, Reason};
use crate::schedule::OccurrenceKey;

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
        /// What listeners and the ledger call it (a typed notice's first
        /// words); default: the file name.
        title: Option<String>,
        /// The province's broadcast id (`crate::upstream`): the occurrence
        /// names it (`operator:7/province:ID@…`) instead of the file.
        tag: Option<String>,
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
    /// `None`: it airs once.
    pub repeat: Option<Repetition>,
    pub requested_by: Option<String>,
}

/// How an emergency repeats: an end without a period cannot be asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Repetition {
    pub every: Duration,
    /// `None`: until someone stops it.
    pub until: Option<DateTime<Utc>>,
}

/// How full the operators' queue is, and every file the engine holds (what
/// waits, what is on the line, the repeating emergency's): what the API
/// checks before it reads a notice aloud, and what its cache of notices
/// must not remove.
#[derive(Debug, Default, Clone)]
pub struct InUse {
    pub operator_queued: usize,
    pub max_queue: usize,
    pub files: HashSet<PathBuf>,
}

/// Where the engine answers a command: what was done, or why not.
pub type Reply<T> = oneshot::Sender<Result<T, Refusal>>;

pub enum Command {
    Queue(QueueRequest, Reply<QueuedView>),
    /// The waiting entries from `offset` (in airing order), at most `limit`.
    QueuePage {
        offset: usize,
        limit: usize,
        reply: oneshot::Sender<QueuePage>,
    },
    /// Take a waiting entry out of the queue, by id.
    Dequeue(u64, Reply<()>),
    /// End what airs; replies with its title.
    Skip(By, Reply<String>),
    Pause(By),
    Resume(By),
    Emergency(EmergencyRequest, Reply<QueuedView>),
    /// Stop repeating the emergency and end it if it airs or waits.
    CancelEmergency(By, Reply<()>),
    Reload(Arc<Station>),
    /// See [`InUse`].
    InUse(oneshot::Sender<InUse>),
    /// Fade out, close the row as `interrupted`, flush the ledger, return.
    Shutdown,
}

/// Why the engine did not do what a command asked. `Display` is the
/// operator's message, Vietnamese first; it names no API route (the API
/// adds its own hints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No bulletin with this id in the station file as the engine runs it
    /// (a reload may have removed it since the request was checked).
    UnknownBulletin(String),
    /// No waiting entry with this id: already airing, aired, or never
    /// queued.
    NotInQueue(u64),
    /// Nothing airs, so nothing was skipped.
    NothingAiring,
    /// No emergency airs, waits or repeats, so nothing was cancelled.
    NoEmergency,
    /// Operators already queued this many items (`[api] max_queue`).
    QueueFull(usize),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::UnknownBulletin(id) => {
                write!(f, "Không tìm thấy bản tin / no bulletin with id \"{id}\"")
            }
            Refusal::NotInQueue(id) => write!(
                f,
                "Không có trong hàng chờ / no waiting entry with id {id} (already airing or aired?)"
            ),
            Refusal::NothingAiring => {
                f.write_str("Không có gì đang phát / nothing airs now, so nothing was skipped")
            }
            Refusal::NoEmergency => {
                f.write_str("Không có phát khẩn cấp / no emergency airs, waits or repeats")
            }
            Refusal::QueueFull(max) => write!(
                f,
                "Hàng chờ đã đầy ({max} mục), hãy xoá bớt mục đang chờ hoặc đợi chúng phát xong / \
                 the queue is full ({max} items waiting): remove waiting items or let some air \
                 first (the limit is [api] max_queue in the station file)"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// The watchdog's line to the engine, apart from the commands: a backlog
/// of commands (a full channel) is a busy engine, not a wedged one.
#[derive(Clone)]
pub struct Pinger {
    pub(super) tx: mpsc::Sender<oneshot::Sender<()>>,
}

impl Pinger {
    /// Whether the engine's loop answers within `timeout`. Blocks the
    /// calling thread: call it from a blocking thread, never from the
    /// runtime.
    pub fn answers(&self, timeout: std::time::Duration) -> bool {
        let (tx, mut rx) = oneshot::channel();
        // Closed: the engine has stopped. Full: the ping before this one
        // was never taken, so the loop has not turned since.
        if self.tx.try_send(tx).is_err() {
            return false;
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match rx.try_recv() {
                Ok(()) => return true,
                Err(oneshot::error::TryRecvError::Closed) => return false,
                Err(oneshot::error::TryRecvError::Empty) => {
                    if std::time::Instant::now() >= deadline {
                        return false;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
        }
    }
}

impl<C: Clock, P: Playout> Engine<C, P> {
    pub(super) fn on_command(&mut self, cmd: Command) {
        let now = self.clock.now();
        match cmd {
            Command::Queue(req, reply) => {
                let max = self.station.api.max_queue;
                if self.queue.operator_len() >= max {
                    let _ = reply.send(Err(Refusal::QueueFull(max)));
                    return;
                }
                let r = self
                    .operator_entry(
                        &req.target,
                        req.priority,
                        req.at,
                        req.requested_by,
                        Source::Operator,
                    )
                    .map(|e| {
                        let view = QueuedView::of(&e);
                        self.decided.insert(e.airing.occurrence.clone(), now);
                        self.enqueue_kept(e);
                        view
                    });
                let _ = reply.send(r);
            }
            Command::QueuePage {
                offset,
                limit,
                reply,
            } => {
                let _ = reply.send(self.queue_page(offset, limit));
            }
            Command::Dequeue(id, reply) => {
                let _ = reply.send(self.dequeue(id));
            }
            Command::Skip(by, reply) => {
                let title = self.stop_current(Reason::SkippedBy { by });
                let _ = reply.send(title.ok_or(Refusal::NothingAiring));
            }
            Command::Pause(by) => {
                info!(by = %by, "station paused");
                self.paused = true;
                // What airs stops; what was cued behind it goes back.
                self.stop_current(Reason::PausedBy { by });
            }
            Command::Resume(by) => {
                info!(by = %by, "station resumed");
                self.paused = false;
            }
            Command::Emergency(req, reply) => {
                let _ = reply.send(self.start_emergency(req, now));
            }
            Command::CancelEmergency(by, reply) => {
                let _ = reply.send(self.cancel_emergency(by));
            }
            Command::Reload(station) => self.reload(station, now),
            Command::InUse(reply) => {
                let _ = reply.send(self.in_use());
            }
            Command::Shutdown => unreachable!("handled in run"),
        }
    }

    fn in_use(&self) -> InUse {
        let mut files: HashSet<PathBuf> = self
            .queue
            .iter()
            .chain(self.line.iter().map(|c| &c.entry))
            .map(|e| e.path.clone())
            .collect();
        if let Some(Target::File { path, .. }) = self.repeat.as_ref().map(|r| &r.target) {
            files.insert(path.clone());
        }
        InUse {
            operator_queued: self.queue.operator_len(),
            max_queue: self.station.api.max_queue,
            files,
        }
    }

    /// Take entry `id` out of the queue, recorded `skipped`; one cued but
    /// not started is stopped and recorded when the playout confirms.
    fn dequeue(&mut self, id: u64) -> Result<(), Refusal> {
        if let Some(e) = self.queue.remove_id(id) {
            self.close_unaired(e, Outcome::Skipped, Reason::Dequeued);
            return Ok(());
        }
        let c = self
            .line
            .iter_mut()
            .find(|c| c.entry.id == id && c.started_at.is_none())
            .ok_or(Refusal::NotInQueue(id))?;
        c.stop = Some(super::line::Stop::Drop);
        let cue = c.cue;
        self.playout.stop(cue);
        Ok(())
    }

    /// Build an entry for something an operator asked for.
    pub(super) fn operator_entry(
        &mut self,
        target: &Target,
        priority: Option<Priority>,
        at: Option<DateTime<Utc>>,
        requested_by: Option<String>,
        source: Source,
    ) -> Result<Entry, Refusal> {
        let now = self.clock.now();
        let at = at.unwrap_or(now);
        let id = self.next_id();
        let default_grace = Duration::seconds(i64::from(DEFAULT_GRACE_SECONDS));
        let (audio, name, grace) = match target {
            Target::Bulletin(bid) => {
                let b = self
                    .station
                    .bulletin(bid)
                    .ok_or_else(|| Refusal::UnknownBulletin(bid.clone()))?;
                let grace = Duration::seconds(i64::from(b.grace_seconds)).max(default_grace);
                (Audio::Bulletin(b), bid.clone(), grace)
            }
            Target::File {
                file,
                path,
                seconds,
                title,
                tag,
            } => {
                let audio = Audio::File {
                    file,
                    path,
                    seconds: *seconds,
                    title: title.as_deref(),
                };
                let name = tag
                    .as_ref()
                    .map_or_else(|| file.clone(), |t| format!("province:{t}"));
                (audio, name, default_grace)
            }
        };
        // The occurrence keeps the operator's words (`emergency:12/…`,
        // `operator:7/…`); the province's bulletins name their broadcast
        // there and are recorded as the province's.
        let key = OccurrenceKey::queued(source.as_str(), id, &name, at, self.tz()).into();
        let source = match target {
            Target::File { tag: Some(_), .. } => Source::Province,
            _ => source,
        };
        let mut entry = Entry::new(id, audio, key, source, at)
            .order((1 << 40) + id)
            .grace(grace)
            .requested_by(requested_by);
        if let Some(p) = priority {
            entry = entry.priority(p);
        }
        Ok(entry)
    }
}
