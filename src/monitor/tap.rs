//! The monitor's hook into the audio path: a `Sink` that wraps the real
//! output and, for every sample the output takes, feeds a band-limited
//! envelope; each finished 100 ms frame goes to the monitor with
//! `try_send` on a bounded channel. Nothing here blocks or allocates per
//! chunk: a full channel drops the frame (a missing sent frame is "not
//! aired" to the matcher, never a late item).

use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant, SystemTime};

use super::envelope::{Envelope, FRAME_MS};
use super::frame_of;
use crate::audio::{Delivery, Format, Sink, SinkError};

pub struct Tap {
    inner: Box<dyn Sink>,
    to: SyncSender<(i64, f32)>,
    envelope: Envelope,
    format: Option<Format>,
    /// Frame number of the item's first 100 ms, and how many followed.
    first: i64,
    done: i64,
}

impl Tap {
    pub fn new(inner: Box<dyn Sink>, to: SyncSender<(i64, f32)>) -> Tap {
        Tap {
            inner,
            to,
            envelope: Envelope::new(44100, 2),
            format: None,
            first: 0,
            done: 0,
        }
    }
}

/// `at` on the wall clock.
fn wall(at: Instant) -> SystemTime {
    let now = Instant::now();
    let sys = SystemTime::now();
    if at >= now {
        sys + (at - now)
    } else {
        sys.checked_sub(now - at).unwrap_or(sys)
    }
}

impl Sink for Tap {
    fn open(&mut self, wanted: Format) -> Result<Format, SinkError> {
        let f = self.inner.open(wanted)?;
        if self.format != Some(f) {
            self.envelope = Envelope::new(f.rate, f.channels);
            self.format = Some(f);
        }
        Ok(f)
    }

    fn begin(&mut self, at: Instant) {
        self.inner.begin(at);
        // Rounded to the nearest frame (half a frame at most: the matcher
        // looks a frame either side).
        self.first = frame_of(wall(at) + Duration::from_millis(FRAME_MS as u64 / 2));
        self.done = 0;
        self.envelope.restart();
    }

    fn write(&mut self, samples: &[f32]) -> Result<usize, SinkError> {
        let n = self.inner.write(samples)?;
        let (to, first, done) = (&self.to, self.first, &mut self.done);
        self.envelope
            .feed(samples[..n.min(samples.len())].iter().copied(), |level| {
                let _ = to.try_send((first + *done, level));
                *done += 1;
            });
        Ok(n)
    }

    fn pending(&self) -> Duration {
        self.inner.pending()
    }

    fn delivered(&self) -> Delivery {
        self.inner.delivered()
    }

    fn discard_pending(&mut self) {
        self.inner.discard_pending();
    }

    fn all_written(&mut self) {
        self.inner.all_written();
    }

    fn end(&mut self) -> Result<(), SinkError> {
        self.inner.end()
    }

    fn close(&mut self) {
        self.inner.close();
    }

    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
}
