//! The monitor's hook into the audio path: a `Sink` that wraps the real
//! output and, for every sample the output takes, feeds a band-limited
//! envelope; each finished 100 ms frame goes to the monitor with
//! `try_send` on a bounded channel. Nothing here blocks or allocates per
//! chunk: a full channel drops the frame (a missing sent frame is "not
//! aired" to the matcher, never a late item).
//!
//! A frame is stamped with when the output will play it, by the samples'
//! count from the item's start, moved on when the output says it fell
//! behind. The output may only say so late: a sound server that takes a
//! second to start playing (PulseAudio resuming a suspended sink, a stream
//! built again after an error) accepts the first 0.3–0.6 s at once and
//! then asks for nothing until it plays. So when the output turns out to
//! be late while it still holds what it was given (it did not run dry),
//! the frames it still holds, of the last `RESTAMP` sent, are withdrawn
//! and sent again at their new stamps.

use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant, SystemTime};

use super::envelope::{Envelope, FRAME_MS};
use super::frame_of;
use crate::audio::{Delivery, Format, Sink, SinkError};

/// What the tap tells the monitor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sent {
    /// The level of the frame due on the line at this frame number.
    Frame(i64, f32),
    /// The frame sent at this number is not due there after all.
    Withdrawn(i64),
}

/// The last frames sent, kept to be stamped again: 2 s.
const RESTAMP: usize = 20;

pub struct Tap {
    inner: Box<dyn Sink>,
    to: SyncSender<Sent>,
    envelope: Envelope,
    format: Option<Format>,
    /// When the item's first sample goes out, on both clocks: moved when
    /// the output fell behind (it aired silence meanwhile).
    start: Instant,
    start_wall: SystemTime,
    /// Audio frames taken since `begin`, and envelope frames sent.
    taken: u64,
    done: i64,
    /// The levels of the last `RESTAMP` frames sent (frame `n` at
    /// `n % RESTAMP`).
    recent: [f32; RESTAMP],
}

/// How far the output's own account may drift from the samples' count
/// before the tap follows it.
const DRIFT: Duration = Duration::from_millis(150);

