//! Probing audio files: what they are and whether they will play right.
//!
//! `loa check` and the station loader call [`probe`] on every bulletin file
//! before anything goes on air, so a bad file is found at the desk, not in
//! front of the commune. The probe uses the same symphonia 0.5 demuxers and
//! decoders, with the same options, that rodio 0.23 plays with: a file that
//! probes clean will play, and one that would play wrongly is refused with a
//! message that says what is wrong and the command that fixes it.
//!
//! Failures it catches, and why each matters on air:
//! - not audio at all (empty, zero-filled, random bytes, text named `.mp3`);
//! - Opus, and WebM/Matroska that usually carries it (voice notes from chat
//!   apps): symphonia 0.5 has no Opus decoder;
//! - HE-AAC and HE-AACv2 (AAC with SBR/PS), common in phone recordings:
//!   symphonia decodes only the AAC-LC core at half the output rate, so the
//!   bulletin would air muffled (and mono, for v2). Checked with symphonia
//!   0.5.5: the speed stays right, because the decoder reports the core's
//!   rate; a player that trusted the container's rate would play it at
//!   double speed;
//! - truncated files, whose header promises more than the bytes hold: they
//!   play their prefix without an error, so the bulletin would stop mid
//!   sentence and the ledger would credit airtime that never aired;
//! - files that decode to nothing, and absurd parameters.
//!
//! Cost: no full decode. Duration comes from the container (frame count and
//! time base); MP3 and ADTS, whose headers only estimate it, are demuxed
//! (packet headers walked, nothing decoded). Only the first few packets are
//! decoded, to prove the codec really accepts the stream, and the last second
//! is read to prove the file is whole.
//!
//! This module owns reading audio files for inspection only. It must not
//! touch the sound card, the schedule or the ledger, and never writes files.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use symphonia::core::codecs::{
    CodecParameters, CodecType, DecoderOptions, CODEC_TYPE_AAC, CODEC_TYPE_ADPCM_IMA_WAV,
    CODEC_TYPE_ADPCM_MS, CODEC_TYPE_ALAC, CODEC_TYPE_MP1, CODEC_TYPE_MP2, CODEC_TYPE_MP3,
    CODEC_TYPE_NULL, CODEC_TYPE_OPUS, CODEC_TYPE_SPEEX, CODEC_TYPE_WAVPACK,
};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use symphonia::core::units::TimeBase;

/// What probing an audio file found. Defined with the station description,
/// whose bulletins carry it; named here too, where it is made.
pub use crate::config::AudioInfo;

/// What kind of problem a [`ProbeError`] is, for callers that react
/// differently (e.g. the upload API answering 415 rather than 422).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ProbeErrorKind {
    /// The file could not be opened or read.
    Unreadable,
    /// Zero bytes long.
    Empty,
    /// Not a recognised audio file (zeros, random bytes, text, ...).
    NotAudio,
    /// A recognised container or codec that the player cannot decode
    /// (Opus, WebM, MP2, ALAC, ...).
    Unsupported,
    /// AAC with SBR or PS (HE-AAC v1/v2): would air wrongly.
    HeAac,
    /// The header promises more audio than the file holds.
    Truncated,
    /// The file holds no audio frames.
    NoAudio,
    /// The stream does not decode, or its parameters make no sense.
    Corrupt,
}

/// Why a file will not play right. `Display` says what and what to do.
///
/// `message` names the file and says what is wrong; `hint` says what to do
/// (usually an `ffmpeg` command). A loader that builds a `Diagnostic` should
/// put them in its `message` and `hint` fields.
#[derive(Debug, Clone)]
pub struct ProbeError {
    pub kind: ProbeErrorKind,
    pub message: String,
    pub hint: String,
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.message, self.hint)
    }
}

impl std::error::Error for ProbeError {}

/// How many packets are decoded to prove the stream decodes. rodio skips
/// packets that fail to decode, so a few bad ones are tolerated, not all.
const DECODE_PACKETS: usize = 8;
/// How many leading AAC packets are inspected for SBR data.
const SBR_SCAN_PACKETS: usize = 16;
/// How much of the end is demuxed to prove the file is whole.
const TAIL_SECONDS: f64 = 1.0;
/// Missing audio tolerated before a file counts as truncated: encoders round
/// the last frame, containers round durations.
const TRUNCATION_TOLERANCE_SECONDS: f64 = 0.2;
/// A bulletin or programme longer than this is a corrupt header, not audio.
const MAX_SECONDS: f64 = 24.0 * 3600.0;

/// Probe `path`: say what it is and prove it will play right, or say why not.
pub fn probe(path: &Path) -> Result<AudioInfo, ProbeError> {
    let p = Probe { path };
    // symphonia is fed whatever operators upload; a demuxer panic on a
    // malformed header must become a refusal, not kill `loa check` or the
    // daemon.
    match catch_unwind(AssertUnwindSafe(|| p.run())) {
        Ok(result) => result,
        Err(_) => Err(p.err(
            ProbeErrorKind::Corrupt,
            "is malformed: the audio library failed while reading its headers.",
            p.reencode_hint(),
        )),
    }
}

