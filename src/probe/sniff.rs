//! What a file's first bytes say it is, before symphonia looks: refusals
//! that need no demuxer (zeros, text, AMR, WMA), the container's
//! everyday name, and whether an MP3 states its frame count.

/// What the first bytes of a file say it is, before symphonia looks.
pub(super) enum Sniffed {
    Zeros,
    Text,
    Amr,
    Asf,
    Other,
}

pub(super) fn sniff(head: &[u8]) -> Sniffed {
    if head.iter().all(|&b| b == 0) {
        return Sniffed::Zeros;
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
pub(super) fn has_container_magic(head: &[u8]) -> bool {
    matches!(
        container_name(head),
        "wav" | "ogg" | "flac" | "m4a" | "webm"
    )
}

/// The container's everyday name, from its magic bytes.
pub(super) fn container_name(head: &[u8]) -> &'static str {
    if head.starts_with(b"RIFF") {
        "wav"
    } else if head.starts_with(b"OggS") {
        "ogg"
    } else if head.starts_with(b"fLaC") {
        "flac"
    } else if head.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        // EBML: WebM (Chrome's recorder) or Matroska.
        "webm"
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
pub(super) fn mp3_has_frame_count(head: &[u8]) -> bool {
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
