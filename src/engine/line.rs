//! The line: what is cued on the playout and what airs, how entries get
//! there from the queue (in order, an emergency cutting in, quiet hours
//! and a pause holding back the rest), and what the playout reports back.

use chrono::{DateTime, Duration, Utc};
use tracing::info;

use super::clock::Clock;
use super::playout::{Cue, PlayEnd, PlayEvent, Playout};
use super::queue::Entry;
use super::{Engine, CUE_NEXT, CUT_AHEAD, LEAD, PROGRESS_EVERY};
use crate::audio::relay::RelayReport;
use crate::config::Priority;
use crate::ledger::Outcome;
use crate::reason::{Reason, Reasons};
use crate::timefmt::rfc3339;

/// A cue sent to the playout and not yet finished.
#[derive(Debug)]
pub(super) struct OnLine {
    pub(super) entry: Entry,
    pub(super) cue: u64,
    pub(super) started_at: Option<DateTime<Utc>>,
    pub(super) aired: f64,
    written_aired: f64,
    /// Why it is being stopped (set when the engine stops it).
    pub(super) stop: Option<Stop>,
}

impl OnLine {
    /// Seconds aired as the ledger counts them: a relay's, only its
    /// source's audio (`aired` is the position in the item).
    pub(super) fn ledger_aired(&self) -> f64 {
        self.entry
            .relay
            .as_ref()
            .map_or(self.aired, |r| r.report().source_seconds)
    }
}

#[derive(Debug, Clone)]
pub(super) enum Stop {
    /// Record `interrupted` with this reason.
    Interrupt(Reason),
    /// Put it back in the queue if it had not started (pre-emption).
    Requeue(Reason),
    /// Record it `skipped` if it had not started (dequeued).
    Drop,
}

impl<C: Clock, P: Playout> Engine<C, P> {
    /// Stop what airs (recorded `interrupted` with `reason`); anything cued
    /// behind it goes back to the queue. Returns the stopped item's title.
    pub(super) fn stop_current(&mut self, reason: Reason) -> Option<String> {
        let mut title = None;
        let mut cues = Vec::new();
        for c in self.line.iter_mut() {
            if c.started_at.is_some() && title.is_none() {
                title = Some(c.entry.airing.title.clone());
                c.stop = Some(Stop::Interrupt(reason.clone()));
            } else {
                c.stop = Some(Stop::Requeue(reason.clone()));
            }
            cues.push(c.cue);
        }
        for cue in cues {
            self.playout.stop(cue);
        }
        title
    }

    fn is_due(e: &Entry, now: DateTime<Utc>) -> bool {
        e.airing.scheduled_at <= now
    }

    pub(super) fn dispatch(&mut self, now: DateTime<Utc>) {
        if self.shutting_down {
            return;
        }
        self.preempt(now);
        self.settle_unairable(now);
        self.cue_behind_a_cut(now);
        loop {
            let cue_at = match self.line.back() {
                None => None,
                Some(last) => {
                    // Only one cue waits behind the airing item, and only
                    // near its end, so a later priority item still gets in.
                    if self.line.len() >= 2 || last.stop.is_some() {
                        return;
                    }
                    let Some(start) = last.started_at else { return };
                    let end = start
                        + Duration::milliseconds((last.entry.airing.planned_seconds * 1e3) as i64);
                    if now < end - CUE_NEXT {
                        if now >= end - LEAD {
                            self.connect_next_relay_early(end);
                        }
                        return;
                    }
                    Some(end)
                }
            };
            // The first entry, in queue order, due by the time the line is
            // free; when none is, the next scheduled one within LEAD.
            let free_at = cue_at.unwrap_or(now).max(now);
            let pick = self
                .next_due(free_at)
                .or_else(|| {
                    if cue_at.is_some() {
                        return None;
                    }
                    self.queue
                        .sorted_up_to(now + LEAD)
                        .filter(|e| {
                            e.airing.scheduled_at <= now + LEAD
                                && self.may_air(e, e.airing.scheduled_at)
                        })
                        .min_by_key(|e| {
                            (e.airing.scheduled_at, std::cmp::Reverse(e.airing.priority))
                        })
                })
                .map(|e| e.id);
            let Some(id) = pick else { return };
            let mut e = self.queue.remove_id(id).expect("the picked entry waits");
            if let Some(reason) = e.fails.take() {
                self.close_unaired(e, Outcome::Failed, reason);
                continue;
            }
            if let Some(reason) = self.over_session_cap(&e) {
                self.close_unaired(e, Outcome::Skipped, reason);
                continue;
            }
            let start_at = (e.airing.scheduled_at > free_at).then_some(e.airing.scheduled_at);
            self.cue(e, start_at);
        }
    }

    /// The first entry, in queue order, due by `free_at` and allowed to
    /// air then.
    fn next_due(&self, free_at: DateTime<Utc>) -> Option<&Entry> {
        self.queue
            .sorted_up_to(free_at)
            .find(|e| e.airing.scheduled_at <= free_at && self.may_air(e, free_at))
    }

