//! Even loudness: every file airs at `[output] loudness_lufs`.
//!
//! Bulletins come from many phones and studios at levels tens of dB apart.
//! Each file is measured once, in full, with the EBU R128 meter (`ebur128`:
//! integrated loudness and true peak), and the result is cached by the
//! file's content hash in `data_dir/loudness.tsv`, so a renamed or copied
//! file is not measured again and a replaced one is. The player multiplies
//! every sample by the file's gain, folded into the volume it already
//! applies: levelling costs nothing on the audio path.
//!
//! The gain brings the file to the target, never raises its true peak
//! above [`MAX_TRUE_PEAK_DBTP`] (a quiet file with loud clicks is raised
//! less) and never raises it by more than [`MAX_BOOST_DB`] (hiss in a
//! nearly silent recording stays hiss).
//!
//! Measuring decodes the whole file, so it never runs where someone waits:
//! the daemon's start and a play look up the cache by path, size and
//! modification time (a `stat`, no reading); a miss is measured on a
//! background thread at the lowest CPU priority, and the file airs at its
//! recorded level until then. `loa check` measures what is missing itself,
//! as the desk tool that fills the cache before a station goes on air.
//!
//! [`AutoGain`] is the slow automatic gain for live sources (relays), which
//! cannot be measured beforehand.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

use ebur128::{EbuR128, Mode};
use sha2::{Digest, Sha256};

use super::decode::FileDecoder;

/// No sample leaves louder than this (dB true peak), after the gain.
pub const MAX_TRUE_PEAK_DBTP: f64 = -1.0;
/// The most a file is raised, in dB.
pub const MAX_BOOST_DB: f64 = 20.0;
/// The cache's file name in `data_dir`.
pub const CACHE_FILE: &str = "loudness.tsv";
const CACHE_HEADER: &str =
    "# loa loudness cache v1: sha256, integrated LUFS, true peak dBTP, bytes, mtime ns, path";

/// What the EBU R128 meter found in a whole file.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Level {
    /// Integrated loudness (LUFS); `-inf` for silence.
    pub lufs: f64,
    /// True peak (dBTP, 4x oversampled); `-inf` for silence.
    pub true_peak_dbtp: f64,
}

impl Level {
    /// The gain (dB) that airs this file at `target_lufs`, limited by the
    /// true-peak ceiling and the largest boost. Silence gets none.
    pub fn gain_db(&self, target_lufs: f64) -> f64 {
        if !self.lufs.is_finite() {
            return 0.0;
        }
        let wanted = (target_lufs - self.lufs).min(MAX_BOOST_DB);
        if self.true_peak_dbtp.is_finite() {
            wanted.min(MAX_TRUE_PEAK_DBTP - self.true_peak_dbtp)
        } else {
            wanted
        }
    }

    /// The linear gain for airing a file of `from` channels on an output of
    /// `to`. Loudness sums the channels' power: a mono file duplicated to
    /// stereo airs 3 dB louder than measured, and a stereo file mixed down
    /// to mono (its channels alike, as in phone recordings) 3 dB quieter;
    /// the gain makes up for it. Peaks do not grow either way.
    pub fn gain_for(&self, target_lufs: f64, from: u16, to: u16) -> f32 {
        let mut db = self.gain_db(target_lufs);
        if from != to && from > 0 && to > 0 {
            let up = 10.0 * (f64::from(to) / f64::from(from)).log10();
            db = (db - up).min(MAX_TRUE_PEAK_DBTP - self.true_peak_dbtp);
        }
        db_to_linear(db)
    }
}

/// dB to a linear factor.
pub fn db_to_linear(db: f64) -> f32 {
    10f64.powf(db / 20.0) as f32
}

