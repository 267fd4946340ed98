//! The router in-process: a real station file (audio probed), a real
//! ledger and the engine over `FakePlayout`, which "plays" in real time on
//! tokio's clock. Each request goes through `ServiceExt::oneshot`, with the
//! peer address set by `MockConnectInfo`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use axum::body::Body as HttpBody;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;
use crate::config::Role;
use crate::control::Control;
use crate::ledger::{AirtimeRow, Filter, Ledger};
use crate::token::{hash, hex};

const VIEWER: &str = "viewer-secret";
const OPERATOR: &str = "operator-secret";
const ADMIN: &str = "admin-secret";
const METRICS: &str = "metrics-secret";

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn station_text(extra: &str) -> String {
    format!(
        r#"
[station]
name = "Xã Test"
audio_dir = "audio"
data_dir = "var"
[api]
max_upload_mb = 1
[[api.token]]
name = "xem"
role = "viewer"
sha256 = "{}"
[[api.token]]
name = "van-hanh"
role = "operator"
sha256 = "{}"
[[api.token]]
name = "quan-tri"
role = "admin"
sha256 = "{}"
[[api.token]]
name = "prometheus-tinh"
role = "metrics"
sha256 = "{}"
[[campaign]]
id = "cds"
title = "Chuyển đổi số"
[[bulletin]]
id = "long"
title = "Thông điệp dài"
file = "long.mp3"
campaign = "cds"
at = ["06:00"]
[[bulletin]]
id = "tone"
title = "Tín hiệu"
file = "tone.wav"
{extra}
"#,
        hex(&hash(VIEWER)),
        hex(&hash(OPERATOR)),
        hex(&hash(ADMIN)),
        hex(&hash(METRICS)),
    )
}

struct Rig {
    _dir: tempfile::TempDir,
    root: PathBuf,
    audio: PathBuf,
    state: AppState,
    app: Router,
    ledger: PathBuf,
    tz: chrono_tz::Tz,
}

async fn rig() -> Rig {
    rig_with(&station_text("")).await
}

/// A rig on the station file `text`.
async fn rig_with(text: &str) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::write(root.join("secret.mp3"), b"not yours").unwrap();
    let state = Control::for_test(&root, text);
    let station = state.current.get();
    let ledger_path = station.ledger_path();
    let app = router(Arc::clone(&state));
    Rig {
        _dir: dir,
        audio: station.audio_dir.clone(),
        root,
        state,
        app,
        ledger: ledger_path,
        tz: station.timezone,
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, String::from_utf8_lossy(&self.body))
    }
}

const LOCAL: [u8; 4] = [127, 0, 0, 1];
const REMOTE: [u8; 4] = [192, 168, 1, 20];

