//! CPU cost of playout, next to mpg123 on the same file.
//!
//! Plays a 128 kbit/s stereo MP3 of three minutes through the WAV output
//! at `pace = "fast"` (decode + gain + 16-bit conversion + file write, the
//! same work `mpg123 -w` does), and through the null output (decoding
//! alone), and prints the CPU seconds (user + system, getrusage) of each.
//! Run with `cargo bench --bench playout`. Needs ffmpeg to make the MP3;
//! mpg123 is optional.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use loa::audio::{Event, NullSink, Outcome, Player, PlayerOptions, Sink, WavSink};

const SECONDS: u32 = 180;

fn cpu(who: libc::c_int) -> Duration {
    // SAFETY: getrusage only writes the struct we hand it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn play(sink: Box<dyn Sink>, mp3: &Path) -> (Duration, Duration, f64) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let player = Player::spawn(sink, PlayerOptions::default(), tx).unwrap();
    let (c0, t0) = (cpu(libc::RUSAGE_SELF), Instant::now());
    let id = player.play(mp3, Duration::from_secs(SECONDS.into()));
    let aired = loop {
        match rx.blocking_recv() {
            Some(Event::Finished {
                id: i,
                aired_seconds,
                outcome,
            }) if i == id => {
                assert_eq!(outcome, Outcome::Completed);
                break aired_seconds;
            }
            Some(_) => {}
            None => panic!("player gone"),
        }
    };
    let out = (cpu(libc::RUSAGE_SELF) - c0, t0.elapsed(), aired);
    drop(player);
    out
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mp3 = dir.path().join("bench.mp3");
    let made = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg(format!(
            "anoisesrc=color=pink:amplitude=0.3:sample_rate=44100:duration={SECONDS}"
        ))
        .args(["-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k"])
        .arg(&mp3)
        .status();
    if !made.is_ok_and(|s| s.success()) {
        println!("playout bench skipped: ffmpeg (with libmp3lame) is needed to make the test MP3");
        return;
    }
    println!("{SECONDS} s of 128 kbit/s stereo 44.1 kHz MP3, pace = fast");

    for round in 1..=2 {
        let wav = dir.path().join("loa.wav");
        let _ = std::fs::remove_file(&wav);
        let (c, t, aired) = play(Box::new(WavSink::new(&wav, false)), &mp3);
        println!(
            "  [{round}] loa wav output:  {:.3} s CPU ({:.3} s wall, {aired:.1} s aired)",
            c.as_secs_f64(),
            t.as_secs_f64()
        );
        let (c, t, _) = play(Box::new(NullSink::new(false)), &mp3);
        println!(
            "  [{round}] loa null output: {:.3} s CPU ({:.3} s wall)",
            c.as_secs_f64(),
            t.as_secs_f64()
        );
        let out = dir.path().join("mpg123.wav");
        let c0 = cpu(libc::RUSAGE_CHILDREN);
        let t0 = Instant::now();
        match Command::new("mpg123")
            .arg("-q")
            .arg("-w")
            .arg(&out)
            .arg(&mp3)
            .status()
        {
            Ok(s) if s.success() => println!(
                "  [{round}] mpg123 -w:       {:.3} s CPU ({:.3} s wall)",
                (cpu(libc::RUSAGE_CHILDREN) - c0).as_secs_f64(),
                t0.elapsed().as_secs_f64()
            ),
            _ => println!("  mpg123 not installed: no comparison"),
        }
    }
}