fn linear_to_db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// Measure `path` in full: integrated loudness and true peak of what the
/// player decodes from it.
pub fn measure(path: &Path) -> Result<Level, String> {
    let mut decoder = FileDecoder::open(path)?;
    let format = decoder.format();
    let mut meter = EbuR128::new(
        u32::from(format.channels),
        format.rate,
        Mode::I | Mode::TRUE_PEAK,
    )
    .map_err(|e| format!("{}: cannot measure loudness ({e})", path.display()))?;
    while let Some(chunk) = decoder.next_chunk()? {
        meter
            .add_frames_f32(chunk)
            .map_err(|e| format!("{}: cannot measure loudness ({e})", path.display()))?;
    }
    let lufs = meter.loudness_global().unwrap_or(f64::NEG_INFINITY);
    let peak = (0..u32::from(format.channels))
        .filter_map(|c| meter.true_peak(c).ok())
        .fold(0.0f64, f64::max);
    Ok(Level {
        lufs,
        true_peak_dbtp: linear_to_db(peak),
    })
}

/// The loudness cache of one `data_dir`, shared by everything in the
/// process that plays or shows files of it.
pub fn cache(data_dir: &Path) -> Arc<Cache> {
    static CACHES: OnceLock<Mutex<HashMap<PathBuf, Arc<Cache>>>> = OnceLock::new();
    let mut all = CACHES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    all.entry(data_dir.to_path_buf())
        .or_insert_with(|| Arc::new(Cache::load(data_dir.join(CACHE_FILE))))
        .clone()
}

/// Size and modification time: a file with both unchanged is taken to be
/// unchanged (as make and rsync do), so a lookup reads no content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    bytes: u64,
    mtime_ns: i128,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        let mtime = m.modified().ok()?;
        let mtime_ns = match mtime.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        };
        Some(Stamp {
            bytes: m.len(),
            mtime_ns,
        })
    }
}

#[derive(Default)]
struct Known {
    by_hash: HashMap<String, Level>,
    by_path: HashMap<PathBuf, (Stamp, String)>,
    /// Paths queued for the background thread.
    queued: HashSet<PathBuf>,
    /// Paths being measured now, by the background thread or a preparer.
    measuring: HashSet<PathBuf>,
}

/// Measured levels by content hash, and which file has which hash.
pub struct Cache {
    file: PathBuf,
    known: Mutex<Known>,
    /// Told when a measurement ends (see [`Cache::level`]).
    measured: Condvar,
    background: Mutex<Option<mpsc::Sender<PathBuf>>>,
    /// The cache file could not be written: said once.
    write_failed: std::sync::atomic::AtomicBool,
}

