//! The engine-wedging test hook, compiled only with the `test-hooks`
//! feature (tests/unattended.rs runs the tests' build, which has it).

use tracing::{error, warn};

use crate::engine;

/// A test hook: `LOA_TEST_WEDGE_ENGINE=S` (seconds after start; only in a
/// build with the `test-hooks` feature, never in a shipped one) wedges the
/// engine for real: from then on its loop gets stuck in a call to the
/// playout, as in a bug, so it stops taking the watchdog's pings and the
/// watchdog's real timeout path runs (see `crate::systemd`).
pub(super) struct WedgeHook<P> {
    inner: P,
    at: Option<std::time::Instant>,
}

impl<P: engine::Playout> WedgeHook<P> {
    pub(super) fn from_env(inner: P) -> Self {
        let after =
            std::env::var("LOA_TEST_WEDGE_ENGINE")
                .ok()
                .and_then(|v| match v.parse::<f64>() {
                    Ok(s) if s >= 0.0 => {
                        warn!(
                            "LOA_TEST_WEDGE_ENGINE={v}: test hook, the engine wedges after {s} s"
                        );
                        Some(std::time::Duration::from_secs_f64(s))
                    }
                    _ => {
                        warn!("LOA_TEST_WEDGE_ENGINE={v} ignored: give seconds, e.g. 3");
                        None
                    }
                });
        WedgeHook {
            inner,
            at: after.map(|d| std::time::Instant::now() + d),
        }
    }
}

impl<P: engine::Playout> engine::Playout for WedgeHook<P> {
    fn cue(&mut self, cue: engine::playout::Cue) {
        self.inner.cue(cue)
    }
    fn stop(&mut self, cue: u64) {
        self.inner.stop(cue)
    }
    fn connect_early(&mut self, relay: &crate::audio::relay::RelayCue) {
        self.inner.connect_early(relay)
    }
    fn state(&self) -> engine::OutputState {
        if self.at.is_some_and(|t| std::time::Instant::now() >= t) {
            error!("LOA_TEST_WEDGE_ENGINE: the engine's loop is now stuck");
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        self.inner.state()
    }
    fn alive(&self) -> bool {
        self.inner.alive()
    }
}
