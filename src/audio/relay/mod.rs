//! Relays (tiếp âm): a live source aired for a fixed duration.
//!
//! A relay is played by the player like a file, through [`RelaySource`],
//! which hands out chunks in one fixed format ([`RELAY_FORMAT`]) and ends
//! after exactly the relay's duration. Behind it a worker thread of its own
//! (`loa-relay`) pulls the source — an HTTP(S) stream (`net`) or a capture
//! device (`capture`) — decodes it and fills a buffer of a few seconds; it
//! reconnects with backoff when the source drops, stalls or goes silent for
//! longer than `silence_after`. When the buffer runs dry the source airs the
//! relay's fallback bulletin (or silence) instead, so the loudspeaker line
//! never stalls and the slot ends on time.
//!
//! What aired is kept in a [`RelayReport`] shared with whoever cued the
//! relay (the engine): seconds of real source audio, of fallback and of
//! silence, and every drop. It is updated with each chunk, so it is current
//! when the player reports the item finished.
//!
//! Levelling: source audio goes through the slow automatic gain
//! ([`AutoGain`]) toward the station's loudness target, when it has one.

mod capture;
mod net;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::convert::{apply_gain, Converter};
use super::decode::FileDecoder;
use super::loudness::AutoGain;
use super::sink::Format;
use crate::config::{Relay, RelaySource as Source};
use crate::reason::{Reason, RelayDrop};

/// The format every relay hands the player, whatever its source sends: a
/// source's own format may change from one connection to the next.
pub const RELAY_FORMAT: Format = Format {
    rate: 44100,
    channels: 2,
};

/// At most this much source audio waits in the buffer: the worker stops
/// reading (TCP holds the rest) when it is full, so a plain file is not
/// downloaded ahead and a live stream runs at most this far behind.
const BUFFER: Duration = Duration::from_secs(3);
/// After a drop, source audio airs again once this much has arrived, so
/// one late packet does not flap between source and fallback.
const PREBUFFER: Duration = Duration::from_millis(500);
/// How long a chunk request waits for late source audio before airing
/// fallback instead.
const LATE: Duration = Duration::from_millis(120);
/// Frames per chunk handed to the player (about 46 ms).
const CHUNK_FRAMES: usize = 2048;
/// Waits between reconnection attempts: doubling from the first, capped.
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A worker started early ([`RelayCue::connect_early`]) longer ago than
/// this when its relay is prepared (the item before was cut, something
/// else took the line first) is replaced: what it buffered is stale.
const EARLY_AT_MOST: Duration = Duration::from_secs(5);
/// A source that sends nothing for this long has dropped.
pub(crate) const STALL: Duration = Duration::from_secs(4);

/// A relay to play: what the engine hands the player.
#[derive(Debug, Clone)]
pub struct RelayCue {
    pub relay: Relay,
    /// The fallback bulletin's file, when the relay names one.
    pub fallback: Option<PathBuf>,
    /// The loudness the source is levelled toward (the station's `[output]
    /// loudness_lufs`); `None` airs it as received (`loudness = false`).
    pub loudness_lufs: Option<f64>,
    /// What aired so far; the engine reads it when the item ends.
    pub report: Arc<Mutex<RelayReport>>,
    /// The worker started by [`RelayCue::connect_early`], for the source
    /// to take; shared by the cue's clones.
    early: Arc<Early>,
}

/// A relay's worker started before its source is (see
/// [`RelayCue::connect_early`]). Stopped when the last clone of its cue
/// goes (the relay ended, was removed or missed) unless taken.
#[derive(Default)]
struct Early(Mutex<EarlyState>);

#[derive(Default)]
enum EarlyState {
    /// Not started early.
    #[default]
    Idle,
    /// The worker, and when it started.
    Running(Arc<Shared>, Instant),
    /// A [`RelaySource`] took the worker (or started its own).
    Taken,
}

impl Early {
    fn state(&self) -> std::sync::MutexGuard<'_, EarlyState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Early {
    fn drop(&mut self) {
        if let EarlyState::Running(shared, _) = std::mem::take(&mut *self.state()) {
            shared.stop();
        }
    }
}

impl std::fmt::Debug for Early {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &*self.state() {
            EarlyState::Idle => "idle",
            EarlyState::Running(..) => "running",
            EarlyState::Taken => "taken",
        };
        f.write_str(state)
    }
}

