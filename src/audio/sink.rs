//! The output side of playout: one small trait every backend implements.
//!
//! Modelled on librespot's `audio_backend::Sink`: the player thread decodes
//! a packet, converts it once to interleaved `f32`, and hands the whole
//! chunk to `Sink::write`. Dynamic dispatch happens once per chunk
//! (~1000 frames), never per sample, which is most of why this costs less
//! CPU than rodio's iterator-per-sample `Player`.
//!
//! A sink never blocks for long: `write` returns after at most a few tens of
//! milliseconds even when the output takes nothing, so the player thread
//! can keep answering commands, watching its deadline and noticing a dead
//! device.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

/// Sample rate and channel count of interleaved `f32` samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    pub rate: u32,
    pub channels: u16,
}

impl Format {
    /// Seconds of audio in `frames` frames.
    pub fn seconds(&self, frames: u64) -> f64 {
        frames as f64 / f64::from(self.rate)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Hz, {} channel(s)", self.rate, self.channels)
    }
}

/// What an output has handed on since the last `begin`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Delivery {
    /// Frames handed to the output (the sound card's callback, the file).
    pub frames: u64,
    /// Wall-clock time the first of them was handed over.
    pub first_at: Option<SystemTime>,
}

/// Why an output cannot take samples. `Display` says what and what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkError {
    pub message: String,
}

impl SinkError {
    pub fn new(message: impl Into<String>) -> SinkError {
        SinkError {
            message: message.into(),
        }
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SinkError {}

/// One output backend. Calls come in this order for each item:
/// `open`, `begin`, `write`…, `drained`…, `end`; `close` when idle.
pub trait Sink: Send {
    /// Get ready to take samples of `wanted`, opening the output if it is
    /// closed. Returns the format the output takes, which differs from
    /// `wanted` when the output is already open at another format (a WAV
    /// file, a device in the middle of a programme): the caller converts.
    fn open(&mut self, wanted: Format) -> Result<Format, SinkError>;

    /// The first sample written after this call is to be handed to the
    /// output at `at`, not before. Resets `delivered`.
    fn begin(&mut self, at: Instant);

    /// Offer interleaved samples in the format `open` returned. Returns how
    /// many were taken (whole frames; 0 when the output is not ready yet),
    /// after blocking for at most a few tens of milliseconds.
    fn write(&mut self, samples: &[f32]) -> Result<usize, SinkError>;

    /// How much audio was taken by `write` but not yet handed to the output.
    fn pending(&self) -> Duration;

    /// Frames handed to the output since `begin`.
    fn delivered(&self) -> Delivery;

    /// Discard what was written but not yet handed on (an abrupt stop).
    fn discard_pending(&mut self);

    /// Nothing more will be written for this item: an output that runs dry
    /// from now on has reached the end, not fallen behind.
    fn all_written(&mut self) {}

    /// The item is over: make what aired durable (WAV header).
    fn end(&mut self) -> Result<(), SinkError>;

    /// Release the output (sound card, file) until the next `open`.
    fn close(&mut self);

    fn is_open(&self) -> bool;
}

/// Real-time pacing for outputs that have no clock of their own (WAV
/// recorder, null, fake): frame `n` is handed over at `start + n / rate`.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    pub realtime: bool,
    start: Instant,
    rate: u32,
    frames: u64,
    first_at: Option<SystemTime>,
}

/// Longest a paced `write` sleeps before returning 0, so the caller stays
/// responsive.
const MAX_SLEEP: Duration = Duration::from_millis(20);
/// Below this, sleeping overshoots too much: spin instead.
const SPIN: Duration = Duration::from_micros(1500);

impl Pacer {
    pub fn new(realtime: bool) -> Pacer {
        Pacer {
            realtime,
            start: Instant::now(),
            rate: 1,
            frames: 0,
            first_at: None,
        }
    }