impl Cache {
    /// Read `file` (missing: empty). Bad lines are skipped: the cache only
    /// saves work, and a line lost is a file measured again.
    fn load(file: PathBuf) -> Cache {
        let mut known = Known::default();
        if let Ok(f) = File::open(&file) {
            for line in BufReader::new(f).lines().map_while(Result::ok) {
                if let Some((hash, level, at)) = parse_line(&line) {
                    known.by_hash.insert(hash.clone(), level);
                    if let Some((path, stamp)) = at {
                        known.by_path.insert(path, (stamp, hash));
                    }
                }
            }
        }
        Cache {
            file,
            known: Mutex::new(known),
            measured: Condvar::new(),
            background: Mutex::new(None),
            write_failed: Default::default(),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The level of `path` if known for its current content, from a `stat`
    /// alone: cheap enough for a play or a listing.
    pub fn lookup(&self, path: &Path) -> Option<Level> {
        let stamp = Stamp::of(path)?;
        let known = self.known();
        let (s, hash) = known.by_path.get(path)?;
        (*s == stamp).then(|| known.by_hash.get(hash).copied())?
    }

    /// The level of `path`: from the cache, from the hash of its content
    /// (a copy or a renamed file), or measured now and cached. Blocking:
    /// reads the whole file, and decodes it on a miss.
    ///
    /// One file is measured once at a time: at a new file's first airing
    /// the background thread and the preparer both want it, and the second
    /// waits for the first's result (up to [`MEASURE_WAIT`]: the background
    /// thread runs at the lowest priority, and on a saturated machine the
    /// preparer measures itself rather than wait past its cue).
    pub fn level(&self, path: &Path) -> Result<Level, String> {
        if let Some(l) = self.lookup(path) {
            return Ok(l);
        }
        let _turn = self.turn(path);
        if let Some(l) = self.lookup(path) {
            return Ok(l);
        }
        let stamp =
            Stamp::of(path).ok_or_else(|| format!("{}: cannot read the file", path.display()))?;
        let hash = hash_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let known_level = self.known().by_hash.get(&hash).copied();
        let level = match known_level {
            Some(l) => l,
            None => measure(path)?,
        };
        self.store(path, stamp, hash, level);
        Ok(level)
    }

    /// Wait while another thread measures `path` (at most
    /// [`MEASURE_WAIT`]), then mark it as ours until the turn is dropped.
    fn turn(&self, path: &Path) -> Turn<'_> {
        let give_up = Instant::now() + MEASURE_WAIT;
        let mut known = self.known();
        while known.measuring.contains(path) {
            let Some(left) = give_up.checked_duration_since(Instant::now()) else {
                return Turn {
                    cache: self,
                    path: None,
                };
            };
            known = self
                .measured
                .wait_timeout(known, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        known.measuring.insert(path.to_path_buf());
        Turn {
            cache: self,
            path: Some(path.to_path_buf()),
        }
    }

    fn store(&self, path: &Path, stamp: Stamp, hash: String, level: Level) {
        let line = format_line(&hash, level, path, stamp);
        {
            let mut known = self.known();
            known.by_hash.insert(hash.clone(), level);
            known.by_path.insert(path.to_path_buf(), (stamp, hash));
        }
        if let Err(e) = self.append(&line) {
            if !self
                .write_failed
                .swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                tracing::warn!(
                    "cannot write the loudness cache {}: {e}; files are measured again after \
                     a restart (check that the loa user may write data_dir)",
                    self.file.display()
                );
            }
        }
    }

    fn append(&self, line: &str) -> std::io::Result<()> {
        if let Some(dir) = self.file.parent() {
            // `loa check` may run before the daemon ever made data_dir.
            std::fs::create_dir_all(dir)?;
        }
        let new = !self.file.exists();
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)?;
        let text = if new {
            format!("{CACHE_HEADER}\n{line}\n")
        } else {
            format!("{line}\n")
        };
        // One write per line: concurrent appenders do not interleave.
        f.write_all(text.as_bytes())
    }

    /// Measure the files among `paths` whose level is not known yet, one
    /// by one on a background thread at the lowest CPU priority. Returns
    /// at once.
    pub fn measure_in_background(self: &Arc<Self>, paths: impl IntoIterator<Item = PathBuf>) {
        let missing: Vec<PathBuf> = paths
            .into_iter()
            .filter(|p| self.lookup(p).is_none())
            .filter(|p| self.known().queued.insert(p.clone()))
            .collect();
        if missing.is_empty() {
            return;
        }
        let mut bg = self.background.lock().unwrap_or_else(|p| p.into_inner());
        let tx = bg.get_or_insert_with(|| self.spawn_background());
        for p in missing {
            if let Err(mpsc::SendError(p)) = tx.send(p) {
                self.known().queued.remove(&p);
            }
        }
    }

    fn spawn_background(self: &Arc<Self>) -> mpsc::Sender<PathBuf> {
        let (tx, rx) = mpsc::channel::<PathBuf>();
        let cache = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("loa-loudness".into())
            .spawn(move || {
                lowest_priority();
                while let Ok(path) = rx.recv() {
                    match cache.level(&path) {
                        Ok(l) => tracing::info!(
                            path = %path.display(),
                            lufs = format_args!("{:.1}", l.lufs),
                            true_peak_dbtp = format_args!("{:.1}", l.true_peak_dbtp),
                            "loudness measured"
                        ),
                        Err(e) => tracing::warn!("loudness not measured: {e}"),
                    }
                    cache.known().queued.remove(&path);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the loudness thread ({e}); files air as recorded");
        }
        tx
    }
}

/// How long [`Cache::level`] waits for another thread measuring the same
/// file before measuring it itself: the preparer measures files of at most
/// three minutes, about 1 s of work on a 2-core board, and cues them 3 s
/// ahead.
const MEASURE_WAIT: Duration = Duration::from_secs(2);

/// A thread's turn to measure a file: while it lasts, others wanting the
/// same file wait for its result. `path` is `None` when the wait ran out
/// and this thread measures beside the other.
struct Turn<'a> {
    cache: &'a Cache,
    path: Option<PathBuf>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            self.cache.known().measuring.remove(&path);
            self.cache.measured.notify_all();
        }
    }
}

