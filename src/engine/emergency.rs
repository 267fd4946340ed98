//! The emergency broadcast: it cuts in at once, may repeat until a given
//! instant, and its repeats survive a restart (saved in the ledger's
//! `state` table, so a storm warning keeps repeating after a power cut).

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::clock::Clock;
use super::command::{EmergencyRequest, Refusal, Target};
use super::playout::Playout;
use super::status::QueuedView;
use super::Engine;
use crate::config::Priority;
use crate::ledger::{Outcome, Source};
use crate::reason::{By, Reason};

/// `state` key of the repeating emergency in force.
pub const EMERGENCY_STATE: &str = "emergency";

/// A repeating emergency in force.
pub(super) struct Repeat {
    pub(super) target: Target,
    pub(super) every: Duration,
    pub(super) until: Option<DateTime<Utc>>,
    pub(super) next_at: DateTime<Utc>,
    pub(super) requested_by: Option<String>,
    pub(super) title: String,
    pub(super) bulletin: String,
    /// Since when an emergency has been in force without a break (kept
    /// across restarts, for `/metrics`).
    pub(super) since: DateTime<Utc>,
}

/// A repeating emergency as saved in the ledger.
#[derive(Serialize, Deserialize)]
struct SavedRepeat {
    bulletin: Option<String>,
    file: Option<String>,
    path: Option<PathBuf>,
    seconds: Option<f64>,
    /// A file's title, when it has one of its own (a typed notice).
    #[serde(default)]
    file_title: Option<String>,
    /// The province's broadcast id (absent before it existed).
    #[serde(default)]
    tag: Option<String>,
    every_seconds: i64,
    until: Option<DateTime<Utc>>,
    next_at: DateTime<Utc>,
    requested_by: Option<String>,
    title: String,
    /// Absent in what older versions saved.
    #[serde(default)]
    since: Option<DateTime<Utc>>,
}

impl Repeat {
    fn save(&self) -> String {
        let (bulletin, file, path, seconds, file_title, tag) = match &self.target {
            Target::Bulletin(id) => (Some(id.clone()), None, None, None, None, None),
            Target::File {
                file,
                path,
                seconds,
                title: file_title,
                tag,
            } => (
                None,
                Some(file.clone()),
                Some(path.clone()),
                Some(*seconds),
                file_title.clone(),
                tag.clone(),
            ),
        };
        serde_json::to_string(&SavedRepeat {
            bulletin,
            file,
            path,
            seconds,
            file_title,
            tag,
            every_seconds: self.every.num_seconds(),
            until: self.until,
            next_at: self.next_at,
            requested_by: self.requested_by.clone(),
            title: self.title.clone(),
            since: Some(self.since),
        })
        .expect("a repeat serializes")
    }

    pub(super) fn restore(json: &str) -> Option<Repeat> {
        let s: SavedRepeat = serde_json::from_str(json).ok()?;
        let target = match (s.bulletin, s.file, s.path, s.seconds) {
            (Some(id), ..) => Target::Bulletin(id),
            (None, Some(file), Some(path), Some(seconds)) => Target::File {
                file,
                path,
                seconds,
                title: s.file_title,
                tag: s.tag,
            },
            _ => return None,
        };
        let bulletin = match &target {
            Target::Bulletin(id) => id.clone(),
            Target::File { file, .. } => file.clone(),
        };
        let every = Duration::seconds(s.every_seconds.max(60));
        Some(Repeat {
            target,
            every,
            until: s.until,
            next_at: s.next_at,
            requested_by: s.requested_by,
            title: s.title,
            bulletin,
            // Older saves: at least since the repeat before the next.
            since: s.since.unwrap_or(s.next_at - every),
        })
    }
}

