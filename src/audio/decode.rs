//! Decoding one audio file into chunks of interleaved `f32`.
//!
//! Uses symphonia directly rather than `rodio::Decoder`: rodio's decoder is
//! an `Iterator<Item = f32>` consumed one sample at a time through the
//! mixer, while symphonia hands over a whole packet that one call converts
//! to interleaved `f32`. Files are opened through [`crate::media`], as the
//! probe opens them. This module owns nothing but the file it reads; it
//! never touches the output.
//!
//! A file can change after it was probed (overwritten, half-copied), and a
//! malformed one can make symphonia panic. Every read is guarded: a panic
//! becomes an error that fails the item, and the thread reading goes on.

use std::fs::File;
use std::path::{Path, PathBuf};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{Decoder, CODEC_TYPE_AAC};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatReader, Track};

use super::sink::Format;
use crate::media;

/// Consecutive undecodable packets tolerated before the file is declared
/// damaged. A player skips a glitch; it does not air minutes of noise.
const MAX_BAD_PACKETS: u32 = 20;

/// An open, probed file, ready to hand out its first chunk at once.
pub struct FileDecoder {
    path: PathBuf,
    reader: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track: u32,
    format: Format,
    buf: Option<SampleBuffer<f32>>,
    /// Frames the container announces, when it does.
    pub announced_frames: Option<u64>,
    bad_packets: u32,
    /// Packets skipped because they did not decode (reported, not fatal).
    pub skipped_packets: u32,
    /// symphonia panicked on this file: its reader and decoder may be
    /// half-updated, so they are never used again.
    panicked: bool,
}

impl FileDecoder {
    /// Open and probe `path`. The error says what is wrong with the file.
    pub fn open(path: &Path) -> Result<FileDecoder, String> {
        media::guarded(|| Self::open_unguarded(path)).unwrap_or_else(|media::Panicked| {
            Err(format!(
                "{} is malformed: the audio library failed while reading its headers; \
                 re-encode it as MP3",
                path.display()
            ))
        })
    }

    fn open_unguarded(path: &Path) -> Result<FileDecoder, String> {
        let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let reader = media::open(file, path).map_err(|e| {
            format!(
                "{} is not a playable audio file ({e}); re-encode it as MP3, WAV, FLAC, OGG or M4A",
                path.display()
            )
        })?;
        Self::from_reader(reader, path, || learn_format(path))
    }

    /// Open a stream read as it arrives (a relay), named `name` in errors;
    /// `ext` hints at its format. Blocks until its headers have arrived.
    pub fn open_stream(
        stream: Box<dyn std::io::Read + Send + Sync>,
        ext: Option<&str>,
        name: &str,
    ) -> Result<FileDecoder, String> {
        let path = Path::new(name);
        media::guarded(|| {
            let reader = media::open_stream(stream, ext)
                .map_err(|e| format!("{name}: not an audio stream loa can play ({e})"))?;
            // A stream cannot be read twice to learn its format.
            Self::from_reader(reader, path, || None)
        })
        .unwrap_or_else(|media::Panicked| {
            Err(format!(
                "{name}: the audio library failed while reading the stream's headers"
            ))
        })
    }

