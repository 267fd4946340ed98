//! The player: one std thread that plays one file at a time on a `Sink`.
//!
//! The engine (a tokio task) commands it over a channel and hears back over
//! a `tokio::sync::mpsc::UnboundedSender`, which a plain thread may use.
//! Audio never runs on the tokio runtime: a decode or a blocking write there
//! would stall the API and the scheduler, and a busy runtime would make the
//! loudspeaker stutter.
//!
//! The player is honest about airtime: `aired_seconds` counts frames the
//! output took (`Sink::delivered`), never the wall clock, and an item only
//! `Completed` when it aired to within a tolerance of the length the caller
//! expects. A dead output cannot hang it: every play has a deadline and a
//! stall watchdog, and after an output failure the sink is closed so the
//! next play reopens it.
//!
//! Invariant the engine can rely on: every `PlayId` returned by `prepare`
//! or `play` gets exactly one `Event::Finished`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::reason::Reason;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc::UnboundedSender;

use super::convert::{apply_gain, Converter};
use super::loudness::{Cache, Level};
use super::relay::{ItemDecoder, RelayCue};
use super::sink::{Format, Sink, SinkError};

mod prepare;
use prepare::{spawn_preparer, Opened, Request};

/// The longest fade a stop gets, queued audio included.
pub const MAX_FADE: Duration = Duration::from_millis(500);

/// Identifies one prepared or playing item in events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlayId(pub u64);

/// What the player reports. Each `PlayId` gets at most one `Started` and
/// exactly one `Finished`. The engine's playout reports the same events
/// for its cues (`engine::playout::PlayEvent`), hence the parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<I = PlayId, E = Outcome> {
    /// The first sample was handed to the output at `at`.
    Started { id: I, at: DateTime<Utc> },
    /// Samples delivered so far, about once a second.
    Progress { id: I, aired_seconds: f64 },
    /// Over; `aired_seconds` counts delivered samples.
    Finished { id: I, aired_seconds: f64, end: E },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Aired to its end.
    Completed,
    /// Interrupted by `stop` (or replaced by another `start`) — or never
    /// started because it was dropped while prepared.
    Stopped,
    /// Did not air as it should; the reason says why and what to do.
    Failed(Reason),
}

/// The output as the status page shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputState {
    /// Released (no sound card stream, no open file).
    Idle,
    /// Open for an item or programme, at this format.
    Open { format: Format },
    /// The last use of the output failed; the next play retries.
    Failed { reason: Reason },
}

/// Tuning of a player. `Default` suits a station.
#[derive(Debug, Clone)]
pub struct PlayerOptions {
    /// 0.0..=1.0, applied to every sample (skipped at 1.0).
    pub volume: f32,
    /// Release the output after this long with nothing playing or prepared.
    pub idle_close: Duration,
    /// A play fails when not over by `expected + margin`.
    pub deadline_margin: Duration,
    /// A play fails when the output takes nothing for this long.
    pub stall_timeout: Duration,
    /// An item shorter than expected by more than this fraction (and
    /// `min_shortfall`) is failed as truncated.
    pub max_shortfall: f64,
    pub min_shortfall: Duration,
    /// Air every file at a loudness target (`None`: as recorded).
    pub leveling: Option<Leveling>,
}

/// Even loudness: each file's measured level, from `cache`, sets a gain
/// that airs it at `target_lufs` (see [`super::loudness`]).
#[derive(Clone)]
pub struct Leveling {
    pub target_lufs: f64,
    pub cache: Arc<Cache>,
}

impl std::fmt::Debug for Leveling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Leveling({} LUFS)", self.target_lufs)
    }
}

impl Default for PlayerOptions {
    fn default() -> Self {
        PlayerOptions {
            volume: 1.0,
            idle_close: Duration::from_secs(3),
            deadline_margin: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(5),
            max_shortfall: 0.02,
            min_shortfall: Duration::from_millis(500),
            leveling: None,
        }
    }
}

