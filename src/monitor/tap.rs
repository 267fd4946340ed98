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
    /// When the item's first sample goes out, on both clocks: moved when
    /// the output fell behind (it aired silence meanwhile).
    start: Instant,
    start_wall: SystemTime,
    /// Audio frames taken since `begin`, and envelope frames sent.
    taken: u64,
    done: i64,
}

/// How far the output's own account may drift from the samples' count
/// before the tap follows it.
const DRIFT: Duration = Duration::from_millis(150);

impl Tap {
    pub fn new(inner: Box<dyn Sink>, to: SyncSender<(i64, f32)>) -> Tap {
        Tap {
            inner,
            to,
            envelope: Envelope::new(44100, 2),
            format: None,
            start: Instant::now(),
            start_wall: SystemTime::now(),
            taken: 0,
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

impl Tap {
    /// Count `n` more samples taken; when the output says they go out
    /// later than the count does (it fell behind and aired silence), move
    /// the start by the difference.
    fn follow(&mut self, format: Format, n: usize) {
        let channels = u64::from(format.channels.max(1));
        self.taken += n as u64 / channels;
        let counted = self.start + Duration::from_secs_f64(format.seconds(self.taken));
        let said = Instant::now() + self.inner.pending();
        if said > counted + DRIFT {
            let late = said - counted;
            self.start += late;
            self.start_wall += late;
        }
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
        self.start = at;
        self.start_wall = wall(at);
        self.taken = 0;
        self.done = 0;
        self.envelope.restart();
    }

    fn write(&mut self, samples: &[f32]) -> Result<usize, SinkError> {
        let n = self.inner.write(samples)?.min(samples.len());
        let Some(format) = self.format else {
            return Ok(n);
        };
        if n > 0 {
            self.follow(format, n);
        }
        let (to, done) = (&self.to, &mut self.done);
        // Each frame on the wall clock, rounded to the nearest frame
        // number (half a frame at most: the matcher looks either side).
        let first = self.start_wall + Duration::from_millis(FRAME_MS as u64 / 2);
        self.envelope.feed(samples[..n].iter().copied(), |level| {
            let at = first + Duration::from_millis((*done * FRAME_MS) as u64);
            let _ = to.try_send((frame_of(at), level));
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
