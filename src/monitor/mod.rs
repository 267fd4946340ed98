//! Proof of play: the station listens to its own loudspeaker line
//! (`[monitor] input`) and says how much of each airing the line carried.
//!
//! Three parts: a tap on the audio thread's output ([`tap::Tap`], one
//! envelope level per 100 ms into a bounded channel, never blocking), the
//! capture of the line (`capture`, the same per 100 ms in cpal's
//! callback), and a thread that matches the two (`matcher`) and answers
//! [`Monitor::heard`] for the ledger (which asks again until the figure
//! is final, never waiting for it) and [`Monitor::state`] for the alarms.

mod capture;
mod envelope;
mod matcher;
mod tap;

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

pub use envelope::{Envelope, FRAME_MS};
pub use matcher::{LineState, Matcher, LAG, RECHECK};
pub use tap::{Sent, Tap};

use crate::audio::Sink;

/// Sent frames waiting for the matcher (12 s); more are dropped.
const SENT_QUEUE: usize = 120;
/// Captured frames waiting for the matcher (12 s); more are dropped.
const LINE_QUEUE: usize = 120;

/// Longest a closed row waits for the monitor's final verdicts: their lag,
/// the wait for the line's delay after a start (10 s) and the time frames
/// decided without it may be decided again, with room for a busy
/// machine. Then what is known is written (a capture that is away has
/// decided nothing: 0).
pub const HEARD_WAIT: Duration =
    Duration::from_millis(((LAG + RECHECK) * FRAME_MS) as u64 + 20_000);

/// A frame's number on the wall-clock timeline.
pub fn frame_of(t: SystemTime) -> i64 {
    let ms = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    };
    ms.div_euclid(FRAME_MS)
}

struct Shared {
    matcher: Mutex<Matcher>,
}

/// The running monitor: cheap to clone.
#[derive(Clone)]
pub struct Monitor {
    shared: Arc<Shared>,
    sent: SyncSender<Sent>,
}

impl Monitor {
    /// Start listening on `[monitor]`. A capture device that cannot be
    /// opened is logged and tried again every few seconds: the station
    /// airs on regardless.
    pub fn start(config: &crate::config::Monitor) -> std::io::Result<Monitor> {
        let frames = (config.silence_alarm.as_millis() as i64 / FRAME_MS).max(1) as u32;
        let shared = Arc::new(Shared {
            matcher: Mutex::new(Matcher::new(frames)),
        });
        let (sent_tx, sent_rx) = sync_channel(SENT_QUEUE);
        let (line_tx, line_rx) = sync_channel(LINE_QUEUE);
        capture::spawn(config.input.clone(), line_tx)?;
        let s = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("loa-monitor".into())
            .spawn(move || run(&s, &sent_rx, &line_rx))?;
        Ok(Monitor {
            shared,
            sent: sent_tx,
        })
    }

    /// `sink` with a tap that hands this monitor what it takes.
    pub fn tap(&self, sink: Box<dyn Sink>) -> Box<dyn Sink> {
        Box::new(Tap::new(sink, self.sent.clone()))
    }

    fn matcher(&self) -> MutexGuard<'_, Matcher> {
        self.shared
            .matcher
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What the line is doing now.
    pub fn state(&self) -> LineState {
        self.matcher().state()
    }

    /// Seconds of the airing that started at `started_at` and aired
    /// `aired_seconds` that the line carried, once every frame of it has
    /// its final verdict (`None` until then: ask again). Never waits.
    pub fn heard(&self, started_at: DateTime<Utc>, aired_seconds: f64) -> Option<f64> {
        let (from, frames) = frames_of(started_at, aired_seconds);
        let (heard, last) = self.matcher().heard_of(from, frames);
        last.then(|| seconds(heard).min(aired_seconds.max(0.0)))
    }

    /// [`Monitor::heard`] with whatever verdicts there are: frames still
    /// without a final one count as not heard (the monitor stopped
    /// deciding: its capture is away).
    pub fn heard_so_far(&self, started_at: DateTime<Utc>, aired_seconds: f64) -> f64 {
        let (from, frames) = frames_of(started_at, aired_seconds);
        let (heard, _) = self.matcher().heard_of(from, frames);
        seconds(heard).min(aired_seconds.max(0.0))
    }
}

#[cfg(test)]
impl Monitor {
    /// A monitor with no capture and no thread: the test feeds its
    /// matcher.
    pub fn detached(alarm_frames: u32) -> Monitor {
        let (sent, _) = sync_channel(1);
        Monitor {
            shared: Arc::new(Shared {
                matcher: Mutex::new(Matcher::new(alarm_frames)),
            }),
            sent,
        }
    }

    pub fn feed(&self, f: impl FnOnce(&mut Matcher)) {
        f(&mut self.matcher());
    }
}

/// An airing's first frame and its length in frames.
fn frames_of(started_at: DateTime<Utc>, aired_seconds: f64) -> (i64, i64) {
    let frames = (aired_seconds.max(0.0) * 1000.0 / FRAME_MS as f64).round() as i64;
    (frame_of(started_at.into()), frames)
}

fn seconds(frames: u64) -> f64 {
    frames as f64 * FRAME_MS as f64 / 1000.0
}

/// The matcher's thread: sent frames as they come, captured frames as
/// they come; verdicts announced.
fn run(shared: &Shared, sent: &Receiver<Sent>, line: &Receiver<(i64, f32)>) {
    loop {
        let first = match line.recv_timeout(Duration::from_millis(250)) {
            Ok(f) => Some(f),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut m = shared
            .matcher
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let was = m.state();
        while let Ok(s) = sent.try_recv() {
            match s {
                Sent::Frame(f, l) => m.sent(f, l),
                Sent::Withdrawn(f) => m.withdrawn(f),
            }
        }
        for (f, l) in first.into_iter().chain(line.try_iter()) {
            m.captured(f, l);
        }
        let now = m.state();
        drop(m);
        log_change(was, now);
    }
}

fn log_change(was: LineState, now: LineState) {
    if now.silent && !was.silent {
        tracing::warn!("the loudspeaker line is silent while an item airs: check the amplifier, its fuse and the cable to the monitor");
    } else if was.silent && !now.silent {
        tracing::info!("the loudspeaker line carries sound again");
    }
    if now.foreign && !was.foreign {
        tracing::warn!("sound on the loudspeaker line while nothing airs (an open microphone, someone else on the amplifier?)");
    } else if was.foreign && !now.foreign {
        tracing::info!("the loudspeaker line is quiet again while nothing airs");
    }
}
