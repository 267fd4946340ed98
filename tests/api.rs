//! The control API through the running binary: `loa run` on a temporary
//! station recording to a WAV file in real time, driven over HTTP with
//! tokens made by `loa token new`, checked through the API's own ledger
//! views. Polls with short sleeps and generous timeouts (CI is a busy box).

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{multipart, new_token, request, Daemon, Reply};
use serde_json::{json, Value};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

struct Station {
    _dir: tempfile::TempDir,
    config: PathBuf,
    audio: PathBuf,
    addr: SocketAddr,
    operator: String,
    viewer: String,
    admin: String,
}

fn station() -> Station {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    std::fs::create_dir(&audio).unwrap();
    std::fs::copy(repo("audio/cds/thong-diep.mp3"), audio.join("long.mp3")).unwrap();
    std::fs::copy(repo("audio/jingles/nhac-hieu.mp3"), audio.join("short.mp3")).unwrap();
    let (operator, op_sha) = new_token("van-hoa-xa-hoi", "operator");
    let (viewer, view_sha) = new_token("xem", "viewer");
    let (admin, admin_sha) = new_token("quan-tri", "admin");
    let addr = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    let config = dir.path().join("station.toml");
    let tokens = [
        ("van-hoa-xa-hoi", "operator", op_sha.as_str()),
        ("xem", "viewer", &view_sha),
        ("quan-tri", "admin", &admin_sha),
    ];
    let bulletins = r#"
[[bulletin]]
id = "long"
title = "Thông điệp chuyển đổi số"
file = "long.mp3"
[[bulletin]]
id = "short"
title = "Nhạc hiệu"
file = "short.mp3"
"#;
    std::fs::write(&config, common::api_station_toml(addr, &tokens, bulletins)).unwrap();
    Station {
        audio,
        _dir: dir,
        config,
        addr,
        operator,
        viewer,
        admin,
    }
}

impl Station {
    fn get(&self, path: &str) -> Reply {
        request(self.addr, "GET", path, Some(&self.viewer), None).unwrap()
    }
    fn post(&self, path: &str, body: Value) -> Reply {
        let b = body.to_string();
        request(
            self.addr,
            "POST",
            path,
            Some(&self.operator),
            Some(("application/json", b.as_bytes())),
        )
        .unwrap()
    }
    fn post_empty(&self, path: &str) -> Reply {
        request(self.addr, "POST", path, Some(&self.operator), None).unwrap()
    }

    fn rows(&self) -> Vec<Value> {
        let r = self.get("/api/v1/airtime");
        assert_eq!(r.status, 200, "{r:?}");
        r.json().as_array().unwrap().clone()
    }

