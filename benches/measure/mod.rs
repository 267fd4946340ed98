//! What the CPU benches (`daemon`, `playout`) share: one way to count a
//! process's CPU, the test MP3, and `loa run` airing one scheduled item, so
//! that loa and its peer are always measured over the same interval.
//!
//! Whole process: `wait4` on the child returns its own rusage (user +
//! system, all its threads, start to exit) — what `RUSAGE_CHILDREN` grows
//! by when that one child is reaped, without counting any other child the
//! bench reaps meanwhile (pulseaudio, arecord). Part of a live process:
//! its CPU clock (`clock_getcpuclockid`), in nanoseconds, threads that
//! already ended included.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Timelike, Utc};
use loa::ledger::{AirtimeRow, Filter, Ledger, Outcome};

/// Wait for `child` to exit: (exit code, or the signal as `-signo`; its
/// CPU time from start to exit).
pub fn reap(child: Child) -> (i32, Duration) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: plain syscalls on our own child, writing only the structs
    // handed to them. The `Child` is dropped without waiting (we reaped it).
    let mut status = 0;
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut u) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    drop(child);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    (code, tv(u.ru_utime) + tv(u.ru_stime))
}

/// CPU time a live process has used so far (all threads).
pub fn live_cpu(pid: u32) -> Option<Duration> {
    // SAFETY: both calls only write the values handed to them.
    let mut clock: libc::clockid_t = 0;
    if unsafe { libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) } != 0 {
        return None;
    }
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

pub fn sigterm(pid: u32) {
    // SAFETY: kill(2) on a child we started and have not reaped.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
}

/// Fail (never skip) without `tool`, saying that `make bench` installs it.
pub fn require(tool: &str, package: &str) {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        ok,
        "`{tool}` is not installed: `make bench` installs it (or: sudo apt-get install {package})"
    );
}

/// `seconds` of 128 kbit/s stereo 44.1 kHz MP3 (pink noise), made by ffmpeg.
pub fn make_mp3(path: &Path, seconds: u32) {
    require("ffmpeg", "ffmpeg");
    let ok = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!(
            "anoisesrc=color=pink:amplitude=0.3:sample_rate=44100:duration={seconds}"
        ))
        .args(["-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k"])
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "ffmpeg could not make {} (does it have libmp3lame?)",
        path.display()
    );
}

/// A few measurements of one thing: "min–max" and the best (smallest).
pub struct Spread(pub Vec<f64>);

impl Spread {
    pub fn best(&self) -> f64 {
        self.0.iter().copied().fold(f64::INFINITY, f64::min)
    }
    pub fn worst(&self) -> f64 {
        self.0.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }
    /// `0.412–0.455 s` (seconds, 3 decimals).
    pub fn secs(&self) -> String {
        format!("{:.3}–{:.3} s", self.best(), self.worst())
    }
}

/// One `loa run` that aired one item.
pub struct ItemRun {
    /// Whole process: start, start-up, the cue, the item, SIGTERM, exit.
    pub whole: Duration,
    /// CPU between two points inside the item (seconds after its instant),
    /// when asked for.
    pub window: Option<Duration>,
    /// Start of the process to its exit.
    pub wall: Duration,
    pub row: AirtimeRow,
    /// Why earlier attempts failed before their first sample (not counted).
    pub failed_starts: Vec<String>,
}

/// What a station keeps from one airing to the next, for `loa_item` to
/// keep across runs: its audio directory (the item's file at the same
/// path every run) and its loudness cache (`data_dir/loudness.tsv`). The
/// first run measures the file's loudness, as a station does once per
/// file; later runs find it with a `stat`, as every later airing does.
/// Without it each run is a new station meeting a new file.
pub struct Kept(tempfile::TempDir);

