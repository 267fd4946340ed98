//! The `device` output: a sound card through cpal (ALSA on Linux).
//!
//! cpal is used directly, not through rodio's mixer (rodio is only where
//! cpal comes from): the player thread pushes whole chunks into a lock-free
//! ring (`ring.rs`) and cpal's callback copies them out, converting to the
//! card's sample type in a monomorphised loop. The callback runs on the
//! sound card's real-time thread and never waits: it takes no lock, and
//! when the ring runs dry mid-item it plays silence and counts an underrun
//! (logged when the item ends). It also starts an item on the exact frame
//! its start instant falls on, counting the card's own latency (what cpal
//! says lies between the callback and the loudspeaker), so a programme's
//! first sample is heard within a callback's precision of the second it
//! was scheduled for.
//!
//! The card is opened by `open` (an item or programme is coming) and
//! released by `close` (the player calls it after a short idle time). An
//! open card only runs while an item is near or on air: the stream starts
//! `RUN_AHEAD` before the item's start instant and is paused (or, where
//! the card cannot pause, dropped and built again for the next item) when
//! the item ends. So neither the cue before an item nor the idle wait
//! after it costs a callback per period, and an output that does not pace
//! (ALSA's `null`) does not spin on silence meanwhile.
//!
//! The card's buffer is large (`PERIOD` per callback, two periods queued,
//! like mpg123's): a callback and a trip through PulseAudio cost the same
//! whatever they carry, so fewer and larger ones cost less CPU. Start
//! accuracy does not depend on it (see above), and a stop's fade counts
//! what the card still holds, so a stop is heard as quickly as before.
//!
//! Errors cpal reports are of two kinds. A card that is gone
//! (`DeviceNotAvailable`, no sound server, no permission) fails the next
//! `write`; the player then closes and the next item reopens. Anything
//! else (ALSA's pulse plugin can fail a new stream at once with an I/O
//! error from `snd_pcm_avail_delay`, alsa-plugins issue #65, and again
//! after the process was stalled) is taken as transient: the stream is
//! dropped and built again, after a short backoff, at most
//! `MAX_REBUILDS` times per item, and the item goes on from where the
//! ring stands (the player's deadline still bounds it).
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

/// Audio queued ahead of the callback: a callback's `PERIOD` and half
/// another, so the writer has a whole period to refill it between two
/// callbacks, and rides out a scheduling hiccup. A stop still ends in
/// silence within the engine's `CUT_AHEAD` (0.6 s): seen at most
/// `WRITE_WAIT` late, it fades `MAX_FADE` counting what is queued, or,
/// when more than that is queued, drops the queue and the card's buffer
/// (0.4 s and a margin) plays out unfaded — the price of fewer wakeups.
const QUEUE: Duration = Duration::from_millis(300);
/// Audio asked of each callback; the card's buffer holds two of these.
/// 200 ms: five callbacks a second, each a wakeup of cpal's thread and of
/// the pulse plugin's, which were most of what loa spent beyond decoding
/// (measured against mpg123, whose ALSA buffer is 0.5 s; README).
const PERIOD: Duration = Duration::from_millis(200);
/// Longest `write` sleeps for room before returning 0: how late the
/// player may see a command while the queue is full, and how often it
/// wakes then (ten times a second).
const WRITE_WAIT: Duration = Duration::from_millis(100);
/// `start_at` between items: the callback plays silence.
const NO_ITEM: u64 = u64::MAX;
/// The stream starts this long before an item's start instant: time for
/// the card to come up and fill its buffer (two `PERIOD`s) with silence,
/// with a period to spare.
const RUN_AHEAD: Duration = Duration::from_millis(700);
/// Streams built again after transient errors, per item.
const MAX_REBUILDS: u32 = 5;
/// Wait before the first rebuild; doubled for each next one.
const BACKOFF: Duration = Duration::from_millis(20);
/// What a sound server may hold beyond the card's buffer (PulseAudio's
/// own latency): an item's last samples are taken as heard this long after
/// the card's buffer played them, before the stream is paused. Through
/// PulseAudio the latency is estimated (see `callback`): a period's worth
/// of margin covers the estimate's error.
const TAIL_MARGIN: Duration = PERIOD;
/// How far beyond its two periods a device's callbacks may run ahead of
/// the wall clock before it is taken for one that does not pace.
const UNPACED_SLACK: Duration = Duration::from_millis(100);
/// How long a dry callback on a device that does not pace waits for the
/// writer (see `Feed::pace`).
const DRY_NAP: Duration = Duration::from_millis(2);
/// Latency a callback may claim before it is taken for a bad timestamp.
const MAX_LATENCY: Duration = Duration::from_secs(1);

