//! `/thu-am` Thu âm / Tải lên: record a notice with the phone's microphone
//! (the page's script captures PCM and makes a WAV, which every browser
//! can and loa decodes), or pick a file; upload it through the control
//! layer's upload (`crate::control::upload`: streamed, size-capped, probed
//! before it is named), as the API does; then the probe's verdict in
//! words, and buttons to queue it or air it as an emergency.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use maud::{html, Markup};
use serde::Deserialize;

use super::{answer, clock, shown, words, Flash, Problem};
use crate::control::upload::Incoming;
use crate::control::{Error, Shared as AppState};
use crate::probe::{AudioInfo, ProbeErrorKind};
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
        // One title for either way in (the file form's own field, placed
        // here with `form=`; the recorder's script sends it too).
        section class="card" aria-labelledby="h-title" {
            h2 id="h-title" { (t(lang, "Tên bản ghi", "Recording's title")) }
            label for="ten-ban-ghi" { (t(lang, "Đặt tên để dễ tìm khi xếp hàng (không bắt buộc)", "A title to find it by when queuing (optional)")) }
            input id="ten-ban-ghi" name="title" type="text" form="tai-tep" maxlength="120" autocomplete="off"
                placeholder=(t(lang, "ví dụ: Thông báo tiêm phòng dại", "e.g. Rabies vaccination notice"));
        }
        // The recorder's script says these, in the page's language.
        section class="card" aria-labelledby="h-rec" id="thu-am" data-upload=(upload_url) data-csrf=(signed.csrf)
            data-asking=(t(lang, "Đang xin phép dùng micrô…", "Asking for the microphone…"))
            data-recording=(t(lang, "Đang thu… nói vào micrô.", "Recording… speak into the microphone."))
            data-done=(t(lang, "Đã thu xong. Nghe lại, rồi bấm “Gửi bản ghi này”.", "Recorded. Listen, then press “Send this recording”."))
            data-nomic=(t(lang, "Không dùng được micrô: ", "The microphone cannot be used: "))
            data-nosupport=(t(lang, "Trình duyệt này không thu âm được; hãy chọn một tệp bên dưới.", "This browser cannot record; pick a file below."))
            data-empty=(t(lang, "Bản ghi rỗng; thu lại.", "The recording is empty; record again."))
            data-failed=(t(lang, "Tải lên không được: ", "Upload failed: "))
            data-network=(t(lang, "mất kết nối", "connection lost")) {
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
    let shown_name = name.clone();
    let title = s
        .recording_titles()
        .await
        .ok()
        .and_then(|mut all| all.remove(&name));
    let r: Result<AudioInfo, Error> = s.probe_file(name).await;
    match r {
        Err(e) => html! {
            div class="card verdict bad" role="alert" {
                h2 { (t(lang, "Tệp này không phát được", "This file will not play")) }
                @if let Some(plain) = refusal_words(lang, &e) { p { strong { (plain) } } }
                p class="hint" { (words(lang, &e)) }
            }
        },
        Ok(info) => {
            let what = format!("f:{shown_name}");
            html! {
                div class="card verdict good" role="status" {
                    h2 { (t(lang, "Tệp tốt, sẵn sàng phát", "The file is good and ready to air")) }
                    @if let Some(title) = &title {
                        p class="big-what" { (title) }
                        p class="hint" { (shown_name) }
                    } @else {
                        p class="big-what" { (shown_name) }
                    }
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
fn refusal_words(lang: Lang, e: &Error) -> Option<&'static str> {
    Some(match e {
        Error::BadAudio {
            kind: ProbeErrorKind::NotAudio | ProbeErrorKind::Empty | ProbeErrorKind::Unsupported,
            ..
        }
        | Error::EmptyUpload => t(
            lang,
            "Đây không phải tệp âm thanh mà đài phát được (có thể là video, tệp văn bản \
             hoặc tệp hỏng). Hãy thu lại ngay trên trang này, hoặc gửi bản ghi âm từ \
             điện thoại, tệp MP3, M4A hay WAV.",
            "This is not audio the station can play (a video, a text file or a damaged \
             file). Record again on this page, or send a phone's voice recording, an MP3, \
             M4A or WAV file.",
        ),
        Error::BadAudio { .. } => t(
            lang,
            "Tệp âm thanh bị hỏng, bị cắt cụt, không có tiếng, hoặc sẽ phát sai. \
             Hãy nghe lại rồi thu lại, hoặc đổi sang MP3 rồi gửi lại.",
            "The audio is damaged, cut short, silent, or would air wrongly. Listen to it \
             and record again, or convert it to MP3 and send it again.",
        ),
        Error::UploadTooLarge { .. } => t(
            lang,
            "Tệp quá lớn. Hãy thu ngắn hơn, hoặc chia thành nhiều phần.",
            "The file is too large. Record a shorter notice, or split it.",
        ),
        _ => return None,
    })
}

/// Percent-encode a query value.
pub(crate) fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
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
    let lang = signed.lang;
    let fetch = headers.contains_key(super::FETCH_HEADER);
    let r = s
        .upload(&caller(&signed), Incoming::of(&headers, multipart))
        .await;
    match r {
        // The script reads the name, or why not.
        Ok(stored) if fetch => (
            axum::http::StatusCode::CREATED,
            Json(serde_json::json!({ "name": stored.name })),
        )
            .into_response(),
        Ok(stored) => {
            Redirect::to(&format!("/thu-am?tep={}", urlencode(&stored.name))).into_response()
        }
        // A refusal says first, in plain words, what is wrong and what to
        // do; then the refusal itself.
        Err(e) => {
            let mut p = Problem::of(lang, &e);
            if let Some(plain) = refusal_words(lang, &e) {
                p.text = format!("{plain} ({})", p.text);
            }
            answer(&headers, "/thu-am", Err(p))
        }
    }
}