impl Kept {
    pub fn new(file: &Path) -> Kept {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("audio")).unwrap();
        std::fs::copy(file, dir.path().join("audio").join(item_name(file))).unwrap();
        Kept(dir)
    }

    fn audio(&self) -> PathBuf {
        self.0.path().join("audio")
    }

    fn cache(&self) -> PathBuf {
        self.0.path().join(loa::audio::loudness::CACHE_FILE)
    }
}

fn item_name(file: &Path) -> String {
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("mp3");
    format!("item.{ext}")
}

/// How often `loa_item` starts loa again when the item failed before its
/// first sample.
const ATTEMPTS: usize = 5;

/// A station with one bulletin `file` (copied into its audio_dir), due
/// exactly 3 s after `loa run` starts; SIGTERM as soon as the ledger row of
/// the item closes. `kept`: the audio directory and loudness cache to
/// keep across runs (see [`Kept`]). `setup` adjusts the command (HOME,
/// pulse). `window`:
/// (from, to) seconds after the item's instant, to read the process's CPU
/// there too.
///
/// When the item fails before its first sample went out (through ALSA's
/// pulse plugin, about every other cue that falls right at start-up fails
/// with `snd_pcm_avail_delay` EIO: alsa-plugins issue #65), that run is
/// not a measurement: loa is started again, and the failures are returned
/// in `failed_starts` for the bench to print.
pub fn loa_item(
    output: &str,
    file: &Path,
    seconds: f64,
    kept: Option<&Kept>,
    setup: impl Fn(&mut Command),
    window: Option<(f64, f64)>,
) -> ItemRun {
    let mut failed_starts = Vec::new();
    for _ in 0..ATTEMPTS {
        let mut run = loa_item_once(output, file, seconds, kept, &setup, window);
        let failed_at_start =
            run.row.outcome == Some(Outcome::Failed) && run.row.started_at.is_none();
        if !failed_at_start {
            run.failed_starts = failed_starts;
            return run;
        }
        failed_starts.push(run.row.reason.map(|r| r.to_string()).unwrap_or_default());
    }
    panic!("loa's item failed before its first sample {ATTEMPTS} times: {failed_starts:#?}");
}

