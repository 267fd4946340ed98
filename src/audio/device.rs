//! The `device` output: a sound card through cpal (ALSA on Linux).
//!
//! cpal is used directly, not through rodio's mixer (rodio is only where
//! cpal comes from): the player thread pushes whole chunks into a lock-free
//! ring (`ring.rs`) and cpal's callback copies them out, converting to the
//! card's sample type in a monomorphised loop. The callback runs on the
//! sound card's real-time thread and never waits: it takes no lock, and
//! when the ring runs dry mid-item it plays silence and counts an underrun
//! (logged when the item ends). It also starts an item on the exact frame
//! its start instant falls on, so a programme's first sample leaves within
//! a callback's precision of the second it was scheduled for.
//!
//! The card is opened by `open` (an item or programme is coming) and
//! released by `close` (the player calls it after a short idle time), so an
//! idle station keeps no stream open and writes no silence. When cpal
//! reports an error (a USB card unplugged: `DeviceNotAvailable`) the next
//! `write` fails with it; the player then closes and the next item reopens.
//!
//! This module owns the cpal stream and its queue; it must not decode or
//! decide anything about what plays.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rodio::cpal::{
    self,
    traits::{DeviceTrait, HostTrait, StreamTrait},
    FromSample, SizedSample,
};

use super::ring::Ring;
use super::sink::{Delivery, Format, Sink, SinkError};

/// Audio queued ahead of the callback. Small, so that a stop's fade is
/// heard at once; large enough to ride out a scheduling hiccup.
const QUEUE: Duration = Duration::from_millis(200);
/// Longest `write` sleeps for room before returning 0.
const WRITE_WAIT: Duration = Duration::from_millis(50);
/// `start_at` between items: the callback plays silence.
const NO_ITEM: u64 = u64::MAX;

pub struct DeviceSink {
    name: String,
    open: Option<OpenStream>,
}

struct OpenStream {
    _stream: cpal::Stream,
    shared: Arc<Shared>,
    format: Format,
}

/// What the writer and the callback share: atomics only, but for the
/// error, which cpal's error callback (not the real-time one) sets.
struct Shared {
    ring: Ring,
    /// `start_at` counts nanoseconds from here.
    epoch: Instant,
    /// The item being played; `begin` moves it on. The callback restarts
    /// its counts when it sees a new one.
    item: AtomicU64,
    /// When the item's first sample is due (nanoseconds from `epoch`), or
    /// `NO_ITEM`.
    start_at: AtomicU64,
    /// The item has more samples to come (between `begin` and
    /// `all_written`): a dry ring then is an underrun, not the end.
    more_coming: AtomicBool,
    /// The callback's counts, for the item `counted_item`.
    counted_item: AtomicU64,
    frames: AtomicU64,
    /// When the item's first sample was handed over: nanoseconds since the
    /// Unix epoch, 0 for not yet.
    first_at: AtomicU64,
    /// Callbacks that found the ring dry in the middle of an item.
    underruns: AtomicU64,
    error: Mutex<Option<String>>,
}

impl Shared {
    fn new(format: Format) -> Shared {
        Shared {
            ring: Ring::new(queue_capacity(format)),
            epoch: Instant::now(),
            item: AtomicU64::new(0),
            start_at: AtomicU64::new(NO_ITEM),
            more_coming: AtomicBool::new(false),
            counted_item: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            first_at: AtomicU64::new(0),
            underruns: AtomicU64::new(0),
            error: Mutex::new(None),
        }
    }

    fn error(&self) -> Option<SinkError> {
        let e = self.error.lock().unwrap_or_else(|p| p.into_inner());
        e.as_ref().map(|e| SinkError::new(e.clone()))
    }
}

impl DeviceSink {
    /// `name` is `"default"`, an ALSA PCM name (`aplay -L`), or a card's
    /// description as cpal shows it.
    pub fn new(name: impl Into<String>) -> DeviceSink {
        DeviceSink {
            name: name.into(),
            open: None,
        }
    }

    fn open_error(&self, why: impl std::fmt::Display) -> SinkError {
        SinkError::new(format!(
            "cannot open sound card \"{}\": {why}. Pick the card with `[output] device = \"...\"` \
             in the station file (list the names with `aplay -L`), or set `[output] kind = \"wav\"` \
             to record to a file instead",
            self.name
        ))
    }

