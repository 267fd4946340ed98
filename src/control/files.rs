//! Names of audio files coming from clients, and the files in `audio_dir`.
//!
//! No path from a client is trusted: a name to queue must be a plain file
//! name that resolves, after following links, inside `audio_dir`; a name
//! for an upload is derived from the client's name as an ASCII slug. This
//! module only reads the filesystem (uploads write through `upload`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

use super::{Error, Result};
use crate::probe::{probe, AudioInfo};

/// Refuse names that could leave `audio_dir` or hide: absolute paths,
/// backslashes, `..`, empty components, NUL and control characters, hidden
/// names (uploads in progress are hidden), overlong names. A relative path
/// into a sub-folder (`cds/thong-diep.mp3`, as `GET /bulletins` lists it) is
/// fine; `resolve` then checks where it really leads.
pub fn check_name(name: &str) -> Result<()> {
    let bad = |why: &'static str| {
        Err(Error::BadFileName {
            name: name.to_string(),
            why,
        })
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > 255 {
        return bad("is longer than 255 bytes");
    }
    if name.contains('\\') {
        return bad("contains a backslash");
    }
    if name.starts_with('/') {
        return bad("is an absolute path");
    }
    if name.chars().any(char::is_control) {
        return bad("contains NUL or a control character");
    }
    for part in name.split('/') {
        if part.is_empty() {
            return bad("has an empty path component");
        }
        if part == ".." || part.contains("..") {
            return bad("contains `..`");
        }
        if part.starts_with('.') {
            return bad("names a hidden file or folder (starts with a dot)");
        }
    }
    Ok(())
}

pub fn resolve(audio_dir: &Path, name: &str) -> Result<PathBuf> {
    check_name(name)?;
    let dir = audio_dir
        .canonicalize()
        .map_err(|e| Error::AudioDirUnreadable {
            dir: audio_dir.display().to_string(),
            cause: e.to_string(),
        })?;
    let path = dir.join(name);
    let real = match path.canonicalize() {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::UnknownFile { name: name.into() })
        }
        Err(e) => {
            return Err(Error::UnreadableFile {
                name: name.into(),
                cause: e.to_string(),
            })
        }
    };
    if !real.starts_with(&dir) {
        return Err(Error::FileOutsideAudioDir { name: name.into() });
    }
    if !real.is_file() {
        return Err(Error::NotAFile { name: name.into() });
    }
    Ok(real)
}

/// Probe a file among the station's audio files, by its name there.
pub fn probe_named(audio_dir: &Path, name: &str) -> Result<AudioInfo> {
    let path = resolve(audio_dir, name)?;
    crate::probe::probe(&path).map_err(|e| Error::bad_audio(&e, &path, name))
}

/// Fold Vietnamese (and other Latin) letters to ASCII and keep `[a-z0-9-]`:
/// "Thông báo họp thôn.m4a" → "thong-bao-hop-thon". Never empty.
pub fn slug(client_name: &str) -> String {
    let stem = Path::new(client_name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = String::new();
    for c in stem.chars().flat_map(char::to_lowercase) {
        let c = fold(c);
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 60 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "ghi-am".to_string()
    } else {
        out
    }
}

fn fold(c: char) -> char {
    const GROUPS: &[(&str, char)] = &[
        ("àáảãạăằắẳẵặâầấẩẫậä", 'a'),
        ("èéẻẽẹêềếểễệë", 'e'),
        ("ìíỉĩịï", 'i'),
        ("òóỏõọôồốổỗộơờớởỡợö", 'o'),
        ("ùúủũụưừứửữựü", 'u'),
        ("ỳýỷỹỵÿ", 'y'),
        ("đ", 'd'),
        ("ç", 'c'),
        ("ñ", 'n'),
    ];
    if c.is_ascii() {
        return c;
    }
    GROUPS
        .iter()
        .find(|(g, _)| g.contains(c))
        .map_or('-', |&(_, a)| a)
}

/// One audio file of `audio_dir`, as `GET /api/v1/bulletins` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct FileView {
    /// Relative to `audio_dir`.
    pub file: String,
    pub bytes: u64,
    pub audio: Option<AudioInfo>,
    /// Why it would not play right, when it would not.
    pub problem: Option<String>,
}

/// A file's size and modification time: when either changes, probe again.
type Key = (u64, Option<SystemTime>);
type Probed = (Key, Result<AudioInfo, String>);

#[derive(Default)]
pub struct ProbeCache(Mutex<HashMap<PathBuf, Probed>>);

/// At most this many files are listed: a listing is for people.
const MAX_LISTED: usize = 2000;
const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "m4a", "mp4", "aac", "flac", "ogg", "oga", "opus", "webm", "wav",
];

impl ProbeCache {
    fn probe(&self, path: &Path, key: Key) -> Result<AudioInfo, String> {
        if let Some((k, r)) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(path) {
            if *k == key {
                return r.clone();
            }
        }
        let r = probe(path).map_err(|e| format!("{} {}", e.message, e.hint));
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_path_buf(), (key, r.clone()));
        r
    }
}