fn loa_item_once(
    output: &str,
    file: &Path,
    seconds: f64,
    kept: Option<&Kept>,
    setup: &impl Fn(&mut Command),
    window: Option<(f64, f64)>,
) -> ItemRun {
    let dir = tempfile::tempdir().unwrap();
    let name = item_name(file);
    let cache_in_var = dir
        .path()
        .join("var")
        .join(loa::audio::loudness::CACHE_FILE);
    let audio_dir = match kept {
        Some(k) => {
            std::fs::create_dir_all(dir.path().join("var")).unwrap();
            if k.cache().exists() {
                std::fs::copy(k.cache(), &cache_in_var).unwrap();
            }
            k.audio()
        }
        None => {
            std::fs::create_dir_all(dir.path().join("audio")).unwrap();
            std::fs::copy(file, dir.path().join("audio").join(&name)).unwrap();
            dir.path().join("audio")
        }
    };

    // The item's instant: a whole second, 3 s after the process starts.
    // Times are UTC HH:MM:SS: keep off midnight.
    let mut now = Utc::now();
    let margin = seconds as u32 + 120;
    if now.num_seconds_from_midnight() > 86_400 - margin {
        std::thread::sleep(Duration::from_secs(
            u64::from(86_400 - now.num_seconds_from_midnight()) + 1,
        ));
        now = Utc::now();
    }
    let at: DateTime<Utc> = now.with_nanosecond(0).unwrap() + chrono::Duration::seconds(4);
    let config = dir.path().join("station.toml");
    std::fs::write(
        &config,
        format!(
            "[station]\nname = \"Bench\"\ntimezone = \"UTC\"\naudio_dir = \"{}\"\ndata_dir = \"var\"\n\
             [api]\nlisten = \"127.0.0.1:0\"\n{output}\n\
             [[bulletin]]\nid = \"item\"\ntitle = \"Item\"\nfile = \"{name}\"\nat = [\"{}\"]\n",
            audio_dir.display(),
            at.format("%H:%M:%S")
        ),
    )
    .unwrap();
    let at_sys: SystemTime = at.into();
    let start_at = at_sys - Duration::from_secs(3);
    if let Ok(wait) = start_at.duration_since(SystemTime::now()) {
        std::thread::sleep(wait);
    }

    let log = dir.path().join("loa.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loa"));
    cmd.args(["run", "--config"])
        .arg(&config)
        .env("LOA_LOG", "warn")
        .env_remove("LOA_CONFIG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    setup(&mut cmd);
    let t0 = Instant::now();
    let child = cmd.spawn().expect("start loa run");
    let pid = child.id();

    let db = dir.path().join("var/airtime.db");
    let give_up = t0 + Duration::from_secs_f64(seconds + 40.0);
    let since_at = || {
        SystemTime::now()
            .duration_since(at_sys)
            .map_or(-1.0, |d| d.as_secs_f64())
    };
    let (mut w0, mut w1) = (None, None);
    let row = loop {
        if let Some((from, to)) = window {
            let s = since_at();
            if w0.is_none() && s >= from {
                w0 = live_cpu(pid);
            }
            if w1.is_none() && s >= to {
                w1 = live_cpu(pid);
            }
        }
        if let Some(r) = rows(&db).into_iter().find(|r| r.outcome.is_some()) {
            sigterm(pid);
            break r;
        }
        if Instant::now() > give_up {
            sigterm(pid);
            let _ = reap(child);
            panic!(
                "loa's item did not end in time; rows: {:#?}\nlog:\n{}",
                rows(&db),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let (code, whole) = reap(child);
    let wall = t0.elapsed();
    if let (Some(k), true) = (kept, cache_in_var.exists()) {
        std::fs::copy(&cache_in_var, k.cache()).unwrap();
    }
    assert_eq!(
        code,
        0,
        "loa run exited with {code}:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let window = match (window, w0, w1) {
        (None, ..) => None,
        (Some(_), Some(a), Some(b)) => Some(b - a),
        (Some(_), ..) if row.started_at.is_none() => None,
        (Some((from, to)), ..) => panic!(
            "the item ended before {to} s into it (CPU read at {from} s: {w0:?}, at {to} s: {w1:?}); row: {row:#?}"
        ),
    };
    ItemRun {
        whole,
        window,
        wall,
        row,
        failed_starts: Vec::new(),
    }
}

/// Another player's whole process (and optionally its CPU between two
/// points, seconds after it started); panics unless it exits 0.
pub fn peer(mut cmd: Command, window: Option<(f64, f64)>) -> (Duration, Option<Duration>) {
    let what = format!("{cmd:?}");
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let t0 = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let pid = child.id();
    let mut part = None;
    if let Some((from, to)) = window {
        let at = |s: f64| {
            if let Some(d) =
                (t0 + Duration::from_secs_f64(s)).checked_duration_since(Instant::now())
            {
                std::thread::sleep(d);
            }
            live_cpu(pid)
        };
        part = at(from).zip(at(to)).map(|(a, b)| b - a);
    }
    let (code, whole) = reap(child);
    let errors = errors.join().unwrap_or_default();
    assert_eq!(code, 0, "{what} exited with {code}: {errors}");
    if window.is_some() {
        assert!(part.is_some(), "{what} ended before the window closed");
    }
    (whole, part)
}

fn rows(db: &Path) -> Vec<AirtimeRow> {
    if !db.exists() {
        return Vec::new();
    }
    Ledger::open_read_only(db, chrono_tz::UTC)
        .and_then(|l| l.rows(&Filter::default()))
        .unwrap_or_default()
}

/// The MP3 the benches use, made once per run in a temporary directory.
pub fn temp_mp3(dir: &Path, seconds: u32) -> PathBuf {
    let p = dir.join(format!("bench-{seconds}s.mp3"));
    make_mp3(&p, seconds);
    p
}
