//! The comparison: what was sent against what came back, 100 ms frame by
//! 100 ms frame, on one timeline of wall-clock frame numbers
//! (`ms / FRAME_MS`).
//!
//! A sent frame is *heard* when the envelope around it (±1.5 s) rises and
//! falls with the line's envelope at the line's delay: a Pearson
//! correlation of at least `HEARD_R`. Noise and hum on the line add a
//! floor, which correlation ignores; a dead line, or one carrying
//! something else, does not follow the programme. The delay (0 to
//! `MAX_DELAY`) is searched over the last 6 s every second and kept while
//! nothing better is found. Where the programme itself is silent around a
//! frame, the frame takes the line's last verdict; where its envelope is
//! flat (a steady tone), sound on the line at the delay is taken as heard.
//!
//! Frames are decided `LAG` frames after they were captured (the delay
//! plus the window), so a row's heard seconds are known about 3.5 s after
//! it ends. After a start the first item's frames wait (10 s at most) for
//! a delay found on 3 s of programme; frames decided without one are
//! decided again, for 30 s, once it is found, and so are frames decided
//! at a delay a later search clearly betters. Memory is fixed: two
//! 2-minute rings of levels and two 24-hour bit rings (aired, heard).

use super::envelope::FRAME_MS;

/// Longest line delay searched: 2 s.
pub const MAX_DELAY: i64 = 2000 / FRAME_MS;
/// Half the correlation window: 1.5 s.
const HALF: i64 = 1500 / FRAME_MS;
/// Frames between capture and verdict.
pub const LAG: i64 = MAX_DELAY + HALF + 1;
/// Lags either side of the delay a frame's verdict looks at (the two
/// sides' frames are stamped to ±half a frame, and a busy output drifts).
const NEAR: i64 = 3;
/// Frames before the one decided that the delay search looks at: 10 s.
const SEARCH: i64 = 10_000 / FRAME_MS;
/// Correlation from which a frame is heard.
const HEARD_R: f32 = 0.5;
/// Correlation from which a delay search result is believed.
const DELAY_R: f32 = 0.6;
/// Correlation from which a frame is heard on half its window (16 pairs
/// instead of 31: as rarely reached by chance as `HEARD_R` on the whole).
const HALF_R: f32 = 0.7;
/// Pairs of frames the first delay search must rest on while frames wait
/// for it (3 s of programme: on less, a wrong lag can fit by chance).
const FIRST_PAIRS: u32 = 30;
/// Pairs any other delay search must rest on.
const PAIRS: u32 = 12;
/// Frames decided without a delay are decided again when it is found, as
/// far back as this: 30 s.
pub const RECHECK: i64 = 30_000 / FRAME_MS;
/// Below this band-limited RMS (-50 dBFS) a frame is silence.
pub const FLOOR: f32 = 0.003_16;
/// Sound on the line while nothing airs for this long is foreign: 30 s.
pub const FOREIGN_FRAMES: u32 = 30_000 / FRAME_MS as u32;
/// Quiet that ends a foreign sound: 3 s (shorter is a pause in speech).
const QUIET_FRAMES: u32 = 3000 / FRAME_MS as u32;
/// Rings of levels: 2 minutes.
const LEVELS: usize = 1200;
/// Ring of verdicts: 24 hours.
const VERDICTS: i64 = 24 * 3600 * 1000 / FRAME_MS;

/// Levels by frame number, the last `LEVELS` of them.
struct Ring {
    at: Vec<i64>,
    level: Vec<f32>,
}

impl Ring {
    fn new() -> Ring {
        Ring {
            at: vec![i64::MIN; LEVELS],
            level: vec![0.0; LEVELS],
        }
    }
    fn put(&mut self, frame: i64, level: f32) {
        let i = frame.rem_euclid(LEVELS as i64) as usize;
        self.at[i] = frame;
        self.level[i] = level;
    }
    fn get(&self, frame: i64) -> Option<f32> {
        let i = frame.rem_euclid(LEVELS as i64) as usize;
        (self.at[i] == frame).then(|| self.level[i])
    }
    fn remove(&mut self, frame: i64) {
        let i = frame.rem_euclid(LEVELS as i64) as usize;
        if self.at[i] == frame {
            self.at[i] = i64::MIN;
        }
    }
}

