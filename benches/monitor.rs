//! `make bench`: the line monitor's figures (issue 21), measured on the
//! monitor's own pipeline (`loa::monitor`: the band-limited envelopes of
//! both sides and the matcher) over synthetic speech, the line simulated
//! sample by sample: half the level, a delay, pink noise 20 dB below the
//! programme, a 50 Hz hum. What the sound card and PulseAudio add on top
//! (capture latency, an output that falls behind) is what
//! `tests/monitor.rs` sees through a real PulseAudio line; its figures are
//! printed by that test.
//!
//! Goals: heard >= 98 % of aired in each line case; the silence alarm
//! within `silence_alarm` + 1 s of the cut; no false alarm over an hour of
//! programme on a clean line; the monitor's CPU <= 0.3x mpg123's for the
//! same audio. The peer is measured side by side in the same run, as in
//! `benches/daemon.rs`: the same minute of programme made into 128 kbit/s
//! MP3 by ffmpeg, `mpg123 -q -o alsa -a default` playing it into a private
//! PulseAudio null sink (paced like a card), whole process (`wait4`),
//! alternating with the monitor's pipeline over that minute, 3 rounds; the
//! ratio is the best of 3 against the best of 3. `mpg123 -t` (decode only,
//! no output: the cheapest player there is) is printed as a second,
//! stricter comparison. Needs ffmpeg, mpg123, pulseaudio and
//! libasound2-plugins (`make bench` installs them); a missing one fails.

#[path = "../tests/common/mod.rs"]
mod common;
use common::{pulse, signals};

mod measure;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use loa::monitor::{Envelope, Matcher, FRAME_MS};

const RATE: u32 = 44_100;
/// `[monitor] silence_alarm`, the default.
const ALARM: Duration = Duration::from_secs(10);
/// The wall-clock frame number the simulated programme starts at.
const BASE: i64 = 17_000_000_000;

/// One line: what went out, what came back.
struct Line {
    sent: Vec<f64>,
    back: Vec<f64>,
}

/// What the monitor made of a line: heard and aired seconds, the frame
/// (from the start) of each rising silence alarm, foreign alarms, and the
/// CPU seconds the envelopes and the matcher took.
struct Verdict {
    heard: f64,
    aired: f64,
    silent_at: Vec<i64>,
    foreign: u32,
    cpu: f64,
}

fn thread_cpu() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

fn levels(x: &[f64]) -> Vec<f32> {
    let mut e = Envelope::new(RATE, 1);
    let mut out = Vec::with_capacity(x.len() / 4410 + 1);
    for chunk in x.chunks(1024) {
        e.feed(chunk.iter().map(|&v| v as f32), |l| out.push(l));
    }
    out
}

fn judge(line: &Line) -> Verdict {
    let cpu = thread_cpu();
    let sent = levels(&line.sent);
    let back = levels(&line.back);
    let mut m = Matcher::new((ALARM.as_millis() as i64 / FRAME_MS) as u32);
    let mut silent_at = Vec::new();
    let (mut was, mut foreign) = (m.state(), 0);
    for k in 0..back.len() as i64 + 60 {
        if let Some(&l) = sent.get(k as usize) {
            m.sent(BASE + k, l);
        }
        m.captured(BASE + k, back.get(k as usize).copied().unwrap_or(0.0));
        let now = m.state();
        if now.silent && !was.silent {
            silent_at.push(k);
        }
        if now.foreign && !was.foreign {
            foreign += 1;
        }
        was = now;
    }
    let heard = m.heard(BASE, BASE + sent.len() as i64) as f64 * FRAME_MS as f64 / 1000.0;
    Verdict {
        heard,
        aired: sent.len() as f64 * FRAME_MS as f64 / 1000.0,
        silent_at,
        foreign,
        cpu: thread_cpu() - cpu,
    }
}

/// The programme through an amplifier: half the level, `delay_ms` late,
/// plus `noise`.
fn line(programme: &[f64], delay_ms: u64, noise: &[f64]) -> Line {
    let shift = (delay_ms * u64::from(RATE) / 1000) as usize;
    let mut back = vec![0.0; shift];
    back.extend(programme.iter().map(|v| 0.5 * v));
    back.truncate(programme.len());
    Line {
        sent: programme.to_vec(),
        back: signals::mix(&back, noise),
    }
}

/// The same minute of programme as 128 kbit/s MP3, made by ffmpeg from
/// the samples the monitor judges (mono, 44.1 kHz), so both see one audio.
fn programme_mp3(dir: &Path, programme: &[f64]) -> PathBuf {
    measure::require("ffmpeg", "ffmpeg");
    let wav = dir.join("programme.wav");
    let mp3 = dir.join("programme.mp3");
    pulse::wav(&wav, programme);
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i"])
        .arg(&wav)
        .args(["-c:a", "libmp3lame", "-b:a", "128k"])
        .arg(&mp3)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ffmpeg could not make {} (libmp3lame?)", mp3.display());
    mp3
}

