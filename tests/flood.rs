//! A flood of idle connections must not take the station off air.
//!
//! The attack as it was found: 1,500 connections that each send a request
//! line and then one header line every 5 s, against a daemon held to the
//! common limit of 1,024 open files. Before the listener had limits, the
//! accept loop ran out of descriptors, `/healthz` timed out and the next
//! bulletin was recorded `failed` ("Too many open files"). Now a scheduled
//! bulletin airs to completion during the attack, `/healthz` answers from
//! another address throughout, and the server closes every attacking
//! connection (at once past its caps, or at the header timeout). Bounded:
//! about 30 s.

use crate::common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{request, Daemon};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONNECTIONS: usize = 1500;
const TRICKLE: Duration = Duration::from_secs(5);
const ATTACK: Duration = Duration::from_secs(25);

/// One attacking connection: a request line, then a header line every
/// `TRICKLE`, never the end of the head. Returns whether the server closed
/// it within the attack.
async fn trickle(to: SocketAddr, from: IpAddr, end: tokio::time::Instant) -> Option<bool> {
    let sock = tokio::net::TcpSocket::new_v4().ok()?;
    sock.bind(SocketAddr::new(from, 0)).ok()?;
    let mut s = sock.connect(to).await.ok()?;
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .is_err()
    {
        return Some(true);
    }
    let mut buf = [0u8; 256];
    loop {
        let wait = tokio::time::sleep_until((tokio::time::Instant::now() + TRICKLE).min(end));
        tokio::select! {
            r = s.read(&mut buf) => match r {
                // Closed (or answered with an error and then closed).
                Ok(0) | Err(_) => return Some(true),
                Ok(_) => continue,
            },
            _ = wait => {
                if tokio::time::Instant::now() >= end {
                    return Some(false);
                }
                if s.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    return Some(true);
                }
            }
        }
    }
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn idle_connections_do_not_stop_the_audio_or_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    std::fs::create_dir(&audio).unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        repo.join("audio/jingles/nhac-hieu.mp3"),
        audio.join("a.mp3"),
    )
    .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    let (viewer, viewer_sha) = common::new_token("xem", "viewer");
    let config = dir.path().join("station.toml");
    let station = |at: DateTime<Utc>| {
        format!(
            "[station]\nname = \"Lũ kết nối\"\ntimezone = \"UTC\"\naudio_dir = \"audio\"\ndata_dir = \"var\"\n\
             [output]\nkind = \"wav\"\npath = \"var/aired.wav\"\n[api]\nlisten = \"{addr}\"\n\
             [[api.token]]\nname = \"xem\"\nrole = \"viewer\"\nsha256 = \"{viewer_sha}\"\n\
             [[bulletin]]\nid = \"a\"\ntitle = \"Nhạc hiệu\"\nfile = \"a.mp3\"\nat = [\"{}\"]\n",
            common::hms(at)
        )
    };
    // An hour ahead until the daemon is up.
    std::fs::write(&config, station(Utc::now() + chrono::Duration::hours(1))).unwrap();
    let daemon = Daemon::start_with(&config, addr, |cmd| {
        // SAFETY: setrlimit in the child between fork and exec; it
        // allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: 1024,
                    rlim_max: 1024,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    let pid = daemon.child.id();
    let rss_before = rss_kb(pid);
    // Due while the attack is at its height (the connections are open by
    // then): put 10 s ahead now that the daemon is up.
    let at = common::whole_second_in(10);
    std::fs::write(&config, station(at)).unwrap();
    daemon.hup_until_next_at(at);

    // The attack, from another loopback address, on its own threads.
    let attacker = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let attack = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let end = tokio::time::Instant::now() + ATTACK;
            let tasks: Vec<_> = (0..CONNECTIONS)
                .map(|_| tokio::spawn(trickle(addr, attacker, end)))
                .collect();
            let mut closed = 0;
            let mut open = 0;
            let mut failed = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Some(true) => closed += 1,
                    Some(false) => open += 1,
                    None => failed += 1,
                }
            }
            (closed, open, failed)
        })
    });

    // Meanwhile the station answers: /healthz from 127.0.0.1 every second.
    let start = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut peak_rss = rss_before;
    while start.elapsed() < ATTACK {
        let t = Instant::now();
        // Answered at all (the client's own timeouts: 5 s to connect, 30 s
        // to read), not within a figure: an unprotected listener made this
        // fail. How long it took is printed below (`slowest`); the API's
        // latency under load is timed by `make bench` (benches/api.rs).
        let r = request(addr, "GET", "/healthz", None, None);
        slowest = slowest.max(t.elapsed());
        assert!(
            r.as_ref().is_ok_and(|r| r.status == 200),
            "/healthz failed during the attack after {:?}: {r:?}\n{}",
            start.elapsed(),
            daemon.log_text()
        );
        peak_rss = peak_rss.max(rss_kb(pid));
        std::thread::sleep(Duration::from_secs(1));
    }
    let (closed, open, failed) = attack.join().unwrap();
    println!(
        "{CONNECTIONS} trickling connections: {closed} closed by the server, {open} still open \
         after {ATTACK:?}, {failed} could not connect; slowest /healthz {slowest:?}; RSS {} → {} kB",
        rss_before, peak_rss
    );
    assert_eq!(open, 0, "connections the server never closed");

    // The bulletin aired in full during the attack.
    let rows = loop {
        let r = request(addr, "GET", "/api/v1/airtime", Some(&viewer), None).unwrap();
        let v: serde_json::Value = r.json();
        let done = v
            .as_array()
            .is_some_and(|a| a.iter().any(|r| !r["outcome"].is_null()));
        if done || start.elapsed() > ATTACK + Duration::from_secs(60) {
            break v;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let row = rows
        .as_array()
        .and_then(|a| a.first())
        .unwrap_or_else(|| panic!("no airtime row: {rows:#}\n{}", daemon.log_text()));
    assert_eq!(
        row["outcome"],
        "completed",
        "{rows:#}\n{}",
        daemon.log_text()
    );
    assert!(
        peak_rss < rss_before + 64 * 1024,
        "memory grew from {rss_before} kB to {peak_rss} kB under the attack"
    );
}
