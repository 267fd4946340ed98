//! `/gui-ban-tin` *Gửi bản tin*: on the province's central host, province
//! staff (and admins) send a signed bulletin to the stations: level, title,
//! words read aloud or an audio file, targets picked from the stations the
//! broker knows, expiry and optional times. The form becomes a typed
//! request for the publishing core (`crate::upstream::publish`), the same
//! code `loa publish` calls. An emergency asks to confirm first. After
//! sending, the broadcast's delivery page (`delivery`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::delivery::{self, Sent};
use super::{answer, shown, Flash, Problem};
use crate::config::upstream::usable_district;
use crate::control::Shared as AppState;
use crate::upstream::manifest::{self, Level};
use crate::upstream::publish::{self, Content, Request};
use crate::web::i18n::{t, Lang};
use crate::web::layout::page as layout;
use crate::web::session::{check_csrf, Publisher, Signed};

/// Where the form goes back to.
const BACK: &str = "/gui-ban-tin";
/// Longest text field read from the form (the words read aloud included).
const MAX_FIELD: usize = 8 * 1024;
/// Most fields read from one form (a ticked box per station, at most).
const MAX_FIELDS: usize = 2100;
/// The body the form may send: the audio and the fields.
pub(crate) const MAX_BODY: usize = manifest::MAX_AUDIO_BYTES as usize + 256 * 1024;
/// Uploads waiting for an emergency's confirmation are kept this long.
const PENDING_LIFE: Duration = Duration::from_secs(3600);
/// Most uploads waiting for an emergency's confirmation (each up to 16 MB).
const MAX_PENDING: usize = 16;
/// Most sends to the broker at once from the page.
static SENDING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