/// What the line is doing now, for the alarms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineState {
    /// Silent while an item airs for `silence_alarm` (until sound returns).
    pub silent: bool,
    /// Sound while nothing airs for 30 s, pauses under 3 s included
    /// (until the line is quiet for 3 s or an item airs).
    pub foreign: bool,
}

/// One bit per frame on the 24-hour ring.
struct Bits(Vec<u64>);

impl Bits {
    fn new() -> Bits {
        Bits(vec![0; (VERDICTS as usize).div_ceil(64)])
    }
    fn set(&mut self, frame: i64, on: bool) {
        let i = frame.rem_euclid(VERDICTS) as usize;
        let (w, b) = (i / 64, i % 64);
        if on {
            self.0[w] |= 1 << b;
        } else {
            self.0[w] &= !(1 << b);
        }
    }
    fn get(&self, frame: i64) -> bool {
        let i = frame.rem_euclid(VERDICTS) as usize;
        self.0[i / 64] >> (i % 64) & 1 == 1
    }
}

pub struct Matcher {
    sent: Ring,
    line: Ring,
    /// One bit per decided frame: something aired (was sent) there.
    aired: Bits,
    /// One bit per decided frame: heard.
    verdicts: Bits,
    /// The first aired frame decided without a delay, while none is found.
    unsure: Option<i64>,
    /// Frames before this one are decided (`None`: nothing captured yet).
    decided: Option<i64>,
    last_sent: i64,
    last_line: Option<i64>,
    delay: i64,
    /// A search found the delay (until then, each frame searches).
    delay_found: bool,
    /// The line's last verdict on a frame with programme sound.
    line_ok: bool,
    alarm_frames: u32,
    silent_run: u32,
    foreign_run: u32,
    quiet_run: u32,
    state: LineState,
}

impl Matcher {
    /// `silence_alarm` in frames.
    pub fn new(alarm_frames: u32) -> Matcher {
        Matcher {
            sent: Ring::new(),
            line: Ring::new(),
            aired: Bits::new(),
            verdicts: Bits::new(),
            unsure: None,
            decided: None,
            last_sent: i64::MIN,
            last_line: None,
            delay: 0,
            delay_found: false,
            line_ok: true,
            alarm_frames: alarm_frames.max(1),
            silent_run: 0,
            foreign_run: 0,
            quiet_run: 0,
            state: LineState::default(),
        }
    }

    pub fn state(&self) -> LineState {
        self.state
    }

    /// The delay found last, in frames.
    pub fn delay(&self) -> i64 {
        self.delay
    }

    /// Frames before this one have their verdict.
    pub fn decided(&self) -> Option<i64> {
        self.decided
    }

    /// A frame of what was sent, due on the line at `frame`.
    pub fn sent(&mut self, frame: i64, level: f32) {
        if self.decided.is_some_and(|d| frame < d) {
            return; // too late to matter
        }
        self.sent.put(frame, level);
        self.last_sent = self.last_sent.max(frame);
    }

    /// The frame sent at `frame` is not due there after all (the output
    /// started late: it comes again at its new number).
    pub fn withdrawn(&mut self, frame: i64) {
        if self.decided.is_some_and(|d| frame < d) {
            return; // decided already
        }
        self.sent.remove(frame);
    }

    /// A frame captured from the line at `frame`: the alarms move, and
    /// frames `LAG` older get their verdict.
    pub fn captured(&mut self, frame: i64, level: f32) {
        match self.last_line {
            // The wall clock jumped (or the capture was away for long):
            // start over rather than decide an hour frame by frame.
            Some(last) if frame < last - 50 || frame > last + LEVELS as i64 => {
                self.decided = Some(frame);
            }
            // The first: what was sent up to the longest delay before it
            // reaches the line after it (a capture that starts with the
            // programme, as a sound server's does).
            None => self.decided = Some(frame - MAX_DELAY),
            _ => {}
        }
        self.last_line = Some(frame);
        self.line.put(frame, level);
        self.alarms(frame, level);
        while let Some(d) = self.decided.filter(|&d| d + LAG <= frame) {
            let aired = self.sent.get(d).is_some();
            // The station's first item: verdicts wait (10 s at most) for
            // the delay, searched on all that came back so far.
            if !self.delay_found && aired && frame - d < SEARCH {
                self.search_delay(frame - LAG + 1, FIRST_PAIRS);
                if !self.delay_found {
                    break;
                }
            }
            let heard = self.decide(d);
            self.aired.set(d, aired);
            self.verdicts.set(d, heard);
            if aired && !self.delay_found {
                self.unsure.get_or_insert(d);
            }
            self.decided = Some(d + 1);
        }
    }