impl Rig {
    async fn send(
        &self,
        from: [u8; 4],
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some((ctype, bytes)) => req
                .header(header::CONTENT_TYPE, ctype)
                .header(header::CONTENT_LENGTH, bytes.len())
                .body(HttpBody::from(bytes)),
            None => req.body(HttpBody::empty()),
        }
        .unwrap();
        let app = self
            .app
            .clone()
            .layer(MockConnectInfo(SocketAddr::from((from, 40000))));
        let resp = app.oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(LOCAL, "GET", path, Some(token), None).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(
            LOCAL,
            "POST",
            path,
            Some(token),
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    async fn post_raw(&self, path: &str, ctype: &str, body: &[u8]) -> Reply {
        self.send(
            LOCAL,
            "POST",
            path,
            Some(OPERATOR),
            Some((ctype, body.to_vec())),
        )
        .await
    }

    async fn status(&self) -> Value {
        self.get("/api/v1/status", VIEWER).await.json()
    }

    /// Poll the status until `f` holds (generous: CI is a busy box).
    async fn wait_status(&self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
            let s = self.status().await;
            if f(&s) {
                return s;
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}: {}", self.status().await);
    }

    fn rows(&self) -> Vec<AirtimeRow> {
        self.state.recorder.flush(StdDuration::from_secs(2));
        Ledger::open_read_only(&self.ledger, self.tz)
            .unwrap()
            .rows(&Filter::default())
            .unwrap()
    }

    async fn wait_row(&self, what: &str, f: impl Fn(&AirtimeRow) -> bool) -> AirtimeRow {
        for _ in 0..200 {
            if let Some(r) = self.rows().into_iter().find(&f) {
                return r;
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        panic!("timed out waiting for a row: {what}: {:#?}", self.rows());
    }

    fn audio_files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.audio)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Nothing airs and nothing waits.
    async fn assert_quiet(&self) {
        let s = self.status().await;
        assert!(s["airing"].is_null(), "{s}");
        assert_eq!(s["queue"], json!([]), "{s}");
    }
}

fn multipart(file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "loa-test-boundary-7d1f";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

// -- Routes and access ---------------------------------------------------------

#[tokio::test]
async fn every_route_is_in_the_openapi_document_and_served() {
    let r = rig().await;
    let doc = r
        .send(REMOTE, "GET", "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let mut documented = 0;
    for (_, item) in doc["paths"].as_object().unwrap() {
        documented += item.as_object().unwrap().len();
    }
    let table = routes();
    assert_eq!(documented, table.len());
    for route in &table {
        let m = route.method.as_str().to_ascii_lowercase();
        let op = &doc["paths"][route.path][&m];
        assert!(op.is_object(), "{} {} missing", m, route.path);
        assert!(op["responses"].is_object());
        // Served: whatever the guard says, it is not the fallback's 404.
        let path = route.path.replace("{id}", "1");
        let reply = r
            .send(REMOTE, route.method.as_str(), &path, None, None)
            .await;
        assert_ne!(reply.error(), "no_route", "{} {}", m, route.path);
        if matches!(route.access, Access::Role(_)) {
            assert!(op["responses"]["401"].is_object());
        }
    }
    let none = r.get("/api/v1/nope", ADMIN).await;
    assert_eq!(
        (none.status, none.error().as_str()),
        (StatusCode::NOT_FOUND, "no_route")
    );
    let wrong = r
        .send(LOCAL, "PUT", "/api/v1/status", Some(ADMIN), None)
        .await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.error(), "method_not_allowed");
}

#[tokio::test]
async fn each_role_boundary_is_enforced() {
    let r = rig().await;
    for route in routes() {
        let path = route.path.replace("{id}", "1");
        let m = route.method.as_str();
        let Access::Role(needed) = route.access else {
            continue;
        };
        // No token, a wrong one, a malformed header: 401, nothing runs.
        let none = r.send(REMOTE, m, &path, None, None).await;
        assert_eq!(none.status, 401, "{m} {path}: {none:?}");
        assert_eq!(none.error(), "unauthorized");
        assert_eq!(none.headers[header::WWW_AUTHENTICATE], "Bearer");
        let wrong = r.send(LOCAL, m, &path, Some("guess"), None).await;
        assert_eq!(wrong.status, 401, "{m} {path}");
        // Just below the role needed: 403.
        let below = match needed {
            Role::Metrics => None,
            Role::Viewer => Some(METRICS),
            Role::Operator => Some(VIEWER),
            Role::Admin => Some(OPERATOR),
        };
        if let Some(t) = below {
            let reply = r.send(LOCAL, m, &path, Some(t), None).await;
            assert_eq!(reply.status, 403, "{m} {path}: {reply:?}");
            assert_eq!(reply.error(), "forbidden");
        }
    }
    // Role 403s changed nothing on air.
    r.assert_quiet().await;
    assert!(!r.status().await["paused"].as_bool().unwrap());
    // A header that is not `Bearer ...`.
    let mut req = Request::builder()
        .uri("/api/v1/status")
        .header(header::AUTHORIZATION, format!("Basic {VIEWER}"))
        .body(HttpBody::empty())
        .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(SocketAddr::from((LOCAL, 1))));
    let resp = r.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn healthz_is_open_and_metrics_open_on_loopback_only() {
    let r = rig().await;
    let h = r.send(REMOTE, "GET", "/healthz", None, None).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["ok"], true);

    let local = r.send(LOCAL, "GET", "/metrics", None, None).await;
    assert_eq!(local.status, 200);
    assert!(local.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(String::from_utf8_lossy(&local.body).contains("loa_items_total"));
    let remote = r.send(REMOTE, "GET", "/metrics", None, None).await;
    assert_eq!(remote.status, 401);
    let remote = r.send(REMOTE, "GET", "/metrics", Some("wrong"), None).await;
    assert_eq!(remote.status, 401);
    let remote = r.send(REMOTE, "GET", "/metrics", Some(VIEWER), None).await;
    assert_eq!(remote.status, 200);
    // A province's Prometheus holds a `metrics` token: it reads /metrics
    // from elsewhere, and nothing else.
    let remote = r.send(REMOTE, "GET", "/metrics", Some(METRICS), None).await;
    assert_eq!(remote.status, 200);
    assert!(String::from_utf8_lossy(&remote.body).contains("loa_station_info{"));
    let status = r
        .send(REMOTE, "GET", "/api/v1/status", Some(METRICS), None)
        .await;
    assert_eq!(status.status, 403);
}

// -- Reading -------------------------------------------------------------------

#[tokio::test]
async fn status_shows_what_airs_the_queue_and_what_comes_next() {
    let r = rig().await;
    let s = r.status().await;
    assert_eq!(s["station"], "Xã Test");
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(s["output"]["state"], "idle");
    assert_eq!(s["paused"], false);
    assert!(s["uptime_seconds"].is_u64());
    // The 06:00 bulletin is within the next 24 hours, whatever the time.
    let next = s["next"].as_array().unwrap();
    assert!(!next.is_empty() && next.len() <= 5, "{s}");
    assert_eq!(next[0]["id"], "long");

    let q = r
        .post("/api/v1/queue", OPERATOR, json!({"bulletin": "long"}))
        .await;
    assert_eq!(q.status, 202, "{q:?}");
    let s = r
        .wait_status("long to air", |s| s["airing"]["bulletin"] == "long")
        .await;
    let a = &s["airing"];
    assert_eq!(a["title"], "Thông điệp dài");
    assert_eq!(a["priority"], "normal");
    assert_eq!(a["source"], "operator");
    assert!((a["duration_seconds"].as_f64().unwrap() - 21.4).abs() < 0.2);
    assert!(a["position_seconds"].as_f64().unwrap() >= 0.0);
    assert!(a["started_at"].as_str().unwrap().ends_with("+07:00"));
    assert_eq!(s["output"]["state"], "open");
}

#[tokio::test]
async fn schedule_is_the_cli_plan_with_a_capped_range() {
    let r = rig().await;
    let p = r
        .get("/api/v1/schedule?from=2026-10-07&to=2026-10-08", VIEWER)
        .await;
    assert_eq!(p.status, 200, "{p:?}");
    let plan = p.json();
    let ats: Vec<&str> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["at"].as_str().unwrap())
        .collect();
    assert_eq!(
        ats,
        [
            "2026-10-07T06:00:00.000+07:00",
            "2026-10-08T06:00:00.000+07:00"
        ]
    );
    assert_eq!(plan[0]["campaign"], "cds");
    let long = r
        .get("/api/v1/schedule?from=2026-01-01&to=2027-12-31", VIEWER)
        .await;
    assert_eq!(
        (long.status.as_u16(), long.error().as_str()),
        (400, "range_too_long")
    );
    let bad = r.get("/api/v1/schedule?from=tomorrow", VIEWER).await;
    assert_eq!(
        (bad.status.as_u16(), bad.error().as_str()),
        (400, "bad_range")
    );
    assert!(bad.json()["message"]
        .as_str()
        .unwrap()
        .contains("2026-10-01"));
    let back = r
        .get("/api/v1/schedule?from=2026-10-08&to=2026-10-07", VIEWER)
        .await;
    assert_eq!(back.status, 400);
    let unknown = r.get("/api/v1/schedule?form=2026-10-08", VIEWER).await;
    assert_eq!(
        (unknown.status.as_u16(), unknown.error().as_str()),
        (400, "bad_query")
    );
}

#[tokio::test]
async fn bulletins_list_items_and_probed_files() {
    let r = rig().await;
    std::fs::write(r.audio.join("junk.mp3"), [0x55u8; 4000]).unwrap();
    // Measured (as `loa check` or the daemon's background thread does):
    // its level and gain are listed; not measured yet: null.
    let data_dir = r.ledger.parent().unwrap();
    let level = crate::audio::loudness::cache(data_dir)
        .level(&r.audio.join("long.mp3"))
        .unwrap();
    let b = r.get("/api/v1/bulletins", VIEWER).await;
    assert_eq!(b.status, 200);
    let b = b.json();
    let long = &b["bulletins"][0];
    assert_eq!(long["id"], "long");
    assert_eq!(long["audio"]["format"], "mp3");
    assert_eq!(long["scheduled"], true);
    assert_eq!(b["bulletins"][1]["scheduled"], false);
    let lufs = long["loudness"]["lufs"].as_f64().unwrap();
    assert!((lufs - level.lufs).abs() < 1e-9, "{long}");
    let gain = long["loudness"]["gain_db"].as_f64().unwrap();
    assert!((gain - level.gain_db(-16.0)).abs() < 1e-9, "{long}");
    assert!(b["bulletins"][1]["loudness"].is_null(), "{b}");
    let files: Vec<&str> = b["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["junk.mp3", "long.mp3", "tone.wav"]);
    assert!(b["files"][0]["problem"].is_string());
    assert_eq!(b["files"][2]["audio"]["format"], "wav");
}

#[tokio::test]
async fn a_file_in_a_sub_folder_is_listed_and_can_be_queued_by_that_name() {
    let r = rig().await;
    std::fs::create_dir(r.audio.join("sub")).unwrap();
    std::fs::copy(r.audio.join("tone.wav"), r.audio.join("sub/c.wav")).unwrap();
    let b = r.get("/api/v1/bulletins", VIEWER).await.json();
    let listed = b["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["file"] == "sub/c.wav");
    assert!(listed, "{b:#}");
    let q = r
        .post("/api/v1/queue", OPERATOR, json!({"file": "sub/c.wav"}))
        .await;
    assert_eq!(q.status, 202, "{q:?}");
    let row = r
        .wait_row("sub/c.wav aired", |x| {
            x.file == "sub/c.wav" && x.outcome.is_some()
        })
        .await;
    assert_eq!(row.outcome.unwrap().as_str(), "completed");
}

// -- Queue -----------------------------------------------------------------------

#[tokio::test]
async fn bad_queue_requests_are_refused_and_change_nothing() {
    let r = rig().await;
    let outside = r.audio.join("out.mp3");
    std::os::unix::fs::symlink(r.root.join("secret.mp3"), &outside).unwrap();
    std::fs::write(
        r.audio.join("text.mp3"),
        "xin chào, đây không phải âm thanh\n",
    )
    .unwrap();
    let cases: Vec<(&str, &[u8], u16, &str)> = vec![
        ("application/json", b"{\"bulletin\":", 400, "malformed_json"),
        ("application/json", b"[1,2]", 422, "invalid_body"),
        (
            "text/plain",
            b"{\"bulletin\":\"long\"}",
            415,
            "unsupported_media_type",
        ),
        (
            "application/json",
            b"{\"bulletin\":\"long\",\"x\":1}",
            422,
            "invalid_body",
        ),
        ("application/json", b"{}", 422, "bulletin_or_file"),
        (
            "application/json",
            b"{\"bulletin\":\"long\",\"file\":\"long.mp3\"}",
            422,
            "bulletin_or_file",
        ),
        (
            "application/json",
            b"{\"bulletin\":\"nope\"}",
            404,
            "unknown_bulletin",
        ),
        (
            "application/json",
            b"{\"file\":\"../station.toml\"}",
            422,
            "bad_file_name",
        ),
        (
            "application/json",
            b"{\"file\":\"..\"}",
            422,
            "bad_file_name",
        ),
        (
            "application/json",
            b"{\"file\":\"a\\u0000.mp3\"}",
            422,
            "bad_file_name",
        ),
        (
            "application/json",
            b"{\"file\":\"/etc/passwd\"}",
            422,
            "bad_file_name",
        ),
        (
            "application/json",
            b"{\"file\":\"missing.mp3\"}",
            404,
            "unknown_file",
        ),
        (
            "application/json",
            b"{\"file\":\"out.mp3\"}",
            422,
            "file_outside_audio_dir",
        ),
        (
            "application/json",
            b"{\"file\":\"text.mp3\"}",
            415,
            "bad_audio",
        ),
        (
            "application/json",
            b"{\"bulletin\":\"long\",\"priority\":\"emergency\"}",
            422,
            "use_emergency_route",
        ),
        (
            "application/json",
            b"{\"bulletin\":\"long\",\"priority\":\"urgent\"}",
            422,
            "bad_priority",
        ),
        (
            "application/json",
            b"{\"bulletin\":\"long\",\"at\":\"tomorrow\"}",
            422,
            "bad_time",
        ),
        (
            "application/json",
            b"{\"bulletin\":\"long\",\"at\":\"2020-01-01T00:00:00Z\"}",
            422,
            "time_in_past",
        ),
    ];
    for (ctype, body, status, code) in cases {
        let reply = r.post_raw("/api/v1/queue", ctype, body).await;
        assert_eq!(
            (reply.status.as_u16(), reply.error().as_str()),
            (status, code),
            "{}: {reply:?}",
            String::from_utf8_lossy(body)
        );
        let message = reply.json()["message"].as_str().unwrap().to_string();
        assert!(!message.is_empty());
        // Operators see names inside audio_dir, never the host's paths.
        assert!(
            !message.contains(r.root.to_str().unwrap()),
            "a host path in {message:?}"
        );
    }
    // Bigger than any control request.
    let huge = format!("{{\"bulletin\":\"{}\"}}", "x".repeat(MAX_JSON_BODY));
    let reply = r
        .post_raw("/api/v1/queue", "application/json", huge.as_bytes())
        .await;
    assert_eq!(reply.status, 413, "{reply:?}");
    assert_eq!(reply.error(), "body_too_large");
    r.assert_quiet().await;
    assert!(r.rows().is_empty());
}

#[tokio::test]
async fn a_file_is_queued_at_a_time_listed_and_removed() {
    let r = rig().await;
    let at = (Utc::now() + Duration::hours(1)).to_rfc3339();
    let q = r
        .post(
            "/api/v1/queue",
            OPERATOR,
            json!({"file": "tone.wav", "at": at, "priority": "priority"}),
        )
        .await;
    assert_eq!(q.status, 202, "{q:?}");
    let entry = q.json();
    assert_eq!(entry["bulletin"], "tone.wav");
    assert_eq!(entry["priority"], "priority");
    assert_eq!(entry["requested_by"], "van-hanh");
    let id = entry["id"].as_u64().unwrap();
    let list = r.get("/api/v1/queue", VIEWER).await.json();
    assert_eq!(list["queue"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["queue"][0]["id"], id);
    assert_eq!(list["queue_length"], 1);

    let path = format!("/api/v1/queue/{id}");
    let d = r.send(LOCAL, "DELETE", &path, Some(OPERATOR), None).await;
    assert_eq!(d.status, 200, "{d:?}");
    let again = r.send(LOCAL, "DELETE", &path, Some(OPERATOR), None).await;
    assert_eq!(
        (again.status.as_u16(), again.error().as_str()),
        (404, "unknown_entry")
    );
    let bad = r
        .send(LOCAL, "DELETE", "/api/v1/queue/abc", Some(OPERATOR), None)
        .await;
    assert_eq!(
        (bad.status.as_u16(), bad.error().as_str()),
        (400, "bad_path")
    );
    r.assert_quiet().await;
}

#[tokio::test]
async fn past_max_queue_a_request_gets_429_saying_how_to_make_room() {
    let text =
        station_text("").replace("max_upload_mb = 1\n", "max_upload_mb = 1\nmax_queue = 3\n");
    let r = rig_with(&text).await;
    let at = (Utc::now() + Duration::hours(1)).to_rfc3339();
    let body = json!({"bulletin": "tone", "at": at});
    let mut ids = Vec::new();
    for _ in 0..3 {
        let q = r.post("/api/v1/queue", OPERATOR, body.clone()).await;
        assert_eq!(q.status, 202, "{q:?}");
        ids.push(q.json()["id"].as_u64().unwrap());
    }
    let full = r.post("/api/v1/queue", OPERATOR, body.clone()).await;
    assert_eq!(
        (full.status.as_u16(), full.error().as_str()),
        (429, "queue_full"),
        "{full:?}"
    );
    let msg = full.json()["message"].as_str().unwrap().to_string();
    assert!(msg.starts_with("Hàng chờ đã đầy"), "{msg}");
    assert!(msg.contains("DELETE /api/v1/queue/"), "{msg}");
    assert!(msg.contains("max_queue"), "{msg}");
    assert_eq!(r.status().await["queue_length"], 3);
    // Removing one makes room for one.
    let path = format!("/api/v1/queue/{}", ids[0]);
    let d = r.send(LOCAL, "DELETE", &path, Some(OPERATOR), None).await;
    assert_eq!(d.status, 200, "{d:?}");
    let q = r.post("/api/v1/queue", OPERATOR, body).await;
    assert_eq!(q.status, 202, "{q:?}");
}

#[tokio::test]
async fn the_status_shows_the_head_of_a_long_queue_and_the_list_pages() {
    let r = rig().await;
    let base = Utc::now() + Duration::hours(1);
    let mut ids = Vec::new();
    for i in 0..25 {
        let at = (base + Duration::minutes(i)).to_rfc3339();
        let q = r
            .post(
                "/api/v1/queue",
                OPERATOR,
                json!({"bulletin": "tone", "at": at}),
            )
            .await;
        assert_eq!(q.status, 202, "{q:?}");
        ids.push(q.json()["id"].clone());
    }
    let s = r.status().await;
    assert_eq!(s["queue_length"], 25, "{s}");
    let head = s["queue"].as_array().unwrap();
    assert_eq!(head.len(), 20, "{s}");
    assert_eq!(
        head.iter().map(|q| q["id"].clone()).collect::<Vec<_>>(),
        ids[..20]
    );

    let page = r
        .get("/api/v1/queue?offset=20&limit=10", VIEWER)
        .await
        .json();
    assert_eq!(page["queue_length"], 25, "{page}");
    assert_eq!(
        (page["offset"].clone(), page["limit"].clone()),
        (json!(20), json!(10))
    );
    let rest: Vec<Value> = page["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].clone())
        .collect();
    assert_eq!(rest, ids[20..]);
    let all = r.get("/api/v1/queue", VIEWER).await.json();
    assert_eq!(all["queue"].as_array().unwrap().len(), 25, "{all}");
    for bad in ["limit=0", "limit=501", "offset=-1", "page=2"] {
        let b = r.get(&format!("/api/v1/queue?{bad}"), VIEWER).await;
        assert_eq!(b.status, 400, "{bad}: {b:?}");
    }
}

// -- On air --------------------------------------------------------------------

#[tokio::test]
async fn skip_ends_what_airs_and_names_the_token() {
    let r = rig().await;
    let none = r
        .send(LOCAL, "POST", "/api/v1/skip", Some(OPERATOR), None)
        .await;
    assert_eq!(
        (none.status.as_u16(), none.error().as_str()),
        (409, "nothing_airing")
    );
    r.post("/api/v1/queue", OPERATOR, json!({"bulletin": "long"}))
        .await;
    r.post("/api/v1/queue", OPERATOR, json!({"bulletin": "tone"}))
        .await;
    r.wait_status("long airs", |s| s["airing"]["bulletin"] == "long")
        .await;
    let s = r
        .send(LOCAL, "POST", "/api/v1/skip", Some(OPERATOR), None)
        .await;
    assert_eq!(s.status, 200, "{s:?}");
    assert_eq!(s.json()["skipped"], "Thông điệp dài");
    let row = r
        .wait_row("long interrupted", |x| {
            x.bulletin == "long" && x.outcome.is_some()
        })
        .await;
    assert_eq!(row.outcome.unwrap().as_str(), "interrupted");
    assert_eq!(row.reason.as_deref(), Some("skipped by token van-hanh"));
    assert_eq!(row.requested_by.as_deref(), Some("van-hanh"));
    // The next item airs.
    r.wait_row("tone completed", |x| {
        x.bulletin == "tone" && x.outcome.is_some_and(|o| o.as_str() == "completed")
    })
    .await;
}

#[tokio::test]
async fn pause_skips_what_falls_due_until_resume() {
    let r = rig().await;
    let p = r
        .send(LOCAL, "POST", "/api/v1/pause", Some(OPERATOR), None)
        .await;
    assert_eq!(p.status, 200, "{p:?}");
    assert_eq!(r.status().await["paused"], true);
    let again = r
        .send(LOCAL, "POST", "/api/v1/pause", Some(OPERATOR), None)
        .await;
    assert_eq!(
        (again.status.as_u16(), again.error().as_str()),
        (409, "already_paused")
    );
    let q = r
        .post("/api/v1/queue", OPERATOR, json!({"bulletin": "tone"}))
        .await;
    assert_eq!(q.status, 202);
    let row = r.wait_row("tone skipped", |x| x.bulletin == "tone").await;
    assert_eq!(row.outcome.unwrap().as_str(), "skipped");
    assert_eq!(row.reason.as_deref(), Some("station paused"));
    let res = r
        .send(LOCAL, "POST", "/api/v1/resume", Some(OPERATOR), None)
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(r.status().await["paused"], false);
    let again = r
        .send(LOCAL, "POST", "/api/v1/resume", Some(OPERATOR), None)
        .await;
    assert_eq!(
        (again.status.as_u16(), again.error().as_str()),
        (409, "not_paused")
    );
}

#[tokio::test]
async fn an_emergency_cuts_in_repeats_and_is_cancelled() {
    let r = rig().await;
    let until = (Utc::now() + Duration::hours(2)).to_rfc3339();
    for (body, code) in [
        (
            json!({"bulletin": "tone", "repeat_every": "often"}),
            "bad_duration",
        ),
        (
            json!({"bulletin": "tone", "repeat_every": "10s"}),
            "repeat_too_often",
        ),
        (
            json!({"bulletin": "tone", "repeat_every": "4294967295s"}),
            "repeat_too_rare",
        ),
        (
            json!({"bulletin": "tone", "repeat_every": "30m", "until": "2020-01-01T00:00:00Z"}),
            "time_in_past",
        ),
        (
            json!({"bulletin": "tone", "repeat_every": "30m", "until": "2030-06-30T23:59:60Z"}),
            "bad_time",
        ),
        (
            json!({"bulletin": "tone", "until": until.clone()}),
            "until_without_repeat",
        ),
        (json!({"bulletin": "nope"}), "unknown_bulletin"),
        (json!({"file": "../x.mp3"}), "bad_file_name"),
    ] {
        let e = r.post("/api/v1/emergency", OPERATOR, body.clone()).await;
        assert_eq!(e.error(), code, "{body}: {e:?}");
    }
    r.assert_quiet().await;
    let none = r
        .send(LOCAL, "DELETE", "/api/v1/emergency", Some(OPERATOR), None)
        .await;
    assert_eq!(
        (none.status.as_u16(), none.error().as_str()),
        (409, "no_emergency")
    );

    r.post("/api/v1/queue", OPERATOR, json!({"bulletin": "long"}))
        .await;
    r.wait_status("long airs", |s| s["airing"]["bulletin"] == "long")
        .await;
    let e = r
        .post(
            "/api/v1/emergency",
            OPERATOR,
            json!({"bulletin": "tone", "repeat_every": "30m", "until": until}),
        )
        .await;
    assert_eq!(e.status, 202, "{e:?}");
    assert_eq!(e.json()["priority"], "emergency");
    let s = r
        .wait_status("the emergency airs", |s| s["airing"]["bulletin"] == "tone")
        .await;
    assert_eq!(s["emergency"]["repeat_every_seconds"], 1800);
    let cut = r
        .wait_row("long interrupted", |x| {
            x.bulletin == "long" && x.outcome.is_some()
        })
        .await;
    assert!(cut.reason.unwrap().contains("emergency"));
    let c = r
        .send(LOCAL, "DELETE", "/api/v1/emergency", Some(OPERATOR), None)
        .await;
    assert_eq!(c.status, 200, "{c:?}");
    r.wait_status("no repeat", |s| s["emergency"].is_null())
        .await;
}

// -- Upload --------------------------------------------------------------------

#[tokio::test]
async fn a_phone_recording_is_uploaded_under_a_safe_name_and_queued() {
    let r = rig().await;
    let m4a = std::fs::read(fixture("tests/fixtures/audio/aac-lc-moov-end.m4a")).unwrap();
    let (ctype, body) = multipart("../../Thông báo họp thôn.m4a", &m4a);
    let u = r.post_raw("/api/v1/audio", &ctype, &body).await;
    assert_eq!(u.status, 201, "{u:?}");
    let u = u.json();
    let name = u["name"].as_str().unwrap();
    assert!(name.starts_with("thong-bao-hop-thon-2"), "{name}");
    assert!(name.ends_with(".m4a"));
    assert_eq!(u["format"], "m4a");
    assert!((u["duration_seconds"].as_f64().unwrap() - 2.0).abs() < 0.1);
    assert_eq!(
        std::fs::read(r.audio.join(name)).unwrap(),
        m4a,
        "stored as sent"
    );
    assert!(!r.audio_files().iter().any(|f| f.starts_with('.')));
    // The same name again lands beside it.
    let again = r.post_raw("/api/v1/audio", &ctype, &body).await.json();
    assert_ne!(again["name"], u["name"]);
    let q = r
        .post("/api/v1/queue", OPERATOR, json!({"file": name}))
        .await;
    assert_eq!(q.status, 202, "{q:?}");
    r.wait_row("the upload aired", |x| {
        x.file == name && x.outcome.is_some_and(|o| o.as_str() == "completed")
    })
    .await;
    // A phone's HE-AAC recording and chat apps' Opus voice notes are
    // accepted, under the extension of what they are.
    for (file, ext) in [
        ("he-aac-explicit.m4a", ".m4a"),
        ("opus.ogg", ".opus"),
        ("opus.webm", ".webm"),
    ] {
        let bytes = std::fs::read(fixture(&format!("tests/fixtures/audio/{file}"))).unwrap();
        let (ctype, body) = multipart("ghi âm", &bytes);
        let u = r.post_raw("/api/v1/audio", &ctype, &body).await;
        assert_eq!(u.status, 201, "{file}: {u:?}");
        let name = u.json()["name"].as_str().unwrap().to_string();
        assert!(name.ends_with(ext), "{file}: {name}");
    }
}

#[tokio::test]
async fn refused_uploads_leave_nothing_behind() {
    let r = rig().await;
    let before = r.audio_files();
    let random: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (ctype, body) = multipart("noise.mp3", &random);
    let u = r.post_raw("/api/v1/audio", &ctype, &body).await;
    assert_eq!(
        (u.status.as_u16(), u.error().as_str()),
        (415, "bad_audio"),
        "{u:?}"
    );
    let msg = u.json()["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("noise.mp3") && !msg.contains(".loa-upload"),
        "{msg}"
    );

    // Audio that would air wrongly (cut short): 422.
    let cut = std::fs::read(fixture("tests/fixtures/audio/truncated.m4a")).unwrap();
    let (ctype, body) = multipart("cut.m4a", &cut);
    let u = r.post_raw("/api/v1/audio", &ctype, &body).await;
    assert_eq!(u.status, 422, "{u:?}");

    let (ctype, body) = multipart("empty.mp3", b"");
    let u = r.post_raw("/api/v1/audio", &ctype, &body).await;
    assert_eq!(u.status, 415, "{u:?}");

    // Over [api] max_upload_mb = 1: refused from the Content-Length, and
    // without one, while streaming.
    let big = vec![0xffu8; 1024 * 1024 + 10];
    let (ctype, body) = multipart("big.mp3", &big);
    let u = r.post_raw("/api/v1/audio", &ctype, &body).await;
    assert_eq!(
        (u.status.as_u16(), u.error().as_str()),
        (413, "upload_too_large")
    );
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/audio")
        .header(header::AUTHORIZATION, format!("Bearer {OPERATOR}"))
        .header(header::CONTENT_TYPE, &ctype)
        .body(HttpBody::from(body))
        .unwrap();
    let resp = r
        .app
        .clone()
        .layer(MockConnectInfo(SocketAddr::from((LOCAL, 1))))
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);

    // A huge text field before the file is not read without bound.
    let note = format!(
        "--loa-test-boundary-7d1f\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n{}\r\n--loa-test-boundary-7d1f--\r\n",
        "x".repeat(200_000)
    );
    let u = r.post_raw("/api/v1/audio", &ctype, note.as_bytes()).await;
    assert_eq!(
        (u.status.as_u16(), u.error().as_str()),
        (413, "form_field_too_large"),
        "{u:?}"
    );
    // It says what is wrong: not the recording's size.
    assert!(
        !u.json()["message"].as_str().unwrap().contains("MB"),
        "{u:?}"
    );

    let u = r.post_raw("/api/v1/audio", "application/json", b"{}").await;
    assert_eq!(u.status, 415);
    let (ctype, _) = multipart("x", b"");
    let only_text = "--loa-test-boundary-7d1f\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--loa-test-boundary-7d1f--\r\n";
    let u = r
        .post_raw("/api/v1/audio", &ctype, only_text.as_bytes())
        .await;
    assert_eq!((u.status.as_u16(), u.error().as_str()), (400, "no_file"));
    let u = r
        .post_raw(
            "/api/v1/audio",
            &ctype,
            b"--loa-test-boundary-7d1f\r\ngarbage",
        )
        .await;
    assert_eq!(u.status, 400, "{u:?}");

    assert_eq!(r.audio_files(), before, "nothing left behind");
    r.assert_quiet().await;
}

// -- Reload, ledger, audit -----------------------------------------------------

#[tokio::test]
async fn reload_takes_a_valid_file_and_refuses_an_invalid_one() {
    let r = rig().await;
    let config = r.root.join("station.toml");
    std::fs::write(
        &config,
        station_text(
            "at = [\"25:00\"]\n[[bulletin]]\nid = \"x\"\ntitle = \"X\"\nfile = \"missing.mp3\"\n",
        ),
    )
    .unwrap();
    let bad = r
        .send(LOCAL, "POST", "/api/v1/reload", Some(ADMIN), None)
        .await;
    assert_eq!(
        (bad.status.as_u16(), bad.error().as_str()),
        (422, "invalid_station_file")
    );
    let errors = bad.json()["errors"].as_array().unwrap().clone();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().any(|e| e.as_str().unwrap().contains("`at`")));
    assert!(errors
        .iter()
        .any(|e| e.as_str().unwrap().contains("missing.mp3")));
    // Still the old station, and the status says the file on disk is not it.
    let b = r.get("/api/v1/bulletins", VIEWER).await.json();
    assert_eq!(b["bulletins"].as_array().unwrap().len(), 2);
    let s = r.get("/api/v1/status", VIEWER).await.json();
    assert_eq!(s["station_file"]["running"], "last_good", "{s}");
    assert_eq!(s["station_file"]["errors"], 1, "{s}");
    let m = r.send(LOCAL, "GET", "/metrics", None, None).await;
    let m = String::from_utf8_lossy(&m.body);
    assert!(m.contains("loa_station_file_last_good 1"), "{m}");

    // Only an audio problem: accepted, and the failing item is named.
    std::fs::write(
        &config,
        format!(
            "{}[[bulletin]]\nid = \"x\"\ntitle = \"X\"\nfile = \"missing.mp3\"\n",
            station_text("")
        ),
    )
    .unwrap();
    let audio = r
        .send(LOCAL, "POST", "/api/v1/reload", Some(ADMIN), None)
        .await;
    assert_eq!(audio.status, 200, "{audio:?}");
    assert_eq!(audio.json()["failing"], json!(["x"]));
    let s = r.get("/api/v1/status", VIEWER).await.json();
    assert_eq!(
        s["station_file"],
        json!({"running": "current", "errors": 0, "failing": ["x"]})
    );
    let kept = std::fs::read_to_string(r.root.join("var").join(crate::station::LAST_GOOD));
    assert!(kept.is_ok_and(|t| t.contains("missing.mp3")));

    let new_token = "new-operator-secret";
    std::fs::write(
        &config,
        format!(
            "{}[[bulletin]]\nid = \"tone2\"\ntitle = \"T2\"\nfile = \"tone.wav\"\n\
             [[api.token]]\nname = \"moi\"\nrole = \"operator\"\nsha256 = \"{}\"\n",
            station_text(""),
            hex(&hash(new_token))
        )
        .replace(
            "[api]\nmax_upload_mb = 1\n",
            "[api]\nmax_upload_mb = 1\nlisten = \"127.0.0.1:1\"\n",
        ),
    )
    .unwrap();
    let ok = r
        .send(LOCAL, "POST", "/api/v1/reload", Some(ADMIN), None)
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.json()["bulletins"], 3);
    // The new token works at once; the listen address is restart-only.
    let q = r
        .post("/api/v1/queue", new_token, json!({"bulletin": "tone2"}))
        .await;
    assert_eq!(q.status, 202, "{q:?}");
    assert_eq!(
        r.state.current.get().api.listen.to_string(),
        "127.0.0.1:8077"
    );
}

#[tokio::test]
async fn a_reload_queues_the_files_it_adds_for_loudness_measuring() {
    let r = rig().await;
    let fresh = r.audio.join("fresh.wav");
    std::fs::copy(r.audio.join("tone.wav"), &fresh).unwrap();
    std::fs::write(
        r.root.join("station.toml"),
        format!(
            "{}[[bulletin]]\nid = \"fresh\"\ntitle = \"F\"\nfile = \"fresh.wav\"\n",
            station_text("")
        ),
    )
    .unwrap();
    let ok = r
        .send(LOCAL, "POST", "/api/v1/reload", Some(ADMIN), None)
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    // Measured in the background, without being prepared to air: bounded
    // by work (one 1 s file), not by a timer.
    let cache = crate::audio::loudness::cache(&r.state.current.get().data_dir);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while cache.lookup(&fresh).is_none() {
        assert!(std::time::Instant::now() < deadline, "never measured");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn airtime_and_report_as_json_and_csv() {
    let r = rig().await;
    r.post("/api/v1/queue", OPERATOR, json!({"bulletin": "tone"}))
        .await;
    r.wait_row("tone completed", |x| x.outcome.is_some()).await;

    let a = r.get("/api/v1/airtime", VIEWER).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/json");
    let rows = a.json();
    assert_eq!(rows[0]["bulletin"], "tone");
    assert_eq!(rows[0]["requested_by"], "van-hanh");
    let csv = r.get("/api/v1/airtime?format=csv", VIEWER).await;
    assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let disp = csv.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disp.starts_with("attachment; filename=\"airtime-"),
        "{disp}"
    );
    assert!(csv.body.starts_with("\u{feff}".as_bytes()));
    assert!(String::from_utf8_lossy(&csv.body).contains("van-hanh"));

    // The report counts what the airtime rows show: one play of tone,
    // completed, none in campaign cds (tone belongs to no campaign).
    let rep = r.get("/api/v1/report?campaign=cds", VIEWER).await;
    assert_eq!(rep.status, 200, "{rep:?}");
    let cds = rep.json();
    assert_eq!(cds["campaign_filter"], "cds");
    assert_eq!(cds["total"]["plays"], 0, "{cds:#}");
    let all = r.get("/api/v1/report", VIEWER).await.json();
    let total = &all["total"];
    assert_eq!(
        (total["plays"].as_u64(), total["completed"].as_u64()),
        (Some(1), Some(1)),
        "{all:#}"
    );
    let aired = rows[0]["aired_seconds"].as_f64().unwrap();
    assert!(aired > 0.5, "{rows:#}");
    assert!(
        (total["aired_seconds"].as_f64().unwrap() - aired).abs() < 0.001,
        "report {total} against the row's {aired} s"
    );
    let rep = r
        .get(
            "/api/v1/report?from=2026-10-01&to=2026-10-31&format=csv",
            VIEWER,
        )
        .await;
    assert_eq!(
        rep.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"bao-cao-2026-10-01-2026-10-31.csv\""
    );
    for (path, status, code) in [
        ("/api/v1/airtime?format=xml", 400, "bad_format"),
        ("/api/v1/airtime?campaign=ghost", 404, "unknown_campaign"),
        ("/api/v1/report?campaign=ghost", 404, "unknown_campaign"),
        (
            "/api/v1/airtime?from=2020-01-01&to=2026-01-01",
            400,
            "range_too_long",
        ),
        ("/api/v1/report?from=yesterday", 400, "bad_range"),
        (
            "/api/v1/report?from=2026-10-02&to=2026-10-01",
            400,
            "bad_range",
        ),
        ("/api/v1/airtime?limit=5", 400, "bad_query"),
    ] {
        let e = r.get(path, VIEWER).await;
        assert_eq!(
            (e.status.as_u16(), e.error().as_str()),
            (status, code),
            "{path}"
        );
    }
}

#[tokio::test]
async fn control_actions_are_audited_with_who_and_result() {
    let r = rig().await;
    r.post("/api/v1/queue", OPERATOR, json!({"bulletin": "tone"}))
        .await;
    r.post("/api/v1/queue", OPERATOR, json!({"bulletin": "nope"}))
        .await;
    r.send(LOCAL, "POST", "/api/v1/pause", Some(OPERATOR), None)
        .await;
    let a = r.get("/api/v1/audit", ADMIN).await;
    assert_eq!(a.status, 200, "{a:?}");
    let rows = a.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0]["who"], "van-hanh");
    assert_eq!(rows[0]["action"], "queue");
    assert_eq!(rows[0]["detail"], "bulletin=tone");
    assert!(rows[0]["result"].as_str().unwrap().starts_with("ok: "));
    assert!(rows[1]["result"]
        .as_str()
        .unwrap()
        .starts_with("refused (unknown_bulletin)"));
    assert_eq!(rows[2]["action"], "pause");
    assert!(rows[0]["at"].as_str().unwrap().ends_with("+07:00"));
    let old = r
        .get("/api/v1/audit?from=2020-01-01&to=2020-01-02", ADMIN)
        .await;
    assert_eq!(old.json(), json!([]));
    let bad = r.get("/api/v1/audit?from=never", ADMIN).await;
    assert_eq!(bad.status, 400);
    let reversed = r
        .get("/api/v1/audit?from=2026-10-31&to=2026-10-01", ADMIN)
        .await;
    assert_eq!(
        (reversed.status.as_u16(), reversed.error().as_str()),
        (400, "bad_range")
    );
}

// -- The OpenAPI document against the standard and the real answers ----------

/// The official OpenAPI 3.0 schema (tests/fixtures, Apache-2.0).
fn openapi_meta_schema() -> Value {
    let text = std::fs::read_to_string(fixture("tests/fixtures/openapi-3.0-schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// OpenAPI 3.0's `nullable: true` as JSON Schema says it (`type` also
/// allows null), so a JSON Schema validator reads the document's schemas
/// as OpenAPI means them.
fn as_json_schema(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out: serde_json::Map<String, Value> = m
                .iter()
                .filter(|(k, _)| k.as_str() != "nullable")
                .map(|(k, v)| (k.clone(), as_json_schema(v)))
                .collect();
            if m.get("nullable") == Some(&Value::Bool(true)) {
                match out.get("type").cloned() {
                    Some(Value::String(t)) => {
                        out.insert("type".into(), json!([t, "null"]));
                    }
                    _ => {
                        // A `$ref` or `enum` alone: null or that.
                        let inner = Value::Object(out);
                        return json!({ "anyOf": [{ "type": "null" }, inner] });
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(as_json_schema).collect()),
        other => other.clone(),
    }
}

/// Check `reply` against what `doc` says `method path` answers with its
/// status: the status is documented, and a JSON body fits its schema.
fn check_against_document(doc: &Value, method: &str, path: &str, reply: &Reply) {
    let op = &doc["paths"][path][method.to_ascii_lowercase()];
    assert!(op.is_object(), "{method} {path} is not documented");
    let code = reply.status.as_u16().to_string();
    let response = &op["responses"][&code];
    assert!(
        response.is_object(),
        "{method} {path} answered {code}, which the document does not list: {reply:?}"
    );
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {code}: the document gives no JSON schema"
    );
    let mut root = as_json_schema(schema);
    root["components"] = as_json_schema(&doc["components"]);
    let validator = jsonschema::draft4::new(&root).unwrap();
    let body = reply.json();
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {code} does not fit its schema: {errors:#?}\n{body:#}"
    );
}

#[tokio::test]
async fn the_openapi_document_is_valid_openapi_3_0() {
    let r = rig().await;
    let doc = r.get("/api/v1/openapi.json", VIEWER).await.json();
    let meta = jsonschema::draft4::new(&openapi_meta_schema()).unwrap();
    let errors: Vec<String> = meta
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[tokio::test]
async fn real_answers_fit_the_documented_schemas() {
    let r = rig().await;
    let doc = r.get("/api/v1/openapi.json", VIEWER).await.json();
    // Idle: nothing airs, nothing waits, nothing in the ledger.
    let reads = [
        "/api/v1/status",
        "/api/v1/bulletins",
        "/api/v1/queue",
        "/api/v1/airtime",
        "/api/v1/report",
    ];
    let check_reads = || async {
        for path in reads {
            let reply = r.get(path, VIEWER).await;
            assert_eq!(reply.status, 200, "{path}: {reply:?}");
            check_against_document(&doc, "GET", path, &reply);
        }
    };
    check_reads().await;
    // Busy: one item airs, one waits, an earlier one is in the ledger.
    let q = r
        .post("/api/v1/queue", OPERATOR, json!({"bulletin": "tone"}))
        .await;
    check_against_document(&doc, "POST", "/api/v1/queue", &q);
    r.wait_row("tone completed", |x| x.outcome.is_some()).await;
    r.post("/api/v1/queue", OPERATOR, json!({"bulletin": "long"}))
        .await;
    let later = (Utc::now() + Duration::hours(1)).to_rfc3339();
    r.post(
        "/api/v1/queue",
        OPERATOR,
        json!({"bulletin": "tone", "at": later}),
    )
    .await;
    let s = r
        .wait_status("long to air, tone waiting", |s| {
            s["airing"]["bulletin"] == "long" && s["queue"][0]["bulletin"] == "tone"
        })
        .await;
    assert!(s["next"].as_array().is_some_and(|n| !n.is_empty()), "{s}");
    check_reads().await;
    // Error bodies.
    let cases = [
        (
            r.send(REMOTE, "GET", "/api/v1/status", None, None).await,
            "GET",
            "/api/v1/status",
            401,
        ),
        (
            r.get("/api/v1/audit", VIEWER).await,
            "GET",
            "/api/v1/audit",
            403,
        ),
        (
            r.get("/api/v1/airtime?format=xml", VIEWER).await,
            "GET",
            "/api/v1/airtime",
            400,
        ),
        (
            r.get("/api/v1/report?campaign=ghost", VIEWER).await,
            "GET",
            "/api/v1/report",
            404,
        ),
        // No [fleet] postgres here: the province's report says what to set.
        (
            r.get("/api/v1/report?scope=province", VIEWER).await,
            "GET",
            "/api/v1/report",
            409,
        ),
        (
            r.post("/api/v1/queue", OPERATOR, json!({"bulletin": "ghost"}))
                .await,
            "POST",
            "/api/v1/queue",
            404,
        ),
        (
            r.post(
                "/api/v1/queue",
                OPERATOR,
                json!({"bulletin": "tone", "file": "tone.wav"}),
            )
            .await,
            "POST",
            "/api/v1/queue",
            422,
        ),
        (
            r.send(LOCAL, "DELETE", "/api/v1/queue/999", Some(OPERATOR), None)
                .await,
            "DELETE",
            "/api/v1/queue/{id}",
            404,
        ),
    ];
    for (reply, method, path, status) in cases {
        assert_eq!(reply.status.as_u16(), status, "{method} {path}: {reply:?}");
        check_against_document(&doc, method, path, &reply);
    }
}

#[tokio::test]
async fn the_province_scope_needs_fleet_postgres_and_says_so() {
    let r = rig().await;
    let no = r.get("/api/v1/report?scope=province", VIEWER).await;
    assert_eq!(no.status, 409, "{no:?}");
    let msg = no.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(msg.contains("[fleet]") && msg.contains("postgres"), "{msg}");
    let bad = r.get("/api/v1/report?scope=district", VIEWER).await;
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(
        r.get("/api/v1/status", VIEWER).await.json()["fleet"],
        Value::Null
    );

    // Set, but nothing answers there: 503 with the database's words, and
    // the status carries the (not yet counted) copy's progress.
    let r = rig_with(&station_text(
        "[fleet]\nstation_id = \"31234\"\npostgres = \"host=127.0.0.1 port=9 user=loa connect_timeout=2\"\n",
    ))
    .await;
    let doc = r.get("/api/v1/openapi.json", VIEWER).await.json();
    let down = r.get("/api/v1/report?scope=province", VIEWER).await;
    assert_eq!(down.status, 503, "{down:?}");
    check_against_document(&doc, "GET", "/api/v1/report", &down);
    assert!(
        down.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("province's database")),
        "{down:?}"
    );
    let st = r.get("/api/v1/status", VIEWER).await;
    check_against_document(&doc, "GET", "/api/v1/status", &st);
    assert_eq!(st.json()["fleet"]["station_id"], "31234", "{st:?}");
    assert_eq!(st.json()["fleet"]["failures"], 0, "{st:?}");
}

#[tokio::test]
async fn relays_are_listed_and_planned_as_documented() {
    let r = rig_with(&station_text(
        r#"[[relay]]
id = "vov1"
title = "Tiếp âm VOV1"
url = "http://127.0.0.1:9/vov1.mp3"
duration = "30m"
fallback = "tone"
campaign = "cds"
at = ["05:00"]
[[program]]
id = "sang"
title = "Buổi sáng"
at = ["07:00"]
items = ["tone", "vov1"]
"#,
    ))
    .await;
    let doc = r.get("/api/v1/openapi.json", VIEWER).await.json();
    let b = r.get("/api/v1/bulletins", VIEWER).await;
    check_against_document(&doc, "GET", "/api/v1/bulletins", &b);
    let relay = &b.json()["relays"][0];
    assert_eq!(relay["source"], "http://127.0.0.1:9/vov1.mp3");
    assert_eq!(relay["duration_seconds"], 1800);
    assert_eq!(relay["fallback"], "tone");
    let day = Utc::now().with_timezone(&r.tz).date_naive() + chrono::Days::new(1);
    let plan = r
        .get(&format!("/api/v1/schedule?from={day}&to={day}"), VIEWER)
        .await;
    check_against_document(&doc, "GET", "/api/v1/schedule", &plan);
    let plan = plan.json();
    let kinds: Vec<&str> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"relay"), "{plan:#}");
    let sang = plan
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "sang")
        .unwrap();
    assert_eq!(sang["items"][1]["kind"], "relay");
    assert_eq!(sang["planned_seconds"], 1801.0);
}

#[tokio::test]
async fn a_typed_notice_is_read_aloud_queued_and_sent_as_an_emergency() {
    let r = rig().await;
    let doc = r.get("/api/v1/openapi.json", VIEWER).await.json();
    let text = "Kính thưa bà con, 17:30 ngày 10/10 họp tổ dân phố.";
    let q = r
        .post("/api/v1/queue", OPERATOR, json!({ "text": text }))
        .await;
    assert_eq!(q.status, 202, "{q:?}");
    check_against_document(&doc, "POST", "/api/v1/queue", &q);
    let file = q.json()["bulletin"].as_str().unwrap().to_string();
    assert_eq!(q.json()["title"], text);
    assert!(file.starts_with("tts/") && file.ends_with(".wav"), "{file}");
    let row = r
        .wait_row("the notice aired", |x| x.outcome.is_some())
        .await;
    assert_eq!(
        row.outcome,
        Some(crate::ledger::Outcome::Completed),
        "{row:?}"
    );
    assert_eq!(row.file, file);
    assert!(row.planned_seconds > 1.0, "{row:?}");
    // The same words as an emergency: read from the cache, same file.
    // A render replaces the file: a cache hit keeps the same one (its
    // modification time is renewed: it marks the last use).
    use std::os::unix::fs::MetadataExt;
    let cached = r.root.join("var").join(&file);
    let rendered = std::fs::metadata(&cached).unwrap().ino();
    let e = r
        .post("/api/v1/emergency", OPERATOR, json!({ "text": text }))
        .await;
    assert_eq!(e.status, 202, "{e:?}");
    check_against_document(&doc, "POST", "/api/v1/emergency", &e);
    assert_eq!(e.json()["bulletin"], file.as_str());
    assert_eq!(e.json()["priority"], "emergency");
    assert_eq!(
        std::fs::metadata(&cached).unwrap().ino(),
        rendered,
        "a cache hit renders nothing"
    );
    // Refused: empty, or with another target.
    for body in [
        json!({ "text": "  " }),
        json!({ "text": "x", "bulletin": "tone" }),
    ] {
        let bad = r.post("/api/v1/queue", OPERATOR, body).await;
        assert_eq!(bad.status, 422, "{bad:?}");
        check_against_document(&doc, "POST", "/api/v1/queue", &bad);
    }
}

#[tokio::test]
async fn a_speech_engine_that_hangs_is_a_clear_503_and_the_station_goes_on() {
    let text = station_text(
        "[[bulletin]]\nid = \"hop\"\ntitle = \"Họp\"\ntext = \"Họp tổ dân phố lúc 17:30\"\n",
    )
    .replace(
        "[api]",
        "[tts]\ncommand = [\"sh\", \"-c\", \"exec sleep 60\", \"{out}\"]\ntimeout = \"1s\"\n[api]",
    );
    let r = rig_with(&text).await;
    let doc = r.get("/api/v1/openapi.json", VIEWER).await.json();
    let e = r
        .post("/api/v1/emergency", OPERATOR, json!({ "text": "Bão số 3" }))
        .await;
    assert_eq!(e.status, 503, "{e:?}");
    check_against_document(&doc, "POST", "/api/v1/emergency", &e);
    assert_eq!(e.json()["error"], "tts_failed");
    // A typed bulletin not read aloud yet is listed like the others.
    let b = r.get("/api/v1/bulletins", VIEWER).await;
    assert_eq!(b.status, 200, "{b:?}");
    check_against_document(&doc, "GET", "/api/v1/bulletins", &b);
    let message = e.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("did not finish within 1s"), "{message}");
    // A recording still airs.
    let q = r
        .post("/api/v1/queue", OPERATOR, json!({"bulletin": "tone"}))
        .await;
    assert_eq!(q.status, 202, "{q:?}");
    let row = r.wait_row("tone aired", |x| x.outcome.is_some()).await;
    assert_eq!(row.outcome, Some(crate::ledger::Outcome::Completed));
}