    fn find_device(&self) -> Result<cpal::Device, SinkError> {
        let host = cpal::default_host();
        if self.name == "default" {
            return host
                .default_output_device()
                .ok_or_else(|| self.open_error("there is no default output device"));
        }
        let listed = host.output_devices().ok().and_then(|mut all| {
            all.find(|d| {
                d.id().is_ok_and(|id| id.id() == self.name)
                    || d.description().is_ok_and(|desc| desc.name() == self.name)
            })
        });
        // A PCM from .asoundrc without a `hint` is not listed but opens.
        listed
            .or_else(|| {
                let id = cpal::DeviceId::from_str(&format!("{}:{}", host.id(), self.name)).ok()?;
                host.device_by_id(&id)
            })
            .ok_or_else(|| self.open_error("no such output device"))
    }

    fn open_stream(&self, wanted: Format) -> Result<OpenStream, SinkError> {
        let device = self.find_device()?;
        let config = choose_config(&device, wanted).map_err(|e| self.open_error(e))?;
        let format = Format {
            rate: config.sample_rate(),
            channels: config.channels(),
        };
        let shared = Arc::new(Shared::new(format));
        let stream_config = cpal::StreamConfig {
            channels: format.channels,
            sample_rate: format.rate,
            buffer_size: cpal::BufferSize::Default,
        };
        let name = self.name.clone();
        let on_error = {
            let shared = shared.clone();
            move |e: cpal::Error| {
                if e.kind() == cpal::ErrorKind::Xrun {
                    tracing::debug!("sound card \"{name}\": underrun");
                    return;
                }
                let mut error = shared.error.lock().unwrap_or_else(|p| p.into_inner());
                error.get_or_insert_with(|| {
                    format!("sound card \"{name}\" failed: {e} (unplugged or taken by another program?)")
                });
            }
        };
        let timeout = Some(Duration::from_secs(3));
        let stream = match config.sample_format() {
            cpal::SampleFormat::F32 => device.build_output_stream(
                stream_config,
                callback::<f32>(shared.clone(), format),
                on_error,
                timeout,
            ),
            cpal::SampleFormat::I16 => device.build_output_stream(
                stream_config,
                callback::<i16>(shared.clone(), format),
                on_error,
                timeout,
            ),
            cpal::SampleFormat::I32 => device.build_output_stream(
                stream_config,
                callback::<i32>(shared.clone(), format),
                on_error,
                timeout,
            ),
            cpal::SampleFormat::U8 => device.build_output_stream(
                stream_config,
                callback::<u8>(shared.clone(), format),
                on_error,
                timeout,
            ),
            other => {
                return Err(self.open_error(format!("unsupported sample format {other}")));
            }
        }
        .map_err(|e| self.open_error(e))?;
        stream.play().map_err(|e| self.open_error(e))?;
        Ok(OpenStream {
            _stream: stream,
            shared,
            format,
        })
    }
}

/// The file's own rate and channels when the card takes them (no
/// conversion at all), `i16` or `f32` preferred; else the card's default.
fn choose_config(
    device: &cpal::Device,
    wanted: Format,
) -> Result<cpal::SupportedStreamConfig, cpal::Error> {
    // 16-bit first: what most cards take natively (no conversion inside
    // alsa-lib) and half the bytes of f32 through every layer below us.
    let rank = |f: cpal::SampleFormat| match f {
        cpal::SampleFormat::I16 => 0,
        cpal::SampleFormat::F32 => 1,
        cpal::SampleFormat::I32 => 2,
        cpal::SampleFormat::U8 => 3,
        _ => 9,
    };
    let best = device
        .supported_output_configs()?
        .filter(|r| r.channels() == wanted.channels && rank(r.sample_format()) < 9)
        .filter_map(|r| r.try_with_sample_rate(wanted.rate))
        .min_by_key(|c| rank(c.sample_format()));
    match best {
        Some(c) => Ok(c),
        None => device.default_output_config(),
    }
}

/// Samples the queue holds ahead of the callback.
fn queue_capacity(format: Format) -> usize {
    (QUEUE.as_secs_f64() * f64::from(format.rate)) as usize * format.channels as usize
}