    pub fn begin(&mut self, at: Instant, rate: u32) {
        self.start = at;
        self.rate = rate.max(1);
        self.frames = 0;
        self.first_at = None;
    }

    /// Wait until the next frame is due; `false` means "not yet, come back"
    /// (waited `MAX_SLEEP` already). The first frame always waits for the
    /// start instant; later ones only in real-time mode.
    pub fn ready(&self) -> bool {
        if self.frames == 0 {
            // The start instant is what the ledger records: spin the last
            // stretch to be on it.
            return wait_until(self.start, MAX_SLEEP, true);
        }
        if !self.realtime {
            return true;
        }
        // Later chunks only keep the pace: a sleep's overshoot (well under
        // a chunk) is harmless, and spinning before each of them cost a
        // paced output about 6 % of a core.
        let due = self.start + Duration::from_secs_f64(self.frames as f64 / f64::from(self.rate));
        wait_until(due, MAX_SLEEP, false)
    }

    /// Record that `frames` frames were handed over just now.
    pub fn handed(&mut self, frames: u64) {
        if self.first_at.is_none() && frames > 0 {
            self.first_at = Some(SystemTime::now());
        }
        self.frames += frames;
    }

    /// In real-time mode, how long the audio already handed over still
    /// "plays": a paced output finishes an item when a card would.
    pub fn pending(&self) -> Duration {
        if !self.realtime || self.frames == 0 {
            return Duration::ZERO;
        }
        let end = self.start + Duration::from_secs_f64(self.frames as f64 / f64::from(self.rate));
        end.saturating_duration_since(Instant::now())
    }

    pub fn delivery(&self) -> Delivery {
        Delivery {
            frames: self.frames,
            first_at: self.first_at,
        }
    }
}

/// The `Sink` methods of an output paced by a [`Pacer`] in its `pacer`
/// field (WAV, null, fake): what is pending and delivered is the pacer's,
/// and nothing waits to be discarded. A macro because trait methods cannot
/// be inherited from a field.
macro_rules! paced_sink_methods {
    () => {
        fn pending(&self) -> std::time::Duration {
            self.pacer.pending()
        }

        fn delivered(&self) -> $crate::audio::sink::Delivery {
            self.pacer.delivery()
        }

        fn discard_pending(&mut self) {}
    };
}
pub(crate) use paced_sink_methods;

/// Sleep until `due` (with `spin`, sleep then spin the last ~1.5 ms, which
/// keeps a start within a millisecond of its instant: once per item); give
/// up after `max` and return `false`.
pub(crate) fn wait_until(due: Instant, max: Duration, spin: bool) -> bool {
    let now = Instant::now();
    if due <= now {
        return true;
    }
    let left = due - now;
    let margin = if spin { SPIN } else { Duration::ZERO };
    if left > max + margin {
        std::thread::sleep(max);
        return false;
    }
    if left > margin {
        std::thread::sleep(left - margin);
    }
    while spin && Instant::now() < due {
        std::hint::spin_loop();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_pacer_waits_for_the_start_only() {
        let mut p = Pacer::new(false);
        let at = Instant::now() + Duration::from_millis(30);
        p.begin(at, 8000);
        while !p.ready() {}
        assert!(Instant::now() >= at);
        // An hour of audio handed: fast mode does not wait for it (a
        // real-time pacer would give up after `MAX_SLEEP` and say "not
        // yet"), whatever the machine's speed.
        p.handed(8000 * 3600);
        assert!(p.ready());
        assert_eq!(p.delivery().frames, 8000 * 3600);
        assert!(p.delivery().first_at.is_some());
    }

    #[test]
    fn realtime_pacer_holds_frames_until_due() {
        let mut p = Pacer::new(true);
        p.begin(Instant::now(), 1000);
        assert!(p.ready());
        p.handed(1000 * 3600);
        // The next frame is due an hour after the start: not yet.
        assert!(!p.ready());
    }
}
