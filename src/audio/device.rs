//! The `device` output: a sound card through cpal (ALSA on Linux).
//!
//! cpal is used directly, not through rodio's mixer: the player thread
//! pushes whole chunks into a small queue and cpal's callback copies them
//! out, converting to the card's sample type in a monomorphised loop. The
//! callback also starts an item on the exact frame its start instant falls
//! on, so a programme's first sample leaves within a callback's precision
//! of the second it was scheduled for.
//!
//! The card is opened by `open` (an item or programme is coming) and
//! released by `close` (the player calls it after a short idle time), so an
//! idle station keeps no stream open and writes no silence. When cpal
//! reports an error (a USB card unplugged: `DeviceNotAvailable`) the next
//! `write` fails with it; the player then closes and the next item reopens.
//!
//! This module owns the cpal stream and its queue; it must not decode or
//! decide anything about what plays.

use std::collections::VecDeque;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rodio::cpal::{
    self,
    traits::{DeviceTrait, HostTrait, StreamTrait},
    FromSample, SizedSample,
};

use super::sink::{Delivery, Format, Sink, SinkError};

/// Audio queued ahead of the callback. Small, so that a stop's fade is
/// heard at once; large enough to ride out a scheduling hiccup.
const QUEUE: Duration = Duration::from_millis(200);
/// Longest `write` waits for room before returning 0.
const WRITE_WAIT: Duration = Duration::from_millis(50);
/// Longest the callback waits for a late writer in the middle of an item.
/// A paced card never waits (the queue holds 200 ms); an output that takes
/// samples faster than real time (ALSA's `null`, a file PCM) waits here
/// instead of spinning on silence, and what it records has no holes.
const CALLBACK_WAIT: Duration = Duration::from_millis(10);

pub struct DeviceSink {
    name: String,
    open: Option<OpenStream>,
}

struct OpenStream {
    _stream: cpal::Stream,
    shared: Arc<Shared>,
    format: Format,
    capacity: usize,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// The callback took samples: the writer may refill.
    room: Condvar,
    /// The writer added samples: a waiting callback may take them.
    data: Condvar,
}

#[derive(Default)]
struct Queue {
    samples: VecDeque<f32>,
    /// When the first queued sample of the item is due; `None`: between
    /// items, the callback plays silence.
    start_at: Option<Instant>,
    frames: u64,
    first_at: Option<SystemTime>,
    error: Option<String>,
    /// The item has more samples to come (between `begin` and
    /// `all_written`): an empty queue means the writer is late, not done.
    more_coming: bool,
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
        let shared = Arc::new(Shared::default());
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
                let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
                q.error.get_or_insert_with(|| {
                    format!("sound card \"{name}\" failed: {e} (unplugged or taken by another program?)")
                });
                shared.room.notify_all();
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
        let capacity = queue_capacity(format);
        Ok(OpenStream {
            _stream: stream,
            shared,
            format,
            capacity,
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
/// samples, then silence again on underrun (cpal pre-fills silence).
fn callback<T>(
    shared: Arc<Shared>,
    format: Format,
) -> impl FnMut(&mut [T], &cpal::OutputCallbackInfo) + Send + 'static
where
    T: SizedSample + FromSample<f32>,
{
    let ch = format.channels as usize;
    let rate = f64::from(format.rate);
    let low_water = queue_capacity(format) / 2;
    move |out: &mut [T], _info| {
        let Ok(mut q) = shared.queue.lock() else {
            return;
        };
        let Some(at) = q.start_at else { return };
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
        if q.more_coming && q.samples.len() / ch < want {
            let enough = (want * ch).min(low_water.max(ch));
            q = shared
                .data
                .wait_timeout_while(q, CALLBACK_WAIT, |q| {
                    q.more_coming && q.samples.len() < enough
                })
                .map(|(q, _)| q)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        let n = want.min(q.samples.len() / ch);
        if n == 0 {
            return;
        }
        if q.first_at.is_none() {
            q.first_at = Some(SystemTime::now() + Duration::from_secs_f64(skip as f64 / rate));
        }
        for (o, s) in out[skip * ch..(skip + n) * ch]
            .iter_mut()
            .zip(q.samples.drain(..n * ch))
        {
            *o = T::from_sample(s);
        }
        q.frames += n as u64;
        // Wake the writer only once half the queue is free: it then refills
        // a whole half in one go, instead of trading a wake-up for every
        // small callback buffer (hundreds a second on some cards).
        let low = q.samples.len() <= low_water;
        drop(q);
        if low {
            shared.room.notify_one();
        }
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
            let mut q = open.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.start_at = Some(at);
            q.frames = 0;
            q.first_at = None;
            q.more_coming = true;
        }
    }

    fn write(&mut self, samples: &[f32]) -> Result<usize, SinkError> {
        let Some(open) = &self.open else {
            return Err(SinkError::new("sound card written before it was opened"));
        };
        let ch = open.format.channels as usize;
        let mut q = open.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.samples.len() >= open.capacity && q.error.is_none() {
            q = open
                .shared
                .room
                .wait_timeout(q, WRITE_WAIT)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        if let Some(e) = &q.error {
            return Err(SinkError::new(e.clone()));
        }
        let room = open.capacity.saturating_sub(q.samples.len());
        let n = room.min(samples.len()) / ch * ch;
        q.samples.extend(&samples[..n]);
        drop(q);
        open.shared.data.notify_one();
        Ok(n)
    }

    fn pending(&self) -> Duration {
        self.open.as_ref().map_or(Duration::ZERO, |open| {
            let q = open.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            let frames = q.samples.len() / open.format.channels as usize;
            Duration::from_secs_f64(open.format.seconds(frames as u64))
        })
    }

    fn delivered(&self) -> Delivery {
        self.open.as_ref().map_or(Delivery::default(), |open| {
            let q = open.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            Delivery {
                frames: q.frames,
                first_at: q.first_at,
            }
        })
    }

    fn discard_pending(&mut self) {
        if let Some(open) = &self.open {
            let mut q = open.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.samples.clear();
            q.more_coming = false;
            drop(q);
            open.shared.data.notify_one();
        }
    }

    fn all_written(&mut self) {
        if let Some(open) = &self.open {
            let mut q = open.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.more_coming = false;
            drop(q);
            open.shared.data.notify_one();
        }
    }

    fn end(&mut self) -> Result<(), SinkError> {
        if let Some(open) = &self.open {
            let mut q = open.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.start_at = None;
            q.more_coming = false;
            if let Some(e) = &q.error {
                return Err(SinkError::new(e.clone()));
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