/// cpal's callback: silence until the item's start instant, then queued
/// samples, then silence again when the ring is dry (cpal pre-fills
/// silence). Lock-free: atomics only, no waiting, no allocation.
fn callback<T>(
    shared: Arc<Shared>,
    format: Format,
) -> impl FnMut(&mut [T], &cpal::OutputCallbackInfo) + Send + 'static
where
    T: SizedSample + FromSample<f32>,
{
    let ch = format.channels as usize;
    let rate = f64::from(format.rate);
    // The item counted, and its counts (published to `shared`).
    let mut item = 0u64;
    let mut frames = 0u64;
    move |out: &mut [T], _info| {
        let now_item = shared.item.load(Ordering::Acquire);
        if now_item != item {
            (item, frames) = (now_item, 0);
            shared.frames.store(0, Ordering::Relaxed);
            shared.first_at.store(0, Ordering::Relaxed);
            shared.counted_item.store(item, Ordering::Release);
        }
        let available = shared.ring.available() / ch;
        let at = shared.start_at.load(Ordering::Acquire);
        if at == NO_ITEM || shared.item.load(Ordering::Acquire) != item {
            // Between items, or `begin` ran just now: the next call starts.
            return;
        }
        let at = shared.epoch + Duration::from_nanos(at);
        let frames_out = out.len() / ch;
        let now = Instant::now();
        let skip = if at > now {
            let f = ((at - now).as_secs_f64() * rate) as usize;
            if f >= frames_out {
                return;
            }
            f
        } else {
            0
        };
        let want = frames_out - skip;
        let n = want.min(available);
        if n < want && frames > 0 && shared.more_coming.load(Ordering::Relaxed) {
            shared.underruns.fetch_add(1, Ordering::Relaxed);
        }
        if n == 0 {
            return;
        }
        if frames == 0 {
            let first = SystemTime::now() + Duration::from_secs_f64(skip as f64 / rate);
            let ns = first.duration_since(UNIX_EPOCH).unwrap_or_default();
            shared
                .first_at
                .store(ns.as_nanos() as u64, Ordering::Relaxed);
        }
        shared
            .ring
            .pop_into(&mut out[skip * ch..(skip + n) * ch], T::from_sample);
        frames += n as u64;
        shared.frames.store(frames, Ordering::Release);
    }
}

impl Sink for DeviceSink {
    fn open(&mut self, wanted: Format) -> Result<Format, SinkError> {
        if let Some(open) = &self.open {
            return Ok(open.format);
        }
        let open = self.open_stream(wanted)?;
        let format = open.format;
        self.open = Some(open);
        Ok(format)
    }

    fn begin(&mut self, at: Instant) {
        if let Some(open) = &self.open {
            let sh = &open.shared;
            let at = at.saturating_duration_since(sh.epoch).as_nanos() as u64;
            sh.more_coming.store(true, Ordering::Relaxed);
            sh.start_at.store(at.min(NO_ITEM - 1), Ordering::Relaxed);
            sh.item.fetch_add(1, Ordering::Release);
        }
    }

    fn write(&mut self, samples: &[f32]) -> Result<usize, SinkError> {
        let Some(open) = &self.open else {
            return Err(SinkError::new("sound card written before it was opened"));
        };
        let sh = &open.shared;
        let ch = open.format.channels as usize;
        if let Some(e) = sh.error() {
            return Err(e);
        }
        let n = sh.ring.push(samples, ch);
        if n > 0 || samples.len() < ch {
            return Ok(n);
        }
        // Full: sleep until the card has played it down to half (it then
        // takes a whole half in one go), or at most `WRITE_WAIT`, so the
        // player keeps answering commands. Polling at the card's own pace
        // costs the callback nothing: it never wakes anyone.
        let over = sh
            .ring
            .len()
            .saturating_sub(queue_capacity(open.format) / 2)
            / ch;
        let until_half = Duration::from_secs_f64(open.format.seconds(over as u64));
        std::thread::sleep(until_half.clamp(Duration::from_millis(1), WRITE_WAIT));
        if let Some(e) = sh.error() {
            return Err(e);
        }
        Ok(sh.ring.push(samples, ch))
    }