/// Builds streams: cpal in a station, a paced fake card in tests.
trait Backend: Send {
    /// The format a stream for `wanted` takes on the card `name`.
    fn format(&self, name: &str, wanted: Format) -> Result<Format, String>;
    /// A stream at `format` (as `format` returned), not started, that
    /// feeds from `shared` and reports errors to `on_error`.
    fn build(&self, name: &str, format: Format, shared: Arc<Shared>, on_error: ErrorFn) -> Built;
}

type ErrorFn = Box<dyn FnMut(cpal::Error) + Send + 'static>;
/// A built stream, or why it could not be built.
type Built = Result<Box<dyn CardStream>, String>;

/// A built stream; dropping it closes it.
trait CardStream: Send {
    fn play(&self) -> Result<(), String>;
    fn pause(&self) -> Result<(), String>;
}

impl CardStream for cpal::Stream {
    fn play(&self) -> Result<(), String> {
        StreamTrait::play(self).map_err(|e| e.to_string())
    }
    fn pause(&self) -> Result<(), String> {
        StreamTrait::pause(self).map_err(|e| e.to_string())
    }
}

pub struct DeviceSink {
    name: String,
    backend: Box<dyn Backend>,
    open: Option<OpenStream>,
}

struct OpenStream {
    /// `None` after a transient error, until it is built again.
    stream: Option<Box<dyn CardStream>>,
    /// `play` was called on `stream` (and no `pause` since).
    running: bool,
    shared: Arc<Shared>,
    format: Format,
    /// Rebuilds in this item, and when the next may be tried.
    rebuilds: u32,
    retry_at: Instant,
    /// Why the stream was last dropped, for the error after the last try.
    last_error: String,
}

/// What the writer and the callback share: atomics only, but for the
/// errors, which cpal's error callback (not the real-time one) sets.
struct Shared {
    ring: Ring,
    /// `start_at` and `tail_at` count nanoseconds from here.
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
    /// When the last sample handed to the card will have been heard
    /// (nanoseconds from `epoch`): what the card still holds of the item.
    tail_at: AtomicU64,
    /// Callbacks that found the ring dry in the middle of an item.
    underruns: AtomicU64,
    /// The stream whose errors count; an older one's are stale.
    generation: AtomicU64,
    /// The card is gone: the next `write` fails with this.
    error: Mutex<Option<String>>,
    /// The stream failed but the card may not have: build it again.
    transient: Mutex<Option<String>>,
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
            tail_at: AtomicU64::new(0),
            underruns: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            error: Mutex::new(None),
            transient: Mutex::new(None),
        }
    }

    fn error(&self) -> Option<SinkError> {
        let e = self.error.lock().unwrap_or_else(|p| p.into_inner());
        e.as_ref().map(|e| SinkError::new(e.clone()))
    }

    fn take_transient(&self) -> Option<String> {
        self.transient
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    fn since_epoch(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    /// The error callback of stream `generation` of card `name`.
    fn on_error(self: &Arc<Shared>, name: &str, generation: u64) -> ErrorFn {
        let shared = self.clone();
        let name = name.to_string();
        Box::new(move |e: cpal::Error| {
            if shared.generation.load(Ordering::Acquire) != generation {
                return;
            }
            let slot = match e.kind() {
                cpal::ErrorKind::Xrun => {
                    tracing::debug!("sound card \"{name}\": underrun");
                    return;
                }
                cpal::ErrorKind::RealtimeDenied | cpal::ErrorKind::DeviceChanged => {
                    tracing::debug!("sound card \"{name}\": {e}");
                    return;
                }
                cpal::ErrorKind::DeviceNotAvailable
                | cpal::ErrorKind::HostUnavailable
                | cpal::ErrorKind::PermissionDenied => &shared.error,
                _ => &shared.transient,
            };
            let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| {
                format!(
                    "sound card \"{name}\" failed: {e} (unplugged or taken by another program?)"
                )
            });
        })
    }
}

