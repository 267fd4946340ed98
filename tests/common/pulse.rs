//! A paced audio output without a sound card, for the tests and benches
//! that time or measure what reaches the output: a private PulseAudio
//! server with one null sink (`nul`), reached through ALSA's pulse plugin
//! as the `default` PCM of a temporary HOME, and a capture of that sink's
//! monitor with wall-clock timing. The null sink takes samples at the pace
//! of a real card (ALSA's `null` PCM and `type file` PCMs do not pace).
//!
//! One copy of this code: tests use it as `#[path = "common/pulse.rs"]`,
//! benches as `#[path = "../tests/common/pulse.rs"]`.
//!
//! Checked on Debian 12 with PulseAudio 16.1 (see /work/shared/PITFALLS.md):
//! the server runs as root with a warning; with no client asking for low
//! latency the null sink renders 2 s ahead, so a capture's first frames
//! arrive up to 2 s after it starts (`Capture::wait_flowing`).

#![allow(dead_code)]

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The null sink's format (PulseAudio's default sample spec): the capture
/// is read in it, and the tones are made in it so nothing is resampled.
pub const RATE: u32 = 44_100;
pub const CHANNELS: u16 = 2;

/// Fail (never skip) when `tool` is missing, saying what installs it.
pub fn require(tool: &str, package: &str, make_target: &str) {
    let found = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| {
            std::fs::metadata(d.join(tool)).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
    });
    assert!(
        found,
        "`{tool}` is not installed: `make {make_target}` installs it \
         (or: sudo apt-get install {package})"
    );
}

/// `libasound_module_pcm_pulse.so` in an ALSA plugin directory (Debian's
/// multiarch `/usr/lib/<triplet>/alsa-lib`, or a plain `/usr/lib*/alsa-lib`).
fn pulse_plugin_installed() -> bool {
    const PLUGIN: &str = "alsa-lib/libasound_module_pcm_pulse.so";
    let mut dirs = vec![PathBuf::from("/usr/lib"), PathBuf::from("/usr/lib64")];
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        dirs.extend(entries.flatten().map(|e| e.path()));
    }
    dirs.iter().any(|d| d.join(PLUGIN).is_file())
}

/// A private PulseAudio server with one null sink, killed when dropped.
pub struct Pulse {
    child: Child,
    dir: tempfile::TempDir,
}

impl Pulse {
    /// Start `pulseaudio` (not daemonized: our child) on a temporary
    /// runtime dir and HOME, and wait until its socket answers. Panics,
    /// with what to install, when pulseaudio or ALSA's pulse plugin is
    /// missing.
    pub fn start(make_target: &str) -> Pulse {
        require("pulseaudio", "pulseaudio", make_target);
        assert!(
            pulse_plugin_installed(),
            "ALSA's pulse plugin is not installed: `make {make_target}` installs it \
             (or: sudo apt-get install libasound2-plugins)"
        );
        let dir = tempfile::tempdir().unwrap();
        let runtime = dir.path().join("run");
        let home = dir.path().join("home");
        std::fs::create_dir(&runtime).unwrap();
        std::fs::create_dir(&home).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        std::fs::write(
            home.join(".asoundrc"),
            "pcm.!default { type pulse }\nctl.!default { type pulse }\n",
        )
        .unwrap();
        // Clients never start a server of their own (a stray daemon in the
        // user's real runtime dir) when ours is gone.
        std::fs::write(dir.path().join("client.conf"), "autospawn = no\n").unwrap();
        let log = dir.path().join("pulseaudio.log");
        let mut cmd = Command::new("pulseaudio");
        cmd.args([
            "--daemonize=no",
            "-n",
            "--load=module-null-sink sink_name=nul",
            "--load=module-native-protocol-unix",
            "--exit-idle-time=-1",
            "--log-target=stderr",
        ])
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("PULSE_SERVER")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
        let child = cmd.spawn().expect("start pulseaudio");
        let mut pulse = Pulse { child, dir };
        let give_up = Instant::now() + Duration::from_secs(15);
        loop {
            if UnixStream::connect(pulse.socket()).is_ok() {
                return pulse;
            }
            if let Ok(Some(status)) = pulse.child.try_wait() {
                panic!("pulseaudio exited ({status}) at start:\n{}", pulse.log());
            }
            assert!(
                Instant::now() < give_up,
                "pulseaudio did not open {} within 15 s:\n{}",
                pulse.socket().display(),
                pulse.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("run/pulse/native")
    }

    /// The HOME whose `.asoundrc` makes ALSA's `default` PCM the null sink.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A scratch directory that lives as long as the server.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the server said (on failure).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pulseaudio.log")).unwrap_or_default()
    }

    /// Point a process's ALSA `default` PCM at the null sink: our HOME (its
    /// `.asoundrc`), our server, no autospawn.
    pub fn apply<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("HOME", self.home())
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env("PULSE_SERVER", format!("unix:{}", self.socket().display()))
            .env("PULSE_CLIENTCONFIG", self.dir.path().join("client.conf"))
            .env("PULSE_SINK", "nul")
            .env("PULSE_SOURCE", "nul.monitor")
    }

