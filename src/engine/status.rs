//! The engine's state as others see it: what airs, what waits, the
//! repeating emergency, the output, published after every change.
//!
//! The views carry typed values (instants in UTC, durations, enums);
//! whoever shows them formats them. `InZone` is the API's JSON of a view:
//! instants in RFC 3339 in the station's zone, with milliseconds, priority
//! and source as their names.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;

use super::clock::Clock;
use super::playout::{OutputState, Playout};
use super::queue::Entry;
use super::{Engine, STATUS_QUEUE};
use crate::config::Priority;
use crate::ledger::Source;
use crate::monitor::LineState;
use crate::timefmt::rfc3339;

/// What airs now.
#[derive(Debug, Clone, PartialEq)]
pub struct AiringView {
    pub occurrence: String,
    pub bulletin: String,
    pub title: String,
    pub program: Option<String>,
    pub priority: Priority,
    pub source: Source,
    /// When its first sample went out.
    pub started_at: DateTime<Utc>,
    pub position_seconds: f64,
    pub duration_seconds: f64,
}

/// One waiting entry, for the status and the API.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedView {
    pub id: u64,
    pub occurrence: String,
    pub bulletin: String,
    pub title: String,
    pub priority: Priority,
    pub source: Source,
    /// When it is due.
    pub at: DateTime<Utc>,
    pub planned_seconds: f64,
    pub requested_by: Option<String>,
}

/// The repeating emergency in force.
#[derive(Debug, Clone, PartialEq)]
pub struct EmergencyView {
    pub bulletin: String,
    pub title: String,
    pub repeat_every: Duration,
    pub until: Option<DateTime<Utc>>,
    /// When it airs again.
    pub next_at: DateTime<Utc>,
    /// Since when an emergency has been in force (`/metrics`; not in the
    /// API's JSON).
    pub since: DateTime<Utc>,
}

/// A page of the waiting entries, in airing order.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuePage {
    /// How many entries wait in all.
    pub total: usize,
    pub entries: Vec<QueuedView>,
}

/// The engine's state, published after every change.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub airing: Option<AiringView>,
    /// The first `STATUS_QUEUE` waiting entries, in airing order (cued
    /// first); `GET /api/v1/queue` pages through the rest.
    pub queue: Vec<QueuedView>,
    /// How many entries wait in all.
    pub queue_length: usize,
    /// The waiting entry due first.
    pub queue_next: Option<QueuedView>,
    pub paused: bool,
    pub output: OutputState,
    pub emergency: Option<EmergencyView>,
    /// The wall clock is behind what the ledger has seen (a board that
    /// booted without a real-time clock): scheduled items wait for it.
    pub clock_suspect: bool,
    /// The loudspeaker line's alarms (`None`: no `[monitor]`).
    pub line: Option<LineState>,
}

impl Status {
    /// A station at rest: nothing airs, waits or is in force, the output
    /// closed, the clock trusted.
    pub fn idle() -> Status {
        Status {
            airing: None,
            queue: Vec::new(),
            queue_length: 0,
            queue_next: None,
            paused: false,
            output: OutputState::Idle,
            emergency: None,
            clock_suspect: false,
            line: None,
        }
    }
}

impl QueuedView {
    pub(super) fn of(e: &Entry) -> QueuedView {
        QueuedView {
            id: e.id,
            occurrence: e.airing.occurrence.clone(),
            bulletin: e.airing.bulletin.clone(),
            title: e.airing.title.clone(),
            priority: e.airing.priority,
            source: e.airing.source,
            at: e.airing.scheduled_at,
            planned_seconds: e.airing.planned_seconds,
            requested_by: e.airing.requested_by.clone(),
        }
    }
}

/// A view as the API's JSON shows it, in the station's zone `tz`:
/// `InZone::new(view, tz)` serializes a view, an `Option` or a `Vec` of
/// views.
#[derive(Debug, Clone)]
pub struct InZone<T> {
    view: T,
    tz: Tz,
}

impl<T> InZone<T> {
    pub fn new(view: T, tz: Tz) -> Self {
        InZone { view, tz }
    }
}

/// A status view that serializes given the station's zone.
pub trait ZonedView {
    fn serialize_in<S: Serializer>(&self, tz: Tz, s: S) -> Result<S::Ok, S::Error>;
}

impl<T: ZonedView> Serialize for InZone<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.view.serialize_in(self.tz, s)
    }
}