impl DeviceSink {
    /// `name` is `"default"`, an ALSA PCM name (`aplay -L`), or a card's
    /// description as cpal shows it.
    pub fn new(name: impl Into<String>) -> DeviceSink {
        DeviceSink::with_backend(name, Box::<Cpal>::default())
    }

    fn with_backend(name: impl Into<String>, backend: Box<dyn Backend>) -> DeviceSink {
        DeviceSink {
            name: name.into(),
            backend,
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

    fn open_stream(&self, wanted: Format) -> Result<OpenStream, SinkError> {
        let format = self
            .backend
            .format(&self.name, wanted)
            .map_err(|e| self.open_error(e))?;
        let shared = Arc::new(Shared::new(format));
        let on_error = shared.on_error(&self.name, 0);
        let stream = self
            .backend
            .build(&self.name, format, shared.clone(), on_error)
            .map_err(|e| self.open_error(e))?;
        Ok(OpenStream {
            stream: Some(stream),
            running: false,
            shared,
            format,
            rebuilds: 0,
            retry_at: Instant::now(),
            last_error: String::new(),
        })
    }

    /// The writer's side of the stream's life, called from `write`:
    /// fail when the card is gone; build the stream again after a
    /// transient error; start it when an item is near, so the card only
    /// runs while something is about to air or airs.
    fn tend(&mut self) -> Result<(), SinkError> {
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        let sh = open.shared.clone();
        if let Some(e) = sh.error() {
            return Err(e);
        }
        let now = Instant::now();
        if let Some(why) = sh.take_transient() {
            // Errors of the stream being dropped are stale from now on.
            sh.generation.fetch_add(1, Ordering::AcqRel);
            open.stream = None;
            open.running = false;
            sh.take_transient();
            if open.rebuilds >= MAX_REBUILDS {
                return Err(SinkError::new(format!(
                    "{why}; the stream was built again {MAX_REBUILDS} times in this item and failed each time"
                )));
            }
            tracing::warn!("{why}; building the stream again");
            open.last_error = why;
            open.retry_at = now + BACKOFF * 2u32.pow(open.rebuilds);
            open.rebuilds += 1;
        }
        if open.stream.is_none() {
            if now < open.retry_at {
                return Ok(());
            }
            let generation = sh.generation.load(Ordering::Acquire);
            let built = self
                .backend
                .format(&self.name, open.format)
                .and_then(|f| {
                    if f == open.format {
                        Ok(f)
                    } else {
                        Err(format!("the card now takes {f}, not {}", open.format))
                    }
                })
                .and_then(|f| {
                    let on_error = sh.on_error(&self.name, generation);
                    self.backend.build(&self.name, f, sh.clone(), on_error)
                });
            match built {
                Ok(s) => open.stream = Some(s),
                Err(e) => {
                    let why = if open.last_error.is_empty() {
                        format!(
                            "sound card \"{}\" could not be opened again: {e}",
                            self.name
                        )
                    } else {
                        format!("{}; opening it again failed: {e}", open.last_error)
                    };
                    if open.rebuilds >= MAX_REBUILDS {
                        return Err(SinkError::new(why));
                    }
                    tracing::warn!("{why}; trying again");
                    open.retry_at = now + BACKOFF * 2u32.pow(open.rebuilds);
                    open.rebuilds += 1;
                    return Ok(());
                }
            }
        }
        let at = sh.start_at.load(Ordering::Relaxed);
        if !open.running && at != NO_ITEM && sh.since_epoch(now + RUN_AHEAD) >= at {
            if let Some(stream) = &open.stream {
                if let Err(e) = stream.play() {
                    *sh.transient.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(format!("sound card \"{}\" did not start: {e}", self.name));
                    return Ok(());
                }
                open.running = true;
            }
        }
        Ok(())
    }
}

/// The real card: cpal's default host.
#[derive(Default)]
struct Cpal {
    /// The configuration `format` chose, for the `build` that follows it
    /// (card name, the format it returned): choosing opens the card once
    /// more, and through ALSA's pulse plugin every open is a new
    /// connection to the sound server.
    chosen: Mutex<Option<(String, Format, cpal::SupportedStreamConfig)>>,
}

/// cpal's host, made once and kept: while one lives, cpal keeps ALSA's
/// configuration parsed (the last one dropped frees it, and the next open
/// parses every configuration file again). A change to the ALSA
/// configuration files is read at the next start of loa.
fn host() -> &'static cpal::Host {
    static HOST: std::sync::OnceLock<cpal::Host> = std::sync::OnceLock::new();
    HOST.get_or_init(cpal::default_host)
}

/// Which way a sound card's device carries sound.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Way {
    Output,
    Capture,
}