    /// When what would follow the airing item (ending at `end`) is a relay,
    /// start connecting it now, `LEAD` ahead like an item cued on a free
    /// line, rather than when it is cued (`CUE_NEXT` ahead). If something
    /// else gets the line after all, the relay's early worker stops when
    /// its entry goes.
    fn connect_next_relay_early(&mut self, end: DateTime<Utc>) {
        if let Some(relay) = self.next_due(end).and_then(|e| e.relay.clone()) {
            self.playout.connect_early(&relay);
        }
    }

    /// Whether `e` may start at `t`: a paused station and quiet hours hold
    /// back everything but emergencies (they are recorded `skipped` when
    /// due, by `settle_unairable`).
    fn may_air(&self, e: &Entry, t: DateTime<Utc>) -> bool {
        if e.pending {
            return false;
        }
        e.airing.priority == Priority::Emergency
            || !(self.paused
                || self
                    .station
                    .quiet
                    .contains(t.with_timezone(&self.tz()).time()))
    }

    /// Record as skipped or missed the due entries that must not air now.
    fn settle_unairable(&mut self, now: DateTime<Utc>) {
        let local = now.with_timezone(&self.tz()).time();
        let quiet = self.station.quiet.contains(local);
        let line_busy = !self.line.is_empty();
        let paused = self.paused;
        let unairable = self.queue.take_up_to(now, |e| {
            if !Self::is_due(e, now) {
                return None;
            }
            let emergency = e.airing.priority == Priority::Emergency;
            if now - e.airing.scheduled_at > e.grace {
                let late_seconds = (now - e.airing.scheduled_at).num_seconds();
                let grace_seconds = e.grace.num_seconds();
                Some((
                    Outcome::Missed,
                    if e.pending {
                        Reason::NoticeNotReady {
                            late_seconds,
                            grace_seconds,
                        }
                    } else {
                        Reason::LineBusy {
                            late_seconds,
                            grace_seconds,
                        }
                    },
                ))
            } else if paused && !emergency {
                Some((Outcome::Skipped, Reason::StationPaused))
            } else if quiet && !emergency && !line_busy {
                Some((Outcome::Skipped, Reason::QuietHours))
            } else {
                None
            }
        });
        for (e, (outcome, reason)) in unairable {
            self.close_unaired(e, outcome, reason);
        }
    }

    /// An emergency due while something else is on the line cuts it: a
    /// scheduled one `CUT_AHEAD` early, so the fade has ended at its instant.
    fn preempt(&mut self, now: DateTime<Utc>) {
        let Some(em) = self.queue.sorted_up_to(now + CUT_AHEAD).find(|e| {
            e.airing.priority == Priority::Emergency
                && !e.pending
                && Self::is_due(e, now + CUT_AHEAD)
        }) else {
            return;
        };
        let Some(cur) = self.line.front() else { return };
        if cur.entry.airing.priority == Priority::Emergency || cur.stop.is_some() {
            return;
        }
        let reason = Reason::InterruptedByEmergency {
            bulletin: em.airing.bulletin.clone(),
            title: em.airing.title.clone(),
        };
        let cues: Vec<u64> = self.line.iter().map(|c| c.cue).collect();
        for c in self.line.iter_mut() {
            c.stop = Some(if c.started_at.is_some() {
                Stop::Interrupt(reason.clone())
            } else {
                Stop::Requeue(reason.clone())
            });
        }
        for cue in cues {
            self.playout.stop(cue);
        }
    }

    /// While the one item on the line fades out for an emergency, cue the
    /// emergency behind it, so its file is open and decoding when the fade
    /// ends: it starts at its instant, or at once if that has passed.
    fn cue_behind_a_cut(&mut self, now: DateTime<Utc>) {
        let cutting = self.line.len() == 1
            && self
                .line
                .front()
                .is_some_and(|c| matches!(c.stop, Some(Stop::Interrupt(_))));
        if !cutting {
            return;
        }
        let Some(id) = self
            .queue
            .sorted_up_to(now + CUT_AHEAD)
            .find(|e| e.airing.priority == Priority::Emergency && !e.pending)
            .map(|e| e.id)
        else {
            return;
        };
        let Some(e) = self.queue.remove_id(id) else {
            return;
        };
        let start_at = (e.airing.scheduled_at > now).then_some(e.airing.scheduled_at);
        self.cue(e, start_at);
    }

    fn cue(&mut self, e: Entry, start_at: Option<DateTime<Utc>>) {
        self.session_cued(&e);
        let cue = self.next_id();
        self.playout.cue(Cue {
            id: cue,
            path: e.path.clone(),
            expected_seconds: e.airing.planned_seconds,
            start_at,
            relay: e.relay.clone(),
        });
        self.line.push_back(OnLine {
            entry: e,
            cue,
            started_at: None,
            aired: 0.0,
            written_aired: 0.0,
            stop: None,
        });
    }

    // -- What the playout reports --------------------------------------------

