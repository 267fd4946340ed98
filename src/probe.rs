//! Probing audio files: what they are and whether they will play right.
//!
//! `loa check` and the station loader call [`probe`] on every bulletin file
//! before anything goes on air, so a bad file is found at the desk, not in
//! front of the commune. The probe opens files through [`crate::media`],
//! exactly as the player's decoder does (same demuxers, decoders and
//! options): a file that probes clean will play, and one that would play
//! wrongly is refused with a message that says what is wrong and the
//! command that fixes it.
//!
//! Failures it catches, and why each matters on air:
//! - not audio at all (empty, zero-filled, random bytes, text named `.mp3`);
//! - codecs the player cannot decode (AMR, WMA, MP2, ALAC, ...). Opus (in
//!   Ogg or WebM) and HE-AAC (AAC with SBR/PS) are accepted: `media` gives
//!   them decoders symphonia lacks (libopus, FDK AAC). HE-AAC is named so
//!   in the codec (`he-aac`), found from its header or its frames;
//! - truncated files, whose header promises more than the bytes hold: they
//!   play their prefix without an error, so the bulletin would stop mid
//!   sentence and the ledger would credit airtime that never aired;
//! - files that decode to nothing, and absurd parameters.
//!
//! A probe is four steps, each a method of `Probe`: *sniff* the first bytes
//! (refusals that need no demuxer), *open* the container and its decoder,
//! *measure* the stream from its first packets, and *tail-check* its
//! length. Cost: no full decode. Duration comes from the container (frame
//! count and time base); MP3 and ADTS, whose headers only estimate it, are
//! demuxed (packet headers walked, nothing decoded). Only the first few
//! packets are decoded, to prove the codec really accepts the stream, and
//! the last second is read to prove the file is whole.
//!
//! This module owns reading audio files for inspection only. It must not
//! touch the sound card, the schedule or the ledger, and never writes files.

mod aac;
mod sniff;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use symphonia::core::audio::SignalSpec;
use symphonia::core::codecs::{
    CodecType, Decoder, CODEC_TYPE_AAC, CODEC_TYPE_ADPCM_IMA_WAV, CODEC_TYPE_ADPCM_MS,
    CODEC_TYPE_ALAC, CODEC_TYPE_MP1, CODEC_TYPE_MP2, CODEC_TYPE_MP3, CODEC_TYPE_OPUS,
    CODEC_TYPE_SPEEX, CODEC_TYPE_WAVPACK,
};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatReader, SeekMode, SeekTo, Track};
use symphonia::core::units::TimeBase;

/// What probing an audio file found. Defined with the station description,
/// whose bulletins carry it; named here too, where it is made.
pub use crate::config::AudioInfo;

use crate::media;
use aac::{aac_frame_has_sbr, he_aac_in_header};
use sniff::{container_name, has_container_magic, mp3_has_frame_count, sniff, Sniffed};

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
    /// (AMR, WMA, MP2, ALAC, ...).
    Unsupported,
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
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message} {hint}")]
pub struct ProbeError {
    pub kind: ProbeErrorKind,
    pub message: String,
    pub hint: String,
}

/// What a sniffed file that is not audio, or not audio the player decodes,
/// is said to be.
const ONLY_ZEROS: &str =
    "holds only zero bytes, not audio (an interrupted copy or a pre-allocated file).";
const TEXT_HINT: &str =
    "Record or export the bulletin as audio (MP3 is best) and point the bulletin at that file.";
const AMR: &str = "is AMR (a phone voice-recorder format), which the player cannot decode.";
const WMA: &str = "is WMA/ASF, which the player cannot decode.";

/// How many packets are decoded to prove the stream decodes. The player
/// skips packets that fail to decode, so a few bad ones are tolerated, not
/// all.
const DECODE_PACKETS: usize = 8;
/// The codec name of AAC with SBR (and perhaps PS): what phones record.
const HE_AAC: &str = "he-aac";
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
    media::guarded(|| p.run()).unwrap_or_else(|media::Panicked| {
        Err(p.err(
            ProbeErrorKind::Corrupt,
            "is malformed: the audio library failed while reading its headers.",
            p.reencode_hint(),
        ))
    })
}

struct Probe<'a> {
    path: &'a Path,
}