    fn alarms(&mut self, frame: i64, level: f32) {
        let airing = self.last_sent >= frame - MAX_DELAY - 5;
        let quiet = level < FLOOR;
        if airing {
            self.foreign_run = 0;
            let sound_sent =
                (frame - MAX_DELAY..=frame).any(|f| self.sent.get(f).is_some_and(|l| l >= FLOOR));
            if !quiet {
                self.silent_run = 0;
            } else if sound_sent {
                self.silent_run = self.silent_run.saturating_add(1);
            }
        } else if quiet {
            // Pauses between words do not end a foreign sound; 3 s of
            // quiet do.
            self.quiet_run = self.quiet_run.saturating_add(1);
            if self.quiet_run >= QUIET_FRAMES {
                self.foreign_run = 0;
            } else if self.foreign_run > 0 {
                self.foreign_run = self.foreign_run.saturating_add(1);
            }
        } else {
            self.silent_run = 0;
            self.quiet_run = 0;
            self.foreign_run = self.foreign_run.saturating_add(1);
        }
        self.state = LineState {
            silent: self.silent_run >= self.alarm_frames,
            foreign: self.foreign_run >= FOREIGN_FRAMES,
        };
    }

    /// Pearson correlation of sent frames `from..=to` with the line `lag`
    /// frames later, and how many pairs it had.
    fn correlation(&self, from: i64, to: i64, lag: i64) -> (f32, u32) {
        let (mut n, mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0u32, 0.0, 0.0, 0.0, 0.0, 0.0);
        for f in from..=to {
            let (Some(x), Some(y)) = (self.sent.get(f), self.line.get(f + lag)) else {
                continue;
            };
            let (x, y) = (f64::from(x), f64::from(y));
            n += 1;
            sx += x;
            sy += y;
            sxx += x * x;
            syy += y * y;
            sxy += x * y;
        }
        if n < 3 {
            return (0.0, n);
        }
        let nf = f64::from(n);
        let vx = sxx - sx * sx / nf;
        let vy = syy - sy * sy / nf;
        let c = sxy - sx * sy / nf;
        // Flat on either side (silence, a steady tone): no evidence.
        if vx <= 1e-12 * nf || vy <= 1e-12 * nf {
            return (0.0, n);
        }
        ((c / (vx * vy).sqrt()) as f32, n)
    }

    /// Search the delay around `frame`; believe a result that rests on at
    /// least `pairs` pairs of frames.
    fn search_delay(&mut self, frame: i64, pairs: u32) {
        let mut best = (DELAY_R, None);
        let mut current = f32::MIN;
        for lag in 0..=MAX_DELAY {
            let (r, n) = self.correlation(frame - SEARCH, frame + HALF, lag);
            if lag == self.delay {
                current = r;
            }
            if n >= pairs && r > best.0 {
                best = (r, Some(lag));
            }
        }
        // A delay found stays unless another is clearly better (speech's
        // syllables make side peaks a few frames away).
        if self.delay_found && best.0 < current + 0.05 {
            return;
        }
        if let Some(lag) = best.1 {
            if !self.delay_found || (lag - self.delay).abs() > 1 {
                tracing::info!(
                    delay_ms = lag * FRAME_MS,
                    r = f64::from(best.0),
                    "line monitor: the line's delay"
                );
            }
            let moved = self.delay_found && lag != self.delay;
            self.delay = lag;
            if !self.delay_found {
                self.delay_found = true;
                self.recheck();
            } else if moved {
                // A clearly better delay (the first one fitted by chance, or
                // the line's delay moved): the recent frames not heard at
                // the old one are decided again at it.
                self.unsure = self.decided.map(|d| d - RECHECK);
                self.recheck();
            }
        }
    }

