//! The engine's state as others see it: what airs, what waits, the
//! repeating emergency, the output, published after every change.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::clock::Clock;
use super::playout::{OutputState, Playout};
use super::queue::Entry;
use super::Engine;
use crate::timefmt::rfc3339;

/// What airs now, for the status.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AiringView {
    pub occurrence: String,
    pub bulletin: String,
    pub title: String,
    pub program: Option<String>,
    pub priority: &'static str,
    pub source: &'static str,
    pub started_at: String,
    pub position_seconds: f64,
    pub duration_seconds: f64,
}

/// One waiting entry, for the status and the API.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueuedView {
    pub id: u64,
    pub occurrence: String,
    pub bulletin: String,
    pub title: String,
    pub priority: &'static str,
    pub source: &'static str,
    pub at: String,
    pub planned_seconds: f64,
    pub requested_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EmergencyView {
    pub bulletin: String,
    pub title: String,
    pub repeat_every_seconds: Option<i64>,
    pub until: Option<String>,
    pub next_at: Option<String>,
}

/// The engine's state, published after every change.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Status {
    pub airing: Option<AiringView>,
    pub queue: Vec<QueuedView>,
    pub paused: bool,
    pub output: OutputState,
    pub emergency: Option<EmergencyView>,
    /// The wall clock is behind what the ledger has seen (a board that
    /// booted without a real-time clock): scheduled items wait for it.
    pub clock_suspect: bool,
}

impl QueuedView {
    pub(super) fn of(e: &Entry, tz: Tz) -> QueuedView {
        QueuedView {
            id: e.id,
            occurrence: e.airing.occurrence.clone(),
            bulletin: e.airing.bulletin.clone(),
            title: e.airing.title.clone(),
            priority: e.airing.priority.as_str(),
            source: e.airing.source.as_str(),
            at: rfc3339(e.airing.scheduled_at, tz),
            planned_seconds: e.airing.planned_seconds,
            requested_by: e.airing.requested_by.clone(),
        }
    }
}

impl<C: Clock, P: Playout> Engine<C, P> {
    pub(super) fn publish(&mut self, now: DateTime<Utc>) {
        let tz = self.tz();
        let airing = self.line.front().and_then(|c| {
            let started = c.started_at?;
            Some(AiringView {
                occurrence: c.entry.airing.occurrence.clone(),
                bulletin: c.entry.airing.bulletin.clone(),
                title: c.entry.airing.title.clone(),
                program: c.entry.airing.program.clone(),
                priority: c.entry.airing.priority.as_str(),
                source: c.entry.airing.source.as_str(),
                started_at: rfc3339(started, tz),
                position_seconds: c
                    .aired
                    .max(((now - started).num_milliseconds() as f64 / 1e3).max(0.0))
                    .min(c.entry.airing.planned_seconds),
                duration_seconds: c.entry.airing.planned_seconds,
            })
        });
        let queue: Vec<QueuedView> = self
            .line
            .iter()
            .filter(|c| c.started_at.is_none())
            .map(|c| &c.entry)
            .chain(self.queue.iter())
            .map(|e| QueuedView::of(e, tz))
            .collect();
        let emergency = self.repeat.as_ref().map(|r| EmergencyView {
            bulletin: r.bulletin.clone(),
            title: r.title.clone(),
            repeat_every_seconds: Some(r.every.num_seconds()),
            until: r.until.map(|u| rfc3339(u, tz)),
            next_at: Some(rfc3339(r.next_at, tz)),
        });
        let status = Status {
            airing,
            queue,
            paused: self.paused,
            output: self.playout.state(),
            emergency,
            clock_suspect: self.clock_suspect,
        };
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
