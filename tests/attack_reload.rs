//! Reloading the station file as an attacker (or a careless script) would
//! have it: a FIFO where the station file was, a 50 MB station file, a last
//! good copy that is a FIFO, a client that gives up on `POST
//! /api/v1/reload`. Each must leave the daemon answering its API and its
//! signals, keep the running station on air, and say in its log what
//! happened. Signals are sent only once `/healthz` answers (SIGHUP's
//! default action kills a daemon that has not installed its handler yet).

use crate::common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{new_token, request, Daemon, Reply};
use serde_json::{json, Value};

struct Station {
    dir: tempfile::TempDir,
    config: PathBuf,
    text: String,
    addr: SocketAddr,
    admin: String,
}

/// A station with two bulletins, writing what airs to a WAV file (not
/// paced: a bulletin airs in a moment), and an admin token.
fn station() -> Station {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    std::fs::create_dir(&audio).unwrap();
    let jingle = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio/jingles/nhac-hieu.mp3");
    std::fs::copy(jingle, audio.join("short.mp3")).unwrap();
    let (admin, admin_sha) = new_token("quan-tri", "admin");
    let addr = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    let config = dir.path().join("station.toml");
    let text = format!(
        r#"
[station]
name = "Xã Thử"
audio_dir = "audio"
data_dir = "var"
[output]
kind = "wav"
path = "var/aired.wav"
pace = "fast"
[api]
listen = "{addr}"
[[api.token]]
name = "quan-tri"
role = "admin"
sha256 = "{admin_sha}"
[[bulletin]]
id = "short"
title = "Nhạc hiệu"
file = "short.mp3"
[[bulletin]]
id = "again"
title = "Nhạc hiệu lần nữa"
file = "short.mp3"
"#
    );
    std::fs::write(&config, &text).unwrap();
    Station {
        dir,
        config,
        text,
        addr,
        admin,
    }
}

impl Station {
    fn reload(&self) -> Reply {
        request(self.addr, "POST", "/api/v1/reload", Some(&self.admin), None)
            .unwrap_or_else(|e| panic!("POST /api/v1/reload got no answer: {e}"))
    }

    fn get(&self, path: &str) -> Reply {
        request(self.addr, "GET", path, Some(&self.admin), None).unwrap()
    }
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo(3) on a NUL-terminated path we own.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

fn signal(d: &Daemon, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(d.child.id() as i32, sig);
    }
}