enum Command {
    Prepare {
        id: PlayId,
        path: PathBuf,
        expected: Duration,
        /// A relay to air instead of the file (`path` names its source).
        relay: Option<Box<RelayCue>>,
    },
    /// From the preparer: the file of a `Prepare` is open (or is not).
    Opened(Box<Opened>),
    Start {
        id: PlayId,
        at: Instant,
    },
    Stop {
        fade: Duration,
    },
    Ping(mpsc::Sender<()>),
    Shutdown,
}

/// Handle to the audio thread. Dropping it stops the thread (the playing
/// item, if any, ends as `Stopped`).
pub struct Player {
    commands: mpsc::Sender<Command>,
    state: Arc<Mutex<OutputState>>,
    next_id: AtomicU64,
    thread: Option<JoinHandle<()>>,
}

impl Player {
    /// Start the audio thread on `sink`, and the thread that opens files
    /// for it.
    pub fn spawn(
        sink: Box<dyn Sink>,
        options: PlayerOptions,
        events: UnboundedSender<Event>,
    ) -> std::io::Result<Player> {
        let (commands, rx) = mpsc::channel();
        let preparer = spawn_preparer(commands.clone(), options.leveling.clone())?;
        let state = Arc::new(Mutex::new(OutputState::Idle));
        let worker = Worker {
            sink,
            options,
            events,
            state: state.clone(),
            commands: rx,
            preparer,
            deferred: VecDeque::new(),
            preparing: None,
            prepared: None,
            idle_since: Instant::now(),
            work: Vec::new(),
            out: Vec::new(),
        };
        let thread = std::thread::Builder::new()
            .name("loa-audio".into())
            .spawn(move || worker.run())?;
        Ok(Player {
            commands,
            state,
            next_id: AtomicU64::new(1),
            thread: Some(thread),
        })
    }

    /// Open and probe `path`, decode its first packet and open the output,
    /// so that `start_at` can hand the first sample over on time. The file
    /// is opened on a thread of its own, never on the audio thread, so a
    /// slow disk cannot starve the item playing meanwhile.
    /// `expected` is the probed duration (zero if unknown): the item fails
    /// as truncated if it airs noticeably less, and it bounds the deadline.
    /// A new `prepare` replaces an earlier prepared item (which finishes as
    /// `Stopped`). Errors arrive as `Event::Finished` with `Failed`.
    pub fn prepare(&self, path: impl Into<PathBuf>, expected: Duration) -> PlayId {
        let id = PlayId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.send(Command::Prepare {
            id,
            path: path.into(),
            expected,
            relay: None,
        });
        id
    }

    /// As `prepare`, for a relay: its worker connects to the source at
    /// once, and the item airs exactly the relay's duration.
    pub fn prepare_relay(&self, cue: RelayCue) -> PlayId {
        let id = PlayId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.send(Command::Prepare {
            id,
            path: PathBuf::from(cue.relay.source.describe()),
            expected: Duration::from_secs(u64::from(cue.relay.seconds)),
            relay: Some(Box::new(cue)),
        });
        id
    }

    /// Start the prepared item `id` so its first sample leaves at `at` (or
    /// as soon as it is ready, when its file is still being opened).
    /// Whatever else is playing ends at once as `Stopped`; to fade it out
    /// first, `stop` it and wait for its `Finished`. Ignored when `id` is
    /// not the prepared item (its `Finished` was already sent).
    pub fn start_at(&self, id: PlayId, at: Instant) {
        self.send(Command::Start { id, at });
    }

    /// `prepare` and start as soon as possible.
    pub fn play(&self, path: impl Into<PathBuf>, expected: Duration) -> PlayId {
        let id = self.prepare(path, expected);
        self.start_at(id, Instant::now());
        id
    }

    /// Fade the playing item out over `fade` (at most `MAX_FADE`, counting
    /// audio already queued in the output) and stop it; when nothing plays,
    /// drop the prepared item.
    pub fn stop(&self, fade: Duration) {
        self.send(Command::Stop { fade });
    }

    /// The output's state, for status pages.
    pub fn state(&self) -> OutputState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Health probe for a watchdog: `true` when the audio thread answers
    /// within `timeout`.
    pub fn ping(&self, timeout: Duration) -> bool {
        let (tx, rx) = mpsc::channel();
        self.send(Command::Ping(tx));
        rx.recv_timeout(timeout).is_ok()
    }