    pub(super) fn on_event(&mut self, ev: PlayEvent) {
        match ev {
            PlayEvent::Started { id: cue, at } => {
                let tz = self.tz();
                let Some(c) = self.line.iter_mut().find(|c| c.cue == cue) else {
                    return;
                };
                c.started_at = Some(at);
                let late_ms = (at - c.entry.airing.scheduled_at).num_milliseconds();
                self.metrics.started(at, late_ms as f64 / 1e3);
                info!(
                    occurrence = %c.entry.airing.occurrence,
                    title = %c.entry.airing.title,
                    priority = c.entry.airing.priority.as_str(),
                    late_ms,
                    "airing {} (scheduled {})",
                    c.entry.airing.bulletin,
                    rfc3339(c.entry.airing.scheduled_at, tz)
                );
                self.recorder.begin(cue, c.entry.airing.clone(), at);
                if c.entry.is_kept() {
                    self.recorder.queue_remove(c.entry.id);
                }
            }
            PlayEvent::Progress {
                id: cue,
                aired_seconds,
            } => {
                if let Some(c) = self.line.iter_mut().find(|c| c.cue == cue) {
                    c.aired = aired_seconds;
                    let aired_seconds = c.ledger_aired();
                    if aired_seconds - c.written_aired >= PROGRESS_EVERY {
                        c.written_aired = aired_seconds;
                        self.recorder.progress(cue, aired_seconds);
                    }
                }
            }
            PlayEvent::Finished {
                id: cue,
                aired_seconds,
                end,
            } => {
                let Some(pos) = self.line.iter().position(|c| c.cue == cue) else {
                    return;
                };
                let c = self.line.remove(pos).expect("position is valid");
                let aired = if c.started_at.is_some() {
                    aired_seconds
                } else {
                    0.0
                };
                self.session_ended(&c.entry, aired);
                self.finished(c, aired_seconds, end);
            }
        }
    }

    fn finished(&mut self, c: OnLine, aired: f64, end: PlayEnd) {
        let now = self.clock.now();
        let started = c.started_at.is_some();
        let (outcome, reason) = match (&end, &c.stop) {
            (PlayEnd::Cancelled, Some(Stop::Requeue(_))) if !started => {
                self.enqueue(c.entry);
                return;
            }
            (PlayEnd::Cancelled, Some(Stop::Drop)) if !started => {
                self.close_unaired(c.entry, Outcome::Skipped, Reason::Dequeued);
                return;
            }
            (PlayEnd::Cancelled, _) if !started => {
                if self.shutting_down {
                    // Not decided after all: the next run decides it again
                    // (an operator's item is still kept in the ledger).
                    self.decided.remove(&c.entry.airing.occurrence);
                } else {
                    self.unkeep(&c.entry);
                }
                return;
            }
            (PlayEnd::Completed, _) if started => (Outcome::Completed, None),
            (PlayEnd::Completed, _) => (Outcome::Failed, Some(Reason::NoAudio)),
            (PlayEnd::Failed(r), _) => (Outcome::Failed, Some(r.clone())),
            (
                PlayEnd::Stopped | PlayEnd::Cancelled,
                Some(Stop::Interrupt(r) | Stop::Requeue(r)),
            ) => (Outcome::Interrupted, Some(r.clone())),
            (PlayEnd::Stopped | PlayEnd::Cancelled, _) => {
                (Outcome::Interrupted, Some(Reason::Stopped))
            }
        };
        // What aired of a relay is its source's audio; the rest of its slot
        // (fallback, silence) is in the reason.
        let wall = aired;
        let (outcome, reason, aired) = match &c.entry.relay {
            None => (outcome, reason.map(Reasons::from), aired),
            Some(r) => relay_outcome(&r.report(), outcome, reason),
        };
        info!(
            occurrence = %c.entry.airing.occurrence,
            outcome = outcome.as_str(),
            aired_seconds = format!("{aired:.2}"),
            reason = reason.as_ref().map(|r| r.main.code()).unwrap_or(""),
            "ended {}",
            c.entry.airing.bulletin
        );
        self.metrics.outcome(outcome, &c.entry.airing, aired);
        if let Some(start) = c.started_at {
            // A completed item ended when its last sample went out: derive
            // it from the samples, not from when the event was handled.
            let ended = if outcome == Outcome::Completed || c.entry.relay.is_some() {
                start + Duration::microseconds((wall * 1e6) as i64)
            } else {
                now
            };
            self.recorder.finish(c.cue, ended, aired, outcome, reason);
        } else {
            self.unkeep(&c.entry);
            self.recorder.record(c.entry.airing, outcome, reason);
        }
    }
}

/// A relay's outcome from what the player said and what its report holds:
/// the seconds of source audio, `failed` when the source never aired, and
/// the drops, fallback and silence in the reason.
fn relay_outcome(
    report: &RelayReport,
    outcome: Outcome,
    reason: Option<Reason>,
) -> (Outcome, Option<Reasons>, f64) {
    let aired = report.source_seconds;
    let outcome = if outcome == Outcome::Completed && aired < 0.05 {
        Outcome::Failed
    } else {
        outcome
    };
    let mut parts: Vec<Reason> = reason.into_iter().collect();
    if outcome == Outcome::Failed && aired < 0.05 && report.drops.is_empty() {
        parts.push(Reason::RelayNoSource);
    }
    parts.extend(report.reasons());
    (outcome, Reasons::from_list(parts), aired)
}
