//! Time as the engine sees it: the wall clock, which decides what is due,
//! and sleeps, which follow the monotonic clock.
//!
//! Boards without a real-time clock boot with a stale time and jump when NTP
//! syncs, so the engine never trusts a sleep to land on a wall-clock instant:
//! it sleeps at most a second and asks the wall clock again. Tests swap in a
//! `TestClock` whose wall time follows tokio's (pausable) clock plus an offset
//! they can jump, so a day runs in milliseconds.

#[cfg(test)]
use std::sync::{Arc, Mutex};

#[cfg(test)]
use chrono::Duration;
use chrono::{DateTime, Utc};

/// The wall clock.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The host's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A wall clock that starts at a chosen instant, advances with tokio's clock
/// (virtual under `start_paused`), and can be jumped like NTP does.
#[cfg(test)]
#[derive(Debug, Clone)]
pub struct TestClock {
    inner: Arc<Mutex<(DateTime<Utc>, tokio::time::Instant)>>,
}

#[cfg(test)]
impl TestClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        TestClock {
            inner: Arc::new(Mutex::new((start, tokio::time::Instant::now()))),
        }
    }

    /// Jump the wall clock by `by` (negative: backwards).
    pub fn jump(&self, by: Duration) {
        let mut g = self.inner.lock().expect("clock lock");
        g.0 += by;
    }
}

#[cfg(test)]
impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        let g = self.inner.lock().expect("clock lock");
        let elapsed = tokio::time::Instant::now() - g.1;
        g.0 + Duration::from_std(elapsed).unwrap_or_default()
    }
}
