//! A fake sound card for tests of the player and of the engine above it.
//!
//! It paces like a card (or not), counts what it was given, and can fail
//! the way real cards do: vanish mid-item with an error (cpal's
//! `DeviceNotAvailable` on a USB card pulled out), or silently stop taking
//! samples (a wedged driver), which only a deadline can catch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::sink::{paced_sink_methods, Format, Pacer, Sink, SinkError};

/// How the fake card breaks, once, after `after` of audio in one session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FakeFailure {
    /// Reports "device not available" and takes nothing more.
    Vanish { after: Duration },
    /// Takes nothing more and says nothing.
    Stall { after: Duration },
}

/// Counters shared with the test that built the fake.
#[derive(Debug, Default)]
pub struct FakeStats {
    /// Times the card was opened.
    pub opens: AtomicU64,
    /// Frames handed to the card, all sessions together.
    pub frames: AtomicU64,
    /// Sum of all samples handed over (to see gain and fades).
    pub energy: Mutex<f64>,
}

pub struct FakeSink {
    pacer: Pacer,
    format: Option<Format>,
    /// Forced format, to test conversion (`None`: take the file's).
    fixed: Option<Format>,
    failure: Option<FakeFailure>,
    broken: Option<Option<String>>,
    stats: Arc<FakeStats>,
}

impl FakeSink {
    pub fn new(realtime: bool) -> FakeSink {
        FakeSink {
            pacer: Pacer::new(realtime),
            format: None,
            fixed: None,
            failure: None,
            broken: None,
            stats: Arc::default(),
        }
    }

    /// Break once, as described; the next `open` after that works.
    pub fn failing(mut self, failure: FakeFailure) -> FakeSink {
        self.failure = Some(failure);
        self
    }

    /// Always run at `format`, whatever the file's.
    pub fn fixed_format(mut self, format: Format) -> FakeSink {
        self.fixed = Some(format);
        self
    }

    pub fn stats(&self) -> Arc<FakeStats> {
        self.stats.clone()
    }
}

impl Sink for FakeSink {
    fn open(&mut self, wanted: Format) -> Result<Format, SinkError> {
        if let Some(f) = self.format {
            return Ok(f);
        }
        let f = self.fixed.unwrap_or(wanted);
        self.format = Some(f);
        self.stats.opens.fetch_add(1, Ordering::Relaxed);
        Ok(f)
    }

    fn begin(&mut self, at: Instant) {
        self.pacer.begin(at, self.format.map_or(1, |f| f.rate));
    }

    fn write(&mut self, samples: &[f32]) -> Result<usize, SinkError> {
        let Some(format) = self.format else {
            return Err(SinkError::new("fake output written before it was opened"));
        };
        match &self.broken {
            Some(Some(reason)) => return Err(SinkError::new(reason.clone())),
            Some(None) => {
                // A wedged card: time passes, nothing is taken.
                std::thread::sleep(Duration::from_millis(20));
                return Ok(0);
            }
            None => {}
        }
        if let Some(failure) = self.failure {
            let (FakeFailure::Vanish { after } | FakeFailure::Stall { after }) = failure;
            if format.seconds(self.pacer.delivery().frames) >= after.as_secs_f64() {
                self.failure = None;
                self.broken = Some(match failure {
                    FakeFailure::Vanish { .. } => {
                        Some("sound card \"fake\": device not available (unplugged?)".into())
                    }
                    FakeFailure::Stall { .. } => None,
                });
                return self.write(samples);
            }
        }
        if !self.pacer.ready() {
            return Ok(0);
        }
        let ch = format.channels as usize;
        let n = samples.len() / ch;
        self.pacer.handed(n as u64);
        self.stats.frames.fetch_add(n as u64, Ordering::Relaxed);
        *self.stats.energy.lock().unwrap() +=
            samples.iter().map(|s| f64::from(s.abs())).sum::<f64>();
        Ok(n * ch)
    }

    paced_sink_methods!();

    fn end(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn close(&mut self) {
        self.format = None;
        self.broken = None;
    }

    fn is_open(&self) -> bool {
        self.format.is_some()
    }
}
