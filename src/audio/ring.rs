//! A lock-free ring of `f32` samples between one writer (the player thread)
//! and one reader (the sound card's real-time callback).
//!
//! The callback must never wait: not on a lock the writer holds, not on a
//! condition variable, not on the allocator. Here it only loads and stores
//! atomics. Samples are stored as `f32` bits in `AtomicU32` slots (relaxed
//! loads and stores compile to plain moves); `tail` is published with
//! release ordering after the slots are written, and `head` after they are
//! read, so each side sees whole samples. No `unsafe`.
//!
//! Only the reader moves `head`. To drop what is queued (an abrupt stop),
//! the writer marks the point to drop up to, and the reader skips there the
//! next time it reads.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

pub(crate) struct Ring {
    slots: Box<[AtomicU32]>,
    /// `slots.len() - 1`; the length is a power of two.
    mask: usize,
    /// Most samples queued at once (at most `slots.len()`).
    limit: usize,
    /// Index of the next sample to read; only the reader stores it.
    head: AtomicUsize,
    /// Index of the next slot to write; only the writer stores it.
    tail: AtomicUsize,
    /// Samples before this index are dropped unread.
    discard_to: AtomicUsize,
}

/// `a` is past `b` (indices wrap, and are never a ring apart).
fn after(a: usize, b: usize) -> bool {
    (a.wrapping_sub(b) as isize) > 0
}

impl Ring {
    /// A ring that queues at most `limit` samples.
    pub fn new(limit: usize) -> Ring {
        let size = limit.max(1).next_power_of_two();
        Ring {
            slots: (0..size).map(|_| AtomicU32::new(0)).collect(),
            mask: size - 1,
            limit,
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            discard_to: AtomicUsize::new(0),
        }
    }

    /// Samples queued, as the writer sees them (what is marked for dropping
    /// does not count).
    pub fn len(&self) -> usize {
        let tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(Ordering::Acquire);
        let discard = self.discard_to.load(Ordering::Relaxed);
        let from = if after(discard, head) { discard } else { head };
        tail.wrapping_sub(from)
    }

    /// Writer: queue the longest prefix of `samples` that fits and is a
    /// whole number of `unit`s (frames); returns how many were queued.
    pub fn push(&self, samples: &[f32], unit: usize) -> usize {
        let tail = self.tail.load(Ordering::Relaxed);
        // Within the limit counting what is discarded as gone, and within
        // the slots counting it as there: the reader may not have skipped
        // it yet, and may be reading it right now.
        let unread = tail.wrapping_sub(self.head.load(Ordering::Acquire));
        let room = self
            .limit
            .saturating_sub(self.len())
            .min(self.slots.len() - unread);
        let n = room.min(samples.len()) / unit.max(1) * unit.max(1);
        for (i, s) in samples[..n].iter().enumerate() {
            self.slots[tail.wrapping_add(i) & self.mask].store(s.to_bits(), Ordering::Relaxed);
        }
        self.tail.store(tail.wrapping_add(n), Ordering::Release);
        n
    }

    /// Writer: drop everything queued so far.
    pub fn discard(&self) {
        self.discard_to
            .store(self.tail.load(Ordering::Relaxed), Ordering::Release);
    }

    /// Reader: samples ready to read, after dropping what the writer
    /// discarded.
    pub fn available(&self) -> usize {
        let mut head = self.head.load(Ordering::Relaxed);
        let discard = self.discard_to.load(Ordering::Acquire);
        if after(discard, head) {
            head = discard;
            self.head.store(head, Ordering::Release);
        }
        self.tail.load(Ordering::Acquire).wrapping_sub(head)
    }

    /// Reader: fill `out` from the queue (call `available` first: `out`
    /// must not be longer than what it returned).
    pub fn pop_into<T>(&self, out: &mut [T], convert: impl Fn(f32) -> T) {
        let head = self.head.load(Ordering::Relaxed);
        for (i, o) in out.iter_mut().enumerate() {
            let bits = self.slots[head.wrapping_add(i) & self.mask].load(Ordering::Relaxed);
            *o = convert(f32::from_bits(bits));
        }
        self.head
            .store(head.wrapping_add(out.len()), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_frames_up_to_the_limit_in_order_across_the_wrap() {
        let ring = Ring::new(6);
        assert_eq!(ring.push(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 4), 4);
        assert_eq!(ring.push(&[5.0, 6.0, 7.0], 2), 2);
        assert_eq!(ring.len(), 6);
        assert_eq!(ring.push(&[9.0, 9.0], 2), 0, "full");
        let mut out = [0.0f32; 5];
        assert_eq!(ring.available(), 6);
        ring.pop_into(&mut out, |s| s);
        assert_eq!(out, [1.0, 2.0, 3.0, 4.0, 5.0]);
        // Wraps past the end of the 8 slots.
        assert_eq!(ring.push(&[7.0, 8.0, 9.0, 10.0, 11.0], 1), 5);
        let mut out = [0.0f32; 6];
        assert_eq!(ring.available(), 6);
        ring.pop_into(&mut out, |s| s);
        assert_eq!(out, [6.0, 7.0, 8.0, 9.0, 10.0, 11.0]);
        assert_eq!(ring.available(), 0);
    }

    #[test]
    fn discard_drops_what_is_queued_not_what_comes_after() {
        let ring = Ring::new(8);
        ring.push(&[1.0, 2.0, 3.0], 1);
        ring.discard();
        assert_eq!(ring.len(), 0);
        ring.push(&[4.0, 5.0], 1);
        assert_eq!(ring.len(), 2);
        assert_eq!(ring.available(), 2);
        let mut out = [0i32; 2];
        ring.pop_into(&mut out, |s| s as i32);
        assert_eq!(out, [4, 5]);
    }

    #[test]
    fn a_reader_thread_gets_every_sample_in_order() {
        let ring = std::sync::Arc::new(Ring::new(64));
        let reader = {
            let ring = ring.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while got.len() < 100_000 {
                    let n = ring.available().min(17);
                    let mut buf = vec![0.0f32; n];
                    ring.pop_into(&mut buf, |s| s);
                    got.extend(buf);
                }
                got
            })
        };
        let all: Vec<f32> = (0..100_000).map(|i| i as f32).collect();
        let mut at = 0;
        while at < all.len() {
            at += ring.push(&all[at..(at + 10).min(all.len())], 1);
        }
        assert_eq!(reader.join().unwrap(), all);
    }
}
