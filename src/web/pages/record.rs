//! `/thu-am` Thu âm / Tải lên: record a notice with the phone's microphone
//! (the page's script captures PCM and makes a WAV, which every browser
//! can and loa decodes), or pick a file; upload it through the API's own
//! upload (`crate::api::upload`: streamed, size-capped, probed before it
//! is named); then the probe's verdict in words, and buttons to queue it
//! or air it as an emergency.

use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::{answer, clock, shown, Flash};
use crate::api::routes as api;
use crate::api::{files, ApiError, AppState};
use crate::probe::AudioInfo;
use crate::web::i18n::{t, Lang};
use crate::web::layout::assets;
use crate::web::layout::page as layout;
use crate::web::session::{caller, check_csrf, Operator};

#[derive(Deserialize)]
pub(crate) struct PageQuery {
    tep: Option<String>,
}

pub(crate) async fn page(
    State(s): State<AppState>,
    Operator(signed): Operator,
    headers: HeaderMap,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let lang = signed.lang;
    let flash = Flash::take(&headers);
    let title = t(lang, "Thu âm / Tải lên", "Record / Upload");
    let verdict = match q.ok().and_then(|Query(q)| q.tep) {
        Some(name) => Some(verdict(&s, lang, &signed.csrf, name).await),
        None => None,
    };
    let upload_url = format!("/thu-am/tai-len?csrf={}", signed.csrf);
    let body = html! {
        h1 { (title) }
        (Flash::show(flash.as_ref()))
        @if let Some(v) = verdict { (v) }
        section class="card" aria-labelledby="h-rec" id="thu-am" data-upload=(upload_url) data-csrf=(signed.csrf) {
            h2 id="h-rec" { (t(lang, "Thu âm bằng micrô", "Record with the microphone")) }
            p class="hint" { (t(lang,
                "Bấm “Bắt đầu thu”, cho phép dùng micrô, đọc thông báo, rồi bấm “Dừng”. Nghe lại trước khi gửi.",
                "Press “Start recording”, allow the microphone, read the notice, then press “Stop”. Listen before sending.")) }
            div class="rec-controls" {
                button type="button" class="btn big red" id="bat-dau" { (t(lang, "● Bắt đầu thu", "● Start recording")) }
                button type="button" class="btn big" id="dung" disabled { (t(lang, "■ Dừng", "■ Stop")) }
                span id="thoi-gian" class="timer" aria-live="off" { "0:00" }
            }
            p id="trang-thai-thu" class="hint" role="status" {}
            audio id="nghe-lai" controls hidden {}
            button type="button" class="btn big" id="gui-ban-ghi" hidden { (t(lang, "Gửi bản ghi này", "Send this recording")) }
        }
        section class="card" aria-labelledby="h-file" {
            h2 id="h-file" { (t(lang, "Hoặc chọn một tệp âm thanh", "Or pick an audio file")) }
            form id="tai-tep" method="post" action=(upload_url) enctype="multipart/form-data" class="stack" {
                label for="tep" { (t(lang, "Tệp (mp3, m4a, wav, flac, ogg)", "File (mp3, m4a, wav, flac, ogg)")) }
                input id="tep" type="file" name="file" accept="audio/*,.mp3,.m4a,.wav,.flac,.ogg" required;
                button type="submit" class="btn big" { (t(lang, "Tải lên", "Upload")) }
            }
        }
        div id="dang-tai" class="card" hidden {
            label for="tien-do" { (t(lang, "Đang tải lên…", "Uploading…")) }
            progress id="tien-do" max="100" value="0" {}
        }
        script src=(assets::RECORD_JS.url()) defer {}
    };
    shown(layout(Some(&signed), lang, title, body), flash.as_ref())
}