    /// The delay is found, or a clearly better one: frames decided without
    /// it (the last `RECHECK` of them) that were not heard are decided
    /// again with it. This only ever adds heard frames.
    fn recheck(&mut self) {
        let (Some(unsure), Some(decided)) = (self.unsure.take(), self.decided) else {
            return;
        };
        for f in unsure.max(decided - RECHECK)..decided {
            if self.aired.get(f) && !self.verdicts.get(f) && self.judge(f) == Some(true) {
                self.verdicts.set(f, true);
            }
        }
    }

    fn decide(&mut self, frame: i64) -> bool {
        if self.sent.get(frame).is_none() {
            return false; // nothing aired
        }
        if !self.delay_found || frame.rem_euclid(10) == 0 {
            self.search_delay(frame, PAIRS);
        }
        match self.judge(frame) {
            Some(heard) => {
                self.line_ok = heard;
                heard
            }
            None => self.line_ok, // the programme is silent here
        }
    }

    /// Whether the line follows sent frame `frame` (`None`: nothing aired
    /// there, or the programme is silent around it).
    fn judge(&self, frame: i64) -> Option<bool> {
        let level = self.sent.get(frame)?;
        let (from, to) = (frame - HALF, frame + HALF);
        let window = (from..=to).filter_map(|f| self.sent.get(f));
        let (mut lo, mut hi) = (f32::MAX, 0.0f32);
        for l in window {
            lo = lo.min(l);
            hi = hi.max(l);
        }
        if hi < FLOOR {
            return None;
        }
        let heard = if hi - lo < 0.2 * hi {
            // A flat envelope: sound on the line at the delay will do.
            level >= FLOOR
                && self
                    .line
                    .get(frame + self.delay)
                    .is_some_and(|l| l >= FLOOR)
        } else {
            // Until a delay is found (the station's first item), every lag,
            // with the stricter bar of the delay search.
            let (lags, bar) = if self.delay_found {
                let near = (self.delay - NEAR).max(0)..=(self.delay + NEAR).min(MAX_DELAY);
                (near, HEARD_R)
            } else {
                (0..=MAX_DELAY, DELAY_R)
            };
            let best = |from, to| {
                lags.clone()
                    .map(|lag| self.correlation(from, to, lag).0)
                    .fold(f32::MIN, f32::max)
            };
            // Where the line's delay moved within the window (an output
            // that fell behind, a transmitter that resynced), the half on
            // the frame's other side of the move still follows: half as
            // many pairs, so a stricter bar.
            best(from, to) >= bar
                || (self.delay_found && (best(from, frame) >= HALF_R || best(frame, to) >= HALF_R))
        };
        Some(heard)
    }

    /// Heard frames in `from..to` that have their verdict (at most 24
    /// hours back).
    pub fn heard(&self, from: i64, to: i64) -> u64 {
        let Some(decided) = self.decided else {
            return 0;
        };
        let from = from.max(decided - VERDICTS + 1);
        let to = to.min(decided);
        (from..to).filter(|&f| self.verdicts.get(f)).count() as u64
    }

    /// Heard frames among the `frames` aired frames of an item that began
    /// at `from`, and whether every one of them has its final verdict
    /// (until then the figure can still grow). Frames where nothing was
    /// sent are passed over (a player that fell behind aired silence
    /// there, and its frames went out that much later), as far as
    /// `frames / 4 + 1 s` past the item's nominal end.
    pub fn heard_of(&self, from: i64, frames: i64) -> (u64, bool) {
        let Some(decided) = self.decided else {
            return (0, false);
        };
        let frames = frames.max(0);
        let end = from + frames + frames / 4 + 10;
        let (mut seen, mut heard, mut f) = (0, 0u64, from.max(decided - VERDICTS + 1));
        while seen < frames && f < end.min(decided) {
            if self.aired.get(f) {
                seen += 1;
                heard += u64::from(self.verdicts.get(f));
            }
            f += 1;
        }
        let walked = seen >= frames || f >= end;
        // Frames decided without a delay may still be decided again.
        let unsure = self.unsure.is_some_and(|u| u < f && decided < f + RECHECK);
        (heard, walked && !unsure)
    }
}

#[cfg(test)]
#[path = "matcher_tests.rs"]
mod tests;
