//! The station's operations, typed: what an operator, an official or a
//! program may ask of the running station, whoever asks and however.
//!
//! Both the HTTP API (`crate::api`) and the web console (`crate::web`) are
//! thin adapters over this layer: they turn a request into a typed order
//! (`orders::QueueOrder`, `orders::EmergencyOrder`, an upload, a range of
//! dates), call one operation with the typed [`Caller`], and show its typed
//! answer or its [`Error`] in their own way (JSON with a code, or a page in
//! the reader's language). Neither calls the other.
//!
//! Every control action is audited here, refused ones included, so the
//! two doors cannot audit differently. The layer owns no station state:
//! it reads the engine's published status, sends it commands and waits
//! (bounded) for the reply, and reads the ledger through read-only
//! connections off the runtime.

pub mod error;
pub mod files;
pub mod link;
pub mod notice;
pub mod orders;
pub mod plan;
pub mod reading;
pub mod reload;
mod target;
pub mod titles;
pub mod upload;

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use crate::config::{Role, Station};
use crate::current::CurrentStation;
use crate::engine::{Command, Handle, Recorder, Reply};
pub use error::{Error, Result};

/// How long an operation waits for the engine to answer.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(5);

/// Who asks: an API token or a signed-in console user, with the role
/// the request was let in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name, as written in the audit log; `local` for an
    /// unauthenticated loopback request on a loopback-open route; a web
    /// console user's name when `user`.
    pub name: String,
    pub role: Option<Role>,
    /// A signed-in web console user rather than an API token.
    pub user: bool,
}

impl Caller {
    /// Who did it, as the ledger's reasons name them (`skipped_by`): a
    /// console user or an API token, by name.
    pub fn by(&self) -> crate::reason::By {
        if self.user {
            crate::reason::By::user(&self.name)
        } else {
            crate::reason::By::token(&self.name)
        }
    }
}

/// What every operation reaches: the engine's handle, the station as it
/// runs, the ledger's writer, and the caches of this process.
pub struct Control {
    pub handle: Handle,
    pub current: CurrentStation,
    pub recorder: Recorder,
    /// The station file, for reloads.
    pub config_path: PathBuf,
    pub started: Instant,
    /// Probe results of files in `audio_dir`, keyed by path, size and
    /// modification time, so listing them does not decode every file.
    pub(crate) probes: Arc<files::ProbeCache>,
    /// Makes temporary upload names unique within this process.
    pub(crate) upload_seq: AtomicU64,
    /// The status's next occurrences, computed at most once a second.
    #[allow(clippy::type_complexity)]
    pub(crate) next_cache: Mutex<Option<(DateTime<Utc>, Arc<Station>, Arc<reading::Next>)>>,
    /// How far the copy to the province's database is (`crate::fleet`).
    pub(crate) fleet: crate::fleet::Progress,
    /// Typed notices being read aloud, and the cache they are kept in.
    pub(crate) notices: Arc<notice::Notices>,
    /// The titles operators give their recordings.
    pub(crate) titles: Arc<titles::Titles>,
    /// The link to the province's broker (`[upstream]`).
    pub link: Arc<link::Link>,
}

/// The control layer as the adapters hold it.
pub type Shared = Arc<Control>;

impl Control {
    pub fn new(
        handle: Handle,
        current: CurrentStation,
        recorder: Recorder,
        config_path: PathBuf,
    ) -> Shared {
        Arc::new(Control {
            handle,
            current,
            recorder,
            config_path,
            started: Instant::now(),
            probes: Default::default(),
            upload_seq: AtomicU64::new(0),
            next_cache: Mutex::new(None),
            fleet: Default::default(),
            notices: Default::default(),
            titles: Default::default(),
            link: Default::default(),
        })
    }

    /// A station for tests in `root`: `text` as its station file beside an
    /// `audio/` with `long.mp3` (a real bulletin) and `tone.wav` (1 s), a
    /// fresh ledger, and the engine running over `FakePlayout` on the
    /// system clock. Shared by the API's and the web console's tests.
    #[cfg(test)]
    pub(crate) fn for_test(root: &std::path::Path, text: &str) -> Shared {
        use crate::check::{load, LoadOptions};
        use crate::engine::{playout::FakePlayout, Engine, Resume, SystemClock};
        let fixture = |rel: &str| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
        let audio = root.join("audio");
        std::fs::create_dir_all(&audio).unwrap();
        std::fs::copy(fixture("audio/cds/thong-diep.mp3"), audio.join("long.mp3")).unwrap();
        std::fs::copy(
            fixture("src/audio/testdata/tone1s.wav"),
            audio.join("tone.wav"),
        )
        .unwrap();
        let config = root.join("station.toml");
        std::fs::write(&config, text).unwrap();
        let loaded = load(&config, LoadOptions::default());
        let station = Arc::new(
            loaded
                .station
                .unwrap_or_else(|| panic!("{}", loaded.diagnostics)),
        );
        std::fs::create_dir_all(&station.data_dir).unwrap();
        let ledger = crate::ledger::Ledger::open(&station.ledger_path(), station.timezone).unwrap();
        let resume = Resume::read(&ledger, Utc::now()).unwrap();
        let recorder = Recorder::start(ledger);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let fake = FakePlayout::new(SystemClock, tx);
        let (engine, handle) = Engine::new(
            Arc::clone(&station),
            SystemClock,
            fake,
            rx,
            recorder.clone(),
            resume,
        );
        tokio::spawn(engine.run());
        Control::new(
            handle,
            CurrentStation::new(station, Default::default()),
            recorder,
            config,
        )
    }

