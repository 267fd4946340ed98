//! The control API under load while a bulletin airs, and what that does to
//! the sound, heard from outside.
//!
//! Starts `loa run` (the binary) on a temporary station whose output is a
//! paced device: PulseAudio's null sink behind ALSA's pulse plugin (a
//! private server started here), which takes samples at a sound card's
//! pace and inserts silence when loa is late, as a card would. loa airs a
//! continuous tone (a square wave, never near zero; scheduled, so the
//! device is open and playing silence before it) while
//! `GET /api/v1/status` is sent at 2,000 requests/s for 10 s from a paced,
//! open-loop client (4 keep-alive connections; each request's latency is
//! counted from when it was due, so a stall is not hidden by the client
//! waiting). Prints p50/p99/max latency (goal: p99 < 5 ms), and from a
//! capture of the null sink's monitor: the longest dropout inside the tone
//! (goal: none) and how much longer the tone took than its length (the sum
//! of the delays). Prints, never asserts. `cargo bench --bench api`; needs
//! pulseaudio, libasound2-plugins and alsa-utils (`make bench` installs
//! them; a missing one is a failure).

#[path = "../tests/common/mod.rs"]
mod common;
use common::pulse;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use chrono::{Timelike, Utc};

const RATE: u64 = 2000;
const SECONDS: u64 = 10;
const CONNECTIONS: u64 = 4;
/// The tone: the load's 10 s, with room before and after.
const TONE_SECONDS: f64 = 16.0;
const AMPLITUDE: f64 = 0.5;
/// Below this (of 16-bit full scale) a captured frame is silence: the
/// square wave sits at ±16,383 and crosses zero within one sample.
const THRESHOLD: i16 = 4000;

/// Milliseconds from `b` to `a` (negative when `a` is earlier).
fn ms_after(a: SystemTime, b: SystemTime) -> f64 {
    match a.duration_since(b) {
        Ok(d) => d.as_secs_f64() * 1e3,
        Err(e) => -e.duration().as_secs_f64() * 1e3,
    }
}