/// The device named `name`: `default`, or an ALSA name such as `hw:1,0`
/// (listed or not: a PCM from .asoundrc without a `hint` opens anyway).
pub(crate) fn find_device(name: &str, way: Way) -> Result<cpal::Device, String> {
    let host = host();
    let word = match way {
        Way::Output => "output",
        Way::Capture => "capture",
    };
    if name == "default" {
        let device = match way {
            Way::Output => host.default_output_device(),
            Way::Capture => host.default_input_device(),
        };
        return device.ok_or_else(|| format!("there is no default {word} device"));
    }
    let devices = match way {
        Way::Output => host.output_devices(),
        Way::Capture => host.input_devices(),
    };
    let listed = devices.ok().and_then(|mut all| {
        all.find(|d| {
            d.id().is_ok_and(|id| id.id() == name)
                || d.description().is_ok_and(|desc| desc.name() == name)
        })
    });
    listed
        .or_else(|| {
            let id = cpal::DeviceId::from_str(&format!("{}:{name}", host.id())).ok()?;
            host.device_by_id(&id)
        })
        .ok_or_else(|| match way {
            Way::Output => "no such output device".to_string(),
            Way::Capture => format!("no capture device `{name}` (see `arecord -L`)"),
        })
}

/// Capture from `device` (named `name`, for messages) at `config`, its
/// default: each callback's samples, interleaved, as f32 in -1..1, go to
/// `take` on cpal's thread. Cards that give f32, i16 or i32 samples; the
/// conversion reuses one buffer (nothing allocated per callback).
pub(crate) fn capture_stream(
    name: &str,
    device: &cpal::Device,
    config: &cpal::SupportedStreamConfig,
    mut take: impl FnMut(&[f32]) + Send + 'static,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, String> {
    fn converted<T: Copy>(
        mut take: impl FnMut(&[f32]),
        to_f32: fn(T) -> f32,
    ) -> impl FnMut(&[T], &cpal::InputCallbackInfo) {
        let mut buf = Vec::new();
        move |data: &[T], _: &cpal::InputCallbackInfo| {
            buf.clear();
            buf.extend(data.iter().map(|&s| to_f32(s)));
            take(&buf);
        }
    }
    let stream_config = config.config();
    let stream = match config.sample_format() {
        cpal::SampleFormat::F32 => device.build_input_stream(
            stream_config,
            move |data: &[f32], _: &cpal::InputCallbackInfo| take(data),
            on_error,
            None,
        ),
        cpal::SampleFormat::I16 => device.build_input_stream(
            stream_config,
            converted(take, |s: i16| f32::from(s) / 32768.0),
            on_error,
            None,
        ),
        cpal::SampleFormat::I32 => device.build_input_stream(
            stream_config,
            converted(take, |s: i32| s as f32 / 2_147_483_648.0),
            on_error,
            None,
        ),
        other => {
            return Err(format!(
                "capture device `{name}` offers {other:?} samples; loa reads f32, i16 or i32"
            ))
        }
    }
    .map_err(|e| format!("capture device `{name}`: {e}"))?;
    StreamTrait::play(&stream).map_err(|e| format!("capture device `{name}`: {e}"))?;
    Ok(stream)
}

