//! Playout: airing one audio file at a time on the loudspeaker line.
//!
//! This module owns the output (sound card, WAV recorder or null sink) and
//! the thread that feeds it. It plays what it is told, when it is told,
//! and reports honestly what aired; it must not decide *what* airs or
//! *when* (that is the engine's), and it never runs on the tokio runtime.
//!
//! Layout, after librespot's `audio_backend`:
//! - `sink`: the `Sink` trait every output implements, and pacing;
//! - `device`, `wav`, `null`, `fake`: one backend each (`fake`, for tests,
//!   only in test builds and with the `testing` feature);
//! - `decode`: symphonia, packet by packet, to interleaved `f32`;
//! - `ring`: the lock-free queue between the player thread and the sound
//!   card's real-time callback;
//! - `convert`: gain, fades, and format conversion when an open output
//!   cannot take a file's own format;
//! - `player`: the audio thread, its commands and its events;
//! - `loudness`: each file's EBU R128 level, measured once and cached, and
//!   the gain that airs it at the station's target.
//! - `relay`: relays (tiếp âm), a live stream or line-in aired for a fixed
//!   duration, with reconnection, fallback and a slow automatic gain.
//!
//! ```no_run
//! # fn demo(station: &loa::config::Station) -> anyhow::Result<()> {
//! use std::time::{Duration, Instant};
//! let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
//! let player = loa::audio::spawn(&station.output, &station.data_dir, tx)?;
//! let id = player.prepare("/srv/loa/audio/tin-sang.mp3", Duration::from_secs(95));
//! player.start_at(id, Instant::now() + Duration::from_secs(1));
//! # Ok(()) }
//! ```

mod convert;
mod decode;
mod device;
#[cfg(test)]
mod fake;
pub mod loudness;
mod null;
mod player;
pub mod relay;
mod ring;
mod sink;
mod wav;

pub use device::DeviceSink;
pub(crate) use device::{capture_stream, find_device, Way};
#[cfg(test)]
pub use fake::{FakeFailure, FakeSink, FakeStats};
pub use null::NullSink;
pub use player::{Event, Leveling, Outcome, OutputState, PlayId, Player, PlayerOptions, MAX_FADE};
pub use sink::{Delivery, Format, Sink, SinkError};
pub use wav::{read_info as read_wav_info, WavSink};

use crate::config::{Output, OutputKind, Pace};

/// The sink `[output]` describes. Nothing is opened yet.
pub fn sink_for(output: &Output) -> Box<dyn Sink> {
    match &output.kind {
        OutputKind::Device { device } => Box::new(DeviceSink::new(device.clone())),
        OutputKind::Wav { path, pace } => Box::new(WavSink::new(path, *pace == Pace::Realtime)),
        OutputKind::Null => Box::new(NullSink::new(true)),
    }
}

/// Start the audio thread for `[output]`, with its volume and loudness
/// target (levels cached in `data_dir`).
pub fn spawn(
    output: &Output,
    data_dir: &std::path::Path,
    events: tokio::sync::mpsc::UnboundedSender<Event>,
) -> std::io::Result<Player> {
    spawn_wrapped(output, data_dir, events, |sink| sink)
}

/// `spawn`, the output wrapped by `wrap` (the line monitor's tap, which
/// sees every sample the output takes).
pub fn spawn_wrapped(
    output: &Output,
    data_dir: &std::path::Path,
    events: tokio::sync::mpsc::UnboundedSender<Event>,
    wrap: impl FnOnce(Box<dyn Sink>) -> Box<dyn Sink>,
) -> std::io::Result<Player> {
    let options = PlayerOptions {
        volume: output.volume,
        leveling: output.loudness_lufs.map(|target| Leveling {
            target_lufs: f64::from(target),
            cache: loudness::cache(data_dir),
        }),
        ..PlayerOptions::default()
    };
    Player::spawn(wrap(sink_for(output)), options, events)
}

/// Try the output once (open, then release), for start-up and `loa check`:
/// a missing sound card is reported before the first bulletin is due.
pub fn check(output: &Output) -> Result<Format, SinkError> {
    if let OutputKind::Wav { path, .. } = &output.kind {
        // Opening would create the file; check that it could be.
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        if !dir.is_dir() {
            return Err(SinkError::new(format!(
                "WAV output {}: directory {} does not exist; create it or change `[output] path`",
                path.display(),
                dir.display()
            )));
        }
        if !path.exists() {
            return Ok(Format {
                rate: 44100,
                channels: 2,
            });
        }
    }
    let mut sink = sink_for(output);
    let format = sink.open(Format {
        rate: 44100,
        channels: 2,
    })?;
    sink.close();
    Ok(format)
}

/// A file of `src/audio/testdata/`.
#[cfg(test)]
pub(crate) fn testdata(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/audio/testdata")
        .join(name)
}
