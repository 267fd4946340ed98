//! How many renders run at once in this process: a speech engine takes a
//! core, and a board has two. An operator who sends notices faster than
//! they are read aloud waits a bounded time, then is told the engine is
//! busy; the daemon's own scheduled notices wait their turn.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Renders at once, in the whole process.
pub const MAX_RENDERS: usize = 2;
/// Requests that may wait for a render slot: beyond, one is refused at once
/// (each waits on a thread of its own).
pub const MAX_WAITING: usize = 8;
/// The longest a request waits for a render slot.
pub const REQUEST_WAIT: Duration = Duration::from_secs(30);

/// How a render waits for its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The daemon's own notices (at most two threads): as long as it takes.
    Background,
    /// A request (the API, `loa say`): at most [`REQUEST_WAIT`], and not at
    /// all when [`MAX_WAITING`] requests already wait.
    Request,
}

struct Counts {
    running: usize,
    waiting: usize,
}

pub(super) struct Gate {
    counts: Mutex<Counts>,
    freed: Condvar,
}

/// A render slot, given back when dropped.
pub(super) struct Slot<'a>(&'a Gate);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut c = self.0.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.running -= 1;
        self.0.freed.notify_one();
    }
}

impl Gate {
    pub(super) const fn new() -> Gate {
        Gate {
            counts: Mutex::new(Counts {
                running: 0,
                waiting: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// A slot, or `None` when the wait is over (or too many wait already).
    pub(super) fn acquire(&self, wait: Wait) -> Option<Slot<'_>> {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if c.running < MAX_RENDERS {
            c.running += 1;
            return Some(Slot(self));
        }
        if wait == Wait::Request && c.waiting >= MAX_WAITING {
            return None;
        }
        let deadline = Instant::now() + REQUEST_WAIT;
        c.waiting += 1;
        let got = loop {
            if c.running < MAX_RENDERS {
                break true;
            }
            c = match wait {
                Wait::Background => self.freed.wait(c).unwrap_or_else(|e| e.into_inner()),
                Wait::Request => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break false;
                    }
                    self.freed
                        .wait_timeout(c, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        };
        c.waiting -= 1;
        if !got {
            return None;
        }
        c.running += 1;
        Some(Slot(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_two_render_and_a_request_past_the_waiters_is_refused_at_once() {
        let gate = Gate::new();
        let a = gate.acquire(Wait::Request).unwrap();
        let b = gate.acquire(Wait::Request).unwrap();
        std::thread::scope(|s| {
            let waiters: Vec<_> = (0..MAX_WAITING)
                .map(|_| s.spawn(|| gate.acquire(Wait::Request).is_some()))
                .collect();
            while gate.counts.lock().unwrap().waiting < MAX_WAITING {
                std::thread::yield_now();
            }
            let started = Instant::now();
            assert!(gate.acquire(Wait::Request).is_none());
            assert!(started.elapsed() < Duration::from_secs(5));
            // Freed slots let the waiters through.
            drop(a);
            drop(b);
            for w in waiters {
                assert!(w.join().unwrap());
            }
        });
    }
}
