//! The titles operators give their recordings ("Thông báo tiêm phòng dại"
//! for `ghi-am-20261007-061500.wav`): shown in the pickers, and carried by
//! what airs into the status, the ledger and the report. A recording's
//! file name stays ours (an ASCII slug, see `upload`); its title is text,
//! bounded and free of control characters, never a path.
//!
//! Kept in `data_dir/recording-titles.json`, written whole to a temporary
//! file and renamed (a power cut leaves the old map or the new one), one
//! writer at a time. Titles of files no longer in `audio_dir` are dropped
//! on each write, so the map never outgrows the folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Error, Result};

/// The file of titles under `data_dir`.
pub const TITLES_FILE: &str = "recording-titles.json";
/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 120;

/// One writer at a time (uploads may land together).
#[derive(Default)]
pub struct Titles {
    write: Mutex<()>,
}

/// A title as given: trimmed, spaces folded; `None` when blank.
pub fn check_title(given: &str) -> Result<Option<String>> {
    let title = given.split_whitespace().collect::<Vec<_>>().join(" ");
    let chars = title.chars().count();
    if chars == 0 {
        return Ok(None);
    }
    if chars > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(Error::BadTitle {
            chars,
            max: MAX_TITLE_CHARS,
        });
    }
    Ok(Some(title))
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(TITLES_FILE)
}

/// Every recording's title, by file name. A missing or unreadable file
/// is no titles (the recordings keep their file names), logged.
pub fn read(data_dir: &Path) -> BTreeMap<String, String> {
    let p = path(data_dir);
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(
                "{}: not a map of titles ({e}); recordings show their file names",
                p.display()
            );
            BTreeMap::new()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => {
            tracing::warn!("{}: {e}; recordings show their file names", p.display());
            BTreeMap::new()
        }
    }
}

impl Titles {
    /// Name `file` (a recording in `audio_dir`) `title`.
    pub fn set(&self, data_dir: &Path, audio_dir: &Path, file: &str, title: &str) -> Result<()> {
        let _one = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut all = read(data_dir);
        all.retain(|f, _| audio_dir.join(f).is_file());
        all.insert(file.to_string(), title.to_string());
        let json = serde_json::to_vec_pretty(&all).expect("a map of strings serializes");
        std::fs::create_dir_all(data_dir)
            .map_err(|e| Error::io("keep the recording's title", e))?;
        let tmp = data_dir.join(format!(".{TITLES_FILE}.tmp"));
        std::fs::write(&tmp, json)
            .and_then(|()| std::fs::rename(&tmp, path(data_dir)))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                Error::io("keep the recording's title", e)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_bounded_text() {
        assert_eq!(
            check_title("  Thông báo \n tiêm phòng  ")
                .unwrap()
                .as_deref(),
            Some("Thông báo tiêm phòng")
        );
        assert_eq!(check_title(" \t ").unwrap(), None);
        assert!(check_title(&"a".repeat(121)).is_err());
        assert!(check_title("a\u{7}b").is_err());
        assert!(check_title(&"ă".repeat(120)).unwrap().is_some());
    }

    #[test]
    fn titles_survive_a_restart_and_follow_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let (data, audio) = (dir.path().join("var"), dir.path().join("audio"));
        std::fs::create_dir_all(&audio).unwrap();
        std::fs::write(audio.join("a.wav"), b"x").unwrap();
        std::fs::write(audio.join("b.wav"), b"x").unwrap();
        let t = Titles::default();
        t.set(&data, &audio, "a.wav", "Họp tổ dân phố").unwrap();
        t.set(&data, &audio, "b.wav", "Tiêm phòng").unwrap();
        assert_eq!(read(&data).len(), 2);
        // A removed recording's title goes with the next write.
        std::fs::remove_file(audio.join("a.wav")).unwrap();
        t.set(&data, &audio, "b.wav", "Tiêm phòng dại").unwrap();
        let all = read(&data);
        assert_eq!(all.len(), 1);
        assert_eq!(all["b.wav"], "Tiêm phòng dại");
        // A damaged file is no titles, not a crash.
        std::fs::write(data.join(TITLES_FILE), b"{not json").unwrap();
        assert!(read(&data).is_empty());
    }
}
