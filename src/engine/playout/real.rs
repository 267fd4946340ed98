//! `Playout` over the real audio thread (`crate::audio::Player`).
//!
//! The audio thread holds one playing and one prepared item; the engine
//! thinks in a line of cues. This adapter keeps the difference: it prepares
//! the next cue while the current one plays (so a programme's items follow
//! each other within milliseconds), starts it the moment the current one
//! finishes, and turns the thread's events into the engine's.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::{Cue, OutputState, PlayEnd, PlayEvent, Playout};
use crate::audio::{self, PlayId, Player, MAX_FADE};
use crate::engine::clock::{Clock, SystemClock};

/// How long the watchdog waits for the audio thread to answer.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct AudioPlayout {
    player: Arc<Player>,
    inner: Arc<Mutex<Line>>,
    events: UnboundedSender<PlayEvent>,
}

#[derive(Default)]
struct Line {
    /// Cues not yet handed to the audio thread.
    pending: VecDeque<Cue>,
    /// Prepared in the audio thread: (cue, id, dropped by the engine).
    prepared: Option<(Cue, PlayId, bool)>,
    /// Playing (or waiting for its start instant): (cue id, id, started).
    playing: Option<(u64, PlayId, bool)>,
}

/// A wall-clock instant as a monotonic one (now if it is past).
fn instant_for(at: Option<DateTime<Utc>>) -> Instant {
    let now = Instant::now();
    match at.and_then(|t| (t - SystemClock.now()).to_std().ok()) {
        Some(d) => now + d,
        None => now,
    }
}

impl AudioPlayout {
    /// Wrap `player`, whose events arrive on `audio_events`; the engine's
    /// events go to `events`. Spawns the forwarding task on the runtime.
    pub fn new(
        player: Player,
        mut audio_events: UnboundedReceiver<audio::Event>,
        events: UnboundedSender<PlayEvent>,
    ) -> AudioPlayout {
        let this = AudioPlayout {
            player: Arc::new(player),
            inner: Arc::default(),
            events: events.clone(),
        };
        let fwd = this.clone();
        tokio::spawn(async move {
            while let Some(ev) = audio_events.recv().await {
                for out in fwd.on_audio_event(ev) {
                    if events.send(out).is_err() {
                        return;
                    }
                }
            }
        });
        this
    }

    /// Translate one audio event; may start the next prepared cue.
    fn on_audio_event(&self, ev: audio::Event) -> Vec<PlayEvent> {
        let mut g = self.inner.lock().expect("playout lock");
        let mut out = Vec::new();
        match ev {
            audio::Event::Started { id, at } => {
                if let Some(p) = g.playing.as_mut().filter(|p| p.1 == id) {
                    p.2 = true;
                    // The audio thread tells host time; the engine's clock
                    // may be shifted by a test hook (`clock::test_offset`).
                    let at = at + crate::engine::clock::test_offset();
                    out.push(PlayEvent::Started { id: p.0, at });
                }
            }
            audio::Event::Progress { id, aired_seconds } => {
                if let Some(p) = g.playing.as_ref().filter(|p| p.1 == id) {
                    out.push(PlayEvent::Progress {
                        id: p.0,
                        aired_seconds,
                    });
                }
            }
            audio::Event::Finished {
                id,
                aired_seconds,
                end: outcome,
            } => {
                let (cue, started) = if let Some(p) = g.playing.filter(|p| p.1 == id) {
                    g.playing = None;
                    (p.0, p.2)
                } else if let Some(p) = g.prepared.as_ref().filter(|p| p.1 == id) {
                    let cue = p.0.id;
                    g.prepared = None;
                    (cue, false)
                } else {
                    return out;
                };
                let end = match outcome {
                    audio::Outcome::Completed => PlayEnd::Completed,
                    audio::Outcome::Stopped if started => PlayEnd::Stopped,
                    audio::Outcome::Stopped => PlayEnd::Cancelled,
                    audio::Outcome::Failed(r) => PlayEnd::Failed(r),
                };
                out.push(PlayEvent::Finished {
                    id: cue,
                    aired_seconds,
                    end,
                });
                self.pump(&mut g);
            }
        }
        out
    }

    /// Keep the audio thread busy: start the prepared cue when the line is
    /// free, prepare the next one behind it.
    fn pump(&self, g: &mut Line) {
        if g.playing.is_none() {
            if let Some((cue, id, dropped)) = g.prepared.take() {
                if dropped {
                    // Nothing plays, so this stop drops the prepared item;
                    // its Finished(Stopped) becomes the engine's Cancelled.
                    g.prepared = Some((cue, id, true));
                    self.player.stop(Duration::ZERO);
                    return;
                }
                self.player.start_at(id, instant_for(cue.start_at));
                g.playing = Some((cue.id, id, false));
            }
        }
        if g.prepared.is_none() {
            if let Some(cue) = g.pending.pop_front() {
                let id = match &cue.relay {
                    Some(relay) => self.player.prepare_relay(relay.clone()),
                    None => self.player.prepare(
                        cue.path.clone(),
                        Duration::from_secs_f64(cue.expected_seconds.max(0.0)),
                    ),
                };
                g.prepared = Some((cue, id, false));
                if g.playing.is_none() {
                    self.pump(g);
                }
            }
        }
    }
}

impl Playout for AudioPlayout {
    fn connect_early(&mut self, relay: &crate::audio::relay::RelayCue) {
        if let Err(why) = relay.connect_early() {
            tracing::warn!(relay = %relay.relay.id, "cannot connect the relay early: {why}");
        }
    }

    fn cue(&mut self, cue: Cue) {
        let mut g = self.inner.lock().expect("playout lock");
        g.pending.push_back(cue);
        self.pump(&mut g);
    }

    fn stop(&mut self, cue: u64) {
        let mut g = self.inner.lock().expect("playout lock");
        if g.playing.is_some_and(|p| p.0 == cue) {
            self.player.stop(MAX_FADE);
        } else if let Some(p) = g.prepared.as_mut().filter(|p| p.0.id == cue) {
            p.2 = true;
            if g.playing.is_none() {
                self.player.stop(Duration::ZERO);
            }
        } else if let Some(i) = g.pending.iter().position(|c| c.id == cue) {
            g.pending.remove(i);
            drop(g);
            // Never reached the audio thread: the engine hears it here.
            let _ = self.events.send(PlayEvent::Finished {
                id: cue,
                aired_seconds: 0.0,
                end: PlayEnd::Cancelled,
            });
        }
    }

    fn state(&self) -> OutputState {
        match self.player.state() {
            audio::OutputState::Idle => OutputState::Idle,
            audio::OutputState::Open { .. } => OutputState::Open,
            audio::OutputState::Failed { reason } => OutputState::Failed {
                reason: reason.into(),
            },
        }
    }

    fn alive(&self) -> bool {
        self.player.ping(PING_TIMEOUT)
    }
}