    /// The sound card vanishes, as a USB card unplugged: the null sink is
    /// unloaded (`pactl`, from pulseaudio-utils, which pulseaudio depends
    /// on), and streams playing into it are killed with nowhere to go.
    pub fn unplug(&self) {
        self.pactl(&["unload-module", "module-null-sink"]);
    }

    /// The card comes back, under the same name.
    pub fn plug(&self) {
        self.pactl(&["load-module", "module-null-sink", "sink_name=nul"]);
    }

    /// `pactl ARGS` on this server (its output: a loaded module's index).
    pub fn pactl(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("pactl");
        self.apply(&mut cmd).args(args);
        let out = cmd.output().expect("run pactl (pulseaudio-utils)");
        assert!(
            out.status.success(),
            "pactl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Start recording what plays into the null sink (its monitor), through
    /// ALSA (`arecord`), as 16-bit stereo at `RATE`. Panics when arecord is
    /// missing.
    pub fn capture(&self, make_target: &str) -> Capture {
        require("arecord", "alsa-utils", make_target);
        let log = self.dir.path().join("arecord.log");
        let mut cmd = Command::new("arecord");
        // 10 ms periods: the monitor delivers small chunks, which is what
        // times the capture (see `Recording::first_frame_at`). A 4 s buffer
        // so that a busy machine never makes it overrun and drop audio.
        cmd.args(["-q", "-D", "default", "-t", "raw", "-f", "S16_LE"])
            .args(["-r", &RATE.to_string(), "-c", &CHANNELS.to_string()])
            .args(["--period-time=10000", "--buffer-time=4000000"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        self.apply(&mut cmd);
        let mut child = cmd.spawn().expect("start arecord");
        let mut out = child.stdout.take().unwrap();
        let frames = Arc::new(AtomicU64::new(0));
        let shared = Arc::new(Mutex::new(Captured::default()));
        let reference = (Instant::now(), SystemTime::now());
        let reader = {
            let frames = Arc::clone(&frames);
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                let mut bytes: Vec<u8> = Vec::with_capacity(RATE as usize * 4 * 60);
                let frame = 2 * CHANNELS as usize;
                loop {
                    let n = match out.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let now = Instant::now();
                    bytes.extend_from_slice(&buf[..n]);
                    let total = (bytes.len() / frame) as u64;
                    frames.store(total, Ordering::Relaxed);
                    shared.lock().unwrap().arrivals.push((now, total));
                }
                let mut c = shared.lock().unwrap();
                c.samples = bytes
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect();
            })
        };
        Capture {
            child,
            reader: Some(reader),
            frames,
            shared,
            reference,
            log,
        }
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// A child process stopped (SIGTERM, then SIGKILL) when dropped, so that a
/// failing test or bench leaves no daemon behind.
pub struct Stopped(pub Child);

impl Stopped {
    /// Stop it now (SIGTERM first, so a daemon closes its files).
    pub fn stop(mut self) {
        terminate(&mut self.0);
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        terminate(&mut self.0);
    }
}

/// SIGTERM, a moment to exit, then SIGKILL; always reaped. Never signals a
/// child already reaped (its pid may belong to another process by now).
fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[derive(Default)]
struct Captured {
    /// When each read returned, and the frames read in total by then.
    arrivals: Vec<(Instant, u64)>,
    samples: Vec<i16>,
}

/// A running capture of the null sink's monitor.
pub struct Capture {
    child: Child,
    reader: Option<std::thread::JoinHandle<()>>,
    frames: Arc<AtomicU64>,
    shared: Arc<Mutex<Captured>>,
    reference: (Instant, SystemTime),
    log: PathBuf,
}

impl Capture {
    /// Frames captured so far.
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Wait until audio flows (the null sink may have rendered up to 2 s
    /// ahead before we connected), then a little more so the monitor runs
    /// at its steady small-chunk pace.
    pub fn wait_flowing(&self, timeout: Duration) {
        let give_up = Instant::now() + timeout;
        while self.frames() < u64::from(RATE) / 5 {
            assert!(
                Instant::now() < give_up,
                "the capture of the null sink's monitor got no audio within {timeout:?}: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait until `secs` more seconds of audio have been captured (what
    /// was rendered by now has then arrived), failing after `timeout`.
    pub fn wait_more(&self, secs: f64, timeout: Duration) {
        let want = self.frames() + (secs * f64::from(RATE)) as u64;
        let give_up = Instant::now() + timeout;
        while self.frames() < want {
            assert!(
                Instant::now() < give_up,
                "the capture did not bring {secs} s more audio within {timeout:?}: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stop recording and hand over what was captured.
    pub fn stop(mut self) -> Recording {
        terminate(&mut self.child);
        if let Some(r) = self.reader.take() {
            r.join().expect("capture reader");
        }
        let mut c = self.shared.lock().unwrap();
        let samples = std::mem::take(&mut c.samples);
        let arrivals = std::mem::take(&mut c.arrivals);
        // Frame k cannot arrive before it was rendered, and the sink renders
        // at its real-time pace: `arrival - k / RATE` is never below the
        // time frame 0 was rendered, and comes within a chunk of it for the
        // read that catches a chunk right after rendering. The smallest
        // value over all reads is the estimate (the first reads are left
        // out: they bring what the sink rendered ahead before we connected).
        let start = arrivals
            .iter()
            .filter(|(_, frames)| *frames > u64::from(RATE) / 5)
            .map(|(at, frames)| {
                at.checked_sub(Duration::from_secs_f64(*frames as f64 / f64::from(RATE)))
                    .unwrap_or(self.reference.0)
            })
            .min()
            .unwrap_or(self.reference.0);
        let first_frame_at = if start >= self.reference.0 {
            self.reference.1 + (start - self.reference.0)
        } else {
            self.reference.1 - (self.reference.0 - start)
        };
        let spread = arrivals
            .iter()
            .filter(|(_, frames)| *frames > u64::from(RATE) / 5)
            .map(|(at, frames)| {
                at.checked_sub(Duration::from_secs_f64(*frames as f64 / f64::from(RATE)))
                    .map_or(Duration::ZERO, |t| t.saturating_duration_since(start))
            })
            .collect();
        Recording {
            samples,
            first_frame_at,
            spread,
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// A finished capture: interleaved 16-bit stereo at `RATE`.
pub struct Recording {
    pub samples: Vec<i16>,
    /// Wall-clock time the first captured frame left the null sink.
    pub first_frame_at: SystemTime,
    /// For each read, how far after `first_frame_at + frames / RATE` it
    /// arrived: the capture's timing jitter.
    spread: Vec<Duration>,
}

impl Recording {
    pub fn frames(&self) -> u64 {
        (self.samples.len() / CHANNELS as usize) as u64
    }

    pub fn seconds(&self) -> f64 {
        self.frames() as f64 / f64::from(RATE)
    }

    /// Wall-clock time frame `n` left the null sink.
    pub fn time_of(&self, frame: u64) -> SystemTime {
        self.first_frame_at + Duration::from_secs_f64(frame as f64 / f64::from(RATE))
    }

    /// The median delay of a read behind the sink's clock: how much the
    /// timing of this capture can be trusted.
    pub fn median_jitter(&self) -> Duration {
        let mut s = self.spread.clone();
        s.sort();
        s.get(s.len() / 2).copied().unwrap_or_default()
    }

    fn loud(&self, frame: u64, threshold: i16) -> bool {
        let i = frame as usize * CHANNELS as usize;
        self.samples[i..i + CHANNELS as usize]
            .iter()
            .any(|s| s.unsigned_abs() >= threshold.unsigned_abs())
    }

    /// The first frame with a sample at or above `threshold` (absolute).
    pub fn first_loud(&self, threshold: i16) -> Option<u64> {
        (0..self.frames()).find(|&f| self.loud(f, threshold))
    }

    /// The last frame with a sample at or above `threshold`.
    pub fn last_loud(&self, threshold: i16) -> Option<u64> {
        (0..self.frames()).rev().find(|&f| self.loud(f, threshold))
    }

    /// Runs of frames below `threshold` between `from` and `to` (frames),
    /// longest first: (first frame, length in frames).
    pub fn quiet_runs(&self, from: u64, to: u64, threshold: i16) -> Vec<(u64, u64)> {
        let mut runs = Vec::new();
        let mut start = None;
        for f in from..to {
            match (self.loud(f, threshold), start) {
                (false, None) => start = Some(f),
                (true, Some(s)) => {
                    runs.push((s, f - s));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            runs.push((s, to - s));
        }
        runs.sort_by_key(|r| std::cmp::Reverse(r.1));
        runs
    }
}

/// A 16-bit stereo WAV at `RATE` of a 441 Hz square wave at `amplitude`
/// (of full scale): loud from its very first sample, and never near zero
/// for more than a sample, so any quiet stretch in a capture is a dropout.
pub fn square_wav(path: &Path, seconds: f64, amplitude: f64) {
    let frames = (seconds * f64::from(RATE)) as u32;
    let half_period = RATE / 441 / 2;
    let mono: Vec<f64> = (0..frames)
        .map(|i| {
            if (i / half_period).is_multiple_of(2) {
                amplitude
            } else {
                -amplitude
            }
        })
        .collect();
    wav(path, &mono);
}

/// A 16-bit stereo WAV at `RATE` of `mono` (of full scale, clipped), both
/// channels alike.
pub fn wav(path: &Path, mono: &[f64]) {
    let mut data = Vec::with_capacity(mono.len() * 4);
    for &x in mono {
        let v = (x.clamp(-1.0, 1.0) * f64::from(i16::MAX)) as i16;
        for _ in 0..CHANNELS {
            data.extend_from_slice(&v.to_le_bytes());
        }
    }
    let block = 2 * CHANNELS;
    let mut w = Vec::with_capacity(44 + data.len());
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&CHANNELS.to_le_bytes());
    w.extend_from_slice(&RATE.to_le_bytes());
    w.extend_from_slice(&(RATE * u32::from(block)).to_le_bytes());
    w.extend_from_slice(&block.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(&data);
    std::fs::write(path, w).unwrap();
}