/// One keep-alive GET; returns when the whole body is read.
fn get(conn: &mut BufReader<TcpStream>, path: &str, token: &str) -> std::io::Result<u16> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: loa\r\nAuthorization: Bearer {token}\r\n\r\n");
    conn.get_mut().write_all(req.as_bytes())?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut len = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body)?;
    Ok(status)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let server = pulse::Pulse::start("bench");
    let capture = server.capture("bench");
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    std::fs::create_dir(&audio).unwrap();
    pulse::square_wav(&audio.join("tone.wav"), TONE_SECONDS, AMPLITUDE);
    let (token, sha) = common::new_token("bench", "operator");
    let addr = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    // The tone is scheduled, not queued: loa then opens the device 3 s
    // ahead and plays silence until the instant, so the tone starts in a
    // running stream. (A stream that starts with the tone makes PulseAudio
    // rewind the sink, and its monitor then misses the first milliseconds,
    // for aplay as for loa: a fault of the capture, not of the player.)
    let mut now = Utc::now();
    if now.num_seconds_from_midnight() > 86_400 - 60 {
        std::thread::sleep(Duration::from_secs(
            u64::from(86_400 - now.num_seconds_from_midnight()) + 1,
        ));
        now = Utc::now();
    }
    let at = now.with_nanosecond(0).unwrap() + chrono::Duration::seconds(6);
    let config = dir.path().join("station.toml");
    std::fs::write(
        &config,
        format!(
            "[station]\nname = \"Bench\"\ntimezone = \"UTC\"\naudio_dir = \"audio\"\ndata_dir = \"var\"\n\
             [output]\nkind = \"device\"\ndevice = \"default\"\nloudness = false\n\
             [api]\nlisten = \"{addr}\"\n\
             [[api.token]]\nname = \"bench\"\nrole = \"operator\"\nsha256 = \"{sha}\"\n\
             [[bulletin]]\nid = \"tone\"\ntitle = \"Tone\"\nfile = \"tone.wav\"\nat = [\"{}\"]\n",
            at.format("%H:%M:%S")
        ),
    )
    .unwrap();
    let log = dir.path().join("loa.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loa"));
    cmd.args(["run", "--config"])
        .arg(&config)
        .env("LOA_LOG", "warn")
        .env_remove("LOA_CONFIG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    server.apply(&mut cmd);
    let daemon = pulse::Stopped(cmd.spawn().expect("start loa run"));
    let up = (0..300).any(|_| {
        let ok =
            common::request(addr, "GET", "/healthz", None, None).is_ok_and(|r| r.status == 200);
        if !ok {
            std::thread::sleep(Duration::from_millis(50));
        }
        ok
    });
    assert!(
        up,
        "loa did not answer on {addr}:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    capture.wait_flowing(Duration::from_secs(10));
    let airing = || {
        common::request(addr, "GET", "/api/v1/status", Some(&token), None)
            .map(|r| !r.json()["airing"].is_null())
            .unwrap_or(false)
    };
    let give_up = Instant::now() + Duration::from_secs(15);
    while !airing() {
        assert!(
            Instant::now() < give_up,
            "the tone due at {at} did not start:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1500));

    println!(
        "GET /api/v1/status at {RATE}/s for {SECONDS} s over {CONNECTIONS} keep-alive connections, while a {TONE_SECONDS:.0} s tone airs through a paced output"
    );
    let start = Instant::now() + Duration::from_millis(100);
    let load_from = SystemTime::now() + Duration::from_millis(100);
    let per_conn = RATE * SECONDS / CONNECTIONS;
    let interval = Duration::from_nanos(1_000_000_000 * CONNECTIONS / RATE);
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|w| {
            let token = token.clone();
            std::thread::spawn(move || {
                let mut conn = BufReader::new(TcpStream::connect(addr).unwrap());
                conn.get_mut().set_nodelay(true).unwrap();
                let offset = interval * w as u32 / CONNECTIONS as u32;
                let mut lat = Vec::with_capacity(per_conn as usize);
                let mut errors = 0u64;
                for n in 0..per_conn {
                    let due = start + offset + interval * n as u32;
                    if let Some(d) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(d);
                    }
                    match get(&mut conn, "/api/v1/status", &token) {
                        Ok(200) => lat.push(Instant::now() - due),
                        _ => errors += 1,
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.join().unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let load_to = SystemTime::now();
    all.sort();
    println!(
        "  {} ok, {errors} errors, {:.0} req/s achieved",
        all.len(),
        all.len() as f64 / elapsed
    );
    if !all.is_empty() {
        println!(
            "  latency p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms   (goal p99 < 5 ms)",
            percentile(&all, 0.50).as_secs_f64() * 1e3,
            percentile(&all, 0.99).as_secs_f64() * 1e3,
            percentile(&all, 0.999).as_secs_f64() * 1e3,
            all.last().unwrap().as_secs_f64() * 1e3,
        );
    }

    // Let the tone finish, then look at what came out of the sink.
    let deadline = Instant::now() + Duration::from_secs_f64(TONE_SECONDS + 30.0);
    while airing() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    let rec = capture.stop();
    let row = common::request(addr, "GET", "/api/v1/airtime", Some(&token), None)
        .map(|r| r.json())
        .unwrap_or_default();
    let row = &row[0];
    daemon.stop();
    let loa_log = std::fs::read_to_string(&log).unwrap_or_default();
    let (Some(first), Some(last)) = (rec.first_loud(THRESHOLD), rec.last_loud(THRESHOLD)) else {
        panic!(
            "the tone is not in {:.1} s of capture\nloa log:\n{loa_log}",
            rec.seconds()
        );
    };
    let rate = f64::from(pulse::RATE);
    let heard = (last - first + 1) as f64 / rate;
    let runs = rec.quiet_runs(first, last, THRESHOLD);
    let over_1ms = runs.iter().filter(|r| r.1 as f64 / rate > 0.001).count();
    let longest = match runs.first() {
        Some(&(at, len)) => {
            let t = rec.time_of(at);
            let during = t >= load_from && t <= load_to;
            format!(
                "{:.1} ms, {:.2} s into the tone ({} the load)",
                len as f64 / rate * 1e3,
                (at - first) as f64 / rate,
                if during { "during" } else { "outside" }
            )
        }
        None => "none".to_string(),
    };
    // Late samples make the tone longer; a tone shorter than its file was
    // cut (the ledger says why).
    let stretch = if heard < TONE_SECONDS - 0.005 {
        format!("CUT SHORT by {:.1} ms", (TONE_SECONDS - heard) * 1e3)
    } else {
        format!("{:+.1} ms of delay in all", (heard - TONE_SECONDS) * 1e3)
    };
    println!(
        "  heard from the paced output: the {TONE_SECONDS:.0} s tone took {heard:.3} s ({stretch}); \
         longest dropout inside it {longest}; {over_1ms} dropout(s) over 1 ms (goal: none); \
         load ran {:.1} s to {:.1} s into the tone; ledger: {} {}",
        ms_after(load_from, rec.time_of(first)) / 1e3,
        ms_after(load_to, rec.time_of(first)) / 1e3,
        row["outcome"].as_str().unwrap_or("no row"),
        row["reason"].as_str().unwrap_or(""),
    );
    drop(server);
}
