//! The control API under load while a bulletin airs.
//!
//! Starts `loa run` (the binary) on a temporary station recording to a WAV
//! file in real time, queues a 28 s bulletin, and while it airs sends
//! `GET /api/v1/status` at 2,000 requests/s for 10 s from a paced,
//! open-loop client (4 keep-alive connections; each request's latency is
//! counted from when it was due, so a stall is not hidden by the client
//! waiting). Prints p50/p99/max latency (goal: p99 < 5 ms) and whether the
//! aired WAV has a gap (its duration against the source's). Prints, never
//! asserts. Run with `cargo bench --bench api`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

const RATE: u64 = 2000;
const SECONDS: u64 = 10;
const CONNECTIONS: u64 = 4;

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

/// Seconds of audio in a PCM WAV file (from its fmt and data chunks).
fn wav_seconds(path: &Path) -> Option<f64> {
    let b = std::fs::read(path).ok()?;
    let mut i = 12;
    let (mut rate, mut block) = (0u32, 0u16);
    while i + 8 <= b.len() {
        let id = &b[i..i + 4];
        let size = u32::from_le_bytes(b[i + 4..i + 8].try_into().ok()?) as usize;
        if id == b"fmt " {
            rate = u32::from_le_bytes(b[i + 12..i + 16].try_into().ok()?);
            block = u16::from_le_bytes(b[i + 20..i + 22].try_into().ok()?);
        } else if id == b"data" {
            let data = size.min(b.len() - i - 8);
            return Some(data as f64 / (rate as f64 * block as f64));
        }
        i += 8 + size;
    }
    None
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    std::fs::create_dir(&audio).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio/cds/binh-dan-hoc-vu-so.mp3");
    std::fs::copy(&src, audio.join("long.mp3")).unwrap();
    let source_seconds = loa::probe::probe(&src).unwrap().seconds;
    let (token, sha) = common::new_token("bench", "operator");
    let addr = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    let config = dir.path().join("station.toml");
    std::fs::write(
        &config,
        format!(
            "[station]\nname = \"Bench\"\naudio_dir = \"audio\"\ndata_dir = \"var\"\n\
             [output]\nkind = \"wav\"\npath = \"var/aired.wav\"\npace = \"realtime\"\n\
             [api]\nlisten = \"{addr}\"\n\
             [[api.token]]\nname = \"bench\"\nrole = \"operator\"\nsha256 = \"{sha}\"\n\
             [[bulletin]]\nid = \"long\"\ntitle = \"Bình dân học vụ số\"\nfile = \"long.mp3\"\n"
        ),
    )
    .unwrap();
    let daemon = common::Daemon::start(&config, addr);
    let body = r#"{"bulletin":"long"}"#;
    let q = common::request(
        addr,
        "POST",
        "/api/v1/queue",
        Some(&token),
        Some(("application/json", body.as_bytes())),
    )
    .unwrap();
    assert_eq!(q.status, 202, "{q:?}");
    std::thread::sleep(Duration::from_millis(500));

    println!(
        "GET /api/v1/status at {RATE}/s for {SECONDS} s over {CONNECTIONS} keep-alive connections, while a {source_seconds:.1} s bulletin airs"
    );
    let start = Instant::now() + Duration::from_millis(100);
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

    // Let the bulletin finish, then compare what aired with the source.
    let deadline = Instant::now() + Duration::from_secs_f64(source_seconds + 30.0);
    loop {
        let s = common::request(addr, "GET", "/api/v1/status", Some(&token), None)
            .map(|r| r.json())
            .unwrap_or_default();
        if s["airing"].is_null() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(daemon);
    match wav_seconds(&dir.path().join("var/aired.wav")) {
        Some(w) => println!(
            "  aired WAV {w:.3} s for a {source_seconds:.3} s source: {}",
            if (w - source_seconds).abs() < 0.05 {
                "no gap".to_string()
            } else {
                format!("differs by {:+.3} s (gap or cut)", w - source_seconds)
            }
        ),
        None => println!("  no aired WAV found"),
    }
}
