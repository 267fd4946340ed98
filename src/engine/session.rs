//! Session caps (`[session] max_minutes`): a session is one occurrence of
//! a programme, keyed by the programme and its instant. What its items aired
//! is counted as they are cued (their planned seconds), then corrected to
//! what really aired when each ends; an item that would push the session
//! past its cap is recorded `skipped` instead of cued. Emergencies are
//! never held back.

use chrono::{DateTime, Utc};

use super::clock::Clock;
use super::playout::Playout;
use super::queue::Entry;
use super::Engine;
use crate::config::{Priority, SESSION_TOLERANCE_SECONDS};
use crate::reason::Reason;

/// A session: the programme's id and its instant.
pub(super) type SessionKey = (String, DateTime<Utc>);

fn key_of(e: &Entry) -> Option<SessionKey> {
    let program = e.airing.program.as_ref()?;
    Some((program.clone(), e.sort_at))
}

impl<C: Clock, P: Playout> Engine<C, P> {
    /// Why `e` must not air: it would push its session past the cap.
    pub(super) fn over_session_cap(&self, e: &Entry) -> Option<Reason> {
        let cap = self.station.session.max_minutes? * 60.0;
        if e.airing.priority == Priority::Emergency {
            return None;
        }
        let key = key_of(e)?;
        let used = self.sessions.get(&key).copied().unwrap_or(0.0);
        if used + e.airing.planned_seconds <= cap + SESSION_TOLERANCE_SECONDS {
            return None;
        }
        Some(Reason::SessionCap {
            programme: key.0,
            cap_seconds: cap,
            used_seconds: used,
            item_seconds: e.airing.planned_seconds,
        })
    }

    /// `e` is cued: its planned seconds count toward its session.
    pub(super) fn session_cued(&mut self, e: &Entry) {
        if let Some(key) = key_of(e) {
            *self.sessions.entry(key).or_insert(0.0) += e.airing.planned_seconds;
        }
    }

    /// `e` ended having aired `aired` seconds (0 when it never started or
    /// went back to the queue): the session counts what really aired.
    pub(super) fn session_ended(&mut self, e: &Entry, aired: f64) {
        if let Some(key) = key_of(e) {
            if let Some(used) = self.sessions.get_mut(&key) {
                *used = (*used - e.airing.planned_seconds + aired).max(0.0);
            }
        }
    }

    /// Forget sessions older than `horizon`.
    pub(super) fn prune_sessions(&mut self, horizon: DateTime<Utc>) {
        self.sessions.retain(|(_, at), _| *at > horizon);
    }
}