impl<C: Clock, P: Playout> Engine<C, P> {
    /// Queue an emergency at once (it cuts what airs) and set, or clear,
    /// its repeats.
    pub(super) fn start_emergency(
        &mut self,
        req: EmergencyRequest,
        now: DateTime<Utc>,
    ) -> Result<QueuedView, Refusal> {
        let e = self.operator_entry(
            &req.target,
            Some(Priority::Emergency),
            Some(now),
            req.requested_by.clone(),
            Source::Emergency,
        )?;
        let view = QueuedView::of(&e);
        // One emergency replacing another keeps it in force since the first.
        let since = self.repeat.as_ref().map_or(now, |r| r.since);
        self.repeat = req.repeat.map(|r| Repeat {
            target: req.target.clone(),
            every: r.every,
            until: r.until,
            next_at: now + r.every,
            requested_by: req.requested_by.clone(),
            title: e.airing.title.clone(),
            bulletin: e.airing.bulletin.clone(),
            since,
        });
        self.save_repeat();
        warn!(bulletin = %e.airing.bulletin, by = ?req.requested_by, "emergency broadcast");
        self.decided.insert(e.airing.occurrence.clone(), now);
        self.enqueue(e);
        Ok(view)
    }

    /// Stop the repeats, drop the waiting emergencies (recorded `skipped`)
    /// and end the one that airs.
    pub(super) fn cancel_emergency(&mut self, by: By) -> Result<(), Refusal> {
        let had = self.repeat.take().is_some();
        self.save_repeat();
        let cancelled = self.queue.take_where(|e| e.airing.is_started_emergency());
        let dropped = !cancelled.is_empty();
        for e in cancelled {
            self.close_unaired(
                e,
                Outcome::Skipped,
                Reason::EmergencyCancelledBy { by: by.clone() },
            );
        }
        let mut stopped = false;
        if self
            .line
            .front()
            .is_some_and(|c| c.entry.airing.is_started_emergency())
        {
            stopped = self
                .stop_current(Reason::EmergencyCancelledBy { by })
                .is_some();
        }
        if had || stopped || dropped {
            Ok(())
        } else {
            Err(Refusal::NoEmergency)
        }
    }

    /// Keep the ledger's copy of the repeating emergency current.
    pub(super) fn save_repeat(&self) {
        self.recorder
            .state(EMERGENCY_STATE, self.repeat.as_ref().map(Repeat::save));
    }

    /// Queue the repeat that is due, if one is; end the repeats after
    /// their `until`.
    pub(super) fn repeat_emergency(&mut self, now: DateTime<Utc>) {
        let Some(r) = &mut self.repeat else { return };
        if r.until.is_some_and(|u| now > u) {
            info!(bulletin = %r.bulletin, "emergency repeats ended");
            self.repeat = None;
            self.save_repeat();
            return;
        }
        if now < r.next_at {
            return;
        }
        // Never release a backlog of repeats after a clock jump.
        while r.next_at <= now {
            r.next_at += r.every;
        }
        let (target, by) = (r.target.clone(), r.requested_by.clone());
        self.save_repeat();
        if let Ok(e) = self.operator_entry(
            &target,
            Some(Priority::Emergency),
            Some(now),
            by,
            Source::Emergency,
        ) {
            self.decided.insert(e.airing.occurrence.clone(), now);
            self.enqueue(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repeating emergency the province sent names its broadcast in
    /// every repeat, after a restart too.
    #[test]
    fn a_repeats_broadcast_id_is_kept_across_restarts() {
        let now = Utc::now();
        let r = Repeat {
            target: Target::File {
                file: "tinh/abc.mp3".into(),
                path: "/srv/loa/audio/tinh/abc.mp3".into(),
                seconds: 12.5,
                title: Some("Bão số 3".into()),
                tag: Some("b20261206-1".into()),
            },
            every: Duration::minutes(30),
            until: None,
            next_at: now,
            requested_by: Some("So TTTT".into()),
            title: "Bão số 3".into(),
            bulletin: "tinh/abc.mp3".into(),
            since: now,
        };
        let back = Repeat::restore(&r.save()).unwrap();
        let Target::File { tag, title, .. } = back.target else {
            panic!("a file")
        };
        assert_eq!(tag.as_deref(), Some("b20261206-1"));
        assert_eq!(title.as_deref(), Some("Bão số 3"));
    }
}
