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
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;
use crate::config::Role;
use crate::control::Control;
use crate::ledger::{AirtimeRow, Filter, Ledger};
use crate::token::{hash, hex};

pub(super) const VIEWER: &str = "viewer-secret";
pub(super) const OPERATOR: &str = "operator-secret";
pub(super) const ADMIN: &str = "admin-secret";
pub(super) const METRICS: &str = "metrics-secret";

pub(super) fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub(super) fn station_text(extra: &str) -> String {
    let tokens: String = [
        ("xem", "viewer", VIEWER),
        ("van-hanh", "operator", OPERATOR),
        ("quan-tri", "admin", ADMIN),
        ("prometheus-tinh", "metrics", METRICS),
    ]
    .iter()
    .map(|(name, role, secret)| {
        format!(
            "\n[[api.token]]\nname = \"{name}\"\nrole = \"{role}\"\nsha256 = \"{}\"",
            hex(&hash(secret))
        )
    })
    .collect();
    format!(
        r#"
[station]
name = "Xã Test"
audio_dir = "audio"
data_dir = "var"
[api]
max_upload_mb = 1{tokens}{items}{extra}
"#,
        items = crate::control::test_items(),
    )
}

pub(super) struct Rig {
    _dir: tempfile::TempDir,
    root: PathBuf,
    audio: PathBuf,
    state: AppState,
    app: Router,
    ledger: PathBuf,
    tz: chrono_tz::Tz,
}

pub(super) async fn rig() -> Rig {
    rig_with(&station_text("")).await
}

/// A rig on the station file `text`.
pub(super) async fn rig_with(text: &str) -> Rig {
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

pub(super) struct Reply {
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
    /// The text field `key` of each object in the reply's JSON array.
    fn field_of_each(&self, key: &str) -> Vec<String> {
        let list = self.json();
        let items = list
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {list}"));
        items
            .iter()
            .map(|o| o[key].as_str().unwrap().to_string())
            .collect()
    }

    /// Assert the reply is the error `code` with `status`.
    #[track_caller]
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.error().as_str()),
            (status, code),
            "{self:?}"
        );
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, String::from_utf8_lossy(&self.body))
    }
}

pub(super) const LOCAL: [u8; 4] = [127, 0, 0, 1];
pub(super) const REMOTE: [u8; 4] = [192, 168, 1, 20];

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
        let (status, headers, body) =
            crate::control::test_request(&self.app, from, req, body).await;
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Write `text` as the station file and ask for a reload, as an admin.
    async fn reload_with(&self, text: &str) -> Reply {
        std::fs::write(self.root.join("station.toml"), text).unwrap();
        self.send(LOCAL, "POST", "/api/v1/reload", Some(ADMIN), None)
            .await
    }

    /// `method path` with the operator's token and no body.
    async fn operator(&self, method: &str, path: &str) -> Reply {
        self.send(LOCAL, method, path, Some(OPERATOR), None).await
    }

    /// `POST /api/v1/queue` with `body`, as the operator.
    async fn queue(&self, body: Value) -> Reply {
        self.post("/api/v1/queue", OPERATOR, body).await
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

pub(super) fn multipart(file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
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

mod access;
mod ledger;
mod on_air;
mod queue;
mod reading;
mod upload;
