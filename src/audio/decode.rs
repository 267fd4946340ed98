//! Decoding one audio file into chunks of interleaved `f32`.
//!
//! Uses symphonia directly rather than `rodio::Decoder`: rodio's decoder is
//! an `Iterator<Item = f32>` consumed one sample at a time through the
//! mixer, while symphonia hands over a whole packet that one call converts
//! to interleaved `f32`. Same codecs (rodio 0.23 uses this very symphonia),
//! a fraction of the per-sample work. This module owns nothing but the file
//! it reads; it never touches the output.

use std::fs::File;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::sink::Format;

/// Consecutive undecodable packets tolerated before the file is declared
/// damaged. A player skips a glitch; it does not air minutes of noise.
const MAX_BAD_PACKETS: u32 = 20;

/// An open, probed file, ready to hand out its first chunk at once.
pub struct FileDecoder {
    reader: Box<dyn FormatReader>,
    decoder: Box<dyn symphonia::core::codecs::Decoder>,
    track: u32,
    format: Format,
    buf: Option<SampleBuffer<f32>>,
    /// Frames the container announces, when it does.
    pub announced_frames: Option<u64>,
    bad_packets: u32,
    /// Packets skipped because they did not decode (reported, not fatal).
    pub skipped_packets: u32,
}

impl FileDecoder {
    /// Open and probe `path`. The error says what is wrong with the file.
    pub fn open(path: &Path) -> Result<FileDecoder, String> {
        let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let probed = symphonia::default::get_probe()
            .format(
                &hint,
                mss,
                &FormatOptions {
                    enable_gapless: true,
                    ..Default::default()
                },
                &MetadataOptions::default(),
            )
            .map_err(|e| {
                format!(
                    "{} is not a playable audio file ({e}); re-encode it as MP3, WAV, FLAC, OGG or M4A",
                    path.display()
                )
            })?;
        let reader = probed.format;
        let track = reader
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| format!("{} has no audio track", path.display()))?;
        let params = &track.codec_params;
        let (rate, channels) = match (params.sample_rate, params.channels) {
            (Some(r), Some(c)) if r > 0 && c.count() > 0 => (r, c.count() as u16),
            // AAC in MP4 (phone recordings) often leaves the channels to the
            // decoder: learn them from the first packet that decodes.
            _ => learn_format(path, &hint).ok_or_else(|| {
                format!(
                    "{} does not say its sample rate or channels; re-encode it",
                    path.display()
                )
            })?,
        };
        let decoder = symphonia::default::get_codecs()
            .make(params, &DecoderOptions::default())
            .map_err(|e| format!("{}: cannot decode ({e}); re-encode it", path.display()))?;
        Ok(FileDecoder {
            track: track.id,
            announced_frames: params.n_frames,
            reader,
            decoder,
            format: Format { rate, channels },
            buf: None,
            bad_packets: 0,
            skipped_packets: 0,
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The next chunk of interleaved samples; `Ok(None)` at the end of the
    /// file. The slice stays valid until the next call.
    pub fn next_chunk(&mut self) -> Result<Option<&[f32]>, String> {
        loop {
            let packet = match self.reader.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(None)
                }
                Err(SymError::ResetRequired) => return Ok(None),
                Err(e) => return Err(format!("reading failed: {e}")),
            };
            if packet.track_id() != self.track {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                Err(SymError::DecodeError(e)) => {
                    self.bad_packets += 1;
                    self.skipped_packets += 1;
                    if self.bad_packets > MAX_BAD_PACKETS {
                        return Err(format!("damaged audio data ({e})"));
                    }
                    continue;
                }
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(None)
                }
                Err(e) => return Err(format!("decoding failed: {e}")),
            };
            self.bad_packets = 0;
            let spec = *decoded.spec();
            if spec.rate != self.format.rate
                || spec.channels.count() != self.format.channels as usize
            {
                return Err(format!(
                    "format changes in the middle of the file ({} to {} Hz); re-encode it",
                    self.format.rate, spec.rate
                ));
            }
            if decoded.frames() == 0 {
                continue;
            }
            let need = decoded.capacity() as u64;
            let fits = self
                .buf
                .as_ref()
                .is_some_and(|b| b.capacity() >= decoded.capacity() * spec.channels.count());
            if !fits {
                self.buf = Some(SampleBuffer::new(need, spec));
            }
            let buf = self.buf.as_mut().expect("just made");
            buf.copy_interleaved_ref(decoded);
            return Ok(Some(buf.samples()));
        }
    }
}

/// Rate and channels of the first packet of `path` that decodes, read
/// through a reader of its own so the caller's starts at the beginning.
fn learn_format(path: &Path, hint: &Hint) -> Option<(u32, u16)> {
    let file = File::open(path).ok()?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut reader = symphonia::default::get_probe()
        .format(
            hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .ok()?
        .format;
    let track = reader
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)?;
    let id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .ok()?;
    for _ in 0..MAX_BAD_PACKETS {
        let packet = reader.next_packet().ok()?;
        if packet.track_id() != id {
            continue;
        }
        if let Ok(d) = decoder.decode(&packet) {
            let spec = d.spec();
            if spec.rate > 0 && spec.channels.count() > 0 {
                return Some((spec.rate, spec.channels.count() as u16));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::testdata;

    fn total_frames(path: &Path) -> Result<u64, String> {
        let mut d = FileDecoder::open(path)?;
        let ch = d.format().channels as u64;
        let mut n = 0;
        while let Some(c) = d.next_chunk()? {
            n += c.len() as u64 / ch;
        }
        Ok(n)
    }

    #[test]
    fn decodes_whole_files() {
        let wav = total_frames(&testdata("tone1s.wav")).unwrap();
        assert_eq!(wav, 8000);
        let mp3 = total_frames(&testdata("tone5s.mp3")).unwrap();
        let secs = mp3 as f64 / 22050.0;
        assert!((secs - 5.0).abs() < 0.1, "{secs}");
    }

    #[test]
    fn m4a_without_channels_in_the_container_decodes() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/aac-lc-moov-end.m4a");
        let d = FileDecoder::open(&path).unwrap();
        assert_eq!((d.format().rate, d.format().channels), (44100, 1));
        let secs = total_frames(&path).unwrap() as f64 / 44100.0;
        assert!((secs - 2.0).abs() < 0.1, "{secs}");
    }

    #[test]
    fn truncated_mp3_decodes_a_prefix() {
        let n = total_frames(&testdata("truncated.mp3")).unwrap();
        let secs = n as f64 / 22050.0;
        assert!(secs > 1.0 && secs < 3.5, "{secs}");
    }

    #[test]
    fn random_bytes_are_refused() {
        let err = match FileDecoder::open(&testdata("random.mp3")) {
            Err(e) => e,
            Ok(mut d) => loop {
                match d.next_chunk() {
                    Err(e) => break e,
                    Ok(Some(_)) => continue,
                    Ok(None) => panic!("random bytes decoded to the end"),
                }
            },
        };
        assert!(
            err.contains("random.mp3") || err.contains("damaged"),
            "{err}"
        );
    }
}