pub(super) fn not_set_up(lang: Lang) -> Markup {
    html! {
        div class="card" {
            p { strong { (t(lang, "Máy này chưa được thiết lập để gửi bản tin.", "This host is not set up to send bulletins.")) } }
            p class="hint" { (t(lang,
                "Quản trị viên cần thêm mục [publish] (máy chủ MQTT, tài khoản, khoá ký) vào tệp cấu hình rồi nạp lại.",
                "The admin adds a [publish] section (broker, account, signing key) to the station file and reloads.")) }
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct UploadQuery {
    csrf: Option<String>,
}

/// `GET /gui-ban-tin`: the form and the broadcasts sent from this host.
pub(crate) async fn page(
    State(s): State<AppState>,
    Publisher(signed): Publisher,
    headers: HeaderMap,
) -> Response {
    let lang = signed.lang;
    let flash = Flash::take(&headers);
    let title = t(lang, "Gửi bản tin", "Send a bulletin");
    let station = s.current.get();
    let body = match &station.publish {
        None => not_set_up(lang),
        Some(p) => {
            let known = delivery::known(p).await;
            let sent = delivery::sent_list(delivery::folder(&s)).await;
            html! {
                (Flash::show(flash.as_ref()))
                (form(&signed, &known))
                (delivery::recent(lang, station.timezone, &sent))
            }
        }
    };
    shown(
        layout(Some(&signed), lang, title, html! { h1 { (title) } (body) }),
        flash.as_ref(),
    )
}

fn form(
    signed: &Signed,
    known: &Result<Vec<crate::upstream::presence::Presence>, String>,
) -> Markup {
    let lang = signed.lang;
    let stations = known.as_ref().map(Vec::as_slice).unwrap_or_default();
    let mut districts: Vec<&str> = stations
        .iter()
        .filter_map(|p| p.district.as_deref())
        .collect();
    districts.sort_unstable();
    districts.dedup();
    let action = format!("{BACK}?csrf={}", signed.csrf);
    html! {
        form method="post" action=(action) enctype="multipart/form-data" class="card stack" {
            fieldset {
                legend { (t(lang, "Mức", "Level")) }
                @for (value, word, checked) in [("normal", t(lang, "Thông thường", "Normal"), true), ("priority", t(lang, "Ưu tiên", "Priority"), false), ("emergency", t(lang, "Khẩn cấp", "Emergency"), false)] {
                    label class="choice" { input type="radio" name="level" value=(value) checked[checked]; " " (word) }
                }
            }
            label for="gb-title" { (t(lang, "Tiêu đề", "Title")) }
            input id="gb-title" name="title" type="text" maxlength="200" required;
            label for="gb-text" { (t(lang, "Lời đọc (mỗi đài đọc bằng giọng đọc của mình)", "Words read aloud (each station's own voice)")) }
            textarea id="gb-text" name="text" rows="4" maxlength="5000" {}
            label for="gb-file" { (t(lang, "Hoặc tệp âm thanh (mp3, wav, ogg; tối đa 16 MB)", "Or an audio file (mp3, wav, ogg; at most 16 MB)")) }
            input id="gb-file" type="file" name="file" accept="audio/*,.mp3,.m4a,.wav,.flac,.ogg";
            fieldset {
                legend { (t(lang, "Gửi đến", "Send to")) }
                label class="choice" { input type="radio" name="to" value="all" checked; " " (t(lang, "Tất cả các đài", "Every station")) }
                label class="choice" { input type="radio" name="to" value="district"; " " (t(lang, "Một huyện:", "One district:")) }
                @if districts.is_empty() {
                    input name="district" type="text" maxlength="64" aria-label=(t(lang, "Huyện", "District")) placeholder="thach-ha";
                } @else {
                    select name="district" aria-label=(t(lang, "Huyện", "District")) {
                        @for d in &districts { option value=(d) { (d) } }
                    }
                }
                label class="choice" { input type="radio" name="to" value="stations"; " " (t(lang, "Các đài được chọn:", "The stations ticked:")) }
                @match known {
                    Err(e) => p class="form-error" { (t(lang, "Không đọc được danh sách đài từ máy chủ MQTT: ", "Cannot read the stations from the broker: ")) (e) },
                    Ok(list) if list.is_empty() => p class="hint" { (t(lang, "Máy chủ MQTT chưa biết đài nào.", "The broker knows no station yet.")) },
                    Ok(list) => ul class="rows" {
                        @for p in list {
                            li { label class="choice" {
                                input type="checkbox" name="station" value=(p.station);
                                " " (p.name.as_deref().unwrap_or(&p.station))
                                small class="hint" { " · " (p.station) @if let Some(d) = &p.district { " · " (d) }
                                    " · " (if p.online { t(lang, "đang kết nối", "online") } else { t(lang, "mất kết nối", "offline") }) }
                            } }
                        }
                    },
                }
            }
            div class="row2" {
                div {
                    label for="gb-expires" { (t(lang, "Hết hạn sau (giờ)", "Expires after (hours)")) }
                    input id="gb-expires" name="expires" type="number" min="1" max="744" value="24" inputmode="numeric";
                }
                div {
                    label for="gb-at" { (t(lang, "Giờ phát (thông thường; ví dụ 06:30, 17:30)", "Times (normal; e.g. 06:30, 17:30)")) }
                    input id="gb-at" name="at" type="text" maxlength="200" placeholder="06:30, 17:30";
                }
            }
            div class="row2" {
                div {
                    label for="gb-every" { (t(lang, "Khẩn cấp: lặp lại mỗi (phút)", "Emergency: repeat every (minutes)")) }
                    input id="gb-every" name="every" type="number" min="1" max="1440" inputmode="numeric";
                }
                div {
                    label for="gb-until" { (t(lang, "đến (giờ:phút)", "until (HH:MM)")) }
                    input id="gb-until" name="until" type="time";
                }
            }
            button type="submit" class="btn big" { (t(lang, "Gửi bản tin…", "Send…")) }
        }
    }
}

/// What the form sent.
#[derive(Default)]
struct Fields {
    level: String,
    title: String,
    text: String,
    to: String,
    district: String,
    stations: Vec<String>,
    expires: String,
    at: String,
    every: String,
    until: String,
    confirm: bool,
    /// An upload kept for the confirmation (its name in the folder).
    pending: String,
    file: Option<PathBuf>,
}

/// A field's bytes, refused with `too_long` beyond `max`.
async fn bounded(
    lang: Lang,
    mut f: Field<'_>,
    max: usize,
    too_long: (&str, &str),
) -> Result<Vec<u8>, Problem> {
    let mut out = Vec::new();
    while let Some(chunk) = f
        .chunk()
        .await
        .map_err(|e| unreadable(lang, &e.body_text()))?
    {
        out.extend_from_slice(&chunk);
        if out.len() > max {
            return Err(Problem::bad_request(t(lang, too_long.0, too_long.1)));
        }
    }
    Ok(out)
}

/// Read a text field, bounded.
async fn text_of(lang: Lang, f: Field<'_>) -> Result<String, Problem> {
    let too_long = (
        "Một ô của biểu mẫu quá dài (tối đa 8 KB).",
        "A field of the form is too long (at most 8 KB).",
    );
    let out = bounded(lang, f, MAX_FIELD, too_long).await?;
    String::from_utf8(out).map_err(|_| unreadable(lang, "not UTF-8"))
}

fn unreadable(lang: Lang, why: &str) -> Problem {
    Problem::bad_request(format!(
        "{}: {why}",
        t(lang, "Biểu mẫu hỏng", "The form could not be read")
    ))
}

/// Save an uploaded file in `dir` under a random name, at most
/// `MAX_AUDIO_BYTES`; `None` when no file was chosen.
async fn save_file(lang: Lang, dir: &Path, f: Field<'_>) -> Result<Option<PathBuf>, Problem> {
    let ext = f
        .file_name()
        .and_then(|n| {
            Path::new(n)
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
        })
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()));
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| Problem::bad_request(e.to_string()))?;
    let path = dir.join(format!(
        "{}.{}",
        crate::token::hex(&b),
        ext.as_deref().unwrap_or("bin")
    ));
    let too_long = (
        "Tệp âm thanh lớn hơn 16 MB: hãy cắt ngắn hoặc nén lại.",
        "The audio file is larger than 16 MB: shorten or compress it.",
    );
    let out = bounded(lang, f, manifest::MAX_AUDIO_BYTES as usize, too_long).await?;
    if out.is_empty() {
        return Ok(None);
    }
    if ext.is_none() {
        return Err(Problem::bad_request(t(
            lang,
            "Tệp âm thanh cần có đuôi (mp3, wav, ogg, …).",
            "The audio file needs an extension (mp3, wav, ogg, …).",
        )));
    }
    let write = {
        let (dir, path) = (dir.to_path_buf(), path.clone());
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(&path, out)
        })
    };
    match write.await {
        Ok(Ok(())) => Ok(Some(path)),
        _ => Err(Problem::bad_request(t(
            lang,
            "Không lưu được tệp tải lên (đầy đĩa?).",
            "Cannot keep the upload (disk full?).",
        ))),
    }
}