/// Make the calling thread the last to get the CPU (nice 19): measuring
/// must never take time from the audio thread or the API.
fn lowest_priority() {
    // SAFETY: plain system calls on the calling thread; on Linux a
    // thread's nice value is its own.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19);
    }
}

fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn format_line(hash: &str, l: Level, path: &Path, s: Stamp) -> String {
    // A path with a tab or newline is not indexed (its hash still is).
    let p = path.to_str().filter(|p| !p.contains(['\t', '\n', '\r']));
    match p {
        Some(p) => format!(
            "{hash}\t{}\t{}\t{}\t{}\t{p}",
            l.lufs, l.true_peak_dbtp, s.bytes, s.mtime_ns
        ),
        None => format!("{hash}\t{}\t{}", l.lufs, l.true_peak_dbtp),
    }
}

type Parsed = (String, Level, Option<(PathBuf, Stamp)>);

fn parse_line(line: &str) -> Option<Parsed> {
    if line.starts_with('#') {
        return None;
    }
    let mut f = line.splitn(6, '\t');
    let hash = f.next()?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let level = Level {
        lufs: f.next()?.parse().ok()?,
        true_peak_dbtp: f.next()?.parse().ok()?,
    };
    let at = (|| {
        let stamp = Stamp {
            bytes: f.next()?.parse().ok()?,
            mtime_ns: f.next()?.parse().ok()?,
        };
        Some((PathBuf::from(f.next()?), stamp))
    })();
    Some((hash.to_string(), level, at))
}

/// A slow automatic gain toward a loudness target, for live sources
/// (relays) that cannot be measured beforehand. It follows the EBU R128
/// short-term loudness (3 s window) and moves the gain by at most
/// `max_db_per_second`, so speech keeps its dynamics and a pause or a
/// jingle does not pump; it holds its gain through silence (momentary
/// loudness under -50 LUFS), and it never lets a sample out above
/// [`MAX_TRUE_PEAK_DBTP`] (sample peak, hard limited). Cost per sample:
/// the meter's K-weighting filter and a multiply.
pub struct AutoGain {
    meter: EbuR128,
    channels: usize,
    rate: u32,
    target_lufs: f64,
    /// Current gain, dB.
    gain_db: f64,
    max_db_per_second: f64,
    /// Frames since the gain was last adjusted.
    since_update: u32,
}

/// Below this short-term loudness the source is taken as silent: the gain
/// holds.
const AUTO_GAIN_SILENCE_LUFS: f64 = -50.0;
/// The gain moves this far at most, either way.
const AUTO_GAIN_RANGE_DB: f64 = 15.0;

impl AutoGain {
    /// For interleaved audio of `channels` at `rate`, toward
    /// `target_lufs`, starting at unity gain.
    pub fn new(rate: u32, channels: u16, target_lufs: f64) -> Result<AutoGain, String> {
        let meter = EbuR128::new(u32::from(channels), rate, Mode::S)
            .map_err(|e| format!("cannot meter {channels} ch at {rate} Hz: {e}"))?;
        Ok(AutoGain {
            meter,
            channels: usize::from(channels.max(1)),
            rate,
            target_lufs,
            gain_db: 0.0,
            max_db_per_second: 1.0,
            since_update: 0,
        })
    }

