//! Proof of play: the station listens to its own loudspeaker line
//! (`[monitor] input`) and says how much of each airing the line carried.
//!
//! Three parts: a tap on the audio thread's output ([`tap::Tap`], one
//! envelope level per 100 ms into a bounded channel, never blocking), the
//! capture of the line (`capture`, the same per 100 ms in cpal's
//! callback), and a thread that matches the two (`matcher`) and answers
//! [`Monitor::heard`] for the ledger and [`Monitor::state`] for the
//! alarms.

mod capture;
mod envelope;
mod matcher;
mod tap;

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

pub use envelope::{Envelope, FRAME_MS};
pub use matcher::{LineState, Matcher};
pub use tap::Tap;

use crate::audio::Sink;

/// Sent frames waiting for the matcher (12 s); more are dropped.
const SENT_QUEUE: usize = 120;
/// Captured frames waiting for the matcher (12 s); more are dropped.
const LINE_QUEUE: usize = 120;
/// Longest a finished row waits for its last verdicts.
const VERDICT_WAIT: Duration = Duration::from_secs(5);

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
    /// Signalled when frames get their verdict.
    decided: Condvar,
}

/// The running monitor: cheap to clone.
#[derive(Clone)]
pub struct Monitor {
    shared: Arc<Shared>,
    sent: SyncSender<(i64, f32)>,
}

impl Monitor {
    /// Start listening on `[monitor]`. A capture device that cannot be
    /// opened is logged and tried again every few seconds: the station
    /// airs on regardless.
    pub fn start(config: &crate::config::Monitor) -> std::io::Result<Monitor> {
        let frames = (config.silence_alarm.as_millis() as i64 / FRAME_MS).max(1) as u32;
        let shared = Arc::new(Shared {
            matcher: Mutex::new(Matcher::new(frames)),
            decided: Condvar::new(),
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
    /// `aired_seconds` that the line carried. Waits (at most a few seconds)
    /// for the last frames' verdicts; frames still without one count as
    /// not heard.
    pub fn heard(&self, started_at: DateTime<Utc>, aired_seconds: f64) -> f64 {
        let from = frame_of(started_at.into());
        let frames = (aired_seconds.max(0.0) * 1000.0 / FRAME_MS as f64).round() as i64;
        let to = from + frames;
        let deadline = Instant::now() + VERDICT_WAIT;
        let mut m = self.matcher();
        while m.decided().is_some_and(|d| d < to) && Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            m = match self.shared.decided.wait_timeout(m, left) {
                Ok((m, _)) => m,
                Err(e) => e.into_inner().0,
            };
        }
        let heard = m.heard(from, to) as f64 * FRAME_MS as f64 / 1000.0;
        heard.min(aired_seconds.max(0.0))
    }
}

/// The matcher's thread: sent frames as they come, captured frames as
/// they come; verdicts announced.
fn run(shared: &Shared, sent: &Receiver<(i64, f32)>, line: &Receiver<(i64, f32)>) {
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
        while let Ok((f, l)) = sent.try_recv() {
            m.sent(f, l);
        }
        for (f, l) in first.into_iter().chain(line.try_iter()) {
            m.captured(f, l);
        }
        let now = m.state();
        drop(m);
        shared.decided.notify_all();
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