impl Backend for Cpal {
    fn format(&self, name: &str, wanted: Format) -> Result<Format, String> {
        let device = find_device(name, Way::Output)?;
        let config = choose_config(&device, wanted).map_err(|e| e.to_string())?;
        let format = Format {
            rate: config.sample_rate(),
            channels: config.channels(),
        };
        *self.chosen.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((name.to_string(), format, config));
        Ok(format)
    }

    fn build(&self, name: &str, format: Format, shared: Arc<Shared>, on_error: ErrorFn) -> Built {
        let device = find_device(name, Way::Output)?;
        let chosen = self.chosen.lock().unwrap_or_else(|p| p.into_inner()).take();
        let config = match chosen {
            Some((n, f, config)) if n == name && f == format => config,
            _ => choose_config(&device, format).map_err(|e| e.to_string())?,
        };
        // `PERIOD` per callback when the card allows it, else its default.
        let period = (PERIOD.as_secs_f64() * f64::from(format.rate)) as u32;
        let fixed = match config.buffer_size() {
            cpal::SupportedBufferSize::Range { min, max } => period.clamp(*min, (*max).max(*min)),
            cpal::SupportedBufferSize::Unknown => period,
        };
        let mut stream_config = cpal::StreamConfig {
            channels: format.channels,
            sample_rate: format.rate,
            buffer_size: cpal::BufferSize::Fixed(fixed),
        };
        let on_error = Arc::new(Mutex::new(on_error));
        let build = |stream_config: cpal::StreamConfig| {
            let on_error = on_error.clone();
            let on_error = move |e: cpal::Error| {
                (on_error.lock().unwrap_or_else(|p| p.into_inner()))(e);
            };
            let open = match config.sample_format() {
                cpal::SampleFormat::F32 => output_stream::<f32>,
                cpal::SampleFormat::I16 => output_stream::<i16>,
                cpal::SampleFormat::I32 => output_stream::<i32>,
                cpal::SampleFormat::U8 => output_stream::<u8>,
                other => {
                    return Err(cpal::Error::with_message(
                        cpal::ErrorKind::UnsupportedConfig,
                        format!("unsupported sample format {other}"),
                    ))
                }
            };
            open(
                &device,
                stream_config,
                (shared.clone(), format),
                Box::new(on_error),
            )
        };
        let stream = match build(stream_config) {
            Ok(s) => s,
            Err(e) if e.kind() == cpal::ErrorKind::UnsupportedConfig => {
                tracing::debug!(
                    "sound card \"{name}\": {fixed} frames per callback refused ({e}); \
                     using the card's default"
                );
                stream_config.buffer_size = cpal::BufferSize::Default;
                build(stream_config).map_err(|e| e.to_string())?
            }
            Err(e) => return Err(e.to_string()),
        };
        Ok(Box::new(stream))
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

/// Open `device` with samples of type `T`, the card's own format.
fn output_stream<T: SizedSample + FromSample<f32>>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    (shared, format): (Arc<Shared>, Format),
    on_error: ErrorFn,
) -> Result<cpal::Stream, cpal::Error> {
    let timeout = Some(Duration::from_secs(3));
    device.build_output_stream(config, callback::<T>(shared, format), on_error, timeout)
}

/// cpal's callback around `Feed::fill`, with the card's latency as cpal
/// reports it (from this callback to the loudspeaker).
fn callback<T>(
    shared: Arc<Shared>,
    format: Format,
) -> impl FnMut(&mut [T], &cpal::OutputCallbackInfo) + Send + 'static
where
    T: SizedSample + FromSample<f32>,
{
    let mut feed = Feed::new(shared, format);
    let rate = f64::from(format.rate);
    let channels = format.channels as usize;
    move |out: &mut [T], info| {
        let ts = info.timestamp();
        let reported = ts
            .playback
            .checked_duration_since(ts.callback)
            .filter(|l| *l < MAX_LATENCY)
            .unwrap_or_default();
        // ALSA asks for a period when one of the buffer's two is free: the
        // other still plays first, so a card's true latency is at least a
        // period. Through ALSA's pulse plugin cpal reports less than that,
        // and PulseAudio's own latency, sized after the client's buffer,
        // comes on top: measured on its null sink, sound came out 1.65
        // periods after the callback (165 ms with 100 ms periods, 333 ms
        // with 200 ms). A report under a period is that under-report: count
        // 1.6 periods then (a few ms late rather than early).
        let one_period = Duration::from_secs_f64((out.len() / channels) as f64 / rate);
        let latency = if reported < one_period {
            one_period * 8 / 5
        } else {
            reported
        };
        let fed = feed.fill(out, latency);
        feed.pace(out.len() / channels, fed);
    }
}

/// What a callback carried.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fed {
    /// Some of the item.
    Samples,
    /// Nothing: the item is on air but the ring is dry.
    Dry,
    /// Silence around an item: before its start, after its end, between.
    Silence,
}