    /// The gain now, in dB.
    pub fn gain_db(&self) -> f64 {
        self.gain_db
    }

    /// The loudness it aims at, LUFS.
    pub fn target_lufs(&self) -> f64 {
        self.target_lufs
    }

    /// Aim at `target_lufs` from now on.
    pub fn set_target(&mut self, target_lufs: f64) {
        self.target_lufs = target_lufs;
    }

    /// Level `samples` (interleaved) in place.
    pub fn process(&mut self, samples: &mut [f32]) {
        let _ = self.meter.add_frames_f32(samples);
        let frames = (samples.len() / self.channels) as u32;
        let from = db_to_linear(self.gain_db);
        self.since_update += frames;
        // Re-aim ten times a second.
        if self.since_update >= self.rate / 10 {
            let elapsed = f64::from(self.since_update) / f64::from(self.rate);
            self.since_update = 0;
            // A pause holds the gain at once: the momentary loudness
            // (400 ms) sees it before the short-term (3 s) average does,
            // which would otherwise go on raising the gain for seconds.
            let sounding = self
                .meter
                .loudness_momentary()
                .is_ok_and(|m| m > AUTO_GAIN_SILENCE_LUFS);
            if let Ok(st) = self.meter.loudness_shortterm() {
                if sounding && st.is_finite() && st > AUTO_GAIN_SILENCE_LUFS {
                    let want =
                        (self.target_lufs - st).clamp(-AUTO_GAIN_RANGE_DB, AUTO_GAIN_RANGE_DB);
                    let step = self.max_db_per_second * elapsed;
                    self.gain_db += (want - self.gain_db).clamp(-step, step);
                }
            }
        }
        let to = db_to_linear(self.gain_db);
        super::convert::apply_gain(samples, self.channels, from, to);
        let ceiling = db_to_linear(MAX_TRUE_PEAK_DBTP);
        for s in samples.iter_mut() {
            *s = s.clamp(-ceiling, ceiling);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gain_reaches_the_target_within_the_peak_and_boost_limits() {
        let inf = f64::NEG_INFINITY;
        for (lufs, true_peak_dbtp, gain, why) in [
            (-30.0, -20.0, 14.0, "quiet"),
            (-8.0, 0.5, -8.0, "loud"),
            (
                -30.0,
                -3.0,
                2.0,
                "clicks at -3 dBTP: raised only to -1 dBTP",
            ),
            (
                -60.0,
                -40.0,
                MAX_BOOST_DB,
                "hiss: raised at most by the cap",
            ),
            (inf, inf, 0.0, "silence"),
        ] {
            let l = Level {
                lufs,
                true_peak_dbtp,
            };
            assert!((l.gain_db(-16.0) - gain).abs() < 1e-9, "{why}: {l:?}");
        }
        let quiet = Level {
            lufs: -30.0,
            true_peak_dbtp: -20.0,
        };
        // Mono duplicated to stereo airs 3 dB louder: 3 dB less gain.
        let mono_on_stereo = linear_to_db(f64::from(quiet.gain_for(-16.0, 1, 2)));
        assert!(
            (mono_on_stereo - (14.0 - 3.0103)).abs() < 0.01,
            "{mono_on_stereo}"
        );
    }

    #[test]
    fn cache_lines_round_trip_and_bad_lines_are_skipped() {
        let l = Level {
            lufs: -23.5,
            true_peak_dbtp: -4.25,
        };
        let s = Stamp {
            bytes: 1234,
            mtime_ns: 1_700_000_000_123_456_789,
        };
        let hash = "ab".repeat(32);
        let line = format_line(&hash, l, Path::new("/srv/loa/audio/tin sáng.mp3"), s);
        let (h, l2, at) = parse_line(&line).unwrap();
        assert_eq!((h.as_str(), l2), (hash.as_str(), l));
        assert_eq!(at, Some((PathBuf::from("/srv/loa/audio/tin sáng.mp3"), s)));
        assert!(parse_line(CACHE_HEADER).is_none());
        assert!(parse_line("xyz\t1\t2").is_none());
        assert!(parse_line(&format!("{hash}\tnope\t2")).is_none());
        let silent = format_line(
            &hash,
            Level {
                lufs: f64::NEG_INFINITY,
                true_peak_dbtp: f64::NEG_INFINITY,
            },
            Path::new("/a"),
            s,
        );
        assert_eq!(parse_line(&silent).unwrap().1.lufs, f64::NEG_INFINITY);
    }

    #[test]
    fn a_file_is_measured_once_and_found_again_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("a.wav");
        std::fs::copy(super::super::testdata("tone1s.wav"), &audio).unwrap();
        let c = Cache::load(dir.path().join(CACHE_FILE));
        assert_eq!(c.lookup(&audio), None);
        let l = c.level(&audio).unwrap();
        assert!(l.lufs.is_finite() && l.lufs < 0.0, "{l:?}");
        assert!(l.true_peak_dbtp < 0.5, "{l:?}");
        assert_eq!(c.lookup(&audio), Some(l));
        // Read back from disk; a copy under another name is known by its
        // content without decoding.
        let c2 = Cache::load(dir.path().join(CACHE_FILE));
        assert_eq!(c2.lookup(&audio), Some(l));
        let copy = dir.path().join("b.wav");
        std::fs::copy(&audio, &copy).unwrap();
        assert_eq!(c2.lookup(&copy), None);
        assert_eq!(c2.level(&copy).unwrap(), l);
    }

    #[test]
    fn a_file_wanted_twice_at_once_is_measured_once() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("a.wav");
        std::fs::copy(super::super::testdata("tone1s.wav"), &audio).unwrap();
        let file = dir.path().join(CACHE_FILE);
        let c = Arc::new(Cache::load(file.clone()));
        // This thread measures first (as the background thread at a new
        // file's first airing)...
        let turn = c.turn(&audio);
        let preparer = {
            let (c, audio) = (Arc::clone(&c), audio.clone());
            std::thread::spawn(move || c.level(&audio))
        };
        let stamp = Stamp::of(&audio).unwrap();
        let hash = hash_file(&audio).unwrap();
        let level = measure(&audio).unwrap();
        // ...and the second waits for its result rather than decode the
        // file again.
        assert!(!preparer.is_finished(), "the second caller measured too");
        c.store(&audio, stamp, hash, level);
        drop(turn);
        let got = preparer.join().unwrap().unwrap();
        assert_eq!(got, level);
        let text = std::fs::read_to_string(&file).unwrap();
        let lines = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(lines, 1, "measured once, cached once:\n{text}");
    }

