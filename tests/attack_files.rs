//! Files an attacker (or a careless admin) can touch under a running
//! station, through the real binary: the ledger made unwritable under
//! `loa run` (`chattr +i`), and what spreadsheets make of titles in the
//! CSV answers.
//!
//! Run as root: `chattr` needs CAP_LINUX_IMMUTABLE. The test fails (never
//! skips) when it cannot make the files immutable.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{new_token, request, Daemon, Reply};
use serde_json::{json, Value};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

struct Station {
    dir: tempfile::TempDir,
    config: PathBuf,
    addr: SocketAddr,
    operator: String,
    viewer: String,
}

/// A station airing to a WAV file in real time, with two bulletins whose
/// titles are `titles` (long, short) in a campaign titled `campaign`.
fn station(titles: (&str, &str), campaign: &str) -> Station {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    std::fs::create_dir(&audio).unwrap();
    std::fs::copy(repo("audio/cds/thong-diep.mp3"), audio.join("long.mp3")).unwrap();
    std::fs::copy(repo("audio/jingles/nhac-hieu.mp3"), audio.join("short.mp3")).unwrap();
    let (operator, op_sha) = new_token("van-hoa-xa-hoi", "operator");
    let (viewer, view_sha) = new_token("xem", "viewer");
    let addr = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    let config = dir.path().join("station.toml");
    let (long, short) = titles;
    let tokens = [
        ("van-hoa-xa-hoi", "operator", op_sha.as_str()),
        ("xem", "viewer", &view_sha),
    ];
    let rest = format!(
        r#"
[[campaign]]
id = "c1"
title = {campaign:?}
[[bulletin]]
id = "long"
title = {long:?}
file = "long.mp3"
campaign = "c1"
[[bulletin]]
id = "short"
title = {short:?}
file = "short.mp3"
campaign = "c1"
"#
    );
    std::fs::write(&config, common::api_station_toml(addr, &tokens, &rest)).unwrap();
    Station {
        dir,
        config,
        addr,
        operator,
        viewer,
    }
}

impl Station {
    fn ledger(&self) -> PathBuf {
        self.dir.path().join("var/airtime.db")
    }
    fn get(&self, path: &str) -> Reply {
        self.try_get(path).unwrap()
    }
    fn try_get(&self, path: &str) -> std::io::Result<Reply> {
        request(self.addr, "GET", path, Some(&self.viewer), None)
    }
    fn post(&self, path: &str, body: Value) -> Reply {
        self.try_post(path, body).unwrap()
    }
    fn try_post(&self, path: &str, body: Value) -> std::io::Result<Reply> {
        let b = body.to_string();
        request(
            self.addr,
            "POST",
            path,
            Some(&self.operator),
            Some(("application/json", b.as_bytes())),
        )
    }
    /// `loa ARGS --config STATION`.
    fn loa(&self, args: &[&str]) -> std::process::Output {
        Command::new(common::bin::loa())
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env_remove("LOA_CONFIG")
            .output()
            .expect("run loa")
    }
}

/// Files made immutable with `chattr +i`, made mutable again when dropped
/// (a failing test must not leave a temp dir nobody can delete).
struct Immutable(Vec<PathBuf>);

impl Immutable {
    /// Every file of the ledger (`airtime.db` and whatever SQLite keeps
    /// beside it: `-wal`, `-shm`, `-journal`). Panics when chattr fails.
    fn ledger(db: &Path) -> Immutable {
        let name = db.file_name().unwrap().to_string_lossy().into_owned();
        let mut files: Vec<PathBuf> = std::fs::read_dir(db.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&name))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no ledger files beside {}", db.display());
        let guard = Immutable(files);
        chattr("+i", &guard.0);
        // Prove it took: not even root may open an immutable file for writing.
        for f in &guard.0 {
            let e = std::fs::OpenOptions::new().append(true).open(f);
            assert!(
                e.as_ref()
                    .is_err_and(|e| e.raw_os_error() == Some(libc::EPERM)),
                "{} is still writable after chattr +i: {e:?}",
                f.display()
            );
        }
        guard
    }
}

