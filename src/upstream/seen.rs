//! The bulletin ids a station already obeyed, kept in `data_dir` so a
//! broker's redelivery (after a restart, a lost acknowledgement, a replay)
//! never airs one twice. Each id is kept until its bulletin expires (after
//! that `verify` refuses it as expired anyway), and at most [`MAX_SEEN`]
//! are kept: the ones expiring soonest go first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

/// Most ids kept: a province sends far fewer within a bulletin's life.
pub const MAX_SEEN: usize = 10_000;
/// The file's largest size read back (an id and an instant per line).
const MAX_FILE: u64 = 4 * 1024 * 1024;

pub struct Seen {
    path: PathBuf,
    ids: BTreeMap<String, DateTime<Utc>>,
}

impl Seen {
    /// The ids kept in `dir` (none if the file is missing or unreadable:
    /// a station never stops over it; it logs the problem).
    pub fn open(dir: &Path) -> Seen {
        let path = dir.join("upstream-seen.json");
        let ids = match std::fs::metadata(&path) {
            Ok(m) if m.len() > MAX_FILE => {
                tracing::warn!(
                    "{} is larger than {MAX_FILE} bytes; starting empty",
                    path.display()
                );
                BTreeMap::new()
            }
            Ok(_) => std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_else(|| {
                    tracing::warn!("{} cannot be read; starting empty", path.display());
                    BTreeMap::new()
                }),
            Err(_) => BTreeMap::new(),
        };
        Seen { path, ids }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains_key(id)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Keep `id` until `expires`, drop what expired by `now`, and write
    /// the file (a temporary beside it, then renamed).
    pub fn insert(
        &mut self,
        id: &str,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> std::io::Result<()> {
        self.ids.retain(|_, e| *e > now);
        self.ids.insert(id.to_string(), expires);
        while self.ids.len() > MAX_SEEN {
            let first = self
                .ids
                .iter()
                .min_by_key(|(_, e)| **e)
                .map(|(k, _)| k.clone());
            match first {
                Some(k) => self.ids.remove(&k),
                None => break,
            };
        }
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&self.ids)?)?;
        std::fs::rename(&tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn ids_are_kept_across_opens_and_pruned_after_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let mut s = Seen::open(dir.path());
        s.insert("a", now + Duration::hours(1), now).unwrap();
        s.insert("b", now + Duration::hours(3), now).unwrap();
        let mut s = Seen::open(dir.path());
        assert!(s.contains("a") && s.contains("b"));
        s.insert("c", now + Duration::hours(4), now + Duration::hours(2))
            .unwrap();
        let s = Seen::open(dir.path());
        assert!(!s.contains("a"), "expired ids are pruned");
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn the_store_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let mut s = Seen::open(dir.path());
        for i in 0..MAX_SEEN {
            s.ids.insert(format!("x{i}"), now + Duration::hours(2));
        }
        s.insert("soon", now + Duration::minutes(1), now).unwrap();
        s.insert("late", now + Duration::hours(5), now).unwrap();
        assert_eq!(s.len(), MAX_SEEN);
        assert!(s.contains("late"));
        assert!(!s.contains("soon"), "the id expiring soonest goes first");
    }

    #[test]
    fn a_broken_file_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("upstream-seen.json"), "{not json").unwrap();
        assert!(Seen::open(dir.path()).is_empty());
    }
}