/// The callback's side: silence until the item's start instant, then
/// queued samples, then silence again when the ring is dry (cpal pre-fills
/// silence). Lock-free: atomics only, no waiting, no allocation.
struct Feed {
    shared: Arc<Shared>,
    channels: usize,
    rate: f64,
    /// The item counted, and its counts (published to `shared`). A stream
    /// built again mid-item goes on with the counts where they stand.
    item: u64,
    frames: u64,
    /// The first callback, and frames asked for since: see `pace`.
    since: Option<Instant>,
    requested: u64,
}

impl Feed {
    fn new(shared: Arc<Shared>, format: Format) -> Feed {
        let item = shared.counted_item.load(Ordering::Acquire);
        let frames = shared.frames.load(Ordering::Acquire);
        Feed {
            shared,
            channels: format.channels as usize,
            rate: f64::from(format.rate),
            item,
            frames,
            since: None,
            requested: 0,
        }
    }

    /// Fill `out`, whose first frame is heard `latency` from now.
    fn fill<T>(&mut self, out: &mut [T], latency: Duration) -> Fed
    where
        T: SizedSample + FromSample<f32>,
    {
        let (sh, ch) = (&*self.shared, self.channels);
        let now_item = sh.item.load(Ordering::Acquire);
        if now_item != self.item {
            (self.item, self.frames) = (now_item, 0);
            sh.frames.store(0, Ordering::Relaxed);
            sh.first_at.store(0, Ordering::Relaxed);
            sh.counted_item.store(self.item, Ordering::Release);
        }
        let available = sh.ring.available() / ch;
        let at = sh.start_at.load(Ordering::Acquire);
        if at == NO_ITEM || sh.item.load(Ordering::Acquire) != self.item {
            // Between items, or `begin` ran just now: the next call starts.
            return Fed::Silence;
        }
        let at = sh.epoch + Duration::from_nanos(at);
        let frames_out = out.len() / ch;
        let now = Instant::now();
        let heard = now + latency;
        let skip = if at > heard {
            let f = ((at - heard).as_secs_f64() * self.rate) as usize;
            if f >= frames_out {
                return Fed::Silence;
            }
            f
        } else {
            0
        };
        let want = frames_out - skip;
        let n = want.min(available);
        if n < want && self.frames > 0 && sh.more_coming.load(Ordering::Relaxed) {
            sh.underruns.fetch_add(1, Ordering::Relaxed);
        }
        if n == 0 {
            // Dry mid-item: the writer fell behind (or, on a device that
            // does not pace, decoding is all that bounds the item).
            return if self.frames > 0 && sh.more_coming.load(Ordering::Relaxed) {
                Fed::Dry
            } else {
                Fed::Silence
            };
        }
        if self.frames == 0 {
            let first =
                SystemTime::now() + latency + Duration::from_secs_f64(skip as f64 / self.rate);
            let ns = first.duration_since(UNIX_EPOCH).unwrap_or_default();
            sh.first_at.store(ns.as_nanos() as u64, Ordering::Relaxed);
        }
        sh.ring
            .pop_into(&mut out[skip * ch..(skip + n) * ch], T::from_sample);
        self.frames += n as u64;
        let tail = heard + Duration::from_secs_f64((skip + n) as f64 / self.rate);
        sh.tail_at.store(sh.since_epoch(tail), Ordering::Relaxed);
        sh.frames.store(self.frames, Ordering::Release);
        Fed::Samples
    }

