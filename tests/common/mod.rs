//! A tiny HTTP/1.1 client over `std::net::TcpStream` for tests and the
//! API benchmark: one request per connection (`Connection: close`), the
//! answer read to the end. Enough for JSON, CSV and multipart; not a
//! general client, and no dependency.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.text())
    }
}

/// Send one request; `Err` when the server cannot be reached.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, &[u8])>,
) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let (ctype, bytes) = body.unwrap_or(("", b""));
    if !ctype.is_empty() {
        head.push_str(&format!("Content-Type: {ctype}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", bytes.len()));
    s.write_all(head.as_bytes())?;
    s.write_all(bytes)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse(&raw)
}

fn parse(raw: &[u8]) -> std::io::Result<Reply> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad HTTP response");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(bad)?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[..nl])
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim(),
                16,
            )
            .map_err(|_| bad())?;
            rest = &rest[nl + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(rest.get(..size).ok_or_else(bad)?);
            rest = rest.get(size + 2..).ok_or_else(bad)?;
        }
        body = out;
    }
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// A multipart/form-data body with one file part named `file`.
pub fn multipart(file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "loa-boundary-5b2e9c";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A port that was free a moment ago on 127.0.0.1, and never handed to
/// another test of this process (the kernel may give a just-released port
/// again, and tests run in parallel).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// `loa token new NAME ROLE` through the binary: (token, sha256 hex).
pub fn new_token(name: &str, role: &str) -> (String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loa"))
        .args(["token", "new", name, role])
        .output()
        .expect("run loa token new");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let token = text
        .split_whitespace()
        .find(|w| w.starts_with("loa_"))
        .expect("a token")
        .to_string();
    let sha = text
        .lines()
        .find_map(|l| l.strip_prefix("sha256 = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("a sha256 line")
        .to_string();
    (token, sha)
}

/// The station file of a test station driven through its API: audio in
/// `audio/`, data in `var/`, airing to `var/aired.wav` in real time, the
/// API on `addr` with `tokens` (name, role, sha256 as `new_token` gives),
/// then `rest` (bulletins, campaigns).
pub fn api_station_toml(addr: SocketAddr, tokens: &[(&str, &str, &str)], rest: &str) -> String {
    let mut text = format!(
        r#"
[station]
name = "Xã Thử"
audio_dir = "audio"
data_dir = "var"
[output]
kind = "wav"
path = "var/aired.wav"
pace = "realtime"
[api]
listen = "{addr}"
"#
    );
    for (name, role, sha) in tokens {
        text.push_str(&format!(
            "[[api.token]]\nname = \"{name}\"\nrole = \"{role}\"\nsha256 = \"{sha}\"\n"
        ));
    }
    text.push_str(rest);
    text
}

/// A daemon child killed when dropped, so a failing test leaves none.
pub struct Daemon {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    pub log: std::path::PathBuf,
}

impl Daemon {
    /// `loa run --config PATH`, waiting (generously) until `/healthz` answers.
    pub fn start(config: &std::path::Path, addr: SocketAddr) -> Daemon {
        Daemon::start_with(config, addr, |_| {})
    }

    /// As [`Daemon::start`], with the command adjusted first (environment,
    /// limits).
    pub fn start_with(
        config: &std::path::Path,
        addr: SocketAddr,
        adjust: impl FnOnce(&mut std::process::Command),
    ) -> Daemon {
        let log = config.with_file_name("daemon.log");
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_loa"));
        cmd.args(["run", "--config", config.to_str().unwrap()])
            .env_remove("LOA_CONFIG")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        adjust(&mut cmd);
        let child = cmd.spawn().expect("start loa run");
        let d = Daemon { child, addr, log };
        for _ in 0..300 {
            if request(addr, "GET", "/healthz", None, None).is_ok_and(|r| r.status == 200) {
                return d;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the daemon did not answer on {addr}: {}", d.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM first, so the daemon closes the WAV and the ledger.
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        for _ in 0..60 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The airtime ledger's rows at `db` (none before the daemon has made it).
pub fn ledger_rows(db: &std::path::Path) -> Vec<loa::ledger::AirtimeRow> {
    if !db.exists() {
        return Vec::new();
    }
    loa::ledger::Ledger::open_read_only(db, chrono_tz::UTC)
        .and_then(|l| l.rows(&loa::ledger::Filter::default()))
        .unwrap_or_default()
}

/// Poll the ledger at `db` until `done(rows)` holds: its rows; after
/// `timeout`, fail naming `what`, with the rows and `log()`.
pub fn wait_for_rows(
    db: &std::path::Path,
    what: &str,
    timeout: Duration,
    done: impl Fn(&[loa::ledger::AirtimeRow]) -> bool,
    log: impl Fn() -> String,
) -> Vec<loa::ledger::AirtimeRow> {
    let give_up = std::time::Instant::now() + timeout;
    loop {
        let rows = ledger_rows(db);
        if done(&rows) {
            return rows;
        }
        assert!(
            std::time::Instant::now() < give_up,
            "timed out waiting for {what}; rows: {rows:#?}\nlog:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
