//! Bytes as lowercase hex digits, and back: token hashes, SHA-256 of audio,
//! Ed25519 keys.

/// `bytes` as lowercase hex, two digits a byte.
pub fn encode(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// 32 bytes written as 64 hex digits (either case); `None` otherwise.
pub fn decode32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let b: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        let text = super::encode(&b);
        assert_eq!(text.len(), 64);
        assert_eq!(super::decode32(&text), Some(b));
        assert_eq!(super::decode32(&text.to_uppercase()), Some(b));
        assert_eq!(super::decode32(&text[..62]), None);
        assert_eq!(super::decode32(&format!("{}zz", &text[..62])), None);
    }
}
