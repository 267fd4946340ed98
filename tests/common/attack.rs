//! An attacker on the station's LAN, from many loopback addresses
//! (127.0.0.x: each client socket is bound to its source address before it
//! connects): sign-in storms and slow request bodies. Shared by
//! tests/attack_http.rs and benches/attack.rs (as `#[path =
//! "common/attack.rs"]`, beside `mod common`). Everything is bounded in
//! count and time.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{free_port, Daemon};

/// The operator the storms sign in as, and their password.
pub const USER: &str = "van-hanh";
pub const PASSWORD: &str = "mat-khau-dai-1";

/// `127.0.0.n`.
pub fn lo(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// A station with one operator ([`USER`]), its daemon started: the
/// temporary directory (kept while the daemon runs) and the daemon.
pub fn station() -> (tempfile::TempDir, Daemon) {
    let dir = tempfile::tempdir().unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = dir.path().join("station.toml");
    std::fs::write(
        &config,
        format!(
            "[station]\nname = \"Xã Thử\"\ndata_dir = \"var\"\n[output]\nkind = \"null\"\n\
             [api]\nlisten = \"{addr}\"\n"
        ),
    )
    .unwrap();
    add_user(&config, USER, PASSWORD);
    let daemon = Daemon::start(&config, addr);
    (dir, daemon)
}

/// `loa user add NAME --role operator --password-stdin`.
pub fn add_user(config: &Path, name: &str, password: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(super::bin::loa())
        .args([
            "user",
            "add",
            name,
            "--role",
            "operator",
            "--password-stdin",
        ])
        .arg("--config")
        .arg(config)
        .env_remove("LOA_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run loa user add");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The resident memory of a process, in kB.
pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A TCP connection to `to` from `from`.
pub async fn connect(from: IpAddr, to: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(from, 0))?;
    tokio::time::timeout(Duration::from_secs(10), sock.connect(to))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
}

/// One request (`Connection: close` is the caller's) from `from`: the
/// status and the whole answer, head included. 30 s at most.
pub async fn exchange(
    from: IpAddr,
    to: SocketAddr,
    request: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = connect(from, to).await?;
    s.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut raw))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "answer timed out"))??;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no status"))?;
    Ok((status, text))
}

/// The value (`name=value`) of cookie `name` an answer sets.
pub fn set_cookie(answer: &str, name: &str) -> Option<String> {
    answer
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        })
        .map(|(_, v)| v.trim().split(';').next().unwrap_or(""))
        .find(|c| c.starts_with(&format!("{name}=")) && c.len() > name.len() + 1)
        .map(str::to_string)
}

/// A header's value in an answer.
pub fn header(answer: &str, name: &str) -> Option<String> {
    answer
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
}

