//! HE-AAC (AAC with SBR/PS) detection, at the bit level, so `loa check`
//! can name what phones record. (The FDK decoder `media` uses decodes SBR
//! and PS; symphonia's own decoder would air only the AAC-LC core.)

use symphonia::core::codecs::CodecParameters;

/// HE-AAC signalled in the AudioSpecificConfig: explicitly (object type 5
/// or 29 first, "hierarchical"), or backward-compatibly (AAC-LC first, then
/// the 0x2B7 sync extension with SBR present). symphonia 0.5 reads the first
/// and ignores the SBR it announces; it does not read the second at all.
pub(super) fn he_aac_in_header(params: &CodecParameters) -> Option<String> {
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
pub(super) fn aac_frame_has_sbr(frame: &[u8]) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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