impl RelayCue {
    pub fn new(relay: Relay, fallback: Option<PathBuf>, loudness_lufs: Option<f64>) -> RelayCue {
        RelayCue {
            relay,
            fallback,
            loudness_lufs,
            report: Arc::default(),
            early: Arc::default(),
        }
    }

    /// Start connecting now, before the relay is prepared: for a relay
    /// waiting behind another item, which is prepared only 1.5 s before
    /// that item ends. The worker is separate from what airs, so it may
    /// run alongside it; it buffers at most [`BUFFER`] and is stopped when
    /// the cue goes without airing. Once per cue; later calls do nothing.
    pub fn connect_early(&self) -> Result<(), String> {
        let mut state = self.early.state();
        if matches!(*state, EarlyState::Idle) {
            *state = EarlyState::Running(spawn_worker(&self.relay)?, Instant::now());
        }
        Ok(())
    }

    /// The report as it stands.
    pub fn report(&self) -> RelayReport {
        self.report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// What a relay aired, and what went wrong.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelayReport {
    /// Seconds of real source audio handed to the output.
    pub source_seconds: f64,
    /// Seconds of the fallback bulletin aired while the source was down.
    pub fallback_seconds: f64,
    /// Seconds of silence aired while the source was down (no fallback),
    /// and of source audio that turned out to be dead air.
    pub silence_seconds: f64,
    /// Each drop, in order; failed reconnections in a row with the same
    /// cause are one entry.
    pub drops: Vec<RelayDrop>,
}

impl RelayReport {
    /// Add a drop at `at`; the same cause as the last drop counts again.
    fn drop_note(&mut self, at: f64, why: String) {
        match self.drops.last_mut() {
            Some(last) if last.why == why => last.times += 1,
            _ => self.drops.push(RelayDrop { at, why, times: 1 }),
        }
    }
}

impl RelayReport {
    /// The ledger's reasons: drops and what aired instead; none when the
    /// source aired throughout.
    pub fn reasons(&self) -> Vec<Reason> {
        let mut out = Vec::new();
        if !self.drops.is_empty() {
            out.push(Reason::RelayDrops {
                drops: self.drops.clone(),
            });
        }
        if self.fallback_seconds >= 0.05 {
            out.push(Reason::RelayFallback {
                seconds: self.fallback_seconds,
            });
        }
        if self.silence_seconds >= 0.05 {
            out.push(Reason::RelaySilence {
                seconds: self.silence_seconds,
            });
        }
        out
    }
}

/// Between the worker (producer) and the player thread (consumer).
struct Shared {
    buf: Mutex<Buf>,
    /// Signalled when samples arrive or leave, and on stop.
    cond: Condvar,
    stop: AtomicBool,
}

#[derive(Default)]
struct Buf {
    /// Source audio in `RELAY_FORMAT`, not yet aired.
    samples: VecDeque<f32>,
    /// Drops the consumer has not yet put in the report.
    drops: Vec<String>,
    /// Seconds of source audio already buffered that were dead air (a
    /// silence long enough to count as a drop).
    dead_air: f64,
}

impl Shared {
    /// Tell the worker to stop.
    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.cond.notify_all();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buf> {
        self.buf.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Log a drop of relay `id`'s source and pass it on to the report.
    fn drop_source(&self, id: &str, why: String) {
        tracing::warn!(relay = %id, "relay source dropped: {why}");
        self.lock().drops.push(why);
    }

    /// Queue converted source audio, waiting while the buffer is full;
    /// `false` once stopped.
    fn push(&self, samples: &[f32]) -> bool {
        let cap = (BUFFER.as_secs_f64() * f64::from(RELAY_FORMAT.rate)) as usize
            * usize::from(RELAY_FORMAT.channels);
        let mut b = self.lock();
        while b.samples.len() >= cap {
            if self.stopped() {
                return false;
            }
            b = self
                .cond
                .wait_timeout(b, Duration::from_millis(200))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        b.samples.extend(samples);
        drop(b);
        self.cond.notify_all();
        !self.stopped()
    }

    /// The last `seconds` of source audio were dead air: what of it still
    /// waits is thrown away, what already aired is taken off the source
    /// seconds by the consumer.
    fn dead_air(&self, seconds: f64) {
        let ch = usize::from(RELAY_FORMAT.channels);
        let mut b = self.lock();
        let waiting = (seconds * f64::from(RELAY_FORMAT.rate)) as usize * ch;
        let cut = waiting.min(b.samples.len()) / ch * ch;
        let keep = b.samples.len() - cut;
        b.samples.truncate(keep);
        b.dead_air += (seconds - RELAY_FORMAT.seconds((cut / ch) as u64)).max(0.0);
    }

    /// Sleep `d` unless stopped first; `false` once stopped.
    fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        let mut b = self.lock();
        while !self.stopped() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            b = self
                .cond
                .wait_timeout(b, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        false
    }
}

/// What a connection hands the worker: chunks in the source's format.
trait Connection {
    fn format(&self) -> Format;
    /// The next chunk; `Err` when the source dropped (why).
    fn next_chunk(&mut self) -> Result<&[f32], String>;
}

/// Open a connection to `source` (an HTTP request, a capture stream).
fn connect(source: &Source) -> Result<Box<dyn Connection>, String> {
    match source {
        Source::Url(url) => net::connect(url).map(|c| Box::new(c) as Box<dyn Connection>),
        Source::Input(device) => capture::open(device).map(|c| Box::new(c) as Box<dyn Connection>),
    }
}

/// The worker: connect, decode, detect silence, fill the buffer; on a drop
/// wait (backoff) and connect again, until the relay is over.
fn work(relay: Relay, shared: Arc<Shared>) {
    let threshold = 10f32.powf(relay.silence_threshold_dbfs as f32 / 20.0);
    let mut backoff = BACKOFF_FIRST;
    while !shared.stopped() {
        let mut conn = match connect(&relay.source) {
            Ok(c) => c,
            Err(why) => {
                shared.drop_source(&relay.id, format!("cannot connect: {why}"));
                if !shared.sleep(backoff) {
                    break;
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        let from = conn.format();
        tracing::info!(relay = %relay.id, format = %from, "relay source connected");
        let mut conv = Converter::new(from, RELAY_FORMAT);
        let silent_limit = u64::from(relay.silence_after) * u64::from(from.rate);
        let mut silent_frames = 0u64;
        let why = loop {
            let chunk = match conn.next_chunk() {
                Ok(c) => c,
                Err(why) => break why,
            };
            if chunk.is_empty() {
                continue;
            }
            let frames = (chunk.len() / usize::from(from.channels.max(1))) as u64;
            let peak = chunk.iter().fold(0f32, |m, s| m.max(s.abs()));
            if peak < threshold {
                silent_frames += frames;
            } else {
                silent_frames = 0;
                // Real audio: the next drop starts the backoff over.
                backoff = BACKOFF_FIRST;
            }
            if !shared.push(conv.convert(chunk)) {
                return;
            }
            if silent_limit > 0 && silent_frames >= silent_limit {
                shared.dead_air(from.seconds(silent_frames));
                break format!("silent for {} s", relay.silence_after);
            }
        };
        if shared.stopped() {
            break;
        }
        shared.drop_source(&relay.id, why);
        drop(conn);
        if !shared.sleep(backoff) {
            break;
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// A relay as the player reads it: chunks of [`RELAY_FORMAT`] until its
/// duration has been handed out. Dropping it stops the worker.
pub struct RelaySource {
    shared: Arc<Shared>,
    report: Arc<Mutex<RelayReport>>,
    total_frames: u64,
    handed: u64,
    /// Source audio is airing (else the fallback or silence).
    live: bool,
    /// Whether the last chunk handed out was source audio.
    last_live: Option<bool>,
    fallback: Option<Fallback>,
    /// Levels source audio toward `target_lufs`; `None` when levelling is
    /// off.
    gain: Option<AutoGain>,
    target_lufs: Option<f64>,
    out: Vec<f32>,
}

/// The fallback bulletin, looped while the source is down.
struct Fallback {
    path: PathBuf,
    decoder: Option<FileDecoder>,
    conv: Converter,
    /// Converted samples not yet aired.
    pending: VecDeque<f32>,
}

impl Fallback {
    /// Fill `out` with `frames` frames of the bulletin (from where it
    /// stopped; from its start again at its end). `false` when it cannot
    /// play.
    fn fill(&mut self, out: &mut Vec<f32>, frames: usize) -> Result<(), String> {
        let want = frames * usize::from(RELAY_FORMAT.channels);
        let mut restarts = 0;
        while self.pending.len() < want {
            if self.decoder.is_none() {
                let d = FileDecoder::open(&self.path)?;
                self.conv = Converter::new(d.format(), RELAY_FORMAT);
                self.decoder = Some(d);
            }
            let d = self.decoder.as_mut().expect("just opened");
            match d.next_chunk()? {
                Some(c) => self.pending.extend(self.conv.convert(c)),
                None => {
                    self.decoder = None;
                    restarts += 1;
                    if restarts > 1 {
                        return Err(format!("{} holds no audio", self.path.display()));
                    }
                }
            }
        }
        out.extend(self.pending.drain(..want));
        Ok(())
    }
}

impl RelaySource {
    /// Take the worker started early for `cue`, or start one (it connects
    /// at once), for a play of the relay's duration.
    pub fn start(cue: &RelayCue) -> Result<RelaySource, String> {
        let gain = cue
            .loudness_lufs
            .map(|target| AutoGain::new(RELAY_FORMAT.rate, RELAY_FORMAT.channels, target))
            .transpose()?;
        let shared = match std::mem::replace(&mut *cue.early.state(), EarlyState::Taken) {
            EarlyState::Running(shared, at) if at.elapsed() <= EARLY_AT_MOST => shared,
            EarlyState::Running(stale, _) => {
                stale.stop();
                spawn_worker(&cue.relay)?
            }
            EarlyState::Idle | EarlyState::Taken => spawn_worker(&cue.relay)?,
        };
        Ok(RelaySource {
            shared,
            report: Arc::clone(&cue.report),
            total_frames: u64::from(cue.relay.seconds) * u64::from(RELAY_FORMAT.rate),
            handed: 0,
            live: false,
            last_live: None,
            fallback: cue.fallback.clone().map(|path| Fallback {
                path,
                decoder: None,
                conv: Converter::new(RELAY_FORMAT, RELAY_FORMAT),
                pending: VecDeque::new(),
            }),
            gain,
            target_lufs: cue.loudness_lufs,
            out: Vec::new(),
        })
    }

    pub fn format(&self) -> Format {
        RELAY_FORMAT
    }

    /// Level for an output of `channels` (call before the first chunk).
    /// Loudness sums the channels' power, so the relay mixed down to a mono
    /// output airs 3 dB under what its stereo was levelled to (its channels
    /// alike, as speech is): the target is raised to make up for it, as a
    /// file's gain is (`Level::gain_for`). Peaks do not grow in the mix.
    pub fn level_for_output(&mut self, channels: u16) {
        if let (Some(gain), Some(target)) = (&mut self.gain, self.target_lufs) {
            let from = f64::from(RELAY_FORMAT.channels);
            let to = f64::from(channels.max(1));
            gain.set_target(target - 10.0 * (to / from).log10());
        }
    }

    /// Seconds into the slot, for the report.
    fn at(&self) -> f64 {
        RELAY_FORMAT.seconds(self.handed)
    }

    /// The next chunk: source audio when there is some, else fallback or
    /// silence; `None` once the duration has been handed out.
    pub fn next_chunk(&mut self) -> Result<Option<&[f32]>, String> {
        if self.handed >= self.total_frames {
            return Ok(None);
        }
        let frames = (CHUNK_FRAMES as u64).min(self.total_frames - self.handed) as usize;
        let ch = usize::from(RELAY_FORMAT.channels);
        let prebuffer = (PREBUFFER.as_secs_f64() * f64::from(RELAY_FORMAT.rate)) as usize * ch;
        self.out.clear();
        let (drops, dead_air, taken) = {
            let mut b = self.shared.lock();
            if self.live && b.samples.len() < frames * ch {
                let waited = Instant::now();
                while b.samples.len() < frames * ch && waited.elapsed() < LATE {
                    b = self
                        .shared
                        .cond
                        .wait_timeout(b, LATE)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
            if !self.live && b.samples.len() >= prebuffer {
                self.live = true;
            }
            let taken = if self.live {
                let n = b.samples.len().min(frames * ch) / ch * ch;
                self.out.extend(b.samples.drain(..n));
                n / ch
            } else {
                0
            };
            if taken == 0 {
                self.live = false;
            }
            let drops = std::mem::take(&mut b.drops);
            let dead_air = std::mem::take(&mut b.dead_air);
            (drops, dead_air, taken)
        };
        self.shared.cond.notify_all();
        let at = self.at();
        let shared_report = Arc::clone(&self.report);
        let mut report = shared_report.lock().unwrap_or_else(|p| p.into_inner());
        for why in drops {
            report.drop_note(at, why);
        }
        if dead_air > 0.0 {
            let d = dead_air.min(report.source_seconds);
            report.source_seconds -= d;
            report.silence_seconds += d;
        }
        if taken > 0 {
            if let Some(gain) = &mut self.gain {
                gain.process(&mut self.out);
            }
            report.source_seconds += RELAY_FORMAT.seconds(taken as u64);
            self.handed += taken as u64;
            self.fade_in_on_switch(true);
            return Ok(Some(&self.out));
        }
        let filled = match self
            .fallback
            .as_mut()
            .map(|f| f.fill(&mut self.out, frames))
        {
            Some(Ok(())) => true,
            Some(Err(why)) => {
                report.drop_note(at, format!("the fallback cannot play: {why}"));
                self.fallback = None;
                self.out.clear();
                false
            }
            None => false,
        };
        if filled {
            report.fallback_seconds += RELAY_FORMAT.seconds(frames as u64);
        } else {
            self.out.resize(frames * ch, 0.0);
            report.silence_seconds += RELAY_FORMAT.seconds(frames as u64);
        }
        self.handed += frames as u64;
        self.fade_in_on_switch(false);
        Ok(Some(&self.out))
    }

    /// When the chunk switches between source and fallback, fade it in
    /// (over its ~46 ms) rather than click.
    fn fade_in_on_switch(&mut self, live: bool) {
        if self.last_live.is_some_and(|was| was != live) {
            apply_gain(&mut self.out, usize::from(RELAY_FORMAT.channels), 0.0, 1.0);
        }
        self.last_live = Some(live);
    }
}

impl Drop for RelaySource {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

/// Start a worker for `relay` (it connects at once).
fn spawn_worker(relay: &Relay) -> Result<Arc<Shared>, String> {
    let shared = Arc::new(Shared {
        buf: Mutex::default(),
        cond: Condvar::new(),
        stop: AtomicBool::new(false),
    });
    let relay = relay.clone();
    let s = Arc::clone(&shared);
    std::thread::Builder::new()
        .name("loa-relay".into())
        .spawn(move || work(relay, s))
        .map_err(|e| format!("cannot start the relay's thread: {e}"))?;
    Ok(shared)
}

/// What the player reads an item from: a file, or a relay.
pub enum ItemDecoder {
    File(FileDecoder),
    Relay(Box<RelaySource>),
}

impl ItemDecoder {
    pub fn format(&self) -> Format {
        match self {
            ItemDecoder::File(d) => d.format(),
            ItemDecoder::Relay(r) => r.format(),
        }
    }

    pub fn next_chunk(&mut self) -> Result<Option<&[f32]>, String> {
        match self {
            ItemDecoder::File(d) => d.next_chunk(),
            ItemDecoder::Relay(r) => r.next_chunk(),
        }
    }

    /// Frames the container announces, when it does (a relay: its
    /// duration, which the player is told anyway).
    pub fn announced_frames(&self) -> Option<u64> {
        match self {
            ItemDecoder::File(d) => d.announced_frames,
            ItemDecoder::Relay(r) => Some(r.total_frames),
        }
    }

    /// Undecodable packets skipped (a relay reports its drops itself).
    pub fn skipped_packets(&self) -> u32 {
        match self {
            ItemDecoder::File(d) => d.skipped_packets,
            ItemDecoder::Relay(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(source: Source, seconds: u32) -> Relay {
        Relay {
            id: "r".into(),
            title: "R".into(),
            source,
            seconds,
            fallback: None,
            silence_after: 10,
            silence_threshold_dbfs: -50.0,
            campaign: None,
            priority: crate::config::Priority::Normal,
            timing: crate::config::Timing::Unscheduled,
            window: None,
            grace_seconds: 600,
            enabled: true,
        }
    }

    /// Every frame of a relay: (frames, non-zero samples).
    fn drain(src: &mut RelaySource) -> (u64, usize) {
        let (mut frames, mut loud) = (0, 0);
        while let Some(c) = src.next_chunk().unwrap() {
            frames += (c.len() / 2) as u64;
            loud += c.iter().filter(|s| s.abs() > 1e-4).count();
        }
        (frames, loud)
    }

    #[test]
    fn a_source_that_is_down_airs_its_fallback_for_exactly_the_duration() {
        // Nothing listens on port 9 of the loopback: refused at once.
        let down = relay(Source::Url("http://127.0.0.1:9/x.mp3".into()), 3);
        let cue = RelayCue::new(down.clone(), None, Some(-16.0));
        let mut src = RelaySource::start(&cue).unwrap();
        let (frames, loud) = drain(&mut src);
        assert_eq!(frames, 3 * 44100);
        assert_eq!(loud, 0, "silence without a fallback");
        let r = cue.report();
        assert_eq!((r.source_seconds, r.fallback_seconds), (0.0, 0.0));
        assert!((r.silence_seconds - 3.0).abs() < 1e-9);

        // Levelled toward the station's target; on a mono output 3 dB
        // higher, as the mixdown airs 3 dB under the stereo it metered.
        let target = |src: &RelaySource| src.gain.as_ref().map(AutoGain::target_lufs);
        let mut src = RelaySource::start(&cue).unwrap();
        assert_eq!(target(&src), Some(-16.0));
        src.level_for_output(2);
        assert_eq!(target(&src), Some(-16.0));
        src.level_for_output(1);
        assert!((target(&src).unwrap() - (-16.0 + 3.0103)).abs() < 1e-3);
        drop(src);

        let tone = crate::audio::testdata("tone1s.wav");
        let cue = RelayCue::new(down, Some(tone), None);
        let mut src = RelaySource::start(&cue).unwrap();
        let (frames, loud) = drain(&mut src);
        assert_eq!(frames, 3 * 44100);
        assert!(loud > 3 * 44100, "the fallback, looped, fills the slot");
        let r = cue.report();
        assert!((r.fallback_seconds - 3.0).abs() < 1e-9, "{r:?}");
        drop(src);
        // The drops reach the report as the slot goes on.
        let mut src = RelaySource::start(&cue).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        drain(&mut src);
        assert!(
            cue.report()
                .drops
                .iter()
                .any(|d| d.why.contains("cannot connect")),
            "{:?}",
            cue.report()
        );
    }

    #[test]
    fn an_early_connection_is_made_before_the_source_starts_and_taken_by_it() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/x.mp3", listener.local_addr().unwrap());
        let cue = RelayCue::new(relay(Source::Url(url), 1), None, None);
        assert_eq!(format!("{:?}", cue.early), "idle");
        cue.connect_early().unwrap();
        // Bounded by work (a loopback connect), not by a timer.
        let deadline = Instant::now() + Duration::from_secs(30);
        let _request = loop {
            match listener.accept() {
                Ok(c) => break c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "never connected");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(format!("{:?}", cue.clone().early), "running");
        let src = RelaySource::start(&cue).unwrap();
        assert_eq!(format!("{:?}", cue.early), "taken", "the same worker");
        cue.connect_early().unwrap();
        assert_eq!(format!("{:?}", cue.early), "taken", "once per cue");
        drop(src);
    }

    #[test]
    fn the_reason_lists_drops_and_what_aired_instead() {
        let r = RelayReport {
            source_seconds: 20.0,
            fallback_seconds: 5.04,
            silence_seconds: 0.0,
            drops: Vec::new(),
        };
        let mut r = r;
        r.drop_note(3.2, "the stream ended".into());
        r.drop_note(4.0, "cannot connect: HTTP 503".into());
        r.drop_note(5.0, "cannot connect: HTTP 503".into());
        assert_eq!(
            r.reasons(),
            vec![
                Reason::relay_drops(&[
                    (3.2, "the stream ended", 1),
                    (4.0, "cannot connect: HTTP 503", 2)
                ]),
                Reason::RelayFallback { seconds: 5.04 },
            ]
        );
        assert_eq!(RelayReport::default().reasons(), vec![]);
    }
}