impl Tap {
    pub fn new(inner: Box<dyn Sink>, to: SyncSender<Sent>) -> Tap {
        Tap {
            inner,
            to,
            envelope: Envelope::new(44100, 2),
            format: None,
            start: Instant::now(),
            start_wall: SystemTime::now(),
            taken: 0,
            done: 0,
            recent: [0.0; RESTAMP],
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
        let pending = self.inner.pending();
        let said = Instant::now() + pending;
        if said > counted + DRIFT {
            let late = said - counted;
            let was = self.start_wall;
            self.start += late;
            self.start_wall += late;
            if pending > DRIFT {
                self.restamp(format, pending, was);
            }
        }
    }

    /// The output is late and still holds `pending` of what it took:
    /// the frames sent of that (the last `RESTAMP` at most) go out later
    /// than their stamps from `was` said.
    fn restamp(&self, format: Format, pending: Duration, was: SystemTime) {
        let per_frame = (u64::from(format.rate) * FRAME_MS as u64 / 1000).max(1);
        let held = (pending.as_secs_f64() * f64::from(format.rate)) as u64;
        let from = (self.taken.saturating_sub(held) / per_frame) as i64;
        let from = from.max(self.done - RESTAMP as i64).max(0);
        if from >= self.done {
            return;
        }
        tracing::debug!(
            frames = self.done - from,
            "line monitor: the output is late with frames it holds; they are stamped again"
        );
        // All withdrawn first: a new stamp may be an old one's number.
        for n in from..self.done {
            let _ = self.to.try_send(Sent::Withdrawn(stamp(was, n)));
        }
        for n in from..self.done {
            let level = self.recent[n.rem_euclid(RESTAMP as i64) as usize];
            let _ = self
                .to
                .try_send(Sent::Frame(stamp(self.start_wall, n), level));
        }
    }
}

/// The frame number of the item's `n`th frame when its first sample goes
/// out at `start`: rounded to the nearest (half a frame at most; the
/// matcher looks either side).
fn stamp(start: SystemTime, n: i64) -> i64 {
    frame_of(start + Duration::from_millis((FRAME_MS / 2 + n * FRAME_MS) as u64))
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
        let (to, done, recent, start) =
            (&self.to, &mut self.done, &mut self.recent, self.start_wall);
        self.envelope.feed(samples[..n].iter().copied(), |level| {
            recent[done.rem_euclid(RESTAMP as i64) as usize] = level;
            let _ = to.try_send(Sent::Frame(stamp(start, *done), level));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::mpsc::{sync_channel, Receiver};
    use std::sync::Arc;

    /// An output that takes everything and says it holds `pending` ms.
    struct Stalling(Arc<AtomicU64>);

    impl Sink for Stalling {
        fn open(&mut self, wanted: Format) -> Result<Format, SinkError> {
            Ok(wanted)
        }
        fn begin(&mut self, _: Instant) {}
        fn write(&mut self, samples: &[f32]) -> Result<usize, SinkError> {
            Ok(samples.len())
        }
        fn pending(&self) -> Duration {
            Duration::from_millis(self.0.load(Ordering::Relaxed))
        }
        fn delivered(&self) -> Delivery {
            Delivery::default()
        }
        fn discard_pending(&mut self) {}
        fn end(&mut self) -> Result<(), SinkError> {
            Ok(())
        }
        fn close(&mut self) {}
        fn is_open(&self) -> bool {
            true
        }
    }

    /// A tap on a [`Stalling`] output, its item begun now: the tap, what
    /// the output says it holds (ms) and what the tap sends.
    fn begun() -> (Tap, Arc<AtomicU64>, Receiver<Sent>) {
        let pending = Arc::new(AtomicU64::new(0));
        let (to, from) = sync_channel(200);
        let mut tap = Tap::new(Box::new(Stalling(Arc::clone(&pending))), to);
        tap.open(Format {
            rate: 8000,
            channels: 1,
        })
        .unwrap();
        tap.begin(Instant::now());
        (tap, pending, from)
    }

    /// A tone at 1 kHz (in the envelope's band), louder frame by frame.
    fn frames(from: usize, count: usize) -> Vec<f32> {
        let rate = 8000;
        (from * 800..(from + count) * 800)
            .map(|i| {
                let level = 0.01 * (1 + i / 800) as f32;
                level * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / rate as f32).sin()
            })
            .collect()
    }

    #[test]
    fn frames_an_output_held_when_it_turned_out_late_are_stamped_again() {
        // A sound server that accepts 0.6 s at once and says nothing of
        // it until, a second later, it asks for more: the frames it held
        // were heard a second after their first stamps.
        let (mut tap, pending, from) = begun();
        tap.write(&frames(0, 6)).unwrap();
        let first: Vec<Sent> = from.try_iter().collect();
        assert_eq!(first.len(), 6, "{first:?}");
        // It still holds 1.6 s: what it took, a second later than counted.
        pending.store(1600, Ordering::Relaxed);
        tap.write(&frames(6, 1)).unwrap();
        let then: Vec<Sent> = from.try_iter().collect();
        let withdrawn: Vec<i64> = then
            .iter()
            .filter_map(|s| match s {
                Sent::Withdrawn(f) => Some(*f),
                Sent::Frame(..) => None,
            })
            .collect();
        let again: Vec<(i64, f32)> = then
            .iter()
            .filter_map(|s| match s {
                Sent::Frame(f, l) => Some((*f, *l)),
                Sent::Withdrawn(_) => None,
            })
            .collect();
        for (i, s) in first.iter().enumerate() {
            let Sent::Frame(f, l) = *s else {
                panic!("{s:?}")
            };
            assert!(
                withdrawn.contains(&f),
                "frame {i} ({f}) not withdrawn: {then:?}"
            );
            let (g, m) = again[i];
            assert_eq!(m, l, "frame {i} sent again with its level");
            assert!(
                (9..=11).contains(&(g - f)),
                "frame {i}: {f} became {g}, not a second later"
            );
        }
        // The frame written after it goes out after them.
        assert_eq!(again.len(), 7, "{then:?}");
        assert_eq!(again[6].0, again[5].0 + 1);
    }

    #[test]
    fn an_output_that_ran_dry_moves_only_what_comes_after() {
        // The player fell behind and the output ran dry: what it had was
        // heard on time; only the frames written after the gap are late.
        let (mut tap, _, from) = begun();
        tap.write(&frames(0, 6)).unwrap();
        let before: Vec<Sent> = from.try_iter().collect();
        // Its 0.6 s played out, and the output waited 0.4 s more.
        std::thread::sleep(Duration::from_millis(1000));
        tap.write(&frames(6, 1)).unwrap();
        let after: Vec<Sent> = from.try_iter().collect();
        assert!(
            after.iter().all(|s| matches!(s, Sent::Frame(..))),
            "nothing withdrawn: {after:?}"
        );
        let (Sent::Frame(last, _), [Sent::Frame(next, _)]) = (before[5], after.as_slice()) else {
            panic!("{before:?} {after:?}")
        };
        assert!(*next - last >= 4, "{last} then {next}: not moved on");
    }
}