impl Immutable {
    /// [`Immutable::ledger`] at a moment no write is half done. SQLite's
    /// journal (truncate mode) is empty between transactions; frozen while
    /// it holds a transaction, the daemon can neither finish nor roll it
    /// back, and every reader must refuse the file (a hot journal): the
    /// files then honestly cannot be read, which is not what this test is
    /// about. An empty journal stays empty once frozen, so one look after
    /// the freeze settles it; otherwise thaw, let the write end, try again.
    fn ledger_between_writes(d: &mut Daemon, db: &Path) -> Immutable {
        let journal = db.with_file_name(format!(
            "{}-journal",
            db.file_name().unwrap().to_string_lossy()
        ));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let frozen = Immutable::ledger(db);
            let len = std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0);
            if len == 0 {
                return frozen;
            }
            drop(frozen);
            assert!(
                Instant::now() < deadline,
                "the ledger's journal never emptied ({} bytes)\nlog:\n{}",
                len,
                d.log_text()
            );
            assert_alive(d, "while the ledger was being frozen");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        chattr("-i", &self.0);
    }
}

fn chattr(flag: &str, files: &[PathBuf]) {
    let out = Command::new("chattr")
        .arg(flag)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("chattr cannot run ({e}): install e2fsprogs"));
    assert!(
        out.status.success(),
        "chattr {flag} {files:?} failed (run as root, on a file system that has the \
         immutable flag, e.g. ext4): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn hup(d: &Daemon) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(d.child.id() as i32, libc::SIGHUP);
    }
}

/// Panics, with the log, when the daemon has exited.
fn assert_alive(d: &mut Daemon, when: &str) {
    if let Ok(Some(status)) = d.child.try_wait() {
        panic!("the daemon died {when}: {status}\nlog:\n{}", d.log_text());
    }
}

