//! API tokens: how one is made, what the station file keeps of it (its
//! SHA-256), and how a presented token is matched against those hashes.
//!
//! The station file holds hashes only, so a copy of it (a backup, a
//! screenshot) gives no control of the station. A presented token is hashed
//! and compared with every configured hash in constant time, with no early
//! exit, so response timing says nothing about how close a guess was.
//!
//! Used by `loa token new` and by the API's auth layer; it knows nothing of
//! HTTP.

use sha2::{Digest, Sha256};

use crate::config::ApiToken;

/// SHA-256 of a token's bytes.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

pub use crate::hex::encode as hex;

/// Equal in time independent of where they differ. Hand-written rather
/// than the `subtle` crate: it is one loop over 32 bytes, and `black_box`
/// keeps the optimiser from turning it back into an early exit.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(diff) == 0
}

/// The configured token whose hash matches `presented`, if any. Every
/// configured hash is compared, whatever matched earlier.
pub fn find<'t>(tokens: &'t [ApiToken], presented: &str) -> Option<&'t ApiToken> {
    let h = hash(presented);
    let mut found = None;
    for t in tokens {
        if ct_eq(&t.sha256, &h) {
            found = Some(t);
        }
    }
    found
}

/// A fresh token: `loa_` and 32 random bytes from the OS in hex. The prefix
/// lets secret scanners and people recognise what leaked.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("loa_{}", hex(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Role;

    fn token(name: &str, role: Role, secret: &str) -> ApiToken {
        ApiToken {
            name: name.into(),
            role,
            sha256: hash(secret),
        }
    }

    #[test]
    fn hash_is_sha256_hex_of_the_bytes() {
        // The value `loa token new` prints and the loader's example use.
        assert_eq!(
            hex(&hash("test")),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
    }

    #[test]
    fn finds_only_the_matching_token() {
        let tokens = vec![
            token("a", Role::Viewer, "secret-a"),
            token("b", Role::Admin, "secret-b"),
        ];
        assert_eq!(find(&tokens, "secret-b").unwrap().name, "b");
        assert_eq!(find(&tokens, "secret-a").unwrap().name, "a");
        assert!(find(&tokens, "secret-c").is_none());
        assert!(find(&tokens, "").is_none());
        assert!(find(&[], "secret-a").is_none());
    }

    #[test]
    fn constant_time_compare_is_equality() {
        let a = hash("x");
        let mut b = a;
        assert!(ct_eq(&a, &b));
        b[31] ^= 1;
        assert!(!ct_eq(&a, &b));
        b = a;
        b[0] ^= 0x80;
        assert!(!ct_eq(&a, &b));
    }

    #[test]
    fn new_tokens_are_fresh_and_well_formed() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert!(a.starts_with("loa_"));
        assert!(a[4..].bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