    /// Whether the engine still takes commands.
    pub fn running(&self) -> bool {
        !self.handle.commands.is_closed()
    }

    /// Write one audit row (who, what, detail, result) through the
    /// ledger's writer thread; never blocks.
    pub(crate) fn audit<T>(
        &self,
        caller: &Caller,
        action: &str,
        detail: &str,
        r: &std::result::Result<T, impl std::borrow::Borrow<Error>>,
        ok: impl FnOnce(&T) -> String,
    ) {
        let result = match r {
            Ok(v) => format!("ok: {}", ok(v)),
            Err(e) => {
                let e = e.borrow();
                format!("refused ({}): {e}", e.code())
            }
        };
        self.recorder.audit(&caller.name, action, detail, &result);
    }

    /// Audit a request refused before it became an order (its form
    /// could not be read, or its values not parsed).
    pub fn audit_refused(&self, caller: &Caller, action: &str, e: &Error) {
        self.audit(caller, action, "", &Err::<(), _>(e), |()| String::new());
    }

    /// Audit a request whose body could not be read at all.
    pub fn audit_unread(&self, caller: &Caller, action: &str, detail: &str) {
        self.recorder.audit(
            &caller.name,
            action,
            detail,
            "refused (unreadable): the request could not be read",
        );
    }

    /// Send a command that replies, and wait (bounded) for the reply: what
    /// the engine did, or its refusal.
    pub(crate) async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.tell(make(tx)).await?;
        match tokio::time::timeout(ENGINE_TIMEOUT, rx).await {
            Ok(Ok(reply)) => Ok(reply?),
            _ => Err(Error::EngineGone),
        }
    }

    /// Send a command without a typed refusal, bounded.
    pub(crate) async fn tell(&self, cmd: Command) -> Result<()> {
        match tokio::time::timeout(ENGINE_TIMEOUT, self.handle.commands.send(cmd)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Error::EngineGone),
        }
    }
}

/// The headers of a CSV download named `name.csv`, the same from both
/// doors (the API's `format=csv` and the console's download link).
pub fn csv_headers(name: &str) -> [(axum::http::HeaderName, axum::http::HeaderValue); 2] {
    use axum::http::{header, HeaderValue};
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        ),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\""))
                .unwrap_or(HeaderValue::from_static("attachment")),
        ),
    ]
}

/// Run blocking work (SQLite, probing, the filesystem) off the runtime.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("a background task failed: {e}")))?
}

/// When `long` airs each day in the test stations (`HH:MM`, station time):
/// 12 hours after the first test asked, the same for every test of the run,
/// so that it never falls due while a test runs (a fixed time did, for
/// tests started in the ten minutes of its grace).
#[cfg(test)]
pub(crate) fn test_long_at() -> &'static str {
    static AT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    AT.get_or_init(|| {
        let now = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Ho_Chi_Minh);
        (now + chrono::Duration::hours(12))
            .format("%H:%M")
            .to_string()
    })
}

/// The items the station files of `Control::for_test`'s callers share: a
/// campaign, `long` (daily at [`test_long_at`], in the campaign) and
/// `tone`, on the audio `for_test` copies.
#[cfg(test)]
pub(crate) fn test_items() -> String {
    format!(
        r#"
[[campaign]]
id = "cds"
title = "Chuyển đổi số"
[[bulletin]]
id = "long"
title = "Thông điệp dài"
file = "long.mp3"
campaign = "cds"
at = ["{}"]
[[bulletin]]
id = "tone"
title = "Tín hiệu"
file = "tone.wav"
"#,
        test_long_at()
    )
}

/// Send `req` (with `body`: its content type and bytes) to `app` as if
/// it came from `from` (a LAN or loopback peer), as the API's and the
/// console's test rigs do: the reply's status, headers and body.
#[cfg(test)]
pub(crate) async fn test_request(
    app: &axum::Router,
    from: [u8; 4],
    req: axum::http::request::Builder,
    body: Option<(&str, Vec<u8>)>,
) -> (axum::http::StatusCode, axum::http::HeaderMap, Vec<u8>) {
    use axum::body::Body;
    use axum::extract::connect_info::MockConnectInfo;
    use axum::http::header;
    use tower::ServiceExt;
    let req = match body {
        Some((ctype, bytes)) => req
            .header(header::CONTENT_TYPE, ctype)
            .header(header::CONTENT_LENGTH, bytes.len())
            .body(Body::from(bytes)),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let app = app
        .clone()
        .layer(MockConnectInfo(std::net::SocketAddr::from((from, 40000))));
    let resp = app.oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, headers, body)
}