    #[test]
    fn the_background_thread_fills_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("a.wav");
        std::fs::copy(super::super::testdata("tone1s.wav"), &audio).unwrap();
        let c = cache(dir.path());
        c.measure_in_background([audio.clone(), audio.clone()]);
        // Bounded by work, not by a timer: the thread measures one file.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while c.lookup(&audio).is_none() {
            assert!(std::time::Instant::now() < deadline, "never measured");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// `seconds` of a stereo 1 kHz sine at `amp`, 44.1 kHz, through `agc`
    /// in relay-sized chunks (2048 frames); the loudest sample out.
    fn run(agc: &mut AutoGain, amp: f32, seconds: f64) -> f32 {
        let (rate, chunk) = (44100, 2048);
        let mut peak = 0f32;
        for k in 0..(seconds * f64::from(rate)) as usize / chunk {
            let mut buf: Vec<f32> = (0..chunk)
                .flat_map(|i| {
                    let t = (k * chunk + i) as f32 / rate as f32;
                    let v = amp * (t * 1000.0 * std::f32::consts::TAU).sin();
                    [v, v]
                })
                .collect();
            agc.process(&mut buf);
            peak = buf.iter().fold(peak, |p, s| p.max(s.abs()));
        }
        peak
    }

    #[test]
    fn auto_gain_moves_slowly_toward_the_target() {
        let rate = 8000;
        let mut agc = AutoGain::new(rate, 1, -16.0).unwrap();
        // A quiet 1 kHz tone (about -33 LUFS), 20 s in 100 ms chunks.
        let tone: Vec<f32> = (0..rate as usize / 10)
            .map(|i| 0.02 * (i as f32 * 2.0 * std::f32::consts::PI * 1000.0 / rate as f32).sin())
            .collect();
        let mut last = 0.0;
        for _ in 0..200 {
            let mut chunk = tone.clone();
            agc.process(&mut chunk);
            assert!(agc.gain_db() >= last - 1e-9, "the gain only rises here");
            assert!(agc.gain_db() - last <= 0.11, "at most 1 dB/s");
            last = agc.gain_db();
        }
        assert!(last > 14.0 && last <= AUTO_GAIN_RANGE_DB, "{last}");
        // And stays within its range however long it runs.
        let mut agc = AutoGain::new(44100, 2, -16.0).unwrap();
        run(&mut agc, 0.02, 40.0);
        assert!((agc.gain_db() - AUTO_GAIN_RANGE_DB).abs() < 1e-9);
    }