async fn read_fields(lang: Lang, dir: &Path, mut mp: Multipart) -> Result<Fields, Problem> {
    let mut f = Fields::default();
    let mut n = 0;
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| unreadable(lang, &e.body_text()))?
    {
        n += 1;
        if n > MAX_FIELDS {
            return Err(unreadable(lang, "too many fields"));
        }
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            if let Some(p) = save_file(lang, dir, field).await? {
                f.file = Some(p);
            }
            continue;
        }
        let v = text_of(lang, field).await?;
        match name.as_str() {
            "level" => f.level = v,
            "title" => f.title = v,
            "text" => f.text = v,
            "to" => f.to = v,
            "district" => f.district = v,
            "station" => f.stations.push(v),
            "expires" => f.expires = v,
            "at" => f.at = v,
            "every" => f.every = v,
            "until" => f.until = v,
            "confirm" => f.confirm = v == "1",
            "tep" => f.pending = v,
            _ => {}
        }
    }
    Ok(f)
}

fn bad(lang: Lang, vi: &str, en: &str) -> Problem {
    Problem {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        text: t(lang, vi, en).to_string(),
    }
}

/// The typed request the form describes.
fn request(lang: Lang, f: &Fields, publisher: &str) -> Result<Request, Problem> {
    let level = match f.level.as_str() {
        "normal" => Level::Normal,
        "priority" => Level::Priority,
        "emergency" => Level::Emergency,
        _ => {
            return Err(bad(
                lang,
                "Chưa chọn mức: thông thường, ưu tiên hay khẩn cấp.",
                "Choose a level: normal, priority or emergency.",
            ))
        }
    };
    let text = f.text.trim();
    let content = match (&f.file, text.is_empty()) {
        (Some(p), true) => Content::File(p.clone()),
        (None, false) => Content::Text(text.to_string()),
        (Some(_), false) => {
            return Err(bad(
                lang,
                "Chỉ gửi một trong hai: lời đọc hoặc tệp âm thanh.",
                "Send either words or an audio file, not both.",
            ))
        }
        (None, true) => {
            return Err(bad(
                lang,
                "Hãy gõ lời đọc hoặc chọn một tệp âm thanh.",
                "Type the words or choose an audio file.",
            ))
        }
    };
    let targets = match f.to.as_str() {
        "all" => "all".to_string(),
        "district" if usable_district(f.district.trim()) => {
            format!("district:{}", f.district.trim())
        }
        "district" => {
            return Err(bad(
                lang,
                "Tên huyện không hợp lệ (chữ không dấu, số, - hoặc _).",
                "Not a district name (letters, digits, - or _).",
            ))
        }
        "stations" if !f.stations.is_empty() => format!("station:{}", f.stations.join(",")),
        "stations" => return Err(bad(lang, "Chưa chọn đài nào.", "No station ticked.")),
        _ => return Err(bad(lang, "Chưa chọn nơi nhận.", "Choose where to send it.")),
    };
    let title = f.title.trim();
    if title.is_empty() {
        return Err(bad(
            lang,
            "Hãy đặt tiêu đề cho bản tin.",
            "Give the bulletin a title.",
        ));
    }
    let mut r = Request::new(publisher, Some(level), content, &targets);
    r.title = Some(title.to_string());
    let hours: i64 = match f.expires.trim() {
        "" => 24,
        h => h
            .parse()
            .ok()
            .filter(|h| (1..=744).contains(h))
            .ok_or_else(|| {
                bad(
                    lang,
                    "Thời hạn phải là số giờ từ 1 đến 744 (31 ngày).",
                    "The expiry is 1 to 744 hours (31 days).",
                )
            })?,
    };
    r.expires = Some(chrono::Duration::hours(hours));
    for at in f.at.split([',', ' ', ';']).filter(|s| !s.is_empty()) {
        let time = crate::config::parse_time_of_day(at).ok_or_else(|| {
            bad(
                lang,
                "Giờ phát sai: hãy viết giờ:phút, ví dụ 06:30, 17:30.",
                "A time is wrong: write HH:MM, e.g. 06:30, 17:30.",
            )
        })?;
        r.at.push(time);
    }
    let every = f.every.trim();
    if !every.is_empty() {
        let minutes: u32 = every
            .parse()
            .ok()
            .filter(|m| (1..=1440).contains(m))
            .ok_or_else(|| {
                bad(
                    lang,
                    "Lặp lại mỗi: số phút từ 1 đến 1440.",
                    "Repeat every: 1 to 1440 minutes.",
                )
            })?;
        let until: NaiveTime =
            crate::config::parse_time_of_day(f.until.trim()).ok_or_else(|| {
                bad(
                    lang,
                    "Khi lặp lại, hãy cho giờ kết thúc (giờ:phút).",
                    "A repeat needs an end time (HH:MM).",
                )
            })?;
        r.repeat = Some((format!("{minutes}m"), until));
    }
    Ok(r)
}