/// The probe's verdict on an uploaded file, in words, with what to do next.
async fn verdict(s: &AppState, lang: Lang, csrf: &str, name: String) -> Markup {
    let station = s.current.get();
    let shown_name = name.clone();
    let r: Result<AudioInfo, ApiError> = api::blocking(move || {
        files::check_name(&name)?;
        let path = files::resolve(&station.audio_dir, &name)?;
        crate::probe::probe(&path).map_err(|e| files::probe_error(&e, &path, &name))
    })
    .await;
    match r {
        Err(e) => html! {
            div class="card verdict bad" role="alert" {
                h2 { (t(lang, "Tệp này không phát được", "This file will not play")) }
                @if let Some(words) = refusal_words(lang, &e) { p { strong { (words) } } }
                p class="hint" { (e.message) }
            }
        },
        Ok(info) => {
            let what = format!("f:{shown_name}");
            html! {
                div class="card verdict good" role="status" {
                    h2 { (t(lang, "Tệp tốt, sẵn sàng phát", "The file is good and ready to air")) }
                    p class="big-what" { (shown_name) }
                    p {
                        (t(lang, "Dài ", "Length ")) strong { (clock(info.seconds)) }
                        " · " (info.format.to_uppercase())
                        " · " (if info.channels == 1 { t(lang, "1 kênh (mono)", "mono") } else { t(lang, "stereo", "stereo") })
                        " · " (info.sample_rate) " Hz"
                    }
                    div class="actions" {
                        form method="post" action="/xep-hang" data-fetch class="inline" {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="what" value=(what);
                            button type="submit" class="btn big" { (t(lang, "Xếp hàng phát", "Queue it")) }
                        }
                        a class="btn big red" href={ "/khan-cap?what=" (urlencode(&what)) } {
                            (t(lang, "Phát khẩn cấp…", "Air as emergency…"))
                        }
                    }
                }
            }
        }
    }
}

/// What a refused recording means, for someone who is not technical.
fn refusal_words(lang: Lang, e: &ApiError) -> Option<&'static str> {
    Some(match (e.error, e.status.as_u16()) {
        ("bad_audio", 415) => t(
            lang,
            "Đây không phải tệp âm thanh mà đài phát được (có thể là video, tệp hỏng, \
             hoặc định dạng như Opus/WebM). Hãy thu lại ngay trên trang này, \
             hoặc gửi tệp MP3, M4A hay WAV.",
            "This is not audio the station can play (a video, a damaged file, or a format \
             such as Opus/WebM). Record again on this page, or send an MP3, M4A or WAV file.",
        ),
        ("bad_audio", _) => t(
            lang,
            "Tệp âm thanh bị hỏng, bị cắt cụt, không có tiếng, hoặc sẽ phát sai. \
             Hãy nghe lại rồi thu lại, hoặc đổi sang MP3 rồi gửi lại.",
            "The audio is damaged, cut short, silent, or would air wrongly. Listen to it \
             and record again, or convert it to MP3 and send it again.",
        ),
        ("upload_too_large", _) => t(
            lang,
            "Tệp quá lớn. Hãy thu ngắn hơn, hoặc chia thành nhiều phần.",
            "The file is too large. Record a shorter notice, or split it.",
        ),
        _ => return None,
    })
}

/// Percent-encode a query value.
pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
pub(crate) struct UploadQuery {
    csrf: Option<String>,
}

/// `POST /thu-am/tai-len`: the API's upload with the signed-in user as the
/// caller. The CSRF token comes in the `x-csrf-token` header (the page's
/// script) or the query (the plain form): the body is the file.
pub(crate) async fn upload(
    State(s): State<AppState>,
    Operator(signed): Operator,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(q.csrf)
        .unwrap_or_default();
    if let Err(r) = check_csrf(&signed, &token) {
        return r;
    }
    let r = crate::api::upload::upload(
        State(Arc::clone(&s)),
        Extension(caller(&signed)),
        headers.clone(),
        multipart,
    )
    .await;
    // A refusal says first, in plain words, what is wrong and what to do;
    // then the API's own message.
    let r = r.map_err(|mut e| {
        if let Some(words) = refusal_words(signed.lang, &e) {
            e.message = format!("{words} ({})", e.message);
        }
        e
    });
    if headers.contains_key(super::FETCH_HEADER) {
        // The script reads the API's answer: the name, or why not.
        return r.into_response();
    }
    match r {
        Ok(res) => {
            let bytes = axum::body::to_bytes(res.into_body(), 64 * 1024)
                .await
                .unwrap_or_default();
            let name = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["name"].as_str().map(str::to_string))
                .unwrap_or_default();
            Redirect::to(&format!("/thu-am?tep={}", urlencode(&name))).into_response()
        }
        Err(e) => answer(&headers, "/thu-am", Err(e)),
    }
}