impl<T: ZonedView + ?Sized> ZonedView for &T {
    fn serialize_in<S: Serializer>(&self, tz: Tz, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize_in(tz, s)
    }
}

impl<T: ZonedView> ZonedView for Option<T> {
    fn serialize_in<S: Serializer>(&self, tz: Tz, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Some(v) => s.serialize_some(&InZone::new(v, tz)),
            None => s.serialize_none(),
        }
    }
}

impl<T: ZonedView> ZonedView for Vec<T> {
    fn serialize_in<S: Serializer>(&self, tz: Tz, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(|v| InZone::new(v, tz)))
    }
}

impl ZonedView for AiringView {
    fn serialize_in<S: Serializer>(&self, tz: Tz, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("AiringView", 9)?;
        m.serialize_field("occurrence", &self.occurrence)?;
        m.serialize_field("bulletin", &self.bulletin)?;
        m.serialize_field("title", &self.title)?;
        m.serialize_field("program", &self.program)?;
        m.serialize_field("priority", self.priority.as_str())?;
        m.serialize_field("source", self.source.as_str())?;
        m.serialize_field("started_at", &rfc3339(self.started_at, tz))?;
        m.serialize_field("position_seconds", &self.position_seconds)?;
        m.serialize_field("duration_seconds", &self.duration_seconds)?;
        m.end()
    }
}

impl ZonedView for QueuedView {
    fn serialize_in<S: Serializer>(&self, tz: Tz, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("QueuedView", 9)?;
        m.serialize_field("id", &self.id)?;
        m.serialize_field("occurrence", &self.occurrence)?;
        m.serialize_field("bulletin", &self.bulletin)?;
        m.serialize_field("title", &self.title)?;
        m.serialize_field("priority", self.priority.as_str())?;
        m.serialize_field("source", self.source.as_str())?;
        m.serialize_field("at", &rfc3339(self.at, tz))?;
        m.serialize_field("planned_seconds", &self.planned_seconds)?;
        m.serialize_field("requested_by", &self.requested_by)?;
        m.end()
    }
}

impl ZonedView for EmergencyView {
    fn serialize_in<S: Serializer>(&self, tz: Tz, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("EmergencyView", 5)?;
        m.serialize_field("bulletin", &self.bulletin)?;
        m.serialize_field("title", &self.title)?;
        m.serialize_field("repeat_every_seconds", &self.repeat_every.num_seconds())?;
        m.serialize_field("until", &self.until.map(|u| rfc3339(u, tz)))?;
        m.serialize_field("next_at", &rfc3339(self.next_at, tz))?;
        m.end()
    }
}

impl<C: Clock, P: Playout> Engine<C, P> {
    /// The waiting entries from `offset`, at most `limit`, as the status
    /// orders them (cued first).
    pub(super) fn queue_page(&self, offset: usize, limit: usize) -> QueuePage {
        let cued = self
            .line
            .iter()
            .filter(|c| c.started_at.is_none())
            .map(|c| &c.entry);
        let total = cued.clone().count() + self.queue.len();
        let entries = cued
            .chain(self.queue.iter())
            .skip(offset)
            .take(limit)
            .map(QueuedView::of)
            .collect();
        QueuePage { total, entries }
    }