    fn send(&self, c: Command) {
        // The thread only exits on Shutdown (or a panic, which `ping` shows).
        let _ = self.commands.send(c);
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A `Prepare` whose file the preparer is still opening.
struct Preparing {
    id: PlayId,
    /// A `Start` that came before the file was open.
    start: Option<Instant>,
}

struct Prepared {
    id: PlayId,
    path: PathBuf,
    expected: Duration,
    decoder: ItemDecoder,
    /// The first decoded packet, ready to go.
    first: Vec<f32>,
    level: Option<Level>,
    output: Format,
    /// A `Start` came for it (perhaps while its file was being opened): it
    /// plays, from this instant, as soon as the main loop sees it.
    start: Option<Instant>,
}

struct Worker {
    sink: Box<dyn Sink>,
    options: PlayerOptions,
    events: UnboundedSender<Event>,
    state: Arc<Mutex<OutputState>>,
    commands: mpsc::Receiver<Command>,
    preparer: mpsc::Sender<Request>,
    /// Commands a play loop received but left for the main loop.
    deferred: VecDeque<Command>,
    preparing: Option<Preparing>,
    prepared: Option<Prepared>,
    idle_since: Instant,
    work: Vec<f32>,
    out: Vec<f32>,
}

/// How a play ended, before the length check.
enum End {
    Drained,
    Stopped,
    /// The file could not be read further.
    FileFailed(String),
    /// The output failed: it is closed and reopened for the next item.
    OutputFailed(Reason),
}

/// The item on air and where its play stands.
struct OnAir {
    id: PlayId,
    path: PathBuf,
    expected: Duration,
    decoder: ItemDecoder,
    /// The output's format, and the file's channels.
    output: Format,
    channels: usize,
    input_rate: u32,
    conv: Converter,
    volume: f32,
    /// When the first sample is due.
    at: Instant,
    margin: Duration,
    deadline: Option<Instant>,
    /// Samples of `Worker::out` already written.
    pos: usize,
    decoded_all: bool,
    /// Fade: (frames left, frames in total), in input frames.
    fade: Option<(u64, u64)>,
    started: bool,
    next_progress: f64,
    /// Frames delivered when last looked, and when that count last moved.
    last_frames: u64,
    last_change: Instant,
}

impl OnAir {
    fn new(mut p: Prepared, at: Instant, options: &PlayerOptions) -> OnAir {
        if let ItemDecoder::Relay(relay) = &mut p.decoder {
            relay.level_for_output(p.output.channels);
        }
        let input = p.decoder.format();
        let expected = p.expected;
        let margin = options.deadline_margin.max(expected.mul_f64(0.05));
        let length = if expected.is_zero() {
            p.decoder
                .announced_frames()
                .map(|n| Duration::from_secs_f64(input.seconds(n)))
        } else {
            Some(expected)
        };
        // Levelling folds into the volume: one multiply per sample either way.
        let gain = match (&options.leveling, p.level) {
            (Some(l), Some(level)) => {
                level.gain_for(l.target_lufs, input.channels, p.output.channels)
            }
            _ => 1.0,
        };
        if options.leveling.is_some() {
            tracing::info!(
                path = %p.path.display(),
                gain_db = format_args!("{:+.1}", 20.0 * gain.log10()),
                measured = p.level.is_some(),
                "loudness"
            );
        }
        OnAir {
            id: p.id,
            path: p.path,
            expected,
            decoder: p.decoder,
            output: p.output,
            channels: input.channels as usize,
            input_rate: input.rate,
            conv: Converter::new(input, p.output),
            volume: options.volume.clamp(0.0, 1.0) * gain,
            at,
            margin,
            deadline: length.map(|l| at + l + margin),
            pos: 0,
            decoded_all: false,
            fade: None,
            started: false,
            next_progress: 1.0,
            last_frames: 0,
            last_change: at.max(Instant::now()),
        }
    }
}

impl Worker {
    fn run(mut self) {
        loop {
            let cmd = if let Some(c) = self.deferred.pop_front() {
                c
            } else if self.sink.is_open() && self.prepared.is_none() && self.preparing.is_none() {
                let idle_end = self.idle_since + self.options.idle_close;
                match self
                    .commands
                    .recv_timeout(idle_end.saturating_duration_since(Instant::now()))
                {
                    Ok(c) => c,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        self.sink.close();
                        self.set_state_if_open(OutputState::Idle);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match self.commands.recv() {
                    Ok(c) => c,
                    Err(_) => break,
                }
            };
            match self.answer_anytime(cmd) {
                Some(Command::Start { id, at }) => self.start(id, at),
                Some(Command::Stop { .. }) => self.drop_prepared(),
                Some(Command::Shutdown) => break,
                _ => {} // answered
            }
            if let Some(at) = self.prepared.as_ref().and_then(|p| p.start) {
                let p = self.prepared.take().expect("just seen");
                self.play(p, at);
            }
        }
        self.drop_prepared();
        self.sink.close();
    }

    fn emit(&self, e: Event) {
        let _ = self.events.send(e);
    }

    /// The output would not open for item `id`: release it, say so, and
    /// fail the item with the output's reason.
    fn open_failed(&mut self, id: PlayId, e: SinkError) {
        self.sink.close();
        let reason = Reason::DeviceFailed { error: e.message };
        self.set_state(OutputState::Failed {
            reason: reason.clone(),
        });
        self.fail(id, reason);
    }

    fn fail(&self, id: PlayId, why: Reason) {
        self.emit(Event::Finished {
            id,
            aired_seconds: 0.0,
            end: Outcome::Failed(why),
        });
    }

    fn set_state(&self, s: OutputState) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = s;
    }

    /// Going idle does not hide a failure from the status page.
    fn set_state_if_open(&self, s: OutputState) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(*st, OutputState::Open { .. }) {
            *st = s;
        }
    }

    /// Drop the prepared item, or the one being prepared: it finishes as
    /// `Stopped` now, and whatever the preparer hands over for it later is
    /// ignored.
    fn drop_prepared(&mut self) {
        let id = match (self.prepared.take(), self.preparing.take()) {
            (Some(p), _) => p.id,
            (None, Some(p)) => p.id,
            (None, None) => return,
        };
        self.emit(Event::Finished {
            id,
            aired_seconds: 0.0,
            end: Outcome::Stopped,
        });
        self.idle_since = Instant::now();
    }

    /// Hand the file to the preparer; `opened` takes it back.
    fn prepare(
        &mut self,
        id: PlayId,
        path: PathBuf,
        expected: Duration,
        relay: Option<Box<RelayCue>>,
    ) {
        self.drop_prepared();
        self.preparing = Some(Preparing { id, start: None });
        let request = Request {
            id,
            path,
            expected,
            relay,
        };
        if let Err(mpsc::SendError(request)) = self.preparer.send(request) {
            self.preparing = None;
            self.fail(
                request.id,
                Reason::Internal {
                    error: "the thread that opens audio files has stopped".into(),
                },
            );
        }
    }

    /// The preparer's answer: open the output for the file, and hold it as
    /// the prepared item. Answers for dropped items are ignored.
    fn opened(&mut self, o: Opened) {
        let Opened {
            request,
            file,
            level,
        } = o;
        let Some(preparing) = self.preparing.take_if(|p| p.id == request.id) else {
            return;
        };
        let (decoder, first) = match file {
            Ok(f) => f,
            Err(error) => return self.fail(request.id, Reason::FileFailed { error }),
        };
        let output = match self.sink.open(decoder.format()) {
            Ok(f) => f,
            Err(e) => return self.open_failed(request.id, e),
        };
        self.set_state(OutputState::Open { format: output });
        self.prepared = Some(Prepared {
            id: request.id,
            path: request.path,
            expected: request.expected,
            decoder,
            first,
            level,
            output,
            start: preparing.start,
        });
    }

    /// `Start` in the main loop: the prepared item starts (the caller plays
    /// it), one still being prepared starts once it is open.
    fn start(&mut self, id: PlayId, at: Instant) {
        if let Some(p) = self.prepared.as_mut().filter(|p| p.id == id) {
            p.start = Some(at);
        } else if let Some(p) = self.preparing.as_mut().filter(|p| p.id == id) {
            p.start = Some(at);
        } else {
            tracing::debug!("start of {id:?} ignored: not the prepared item");
        }
    }

    /// Fill `self.out` from one decoded chunk: gain, then conversion.
    fn stage(&mut self, chunk: &[f32], channels: usize, g0: f32, g1: f32, conv: &mut Converter) {
        if conv.is_identity() {
            self.out.clear();
            self.out.extend_from_slice(chunk);
            apply_gain(&mut self.out, channels, g0, g1);
        } else {
            self.work.clear();
            self.work.extend_from_slice(chunk);
            apply_gain(&mut self.work, channels, g0, g1);
            let converted = conv.convert(&self.work);
            self.out.clear();
            self.out.extend_from_slice(converted);
        }
    }

    /// Air `p` from `at` to its end, a stop or a failure, then report it.
    fn play(&mut self, mut p: Prepared, at: Instant) {
        // The item before this one may have failed on the output and closed
        // it after this one was prepared: open it again (it may be back),
        // or fail this item with the output's own reason.
        if !self.sink.is_open() {
            match self.sink.open(p.decoder.format()) {
                Ok(f) => {
                    p.output = f;
                    self.set_state(OutputState::Open { format: f });
                }
                Err(e) => return self.open_failed(p.id, e),
            }
        }
        let first = std::mem::take(&mut p.first);
        let mut item = OnAir::new(p, at, &self.options);
        tracing::info!(id = ?item.id, path = %item.path.display(), "playing");
        self.sink.begin(at);
        self.stage(
            &first,
            item.channels,
            item.volume,
            item.volume,
            &mut item.conv,
        );
        let end = loop {
            if let Some(end) = self.take_commands(&mut item) {
                break end;
            }
            if let Some(end) = self.feed(&mut item) {
                break end;
            }
            if let Some(end) = self.watch(&mut item) {
                break end;
            }
        };
        let (aired_seconds, outcome) = self.outcome(&item, end);
        if item.decoder.skipped_packets() > 0 {
            tracing::warn!(
                id = ?item.id,
                "{}: skipped {} undecodable packet(s)",
                item.path.display(),
                item.decoder.skipped_packets()
            );
        }
        self.emit(Event::Finished {
            id: item.id,
            aired_seconds,
            end: outcome,
        });
        self.idle_since = Instant::now();
    }

    /// Answer the commands that are answered the same way whether an item
    /// plays or not (prepare the next one, its file opened, a ping); any
    /// other comes back for the caller.
    fn answer_anytime(&mut self, cmd: Command) -> Option<Command> {
        match cmd {
            Command::Prepare {
                id,
                path,
                expected,
                relay,
            } => self.prepare(id, path, expected, relay),
            Command::Opened(o) => self.opened(*o),
            Command::Ping(tx) => {
                let _ = tx.send(());
            }
            other => return Some(other),
        }
        None
    }

    /// Commands that come while an item plays: a stop is heard within one
    /// chunk. `Some` ends the item at once.
    fn take_commands(&mut self, item: &mut OnAir) -> Option<End> {
        let mut stop_now = false;
        while let Ok(cmd) = self.commands.try_recv() {
            match self.answer_anytime(cmd) {
                Some(Command::Stop { fade: want }) if item.fade.is_none() => {
                    let left = want.min(MAX_FADE).saturating_sub(self.sink.pending());
                    let frames = (left.as_secs_f64() * f64::from(item.input_rate)) as u64;
                    if frames == 0 {
                        stop_now = true;
                    } else {
                        item.fade = Some((frames, frames));
                    }
                }
                Some(c @ (Command::Start { .. } | Command::Shutdown)) => {
                    self.deferred.push_back(c);
                    stop_now = true;
                }
                _ => {} // answered, or a stop while already fading
            }
        }
        stop_now.then(|| {
            self.sink.discard_pending();
            End::Stopped
        })
    }

    /// Move samples: write what is staged, else decode the next chunk
    /// (faded when a stop asked for it), else wait for the output to drain.
    fn feed(&mut self, item: &mut OnAir) -> Option<End> {
        if item.pos < self.out.len() {
            match self.sink.write(&self.out[item.pos..]) {
                Ok(n) => item.pos += n,
                Err(e) => {
                    return Some(End::OutputFailed(Reason::DeviceFailed { error: e.message }))
                }
            }
        } else if item.decoded_all {
            if self.sink.pending().is_zero() {
                return Some(if item.fade.is_some() {
                    End::Stopped
                } else {
                    End::Drained
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        } else if item.fade.is_some_and(|(left, _)| left == 0) {
            item.decoded_all = true;
            self.sink.all_written();
        } else {
            let ch = item.channels;
            match item.decoder.next_chunk() {
                Ok(Some(chunk)) => {
                    let frames = (chunk.len() / ch) as u64;
                    let (chunk, g0, g1) = match &mut item.fade {
                        None => (chunk, item.volume, item.volume),
                        Some((left, total)) => {
                            // The fade may end inside this chunk: air up to there.
                            let n = frames.min(*left);
                            let g0 = item.volume * *left as f32 / *total as f32;
                            *left -= n;
                            let g1 = item.volume * *left as f32 / *total as f32;
                            (&chunk[..n as usize * ch], g0, g1)
                        }
                    };
                    self.stage(chunk, ch, g0, g1, &mut item.conv);
                    item.pos = 0;
                }
                Ok(None) => {
                    item.decoded_all = true;
                    self.sink.all_written();
                }
                Err(e) => {
                    return Some(End::FileFailed(format!("{}: {e}", item.path.display())));
                }
            }
        }
        None
    }

    /// Report what aired (`Started`, `Progress`), and end the item when the
    /// output is stuck or the deadline is past.
    fn watch(&mut self, item: &mut OnAir) -> Option<End> {
        let d = self.sink.delivered();
        if !item.started {
            if let Some(t) = d.first_at {
                item.started = true;
                self.emit(Event::Started {
                    id: item.id,
                    at: DateTime::<Utc>::from(t),
                });
            }
        }
        let aired = item.output.seconds(d.frames);
        if aired >= item.next_progress {
            self.emit(Event::Progress {
                id: item.id,
                aired_seconds: aired,
            });
            item.next_progress = aired.floor() + 1.0;
        }
        let now = Instant::now();
        if d.frames != item.last_frames {
            item.last_frames = d.frames;
            item.last_change = now;
        } else if now > item.at && now - item.last_change.max(item.at) > self.options.stall_timeout
        {
            return Some(End::OutputFailed(Reason::OutputStalled {
                seconds: self.options.stall_timeout.as_secs_f64(),
            }));
        }
        if item.deadline.is_some_and(|dl| now > dl) {
            return Some(End::OutputFailed(Reason::OutputOverran {
                seconds: item.margin.as_secs_f64(),
            }));
        }
        None
    }

    /// Close the item on the output and judge it: seconds aired, and the
    /// outcome. A drained item shorter than expected failed; a failed
    /// output is closed for the next item to reopen.
    fn outcome(&mut self, item: &OnAir, end: End) -> (f64, Outcome) {
        let end = match (end, self.sink.end()) {
            (End::Drained | End::Stopped, Err(e)) => {
                End::OutputFailed(Reason::DeviceFailed { error: e.message })
            }
            (end, _) => end,
        };
        let aired = item.output.seconds(self.sink.delivered().frames);
        let outcome = match end {
            End::Drained => {
                let expected = item.expected.as_secs_f64();
                let shortfall = expected - aired;
                let allowed = (expected * self.options.max_shortfall)
                    .max(self.options.min_shortfall.as_secs_f64());
                if !item.expected.is_zero() && shortfall > allowed {
                    Outcome::Failed(Reason::Truncated {
                        file: item.path.display().to_string(),
                        aired_seconds: aired,
                        expected_seconds: expected,
                    })
                } else {
                    Outcome::Completed
                }
            }
            End::Stopped => Outcome::Stopped,
            End::FileFailed(error) => Outcome::Failed(Reason::FileFailed { error }),
            End::OutputFailed(why) => {
                tracing::warn!(id = ?item.id, "output failed: {why}");
                self.sink.discard_pending();
                self.sink.close();
                self.set_state(OutputState::Failed {
                    reason: why.clone(),
                });
                Outcome::Failed(why)
            }
        };
        (aired, outcome)
    }
}

#[cfg(test)]
mod tests;