struct Probe<'a> {
    path: &'a Path,
}

/// What the first bytes of a file say it is, before symphonia looks.
enum Sniffed {
    Zeros,
    Text,
    WebM,
    Amr,
    Asf,
    Other,
}

impl Probe<'_> {
    fn err(&self, kind: ProbeErrorKind, what: &str, hint: String) -> ProbeError {
        ProbeError {
            kind,
            message: format!("audio file {}: {what}", self.path.display()),
            hint,
        }
    }

    /// The command that turns anything ffmpeg reads into a mono MP3 that
    /// plays right: mono because loudspeaker lines are mono, 64 kbit/s
    /// because that is plenty for speech.
    fn reencode_hint(&self) -> String {
        let out = self.path.with_extension("mp3");
        let out = if out == self.path {
            self.path.with_file_name(format!(
                "{}-fixed.mp3",
                self.path
                    .file_stem()
                    .map(|s| s.to_string_lossy())
                    .unwrap_or_default()
            ))
        } else {
            out
        };
        format!(
            "Convert it to MP3, e.g. `ffmpeg -i '{}' -ac 1 -c:a libmp3lame -b:a 64k '{}'`, \
             and point the bulletin at the new file.",
            self.path.display(),
            out.display()
        )
    }

    fn reexport_hint(&self) -> String {
        "Export or copy it again from the original recording (an incomplete upload or copy \
         leaves a file like this), then run `loa check` again."
            .to_string()
    }

    fn run(&self) -> Result<AudioInfo, ProbeError> {
        let mut file = File::open(self.path).map_err(|e| {
            self.err(
                ProbeErrorKind::Unreadable,
                &format!("cannot be opened: {e}."),
                "Check that the path in the station file is right (it is relative to \
                 `audio_dir`) and that the loa user may read the file."
                    .to_string(),
            )
        })?;
        let meta = file.metadata().map_err(|e| {
            self.err(
                ProbeErrorKind::Unreadable,
                &format!("cannot be read: {e}."),
                "Check the file's permissions.".to_string(),
            )
        })?;
        if meta.is_dir() {
            return Err(self.err(
                ProbeErrorKind::NotAudio,
                "is a directory, not an audio file.",
                "Point the bulletin at a file inside it.".to_string(),
            ));
        }
        let len = meta.len();
        if len == 0 {
            return Err(self.err(
                ProbeErrorKind::Empty,
                "is empty (0 bytes).",
                self.reexport_hint(),
            ));
        }

        let mut head = Vec::with_capacity(4096);
        (&mut file).take(4096).read_to_end(&mut head).map_err(|e| {
            self.err(
                ProbeErrorKind::Unreadable,
                &format!("cannot be read: {e}."),
                "Check the disk and the file's permissions.".to_string(),
            )
        })?;
        match sniff(&head) {
            Sniffed::Zeros => {
                return Err(self.err(
                    ProbeErrorKind::NotAudio,
                    "holds only zero bytes, not audio (an interrupted copy or a \
                     pre-allocated file).",
                    self.reexport_hint(),
                ))
            }
            Sniffed::Text => {
                return Err(self.err(
                    ProbeErrorKind::NotAudio,
                    "is a text file, not audio.",
                    "Record or export the bulletin as audio (MP3 is best) and point the \
                     bulletin at that file."
                        .to_string(),
                ))
            }
            Sniffed::WebM => {
                return Err(self.err(
                    ProbeErrorKind::Unsupported,
                    "is WebM/Matroska (usually Opus audio, from a browser or chat app), \
                     which the player cannot read.",
                    self.reencode_hint(),
                ))
            }
            Sniffed::Amr => {
                return Err(self.err(
                    ProbeErrorKind::Unsupported,
                    "is AMR (a phone voice-recorder format), which the player cannot decode.",
                    self.reencode_hint(),
                ))
            }
            Sniffed::Asf => {
                return Err(self.err(
                    ProbeErrorKind::Unsupported,
                    "is WMA/ASF, which the player cannot decode.",
                    self.reencode_hint(),
                ))
            }
            Sniffed::Other => {}
        }
        let format_name = container_name(&head);
        file.seek(SeekFrom::Start(0)).map_err(|e| {
            self.err(
                ProbeErrorKind::Unreadable,
                &format!("cannot be read: {e}."),
                "Check the disk and the file's permissions.".to_string(),
            )
        })?;

        let mut hint = Hint::new();
        if let Some(ext) = self.path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        // As rodio 0.23 opens files: gapless on, default metadata options.
        let format_opts = FormatOptions {
            enable_gapless: true,
            ..Default::default()
        };
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let probed = symphonia::default::get_probe()
            .format(&hint, mss, &format_opts, &MetadataOptions::default())
            .map_err(|e| {
                let eof = matches!(&e, SymError::IoError(io)
                    if io.kind() == std::io::ErrorKind::UnexpectedEof);
                if eof && has_container_magic(&head) {
                    // An MP4 whose moov box comes first and whose mdat was
                    // cut, a RIFF header promising more chunks, ...
                    return self.err(
                        ProbeErrorKind::Truncated,
                        &format!(
                            "is cut short: it is {} but ends in the middle of its structure.",
                            format_name
                        ),
                        self.reexport_hint(),
                    );
                }
                self.err(
                    ProbeErrorKind::NotAudio,
                    &format!(
                        "is not a recognised audio file ({}).",
                        describe_sym_error(&e)
                    ),
                    format!(
                        "If it plays on a computer, convert it: {}",
                        self.reencode_hint()
                    ),
                )
            })?;
        let mut reader = probed.format;

        let track = reader
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .cloned()
            .ok_or_else(|| {
                self.err(
                    ProbeErrorKind::NoAudio,
                    "has no audio track.",
                    self.reexport_hint(),
                )
            })?;
        let params = &track.codec_params;
        let codec_name = codec_name(params.codec);

        if params.codec == CODEC_TYPE_OPUS {
            return Err(self.err(
                ProbeErrorKind::Unsupported,
                "is Opus audio (as voice notes from chat apps are), which the player \
                 cannot decode.",
                self.reencode_hint(),
            ));
        }
        if params.codec == CODEC_TYPE_AAC {
            if let Some(why) = he_aac_in_header(params) {
                return Err(self.he_aac_error(&why));
            }
        }

        let mut decoder = symphonia::default::get_codecs()
            .make(params, &DecoderOptions::default())
            .map_err(|e| {
                self.err(
                    ProbeErrorKind::Unsupported,
                    &format!(
                        "uses the {codec_name} codec, which the player cannot decode ({}).",
                        describe_sym_error(&e)
                    ),
                    self.reencode_hint(),
                )
            })?;

        let tb = params
            .time_base
            .or_else(|| params.sample_rate.map(|r| TimeBase::new(1, r)));
        // MP3 and ADTS headers only estimate the length (from the bit rate);
        // count their packets instead. MP3 with a Xing/VBRI frame count is
        // counted too: comparing the two is how a cut file shows.
        let counted = params.codec == CODEC_TYPE_MP3 || format_name == "aac";
        let declared = params
            .n_frames
            .filter(|_| !counted || (params.codec == CODEC_TYPE_MP3 && mp3_has_frame_count(&head)));

        // Decode the first packets: the codec must accept the stream, and
        // what it outputs (rate, channels) is what will air.
        let mut decoded_spec = None;
        let mut decode_failures = 0usize;
        let mut last_decode_error = String::new();
        let mut sbr_votes = (0usize, 0usize); // (packets with SBR data, packets looked at)
        let mut counted_frames = 0u64;
        let mut packets = 0usize;
        let mut last_end_ts = 0u64;
        loop {
            if !counted && packets >= DECODE_PACKETS.max(SBR_SCAN_PACKETS) {
                break;
            }
            let packet = match reader.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(_)) => break,
                Err(SymError::ResetRequired) => break,
                Err(e) => {
                    // A demuxer error mid-file: what came before plays, the
                    // rest does not.
                    if packets == 0 {
                        return Err(self.err(
                            ProbeErrorKind::Corrupt,
                            &format!("cannot be read: {}.", describe_sym_error(&e)),
                            self.reencode_hint(),
                        ));
                    }
                    break;
                }
            };
            if packet.track_id() != track.id {
                continue;
            }
            packets += 1;
            last_end_ts = last_end_ts.max(packet.ts + packet.dur);
            counted_frames += packet
                .dur
                .saturating_sub(u64::from(packet.trim_start) + u64::from(packet.trim_end));
            if params.codec == CODEC_TYPE_AAC && sbr_votes.1 < SBR_SCAN_PACKETS {
                sbr_votes.1 += 1;
                if aac_frame_has_sbr(&packet.data) {
                    sbr_votes.0 += 1;
                }
            }
            if packets <= DECODE_PACKETS {
                match decoder.decode(&packet) {
                    Ok(buf) => {
                        if buf.frames() > 0 {
                            decoded_spec.get_or_insert(*buf.spec());
                        }
                    }
                    Err(SymError::DecodeError(e)) => {
                        decode_failures += 1;
                        last_decode_error = e.to_string();
                    }
                    Err(e) => {
                        return Err(self.err(
                            ProbeErrorKind::Unsupported,
                            &format!(
                                "uses a {codec_name} variant the player cannot decode ({}).",
                                describe_sym_error(&e)
                            ),
                            self.reencode_hint(),
                        ))
                    }
                }
            }
        }

        if packets == 0 {
            return Err(self.err(
                ProbeErrorKind::NoAudio,
                "holds no audio (0 frames).",
                self.reexport_hint(),
            ));
        }
        let Some(spec) = decoded_spec else {
            let why = if decode_failures > 0 {
                format!("its first packets do not decode ({last_decode_error})")
            } else {
                "it decodes to nothing".to_string()
            };
            return Err(self.err(
                ProbeErrorKind::Corrupt,
                &format!("is damaged or empty: {why}."),
                self.reencode_hint(),
            ));
        };

        if params.codec == CODEC_TYPE_AAC {
            // Implicit SBR: the container was told the output rate (twice
            // the core's), the decoder only produces the core.
            if let Some(container_rate) = params.sample_rate {
                if container_rate == 2 * spec.rate {
                    return Err(self.he_aac_error(&format!(
                        "the container says {container_rate} Hz but the AAC core decodes at \
                         {} Hz",
                        spec.rate
                    )));
                }
            }
            let (with_sbr, seen) = sbr_votes;
            if seen >= 3 && with_sbr * 2 > seen {
                return Err(self.he_aac_error(&format!(
                    "{with_sbr} of its first {seen} AAC frames carry SBR data"
                )));
            }
        }

        let channels = spec.channels.count();
        let sample_rate = spec.rate;
        if !(4000..=384_000).contains(&sample_rate)
            || params
                .sample_rate
                .is_some_and(|r| !(4000..=384_000).contains(&r))
        {
            return Err(self.err(
                ProbeErrorKind::Corrupt,
                &format!(
                    "claims a sample rate of {} Hz, which no real recording has.",
                    params.sample_rate.unwrap_or(sample_rate)
                ),
                self.reencode_hint(),
            ));
        }
        if channels == 0 || channels > 8 {
            return Err(self.err(
                ProbeErrorKind::Corrupt,
                &format!("claims {channels} channels."),
                self.reencode_hint(),
            ));
        }

        let Some(tb) = tb else {
            return Err(self.err(
                ProbeErrorKind::Corrupt,
                "has no time base, so its length cannot be known.",
                self.reencode_hint(),
            ));
        };
        let to_seconds = |ts: u64| {
            let t = tb.calc_time(ts);
            t.seconds as f64 + t.frac
        };

        let seconds = if counted {
            let counted_s = to_seconds(counted_frames);
            if let Some(n) = declared {
                let declared_s = to_seconds(n);
                if declared_s - counted_s > truncation_tolerance(declared_s) {
                    return Err(self.truncated_error(declared_s, Some(counted_s)));
                }
            }
            counted_s
        } else {
            let Some(n) = params.n_frames else {
                return Err(self.err(
                    ProbeErrorKind::Corrupt,
                    "does not say how long it is.",
                    self.reencode_hint(),
                ));
            };
            let declared_s = to_seconds(n);
            // Ogg's length is read from its last page, so it is always what
            // the bytes hold; elsewhere, prove the end is there.
            if format_name != "ogg" && declared_s <= MAX_SECONDS {
                let start_ts = params.start_ts;
                let end_ts = start_ts + n;
                let tail = (TAIL_SECONDS * f64::from(tb.denom) / f64::from(tb.numer)) as u64;
                let from = end_ts.saturating_sub(tail);
                // A short file is read on to its end rather than seeked in:
                // cheaper, and symphonia 0.5's FLAC reader loses its place
                // when asked to seek to the very start.
                let from = (from > last_end_ts + 2 * tail).then_some(from);
                let reached = tail_end(&mut *reader, track.id, from, last_end_ts)
                    .map(|ts| ts.max(start_ts) - start_ts);
                let reached_s = reached.map(to_seconds);
                if reached_s.is_none_or(|r| declared_s - r > truncation_tolerance(declared_s)) {
                    return Err(self.truncated_error(declared_s, reached_s));
                }
            }
            declared_s
        };

        if seconds <= 0.0 {
            return Err(self.err(
                ProbeErrorKind::NoAudio,
                "holds no audio (0 frames).",
                self.reexport_hint(),
            ));
        }
        if seconds > MAX_SECONDS {
            return Err(self.err(
                ProbeErrorKind::Corrupt,
                &format!(
                    "claims to last {:.0} hours: its header is corrupt.",
                    seconds / 3600.0
                ),
                self.reencode_hint(),
            ));
        }

        let len = std::fs::metadata(self.path).map(|m| m.len()).unwrap_or(0);
        let bitrate_kbps = Some((len as f64 * 8.0 / seconds / 1000.0).round() as u32);
        Ok(AudioInfo {
            format: format_name.to_string(),
            codec: codec_name,
            channels: channels as u16,
            sample_rate,
            seconds,
            bitrate_kbps,
        })
    }

    fn he_aac_error(&self, evidence: &str) -> ProbeError {
        self.err(
            ProbeErrorKind::HeAac,
            &format!(
                "is HE-AAC (AAC with SBR/PS, as phones record): {evidence}. The player \
                 decodes only its AAC-LC core, so it would air muffled, without the upper \
                 half of its frequencies (and in mono, for HE-AACv2)."
            ),
            self.reencode_hint(),
        )
    }

    fn truncated_error(&self, declared: f64, holds: Option<f64>) -> ProbeError {
        let holds = match holds {
            Some(s) => format!("the file holds only {s:.1} s"),
            None => "the file ends before that".to_string(),
        };
        self.err(
            ProbeErrorKind::Truncated,
            &format!(
                "is cut short: its header says {declared:.1} s but {holds}. It would stop \
                 mid-sentence on air."
            ),
            self.reexport_hint(),
        )
    }
}

