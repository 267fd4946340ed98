//! The engine's view of the loudspeaker line: cue a file, stop it, hear
//! back what really happened.
//!
//! The engine decides *what* airs and *when*; whatever implements `Playout`
//! makes it sound. The real one drives the audio thread (`crate::audio`);
//! tests use `FakePlayout`, which "plays" in virtual time so a whole day of
//! the station runs in milliseconds.

#[cfg(test)]
mod fake;
pub mod real;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::reason::{Reason, ReasonFields};

#[cfg(test)]
pub use fake::{FakeBehaviour, FakePlayout};

/// One thing to play. Cues play one at a time in the order given.
#[derive(Debug, Clone)]
pub struct Cue {
    pub id: u64,
    pub path: PathBuf,
    /// Probed duration: a play that delivers clearly less is `Failed`
    /// (a truncated file), and the deadline is derived from it.
    pub expected_seconds: f64,
    /// Start the first sample at this wall-clock instant; `None`: as soon as
    /// the line is free.
    pub start_at: Option<DateTime<Utc>>,
    /// A relay to air (for `expected_seconds`) instead of `path`.
    pub relay: Option<crate::audio::relay::RelayCue>,
}

/// What a cue came to.
#[derive(Debug, Clone, PartialEq)]
pub enum PlayEnd {
    Completed,
    /// Stopped on request (skip, emergency, shutdown).
    Stopped,
    Failed(Reason),
    /// Stopped before its first sample: nothing aired.
    Cancelled,
}

/// What the playout reports of a cue (`id` is the cue's id).
pub type PlayEvent = crate::audio::Event<u64, PlayEnd>;

/// The output as the status page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum OutputState {
    /// Device open (something airs or is about to).
    Open,
    /// Closed while nothing airs: an idle station writes no silence.
    Idle,
    /// The last attempt failed; the next play tries again. In JSON:
    /// `reason` (English), `reason_code` and `reason_args`.
    Failed {
        #[serde(flatten)]
        reason: ReasonFields,
    },
}

pub trait Playout: Send + 'static {
    /// Queue `cue` behind whatever is playing or cued.
    fn cue(&mut self, cue: Cue);
    /// Stop `cue`: fade out (within 0.5 s) if it plays, drop it if it waits.
    fn stop(&mut self, cue: u64);
    fn state(&self) -> OutputState;
    /// Start connecting `relay`, which waits behind the airing item and
    /// will be cued after it (see `RelayCue::connect_early`). No default:
    /// a wrapper must pass it on.
    fn connect_early(&mut self, relay: &crate::audio::relay::RelayCue);
    /// Whether the audio thread answers (for the watchdog).
    fn alive(&self) -> bool {
        true
    }
}