/// Sign in from `from` as a browser does: the form (its CSRF token and
/// pre-session cookie), then the post. The post's status and answer.
pub async fn sign_in(
    from: IpAddr,
    to: SocketAddr,
    name: &str,
    password: &str,
) -> std::io::Result<(u16, String)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let (code, page) = exchange(
        from,
        to,
        &format!("GET /dang-nhap HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\n\r\n"),
    )
    .await?;
    if code != 200 {
        return Err(bad(&format!("the sign-in form answered {code}")));
    }
    let cookie = set_cookie(&page, "loa_bieu_mau").ok_or_else(|| bad("no form cookie"))?;
    let token = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .ok_or_else(|| bad("no CSRF token"))?;
    let form = format!("name={name}&password={password}&csrf={token}&next=/");
    exchange(
        from,
        to,
        &format!(
            "POST /dang-nhap HTTP/1.1\r\nHost: {to}\r\nCookie: {cookie}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    )
    .await
}

/// What a sign-in storm came to.
#[derive(Debug, Default)]
pub struct Storm {
    /// (status, how many), by status.
    pub statuses: std::collections::BTreeMap<u16, usize>,
    /// Requests that got no answer (with the first error).
    pub failed: usize,
    pub first_error: Option<String>,
    pub peak_rss_kb: u64,
    pub elapsed: Duration,
}

/// `addresses × per_address` sign-ins on `workers` concurrent clients:
/// from each address (127.0.0.`first`…), the first a right password for
/// [`USER`], the others wrong ones under names never used before. RSS of
/// `pid` sampled throughout.
pub fn sign_in_storm(
    to: SocketAddr,
    pid: u32,
    first: u8,
    addresses: u8,
    per_address: usize,
    workers: usize,
) -> Storm {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    let mut storm = rt.block_on(async move {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = {
            let done = done.clone();
            tokio::spawn(async move {
                let mut peak = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    peak = peak.max(rss_kb(pid));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                peak.max(rss_kb(pid))
            })
        };
        let tasks: Vec<_> = (0..workers)
            .map(|w| {
                tokio::spawn(async move {
                    let mut results = Vec::new();
                    for a in (0..addresses).filter(|a| usize::from(*a) % workers == w) {
                        let from = lo(first + a);
                        for i in 0..per_address {
                            let r = if i == 0 {
                                sign_in(from, to, USER, PASSWORD).await
                            } else {
                                let name = format!("khach-{a}-{i}");
                                sign_in(from, to, &name, "doan-bua-thoi").await
                            };
                            results.push(r.map(|(code, _)| code).map_err(|e| e.to_string()));
                        }
                    }
                    results
                })
            })
            .collect();
        let mut storm = Storm::default();
        for t in tasks {
            for r in t.await.unwrap() {
                match r {
                    Ok(code) => *storm.statuses.entry(code).or_default() += 1,
                    Err(e) => {
                        storm.failed += 1;
                        storm.first_error.get_or_insert(e);
                    }
                }
            }
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        storm.peak_rss_kb = sampler.await.unwrap();
        storm
    });
    storm.elapsed = start.elapsed();
    storm
}

/// The request head of every slow body: a sign-in form that promises
/// 100,000 bytes.
pub const SLOW_HEAD: &str = "POST /dang-nhap HTTP/1.1\r\nHost: loa\r\n\
    Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n";

/// One slow body from `from`: the head at once, then one byte every 5 s,
/// for at most `hold`. How long after it was opened the server closed it
/// (`None`: still open after `hold`; an error to connect counts as closed
/// at once).
pub async fn slow_body(from: IpAddr, to: SocketAddr, hold: Duration) -> Option<Duration> {
    let opened = tokio::time::Instant::now();
    let end = opened + hold;
    let Ok(mut s) = connect(from, to).await else {
        return Some(opened.elapsed());
    };
    if s.write_all(SLOW_HEAD.as_bytes()).await.is_err() {
        return Some(opened.elapsed());
    }
    let mut buf = [0u8; 4096];
    loop {
        let next = (tokio::time::Instant::now() + Duration::from_secs(5)).min(end);
        tokio::select! {
            r = s.read(&mut buf) => match r {
                // Closed, or answered (a refusal) and then closed.
                Ok(0) | Err(_) => return Some(opened.elapsed()),
                Ok(_) => continue,
            },
            _ = tokio::time::sleep_until(next) => {
                if tokio::time::Instant::now() >= end {
                    return None;
                }
                if s.write_all(b"a").await.is_err() {
                    return Some(opened.elapsed());
                }
            }
        }
    }
}

/// What a slow-body attack came to.
#[derive(Debug)]
pub struct SlowAttack {
    /// When the server closed each connection after opening it (`None`:
    /// still open at the end).
    pub closed_after: Vec<Option<Duration>>,
    /// The longest time without a successful `/healthz` from 127.0.0.1
    /// while the attack ran.
    pub longest_gap: Duration,
    pub healthz_ok: usize,
    pub healthz_failed: usize,
}

/// `count` slow bodies from 127.0.0.`first`… (`per_address` each), held
/// at most `hold`; meanwhile `/healthz` is asked from 127.0.0.1 every
/// 200 ms (each at most 5 s).
pub fn slow_body_attack(
    to: SocketAddr,
    count: usize,
    first: u8,
    per_address: usize,
    hold: Duration,
) -> SlowAttack {
    let attack = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let tasks: Vec<_> = (0..count)
                .map(|i| {
                    let from = lo(first + (i / per_address) as u8);
                    tokio::spawn(slow_body(from, to, hold))
                })
                .collect();
            let mut closed = Vec::new();
            for t in tasks {
                closed.push(t.await.unwrap());
            }
            closed
        })
    });
    let start = Instant::now();
    let mut last_ok = start;
    let mut longest_gap = Duration::ZERO;
    let (mut ok, mut failed) = (0, 0);
    while !attack.is_finished() && start.elapsed() < hold + Duration::from_secs(10) {
        let answered = healthz(to);
        if answered {
            ok += 1;
            last_ok = Instant::now();
        } else {
            failed += 1;
        }
        longest_gap = longest_gap.max(last_ok.elapsed());
        std::thread::sleep(Duration::from_millis(200));
    }
    SlowAttack {
        closed_after: attack.join().unwrap(),
        longest_gap: longest_gap.max(last_ok.elapsed()),
        healthz_ok: ok,
        healthz_failed: failed,
    }
}

/// Whether `GET /healthz` from 127.0.0.1 answers 200 within 5 s.
fn healthz(to: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(5)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: loa\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    answer.starts_with(b"HTTP/1.1 200")
}
