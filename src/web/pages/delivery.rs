//! What *Gửi bản tin* remembers and shows after sending: the broadcasts
//! sent from this host (`data_dir/gui-ban-tin/sent.json`, the last
//! [`MAX_SENT`]), and each one's delivery page (`GET /gui-ban-tin/{id}`),
//! per station, from the acknowledgements the stations publish, read by
//! the publishing core as `loa publish status` reads them. The page
//! refreshes itself (an HTTP `Refresh` header: no script needed).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::{date_time, problem_text};
use crate::config::upstream::Publish;
use crate::control::Shared as AppState;
use crate::upstream::act::{Ack, State as AckState};
use crate::upstream::manifest::{Level, Manifest, Targets};
use crate::upstream::presence::Presence;
use crate::upstream::publish::{self, Conn};
use crate::web::i18n::{t, Lang};
use crate::web::layout::page as layout;
use crate::web::session::Publisher;

/// Broadcasts remembered for the list.
const MAX_SENT: usize = 50;
/// How long a look at the broker may take before the page gives up.
pub(super) const BROKER_PATIENCE: Duration = Duration::from_secs(15);
/// Quiet time after the last retained message of a look.
const QUIET: Duration = Duration::from_millis(700);
/// Seconds between two refreshes of a delivery page.
const REFRESH_SECONDS: &str = "5";

/// One broadcast sent from this host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Sent {
    /// What was signed and sent.
    pub manifest: Manifest,
    /// The console user who sent it.
    pub by: String,
}

static SENT_LOCK: Mutex<()> = Mutex::new(());

/// The folder the page keeps its files in (uploads waiting, the list).
pub(super) fn folder(s: &AppState) -> PathBuf {
    s.current.get().data_dir.join("gui-ban-tin")
}

/// The list, read off the async runtime (a file, under a lock a write
/// holds).
pub(super) async fn sent_list(dir: PathBuf) -> Vec<Sent> {
    tokio::task::spawn_blocking(move || {
        let _g = SENT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        read_sent(&dir)
    })
    .await
    .unwrap_or_default()
}

