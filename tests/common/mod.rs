//! A tiny HTTP/1.1 client over `std::net::TcpStream` for tests and the
//! API benchmark: one request per connection (`Connection: close`), the
//! answer read to the end. Enough for JSON, CSV and multipart; not a
//! general client, and no dependency.

#![allow(dead_code)]

pub mod attack;
pub mod bin;
pub mod disk;
pub mod mqtt;
pub mod postgres;
pub mod pulse;
pub mod signals;

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
    let out = std::process::Command::new(bin::loa())
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
        let mut cmd = std::process::Command::new(bin::loa());
        cmd.args(["run", "--config", config.to_str().unwrap()])
            .env_remove("LOA_CONFIG")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        adjust(&mut cmd);
        let child = cmd.spawn().expect("start loa run");
        let mut d = Daemon { child, addr, log };
        let give_up = std::time::Instant::now() + START_PATIENCE;
        while !healthy(addr) {
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!(
                    "loa run exited ({status}) before it answered on {addr}: {}",
                    d.log_text()
                );
            }
            assert!(
                std::time::Instant::now() < give_up,
                "the daemon did not answer on {addr} within {START_PATIENCE:?}: {}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    /// SIGHUP: reload the station file. The daemon is ready for it: `start`
    /// waited for `/healthz`, and loa installs its signal handlers before
    /// it listens (SIGHUP's default action would kill it).
    pub fn hup(&self) {
        signal(self.child.id(), libc::SIGHUP);
    }

    /// [`Daemon::hup`], then wait until the station in force plans its next
    /// item at `at` (see [`hup_until_next_at`]).
    pub fn hup_until_next_at(&self, at: chrono::DateTime<chrono::Utc>) {
        hup_until_next_at(self.child.id(), self.addr, at, || self.log_text());
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
        // Generous: a busy machine may need seconds to close the files.
        for _ in 0..300 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The airtime ledger's rows at `db`, read with rusqlite straight from the
/// file (not through `loa::ledger`, whose reading is what tests check), in
/// the ledger's order (scheduled instant, then row id). None before the
/// daemon has made the file or its `airtime` table; any other failure to
/// read (a locked, corrupt or unreadable file, a value outside the schema)
/// fails the test: it is not "no rows yet".
pub fn ledger_rows(db: &std::path::Path) -> Vec<loa::ledger::AirtimeRow> {
    use rusqlite::OpenFlags;
    if !db.exists() {
        return Vec::new();
    }
    let conn = rusqlite::Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap_or_else(|e| panic!("cannot open the ledger {}: {e}", db.display()));
    // The daemon's writes are short; a reader in WAL mode waits only while
    // the file is being made or migrated.
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let sql = "SELECT id, occurrence, bulletin, title, campaign, program, priority, source, \
               file, scheduled_at, started_at, ended_at, planned_seconds, aired_seconds, \
               outcome, reason, requested_by, reason_code, reason_args, reason_more, \
               heard_seconds FROM airtime ORDER BY scheduled_ms, id";
    let mut stmt = match conn.prepare(sql) {
        Ok(s) => s,
        // Made, not yet migrated: no table yet.
        Err(rusqlite::Error::SqliteFailure(_, Some(m))) if m == "no such table: airtime" => {
            return Vec::new()
        }
        Err(e) => panic!("cannot read the ledger {}: {e}", db.display()),
    };
    let outside = |what: &str, v: &str| -> String {
        format!("{}: {what} `{v}` outside the schema", db.display())
    };
    stmt.query_map([], |r| {
        let priority: String = r.get(6)?;
        let source: String = r.get(7)?;
        let outcome: Option<String> = r.get(14)?;
        Ok((
            loa::ledger::AirtimeRow {
                id: r.get(0)?,
                occurrence: r.get(1)?,
                bulletin: r.get(2)?,
                title: r.get(3)?,
                campaign: r.get(4)?,
                program: r.get(5)?,
                priority: loa::config::Priority::Normal,
                source: loa::ledger::Source::Schedule,
                file: r.get(8)?,
                scheduled_at: r.get(9)?,
                started_at: r.get(10)?,
                ended_at: r.get(11)?,
                planned_seconds: r.get(12)?,
                aired_seconds: r.get(13)?,
                heard_seconds: r.get(20)?,
                outcome: None,
                reason: {
                    let text: Option<String> = r.get(15)?;
                    let code: Option<String> = r.get(17)?;
                    let args: Option<String> = r.get(18)?;
                    let more: Option<String> = r.get(19)?;
                    code.map(|c| {
                        loa::reason::Reasons::from_columns(
                            &c,
                            args.as_deref(),
                            more.as_deref(),
                            text.as_deref(),
                        )
                    })
                },
                requested_by: r.get(16)?,
            },
            priority,
            source,
            outcome,
        ))
    })
    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
    .unwrap_or_else(|e| panic!("cannot read the ledger {}: {e}", db.display()))
    .into_iter()
    .map(|(mut row, priority, source, outcome)| {
        row.priority = loa::config::Priority::parse(&priority)
            .unwrap_or_else(|| panic!("{}", outside("priority", &priority)));
        row.source = loa::ledger::Source::parse(&source)
            .unwrap_or_else(|| panic!("{}", outside("source", &source)));
        row.outcome = outcome.map(|o| {
            loa::ledger::Outcome::parse(&o).unwrap_or_else(|| panic!("{}", outside("outcome", &o)))
        });
        row
    })
    .collect()
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

/// How long a daemon may take to start answering: generous, for a busy
/// machine (a debug build starts in well under a second when idle).
pub const START_PATIENCE: Duration = Duration::from_secs(60);

/// Whether `/healthz` at `addr` answers 200 now.
pub fn healthy(addr: SocketAddr) -> bool {
    request(addr, "GET", "/healthz", None, None).is_ok_and(|r| r.status == 200)
}

/// Wait until `/healthz` at `addr` answers: the station file is loaded,
/// the ledger open, the API listening and the signal handlers in place.
/// After [`START_PATIENCE`], fail with `log()`.
pub fn wait_healthy(addr: SocketAddr, log: impl Fn() -> String) {
    let give_up = std::time::Instant::now() + START_PATIENCE;
    while !healthy(addr) {
        assert!(
            std::time::Instant::now() < give_up,
            "the daemon did not answer on {addr} within {START_PATIENCE:?}:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Send `sig` to the process `pid` (a child of the test).
pub fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid.
    let r = unsafe { libc::kill(pid as i32, sig) };
    assert_eq!(
        r,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

/// The value of an unlabelled series `name` in `/metrics` at `addr`.
pub fn metric(addr: SocketAddr, name: &str) -> Option<f64> {
    let text = request(addr, "GET", "/metrics", None, None).ok()?.text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// SIGHUP the daemon `pid` (ready: it answered on `addr`) after its station
/// file was rewritten, and wait until the station in force plans its next
/// item at `at` (`loa_next_item_due_timestamp_seconds`), so that what the
/// test wrote is what runs. After [`START_PATIENCE`], fail with `log()`.
pub fn hup_until_next_at(
    pid: u32,
    addr: SocketAddr,
    at: chrono::DateTime<chrono::Utc>,
    log: impl Fn() -> String,
) {
    signal(pid, libc::SIGHUP);
    let want = at.timestamp_millis() as f64 / 1e3;
    let give_up = std::time::Instant::now() + START_PATIENCE;
    loop {
        let next = metric(addr, "loa_next_item_due_timestamp_seconds");
        if next.is_some_and(|n| (n - want).abs() < 0.001) {
            return;
        }
        assert!(
            std::time::Instant::now() < give_up,
            "after SIGHUP the next item is due at {next:?}, not {want} ({at}):\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `at` as the station file's `HH:MM:SS` (UTC stations).
pub fn hms(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%H:%M:%S").to_string()
}

/// The whole second at least `secs` from now (UTC), for an item the test
/// schedules once the daemon is ready. Waits out the last minutes of the
/// day, so that `HH:MM:SS` times never wrap past midnight.
pub fn whole_second_in(secs: i64) -> chrono::DateTime<chrono::Utc> {
    use chrono::Timelike;
    let mut now = chrono::Utc::now();
    let left = 86_400 - i64::from(now.num_seconds_from_midnight());
    if left < secs + 180 {
        std::thread::sleep(Duration::from_secs(left as u64 + 1));
        now = chrono::Utc::now();
    }
    now.with_nanosecond(0).unwrap() + chrono::Duration::seconds(secs + 1)
}

/// A GET with a session cookie (the web console's pages).
pub fn get_with_cookie(addr: SocketAddr, path: &str, cookie: &str) -> (u16, String) {
    with_cookie(addr, "GET", path, cookie, None)
}

/// A plain HTTP/1.1 request with `cookie` (none when empty) and, for a
/// POST, a form body; the status and the whole answer, headers included.
pub fn with_cookie(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: &str,
    form: Option<&str>,
) -> (u16, String) {
    let cookie = if cookie.is_empty() {
        String::new()
    } else {
        format!("Cookie: {cookie}\r\n")
    };
    let body = form.map_or(String::new(), |f| {
        format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{f}",
            f.len()
        )
    });
    let end = if form.is_some() { "" } else { "\r\n" };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Connection: close\r\n{body}{end}"
    );
    exchange(addr, req.as_bytes())
}

/// A multipart/form-data POST of text fields with `cookie`, as a browser
/// sends a form with `enctype="multipart/form-data"`: the status and the
/// whole answer.
pub fn post_multipart(
    addr: SocketAddr,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    post_multipart_file(addr, path, cookie, fields, None)
}

/// [`post_multipart`] with a file part `file` named `(file name, bytes)`.
pub fn post_multipart_file(
    addr: SocketAddr,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> (u16, String) {
    let boundary = "loa-form-7c1d";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    exchange(addr, &req)
}

/// Send `req` whole on a new connection; the status and the whole answer.
fn exchange(addr: SocketAddr, req: &[u8]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
    s.write_all(req).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// The value of cookie `name` set by an answer's headers.
pub fn set_cookie(answer: &str, name: &str) -> Option<String> {
    answer
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .map(|c| c.split(';').next().unwrap_or(""))
        .find(|c| c.starts_with(&format!("{name}=")) && c.len() > name.len() + 1)
        .map(str::to_string)
}

/// Sign in to the web console as `name` the way a browser does: the form
/// (its token and cookie) first, then the post. The session cookie, or the
/// refusal's status and answer.
pub fn try_sign_in(addr: SocketAddr, name: &str, password: &str) -> Result<String, (u16, String)> {
    let (code, page) = get_with_cookie(addr, "/dang-nhap", "");
    assert_eq!(code, 200, "{page}");
    let form_cookie = set_cookie(&page, "loa_bieu_mau").expect("the sign-in form sets its cookie");
    let token = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("the sign-in form carries a token")
        .to_string();
    let form = format!(
        "name={}&password={}&csrf={}&next=/",
        percent_encode(name),
        percent_encode(password),
        percent_encode(&token)
    );
    let (code, answer) = with_cookie(addr, "POST", "/dang-nhap", &form_cookie, Some(&form));
    match (code, set_cookie(&answer, "loa_phien")) {
        (303, Some(session)) => Ok(session),
        _ => Err((code, answer)),
    }
}

/// [`try_sign_in`], failing the test when refused: the session cookie.
pub fn sign_in(addr: SocketAddr, name: &str, password: &str) -> String {
    try_sign_in(addr, name, password)
        .unwrap_or_else(|(code, answer)| panic!("sign-in refused ({code}): {answer}"))
}

/// Percent-encode a query or form value (all but RFC 3986's unreserved
/// characters).
pub fn percent_encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A row's reasons in English (empty when it has none).
#[allow(dead_code)]
pub fn reason_en(r: &loa::ledger::AirtimeRow) -> String {
    r.reason
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// A row's main reason code (`None` when it has no reason).
#[allow(dead_code)]
pub fn reason_code(r: &loa::ledger::AirtimeRow) -> Option<&'static str> {
    r.reason.as_ref().map(|r| r.main.code())
}