/// Uploads waiting longer than [`PENDING_LIFE`] are removed; the number
/// still waiting.
fn sweep(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut waiting = 0;
    for e in entries.flatten() {
        if e.file_name() == "sent.json" {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|m| m.elapsed().is_ok_and(|a| a > PENDING_LIFE));
        if old {
            let _ = std::fs::remove_file(e.path());
        } else {
            waiting += 1;
        }
    }
    waiting
}

/// An upload kept for the confirmation, by the name the form carries.
fn pending(dir: &Path, name: &str) -> Option<PathBuf> {
    let (stem, ext) = name.split_once('.')?;
    let ok = stem.len() == 16
        && stem.chars().all(|c| c.is_ascii_hexdigit())
        && !ext.is_empty()
        && ext.len() <= 8
        && ext.chars().all(|c| c.is_ascii_alphanumeric());
    let p = dir.join(name);
    (ok && p.is_file()).then_some(p)
}

/// `POST /gui-ban-tin?csrf=…`: check, confirm an emergency, sign and send.
pub(crate) async fn send(
    State(s): State<AppState>,
    Publisher(signed): Publisher,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    mp: Result<Multipart, MultipartRejection>,
) -> Response {
    if let Err(r) = check_csrf(&signed, q.csrf.as_deref().unwrap_or_default()) {
        return r;
    }
    let lang = signed.lang;
    let station = s.current.get();
    let Some(conf) = station.publish.clone() else {
        return answer(
            &headers,
            BACK,
            Err(bad(
                lang,
                "Máy này chưa được thiết lập để gửi bản tin ([publish]).",
                "This host is not set up to send bulletins ([publish]).",
            )),
        );
    };
    let dir = delivery::folder(&s);
    let swept = dir.clone();
    let waiting = tokio::task::spawn_blocking(move || sweep(&swept))
        .await
        .unwrap_or(0);
    if waiting >= MAX_PENDING {
        let text = t(
            lang,
            "Quá nhiều tệp âm thanh đang chờ xác nhận; hãy xác nhận hoặc đợi một giờ rồi thử lại.",
            "Too many audio files wait for confirmation; confirm them or retry within the hour.",
        );
        let p = Problem {
            status: StatusCode::TOO_MANY_REQUESTS,
            text: text.to_string(),
        };
        return answer(&headers, BACK, Err(p));
    }
    let mp = match mp {
        Ok(mp) => mp,
        Err(e) => return answer(&headers, BACK, Err(unreadable(lang, &e.body_text()))),
    };
    let mut f = match read_fields(lang, &dir, mp).await {
        Ok(f) => f,
        Err(p) => return answer(&headers, BACK, Err(p)),
    };
    if f.file.is_none() && !f.pending.is_empty() {
        f.file = pending(&dir, &f.pending);
    }
    let publisher = conf
        .publisher
        .clone()
        .unwrap_or_else(|| station.name.clone());
    let r = match request(lang, &f, &publisher) {
        Ok(r) => r,
        Err(p) => {
            if let Some(file) = &f.file {
                let _ = std::fs::remove_file(file);
            }
            return answer(&headers, BACK, Err(p));
        }
    };
    if r.level == Some(Level::Emergency) && !f.confirm {
        return confirm(&signed, &f, &r).into_response();
    }
    let file = f.file.clone();
    let out = publish_now(&s, &signed, &conf, r).await;
    if let Some(file) = file {
        let _ = std::fs::remove_file(file);
    }
    match out {
        Ok(id) => Redirect::to(&format!("{BACK}/{id}")).into_response(),
        Err(p) => answer(&headers, BACK, Err(p)),
    }
}