    /// A device that does not pace (ALSA's `null`, a `type file` PCM)
    /// calls back as fast as it is fed: around an item, while the stream
    /// runs on silence, and mid-item whenever the ring is dry, that would
    /// spin a core. When the callbacks have asked for more than the card's
    /// buffer ahead of the wall clock, a silent callback sleeps the excess
    /// (at most a `PERIOD`), so silence goes out in real time, and a dry
    /// one sleeps `DRY_NAP`, so the item goes out as fast as it decodes
    /// without a spin. A real card never runs that far ahead, so it never
    /// sleeps here.
    fn pace(&mut self, frames: usize, fed: Fed) {
        let now = Instant::now();
        let since = *self.since.get_or_insert(now);
        self.requested += frames as u64;
        if fed == Fed::Samples {
            return;
        }
        let asked = Duration::from_secs_f64(self.requested as f64 / self.rate);
        let ahead = asked.saturating_sub(now - since);
        if ahead > PERIOD * 2 + UNPACED_SLACK {
            std::thread::sleep(match fed {
                Fed::Dry => DRY_NAP,
                _ => (ahead - PERIOD * 2).min(PERIOD),
            });
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
        if let Some(open) = &mut self.open {
            open.rebuilds = 0;
            let sh = &open.shared;
            let at = sh.since_epoch(at);
            sh.more_coming.store(true, Ordering::Relaxed);
            sh.start_at.store(at.min(NO_ITEM - 1), Ordering::Relaxed);
            sh.item.fetch_add(1, Ordering::Release);
        }
    }

    fn write(&mut self, samples: &[f32]) -> Result<usize, SinkError> {
        self.tend()?;
        let Some(open) = &self.open else {
            return Err(SinkError::new("sound card written before it was opened"));
        };
        let sh = &open.shared;
        let ch = open.format.channels as usize;
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
        self.tend()?;
        let Some(open) = &self.open else {
            return Ok(0);
        };
        Ok(open.shared.ring.push(samples, ch))
    }

    /// What the ring holds, and what the card holds of the item and has
    /// not played yet.
    fn pending(&self) -> Duration {
        self.open.as_ref().map_or(Duration::ZERO, |open| {
            let sh = &open.shared;
            let frames = sh.ring.len() / open.format.channels as usize;
            let queued = Duration::from_secs_f64(open.format.seconds(frames as u64));
            let in_card = if open.running {
                let tail = sh.epoch
                    + Duration::from_nanos(sh.tail_at.load(Ordering::Relaxed))
                    + TAIL_MARGIN;
                tail.saturating_duration_since(Instant::now())
            } else {
                Duration::ZERO
            };
            queued + in_card.min(MAX_LATENCY)
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
        let Some(open) = &mut self.open else {
            return Ok(());
        };
        let sh = open.shared.clone();
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
        // Nothing to air until the next item: stop the card's clock (its
        // callback would only write silence), or where it cannot pause,
        // drop the stream; the next item's `write` starts or builds it.
        // Not while the card still holds the item's last samples (an
        // abrupt stop): paused, it would air them before the next item.
        let tail =
            sh.epoch + Duration::from_nanos(sh.tail_at.load(Ordering::Relaxed)) + TAIL_MARGIN;
        if open.running && tail <= Instant::now() {
            open.running = false;
            if let Some(Err(e)) = open.stream.as_ref().map(|s| s.pause()) {
                tracing::debug!("sound card \"{}\": {e}; closing the stream", self.name);
                sh.generation.fetch_add(1, Ordering::AcqRel);
                open.stream = None;
                open.retry_at = Instant::now();
                open.last_error.clear();
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
mod tests;

/// A paced fake card behind the same `Backend` seam as cpal: a thread
/// calls the real `Feed` every 10 ms once the stream plays, and each
/// stream built fails, or not, as the test scripted.
#[cfg(test)]
mod fake_card;

#[cfg(test)]
mod recovery_tests;