/// The audio files under `dir` (hidden ones left out), probed. Blocking.
pub fn list(dir: &Path, cache: &ProbeCache) -> Vec<FileView> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = e.path();
            // Links are not followed: a listing never leaves audio_dir.
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file()
                && path
                    .extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| AUDIO_EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()))
            {
                found.push((path, meta));
            }
            if found.len() >= MAX_LISTED {
                break;
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
        .into_iter()
        .map(|(path, meta)| {
            let r = cache.probe(&path, (meta.len(), meta.modified().ok()));
            FileView {
                file: path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned(),
                bytes: meta.len(),
                problem: r.as_ref().err().cloned(),
                audio: r.ok(),
            }
        })
        .collect()
}

/// Bytes free for an unprivileged writer and the size of the filesystem
/// holding `dir`; `None` when it cannot be asked (the ledger's own errors
/// say why).
pub fn disk_space(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a NUL-terminated path and `st` is written by statvfs
    // before it is read (only when it returns 0).
    let st = unsafe {
        if libc::statvfs(c.as_ptr(), st.as_mut_ptr()) != 0 {
            return None;
        }
        st.assume_init()
    };
    let frag = st.f_frsize as u64;
    Some((st.f_bavail as u64 * frag, st.f_blocks as u64 * frag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_audio_dir_are_refused() {
        for name in [
            "",
            "../etc/passwd",
            "/etc/passwd",
            "a//b.mp3",
            "a/../b.mp3",
            "a/.hidden/b.mp3",
            "a/",
            "a\\b.mp3",
            "..",
            "x..mp3",
            "a\0b.mp3",
            ".hidden.mp3",
            "line\nbreak.mp3",
        ] {
            let e = check_name(name).unwrap_err();
            assert!(matches!(e, Error::BadFileName { .. }), "{name:?}: {e:?}");
        }
        check_name("thong-bao.mp3").unwrap();
        check_name("Thông báo.m4a").unwrap();
        // Sub-folders, as the example station keeps its files.
        check_name("cds/thong-diep.mp3").unwrap();
    }

    #[test]
    fn the_disk_is_measured() {
        let (free, size) = disk_space(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert!(size > 0 && free <= size);
        assert!(disk_space(Path::new("/no/such/dir")).is_none());
    }

    #[test]
    fn resolve_stays_inside_audio_dir() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("audio");
        std::fs::create_dir(&audio).unwrap();
        std::fs::write(audio.join("a.mp3"), b"x").unwrap();
        std::fs::write(dir.path().join("secret.mp3"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.mp3"), audio.join("out.mp3")).unwrap();
        std::os::unix::fs::symlink(audio.join("a.mp3"), audio.join("in.mp3")).unwrap();
        std::fs::create_dir(audio.join("sub")).unwrap();

        assert_eq!(
            resolve(&audio, "a.mp3").unwrap(),
            audio.canonicalize().unwrap().join("a.mp3")
        );
        // A link that stays inside is fine; one that leads out is not.
        assert!(resolve(&audio, "in.mp3").is_ok());
        let refused = |name| resolve(&audio, name).unwrap_err();
        assert!(matches!(
            refused("out.mp3"),
            Error::FileOutsideAudioDir { .. }
        ));
        assert!(matches!(refused("nope.mp3"), Error::UnknownFile { .. }));
        assert!(matches!(refused("sub"), Error::NotAFile { .. }));
        assert!(matches!(
            refused("../secret.mp3"),
            Error::BadFileName { .. }
        ));
    }

    #[test]
    fn slugs_are_ascii_and_never_empty() {
        for (name, want) in [
            ("Thông báo họp thôn.m4a", "thong-bao-hop-thon"),
            ("ĐIỆN THOẠI 2026-10-07.M4A", "dien-thoai-2026-10-07"),
            ("../../etc/passwd", "passwd"),
            ("???.mp3", "ghi-am"),
            ("", "ghi-am"),
            ("a  b__c", "a-b-c"),
        ] {
            assert_eq!(slug(name), want, "{name:?}");
        }
        assert!(slug(&"x".repeat(500)).len() <= 60);
    }

    #[test]
    fn listing_probes_audio_and_skips_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(
            root.join("src/audio/testdata/tone1s.wav"),
            dir.path().join("tone.wav"),
        )
        .unwrap();
        std::fs::write(dir.path().join("bad.mp3"), [7u8; 3000]).unwrap();
        std::fs::write(dir.path().join(".upload.part"), b"x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let cache = ProbeCache::default();
        let l = list(dir.path(), &cache);
        let names: Vec<&str> = l.iter().map(|f| f.file.as_str()).collect();
        assert_eq!(names, ["bad.mp3", "tone.wav"]);
        assert!(l[0].problem.is_some() && l[0].audio.is_none());
        assert!((l[1].audio.as_ref().unwrap().seconds - 1.0).abs() < 0.01);
        // Cached: the same answer without probing again.
        assert_eq!(list(dir.path(), &cache)[1].audio, l[1].audio);
    }
}