/// Build, sign and send `r`; remember and audit it. The broadcast's id.
async fn publish_now(
    s: &AppState,
    signed: &Signed,
    conf: &crate::config::upstream::Publish,
    r: Request,
) -> Result<String, Problem> {
    let lang = signed.lang;
    let key_path = conf.key.clone();
    // The key's refusal is the host's (500), the request's is the form's (422).
    let built = tokio::task::spawn_blocking(move || {
        let key = crate::signing::read(&key_path).map_err(|e| {
            let text = format!("{e:#}");
            publish::Invalid {
                en: format!("Cannot read the signing key: {text}"),
                vi: format!("Không đọc được khoá ký: {text}"),
            }
        });
        let key = key.map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))?;
        let (m, audio) =
            publish::build(&r, Utc::now()).map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e))?;
        Ok((key, m, audio))
    })
    .await
    .map_err(|_| {
        bad(
            lang,
            "Lỗi bên trong khi chuẩn bị bản tin.",
            "Internal error preparing the bulletin.",
        )
    })?;
    let (key, m, audio) = built.map_err(|(status, e)| Problem {
        status,
        text: t(lang, &e.vi, &e.en).to_string(),
    })?;
    let level = format!("{:?}", m.priority).to_lowercase();
    let detail = format!("{} ({level}, {})", m.id, m.targets);
    let sent = {
        let _permit = SENDING.acquire().await;
        tokio::time::timeout(
            publish::SEND_TIMEOUT,
            publish::send(&delivery::conn(conf), &key, &m, audio),
        )
        .await
    };
    let who = &signed.user;
    match sent {
        Ok(Ok(())) => {
            s.recorder.audit(who, "province publish", &detail, "ok");
            let id = m.id.clone();
            let record = Sent {
                manifest: m,
                by: who.clone(),
            };
            let dir = delivery::folder(s);
            let _ = tokio::task::spawn_blocking(move || delivery::remember(&dir, record)).await;
            Ok(id)
        }
        Ok(Err(e)) => {
            s.recorder
                .audit(who, "province publish", &detail, &format!("failed: {e:#}"));
            Err(Problem {
                status: StatusCode::BAD_GATEWAY,
                text: format!(
                    "{}: {e:#}",
                    t(
                        lang,
                        "Không gửi được qua máy chủ MQTT",
                        "Could not send through the broker"
                    )
                ),
            })
        }
        Err(_) => {
            s.recorder.audit(
                who,
                "province publish",
                &detail,
                "failed: the broker did not confirm in time",
            );
            Err(Problem { status: StatusCode::GATEWAY_TIMEOUT, text: t(lang, "Máy chủ MQTT không xác nhận kịp: hãy xem danh sách bản tin đã gửi rồi thử lại.", "The broker did not confirm in time: check the list of sent bulletins, then retry.").to_string() })
        }
    }
}

