//! What probing an audio file found: plain data that a bulletin carries.
//! The `probe` module makes it; it lives here so that the station
//! description needs nothing above it.

/// What probing an audio file found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AudioInfo {
    /// Container or format, e.g. `mp3`, `m4a`, `aac` (ADTS), `flac`, `ogg`,
    /// `wav`.
    pub format: String,
    /// Codec, e.g. `mp3`, `aac`, `flac`, `vorbis`, `pcm_s16le`.
    pub codec: String,
    pub channels: u16,
    /// Samples per second per channel, as the decoder outputs them (what the
    /// sound card will be fed), not as the container claims.
    pub sample_rate: u32,
    /// Duration in seconds: what will play, after encoder delay and padding
    /// are trimmed (playback is gapless).
    pub seconds: f64,
    /// Average bit rate over the whole file (tags and cover art included),
    /// in kbit/s; `None` when the duration is zero.
    pub bitrate_kbps: Option<u32>,
}

impl AudioInfo {
    /// A plausible mono MP3 of zero seconds, for tests that build stations
    /// in code and only care about durations.
    pub fn test_default() -> AudioInfo {
        AudioInfo {
            format: "mp3".into(),
            codec: "mp3".into(),
            channels: 1,
            sample_rate: 22050,
            seconds: 0.0,
            bitrate_kbps: None,
        }
    }
}
