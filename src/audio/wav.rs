//! The `wav` output: a recorder of exactly what aired.
//!
//! Every item is appended to one 16-bit PCM WAV file, at the gain it aired
//! with. The header is rewritten every second of audio and at the end of
//! each item, so a crash leaves a playable file that is at most a second
//! short (the recorder gathers ~0.2 s before each write; the header is
//! repaired from the file's length when it is appended to again). When the file exists at start-up it is appended to (its own
//! format wins); later items of another format are converted by the
//! player. This module owns that file and nothing else.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::sink::{paced_sink_methods, Format, Pacer, Sink, SinkError};

/// Size of the header this module writes: RIFF, fmt (16 bytes), data.
const HEADER_LEN: u64 = 44;

pub struct WavSink {
    path: PathBuf,
    pacer: Pacer,
    file: Option<Open>,
    bytes: Vec<u8>,
}

struct Open {
    file: File,
    format: Format,
    /// Offset of the data chunk's payload.
    data_at: u64,
    /// Bytes of sample data in the file.
    data_len: u64,
    /// `data_len` when the header was last written.
    header_len: u64,
}

impl WavSink {
    /// A recorder to `path`; `realtime` paces it like a sound card, `false`
    /// writes as fast as decoding goes (tests, benchmarks).
    pub fn new(path: impl Into<PathBuf>, realtime: bool) -> WavSink {
        WavSink {
            path: path.into(),
            pacer: Pacer::new(realtime),
            file: None,
            bytes: Vec::new(),
        }
    }

    fn error(&self, what: &str, e: std::io::Error) -> SinkError {
        SinkError::new(format!(
            "WAV output {}: {what}: {e}; check that its directory exists and is writable, or change `[output] path`",
            self.path.display()
        ))
    }
}

/// Bytes gathered before a write to the file.
const FLUSH_BYTES: usize = 32 * 1024;

impl WavSink {
    /// Write the gathered samples, and the header when it is a second or
    /// more behind, so a crash leaves a playable file.
    fn flush(&mut self) -> Result<(), SinkError> {
        let Some(open) = self.file.as_mut() else {
            return Ok(());
        };
        if !self.bytes.is_empty() {
            let res = open
                .file
                .write_all_at(&self.bytes, open.data_at + open.data_len);
            if let Err(e) = res {
                return Err(self.error("cannot write", e));
            }
            open.data_len += self.bytes.len() as u64;
            self.bytes.clear();
        }
        let second = u64::from(open.format.rate) * u64::from(open.format.channels) * 2;
        if open.data_len - open.header_len >= second {
            if let Err(e) = open.update_sizes() {
                return Err(self.error("cannot update the header", e));
            }
        }
        Ok(())
    }
}

impl Open {
    fn write_header(&mut self) -> std::io::Result<()> {
        let f = self.format;
        let block = f.channels * 2;
        let mut h = Vec::with_capacity(HEADER_LEN as usize);
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&riff_size(self.data_at, self.data_len).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes()); // PCM
        h.extend_from_slice(&f.channels.to_le_bytes());
        h.extend_from_slice(&f.rate.to_le_bytes());
        h.extend_from_slice(&(f.rate * u32::from(block)).to_le_bytes());
        h.extend_from_slice(&block.to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&clamp32(self.data_len).to_le_bytes());
        self.file.write_all_at(&h, 0)?;
        self.header_len = self.data_len;
        Ok(())
    }

    /// Only the two sizes, for an existing file whose layout we keep.
    fn update_sizes(&mut self) -> std::io::Result<()> {
        self.file
            .write_all_at(&riff_size(self.data_at, self.data_len).to_le_bytes(), 4)?;
        self.file
            .write_all_at(&clamp32(self.data_len).to_le_bytes(), self.data_at - 4)?;
        self.header_len = self.data_len;
        Ok(())
    }
}

fn riff_size(data_at: u64, data_len: u64) -> u32 {
    clamp32(data_at - 8 + data_len)
}