    /// Wait (up to a minute) for an airtime row matching `f`.
    fn wait_row(&self, d: &Daemon, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..600 {
            if let Some(r) = self.rows().into_iter().find(&f) {
                return r;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "timed out waiting for {what}: {:#?}\n{}",
            self.rows(),
            d.log_text()
        );
    }

    fn wait_status(&self, d: &Daemon, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..600 {
            let s = self.get("/api/v1/status").json();
            if f(&s) {
                return s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}\n{}", d.log_text());
    }

    fn audio_files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.audio)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

fn outcome(row: &Value) -> &str {
    row["outcome"].as_str().unwrap_or("")
}

/// The reason of an item the emergency `short` cut, as data: its code and
/// arguments in the API, its text per language there, and in Vietnamese in
/// `loa airtime`, from the ledger's code.
fn cut_by_the_emergency_reads_as_data(st: &Station, long: &Value) {
    assert_eq!(long["reason_code"], "interrupted_by_emergency", "{long}");
    assert_eq!(long["reason_args"]["bulletin"], "short", "{long}");
    let vi = "bị ngắt để phát tin khẩn cấp «Nhạc hiệu»";
    assert_eq!(long["reason_vi"], vi, "{long}");
    let out = std::process::Command::new(common::bin::loa())
        .arg("airtime")
        .arg("--config")
        .arg(&st.config)
        .env_remove("LOA_CONFIG")
        .output()
        .expect("run loa airtime");
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(listing.contains(vi), "{listing}");
    assert!(!listing.contains("interrupted by"), "{listing}");
}

#[test]
fn the_api_steers_a_running_station() {
    let st = station();
    let d = Daemon::start(&st.config, st.addr);

    // Open and closed doors.
    let open = request(st.addr, "GET", "/healthz", None, None).unwrap();
    assert_eq!(open.status, 200);
    let closed = request(st.addr, "GET", "/api/v1/status", None, None).unwrap();
    assert_eq!(closed.status, 401);
    assert_eq!(closed.json()["error"], "unauthorized");
    let low = request(st.addr, "POST", "/api/v1/skip", Some(&st.viewer), None).unwrap();
    assert_eq!(low.status, 403);
    let metrics = request(st.addr, "GET", "/metrics", None, None).unwrap();
    assert_eq!(metrics.status, 200);
    assert!(metrics.text().contains("loa_"));

    // A queued bulletin airs, then an emergency interrupts it.
    let q = st.post("/api/v1/queue", json!({"bulletin": "long"}));
    assert_eq!(q.status, 202, "{q:?}");
    assert_eq!(q.json()["requested_by"], "van-hoa-xa-hoi");
    st.wait_status(&d, "long to air", |s| s["airing"]["bulletin"] == "long");
    std::thread::sleep(Duration::from_millis(1500));
    let e = st.post("/api/v1/emergency", json!({"bulletin": "short"}));
    assert_eq!(e.status, 202, "{e:?}");
    let long = st.wait_row(&d, "long interrupted", |r| {
        r["bulletin"] == "long" && !r["outcome"].is_null()
    });
    assert_eq!(outcome(&long), "interrupted");
    assert_eq!(long["requested_by"], "van-hoa-xa-hoi");
    assert_eq!(long["source"], "operator");
    assert!(long["reason"].as_str().unwrap().contains("emergency"));
    cut_by_the_emergency_reads_as_data(&st, &long);
    assert!(long["aired_seconds"].as_f64().unwrap() >= 1.0, "{long}");
    let short = st.wait_row(&d, "the emergency completed", |r| {
        r["bulletin"] == "short" && outcome(r) == "completed"
    });
    assert_eq!(short["source"], "emergency");

    // Paused: what falls due is recorded skipped.
    assert_eq!(st.post_empty("/api/v1/pause").status, 200);
    let q = st.post("/api/v1/queue", json!({"bulletin": "short"}));
    assert_eq!(q.status, 202);
    let skipped = st.wait_row(&d, "skipped while paused", |r| outcome(r) == "skipped");
    assert_eq!(skipped["reason"], "station paused");
    assert_eq!(skipped["reason_code"], "station_paused");
    assert_eq!(skipped["reason_vi"], "đài đang tạm dừng");
    assert_eq!(st.post_empty("/api/v1/resume").status, 200);

    // A phone recording is uploaded and airs.
    let before = st.audio_files();
    let m4a = std::fs::read(repo("tests/fixtures/audio/aac-lc-moov-end.m4a")).unwrap();
    let (ctype, body) = multipart("Ghi âm điện thoại.m4a", &m4a);
    let u = request(
        st.addr,
        "POST",
        "/api/v1/audio",
        Some(&st.operator),
        Some((&ctype, &body)),
    )
    .unwrap();
    assert_eq!(u.status, 201, "{u:?}");
    let name = u.json()["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("ghi-am-dien-thoai-") && name.ends_with(".m4a"));
    let q = st.post("/api/v1/queue", json!({"file": name}));
    assert_eq!(q.status, 202, "{q:?}");
    let aired = st.wait_row(&d, "the upload aired", |r| {
        r["file"] == name.as_str() && !r["outcome"].is_null()
    });
    assert_eq!(outcome(&aired), "completed", "{aired}");
    assert!((aired["aired_seconds"].as_f64().unwrap() - 2.0).abs() < 0.3);

    // Random bytes are refused and leave nothing behind.
    let mut noise = vec![0u8; 50_000];
    let mut x: u32 = 0x1234_5678;
    for b in &mut noise {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let (ctype, body) = multipart("noise.mp3", &noise);
    let u = request(
        st.addr,
        "POST",
        "/api/v1/audio",
        Some(&st.operator),
        Some((&ctype, &body)),
    )
    .unwrap();
    assert_eq!(u.status, 415, "{u:?}");
    assert_eq!(u.json()["error"], "bad_audio");
    let mut expected = before.clone();
    expected.push(name.clone());
    expected.sort();
    assert_eq!(st.audio_files(), expected);

    // Everything above is in the audit log, with who did it.
    let audit = request(st.addr, "GET", "/api/v1/audit", Some(&st.admin), None).unwrap();
    assert_eq!(audit.status, 200);
    let actions: Vec<String> = audit
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["who"].as_str().unwrap(),
                r["action"].as_str().unwrap()
            )
        })
        .collect();
    for a in [
        "van-hoa-xa-hoi queue",
        "van-hoa-xa-hoi emergency",
        "van-hoa-xa-hoi pause",
        "van-hoa-xa-hoi resume",
        "van-hoa-xa-hoi upload",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }

    // The report as officials download it.
    let csv = st.get("/api/v1/report?format=csv");
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment"));
    drop(d);
}

#[test]
fn the_operator_queue_survives_a_restart() {
    let st = station();
    let d = Daemon::start(&st.config, st.addr);
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let q = st.post("/api/v1/queue", json!({"bulletin": "short", "at": at}));
    assert_eq!(q.status, 202, "{q:?}");
    let queued = q.json();
    let id = queued["id"].as_u64().unwrap();
    // SIGTERM, and wait for the daemon to exit.
    drop(d);

    let d = Daemon::start(&st.config, st.addr);
    let list = st.get("/api/v1/queue");
    assert_eq!(list.status, 200, "{list:?}");
    let list = list.json();
    assert_eq!(list["queue_length"], 1, "{list}\n{}", d.log_text());
    let kept = &list["queue"][0];
    assert_eq!(kept["id"], id, "{list}");
    for field in ["occurrence", "bulletin", "priority", "at", "requested_by"] {
        assert_eq!(kept[field], queued[field], "{field}: {list}");
    }
    let q = st.post("/api/v1/queue", json!({"bulletin": "long", "at": at}));
    assert_eq!(q.status, 202, "{q:?}");
    let new = q.json()["id"].as_u64().unwrap();
    assert!(new > id, "a new entry gets a larger id: {new} after {id}");
    assert!(
        d.log_text().contains("operator queue restored"),
        "{}",
        d.log_text()
    );
    drop(d);
}

#[test]
fn a_taken_port_stops_the_start_with_a_clear_error() {
    let st = station();
    // Hold a port of our own (not st.addr, which a parallel test's daemon
    // may have been handed meanwhile) and point the station at it.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap();
    let text = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(
        &st.config,
        text.replace(&st.addr.to_string(), &taken.to_string()),
    )
    .unwrap();
    let out = std::process::Command::new(common::bin::loa())
        .args(["run", "--config", st.config.to_str().unwrap()])
        .env_remove("LOA_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[api] listen"), "{err}");
    assert!(err.contains(&taken.to_string()), "{err}");
}

#[test]
fn token_new_refuses_a_name_that_needs_quoting() {
    let out = std::process::Command::new(common::bin::loa())
        .args(["token", "new", "a b\"", "operator"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("letters, digits"));
    let out = std::process::Command::new(common::bin::loa())
        .args(["token", "new", "ok", "superuser"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