    pub(super) fn publish(&mut self, now: DateTime<Utc>) {
        let airing = self.line.front().and_then(|c| {
            let started = c.started_at?;
            Some(AiringView {
                occurrence: c.entry.airing.occurrence.clone(),
                bulletin: c.entry.airing.bulletin.clone(),
                title: c.entry.airing.title.clone(),
                program: c.entry.airing.program.clone(),
                priority: c.entry.airing.priority,
                source: c.entry.airing.source,
                started_at: started,
                position_seconds: c
                    .aired
                    .max(((now - started).num_milliseconds() as f64 / 1e3).max(0.0))
                    .min(c.entry.airing.planned_seconds),
                duration_seconds: c.entry.airing.planned_seconds,
            })
        });
        let cued = || {
            self.line
                .iter()
                .filter(|c| c.started_at.is_none())
                .map(|c| &c.entry)
        };
        let queue: Vec<QueuedView> = cued()
            .chain(self.queue.iter())
            .take(STATUS_QUEUE)
            .map(QueuedView::of)
            .collect();
        let queue_length = cued().count() + self.queue.len();
        let queue_next = cued()
            .chain(self.queue.first_due())
            .min_by_key(|e| e.airing.scheduled_at)
            .map(QueuedView::of);
        let emergency = self.repeat.as_ref().map(|r| EmergencyView {
            bulletin: r.bulletin.clone(),
            title: r.title.clone(),
            repeat_every: r.every,
            until: r.until,
            next_at: r.next_at,
            since: r.since,
        });
        let status = Status {
            airing,
            queue,
            queue_length,
            queue_next,
            paused: self.paused,
            output: self.playout.state(),
            emergency,
            clock_suspect: self.clock_suspect,
            line: self.recorder.line(),
        };
        self.metrics.observe(&status, now);
        self.status.send_if_modified(|s| {
            if *s == status {
                false
            } else {
                *s = status;
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn tz() -> Tz {
        chrono_tz::Asia::Ho_Chi_Minh
    }

    fn local(h: u32, m: u32, s: u32, ms: i64) -> DateTime<Utc> {
        tz().with_ymd_and_hms(2026, 10, 7, h, m, s)
            .unwrap()
            .with_timezone(&Utc)
            + Duration::microseconds(ms * 1000 + 456)
    }

    fn airing() -> AiringView {
        AiringView {
            occurrence: "morning/a@2026-10-07T06:00:00.000+07:00".into(),
            bulletin: "a".into(),
            title: "Bản tin \"sáng\"".into(),
            program: Some("morning".into()),
            priority: Priority::Emergency,
            source: Source::Schedule,
            started_at: local(6, 0, 0, 123),
            position_seconds: 1.5,
            duration_seconds: 60.0,
        }
    }

    fn queued() -> QueuedView {
        QueuedView {
            id: 7,
            occurrence: "operator:7/tone.wav@2026-10-07T09:30:15.250+07:00".into(),
            bulletin: "tone.wav".into(),
            title: "tone.wav".into(),
            priority: Priority::Priority,
            source: Source::Operator,
            at: local(9, 30, 15, 250),
            planned_seconds: 5.0015625,
            requested_by: Some("van-hanh".into()),
        }
    }

    fn json<T: ZonedView>(v: T) -> String {
        serde_json::to_string(&InZone::new(v, tz())).unwrap()
    }

    /// The texts the API answered before the views were typed, to the
    /// byte (field order included).
    #[test]
    fn the_json_of_each_view_is_what_the_api_always_answered() {
        assert_eq!(
            json(airing()),
            r#"{"occurrence":"morning/a@2026-10-07T06:00:00.000+07:00","bulletin":"a","title":"Bản tin \"sáng\"","program":"morning","priority":"emergency","source":"schedule","started_at":"2026-10-07T06:00:00.123+07:00","position_seconds":1.5,"duration_seconds":60.0}"#
        );
        assert_eq!(
            json(queued()),
            r#"{"id":7,"occurrence":"operator:7/tone.wav@2026-10-07T09:30:15.250+07:00","bulletin":"tone.wav","title":"tone.wav","priority":"priority","source":"operator","at":"2026-10-07T09:30:15.250+07:00","planned_seconds":5.0015625,"requested_by":"van-hanh"}"#
        );
        let e = EmergencyView {
            bulletin: "storm".into(),
            title: "Storm".into(),
            repeat_every: Duration::minutes(30),
            until: Some(local(14, 0, 0, 0) - Duration::microseconds(456)),
            next_at: local(12, 30, 0, 0) - Duration::microseconds(456),
            since: local(9, 0, 0, 0),
        };
        assert_eq!(
            json(&e),
            r#"{"bulletin":"storm","title":"Storm","repeat_every_seconds":1800,"until":"2026-10-07T14:00:00.000+07:00","next_at":"2026-10-07T12:30:00.000+07:00"}"#
        );
        let forever = EmergencyView { until: None, ..e };
        assert!(json(forever).contains(r#""until":null"#));
    }

    #[test]
    fn options_and_lists_of_views_serialize_like_the_views() {
        assert_eq!(json(None::<AiringView>), "null");
        assert_eq!(json(Some(airing())), json(airing()));
        let mut unrequested = queued();
        unrequested.requested_by = None;
        assert_eq!(
            json(vec![queued(), unrequested.clone()]),
            format!("[{},{}]", json(queued()), json(&unrequested))
        );
        assert!(json(&unrequested).ends_with(r#""requested_by":null}"#));
        assert_eq!(json(Vec::<QueuedView>::new()), "[]");
    }
}