    #[test]
    fn auto_gain_lowers_a_loud_source_leaves_one_at_the_target_and_never_clips() {
        // Full scale (about 0 LUFS): lowered, at most 1 dB/s, down to the
        // range's end; no sample above -1 dBFS even before it has moved.
        let mut agc = AutoGain::new(44100, 2, -16.0).unwrap();
        let peak = run(&mut agc, 1.0, 5.0);
        let g = agc.gain_db();
        assert!((-5.1..=-3.5).contains(&g), "at most 1 dB/s: {g}");
        assert!(peak <= db_to_linear(MAX_TRUE_PEAK_DBTP) + 1e-6, "{peak}");
        run(&mut agc, 1.0, 20.0);
        assert!((agc.gain_db() + AUTO_GAIN_RANGE_DB).abs() < 1e-9);
        // A tone at the target (by the same meter) is left alone.
        let mut meter = EbuR128::new(2, 44100, Mode::I).unwrap();
        let probe: Vec<f32> = (0..44100 * 3)
            .flat_map(|i| {
                let v = 0.1 * (i as f32 / 44100.0 * 1000.0 * std::f32::consts::TAU).sin();
                [v, v]
            })
            .collect();
        meter.add_frames_f32(&probe).unwrap();
        let at_target = 0.1 * db_to_linear(-16.0 - meter.loudness_global().unwrap());
        let mut agc = AutoGain::new(44100, 2, -16.0).unwrap();
        run(&mut agc, at_target, 10.0);
        assert!(agc.gain_db().abs() < 0.2, "{}", agc.gain_db());
    }

    #[test]
    fn auto_gain_holds_through_silence() {
        let mut agc = AutoGain::new(44100, 2, -16.0).unwrap();
        assert_eq!(run(&mut agc, 0.0, 10.0), 0.0);
        assert_eq!(agc.gain_db(), 0.0, "a pause is not boosted");
        run(&mut agc, 0.02, 3.0);
        let g = agc.gain_db();
        assert!(g > 0.0);
        run(&mut agc, 0.0, 10.0);
        // Within the momentary window (0.4 s at 1 dB/s) of the pause.
        assert!(
            (agc.gain_db() - g).abs() < 0.7,
            "held: {g} → {}",
            agc.gain_db()
        );
    }
}