/// One round of the CPU comparison over the same minute: the monitor's
/// pipeline (this thread), mpg123 playing it through ALSA into the paced
/// null sink (whole process), and `mpg123 -t` decoding it (whole process).
fn cpu_round(minute: &[f64], mp3: &Path, server: &pulse::Pulse) -> (f64, f64, f64) {
    let monitor = judge(&line(minute, 300, &[])).cpu;
    let mut play = Command::new("mpg123");
    play.args(["-q", "-o", "alsa", "-a", "default"]).arg(mp3);
    server.apply(&mut play);
    let (playing, _) = measure::peer(play, None);
    let mut decode = Command::new("mpg123");
    decode.args(["-q", "-t"]).arg(mp3);
    let (decoding, _) = measure::peer(decode, None);
    (monitor, playing.as_secs_f64(), decoding.as_secs_f64())
}

fn main() {
    let seconds = 120.0;
    let programme = signals::speech(seconds, 1);
    let level = signals::rms(&programme) * 0.5; // the line's level
    println!(
        "line monitor, {seconds} s of synthetic speech per case (goal: heard >= 98 % of aired)"
    );
    let cases: [(&str, u64, Vec<f64>); 4] = [
        ("clean line", 0, Vec::new()),
        (
            "pink noise 20 dB below",
            0,
            signals::pink(seconds, level / 10.0, 2),
        ),
        (
            "50 Hz hum at the programme's level",
            0,
            signals::hum(seconds, level),
        ),
        ("300 ms of delay", 300, Vec::new()),
    ];
    for (name, delay, noise) in cases {
        let v = judge(&line(&programme, delay, &noise));
        println!(
            "  {name:<36} heard {:>6.1} s of {:>6.1} s aired: {:>5.1} %",
            v.heard,
            v.aired,
            v.heard / v.aired * 100.0
        );
    }

    // The amplifier switched off 20 s into a minute of programme.
    let minute = signals::speech(60.0, 3);
    let mut cut = line(&minute, 300, &[]);
    cut.back[20 * RATE as usize..]
        .iter_mut()
        .for_each(|v| *v = 0.0);
    let v = judge(&cut);
    match v.silent_at.first() {
        Some(&k) => println!(
            "silence alarm {:.1} s after the cut (goal <= silence_alarm {} s + 1 s; the capture's latency comes on top, see tests/monitor.rs)",
            (k * FRAME_MS) as f64 / 1000.0 - 20.0,
            ALARM.as_secs()
        ),
        None => println!("silence alarm: NOT raised after the cut"),
    }

    // An hour of programme on a clean line, 300 ms late.
    let hour = signals::speech(3600.0, 4);
    let v = judge(&line(&hour, 300, &[]));
    println!(
        "an hour on a clean line: {} silence alarm(s), {} foreign alarm(s) (goal 0); heard {:.1} %",
        v.silent_at.len(),
        v.foreign,
        v.heard / v.aired * 100.0
    );
    let per_minute = v.cpu / 60.0;
    println!(
        "CPU: the monitor {per_minute:.3} s per minute of audio over that hour (both envelopes and the matcher, one thread)"
    );
    cpu_comparison();
}

/// The monitor against mpg123 over the same minute of programme, in the
/// same run, alternating `ROUNDS` times.
fn cpu_comparison() {
    const ROUNDS: usize = 3;
    measure::require("mpg123", "mpg123");
    let minute = signals::speech(60.0, 4);
    let dir = tempfile::tempdir().expect("temporary directory");
    let mp3 = programme_mp3(dir.path(), &minute);
    let server = pulse::Pulse::start("bench");
    let (mut mon, mut play, mut dec) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let (m, p, d) = cpu_round(&minute, &mp3, &server);
        println!(
            "  [{round}] the same 60 s of programme: the monitor {m:.3} s, mpg123 playing (-o alsa, \
             PulseAudio null sink) {p:.3} s, mpg123 -t {d:.3} s"
        );
        mon.push(m);
        play.push(p);
        dec.push(d);
    }
    drop(server);
    let (mon, play, dec) = (
        measure::Spread(mon),
        measure::Spread(play),
        measure::Spread(dec),
    );
    let m = mon.best();
    println!(
        "CPU per minute of audio: the monitor {m:.3} s (best of {ROUNDS}, {}), mpg123 playing the same programme through ALSA into a paced \
         PulseAudio null sink {:.3} s (best of {ROUNDS}, {}): {:.2}x (goal <= 0.3x{})",
        mon.secs(),
        play.best(),
        play.secs(),
        m / play.best(),
        if m / play.best() <= 0.3 { ", met" } else { ", NOT met" },
    );
    println!(
        "  stricter, second comparison: mpg123 -t (decode only, no output) {:.3} s (best of \
         {ROUNDS}, {}): {:.2}x",
        dec.best(),
        dec.secs(),
        m / dec.best(),
    );
}