/// The container open on its audio track, with a decoder for it.
struct Opened {
    reader: Box<dyn FormatReader>,
    track: Track,
    decoder: Box<dyn Decoder>,
    /// The container's everyday name (`mp3`, `m4a`, `aac`, ...).
    format_name: &'static str,
    codec_name: String,
    /// MP3 and ADTS: the length is counted from packet headers, because
    /// their headers only estimate it.
    counted: bool,
    /// The frame count the header states, when it is to be believed.
    declared: Option<u64>,
}

/// What reading the packets found.
struct Measured {
    /// Rate and channels the decoder outputs: what the sound card is fed.
    spec: SignalSpec,
    /// (packets with SBR data, AAC packets looked at).
    sbr_votes: (usize, usize),
    /// Frames in the packets read, trims applied (all of them when counted).
    frames: u64,
    /// End timestamp of the last packet read.
    last_end_ts: u64,
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

    fn unreadable(&self, e: std::io::Error, hint: &str) -> ProbeError {
        self.err(
            ProbeErrorKind::Unreadable,
            &format!("cannot be read: {e}."),
            hint.to_string(),
        )
    }

    fn run(&self) -> Result<AudioInfo, ProbeError> {
        let (file, head) = self.sniff()?;
        let mut opened = self.open(file, &head)?;
        let measured = self.measure(&mut opened)?;
        self.check_stream(&mut opened, &measured)?;
        let seconds = self.tail_check(&mut opened, &measured)?;
        let len = std::fs::metadata(self.path).map(|m| m.len()).unwrap_or(0);
        let bitrate_kbps = Some((len as f64 * 8.0 / seconds / 1000.0).round() as u32);
        Ok(AudioInfo {
            format: opened.format_name.to_string(),
            codec: opened.codec_name,
            channels: measured.spec.channels.count() as u16,
            sample_rate: measured.spec.rate,
            seconds,
            bitrate_kbps,
        })
    }

    /// Step 1: open the file and read its first bytes; refuse what is not
    /// audio at all, or what the player cannot read, before symphonia
    /// looks. Returns the file rewound, and its first 4 KiB.
    fn sniff(&self) -> Result<(File, Vec<u8>), ProbeError> {
        let mut file = File::open(self.path).map_err(|e| {
            self.err(
                ProbeErrorKind::Unreadable,
                &format!("cannot be opened: {e}."),
                "Check that the path in the station file is right (it is relative to \
                 `audio_dir`) and that the loa user may read the file."
                    .to_string(),
            )
        })?;
        let meta = file
            .metadata()
            .map_err(|e| self.unreadable(e, "Check the file's permissions."))?;
        if meta.is_dir() {
            return Err(self.err(
                ProbeErrorKind::NotAudio,
                "is a directory, not an audio file.",
                "Point the bulletin at a file inside it.".to_string(),
            ));
        }
        if meta.len() == 0 {
            return Err(self.err(
                ProbeErrorKind::Empty,
                "is empty (0 bytes).",
                self.reexport_hint(),
            ));
        }

        let disk_hint = "Check the disk and the file's permissions.";
        let mut head = Vec::with_capacity(4096);
        (&mut file)
            .take(4096)
            .read_to_end(&mut head)
            .map_err(|e| self.unreadable(e, disk_hint))?;
        use ProbeErrorKind::{NotAudio, Unsupported};
        let refusal = match sniff(&head) {
            Sniffed::Other => None,
            Sniffed::Zeros => Some((NotAudio, ONLY_ZEROS, self.reexport_hint())),
            Sniffed::Text => Some((NotAudio, "is a text file, not audio.", TEXT_HINT.into())),
            Sniffed::Amr => Some((Unsupported, AMR, self.reencode_hint())),
            Sniffed::Asf => Some((Unsupported, WMA, self.reencode_hint())),
        };
        if let Some((kind, what, hint)) = refusal {
            return Err(self.err(kind, what, hint));
        }
        file.seek(SeekFrom::Start(0))
            .map_err(|e| self.unreadable(e, disk_hint))?;
        Ok((file, head))
    }