fn truncation_tolerance(declared_s: f64) -> f64 {
    TRUNCATION_TOLERANCE_SECONDS.max(declared_s * 0.005)
}

/// Demux to the end, after seeking to `from` when given, and return the end
/// timestamp of the last packet read (`read_so_far` when there was none), or
/// `None` when the seek fails (for MP4 and WAV, a seek past the bytes that
/// exist).
fn tail_end(
    reader: &mut dyn FormatReader,
    track_id: u32,
    from: Option<u64>,
    read_so_far: u64,
) -> Option<u64> {
    if let Some(ts) = from {
        reader
            .seek(SeekMode::Accurate, SeekTo::TimeStamp { ts, track_id })
            .ok()?;
    }
    let mut end = if from.is_some() {
        None
    } else {
        Some(read_so_far)
    };
    loop {
        match reader.next_packet() {
            Ok(p) if p.track_id() == track_id => {
                let e = p.ts + p.dur;
                end = Some(end.map_or(e, |x: u64| x.max(e)));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    end
}

fn sniff(head: &[u8]) -> Sniffed {
    if head.iter().all(|&b| b == 0) {
        return Sniffed::Zeros;
    }
    if head.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        return Sniffed::WebM;
    }
    if head.starts_with(b"#!AMR") {
        return Sniffed::Amr;
    }
    if head.starts_with(&[0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11, 0xa6, 0xd9]) {
        return Sniffed::Asf;
    }
    // Text: valid UTF-8 with no control bytes other than whitespace. Audio
    // headers (ID3, RIFF, fLaC, OggS, ftyp) all contain bytes that fail this
    // within their first few dozen.
    let sample = &head[..head.len().min(512)];
    let text = match std::str::from_utf8(sample) {
        Ok(s) => Some(s),
        // The sample may end inside a multi-byte character.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&sample[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    if let Some(s) = text {
        if !s.is_empty() && s.chars().all(|c| !c.is_control() || c.is_whitespace()) {
            return Sniffed::Text;
        }
    }
    Sniffed::Other
}

/// Do the first bytes name a container (rather than a bare MP3 or ADTS
/// stream, whose sync words random bytes can imitate)?
fn has_container_magic(head: &[u8]) -> bool {
    matches!(container_name(head), "wav" | "ogg" | "flac" | "m4a")
}

/// The container's everyday name, from its magic bytes.
fn container_name(head: &[u8]) -> &'static str {
    if head.starts_with(b"RIFF") {
        "wav"
    } else if head.starts_with(b"OggS") {
        "ogg"
    } else if head.starts_with(b"fLaC") {
        "flac"
    } else if head.len() >= 8 && &head[4..8] == b"ftyp" {
        "m4a"
    } else if head.len() >= 2 && head[0] == 0xff && head[1] & 0xf6 == 0xf0 {
        // ADTS sync word with layer 0 (MPEG audio layers are 1..3).
        "aac"
    } else {
        "mp3"
    }
}

/// Does the first MPEG frame carry a Xing/Info/VBRI frame count? Without
/// one, symphonia only estimates an MP3's length from its bit rate.
fn mp3_has_frame_count(head: &[u8]) -> bool {
    // Past an ID3v2 tag the first frame may lie beyond `head`; the common
    // case (tag then frame) is read here, and a miss only means the file is
    // treated as having no count: its packets are still counted.
    let start = if head.starts_with(b"ID3") && head.len() >= 10 {
        let size = head[6..10]
            .iter()
            .fold(0usize, |acc, &b| (acc << 7) | usize::from(b & 0x7f));
        10 + size
    } else {
        0
    };
    let Some(frame) = head.get(start..) else {
        return false;
    };
    let Some(sync) = frame
        .windows(2)
        .position(|w| w[0] == 0xff && w[1] & 0xe0 == 0xe0)
    else {
        return false;
    };
    let frame = &frame[sync..];
    let window = &frame[..frame.len().min(64)];
    window
        .windows(4)
        .any(|w| w == b"Xing" || w == b"Info" || w == b"VBRI")
}

/// HE-AAC signalled in the AudioSpecificConfig: explicitly (object type 5
/// or 29 first, "hierarchical"), or backward-compatibly (AAC-LC first, then
/// the 0x2B7 sync extension with SBR present). symphonia 0.5 reads the first
/// and ignores the SBR it announces; it does not read the second at all.
fn he_aac_in_header(params: &CodecParameters) -> Option<String> {
    let asc = params.extra_data.as_deref()?;
    let mut bits = Bits::new(asc);
    let object_type = |b: &mut Bits| -> Option<u32> {
        match b.read(5)? {
            31 => Some(32 + b.read(6)?),
            t => Some(t),
        }
    };
    let freq = |b: &mut Bits| -> Option<()> {
        if b.read(4)? == 15 {
            b.read(24)?;
        }
        Some(())
    };
    let aot = object_type(&mut bits)?;
    if aot == 5 || aot == 29 {
        let name = if aot == 5 { "HE-AAC" } else { "HE-AACv2" };
        return Some(format!("its header says {name} (audio object type {aot})"));
    }
    if aot != 2 {
        return None;
    }
    freq(&mut bits)?;
    let channel_config = bits.read(4)?;
    if channel_config == 0 {
        return None; // a program config element follows: not parsed.
    }
    // GASpecificConfig for AAC-LC.
    let _frame_length = bits.read(1)?;
    if bits.read(1)? == 1 {
        bits.read(14)?; // core coder delay
    }
    let _extension = bits.read(1)?;
    if bits.left() >= 16
        && bits.read(11)? == 0x2b7
        && object_type(&mut bits)? == 5
        && bits.read(1)? == 1
    {
        return Some("its header announces SBR (backward-compatible signalling)".to_string());
    }
    None
}

/// Implicit SBR, as ADTS streams and some MP4 muxers carry it: the header
/// says AAC-LC and the SBR data rides in a fill element (ID_FIL) of every
/// frame. Reaching it properly means decoding the channel elements before
/// it, so this looks for its usual place instead: the last element before
/// ID_END, whose byte count must land exactly on the end and whose
/// extension type must be SBR data (0xD, or 0xE with CRC). One frame can
/// match by chance (about one in ten); the caller votes over many.
fn aac_frame_has_sbr(frame: &[u8]) -> bool {
    let total = frame.len() * 8;
    if total < 24 {
        return false;
    }
    let bit = |i: usize| (frame[i / 8] >> (7 - i % 8)) & 1;
    let read = |from: usize, n: usize| {
        (from..from + n).fold(0u32, |acc, i| (acc << 1) | u32::from(bit(i)))
    };
    // ID_END (0b111) then zero padding to the byte boundary.
    for pad in 0..8 {
        let end = total - pad;
        if end < 3 + 11 {
            break;
        }
        if pad > 0 && read(end, pad) != 0 {
            continue;
        }
        if read(end - 3, 3) != 0b111 {
            continue;
        }
        let fil_end = end - 3;
        // count < 15: 3 bits id + 4 bits count + count bytes.
        for count in 1..15usize {
            let Some(start) = fil_end.checked_sub(7 + 8 * count) else {
                break;
            };
            if read(start, 3) == 0b110
                && read(start + 3, 4) as usize == count
                && matches!(read(start + 7, 4), 0xd | 0xe)
            {
                return true;
            }
        }
        // count >= 15: 4 bits = 15, then 8 bits esc, count = 15 + esc - 1.
        for count in 15..(15 + 255) {
            let Some(start) = fil_end.checked_sub(15 + 8 * count) else {
                break;
            };
            if read(start, 3) == 0b110
                && read(start + 3, 4) == 15
                && read(start + 7, 8) as usize == count - 14
                && matches!(read(start + 15, 4), 0xd | 0xe)
            {
                return true;
            }
        }
    }
    false
}

/// A most-significant-bit-first reader over a byte slice.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits { data, pos: 0 }
    }
    fn left(&self) -> usize {
        self.data.len() * 8 - self.pos
    }
    fn read(&mut self, n: usize) -> Option<u32> {
        if n > self.left() {
            return None;
        }
        let mut v = 0u32;
        for _ in 0..n {
            let b = (self.data[self.pos / 8] >> (7 - self.pos % 8)) & 1;
            v = (v << 1) | u32::from(b);
            self.pos += 1;
        }
        Some(v)
    }
}

