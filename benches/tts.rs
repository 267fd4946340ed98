//! A typed emergency notice, from the request to the loudspeaker (goal:
//! under 5 s), heard from outside.
//!
//! Starts `loa run` (the binary) on a temporary station whose output is a
//! paced device (PulseAudio's null sink behind ALSA's pulse plugin, a
//! private server started here, as in the api bench), then sends
//! `POST /api/v1/emergency {"text": ...}` with notices never read before
//! (so each one is read aloud by espeak-ng during the request) and, last,
//! one already in the cache. For each it prints: how long the request took
//! (the render is inside it), and from the request being sent to the first
//! sample of speech in a capture of the null sink's monitor. Prints, never
//! asserts. `cargo bench --bench tts`; needs espeak-ng, pulseaudio,
//! libasound2-plugins and alsa-utils (`make bench` installs them; a missing
//! one is a failure).

#[path = "../tests/common/mod.rs"]
mod common;
use common::pulse;

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

/// Speech is loud well above this (of 16-bit full scale); the idle null
/// sink is digital silence.
const THRESHOLD: i16 = 1000;

const NOTICES: [&str; 3] = [
    "Khẩn cấp: bão số 3 đổ bộ lúc 17:30 ngày 10/10. Bà con chằng chống nhà cửa, đưa tàu thuyền vào nơi tránh trú.",
    "Khẩn cấp: nước sông dâng cao 2,5 mét. Các hộ ven sông di chuyển đến nhà văn hoá trước 19:00.",
    "Khẩn cấp: cháy rừng tại khu vực đồi 105. Bà con không vào rừng cho đến khi có thông báo mới.",
];

fn ms_after(a: SystemTime, b: SystemTime) -> f64 {
    match a.duration_since(b) {
        Ok(d) => d.as_secs_f64() * 1e3,
        Err(e) => -e.duration().as_secs_f64() * 1e3,
    }
}

fn main() {
    pulse::require("espeak-ng", "espeak-ng", "bench");
    let server = pulse::Pulse::start("bench");
    let capture = server.capture("bench");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("audio")).unwrap();
    let (token, sha) = common::new_token("bench", "operator");
    let addr = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    let config = dir.path().join("station.toml");
    std::fs::write(
        &config,
        format!(
            "[station]\nname = \"Bench\"\ntimezone = \"UTC\"\naudio_dir = \"audio\"\ndata_dir = \"var\"\n\
             [output]\nkind = \"device\"\ndevice = \"default\"\n\
             [api]\nlisten = \"{addr}\"\n\
             [[api.token]]\nname = \"bench\"\nrole = \"operator\"\nsha256 = \"{sha}\"\n"
        ),
    )
    .unwrap();
    let daemon = common::Daemon::start_with(&config, addr, |cmd| {
        server.apply(cmd).env("LOA_LOG", "warn");
    });
    let log = daemon.log.clone();
    capture.wait_flowing(Duration::from_secs(10));
    let idle = || {
        common::request(addr, "GET", "/api/v1/status", Some(&token), None)
            .map(|r| r.json()["airing"].is_null() && r.json()["queue_length"] == 0)
            .unwrap_or(false)
    };

    // Each round: (label, when the request was sent, how long it took).
    let mut rounds = Vec::new();
    let texts = NOTICES
        .iter()
        .map(|t| ("new", *t))
        .chain([("cached", NOTICES[0])]);
    for (label, text) in texts {
        let give_up = Instant::now() + Duration::from_secs(60);
        while !idle() {
            assert!(Instant::now() < give_up, "the station never became idle");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The device closes when idle: let it, so each round opens it.
        std::thread::sleep(Duration::from_secs(2));
        let body = serde_json::json!({ "text": text }).to_string();
        let sent = SystemTime::now();
        let t = Instant::now();
        let r = common::request(
            addr,
            "POST",
            "/api/v1/emergency",
            Some(&token),
            Some(("application/json", body.as_bytes())),
        )
        .unwrap();
        let took = t.elapsed();
        assert_eq!(
            r.status,
            202,
            "{r:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        rounds.push((label, sent, took));
        std::thread::sleep(Duration::from_secs(1));
    }
    let give_up = Instant::now() + Duration::from_secs(60);
    while !idle() {
        assert!(Instant::now() < give_up, "the last notice never ended");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let rec = capture.stop();
    drop(daemon);

    println!("typed emergency notice (espeak-ng, vi), request → first sample out of a paced output; goal < 5 s");
    for (label, sent, took) in rounds {
        // The first loud frame captured after the request was sent.
        let from =
            (ms_after(sent, rec.first_frame_at).max(0.0) / 1e3 * f64::from(pulse::RATE)) as u64;
        let first = (from..rec.frames()).find(|&f| {
            let i = f as usize * pulse::CHANNELS as usize;
            rec.samples[i..i + pulse::CHANNELS as usize]
                .iter()
                .any(|s| s.unsigned_abs() >= THRESHOLD.unsigned_abs())
        });
        match first {
            Some(f) => println!(
                "  {label:6}  request answered in {:5.0} ms (read aloud inside it), first sample {:5.0} ms after the request",
                took.as_secs_f64() * 1e3,
                ms_after(rec.time_of(f), sent)
            ),
            None => println!("  {label:6}  request answered in {:.0} ms, NOTHING heard", took.as_secs_f64() * 1e3),
        }
    }
    println!(
        "  (capture timing jitter, median {:.1} ms)",
        rec.median_jitter().as_secs_f64() * 1e3
    );
}
