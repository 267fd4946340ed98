//! Probing audio files: what they are and whether they will play right.
//! (Stub: the audio work fills this in.)

use std::path::Path;

/// What probing an audio file found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AudioInfo {
    /// Container or format, e.g. `mp3`, `m4a`, `flac`, `ogg`, `wav`.
    pub format: String,
    /// Codec, e.g. `mp3`, `aac`, `flac`, `vorbis`, `pcm_s16le`.
    pub codec: String,
    pub channels: u16,
    pub sample_rate: u32,
    /// Duration in seconds.
    pub seconds: f64,
}

/// Why a file will not play right. `Display` says what and what to do.
#[derive(Debug)]
pub struct ProbeError {
    pub message: String,
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProbeError {}

pub fn probe(_path: &Path) -> Result<AudioInfo, ProbeError> {
    Err(ProbeError {
        message: "not implemented".into(),
    })
}
