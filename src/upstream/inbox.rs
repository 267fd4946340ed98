//! What the province sent this station, kept for the console (*Bản tin
//! tỉnh gửi*) across restarts: one JSON file per bulletin under
//! `data_dir/tinh/` (the manifest, already verified, and what became of
//! it). Bounded: at most [`MAX_KEPT`] files of at most [`MAX_FILE`] bytes;
//! a bulletin is removed a day after it expired, the oldest first when
//! there are too many. No ledger table: the ledger keeps what aired.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::manifest::{Level, Manifest};

/// The folder of `data_dir` the bulletins are kept in.
pub const FOLDER: &str = "tinh";
/// Most bulletins kept.
pub const MAX_KEPT: usize = 200;
/// The largest file read back (a manifest is at most 64 KiB).
const MAX_FILE: u64 = 128 * 1024;
/// How long an expired bulletin stays listed, as expired.
const SHOWN_AFTER_EXPIRY: Duration = Duration::days(1);
/// Most airings one bulletin remembers (its times × days, and what
/// operators queued).
const MAX_OCCURRENCES: usize = 128;

/// Read, change and write one file at a time (the worker and the
/// console's actions both change them).
static LOCK: Mutex<()> = Mutex::new(());

/// Who declined a bulletin, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Declined {
    pub by: String,
    pub at: DateTime<Utc>,
}

/// One bulletin as the station keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Received {
    pub manifest: Manifest,
    pub received_at: DateTime<Utc>,
    /// Its audio, relative to `audio_dir`, once stored.
    #[serde(default)]
    pub file: Option<String>,
    /// The engine's occurrences queued for it.
    #[serde(default)]
    pub occurrences: Vec<String>,
    #[serde(default)]
    pub aired_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub declined: Option<Declined>,
    /// Why the station could not act on it (a refusal's code).
    #[serde(default)]
    pub failed: Option<String>,
}

/// Where a bulletin stands, as the console shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Standing {
    /// Stored, for an operator to air (a normal bulletin without times).
    Waiting,
    /// Queued; its next airing.
    Scheduled(DateTime<Utc>),
    Aired(DateTime<Utc>),
    Declined(Declined),
    Expired,
    Failed(String),
}

impl Received {
    pub fn new(manifest: Manifest, now: DateTime<Utc>) -> Received {
        Received {
            manifest,
            received_at: now,
            file: None,
            occurrences: Vec::new(),
            aired_at: None,
            declined: None,
            failed: None,
        }
    }

    /// Where it stands at `now`.
    pub fn standing(&self, now: DateTime<Utc>) -> Standing {
        if let Some(d) = &self.declined {
            return Standing::Declined(d.clone());
        }
        let next = self
            .occurrences
            .iter()
            .filter_map(|o| crate::schedule::OccurrenceKey::parse(o))
            .map(|k| k.scheduled_at())
            .filter(|t| *t > now)
            .min();
        match (self.aired_at, next) {
            // A normal bulletin with times airs again at its next time.
            (_, Some(t)) if self.manifest.expires > now => Standing::Scheduled(t),
            (Some(at), _) => Standing::Aired(at),
            _ if self.manifest.expires <= now => Standing::Expired,
            _ => match &self.failed {
                Some(code) => Standing::Failed(code.clone()),
                None if !self.occurrences.is_empty() => {
                    // Queued for now, not seen airing yet.
                    Standing::Scheduled(self.received_at)
                }
                None => Standing::Waiting,
            },
        }
    }

    /// Whether an operator may still air or decline it: a normal bulletin
    /// that has not expired and was not declined.
    pub fn open(&self, now: DateTime<Utc>) -> bool {
        self.manifest.priority == Level::Normal
            && self.declined.is_none()
            && self.manifest.expires > now
    }

    /// Remember the occurrences queued for it (bounded).
    pub fn add_occurrences(&mut self, occ: impl IntoIterator<Item = String>) {
        for o in occ {
            if self.occurrences.len() >= MAX_OCCURRENCES {
                break;
            }
            self.occurrences.push(o);
        }
    }
}

/// The bulletins kept in one `data_dir`.
pub struct Inbox {
    dir: PathBuf,
}

pub use crate::broadcast::usable_id;

impl Inbox {
    pub fn at(data_dir: &Path) -> Inbox {
        Inbox {
            dir: data_dir.join(FOLDER),
        }
    }

    fn path(&self, id: &str) -> Option<PathBuf> {
        usable_id(id).then(|| self.dir.join(format!("{id}.json")))
    }

