//! What waits for the line: queue entries, how they are built, and the
//! queue that keeps them in airing order.
//!
//! The queue is a sorted map (priority first, then instant, then the order
//! within the station file) with an index by id and one by due instant, so
//! inserting, removing, and finding what is due cost the logarithm of its
//! length: an operator may fill it up to `[api] max_queue`, and the engine
//! looks at it on every turn of its loop.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use tracing::info;

use super::clock::Clock;
use super::playout::Playout;
use super::Engine;
use crate::audio::relay::RelayCue;
use crate::config::{Bulletin, Priority, Relay};
use crate::ledger::{Airing, Outcome, Queued, Source};
use crate::reason::Reason;

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
    /// A relay airs its source, not `path`; its report says what aired.
    pub(super) relay: Option<RelayCue>,
    /// Why it cannot air (a typed notice the speech engine failed to read
    /// aloud): recorded `failed` with this reason when due.
    pub(super) fails: Option<Reason>,
    /// A typed notice still being read aloud in the background: it waits
    /// (within its grace) until the station comes back with its audio.
    pub(super) pending: bool,
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
        title: Option<&'a str>,
    },
    /// A relay of the station file, its fallback bulletin's file, and the
    /// station's loudness target (`None`: air it as received).
    Relay {
        relay: &'a Relay,
        fallback: Option<&'a Path>,
        loudness_lufs: Option<f64>,
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
        let mut relay_cue = None;
        let (fails, pending) = match audio {
            Audio::Bulletin(b) => (
                b.tts_error
                    .clone()
                    .map(|error| Reason::SpeechFailed { error }),
                b.tts_error.is_none() && crate::tts::needs_render(b),
            ),
            Audio::File { .. } | Audio::Relay { .. } => (None, false),
        };
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
                title,
            } => (
                Airing {
                    occurrence,
                    bulletin: file.to_string(),
                    title: title.unwrap_or(file).to_string(),
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
            Audio::Relay {
                relay,
                fallback,
                loudness_lufs,
            } => {
                relay_cue = Some(RelayCue::new(
                    relay.clone(),
                    fallback.map(Path::to_path_buf),
                    loudness_lufs,
                ));
                (
                    Airing {
                        occurrence,
                        bulletin: relay.id.clone(),
                        title: relay.title.clone(),
                        campaign: relay.campaign.clone(),
                        program: None,
                        priority: relay.priority,
                        source,
                        file: relay.source.describe(),
                        scheduled_at: at,
                        planned_seconds: f64::from(relay.seconds),
                        requested_by: None,
                    },
                    PathBuf::from(relay.source.describe()),
                    relay.grace_seconds,
                )
            }
        };
        Entry {
            id,
            airing,
            path,
            sort_at: at,
            order: 0,
            grace: Duration::seconds(i64::from(grace)),
            relay: relay_cue,
            fails,
            pending,
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

    /// How late it is at `now`, when that is past its grace.
    fn late_past_grace(&self, now: DateTime<Utc>) -> Option<Duration> {
        let late = now - self.airing.scheduled_at;
        (late > self.grace).then_some(late)
    }

    /// Whether it is kept in the ledger while it waits: what an operator
    /// queued. Emergencies air at once (their repeats are kept apart) and
    /// scheduled items are decided again from the plan.
    pub(super) fn is_kept(&self) -> bool {
        self.airing.is_queued_by_hand()
    }

    /// It as the ledger keeps it.
    pub(super) fn to_kept(&self) -> Queued {
        Queued {
            id: self.id,
            airing: self.airing.clone(),
            path: self.path.clone(),
            sort_at: self.sort_at,
            order: self.order,
            grace_seconds: self.grace.num_seconds(),
        }
    }

    /// An entry the ledger kept, as it was queued.
    pub(super) fn from_kept(q: Queued) -> Entry {
        Entry {
            id: q.id,
            airing: q.airing,
            path: q.path,
            sort_at: q.sort_at,
            order: q.order,
            grace: Duration::seconds(q.grace_seconds),
            relay: None,
            fails: None,
            pending: false,
        }
    }
}

/// Where an entry sorts: priority first, then instant, then its order,
/// then when it was inserted (so it goes behind the entries it ties with).
type Key = (Reverse<Priority>, DateTime<Utc>, u64, u64);

/// The priorities in queue order.
const LEVELS: [Priority; 3] = [Priority::Emergency, Priority::Priority, Priority::Normal];

/// The entries waiting for the line, in airing order.
#[derive(Debug, Default)]
pub(super) struct Queue {
    entries: BTreeMap<Key, Entry>,
    /// Entry id → its key.
    ids: HashMap<u64, Key>,
    /// (due instant, key): which entry is due first.
    due: BTreeSet<(DateTime<Utc>, Key)>,
    /// How many came from an operator (what `[api] max_queue` bounds).
    operator: usize,
    inserted: u64,
}

impl Queue {
    /// Put `e` behind every entry that goes before it or ties with it.
    pub(super) fn insert(&mut self, e: Entry) {
        self.inserted += 1;
        let key = (
            Reverse(e.airing.priority),
            e.sort_at,
            e.order,
            self.inserted,
        );
        if e.airing.is_queued_by_hand() {
            self.operator += 1;
        }
        self.ids.insert(e.id, key);
        self.due.insert((e.airing.scheduled_at, key));
        if let Some(old) = self.entries.insert(key, e) {
            unreachable!("queue keys are unique, entry {} was replaced", old.id);
        }
    }

    fn remove_key(&mut self, key: &Key) -> Option<Entry> {
        let e = self.entries.remove(key)?;
        self.ids.remove(&e.id);
        self.due.remove(&(e.airing.scheduled_at, *key));
        if e.airing.is_queued_by_hand() {
            self.operator -= 1;
        }
        Some(e)
    }

    /// Every entry, in queue order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// How many entries an operator queued.
    pub(super) fn operator_len(&self) -> usize {
        self.operator
    }

    /// The entry due first (the earliest instant; the first in queue
    /// order among those due then).
    pub(super) fn first_due(&self) -> Option<&Entry> {
        let (_, key) = self.due.first()?;
        self.entries.get(key)
    }

    /// In queue order, every entry that sorts at or before `until`: all
    /// that can be due by then, since an entry is never due before the
    /// instant it sorts at. Costs the logarithm of the queue and the
    /// entries it yields, not the whole queue.
    pub(super) fn sorted_up_to(&self, until: DateTime<Utc>) -> impl Iterator<Item = &Entry> {
        LEVELS.into_iter().flat_map(move |p| {
            let from: Key = (Reverse(p), DateTime::<Utc>::MIN_UTC, 0, 0);
            self.entries
                .range(from..)
                .take_while(move |(k, _)| k.0 == Reverse(p) && k.1 <= until)
                .map(|(_, e)| e)
        })
    }

    /// Take out entry `id`, if it waits here.
    pub(super) fn remove_id(&mut self, id: u64) -> Option<Entry> {
        let key = *self.ids.get(&id)?;
        self.remove_key(&key)
    }

    /// Take out every entry `take` picks, in queue order; the others stay
    /// in theirs. Goes through the whole queue: for reloads and
    /// cancellations, not for every turn of the loop.
    pub(super) fn take_where(&mut self, mut take: impl FnMut(&Entry) -> bool) -> Vec<Entry> {
        let keys: Vec<Key> = self
            .entries
            .iter()
            .filter(|(_, e)| take(e))
            .map(|(k, _)| *k)
            .collect();
        keys.iter().filter_map(|k| self.remove_key(k)).collect()
    }

    /// Take out every entry sorted at or before `until` that `verdict` has
    /// something to say about, with what it said, in queue order.
    pub(super) fn take_up_to<T>(
        &mut self,
        until: DateTime<Utc>,
        mut verdict: impl FnMut(&Entry) -> Option<T>,
    ) -> Vec<(Entry, T)> {
        let picked: Vec<(u64, T)> = self
            .sorted_up_to(until)
            .filter_map(|e| verdict(e).map(|v| (e.id, v)))
            .collect();
        picked
            .into_iter()
            .filter_map(|(id, v)| self.remove_id(id).map(|e| (e, v)))
            .collect()
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
        if let Some(late) = e.late_past_grace(now) {
            let reason = Reason::OffAir {
                late_seconds: late.num_seconds(),
                grace_seconds: e.grace.num_seconds(),
            };
            self.close_unaired(e, Outcome::Missed, reason);
            return;
        }
        self.enqueue(e);
    }

    pub(super) fn enqueue(&mut self, e: Entry) {
        self.queue.insert(e);
    }

    /// Queue what an operator asked for, kept in the ledger until it airs
    /// or is recorded.
    pub(super) fn enqueue_kept(&mut self, e: Entry) {
        if e.is_kept() {
            self.recorder.queue_put(e.to_kept());
        }
        self.enqueue(e);
    }

    /// `e` left the queue for good (it started, or was recorded): the
    /// ledger no longer keeps it.
    pub(super) fn unkeep(&self, e: &Entry) {
        if e.is_kept() {
            self.recorder.queue_remove(e.id);
        }
    }

    /// Put back what the ledger kept from the last run: what is still
    /// within its grace waits again, the rest is recorded `missed`.
    pub(super) fn restore(&mut self, kept: Vec<Queued>, now: DateTime<Utc>) {
        let (mut restored, mut missed) = (0, 0);
        for q in kept {
            let e = Entry::from_kept(q);
            if self.decided.contains_key(&e.airing.occurrence) {
                // It has a row already (it started just before a power cut).
                self.unkeep(&e);
                continue;
            }
            if let Some(late) = e.late_past_grace(now) {
                let reason = Reason::DownAtItsTime {
                    late_seconds: late.num_seconds(),
                    grace_seconds: e.grace.num_seconds(),
                };
                missed += 1;
                self.close_unaired(e, Outcome::Missed, reason);
                continue;
            }
            restored += 1;
            self.decided.insert(e.airing.occurrence.clone(), now);
            self.enqueue(e);
        }
        info!(
            restored,
            missed, "operator queue restored from the ledger: {restored} item(s) wait again, {missed} recorded missed"
        );
    }

    /// Record an entry that never reached the line.
    pub(super) fn close_unaired(&mut self, e: Entry, outcome: Outcome, reason: Reason) {
        self.metrics.outcome(outcome, &e.airing, 0.0);
        info!(
            occurrence = %e.airing.occurrence,
            outcome = outcome.as_str(),
            reason = reason.code(),
            "not aired"
        );
        self.unkeep(&e);
        self.recorder.record(e.airing, outcome, Some(reason.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, 7, 5, min, 0).unwrap()
    }

    fn entry(id: u64, priority: Priority, at: DateTime<Utc>, order: u64, source: Source) -> Entry {
        let audio = Audio::File {
            file: "x.wav",
            path: Path::new("/a/x.wav"),
            seconds: 1.0,
            title: None,
        };
        Entry::new(id, audio, format!("x#{id}"), source, at)
            .priority(priority)
            .order(order)
    }

    fn ids<'a>(it: impl Iterator<Item = &'a Entry>) -> Vec<u64> {
        it.map(|e| e.id).collect()
    }

    /// The order the sorted vector kept: priority, instant, order, and an
    /// entry behind the ones it ties with.
    #[test]
    fn entries_keep_the_airing_order_and_the_indexes_follow() {
        use crate::config::Priority::{Emergency, Normal, Priority};
        let mut q = Queue::default();
        q.insert(entry(1, Normal, t(10), 0, Source::Schedule));
        q.insert(entry(2, Priority, t(20), 0, Source::Operator));
        q.insert(entry(3, Normal, t(5), 1, Source::Operator));
        q.insert(entry(4, Normal, t(5), 0, Source::Schedule));
        q.insert(entry(5, Emergency, t(30), 0, Source::Emergency));
        q.insert(entry(6, Normal, t(5), 0, Source::Schedule));
        assert_eq!(ids(q.iter()), [5, 2, 4, 6, 3, 1]);
        assert_eq!(q.len(), 6);
        assert_eq!(q.operator_len(), 2);
        assert_eq!(q.first_due().map(|e| e.id), Some(4));
        // Only what sorts up to the instant, still in queue order.
        assert_eq!(ids(q.sorted_up_to(t(10))), [4, 6, 3, 1]);
        assert_eq!(ids(q.sorted_up_to(t(20))), [2, 4, 6, 3, 1]);
        assert_eq!(ids(q.sorted_up_to(t(4))), Vec::<u64>::new());

        assert_eq!(q.remove_id(3).map(|e| e.id), Some(3));
        assert!(q.remove_id(3).is_none());
        assert_eq!(q.operator_len(), 1);
        let taken = q.take_up_to(t(5), |e| (e.id == 6).then_some("x"));
        assert_eq!(
            taken.iter().map(|(e, v)| (e.id, *v)).collect::<Vec<_>>(),
            [(6, "x")]
        );
        let em = q.take_where(|e| e.airing.source == Source::Emergency);
        assert_eq!(ids(em.iter()), [5]);
        assert_eq!(ids(q.iter()), [2, 4, 1]);
        assert_eq!(q.first_due().map(|e| e.id), Some(4));
        q.insert(entry(4 + 10, Normal, t(5), 0, Source::Schedule));
        assert_eq!(
            ids(q.iter()),
            [2, 4, 14, 1],
            "behind the entry it ties with"
        );
    }
}
