//! The daemon as a station runs it, measured (printed, never asserted):
//!
//! 1. lateness of 100 scheduled starts (WAV output, real time): p50/p99,
//!    goal p99 under 5 ms;
//! 2. idle: CPU and memory of `loa run` with nothing to air for 20 s,
//!    goal 0 % CPU and under 20 MB RSS;
//! 3. playing a 128 kbit/s MP3 through the real ALSA path (a `type file`
//!    PCM over `null` in a temporary HOME, unpaced), CPU side by side with
//!    `mpg123` playing the same file to the same PCM; goal: no more CPU
//!    than mpg123.
//!
//! `cargo bench --bench daemon`. Parts needing ffmpeg or mpg123 say so and
//! are skipped when the tool is missing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use loa::ledger::{Filter, Ledger};

fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is handed.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn loa(config: &Path, home: Option<&Path>) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_loa"));
    c.args(["run", "--config"])
        .arg(config)
        .env("LOA_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(h) = home {
        c.env("HOME", h);
    }
    c.spawn().expect("start loa")
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// utime + stime of a live process, from /proc (clock ticks of 10 ms).
fn proc_cpu(pid: u32) -> Option<Duration> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = s.rsplit(')').next()?;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// A mono 0.25 s tone as a 16-bit WAV.
fn write_tone(path: &Path) {
    let rate = 22_050u32;
    let n = rate / 4;
    let mut data = Vec::with_capacity(n as usize * 2);
    for i in 0..n {
        let v = ((i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 8000.0) as i16;
        data.extend_from_slice(&v.to_le_bytes());
    }
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * 2).to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(&data);
    std::fs::write(path, w).unwrap();
}

fn station(dir: &Path, output: &str, body: &str) -> PathBuf {
    let text = format!(
        "[station]\nname = \"Bench\"\ntimezone = \"UTC\"\naudio_dir = \"audio\"\ndata_dir = \"var\"\n\
         [api]\nlisten = \"127.0.0.1:0\"\n{output}\n{body}"
    );
    let p = dir.join("station.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn lateness() {
    const N: i64 = 100;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("audio")).unwrap();
    write_tone(&dir.path().join("audio/tone.wav"));
    let mut now = Utc::now();
    if now.num_seconds_from_midnight() > 86_400 - 200 {
        std::thread::sleep(Duration::from_secs(210));
        now = Utc::now();
    }
    let first = now.with_nanosecond(0).unwrap() + chrono::Duration::seconds(5);
    let mut body = String::new();
    for i in 0..N {
        let t = first + chrono::Duration::seconds(i);
        let _ = write!(
            body,
            "[[bulletin]]\nid = \"b{i}\"\ntitle = \"B\"\nfile = \"tone.wav\"\nat = [\"{}\"]\n",
            t.format("%H:%M:%S")
        );
    }
    let cfg = station(
        dir.path(),
        "[output]\nkind = \"wav\"\npath = \"var/aired.wav\"",
        &body,
    );
    let child = loa(&cfg, None);
    std::thread::sleep(Duration::from_secs(N as u64 + 7));
    stop(child);
    let ledger =
        Ledger::open_read_only(&dir.path().join("var/airtime.db"), chrono_tz::UTC).unwrap();
    let rows = ledger.rows(&Filter::default()).unwrap();
    let ms = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros() as f64 / 1e3;
    let mut late: Vec<f64> = rows
        .iter()
        .filter_map(|r| Some(ms(r.started_at.as_deref()?) - ms(&r.scheduled_at)))
        .collect();
    late.sort_by(f64::total_cmp);
    if late.is_empty() {
        println!("lateness: no starts recorded");
        return;
    }
    println!(
        "lateness: {} starts (WAV, real time): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (goal p99 < 5 ms)",
        late.len(),
        percentile(&late, 0.5),
        percentile(&late, 0.99),
        late[late.len() - 1]
    );
}