fn clamp32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Read an existing WAV written by us (or any 16-bit PCM WAV whose data
/// chunk comes last) to append to it. Trailing bytes past the recorded
/// size (a crash between header updates) are kept: they aired.
fn parse_existing(file: &mut File) -> Result<Option<(Format, u64, u64)>, String> {
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len == 0 {
        return Ok(None);
    }
    let mut head = vec![0u8; len.min(1 << 16) as usize];
    file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    file.read_exact(&mut head).map_err(|e| e.to_string())?;
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err("it is not a WAV file".into());
    }
    let mut at = 12usize;
    let mut format = None;
    while at + 8 <= head.len() {
        let id = &head[at..at + 4];
        let size = u32::from_le_bytes(head[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = at + 8;
        if id == b"fmt " && body + 16 <= head.len() {
            let tag = u16::from_le_bytes([head[body], head[body + 1]]);
            let channels = u16::from_le_bytes([head[body + 2], head[body + 3]]);
            let rate = u32::from_le_bytes(head[body + 4..body + 8].try_into().unwrap());
            let bits = u16::from_le_bytes([head[body + 14], head[body + 15]]);
            if tag != 1 || bits != 16 || channels == 0 || rate == 0 {
                return Err("it is not 16-bit PCM".into());
            }
            format = Some(Format { rate, channels });
        } else if id == b"data" {
            let format = format.ok_or("its data comes before its format")?;
            let block = u64::from(format.channels) * 2;
            let data_len = (len - body as u64) / block * block;
            return Ok(Some((format, body as u64, data_len)));
        }
        at = body + size + (size & 1);
    }
    Err("it has no data chunk".into())
}

impl Sink for WavSink {
    fn open(&mut self, wanted: Format) -> Result<Format, SinkError> {
        if let Some(open) = &self.file {
            return Ok(open.format);
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
            .map_err(|e| self.error("cannot open", e))?;
        let existing = parse_existing(&mut file).map_err(|why| {
            SinkError::new(format!(
                "WAV output {} already exists and cannot be appended to: {why}; move it away or change `[output] path`",
                self.path.display()
            ))
        })?;
        let mut open = match existing {
            Some((format, data_at, data_len)) => Open {
                file,
                format,
                data_at,
                data_len,
                header_len: data_len,
            },
            None => Open {
                file,
                format: wanted,
                data_at: HEADER_LEN,
                data_len: 0,
                header_len: 0,
            },
        };
        let fresh = open.data_at == HEADER_LEN && open.data_len == 0;
        if fresh {
            open.write_header()
        } else {
            open.update_sizes()
        }
        .map_err(|e| self.error("cannot write the header", e))?;
        let format = open.format;
        self.file = Some(open);
        Ok(format)
    }

    fn begin(&mut self, at: Instant) {
        let rate = self.file.as_ref().map_or(1, |o| o.format.rate);
        self.pacer.begin(at, rate);
    }

    fn write(&mut self, samples: &[f32]) -> Result<usize, SinkError> {
        let Some(open) = self.file.as_mut() else {
            return Err(SinkError::new("WAV output written before it was opened"));
        };
        if !self.pacer.ready() {
            return Ok(0);
        }
        let channels = open.format.channels as usize;
        let samples = &samples[..samples.len() / channels * channels];
        let at = self.bytes.len();
        self.bytes.resize(at + samples.len() * 2, 0);
        for (b, &s) in self.bytes[at..].chunks_exact_mut(2).zip(samples) {
            b.copy_from_slice(&((s * 32767.0) as i16).to_le_bytes());
        }
        self.pacer.handed((samples.len() / channels) as u64);
        // One write per ~0.2 s of audio rather than per packet: system
        // calls were a fifth of the CPU; the header update flushes too.
        if self.bytes.len() >= FLUSH_BYTES {
            self.flush()?;
        }
        Ok(samples.len())
    }

    paced_sink_methods!();

    fn end(&mut self) -> Result<(), SinkError> {
        self.flush()?;
        if let Some(open) = self.file.as_mut() {
            let res = open.update_sizes().and_then(|_| open.file.flush());
            if let Err(e) = res {
                return Err(self.error("cannot update the header", e));
            }
        }
        Ok(())
    }

    fn close(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!("{e}");
        }
        if let Some(mut open) = self.file.take() {
            if let Err(e) = open.update_sizes().and_then(|_| open.file.sync_data()) {
                tracing::warn!("WAV output {}: closing: {e}", self.path.display());
            }
        }
    }

    fn is_open(&self) -> bool {
        self.file.is_some()
    }
}

impl Drop for WavSink {
    fn drop(&mut self) {
        self.close();
    }
}

/// Read back a WAV written by this module: its format and frame count.
/// Used by tests and by anyone checking a recording.
pub fn read_info(path: &Path) -> Result<(Format, u64), String> {
    let mut file = File::open(path).map_err(|e| e.to_string())?;
    let (format, _, data_len) = parse_existing(&mut file)?.ok_or("empty file")?;
    Ok((format, data_len / (u64::from(format.channels) * 2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONO: Format = Format {
        rate: 8000,
        channels: 1,
    };

    /// Read `path` with hound rather than with this module's parser (which
    /// takes the length from the file's size, not from the header): the
    /// format, and the samples the header's data size covers, after checking
    /// that the RIFF and data sizes both agree with the file.
    fn read_independently(path: &Path) -> (Format, Vec<i16>) {
        let bytes = std::fs::read(path).unwrap();
        let riff = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
        assert_eq!(riff as usize, bytes.len() - 8, "RIFF size in the header");
        let reader = hound::WavReader::open(path).unwrap();
        let spec = reader.spec();
        assert_eq!(spec.sample_format, hound::SampleFormat::Int);
        assert_eq!(spec.bits_per_sample, 16);
        // Our data chunk ends the file, after a 44-byte header.
        assert_eq!(
            HEADER_LEN as usize + reader.len() as usize * 2,
            bytes.len(),
            "data size in the header"
        );
        let format = Format {
            rate: spec.sample_rate,
            channels: spec.channels,
        };
        let samples = reader.into_samples::<i16>().map(Result::unwrap).collect();
        (format, samples)
    }

    /// One item: `n` samples of `value`, written in packets of at most 4000.
    fn item(sink: &mut WavSink, n: usize, value: f32) {
        sink.begin(Instant::now());
        let mut left = n;
        while left > 0 {
            let k = left.min(4000);
            assert_eq!(sink.write(&vec![value; k]).unwrap(), k);
            left -= k;
        }
        sink.end().unwrap();
    }

    #[test]
    fn header_is_valid_after_each_item_and_items_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aired.wav");
        let mut sink = WavSink::new(&path, false);
        assert_eq!(sink.open(MONO).unwrap(), MONO);
        item(&mut sink, 800, 0.5);
        let (format, samples) = read_independently(&path);
        assert_eq!(format, MONO);
        assert_eq!(samples, vec![16383; 800]);
        // Longer than a second and than one write: the header is also
        // updated while the item airs, and must end up right.
        item(&mut sink, 20_000, -0.25);
        let (_, samples) = read_independently(&path);
        assert_eq!(samples.len(), 20_800);
        assert_eq!(samples[800..], vec![-8191; 20_000]);
        sink.close();

        // A new sink (a restart) appends, keeping the file's format.
        let mut sink = WavSink::new(&path, false);
        let stereo = Format {
            rate: 44100,
            channels: 2,
        };
        assert_eq!(sink.open(stereo).unwrap(), MONO);
        item(&mut sink, 400, 0.25);
        item(&mut sink, 9000, 0.5);
        let (format, samples) = read_independently(&path);
        assert_eq!(format, MONO);
        assert_eq!(samples.len(), 30_200);
        assert_eq!(samples[..800], vec![16383; 800]);
        assert_eq!(samples[20_800..21_200], vec![8191; 400]);
        assert_eq!(samples[21_200..], vec![16383; 9000]);
        // The module's own reader agrees.
        assert_eq!(read_info(&path).unwrap(), (MONO, 30_200));
    }

    #[test]
    fn refuses_to_append_to_something_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.wav");
        std::fs::write(&path, "not audio").unwrap();
        let err = WavSink::new(&path, false).open(MONO).unwrap_err();
        assert!(err.message.contains("not a WAV file"), "{err}");
        assert!(err.message.contains("[output] path"), "{err}");
    }
}
