//! The province's signing keys (`crate::upstream`): the publisher's
//! private key, made by `loa publish keygen` and read by `loa publish`
//! and the central host's page, and a public key as stations write it.
//! Here, below the station file, so `loa check` can check `[publish] key`.
//! The file holds `ed25519-secret:` and 64 hex digits, mode
//! 0600; it is never overwritten.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;

use ed25519_dalek::VerifyingKey;

const PREFIX: &str = "ed25519-secret:";

/// A public key as stations write it in `[upstream] keys`.
pub fn key_text(key: &VerifyingKey) -> String {
    format!("ed25519:{}", crate::hex::encode(key.as_bytes()))
}

/// Make a key at `out` and answer the public line stations paste into
/// `[upstream] keys`.
pub fn keygen(out: &Path) -> anyhow::Result<String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| {
            format!(
                "cannot create {} (an existing key is never overwritten; choose another --out)",
                out.display()
            )
        })?;
    writeln!(f, "{PREFIX}{}", crate::hex::encode(&seed))
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(key_text(&key.verifying_key()))
}

/// Read the key `keygen` wrote; refused when others than its owner may
/// read it (mode 0600, as `keygen` writes it).
pub fn read(path: &Path) -> anyhow::Result<SigningKey> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .with_context(|| format!("cannot read the key {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} may be read by others (mode {:o}): run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key {}", path.display()))?;
    let Some(seed) = text
        .trim()
        .strip_prefix(PREFIX)
        .and_then(crate::hex::decode32)
    else {
        bail!(
            "{} is not a key made by `loa publish keygen` ({PREFIX} and 64 hex digits)",
            path.display()
        );
    };
    Ok(SigningKey::from_bytes(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keygen_writes_a_private_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("tinh.key");
        let public = keygen(&out).unwrap();
        assert!(public.starts_with("ed25519:") && public.len() == 8 + 64);
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let key = read(&out).unwrap();
        assert_eq!(key_text(&key.verifying_key()), public);
        let again = keygen(&out).unwrap_err().to_string();
        assert!(again.contains("never overwritten"), "{again}");
        assert_eq!(key_text(&read(&out).unwrap().verifying_key()), public);
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
        let open = read(&out).unwrap_err().to_string();
        assert!(open.contains("chmod 600"), "{open}");
    }
}