    /// Step 2: open the container as the player does, find its audio track
    /// and make its decoder; refuse codecs the player cannot decode.
    fn open(&self, file: File, head: &[u8]) -> Result<Opened, ProbeError> {
        let format_name = container_name(head);
        let reader = media::open(file, self.path).map_err(|e| {
            let eof = matches!(&e, SymError::IoError(io)
                if io.kind() == std::io::ErrorKind::UnexpectedEof);
            if eof && has_container_magic(head) {
                // An MP4 whose moov box comes first and whose mdat was
                // cut, a RIFF header promising more chunks, ...
                return self.err(
                    ProbeErrorKind::Truncated,
                    &format!(
                        "is cut short: it is {format_name} but ends in the middle of its \
                         structure."
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
        let track = media::audio_track(&*reader).ok_or_else(|| {
            self.err(
                ProbeErrorKind::NoAudio,
                "has no audio track.",
                self.reexport_hint(),
            )
        })?;
        let params = &track.codec_params;
        let mut codec_name = codec_name(params.codec);
        if params.codec == CODEC_TYPE_AAC && he_aac_in_header(params).is_some() {
            codec_name = HE_AAC.to_string();
        }
        let decoder = media::decoder(params).map_err(|e| {
            self.err(
                ProbeErrorKind::Unsupported,
                &format!(
                    "uses the {codec_name} codec, which the player cannot decode ({}).",
                    describe_sym_error(&e)
                ),
                self.reencode_hint(),
            )
        })?;

        // MP3 and ADTS headers only estimate the length (from the bit rate);
        // count their packets instead. MP3 with a Xing/VBRI frame count is
        // counted too: comparing the two is how a cut file shows.
        let counted = params.codec == CODEC_TYPE_MP3 || format_name == "aac";
        let declared = params
            .n_frames
            .filter(|_| !counted || (params.codec == CODEC_TYPE_MP3 && mp3_has_frame_count(head)));
        Ok(Opened {
            reader,
            decoder,
            format_name,
            codec_name,
            counted,
            declared,
            track,
        })
    }

    /// Step 3: read the first packets (all of them when the length is
    /// counted) and decode the first few: the codec must accept the stream,
    /// and what it outputs (rate, channels) is what will air.
    fn measure(&self, o: &mut Opened) -> Result<Measured, ProbeError> {
        let codec = o.track.codec_params.codec;
        let mut decoded_spec = None;
        let mut decode_failures = 0usize;
        let mut last_decode_error = String::new();
        let mut sbr_votes = (0usize, 0usize);
        let mut frames = 0u64;
        let mut packets = 0usize;
        let mut last_end_ts = 0u64;
        loop {
            if !o.counted && packets >= DECODE_PACKETS.max(SBR_SCAN_PACKETS) {
                break;
            }
            let packet = match o.reader.next_packet() {
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
            if packet.track_id() != o.track.id {
                continue;
            }
            packets += 1;
            last_end_ts = last_end_ts.max(packet.ts + packet.dur);
            frames += packet
                .dur
                .saturating_sub(u64::from(packet.trim_start) + u64::from(packet.trim_end));
            if codec == CODEC_TYPE_AAC && sbr_votes.1 < SBR_SCAN_PACKETS {
                sbr_votes.1 += 1;
                if aac_frame_has_sbr(&packet.data) {
                    sbr_votes.0 += 1;
                }
            }
            if packets <= DECODE_PACKETS {
                match o.decoder.decode(&packet) {
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
                                "uses a {} variant the player cannot decode ({}).",
                                o.codec_name,
                                describe_sym_error(&e)
                            ),
                            self.reencode_hint(),
                        ))
                    }
                }
            }
        }

        if packets == 0 {
            return Err(self.no_audio());
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
        Ok(Measured {
            spec,
            sbr_votes,
            frames,
            last_end_ts,
        })
    }

    /// Name HE-AAC that the header hid (implicit SBR, as in ADTS), and
    /// refuse rates or channel counts no recording has.
    fn check_stream(&self, o: &mut Opened, m: &Measured) -> Result<(), ProbeError> {
        let params = &o.track.codec_params;
        let (with_sbr, seen) = m.sbr_votes;
        if params.codec == CODEC_TYPE_AAC && seen >= 3 && with_sbr * 2 > seen {
            o.codec_name = HE_AAC.to_string();
        }

        let channels = m.spec.channels.count();
        let sample_rate = m.spec.rate;
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
        Ok(())
    }

    /// Step 4: the length in seconds, proved. A counted length is compared
    /// with what the header declares; a declared one is proved by reading
    /// the last second of the file (Ogg's is read from its last page, so it
    /// is always what the bytes hold).
    fn tail_check(&self, o: &mut Opened, m: &Measured) -> Result<f64, ProbeError> {
        let params = &o.track.codec_params;
        let Some(tb) = params
            .time_base
            .or_else(|| params.sample_rate.map(|r| TimeBase::new(1, r)))
        else {
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

        let seconds = if o.counted {
            let counted_s = to_seconds(m.frames);
            if let Some(n) = o.declared {
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
            if o.format_name != "ogg" && declared_s <= MAX_SECONDS {
                let start_ts = params.start_ts;
                let end_ts = start_ts + n;
                let tail = (TAIL_SECONDS * f64::from(tb.denom) / f64::from(tb.numer)) as u64;
                let from = end_ts.saturating_sub(tail);
                // A short file is read on to its end rather than seeked in:
                // cheaper, and symphonia 0.5's FLAC reader loses its place
                // when asked to seek to the very start.
                let from = (from > m.last_end_ts + 2 * tail).then_some(from);
                let track_id = o.track.id;
                let reached = tail_end(&mut *o.reader, track_id, from, m.last_end_ts)
                    .map(|ts| ts.max(start_ts) - start_ts);
                let reached_s = reached.map(to_seconds);
                if reached_s.is_none_or(|r| declared_s - r > truncation_tolerance(declared_s)) {
                    return Err(self.truncated_error(declared_s, reached_s));
                }
            }
            declared_s
        };

        if seconds <= 0.0 {
            return Err(self.no_audio());
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
        Ok(seconds)
    }

    fn no_audio(&self) -> ProbeError {
        self.err(
            ProbeErrorKind::NoAudio,
            "holds no audio (0 frames).",
            self.reexport_hint(),
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
    use crate::media::faults::{copy_with_fault, Fault};
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

    /// `accepted`, and assert its length.
    fn lasting(name: &str, seconds: f64) -> AudioInfo {
        let i = accepted(name);
        assert_close(i.seconds, seconds);
        i
    }

    /// `lasting`, and assert its format and codec.
    fn accepted_as(name: &str, format_codec: (&str, &str), seconds: f64) -> AudioInfo {
        let i = lasting(name, seconds);
        let found = (i.format.as_str(), i.codec.as_str());
        assert_eq!(found, format_codec, "{name}");
        i
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
        // 2 s minus encoder delay and padding, which the player trims (gapless).
        let i = accepted_as("mp3-cbr.mp3", ("mp3", "mp3"), 1.986);
        assert_eq!((i.channels, i.sample_rate), (2, 44100));
        assert_eq!(i.bitrate_kbps, Some(34));
    }

    #[test]
    fn mp3_vbr_with_xing_tag() {
        lasting("mp3-vbr.mp3", 1.986);
    }

    #[test]
    fn mp3_without_xing_is_counted() {
        // symphonia only estimates this one from the bit rate; counting
        // frames gives 39 frames of 1152 samples at 44.1 kHz (no LAME tag,
        // so nothing is trimmed).
        lasting("mp3-no-xing.mp3", 2.038);
    }

    #[test]
    fn mono_files_at_low_rates() {
        for (name, seconds, rate) in [
            ("mp3-mono-22k.mp3", 1.985, 22050),
            ("wav-8k.wav", 1.0, 8000),
        ] {
            let i = lasting(name, seconds);
            assert_eq!((i.channels, i.sample_rate), (1, rate), "{name}");
        }
    }

    #[test]
    fn mp3_with_big_cover() {
        let i = lasting("mp3-big-cover.mp3", 1.985);
        // The cover dominates the file, which the bit rate shows.
        assert!(i.bitrate_kbps.unwrap() > 200, "{i:?}");
    }

    #[test]
    fn m4a_aac_lc_moov_at_end_and_start() {
        for name in ["aac-lc-moov-end.m4a", "aac-lc-moov-start.m4a"] {
            let i = accepted_as(name, ("m4a", "aac"), 2.023);
            assert_eq!((i.channels, i.sample_rate), (1, 44100));
        }
    }

    #[test]
    fn adts_aac_lc() {
        accepted_as("aac-lc.aac", ("aac", "aac"), 2.043);
    }

    #[test]
    fn flac() {
        let i = accepted_as("flac.flac", ("flac", "flac"), 1.0);
        assert_eq!(i.sample_rate, 8000);
    }

    #[test]
    fn ogg_vorbis() {
        let i = accepted_as("vorbis.ogg", ("ogg", "vorbis"), 2.0);
        assert_eq!(i.sample_rate, 22050);
    }

    #[test]
    fn wav_sample_formats() {
        for (name, codec, rate, seconds) in [
            ("wav-u8.wav", "pcm_u8", 8000, 1.0),
            ("wav-s16.wav", "pcm_s16le", 16000, 0.5),
            ("wav-s24.wav", "pcm_s24le", 8000, 0.5),
            ("wav-f32.wav", "pcm_f32le", 8000, 0.5),
        ] {
            let i = lasting(name, seconds);
            assert_eq!(i.format, "wav");
            assert_eq!(i.codec, codec, "{name}");
            assert_eq!(i.sample_rate, rate, "{name}");
        }
    }

    /// Each broken file is refused as the kind of problem it is, with a
    /// message that says what is wrong and, where written, a hint that says
    /// what to do.
    #[test]
    fn refuses_broken_files() {
        use ProbeErrorKind::*;
        let cases = [
            ("missing.mp3", Unreadable, "cannot be opened", "audio_dir"),
            ("empty.mp3", Empty, "empty (0 bytes)", ""),
            ("zeros.mp3", NotAudio, "only zero bytes", ""),
            (
                "random.mp3",
                NotAudio,
                "not a recognised audio file",
                "ffmpeg -i",
            ),
            ("text.mp3", NotAudio, "text file", ""),
            (
                "truncated.mp3",
                Truncated,
                "header says 3.0 s but the file holds only 1.4 s",
                "",
            ),
            ("truncated.m4a", Truncated, "cut short", ""),
            ("truncated.wav", Truncated, "header says 3.0 s", ""),
            ("no-samples.wav", NoAudio, "0 frames", ""),
            ("absurd-rate.wav", Corrupt, "1 Hz", ""),
        ];
        for (name, kind, message, hint) in cases {
            let e = refused(name, kind);
            assert!(e.message.contains(message), "{name}: {e}");
            assert!(e.hint.contains(hint), "{name}: {e}");
        }
    }

    #[test]
    fn opus_in_ogg_and_webm() {
        // Voice notes (Zalo, Telegram, WhatsApp) and Chrome's recorder.
        for (name, format) in [("opus.ogg", "ogg"), ("opus.webm", "webm")] {
            let i = accepted_as(name, (format, "opus"), 2.0);
            assert_eq!((i.channels, i.sample_rate), (1, 48000), "{name}");
        }
    }

    #[test]
    fn he_aac_is_named_and_decodes_at_the_full_rate() {
        // Explicit, implicit (MP4 and ADTS) signalling, and v2 (PS): the
        // decoder outputs the SBR rate and PS's stereo.
        for name in [
            "he-aac-explicit.m4a",
            "he-aac-implicit.m4a",
            "he-aac.aac",
            "he-aac-v2.m4a",
        ] {
            let i = accepted(name);
            assert_eq!(i.codec, "he-aac", "{name}");
            assert_eq!((i.channels, i.sample_rate), (2, 44100), "{name}");
            // As ffprobe says: 2 s plus the encoder's priming, which aac-enc
            // writes no edit list for.
            assert!((i.seconds - 2.15).abs() < 0.05, "{name}: {i:?}");
        }
    }

    #[test]
    fn a_panic_in_the_audio_library_is_a_refusal() {
        let src = fixture("mp3-cbr.mp3");
        let (_dir, path) = copy_with_fault(&src, "panics.mp3", Fault::PanicAfterPackets(2));
        let e = probe(&path).unwrap_err();
        assert_eq!(e.kind, ProbeErrorKind::Corrupt, "{e}");
        assert!(e.message.contains("malformed"), "{e}");
    }

    #[test]
    fn display_says_what_and_what_to_do() {
        let e = probe(&fixture("text.mp3")).unwrap_err();
        let shown = e.to_string();
        assert!(shown.starts_with(&e.message) && shown.ends_with(&e.hint));
    }
}
