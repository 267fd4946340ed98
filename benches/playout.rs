//! CPU cost of playout to a WAV file, next to `mpg123 -w` on the same file.
//!
//! Both are measured over the same interval: the whole process, start to
//! exit, user + system (`wait4`). loa is `loa run` with `[output] kind =
//! "wav"`, `pace = "fast"` (decode, gain, 16-bit conversion, file write:
//! the work `mpg123 -w` does), the item due 3 s after the process starts
//! and SIGTERM as soon as its ledger row closes; so loa's start-up (station
//! file, ledger, HTTP listener), its idle wait for the instant and its
//! ledger writes are counted, as mpg123's start-up is. A third figure, loa
//! with nothing to air (start, the same 3 s, SIGTERM), is that fixed part
//! alone. Three rounds, the three back to back in each; prints min–max and
//! the ratio of the best of 3.
//!
//! `cargo bench --bench playout`. Needs ffmpeg (to make the MP3) and mpg123,
//! which `make bench` installs; a missing one is a failure.

mod measure;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use measure::Spread;

const SECONDS: u32 = 180;
const ROUNDS: usize = 3;
/// Levelling off: see benches/daemon.rs.
const WAV_FAST: &str =
    "[output]\nkind = \"wav\"\npath = \"var/aired.wav\"\npace = \"fast\"\nloudness = false";

/// `loa run` with nothing due: start-up, 3 s idle, SIGTERM, exit.
fn loa_nothing_to_air() -> Duration {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("audio")).unwrap();
    let config = dir.path().join("station.toml");
    std::fs::write(
        &config,
        format!(
            "[station]\nname = \"Bench\"\ntimezone = \"UTC\"\naudio_dir = \"audio\"\ndata_dir = \"var\"\n\
             [api]\nlisten = \"127.0.0.1:0\"\n{WAV_FAST}\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_loa"))
        .args(["run", "--config"])
        .arg(&config)
        .env("LOA_LOG", "warn")
        .env_remove("LOA_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start loa run");
    std::thread::sleep(Duration::from_secs(3));
    measure::sigterm(child.id());
    let (code, cpu) = measure::reap(child);
    assert_eq!(code, 0, "loa run with nothing to air exited with {code}");
    cpu
}

fn main() {
    measure::require("mpg123", "mpg123");
    let dir = tempfile::tempdir().unwrap();
    let mp3 = measure::temp_mp3(dir.path(), SECONDS);
    println!(
        "{SECONDS} s of 128 kbit/s stereo 44.1 kHz MP3 to a WAV file, whole process each \
         (loa: `loa run`, wav output, pace = fast; mpg123 -w), {ROUNDS} rounds"
    );
    let (mut loa, mut mpg, mut fixed) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let r = measure::loa_item(WAV_FAST, &mp3, f64::from(SECONDS), None, |_| {}, None);
        assert!(
            r.failed_starts.is_empty(),
            "the WAV output failed: {:?}",
            r.failed_starts
        );
        assert!(
            (r.row.aired_seconds - f64::from(SECONDS)).abs() < 0.5,
            "loa aired {:.2} s of {SECONDS}: {:#?}",
            r.row.aired_seconds,
            r.row
        );
        let out = dir.path().join("mpg123.wav");
        let mut cmd = Command::new("mpg123");
        cmd.arg("-q").arg("-w").arg(&out).arg(&mp3);
        let t0 = Instant::now();
        let (m, _) = measure::peer(cmd, None);
        let m_wall = t0.elapsed();
        let nothing = loa_nothing_to_air();
        println!(
            "  [{round}] loa {:.3} s CPU ({:.1} s wall, 3 s of it waiting for the instant; \
             {:.1} s aired); mpg123 -w {:.3} s CPU ({:.2} s wall); loa with nothing to air {:.3} s",
            r.whole.as_secs_f64(),
            r.wall.as_secs_f64(),
            r.row.aired_seconds,
            m.as_secs_f64(),
            m_wall.as_secs_f64(),
            nothing.as_secs_f64(),
        );
        loa.push(r.whole.as_secs_f64());
        mpg.push(m.as_secs_f64());
        fixed.push(nothing.as_secs_f64());
    }
    let ratios = Spread(loa.iter().zip(&mpg).map(|(l, m)| l / m).collect());
    let (loa, mpg, fixed) = (Spread(loa), Spread(mpg), Spread(fixed));
    println!(
        "WAV output, whole process: loa {} vs mpg123 -w {} CPU; loa/mpg123 {:.2}× (best of {ROUNDS} \
         each; round by round {:.2}–{:.2}×); of loa's, {} is start-up and shutdown with nothing to air",
        loa.secs(),
        mpg.secs(),
        loa.best() / mpg.best(),
        ratios.best(),
        ratios.worst(),
        fixed.secs(),
    );
}