/// The list as the file holds it (the caller holds `SENT_LOCK`).
fn read_sent(dir: &Path) -> Vec<Sent> {
    std::fs::read(dir.join("sent.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Put `sent` first in the list (written whole, then renamed), under one
/// hold of the lock so two sends at once both stay.
pub(super) fn remember(dir: &Path, sent: Sent) -> std::io::Result<()> {
    let _g = SENT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut list = read_sent(dir);
    list.insert(0, sent);
    list.truncate(MAX_SENT);
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join("sent.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(&list).unwrap_or_default())?;
    std::fs::rename(tmp, dir.join("sent.json"))
}

pub(super) fn conn(p: &Publish) -> Conn {
    p.login.clone()
}

/// The stations the broker knows, or why they could not be read.
pub(super) async fn known(p: &Publish) -> Result<Vec<Presence>, String> {
    match tokio::time::timeout(BROKER_PATIENCE, publish::stations(&conn(p), QUIET)).await {
        Ok(Ok(k)) => Ok(k),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(_) => Err("the broker did not answer in time".into()),
    }
}

pub(super) fn level_words(lang: Lang, l: Level) -> &'static str {
    match l {
        Level::Normal => t(lang, "thông thường", "normal"),
        Level::Priority => t(lang, "ưu tiên", "priority"),
        Level::Emergency => t(lang, "khẩn cấp", "emergency"),
    }
}

pub(super) fn targets_words(lang: Lang, targets: &str) -> String {
    match Targets::parse(targets) {
        Ok(Targets::All) => t(lang, "tất cả các đài", "every station").into(),
        Ok(Targets::District(d)) => format!("{} {d}", t(lang, "huyện", "district")),
        Ok(Targets::Stations(ids)) => format!("{}: {}", t(lang, "đài", "stations"), ids.join(", ")),
        Err(_) => targets.to_string(),
    }
}

fn state_words(lang: Lang, s: Option<AckState>) -> (&'static str, &'static str) {
    match s {
        None => (t(lang, "chưa nhận", "not yet received"), "o-skip"),
        Some(AckState::Received) => (t(lang, "đã nhận", "received"), "o-live"),
        Some(AckState::Stored) => (t(lang, "đã lưu", "stored"), "o-live"),
        Some(AckState::Scheduled) => (t(lang, "đã xếp lịch", "scheduled"), "o-live"),
        Some(AckState::Aired) => (t(lang, "đã phát", "aired"), "o-ok"),
        Some(AckState::Failed) => (t(lang, "lỗi", "failed"), "o-fail"),
        Some(AckState::Missed) => (t(lang, "bỏ lỡ", "missed"), "o-miss"),
        Some(AckState::Declined) => (t(lang, "đài từ chối", "declined"), "o-skip"),
    }
}

/// A station's reason code in words.
fn reason_words(lang: Lang, code: &str) -> String {
    let words = match code {
        "audio_never_came" => t(
            lang,
            "tệp âm thanh không đến trạm trước khi bản tin hết hạn",
            "the audio never reached the station before the bulletin expired",
        ),
        "too_many_waiting" => t(
            lang,
            "trạm có quá nhiều bản tin đang chờ âm thanh",
            "too many bulletins wait for their audio at the station",
        ),
        "store_failed" => t(
            lang,
            "trạm không lưu được tệp âm thanh (đầy đĩa?)",
            "the station could not store the audio (disk full?)",
        ),
        "expired_before_airing" => t(
            lang,
            "bản tin hết hạn trước khi kịp phát",
            "the bulletin expired before it could air",
        ),
        "no_content" => t(
            lang,
            "bản tin không có nội dung",
            "the bulletin has no content",
        ),
        "expired" => t(
            lang,
            "bản tin đã hết hạn khi đến trạm",
            "expired when it arrived",
        ),
        "unknown_key" => t(
            lang,
            "trạm không tin khoá ký của máy này",
            "the station does not trust this host's key",
        ),
        _ => {
            return match lang {
                Lang::Vi => format!("trạm từ chối ({code})"),
                Lang::En => format!("refused by the station ({code})"),
            }
        }
    };
    words.to_string()
}

fn usable_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `GET /gui-ban-tin/{id}`: each targeted station's delivery.
pub(crate) async fn page(
    State(s): State<AppState>,
    Publisher(signed): Publisher,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let lang = signed.lang;
    let title = t(lang, "Kết quả gửi bản tin", "Delivery");
    let station = s.current.get();
    let Some(p) = station.publish.clone() else {
        let body = html! { h1 { (title) } (super::publish::not_set_up(lang)) };
        return layout(Some(&signed), lang, title, body).into_response();
    };
    if !usable_id(&id) {
        let body = html! { h1 { (title) } (problem_text(lang, t(lang, "Mã bản tin không hợp lệ.", "Not a broadcast id."))) };
        return (
            StatusCode::NOT_FOUND,
            layout(Some(&signed), lang, title, body),
        )
            .into_response();
    }
    let sent = sent_list(folder(&s))
        .await
        .into_iter()
        .find(|x| x.manifest.id == id);
    let c = conn(&p);
    let acks = tokio::time::timeout(BROKER_PATIENCE, publish::delivery(&c, &id, QUIET));
    let (acks, known) = tokio::join!(acks, known(&p));
    let acks = match acks {
        Ok(Ok(a)) => Ok(a),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(_) => Err("the broker did not answer in time".to_string()),
    };
    let body = render(
        lang,
        station.timezone,
        &id,
        sent.as_ref(),
        acks,
        known.unwrap_or_default(),
    );
    let mut r = layout(Some(&signed), lang, title, html! { h1 { (title) } (body) }).into_response();
    r.headers_mut()
        .insert("refresh", HeaderValue::from_static(REFRESH_SECONDS));
    r
}

/// One row per station: those that acknowledged, then the targeted ones
/// the broker knows that did not yet.
fn rows(sent: Option<&Sent>, acks: &[Ack], known: &[Presence]) -> Vec<(String, Option<Ack>)> {
    let mut rows: Vec<(String, Option<Ack>)> = acks
        .iter()
        .map(|a| (a.station.clone(), Some(a.clone())))
        .collect();
    let targets = sent.and_then(|s| Targets::parse(&s.manifest.targets).ok());
    let mut expected: Vec<String> = match &targets {
        Some(Targets::Stations(ids)) => ids.clone(),
        Some(t) => known
            .iter()
            .filter(|p| t.includes(&p.station, p.district.as_deref()))
            .map(|p| p.station.clone())
            .collect(),
        None => Vec::new(),
    };
    expected.retain(|id| !acks.iter().any(|a| &a.station == id));
    rows.extend(expected.into_iter().map(|id| (id, None)));
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

fn render(
    lang: Lang,
    tz: chrono_tz::Tz,
    id: &str,
    sent: Option<&Sent>,
    acks: Result<Vec<Ack>, String>,
    known: Vec<Presence>,
) -> Markup {
    let name_of = |id: &str| {
        known
            .iter()
            .find(|p| p.station == id)
            .and_then(|p| p.name.clone())
    };
    html! {
        div class="card" {
            @if let Some(x) = sent {
                p class="big-what" { (x.manifest.title) }
                p {
                    (t(lang, "Mức: ", "Level: ")) strong { (level_words(lang, x.manifest.priority)) }
                    " · " (targets_words(lang, &x.manifest.targets))
                }
                p class="hint" {
                    (t(lang, "Gửi lúc ", "Sent ")) (date_time(x.manifest.issued, tz))
                    (t(lang, " bởi ", " by ")) (x.by)
                    (t(lang, " · hết hạn ", " · expires ")) (date_time(x.manifest.expires, tz))
                }
            }
            p class="hint" { (t(lang, "Mã bản tin: ", "Broadcast id: ")) code { (id) } }
            p class="hint" { (t(lang, "Trang tự cập nhật mỗi 5 giây.", "This page refreshes every 5 seconds.")) }
        }
        @match acks {
            Err(e) => (problem_text(lang, &format!("{}: {e}", t(lang, "Không đọc được kết quả từ máy chủ MQTT", "Cannot read the delivery from the broker")))),
            Ok(acks) => {
                @let rows = rows(sent, &acks, &known);
                @let aired = acks.iter().filter(|a| a.state == AckState::Aired).count();
                p { strong { (aired) } " / " (rows.len()) (t(lang, " đài đã phát", " stations aired")) }
                @if rows.is_empty() {
                    p class="idle" { (t(lang, "Chưa đài nào báo nhận.", "No station has acknowledged yet.")) }
                } @else {
                    // A list, not a table: one station a line on a phone.
                    ul class="rows delivery" {
                        @for (station, ack) in &rows {
                            @let (word, class) = state_words(lang, ack.as_ref().map(|a| a.state));
                            li {
                                span class="what" {
                                    strong { (name_of(station).unwrap_or_else(|| station.clone())) }
                                    small { " · " (station) }
                                    @if let Some(at) = ack.as_ref().and_then(|a| a.aired_at) {
                                        br; small { (t(lang, "phát lúc ", "aired at ")) (date_time(at, tz)) }
                                    }
                                    @if let Some(code) = ack.as_ref().and_then(|a| a.reason.as_deref()) {
                                        br; small { (reason_words(lang, code)) }
                                    }
                                    @if let Some(by) = ack.as_ref().and_then(|a| a.by.as_deref()) {
                                        br; small { (t(lang, "người vận hành: ", "operator: ")) (by) }
                                    }
                                }
                                span class={ "badge " (class) } { (word) }
                            }
                        }
                    }
                }
            }
        }
        p { a class="btn light" href="/gui-ban-tin" { (t(lang, "Gửi bản tin khác", "Send another bulletin")) } }
    }
}

/// The recent broadcasts, newest first, each a link to its delivery.
pub(super) fn recent(lang: Lang, tz: chrono_tz::Tz, list: &[Sent]) -> Markup {
    html! {
        section class="card" aria-labelledby="h-sent" {
            h2 id="h-sent" { (t(lang, "Bản tin đã gửi từ máy này", "Bulletins sent from this host")) }
            @if list.is_empty() {
                p class="idle" { (t(lang, "Chưa gửi bản tin nào.", "None sent yet.")) }
            } @else {
                ul class="rows" {
                    @for x in list {
                        li {
                            span class="what" {
                                a href={ "/gui-ban-tin/" (x.manifest.id) } { (x.manifest.title) }
                                br;
                                small { (level_words(lang, x.manifest.priority)) " · " (targets_words(lang, &x.manifest.targets)) " · " (date_time(x.manifest.issued, tz)) " · " (x.by) }
                            }
                        }
                    }
                }
            }
        }
    }
}