    fn from_reader(
        reader: Box<dyn FormatReader>,
        path: &Path,
        learn: impl FnOnce() -> Option<(u32, u16)>,
    ) -> Result<FileDecoder, String> {
        let track = media::audio_track(&*reader)
            .ok_or_else(|| format!("{} has no audio track", path.display()))?;
        let params = &track.codec_params;
        let stated = match (params.sample_rate, params.channels) {
            (Some(r), Some(c)) if r > 0 && c.count() > 0 => Some((r, c.count() as u16)),
            _ => None,
        };
        // AAC: HE-AAC decodes at twice the rate its header may state
        // (implicit SBR), in stereo from a mono core (PS); and AAC in MP4
        // (phone recordings) often leaves the channels to the decoder. Learn
        // them from the first packet that decodes (a stream, which cannot be
        // read twice, keeps what its header says).
        let known = if params.codec == CODEC_TYPE_AAC {
            learn().or(stated)
        } else {
            stated.or_else(learn)
        };
        let (rate, channels) = known.ok_or_else(|| {
            format!(
                "{} does not say its sample rate or channels; re-encode it",
                path.display()
            )
        })?;
        let decoder = media::decoder(params)
            .map_err(|e| format!("{}: cannot decode ({e}); re-encode it", path.display()))?;
        Ok(FileDecoder {
            path: path.to_path_buf(),
            track: track.id,
            announced_frames: params.n_frames,
            reader,
            decoder,
            format: Format { rate, channels },
            buf: None,
            bad_packets: 0,
            skipped_packets: 0,
            panicked: false,
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The next chunk of interleaved samples; `Ok(None)` at the end of the
    /// file. The slice stays valid until the next call. After an error the
    /// file is done with: callers stop there.
    pub fn next_chunk(&mut self) -> Result<Option<&[f32]>, String> {
        if self.panicked {
            return Err(self.panic_error());
        }
        let more = media::guarded(|| self.decode_next()).unwrap_or_else(|media::Panicked| {
            self.panicked = true;
            Err(self.panic_error())
        })?;
        Ok(more.then(|| self.buf.as_ref().expect("decode_next filled it").samples()))
    }

    fn panic_error(&self) -> String {
        format!(
            "{}: the audio library failed while decoding it (the file is damaged, or was \
             changed after it was checked); replace it and run `loa check`",
            self.path.display()
        )
    }

    /// Decode the next packet into `self.buf`; `false` at the end of the
    /// file.
    fn decode_next(&mut self) -> Result<bool, String> {
        loop {
            let packet = match self.reader.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(false)
                }
                Err(SymError::ResetRequired) => return Ok(false),
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
                    return Ok(false)
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
            return Ok(true);
        }
    }
}

/// Rate and channels of the first packet of `path` that decodes, read
/// through a reader of its own so the caller's starts at the beginning.
/// Runs inside the caller's guard.
fn learn_format(path: &Path) -> Option<(u32, u16)> {
    let mut reader = media::open(File::open(path).ok()?, path).ok()?;
    let Track {
        id, codec_params, ..
    } = media::audio_track(&*reader)?;
    let mut decoder = media::decoder(&codec_params).ok()?;
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
    use crate::media::faults::{copy_with_fault, Fault};

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
    fn he_aac_decodes_at_full_bandwidth() {
        // Pink noise and a sweep, HE-AAC from FDK's encoder. Its AAC-LC
        // core stops at 11 kHz; SBR rebuilds the band above.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/he-aac.aac");
        let mut d = FileDecoder::open(&path).unwrap();
        let Format { rate, channels } = d.format();
        assert_eq!((rate, channels), (44100, 2));
        let mut left = Vec::new();
        while let Some(c) = d.next_chunk().unwrap() {
            left.extend(c.iter().step_by(2).map(|&s| f64::from(s)));
        }
        // Share of the energy above 12 kHz, over 2048-sample blocks (a
        // plain DFT of the upper bins).
        const N: usize = 2048;
        let (cos, sin): (Vec<f64>, Vec<f64>) = (0..N)
            .map(|i| {
                let a = 2.0 * std::f64::consts::PI * i as f64 / N as f64;
                (a.cos(), a.sin())
            })
            .unzip();
        let first_bin = 12_000 * N / rate as usize;
        let (mut high, mut all) = (0.0, 0.0);
        for block in left.chunks_exact(N).skip(4).take(8) {
            all += block.iter().map(|x| x * x).sum::<f64>() * N as f64 / 2.0;
            for k in first_bin..N / 2 {
                let (mut re, mut im) = (0.0, 0.0);
                for (n, x) in block.iter().enumerate() {
                    re += x * cos[k * n % N];
                    im += x * sin[k * n % N];
                }
                high += re * re + im * im;
            }
        }
        // Measured: 0.07% (the sweep below 1 kHz carries most of it). The
        // AAC-LC core alone ends at 11 kHz (half its 22050 Hz rate).
        let share = high / all;
        assert!(
            share > 2e-4,
            "{:.4}% of the energy above 12 kHz",
            share * 100.0
        );
    }

    #[test]
    fn truncated_mp3_decodes_a_prefix() {
        let n = total_frames(&testdata("truncated.mp3")).unwrap();
        let secs = n as f64 / 22050.0;
        assert!(secs > 1.0 && secs < 3.5, "{secs}");
    }

    #[test]
    fn a_panic_while_decoding_is_an_error_not_a_dead_thread() {
        let src = testdata("tone5s.mp3");
        let (_dir, path) = copy_with_fault(&src, "changed.mp3", Fault::PanicAfterPackets(10));
        let mut d = FileDecoder::open(&path).unwrap();
        let err = loop {
            match d.next_chunk() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("decoded to the end through an injected panic"),
                Err(e) => break e,
            }
        };
        assert!(
            err.contains("changed.mp3") && err.contains("failed while decoding"),
            "{err}"
        );
        // The reader is never touched again: the same error, no new panic.
        assert_eq!(d.next_chunk().unwrap_err(), err);
    }

    #[test]
    fn a_panic_while_opening_is_an_error() {
        // No channels in the container: opening decodes a first packet.
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/aac-lc-moov-end.m4a");
        let (_dir, path) = copy_with_fault(&fixture, "phone.m4a", Fault::PanicAfterPackets(0));
        let err = FileDecoder::open(&path)
            .err()
            .expect("opened through a panic");
        assert!(
            err.contains("phone.m4a") && err.contains("malformed"),
            "{err}"
        );
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