fn codec_name(codec: CodecType) -> String {
    if let Some(d) = symphonia::default::get_codecs().get_codec(codec) {
        return d.short_name.to_string();
    }
    match codec {
        CODEC_TYPE_OPUS => "opus",
        CODEC_TYPE_MP1 => "mp1",
        CODEC_TYPE_MP2 => "mp2",
        CODEC_TYPE_ALAC => "alac",
        CODEC_TYPE_SPEEX => "speex",
        CODEC_TYPE_WAVPACK => "wavpack",
        CODEC_TYPE_ADPCM_MS | CODEC_TYPE_ADPCM_IMA_WAV => "adpcm",
        _ => "unknown",
    }
    .to_string()
}

/// symphonia's errors are terse ("end of stream"); say it in words.
fn describe_sym_error(e: &SymError) -> String {
    match e {
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "it ends before any audio".to_string()
        }
        SymError::IoError(io) => format!("read error: {io}"),
        SymError::Unsupported(what) => format!("unsupported: {what}"),
        SymError::DecodeError(what) => format!("malformed: {what}"),
        SymError::LimitError(what) => format!("over a safety limit: {what}"),
        SymError::SeekError(_) | SymError::ResetRequired => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    //! Fixtures are made by `scripts/make-fixtures.sh` and committed.

    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/audio")
            .join(name)
    }

    fn accepted(name: &str) -> AudioInfo {
        match probe(&fixture(name)) {
            Ok(info) => info,
            Err(e) => panic!("{name} refused: {e}"),
        }
    }

    fn refused(name: &str, kind: ProbeErrorKind) -> ProbeError {
        match probe(&fixture(name)) {
            Ok(info) => panic!("{name} accepted: {info:?}"),
            Err(e) => {
                assert_eq!(e.kind, kind, "{name}: {e}");
                assert!(e.message.contains(name), "message names the file: {e}");
                assert!(!e.hint.is_empty(), "says what to do: {e}");
                e
            }
        }
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 0.03,
            "{actual} s, expected {expected} s"
        );
    }

    #[test]
    fn mp3_cbr_with_info_tag() {
        let i = accepted("mp3-cbr.mp3");
        assert_eq!((i.format.as_str(), i.codec.as_str()), ("mp3", "mp3"));
        assert_eq!((i.channels, i.sample_rate), (2, 44100));
        // 2 s minus encoder delay and padding, which rodio trims.
        assert_close(i.seconds, 1.986);
        assert_eq!(i.bitrate_kbps, Some(34));
    }

    #[test]
    fn mp3_vbr_with_xing_tag() {
        let i = accepted("mp3-vbr.mp3");
        assert_close(i.seconds, 1.986);
    }

    #[test]
    fn mp3_without_xing_is_counted() {
        // symphonia only estimates this one from the bit rate; counting
        // frames gives 39 frames of 1152 samples at 44.1 kHz (no LAME tag,
        // so nothing is trimmed).
        let i = accepted("mp3-no-xing.mp3");
        assert_close(i.seconds, 2.038);
    }

    #[test]
    fn mp3_mono_22k() {
        let i = accepted("mp3-mono-22k.mp3");
        assert_eq!((i.channels, i.sample_rate), (1, 22050));
        assert_close(i.seconds, 1.985);
    }

    #[test]
    fn mp3_with_big_cover() {
        let i = accepted("mp3-big-cover.mp3");
        assert_close(i.seconds, 1.985);
        // The cover dominates the file, which the bit rate shows.
        assert!(i.bitrate_kbps.unwrap() > 200, "{i:?}");
    }

    #[test]
    fn m4a_aac_lc_moov_at_end_and_start() {
        for name in ["aac-lc-moov-end.m4a", "aac-lc-moov-start.m4a"] {
            let i = accepted(name);
            assert_eq!((i.format.as_str(), i.codec.as_str()), ("m4a", "aac"));
            assert_eq!((i.channels, i.sample_rate), (1, 44100));
            assert_close(i.seconds, 2.023);
        }
    }

    #[test]
    fn adts_aac_lc() {
        let i = accepted("aac-lc.aac");
        assert_eq!((i.format.as_str(), i.codec.as_str()), ("aac", "aac"));
        assert_close(i.seconds, 2.043);
    }

    #[test]
    fn flac() {
        let i = accepted("flac.flac");
        assert_eq!((i.format.as_str(), i.codec.as_str()), ("flac", "flac"));
        assert_eq!(i.sample_rate, 8000);
        assert_close(i.seconds, 1.0);
    }

    #[test]
    fn ogg_vorbis() {
        let i = accepted("vorbis.ogg");
        assert_eq!((i.format.as_str(), i.codec.as_str()), ("ogg", "vorbis"));
        assert_eq!(i.sample_rate, 22050);
        assert_close(i.seconds, 2.0);
    }

    #[test]
    fn wav_sample_formats() {
        for (name, codec, rate, seconds) in [
            ("wav-u8.wav", "pcm_u8", 8000, 1.0),
            ("wav-s16.wav", "pcm_s16le", 16000, 0.5),
            ("wav-s24.wav", "pcm_s24le", 8000, 0.5),
            ("wav-f32.wav", "pcm_f32le", 8000, 0.5),
        ] {
            let i = accepted(name);
            assert_eq!(i.format, "wav");
            assert_eq!(i.codec, codec, "{name}");
            assert_eq!(i.sample_rate, rate, "{name}");
            assert_close(i.seconds, seconds);
        }
    }

    #[test]
    fn wav_8k() {
        let i = accepted("wav-8k.wav");
        assert_eq!((i.channels, i.sample_rate), (1, 8000));
        assert_close(i.seconds, 1.0);
    }

    #[test]
    fn refuses_missing_file() {
        let e = refused("missing.mp3", ProbeErrorKind::Unreadable);
        assert!(e.message.contains("cannot be opened"), "{e}");
        assert!(e.hint.contains("audio_dir"), "{e}");
    }

    #[test]
    fn refuses_empty_file() {
        let e = refused("empty.mp3", ProbeErrorKind::Empty);
        assert!(e.message.contains("empty (0 bytes)"), "{e}");
    }

    #[test]
    fn refuses_zero_filled_file() {
        let e = refused("zeros.mp3", ProbeErrorKind::NotAudio);
        assert!(e.message.contains("only zero bytes"), "{e}");
    }

    #[test]
    fn refuses_random_bytes() {
        let e = refused("random.mp3", ProbeErrorKind::NotAudio);
        assert!(e.message.contains("not a recognised audio file"), "{e}");
        assert!(e.hint.contains("ffmpeg -i"), "{e}");
    }

    #[test]
    fn refuses_text_named_mp3() {
        let e = refused("text.mp3", ProbeErrorKind::NotAudio);
        assert!(e.message.contains("text file"), "{e}");
    }

    #[test]
    fn refuses_opus_in_ogg() {
        let e = refused("opus.ogg", ProbeErrorKind::Unsupported);
        assert!(e.message.contains("Opus"), "{e}");
        assert!(
            e.hint.contains("libmp3lame") && e.hint.contains("opus.mp3"),
            "{e}"
        );
    }

    #[test]
    fn refuses_webm() {
        let e = refused("opus.webm", ProbeErrorKind::Unsupported);
        assert!(e.message.contains("WebM"), "{e}");
    }

    #[test]
    fn refuses_he_aac_signalled_explicitly() {
        let e = refused("he-aac-explicit.m4a", ProbeErrorKind::HeAac);
        assert!(e.message.contains("audio object type 5"), "{e}");
        assert!(e.hint.contains("ffmpeg -i"), "{e}");
    }

    #[test]
    fn refuses_he_aac_v2() {
        let e = refused("he-aac-v2.m4a", ProbeErrorKind::HeAac);
        assert!(e.message.contains("HE-AACv2 (audio object type 29)"), "{e}");
    }

    #[test]
    fn refuses_he_aac_signalled_implicitly_in_mp4() {
        let e = refused("he-aac-implicit.m4a", ProbeErrorKind::HeAac);
        assert!(
            e.message
                .contains("44100 Hz but the AAC core decodes at 22050 Hz"),
            "{e}"
        );
    }

    #[test]
    fn refuses_he_aac_in_adts() {
        // ADTS has no way to signal SBR: only the frames give it away.
        let e = refused("he-aac.aac", ProbeErrorKind::HeAac);
        assert!(e.message.contains("carry SBR data"), "{e}");
    }

    #[test]
    fn refuses_truncated_mp3() {
        let e = refused("truncated.mp3", ProbeErrorKind::Truncated);
        assert!(
            e.message
                .contains("header says 3.0 s but the file holds only 1.4 s"),
            "{e}"
        );
    }

    #[test]
    fn refuses_truncated_m4a() {
        let e = refused("truncated.m4a", ProbeErrorKind::Truncated);
        assert!(e.message.contains("cut short"), "{e}");
    }

    #[test]
    fn refuses_truncated_wav() {
        let e = refused("truncated.wav", ProbeErrorKind::Truncated);
        assert!(e.message.contains("header says 3.0 s"), "{e}");
    }

    #[test]
    fn refuses_wav_with_no_samples() {
        let e = refused("no-samples.wav", ProbeErrorKind::NoAudio);
        assert!(e.message.contains("0 frames"), "{e}");
    }

    #[test]
    fn refuses_absurd_sample_rate() {
        let e = refused("absurd-rate.wav", ProbeErrorKind::Corrupt);
        assert!(e.message.contains("1 Hz"), "{e}");
    }

    #[test]
    fn display_says_what_and_what_to_do() {
        let e = probe(&fixture("opus.ogg")).unwrap_err();
        let shown = e.to_string();
        assert!(shown.starts_with(&e.message) && shown.ends_with(&e.hint));
    }

    #[test]
    fn sbr_scan_finds_a_trailing_sbr_fill_element() {
        // A hand-built frame tail: ID_FIL, count 2, extension type 0xD
        // (SBR data) + 4 payload bits, then 4 more bits, ID_END, padding.
        // bits: 110 0010 1101 0000 00000000 111 00000
        let frame = [0b1100_0101, 0b1010_0000, 0b0000_0001, 0b1100_0000];
        assert!(aac_frame_has_sbr(&frame));
        // The same with extension type 0x1 (fill data) is not SBR.
        let frame = [0b1100_0100, 0b0010_0000, 0b0000_0001, 0b1100_0000];
        assert!(!aac_frame_has_sbr(&frame));
    }

    #[test]
    fn asc_backward_compatible_sbr_is_found() {
        // AAC-LC 22050 Hz stereo, GA config 000, then sync 0x2B7, object
        // type 5, sbrPresentFlag 1, extension rate index 4 (44100 Hz).
        // 00010 0111 0010 000 | 01010110111 00101 1 0100 (+ padding)
        let mut params = CodecParameters::new();
        params.with_extra_data(Box::new([0x13, 0x90, 0x56, 0xe5, 0xa0]));
        assert!(he_aac_in_header(&params)
            .unwrap()
            .contains("backward-compatible"));
        params.with_extra_data(Box::new([0x13, 0x90]));
        assert_eq!(he_aac_in_header(&params), None);
    }
}
