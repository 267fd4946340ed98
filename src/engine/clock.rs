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
        Utc::now() + test_offset()
    }
}

/// A test hook for the soak: `LOA_TEST_CLOCK_OFFSET_FILE=PATH` (compiled
/// only with the `test-hooks` feature, which the tests' build has and the
/// shipped binary has not) names a file holding whole seconds, possibly
/// negative, added to the host's clock. A test rewrites the file to jump a
/// running daemon's wall clock as NTP does, and the offset outlives a
/// restart as the system clock would. Read again at most every 100 ms; a
/// missing or unreadable file means no offset. Without the variable this is
/// zero, so the station's clock is the host's.
#[cfg(feature = "test-hooks")]
pub(crate) fn test_offset() -> chrono::Duration {
    use std::sync::{Mutex, OnceLock};
    use std::time::{Duration as StdDuration, Instant};
    static FILE: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
    static CACHE: Mutex<Option<(Instant, i64)>> = Mutex::new(None);
    let Some(path) = FILE.get_or_init(|| {
        std::env::var_os("LOA_TEST_CLOCK_OFFSET_FILE")
            .map(|p| {
                tracing::warn!(
                    file = %std::path::Path::new(&p).display(),
                    "LOA_TEST_CLOCK_OFFSET_FILE: test hook, the wall clock is shifted by the seconds in this file"
                );
                p.into()
            })
    }) else {
        return chrono::Duration::zero();
    };
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let secs = match *cache {
        Some((read, secs)) if read.elapsed() < StdDuration::from_millis(100) => secs,
        _ => {
            let secs = std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .unwrap_or(0);
            *cache = Some((Instant::now(), secs));
            secs
        }
    };
    chrono::Duration::seconds(secs)
}

/// Without the `test-hooks` feature (every shipped build) the station's
/// clock is the host's.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub(crate) fn test_offset() -> chrono::Duration {
    chrono::Duration::zero()
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
