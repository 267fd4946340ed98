//! What waits for the line: queue entries, how they are built, and the
//! queue that keeps them in airing order.
//!
//! The queue is a vector kept sorted (priority first, then instant, then
//! the order within the station file); what is due is found by a scan.
//! A station holds a few dozen entries at a time, and every access goes
//! through `Queue`, so another structure fits in here alone.

use std::cmp::Reverse;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use tracing::info;

use super::clock::Clock;
use super::playout::Playout;
use super::{human, Engine};
use crate::config::{Bulletin, Priority};
use crate::ledger::{Airing, Outcome, Source};

/// Reason recorded for an entry an operator took out of the queue (the
/// audit table says who).
pub(super) const DEQUEUED: &str = "removed from the queue by an operator";

/// Something decided to air, waiting for the line.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) id: u64,
    pub(super) airing: Airing,
    pub(super) path: PathBuf,
    /// Queue order after priority: a programme's items share the
    /// programme's instant so nothing slips between them.
    pub(super) sort_at: DateTime<Utc>,
    pub(super) order: u64,
    pub(super) grace: Duration,
}

/// What an entry plays.
#[derive(Debug, Clone, Copy)]
pub(super) enum Audio<'a> {
    /// A bulletin of the station file.
    Bulletin(&'a Bulletin),
    /// A file in `audio_dir`, checked and probed by whoever asked for it.
    File {
        file: &'a str,
        path: &'a Path,
        seconds: f64,
    },
}

impl Entry {
    /// Entry `id` playing `audio` as occurrence `occurrence`, due `at`,
    /// with the bulletin's priority and grace (a file's: normal and the
    /// default grace), sorted at `at`, first among equals. The setters
    /// below change what differs.
    pub(super) fn new(
        id: u64,
        audio: Audio<'_>,
        occurrence: String,
        source: Source,
        at: DateTime<Utc>,
    ) -> Entry {
        let (airing, path, grace) = match audio {
            Audio::Bulletin(b) => (
                Airing {
                    occurrence,
                    bulletin: b.id.clone(),
                    title: b.title.clone(),
                    campaign: b.campaign.clone(),
                    program: None,
                    priority: b.priority,
                    source,
                    file: b.file.clone(),
                    scheduled_at: at,
                    planned_seconds: b.seconds(),
                    requested_by: None,
                },
                b.path.clone(),
                b.grace_seconds,
            ),
            Audio::File {
                file,
                path,
                seconds,
            } => (
                Airing {
                    occurrence,
                    bulletin: file.to_string(),
                    title: file.to_string(),
                    campaign: None,
                    program: None,
                    priority: Priority::Normal,
                    source,
                    file: file.to_string(),
                    scheduled_at: at,
                    planned_seconds: seconds,
                    requested_by: None,
                },
                path.to_path_buf(),
                crate::config::DEFAULT_GRACE_SECONDS,
            ),
        };
        Entry {
            id,
            airing,
            path,
            sort_at: at,
            order: 0,
            grace: Duration::seconds(i64::from(grace)),
        }
    }

    pub(super) fn priority(mut self, priority: Priority) -> Entry {
        self.airing.priority = priority;
        self
    }

    /// How late it may still start.
    pub(super) fn grace(mut self, grace: Duration) -> Entry {
        self.grace = grace;
        self
    }

    /// Where it sorts among entries of its priority (a programme's items
    /// sort at the programme's instant).
    pub(super) fn sort_at(mut self, at: DateTime<Utc>) -> Entry {
        self.sort_at = at;
        self
    }

    /// Its place among entries of the same priority and instant.
    pub(super) fn order(mut self, order: u64) -> Entry {
        self.order = order;
        self
    }

    /// The programme it is an item of.
    pub(super) fn program(mut self, id: String) -> Entry {
        self.airing.program = Some(id);
        self
    }

    pub(super) fn requested_by(mut self, who: Option<String>) -> Entry {
        self.airing.requested_by = who;
        self
    }

    fn key(&self) -> (Reverse<Priority>, DateTime<Utc>, u64) {
        (Reverse(self.airing.priority), self.sort_at, self.order)
    }
}

/// The entries waiting for the line, in airing order.
#[derive(Debug, Default)]
pub(super) struct Queue {
    entries: Vec<Entry>,
}

impl Queue {
    /// Put `e` behind every entry that goes before it or ties with it.
    pub(super) fn insert(&mut self, e: Entry) {
        let pos = self.entries.partition_point(|q| q.key() <= e.key());
        self.entries.insert(pos, e);
    }

    pub(super) fn iter(&self) -> std::slice::Iter<'_, Entry> {
        self.entries.iter()
    }

    /// Take out the entry at `index` (as `iter` counts).
    pub(super) fn remove(&mut self, index: usize) -> Entry {
        self.entries.remove(index)
    }

    /// Take out entry `id`, if it waits here.
    pub(super) fn remove_id(&mut self, id: u64) -> Option<Entry> {
        let i = self.entries.iter().position(|e| e.id == id)?;
        Some(self.entries.remove(i))
    }

    /// Take out every entry `take` picks, in queue order; the others stay
    /// in theirs.
    pub(super) fn take_where(&mut self, mut take: impl FnMut(&Entry) -> bool) -> Vec<Entry> {
        let (taken, kept) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|e| take(e));
        self.entries = kept;
        taken
    }

    /// Take out every entry `verdict` has something to say about, with
    /// what it said, in queue order.
    pub(super) fn take_with<T>(
        &mut self,
        mut verdict: impl FnMut(&Entry) -> Option<T>,
    ) -> Vec<(Entry, T)> {
        let mut taken = Vec::new();
        let mut i = 0;
        while i < self.entries.len() {
            match verdict(&self.entries[i]) {
                Some(v) => taken.push((self.entries.remove(i), v)),
                None => i += 1,
            }
        }
        taken
    }
}

impl<C: Clock, P: Playout> Engine<C, P> {
    /// Queue an entry, or record it missed when its grace is already over.
    pub(super) fn admit(&mut self, e: Entry, now: DateTime<Utc>) {
        if self.decided.contains_key(&e.airing.occurrence) {
            return;
        }
        self.decided
            .insert(e.airing.occurrence.clone(), e.airing.scheduled_at);
        let late = now - e.airing.scheduled_at;
        if late > e.grace {
            let reason = format!(
                "station off air at its time (daemon stopped or clock jumped); first seen {} late, grace {}",
                human(late),
                human(e.grace)
            );
            self.close_unaired(e, Outcome::Missed, reason);
            return;
        }
        self.enqueue(e);
    }

    pub(super) fn enqueue(&mut self, e: Entry) {
        self.queue.insert(e);
    }

    /// Record an entry that never reached the line.
    pub(super) fn close_unaired(&mut self, e: Entry, outcome: Outcome, reason: String) {
        self.metrics
            .outcome(outcome, e.airing.campaign.as_deref(), 0.0);
        info!(
            occurrence = %e.airing.occurrence,
            outcome = outcome.as_str(),
            reason = %reason,
            "not aired"
        );
        self.recorder.record(e.airing, outcome, Some(reason));
    }
}