    fn pending(&self) -> Duration {
        self.open.as_ref().map_or(Duration::ZERO, |open| {
            let frames = open.shared.ring.len() / open.format.channels as usize;
            Duration::from_secs_f64(open.format.seconds(frames as u64))
        })
    }

    fn delivered(&self) -> Delivery {
        self.open.as_ref().map_or(Delivery::default(), |open| {
            let sh = &open.shared;
            if sh.counted_item.load(Ordering::Acquire) != sh.item.load(Ordering::Relaxed) {
                // The callback has not run since `begin`.
                return Delivery::default();
            }
            let first_at = match sh.first_at.load(Ordering::Relaxed) {
                0 => None,
                ns => Some(UNIX_EPOCH + Duration::from_nanos(ns)),
            };
            Delivery {
                frames: sh.frames.load(Ordering::Acquire),
                first_at,
            }
        })
    }

    fn discard_pending(&mut self) {
        if let Some(open) = &self.open {
            open.shared.ring.discard();
            open.shared.more_coming.store(false, Ordering::Relaxed);
        }
    }

    fn all_written(&mut self) {
        if let Some(open) = &self.open {
            open.shared.more_coming.store(false, Ordering::Relaxed);
        }
    }

    fn end(&mut self) -> Result<(), SinkError> {
        if let Some(open) = &self.open {
            let sh = &open.shared;
            sh.start_at.store(NO_ITEM, Ordering::Relaxed);
            sh.more_coming.store(false, Ordering::Relaxed);
            let underruns = sh.underruns.swap(0, Ordering::Relaxed);
            if underruns > 0 {
                tracing::warn!(
                    "sound card \"{}\": the player fell behind {underruns} time(s) in this item \
                     (silence aired; is the disk or the CPU too slow?)",
                    self.name
                );
            }
            if let Some(e) = sh.error() {
                return Err(e);
            }
        }
        Ok(())
    }

    fn close(&mut self) {
        self.open = None;
    }

    fn is_open(&self) -> bool {
        self.open.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{testdata, Event, Outcome, Player, PlayerOptions};

    /// The whole ALSA path without a sound card: a PCM of `type file` over
    /// the `null` PCM, defined in the `.asoundrc` of a temporary `HOME`,
    /// captures what cpal wrote. (Not for timing: `null` does not pace.)
    /// The only test in the crate that touches ALSA, so changing `HOME`
    /// before ALSA first reads its configuration affects nothing else.
    #[test]
    fn real_alsa_path_through_a_file_pcm() {
        let home = tempfile::tempdir().unwrap();
        let raw = home.path().join("captured.raw");
        std::fs::write(
            home.path().join(".asoundrc"),
            format!(
                "pcm.loa_capture {{\n type file\n slave.pcm \"null\"\n file \"{}\"\n format \"raw\"\n}}\n",
                raw.display()
            ),
        )
        .unwrap();
        std::env::set_var("HOME", home.path());

        // A card that does not exist: the error says how to choose one.
        let err = DeviceSink::new("loa-no-such-card")
            .open(Format {
                rate: 8000,
                channels: 1,
            })
            .unwrap_err();
        assert!(err.message.contains("aplay -L"), "{err}");
        assert!(err.message.contains("kind = \"wav\""), "{err}");

        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let player = Player::spawn(
            Box::new(DeviceSink::new("loa_capture")),
            PlayerOptions::default(),
            tx,
        )
        .unwrap();
        let id = player.play(testdata("tone1s.wav"), Duration::from_secs(1));
        let give_up = Instant::now() + Duration::from_secs(20);
        let (aired, outcome) = loop {
            match rx.try_recv() {
                Ok(Event::Finished {
                    id: i,
                    aired_seconds,
                    outcome,
                }) if i == id => break (aired_seconds, outcome),
                Ok(_) => {}
                Err(_) => {
                    assert!(Instant::now() < give_up, "no Finished");
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        };
        assert_eq!(outcome, Outcome::Completed);
        assert!((aired - 1.0).abs() < 0.01, "{aired}");
        drop(player); // closes the stream, flushing the capture file
        let bytes = std::fs::read(&raw).unwrap();
        // At least a second of 8-bit mono; the tone is not all silence.
        assert!(bytes.len() >= 8000, "{}", bytes.len());
        assert!(bytes.iter().filter(|&&b| b != 0 && b != 0x80).count() > 1000);
    }
}