fn idle() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("audio")).unwrap();
    write_tone(&dir.path().join("audio/tone.wav"));
    // Something scheduled far away, so the plan is real but nothing airs.
    let cfg = station(
        dir.path(),
        "[output]\nkind = \"device\"\ndevice = \"default\"",
        "[[bulletin]]\nid = \"b\"\ntitle = \"B\"\nfile = \"tone.wav\"\ncron = \"0 5 1 1 *\"\n",
    );
    let child = loa(&cfg, None);
    std::thread::sleep(Duration::from_secs(3));
    let (c0, t0) = (proc_cpu(child.id()), Instant::now());
    std::thread::sleep(Duration::from_secs(20));
    let (c1, wall) = (proc_cpu(child.id()), t0.elapsed());
    let rss = rss_kb(child.id());
    stop(child);
    match (c0, c1, rss) {
        (Some(a), Some(b), Some(rss)) => println!(
            "idle: {:.3} % CPU over {:.0} s ({} ms of CPU), RSS {:.1} MB (goal 0 % CPU, < 20 MB)",
            (b - a).as_secs_f64() / wall.as_secs_f64() * 100.0,
            wall.as_secs_f64(),
            (b - a).as_millis(),
            rss as f64 / 1024.0
        ),
        _ => println!("idle: could not read /proc"),
    }
}

fn playing() {
    let have = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if !have("ffmpeg") {
        println!("playing: skipped (needs ffmpeg to make the MP3: apt-get install ffmpeg)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("audio")).unwrap();
    let mp3 = dir.path().join("audio/bench.mp3");
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("anoisesrc=color=pink:amplitude=0.3:sample_rate=44100:duration=180")
        .args(["-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k"])
        .arg(&mp3)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("playing: skipped (ffmpeg could not make the MP3)");
        return;
    }
    // The real ALSA path into a file PCM over `null`: no sound card, no pacing.
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join(".asoundrc"),
        format!(
            "pcm.loa_bench {{\n type file\n slave.pcm \"null\"\n file \"{}\"\n format \"raw\"\n}}\n",
            dir.path().join("captured.raw").display()
        ),
    )
    .unwrap();
    let at = (Utc::now() + chrono::Duration::seconds(3)).format("%H:%M:%S");
    let cfg = station(
        dir.path(),
        "[output]\nkind = \"device\"\ndevice = \"loa_bench\"",
        &format!(
            "[[bulletin]]\nid = \"b\"\ntitle = \"B\"\nfile = \"bench.mp3\"\nat = [\"{at}\"]\n"
        ),
    );
    // CPU while the item airs (from its row's start to its end), and for the
    // whole run: an unpaced PCM makes an open-but-silent device spin, which a
    // real, paced card does not, so the first figure is the comparable one.
    let c0 = children_cpu();
    let t0 = Instant::now();
    let child = loa(&cfg, Some(&home));
    let pid = child.id();
    let db = dir.path().join("var/airtime.db");
    let rows = |db: &Path| {
        Ledger::open_read_only(db, chrono_tz::UTC)
            .and_then(|l| l.rows(&Filter::default()))
            .unwrap_or_default()
    };
    let mut during_start = None;
    let mut during = None;
    while t0.elapsed() < Duration::from_secs(400) {
        let r = if db.exists() { rows(&db) } else { Vec::new() };
        match r.first() {
            Some(row) if row.outcome.is_some() => {
                during = during_start.zip(proc_cpu(pid)).map(|(a, b)| b - a);
                break;
            }
            Some(_) if during_start.is_none() => during_start = proc_cpu(pid),
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stop(child);
    let loa_cpu = children_cpu() - c0;
    let rows = rows(&db);
    let outcome = rows
        .first()
        .map(|r| format!("{:?}, {:.1} s aired", r.outcome, r.aired_seconds))
        .unwrap_or_default();
    println!(
        "playing: loa run, 180 s 128 kbit/s MP3 to an ALSA file PCM: {} s CPU while airing, {:.3} s for the whole run ({outcome})",
        during.map_or("?".to_string(), |d| format!("{:.2}", d.as_secs_f64())),
        loa_cpu.as_secs_f64()
    );
    if have("mpg123") {
        let c0 = children_cpu();
        let status = Command::new("mpg123")
            .args(["-q", "-o", "alsa", "-a", "loa_bench"])
            .arg(&mp3)
            .env("HOME", &home)
            .stderr(Stdio::null())
            .status();
        let mpg = children_cpu() - c0;
        println!(
            "playing: mpg123 -o alsa, same file, same PCM: {:.3} s CPU ({})",
            mpg.as_secs_f64(),
            if status.is_ok_and(|s| s.success()) {
                "ok"
            } else {
                "failed"
            }
        );
    } else {
        println!("playing: mpg123 not installed (apt-get install mpg123) — no side-by-side figure");
    }
}

/// `cargo bench --bench daemon -- playing` runs only the parts named.
fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    if want("idle") {
        idle();
    }
    if want("playing") {
        playing();
    }
    if want("lateness") {
        lateness();
    }
}