/// Wait (up to a minute) until the log has `n` lines holding every one of
/// `needles`; those lines.
fn wait_log_lines(d: &Daemon, n: usize, needles: &[&str]) -> Vec<String> {
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        let log = d.log_text();
        let lines: Vec<String> = log
            .lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .map(str::to_string)
            .collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < give_up,
            "timed out waiting for {n} log line(s) with {needles:?}; log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM, then how long the daemon took to exit (failing after 10 s).
fn stop(d: &mut Daemon) -> Duration {
    let t = Instant::now();
    signal(d, libc::SIGTERM);
    loop {
        if let Some(status) = d.child.try_wait().unwrap() {
            assert!(status.success(), "{status}\n{}", d.log_text());
            return t.elapsed();
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "SIGTERM did not stop the daemon in 10 s; log:\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Queue `bulletin` and wait (up to a minute) for it to complete.
fn airs(st: &Station, d: &Daemon, bulletin: &str) {
    let body = json!({ "bulletin": bulletin }).to_string();
    let q = request(
        st.addr,
        "POST",
        "/api/v1/queue",
        Some(&st.admin),
        Some(("application/json", body.as_bytes())),
    )
    .unwrap();
    assert_eq!(q.status, 202, "{q:?}");
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = st.get("/api/v1/airtime").json();
        let done = rows.as_array().unwrap().iter().any(|r: &Value| {
            r["bulletin"] == bulletin && r["outcome"].as_str() == Some("completed")
        });
        if done {
            return;
        }
        assert!(
            Instant::now() < give_up,
            "{bulletin} did not air: {rows:#}\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_fifo_station_file_does_not_wedge_the_daemon() {
    let st = station();
    let mut d = Daemon::start(&st.config, st.addr);
    std::fs::remove_file(&st.config).unwrap();
    mkfifo(&st.config);

    // No writer ever opens the pipe: reading it the plain way would block
    // for good (and, in the signal loop, take SIGTERM down with it).
    signal(&d, libc::SIGHUP);
    let r = st.reload();
    assert_eq!(r.status, 422, "{r:?}");
    let errors = r.json()["errors"].to_string();
    assert!(
        errors.contains("named pipe (FIFO), not a regular file"),
        "{errors}"
    );
    assert!(errors.contains("station.toml"), "{errors}");
    let health = request(st.addr, "GET", "/healthz", None, None).unwrap();
    assert_eq!(health.status, 200, "{health:?}");

    // The SIGHUP's reload ended and said why; a later SIGHUP is heard too.
    wait_log_lines(&d, 1, &["reload refused", "SIGHUP", "named pipe"]);
    signal(&d, libc::SIGHUP);
    wait_log_lines(&d, 2, &["reload refused", "SIGHUP", "named pipe"]);
    wait_log_lines(
        &d,
        1,
        &["reload refused", "POST /api/v1/reload by quan-tri"],
    );
    // The old station still runs.
    let status = st.get("/api/v1/status").json();
    assert_eq!(status["station_file"]["running"], "last_good", "{status}");

    let took = stop(&mut d);
    assert!(
        took < Duration::from_secs(2),
        "SIGTERM took {took:?}; log:\n{}",
        d.log_text()
    );
}

#[test]
fn a_station_file_over_the_limit_is_refused_by_reload_and_the_station_keeps_airing() {
    let st = station();
    let d = Daemon::start(&st.config, st.addr);
    // Valid TOML (the station and 50 MB of comments): what `loa check`
    // refuses for its size must not get in through a reload.
    let mut big = std::io::BufWriter::new(std::fs::File::create(&st.config).unwrap());
    big.write_all(st.text.replace("Nhạc hiệu lần nữa", "Đổi").as_bytes())
        .unwrap();
    let line = format!("# {}\n", "x".repeat(97));
    for _ in 0..(50 * 1024 * 1024 / line.len() + 1) {
        big.write_all(line.as_bytes()).unwrap();
    }
    big.into_inner().unwrap().sync_all().unwrap();
    assert!(std::fs::metadata(&st.config).unwrap().len() > 50 * 1024 * 1024);

    let r = st.reload();
    assert_eq!(r.status, 422, "{r:?}");
    let errors = r.json()["errors"].to_string();
    assert!(errors.contains("larger than 16 MB"), "{errors}");
    signal(&d, libc::SIGHUP);
    wait_log_lines(&d, 1, &["reload refused", "SIGHUP", "larger than 16 MB"]);

    // The running station is the old one, and it airs.
    let bulletins = st.get("/api/v1/bulletins").text();
    assert!(bulletins.contains("Nhạc hiệu lần nữa"), "{bulletins}");
    airs(&st, &d, "again");
}

#[test]
fn a_last_good_copy_that_is_a_fifo_does_not_hang_the_start() {
    let st = station();
    // A station file that cannot run, so the start falls back on the last
    // good copy; that copy is a pipe nobody writes.
    std::fs::write(&st.config, st.text.replace("[output]", "[output")).unwrap();
    let var = st.dir.path().join("var");
    std::fs::create_dir(&var).unwrap();
    mkfifo(&var.join("last-good-station.toml"));
    let log = st.dir.path().join("run.log");
    let mut child = std::process::Command::new(common::bin::loa())
        .args(["run", "--config", st.config.to_str().unwrap()])
        .env_remove("LOA_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "loa run hung on a FIFO last good copy; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!status.success(), "{text}");
    assert!(
        text.contains("last good copy cannot be read") && text.contains("named pipe"),
        "{text}"
    );
}

#[test]
fn a_reload_whose_client_gave_up_still_ends_and_is_logged() {
    let st = station();
    let d = Daemon::start(&st.config, st.addr);
    // Big enough that the client is gone long before the reload ends.
    let mut text = st.text.clone();
    for i in 0..20_000 {
        text.push_str(&format!(
            "[[bulletin]]\nid = \"b{i}\"\ntitle = \"Bản tin {i}\"\nfile = \"short.mp3\"\nat = [\"{:02}:{:02}\"]\n",
            6 + i % 12,
            i % 60
        ));
    }
    std::fs::write(&st.config, &text).unwrap();
    let mut s = TcpStream::connect(st.addr).unwrap();
    write!(
        s,
        "POST /api/v1/reload HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Length: 0\r\n\r\n",
        st.addr, st.admin
    )
    .unwrap();
    s.flush().unwrap();
    // Gone once the reload has begun (a client gone before that is one
    // whose request never ran).
    wait_log_lines(&d, 1, &["reloading", "POST /api/v1/reload by quan-tri"]);
    drop(s);

    let line = wait_log_lines(&d, 1, &["reload done", "POST /api/v1/reload by quan-tri"]);
    assert!(line[0].contains("bulletins=20002"), "{line:?}");
    assert!(line[0].contains("the client had gone"), "{line:?}");
    // The station file on disk runs, and the audit log says who reloaded.
    let status = st.get("/api/v1/status").json();
    assert_eq!(status["station_file"]["running"], "current", "{status}");
    let audit = st.get("/api/v1/audit").text();
    assert!(audit.contains("20002 bulletins"), "{audit}");
}