/// The emergency's confirmation: what will air where, and one red button
/// that sends the same form again, confirmed.
fn confirm(signed: &Signed, f: &Fields, r: &Request) -> Markup {
    let lang = signed.lang;
    let title = t(
        lang,
        "Xác nhận gửi bản tin khẩn cấp",
        "Confirm the emergency bulletin",
    );
    let pending = f
        .file
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    let hidden = [
        ("level", f.level.as_str()),
        ("title", f.title.as_str()),
        ("text", f.text.as_str()),
        ("to", f.to.as_str()),
        ("district", f.district.as_str()),
        ("expires", f.expires.as_str()),
        ("at", f.at.as_str()),
        ("every", f.every.as_str()),
        ("until", f.until.as_str()),
    ];
    let action = format!("{BACK}?csrf={}", signed.csrf);
    layout(
        Some(signed),
        lang,
        title,
        html! {
            h1 { (title) }
            div class="card danger" {
                p class="big-what" { (f.title.trim()) }
                @match &r.content {
                    Content::Text(text) => blockquote class="big-what notice" { (text) },
                    _ => p { (t(lang, "Tệp âm thanh đã tải lên.", "The uploaded audio file.")) },
                }
                p { (t(lang, "Gửi đến: ", "To: ")) strong { (delivery::targets_words(lang, &r.targets)) } }
                p { strong { (t(lang, "Mỗi đài nhận được sẽ cắt mục đang phát và phát ngay.", "Every station that receives it cuts what airs and airs it at once.")) } }
                form method="post" action=(action) enctype="multipart/form-data" class="stack" {
                    @for (name, value) in hidden { input type="hidden" name=(name) value=(value); }
                    @for st in &f.stations { input type="hidden" name="station" value=(st); }
                    @if let Some(p) = &pending { input type="hidden" name="tep" value=(p); }
                    input type="hidden" name="confirm" value="1";
                    button type="submit" class="btn big red" { (t(lang, "Gửi khẩn cấp ngay", "Send the emergency now")) }
                }
                a class="btn big light" href=(BACK) { (t(lang, "Thôi, quay lại", "No, go back")) }
            }
        },
    )
}
