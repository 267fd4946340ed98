//! The cache of rendered notices, `data_dir/tts`, bounded by `[tts]
//! cache_mb`: a notice read aloud is several megabytes (a 4,000-character
//! one, minutes of speech), and every different text is a new file. When
//! the cache is over its cap, the files used longest ago go first (a use
//! renews a file's modification time); files the caller keeps (queued,
//! airing, scheduled, being rendered) are never removed.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tracing::info;

/// What a sweep left and removed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Sweep {
    /// Bytes of the cache's WAV files after the sweep.
    pub bytes: u64,
    /// The files removed, with their sizes.
    pub evicted: Vec<(PathBuf, u64)>,
}

/// The cache's WAV files with their sizes and last use, oldest first.
/// Renders in progress (hidden names) are left out.
fn files(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<_> = rd
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && name.ends_with(".wav")
        })
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            m.is_file().then(|| {
                let used = m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                (e.path(), m.len(), used)
            })
        })
        .collect();
    v.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Bytes of the cache's WAV files.
pub fn bytes(dir: &Path) -> u64 {
    files(dir).iter().map(|f| f.1).sum()
}

/// Remove the files used longest ago, except those `keep` says, until the
/// cache holds at most `cap` bytes (or nothing more can go). Each removal
/// is logged.
pub fn sweep(dir: &Path, cap: u64, keep: impl Fn(&Path) -> bool) -> Sweep {
    let all = files(dir);
    let mut bytes: u64 = all.iter().map(|f| f.1).sum();
    let mut evicted = Vec::new();
    for (path, size, _) in all {
        if bytes <= cap {
            break;
        }
        if keep(&path) {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {
                bytes -= size;
                info!(
                    file = %path.display(),
                    bytes = size,
                    cache_bytes = bytes,
                    cap_bytes = cap,
                    "tts cache over [tts] cache_mb: removed the notice used longest ago"
                );
                evicted.push((path, size));
            }
            // Gone already (another sweep): it no longer counts.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bytes -= size,
            Err(_) => {}
        }
    }
    Sweep { bytes, evicted }
}

/// Mark `path` as just used, so it is the last to go.
pub fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().write(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn put(dir: &Path, name: &str, len: usize, age_s: u64) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, vec![0u8; len]).unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(age_s))
            .unwrap();
        p
    }

    #[test]
    fn the_oldest_unkept_files_go_first_until_under_the_cap() {
        let d = tempfile::tempdir().unwrap();
        let oldest = put(d.path(), "a.wav", 100, 40);
        let kept = put(d.path(), "b.wav", 100, 30);
        let old = put(d.path(), "c.wav", 100, 20);
        let new = put(d.path(), "d.wav", 100, 10);
        put(d.path(), ".render-1-0.wav", 1000, 50);
        assert_eq!(bytes(d.path()), 400);
        let s = sweep(d.path(), 250, |p| p == kept);
        assert_eq!(s.bytes, 200);
        assert_eq!(s.evicted, vec![(oldest, 100), (old.clone(), 100)]);
        assert!(kept.exists() && new.exists() && !old.exists());
        // Nothing more can go: the sweep says so by what is left.
        let s = sweep(d.path(), 0, |_| true);
        assert_eq!(s.bytes, 200);
        assert!(s.evicted.is_empty());
        // A use makes a file the last to go.
        touch(&kept);
        let s = sweep(d.path(), 100, |_| false);
        assert_eq!(s.evicted, vec![(new, 100)]);
        assert!(kept.exists());
    }
}