    fn read(path: &Path) -> Option<Received> {
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_file() || meta.len() > MAX_FILE {
            return None;
        }
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    fn write(&self, r: &Received) -> std::io::Result<()> {
        let path = self.path(&r.manifest.id).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a bulletin id")
        })?;
        let body = serde_json::to_vec(r).map_err(std::io::Error::other)?;
        super::act::store(&path, &body)
    }

    /// Keep `r` (replacing what was kept under its id), then prune.
    pub fn put(&self, r: &Received) -> std::io::Result<()> {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        self.write(r)?;
        self.prune(Utc::now());
        Ok(())
    }

    /// The bulletin kept under `id`.
    pub fn get(&self, id: &str) -> Option<Received> {
        Self::read(&self.path(id)?)
    }

    /// Change the bulletin kept under `id` with `f`: what it became, or
    /// `None` when none is kept.
    pub fn update(
        &self,
        id: &str,
        f: impl FnOnce(&mut Received),
    ) -> std::io::Result<Option<Received>> {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut r) = self.get(id) else {
            return Ok(None);
        };
        f(&mut r);
        self.write(&r)?;
        Ok(Some(r))
    }

    /// Every bulletin kept, newest first.
    pub fn list(&self) -> Vec<Received> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<Received> = dir
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .take(MAX_KEPT * 2)
            .filter_map(|p| Self::read(&p))
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.received_at));
        out
    }

    /// Remove what expired more than a day ago, and the oldest beyond
    /// [`MAX_KEPT`].
    fn prune(&self, now: DateTime<Utc>) {
        let all = self.list();
        for (i, r) in all.iter().enumerate() {
            if i >= MAX_KEPT || r.manifest.expires + SHOWN_AFTER_EXPIRY < now {
                if let Some(p) = self.path(&r.manifest.id) {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(id: &str, issued: DateTime<Utc>, expires: DateTime<Utc>) -> Manifest {
        Manifest {
            id: id.into(),
            publisher: "So TTTT".into(),
            issued,
            expires,
            priority: Level::Normal,
            title: "Họp dân".into(),
            text: Some("Mời bà con họp.".into()),
            audio: None,
            targets: "all".into(),
            schedule: None,
            repeat: None,
        }
    }

    #[test]
    fn kept_bulletins_come_back_bounded_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = Inbox::at(dir.path());
        let now = Utc::now();
        let old = manifest("old", now - Duration::days(3), now - Duration::days(2));
        inbox
            .put(&Received::new(old, now - Duration::days(3)))
            .unwrap();
        for i in 0..MAX_KEPT + 5 {
            let m = manifest(&format!("b{i}"), now, now + Duration::hours(1));
            let at = now + Duration::milliseconds(i as i64);
            inbox.put(&Received::new(m, at)).unwrap();
        }
        let all = inbox.list();
        assert_eq!(all.len(), MAX_KEPT, "bounded");
        assert_eq!(
            all[0].manifest.id,
            format!("b{}", MAX_KEPT + 4),
            "newest first"
        );
        assert!(inbox.get("old").is_none(), "expired long ago: pruned");
        assert!(inbox.get("b0").is_none(), "the oldest went");
        assert!(inbox.get("../x").is_none() && inbox.get(".hidden").is_none());

        let r = inbox
            .update("b10", |r| {
                r.declined = Some(Declined {
                    by: "van-hanh".into(),
                    at: now,
                })
            })
            .unwrap()
            .unwrap();
        assert!(!r.open(now));
        assert!(matches!(
            inbox.get("b10").unwrap().standing(now),
            Standing::Declined(_)
        ));
        assert!(inbox.update("nope", |_| {}).unwrap().is_none());
    }

    #[test]
    fn standing_follows_what_became_of_it() {
        let now = Utc::now();
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let mut r = Received::new(manifest("x", now, now + Duration::hours(2)), now);
        assert_eq!(r.standing(now), Standing::Waiting);
        let later = now + Duration::minutes(30);
        let key = crate::schedule::OccurrenceKey::queued("operator", 1, "province:x", later, tz);
        r.add_occurrences([String::from(key)]);
        assert!(
            matches!(r.standing(now), Standing::Scheduled(t) if (t - later).num_seconds() == 0)
        );
        r.aired_at = Some(later);
        assert_eq!(
            r.standing(later + Duration::minutes(1)),
            Standing::Aired(later)
        );
        assert_eq!(r.standing(now + Duration::hours(3)), Standing::Aired(later));
        let mut gone = Received::new(manifest("y", now, now + Duration::hours(1)), now);
        assert_eq!(gone.standing(now + Duration::hours(2)), Standing::Expired);
        gone.failed = Some("queue_full".into());
        assert_eq!(gone.standing(now), Standing::Failed("queue_full".into()));
    }
}
