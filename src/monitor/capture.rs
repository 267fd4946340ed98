//! The line's side: capture `[monitor] input` through cpal and send one
//! band-limited level per 100 ms, stamped on the wall clock, to the
//! matcher. The envelope is made in cpal's callback (no allocation there:
//! a chunk is never copied). A device that cannot be opened, fails or
//! stops sending is opened again every few seconds; the failure is logged
//! once and the recovery once.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rodio::cpal;
use rodio::cpal::traits::DeviceTrait;

use super::envelope::{Envelope, FRAME_MS};
use crate::audio::{capture_stream, find_device, Way};

/// Between attempts to open the device again.
const RETRY: Duration = Duration::from_secs(5);
/// How far the samples' count may stray from the wall clock.
const REANCHOR_MS: i64 = 1000;
/// A device that sent nothing for this long is opened again.
const STALL_MS: i64 = 5000;

/// Start the capture thread.
pub(super) fn spawn(name: String, to: SyncSender<(i64, f32)>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("loa-monitor-in".into())
        .spawn(move || run(&name, &to))?;
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn run(name: &str, to: &SyncSender<(i64, f32)>) {
    let mut failing: Option<String> = None;
    loop {
        let alive = Arc::new(AtomicI64::new(now_ms()));
        let failed = Arc::new(AtomicBool::new(false));
        match open(name, to.clone(), Arc::clone(&alive), Arc::clone(&failed)) {
            Ok(stream) => {
                if failing.take().is_some() {
                    tracing::info!(device = name, "the line monitor captures again");
                } else {
                    tracing::info!(device = name, "the line monitor listens");
                }
                while !failed.load(Ordering::Relaxed)
                    && now_ms() - alive.load(Ordering::Relaxed) < STALL_MS
                {
                    std::thread::sleep(Duration::from_millis(500));
                }
                drop(stream);
                let why = "the capture failed or stopped sending".to_string();
                tracing::warn!(device = name, "line monitor: {why}; opening it again");
                failing = Some(why);
            }
            Err(why) => {
                if failing.as_deref() != Some(why.as_str()) {
                    tracing::warn!(
                        device = name,
                        "line monitor: {why}; heard seconds stay 0 until it opens (tried every {} s)",
                        RETRY.as_secs()
                    );
                }
                failing = Some(why);
            }
        }
        std::thread::sleep(RETRY);
    }
}

/// Where the capture's frames fall on the wall clock: anchored at the
/// first callback, counted in samples after it (a capture comes in bursts:
/// the samples' count is its clock), anchored again when the count is a
/// second away from the wall clock (samples lost, a clock step).
struct Stamps {
    anchor_ms: i64,
    frames: i64,
    started: bool,
}

impl Stamps {
    fn next(&mut self, chunk_ms: i64) -> i64 {
        let now = now_ms();
        let due = self.anchor_ms + self.frames * FRAME_MS;
        if !self.started || (due - (now - chunk_ms)).abs() > REANCHOR_MS {
            self.anchor_ms = now - chunk_ms - self.frames * FRAME_MS;
            self.started = true;
        }
        let at = self.anchor_ms + self.frames * FRAME_MS;
        self.frames += 1;
        at.div_euclid(FRAME_MS)
    }
}

/// The callback's work, whatever the sample type.
struct Listener {
    envelope: Envelope,
    stamps: Stamps,
    rate: u32,
    channels: usize,
    to: SyncSender<(i64, f32)>,
    alive: Arc<AtomicI64>,
}

impl Listener {
    fn take(&mut self, samples: impl ExactSizeIterator<Item = f32>) {
        let chunk_ms = samples.len() as i64 * 1000 / (self.channels as i64 * i64::from(self.rate));
        let (stamps, to) = (&mut self.stamps, &self.to);
        self.envelope.feed(samples, |level| {
            let _ = to.try_send((stamps.next(chunk_ms), level));
        });
        self.alive.store(now_ms(), Ordering::Relaxed);
    }
}

fn open(
    name: &str,
    to: SyncSender<(i64, f32)>,
    alive: Arc<AtomicI64>,
    failed: Arc<AtomicBool>,
) -> Result<cpal::Stream, String> {
    let device = find_device(name, Way::Capture)?;
    let config = device
        .default_input_config()
        .map_err(|e| format!("capture device `{name}`: {e}"))?;
    let mut l = Listener {
        envelope: Envelope::new(config.sample_rate(), config.channels()),
        stamps: Stamps {
            anchor_ms: 0,
            frames: 0,
            started: false,
        },
        rate: config.sample_rate().max(1),
        channels: usize::from(config.channels().max(1)),
        to,
        alive,
    };
    let on_error = move |e: cpal::Error| {
        tracing::debug!("line monitor capture: {e}");
        failed.store(true, Ordering::Relaxed);
    };
    capture_stream(
        name,
        &device,
        &config,
        move |d| l.take(d.iter().copied()),
        on_error,
    )
}
