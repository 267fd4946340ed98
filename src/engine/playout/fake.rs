//! A playout for tests: "plays" on tokio's clock, so a whole day of the
//! station runs in milliseconds under a paused runtime. Test builds only.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::UnboundedSender;

use super::{Cue, OutputState, PlayEnd, PlayEvent, Playout};
use crate::engine::clock::Clock;
use crate::reason::Reason;

/// What a fake play should do.
#[derive(Debug, Clone, PartialEq)]
pub enum FakeBehaviour {
    /// Play the expected duration and complete.
    Play,
    /// Fail after this many seconds (a device that vanished).
    FailAfter(f64, Reason),
    /// Fail to open (a file that does not decode).
    FailToOpen(Reason),
}

/// A playout for tests: time passes on tokio's clock (pause it), events go
/// to the engine like the real audio thread's do. Per-file behaviours can
/// be scripted; everything it was asked to play is logged.
#[derive(Clone)]
pub struct FakePlayout<C: Clock + Clone> {
    inner: Arc<Mutex<FakeInner>>,
    clock: C,
    events: UnboundedSender<PlayEvent>,
}

#[derive(Default)]
struct FakeInner {
    pending: VecDeque<Cue>,
    playing: Option<(u64, tokio::task::AbortHandle, tokio::time::Instant)>,
    behaviours: HashMap<PathBuf, FakeBehaviour>,
    /// (cue id, path, wall-clock start) of every play that started.
    pub log: Vec<(u64, PathBuf, DateTime<Utc>)>,
    /// How long stopping a started play takes (the real player fades).
    fade: std::time::Duration,
    /// (relay id, wall clock) of every early connection asked for.
    early: Vec<(String, DateTime<Utc>)>,
}

impl<C: Clock + Clone> FakePlayout<C> {
    pub fn new(clock: C, events: UnboundedSender<PlayEvent>) -> Self {
        FakePlayout {
            inner: Arc::default(),
            clock,
            events,
        }
    }

    pub fn set_behaviour(&self, path: impl Into<PathBuf>, b: FakeBehaviour) {
        self.inner.lock().unwrap().behaviours.insert(path.into(), b);
    }

    /// Stopping a started play takes `fade` of (virtual) time, as the real
    /// player's fade-out does; by default it stops at once.
    pub fn set_fade(&self, fade: std::time::Duration) {
        self.inner.lock().unwrap().fade = fade;
    }

    /// What started, in order: (path, wall-clock start).
    pub fn played(&self) -> Vec<(PathBuf, DateTime<Utc>)> {
        let g = self.inner.lock().unwrap();
        g.log.iter().map(|(_, p, t)| (p.clone(), *t)).collect()
    }

    /// The relays asked to connect early, and when.
    pub fn early_connects(&self) -> Vec<(String, DateTime<Utc>)> {
        self.inner.lock().unwrap().early.clone()
    }

    fn pump(&self) {
        let mut g = self.inner.lock().unwrap();
        if g.playing.is_some() {
            return;
        }
        let Some(cue) = g.pending.pop_front() else {
            return;
        };
        let behaviour = g
            .behaviours
            .get(&cue.path)
            .cloned()
            .unwrap_or(FakeBehaviour::Play);
        let this = self.clone();
        let id = cue.id;
        let task = tokio::spawn(async move { this.play(cue, behaviour).await });
        g.playing = Some((id, task.abort_handle(), tokio::time::Instant::now()));
    }

    async fn play(self, cue: Cue, behaviour: FakeBehaviour) {
        if let Some(at) = cue.start_at {
            let wait = (at - self.clock.now()).to_std().unwrap_or_default();
            tokio::time::sleep(wait).await;
        }
        if let FakeBehaviour::FailToOpen(reason) = &behaviour {
            self.finish(cue.id, 0.0, PlayEnd::Failed(reason.clone()));
            return;
        }
        let started = self.clock.now();
        {
            let mut g = self.inner.lock().unwrap();
            g.log.push((cue.id, cue.path.clone(), started));
            if let Some(p) = g.playing.as_mut() {
                p.2 = tokio::time::Instant::now();
            }
        }
        let _ = self.events.send(PlayEvent::Started {
            id: cue.id,
            at: started,
        });
        let (secs, end) = match behaviour {
            FakeBehaviour::FailAfter(s, reason) => {
                (s.min(cue.expected_seconds), PlayEnd::Failed(reason))
            }
            _ => (cue.expected_seconds, PlayEnd::Completed),
        };
        tokio::time::sleep(std::time::Duration::from_secs_f64(secs)).await;
        if let Some(r) = &cue.relay {
            // The fake source airs throughout.
            r.report.lock().unwrap().source_seconds = secs;
        }
        self.finish(cue.id, secs, end);
    }

    fn finish(&self, cue: u64, aired_seconds: f64, end: PlayEnd) {
        {
            let mut g = self.inner.lock().unwrap();
            if g.playing.as_ref().map(|p| p.0) == Some(cue) {
                g.playing = None;
            }
        }
        let _ = self.events.send(PlayEvent::Finished {
            id: cue,
            aired_seconds,
            end,
        });
        self.pump();
    }
}

impl<C: Clock + Clone> Playout for FakePlayout<C> {
    fn cue(&mut self, cue: Cue) {
        self.inner.lock().unwrap().pending.push_back(cue);
        self.pump();
    }

    fn connect_early(&mut self, relay: &crate::audio::relay::RelayCue) {
        let now = self.clock.now();
        let mut g = self.inner.lock().unwrap();
        if !g.early.iter().any(|(id, _)| *id == relay.relay.id) {
            g.early.push((relay.relay.id.clone(), now));
        }
    }

    fn stop(&mut self, cue: u64) {
        let stopped = {
            let mut g = self.inner.lock().unwrap();
            if let Some(pos) = g.pending.iter().position(|c| c.id == cue) {
                g.pending.remove(pos);
                Some((0.0, PlayEnd::Cancelled))
            } else if g.playing.as_ref().map(|p| p.0) == Some(cue)
                && !g.fade.is_zero()
                && g.log.last().is_some_and(|l| l.0 == cue)
            {
                // Fades: still playing (nothing behind it starts) until done.
                let (_, task, since) = g.playing.clone().expect("playing");
                let (fade, this) = (g.fade, self.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(fade).await;
                    task.abort();
                    this.finish(cue, since.elapsed().as_secs_f64(), PlayEnd::Stopped);
                });
                None
            } else if g.playing.as_ref().map(|p| p.0) == Some(cue) {
                let (_, task, since) = g.playing.take().expect("playing");
                task.abort();
                let started = g.log.last().is_some_and(|l| l.0 == cue);
                if started {
                    Some((since.elapsed().as_secs_f64(), PlayEnd::Stopped))
                } else {
                    Some((0.0, PlayEnd::Cancelled))
                }
            } else {
                None
            }
        };
        if let Some((aired, end)) = stopped {
            let _ = self.events.send(PlayEvent::Finished {
                id: cue,
                aired_seconds: aired,
                end,
            });
            self.pump();
        }
    }

    fn state(&self) -> OutputState {
        if self.inner.lock().unwrap().playing.is_some() {
            OutputState::Open
        } else {
            OutputState::Idle
        }
    }
}
