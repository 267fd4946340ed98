//! Opening an audio file with symphonia: the one place that does it.
//!
//! The probe (`loa check`, uploads) and the player (`audio::decode`) must
//! read a file the same way — the same demuxer, options, track and decoder
//! — or a file that probes clean could air differently. Both open files
//! here. `probe` and `audio` are siblings (neither imports the other), so
//! this is a leaf below both: it imports nothing of the crate.
//!
//! symphonia is fed whatever operators upload, and a file it was never
//! tested on can make it panic. [`guarded`] turns such a panic into an
//! error, so a bad file fails its check or its item, never the thread that
//! read it.
//!
//! This module owns nothing but the file handle it is given: it never
//! touches the output, and it never writes.

use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::OnceLock;

use symphonia::core::codecs::{
    CodecParameters, CodecRegistry, Decoder, DecoderOptions, CODEC_TYPE_NULL,
};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader, Track};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// Identify `file` (named `path`, whose extension is a hint) and open its
/// container. Gapless is on: encoder delay and padding are trimmed, so what
/// is measured is what airs.
pub(crate) fn open(file: File, path: &Path) -> Result<Box<dyn FormatReader>, SymError> {
    let ext = path.extension().and_then(|e| e.to_str());
    let reader = open_source(Box::new(file), ext)?;
    #[cfg(test)]
    let reader = faults::wrap(reader, path);
    Ok(reader)
}

/// Identify and open a stream that is read as it arrives (a relay's HTTP
/// body, which cannot seek); `ext` (e.g. `mp3`, `aac`) is a hint taken from
/// its content type or address.
pub(crate) fn open_stream(
    stream: Box<dyn std::io::Read + Send + Sync>,
    ext: Option<&str>,
) -> Result<Box<dyn FormatReader>, SymError> {
    let source = symphonia::core::io::ReadOnlySource::new(stream);
    open_source(Box::new(source), ext)
}

fn open_source(
    source: Box<dyn symphonia::core::io::MediaSource>,
    ext: Option<&str>,
) -> Result<Box<dyn FormatReader>, SymError> {
    let mut hint = Hint::new();
    if let Some(ext) = ext {
        hint.with_extension(ext);
    }
    let format_opts = FormatOptions {
        enable_gapless: true,
        ..Default::default()
    };
    let mss = MediaSourceStream::new(source, Default::default());
    Ok(symphonia::default::get_probe()
        .format(&hint, mss, &format_opts, &MetadataOptions::default())?
        .format)
}

/// The track that airs: the first one with a codec.
pub(crate) fn audio_track(reader: &dyn FormatReader) -> Option<Track> {
    reader
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .cloned()
}

/// A decoder for `params`, with default options, from [`codecs`].
pub(crate) fn decoder(params: &CodecParameters) -> Result<Box<dyn Decoder>, SymError> {
    codecs().make(params, &DecoderOptions::default())
}

/// symphonia's decoders, plus two for the formats phones make that it
/// cannot decode itself:
/// - Opus (voice notes from Zalo, Telegram, WhatsApp in Ogg; Chrome's
///   recorder in WebM), by libopus;
/// - AAC, by Fraunhofer's FDK decoder in place of symphonia's, which only
///   knows AAC-LC: phones record HE-AAC (SBR, often with PS), whose core
///   alone airs muffled at half the bandwidth (and mono, for v2). FDK
///   decodes LC as well, so every AAC file goes through the same decoder.
pub(crate) fn codecs() -> &'static CodecRegistry {
    static CODECS: OnceLock<CodecRegistry> = OnceLock::new();
    CODECS.get_or_init(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        // Registered last, so they win over symphonia's own for AAC.
        registry.register_all::<symphonia_adapter_libopus::OpusDecoder>();
        registry.register_all::<symphonia_adapter_fdk_aac::AacDecoder>();
        registry
    })
}

/// symphonia panicked while reading a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Panicked;

/// Run `read`, which reads a file through symphonia; a panic inside becomes
/// `Err(Panicked)`. Whatever `read` borrowed mutably may be half-updated
/// after a panic: the caller must not read that file through it again.
pub(crate) fn guarded<T>(read: impl FnOnce() -> T) -> Result<T, Panicked> {
    catch_unwind(AssertUnwindSafe(read)).map_err(|_| Panicked)
}

/// Fault injection for tests: make reading a given file go wrong the way
/// real files and disks can, to prove that every reader survives it.
#[cfg(test)]
pub mod faults {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;
    use std::time::Duration;

    use symphonia::core::errors::{Error, Result};
    use symphonia::core::formats::{
        Cue, FormatOptions, FormatReader, Packet, SeekMode, SeekTo, SeekedTo, Track,
    };
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::Metadata;

    /// What goes wrong with a file.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Fault {
        /// The demuxer panics when asked for the packet after this many,
        /// as symphonia can on a malformed file.
        PanicAfterPackets(u64),
        /// Opening takes this long, as on a slow SD card.
        SlowOpen(Duration),
    }

    static FAULTS: Mutex<Option<HashMap<PathBuf, Fault>>> = Mutex::new(None);

    /// From now on, every open of `path` suffers `fault`. Use a path of the
    /// test's own (tests run in parallel).
    pub fn inject(path: &Path, fault: Fault) {
        FAULTS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(HashMap::new)
            .insert(path.to_path_buf(), fault);
    }

    /// A copy of `src` named `name` in a temporary directory of the
    /// test's own (returned: the copy lives as long as it), with `fault`
    /// injected.
    pub fn copy_with_fault(src: &Path, name: &str, fault: Fault) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join(name);
        std::fs::copy(src, &path).expect("copy the file to break");
        inject(&path, fault);
        (dir, path)
    }

    pub(super) fn wrap(inner: Box<dyn FormatReader>, path: &Path) -> Box<dyn FormatReader> {
        let fault = FAULTS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|m| m.get(path).copied());
        match fault {
            Some(Fault::PanicAfterPackets(left)) => Box::new(Panicking { inner, left }),
            Some(Fault::SlowOpen(delay)) => {
                std::thread::sleep(delay);
                inner
            }
            None => inner,
        }
    }

    struct Panicking {
        inner: Box<dyn FormatReader>,
        left: u64,
    }

    impl FormatReader for Panicking {
        fn try_new(_: MediaSourceStream, _: &FormatOptions) -> Result<Self>
        where
            Self: Sized,
        {
            Err(Error::Unsupported(
                "a fault-injecting reader only wraps another",
            ))
        }
        fn cues(&self) -> &[Cue] {
            self.inner.cues()
        }
        fn metadata(&mut self) -> Metadata<'_> {
            self.inner.metadata()
        }
        fn seek(&mut self, mode: SeekMode, to: SeekTo) -> Result<SeekedTo> {
            self.inner.seek(mode, to)
        }
        fn tracks(&self) -> &[Track] {
            self.inner.tracks()
        }
        fn next_packet(&mut self) -> Result<Packet> {
            if self.left == 0 {
                panic!("injected fault: the demuxer panics");
            }
            self.left -= 1;
            self.inner.next_packet()
        }
        fn into_inner(self: Box<Self>) -> MediaSourceStream {
            self.inner.into_inner()
        }
    }
}