/// The answer to a request; when there is none, says whether the daemon
/// died (with its log).
fn answered(d: &mut Daemon, what: &str, r: std::io::Result<Reply>) -> Reply {
    r.unwrap_or_else(|e| {
        for _ in 0..20 {
            assert_alive(d, what);
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{what}: no answer ({e})\nlog:\n{}", d.log_text())
    })
}

/// Poll `f` for up to `secs`; fail naming `what`, with the log.
fn wait_until(d: &mut Daemon, what: &str, secs: u64, mut f: impl FnMut(&Daemon) -> bool) {
    let give_up = Instant::now() + Duration::from_secs(secs);
    loop {
        assert_alive(d, &format!("waiting for {what}"));
        if f(d) {
            return;
        }
        assert!(
            Instant::now() < give_up,
            "timed out waiting for {what}\nlog:\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The sizes and times of the ledger's files (never opening them).
fn fingerprint(db: &Path) -> Vec<(String, u64, std::time::SystemTime)> {
    let name = db.file_name().unwrap().to_string_lossy().into_owned();
    let mut v: Vec<_> = std::fs::read_dir(db.parent().unwrap())
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let n = e.file_name().to_string_lossy().into_owned();
            let m = e.metadata().ok()?;
            n.starts_with(&name)
                .then(|| (n, m.len(), m.modified().unwrap()))
        })
        .collect();
    v.sort();
    v
}

fn queued_ids(db: &Path) -> Vec<u64> {
    loa::ledger::Ledger::open_read_only(db, chrono_tz::UTC)
        .and_then(|l| l.queued())
        .map(|q| q.into_iter().map(|q| q.id).collect())
        .unwrap_or_default()
}

#[test]
fn an_immutable_ledger_is_a_logged_error_not_a_crash() {
    let st = station(("Thông điệp", "Nhạc hiệu"), "Chuyển đổi số");
    let db = st.ledger();
    let mut d = Daemon::start(&st.config, st.addr);

    // Items for later, kept in the ledger before the files freeze.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let a = st.post("/api/v1/queue", json!({"bulletin": "long", "at": later}));
    assert_eq!(a.status, 202, "{a:?}");
    let a_id = a.json()["id"].as_u64().unwrap();
    wait_until(&mut d, "the queued item in the ledger", 30, |_| {
        queued_ids(&db).contains(&a_id)
    });
    // Reading the ledger (as above) leaves marks that spare the daemon's
    // next write from touching SQLite's shared memory; an attacker reads
    // nothing. So one more write from the daemon, seen from the files'
    // sizes and times only, and the files freeze right after it.
    let before = fingerprint(&db);
    let a2 = st.post("/api/v1/queue", json!({"bulletin": "short", "at": later}));
    assert_eq!(a2.status, 202, "{a2:?}");
    let a2_id = a2.json()["id"].as_u64().unwrap();
    wait_until(&mut d, "the daemon's write to the ledger files", 30, |_| {
        fingerprint(&db) != before
    });
    let frozen = Immutable::ledger_between_writes(&mut d, &db);
    hup(&d);
    wait_until(&mut d, "the reload", 30, |d| {
        d.log_text().contains("reload done")
            && request(st.addr, "GET", "/healthz", None, None).is_ok_and(|r| r.status == 200)
    });
    // The API reads the ledger in the daemon's own process.
    let what = "reading the airtime of a frozen ledger";
    let rows = answered(&mut d, what, st.try_get("/api/v1/airtime"));
    assert!(rows.status == 200 || rows.status >= 500, "{rows:?}");
    // A request now: accepted (and then it must air), or refused with a reason.
    let what = "a queue request on a frozen ledger";
    let b = answered(
        &mut d,
        what,
        st.try_post("/api/v1/queue", json!({"bulletin": "short"})),
    );
    let b_occurrence = match b.status {
        202 => Some(b.json()["occurrence"].as_str().unwrap().to_string()),
        s if s >= 500 => {
            assert!(
                !b.json()["message"].as_str().unwrap_or("").is_empty(),
                "{b:?}"
            );
            None
        }
        _ => panic!("a queue request on a frozen ledger: {b:?}"),
    };
    // Readers in other processes keep reading.
    let out = st.loa(&["airtime"]);
    assert!(
        out.status.success(),
        "loa airtime on a frozen ledger: {out:?}"
    );
    // The failure is in the log, naming the file.
    let ledger_name = db.display().to_string();
    wait_until(&mut d, "an error naming the ledger", 60, |d| {
        d.log_text()
            .lines()
            .any(|l| l.contains("ERROR") && l.contains(&ledger_name))
    });
    assert!(
        d.log_text().contains("chattr -i"),
        "the error says how to undo it: {}",
        d.log_text()
    );
    assert_alive(&mut d, "with the ledger frozen");

    // The admin mends it: what waited lands, the station goes on.
    drop(frozen);
    if let Some(occ) = &b_occurrence {
        common::wait_for_rows(
            &db,
            "the item accepted while the ledger was frozen",
            Duration::from_secs(90),
            |rows| {
                rows.iter()
                    .any(|r| &r.occurrence == occ && r.outcome.is_some())
            },
            || d.log_text(),
        );
    }
    let kept = queued_ids(&db);
    assert!(
        kept.contains(&a_id) && kept.contains(&a2_id),
        "the items queued before the freeze are still kept: {kept:?}\nlog:\n{}",
        d.log_text()
    );
    let c = st.post("/api/v1/queue", json!({"bulletin": "short"}));
    assert_eq!(c.status, 202, "{c:?}");
    let c_occurrence = c.json()["occurrence"].as_str().unwrap().to_string();
    common::wait_for_rows(
        &db,
        "an item queued after the ledger was mended",
        Duration::from_secs(90),
        |rows| {
            rows.iter().any(|r| {
                r.occurrence == c_occurrence && r.outcome == Some(loa::ledger::Outcome::Completed)
            })
        },
        || d.log_text(),
    );
    assert_alive(&mut d, "after the ledger was mended");
}

/// Whether any cell of `csv` starts with what a spreadsheet runs as a
/// formula (a cell starts after a line break or a comma, maybe quoted).
fn has_formula_cell(csv: &str) -> Option<&str> {
    csv.lines().find(|line| {
        let line = line.trim_start_matches('\u{feff}');
        [",=", ",+", ",@", ",\"=", ",\"+", ",\"@"]
            .iter()
            .any(|p| line.contains(p))
            || line.starts_with(['=', '+', '@'])
            || line.starts_with("\"=")
    })
}

#[test]
fn titles_that_look_like_formulas_reach_csv_as_text() {
    let st = station(
        (
            "=HYPERLINK(\"http://x.invalid/?q=1\",\"Bấm vào đây\")",
            "=1+1",
        ),
        "@SUM(1+1)",
    );
    let db = st.ledger();
    let mut d = Daemon::start(&st.config, st.addr);
    let q = st.post("/api/v1/queue", json!({"bulletin": "short"}));
    assert_eq!(q.status, 202, "{q:?}");
    common::wait_for_rows(
        &db,
        "the jingle completed",
        Duration::from_secs(90),
        |rows| rows.iter().any(|r| r.outcome.is_some()),
        || d.log_text(),
    );
    assert_alive(&mut d, "after airing");
    let mut csvs = Vec::new();
    for args in [
        &["airtime", "--format", "csv"][..],
        &["report", "--format", "csv"],
    ] {
        let out = st.loa(args);
        assert!(out.status.success(), "loa {args:?}: {out:?}");
        csvs.push((
            format!("loa {args:?}"),
            String::from_utf8(out.stdout).unwrap(),
        ));
    }
    for path in ["/api/v1/airtime?format=csv", "/api/v1/report?format=csv"] {
        let r = st.get(path);
        assert_eq!(r.status, 200, "{path}: {r:?}");
        csvs.push((path.to_string(), r.text()));
    }
    for (what, csv) in &csvs {
        assert!(csv.contains(",'=1+1,"), "{what}: the title as text:\n{csv}");
        if let Some(line) = has_formula_cell(csv) {
            panic!("{what}: a cell a spreadsheet would run:\n{line}\n\n{csv}");
        }
    }
    let (_, report) = &csvs[1];
    assert!(report.contains(",'@SUM(1+1),"), "{report}");
    let (_, airtime) = &csvs[0];
    assert!(
        airtime.contains(",'@SUM(1+1),") || airtime.contains(",c1,"),
        "{airtime}"
    );
}

use crate::common::disk;

/// Uploads one after another cannot fill the card: with less free room
/// under `audio_dir` than the upload's size and the reserve the ledger
/// needs, the upload is refused 507 before a byte is kept, saying what to
/// do, and the station goes on answering.
#[test]
fn an_upload_that_would_fill_the_disk_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    // A small file system for audio_dir (root, as make test and CI run).
    let _fs = disk::Tmpfs::mount(&audio, "64m")
        .unwrap_or_else(|why| panic!("{why}: this test needs root to mount a small tmpfs"));
    let (operator, op_sha) = new_token("van-hoa-xa-hoi", "operator");
    let addr = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    let config = dir.path().join("station.toml");
    std::fs::write(
        &config,
        common::api_station_toml(addr, &[("van-hoa-xa-hoi", "operator", &op_sha)], ""),
    )
    .unwrap();
    let d = Daemon::start(&config, addr);
    let wav = std::fs::read(repo("src/audio/testdata/tone1s.wav")).unwrap();
    let (ctype, body) = common::multipart("thong-bao.wav", &wav);
    let r = request(
        addr,
        "POST",
        "/api/v1/audio",
        Some(&operator),
        Some((&ctype, &body)),
    )
    .unwrap();
    assert_eq!(r.status, 507, "{r:?}\n{}", d.log_text());
    assert_eq!(r.json()["error"], "disk_full", "{r:?}");
    let msg = r.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(msg.contains("MB"), "{msg}");
    let kept: Vec<_> = std::fs::read_dir(&audio).unwrap().collect();
    assert!(kept.is_empty(), "nothing is kept: {kept:?}");
    let h = request(addr, "GET", "/healthz", None, None).unwrap();
    assert_eq!(h.status, 200);
}
