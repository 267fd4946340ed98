//! The emergency control: the red button first on `/` that opens its
//! form, the confirmation page (`GET /khan-cap`) that says what will air,
//! how often and until when, and the order itself (`POST /khan-cap`).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, TimeZone, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::action::{token_field, Control};
use super::clock;
use super::now::{non_empty, now_page, picks, target_of, Pick};
use super::Problem;
use crate::config::Station;
use crate::control::orders::EmergencyOrder;
use crate::control::Shared as AppState;
use crate::timefmt;
use crate::web::i18n::{t, Lang};
use crate::web::layout::page as layout;
use crate::web::session::{Operator, Signed};

/// The emergency control, first on `/` for operators: one red button that
/// opens the form (open at once, with `problem` on it, when the last try
/// was refused).
pub(super) fn emergency_form(signed: &Signed, picks: &[Pick], problem: Option<&str>) -> Markup {
    let lang = signed.lang;
    html! {
        details class="card danger em" id="khan-cap" open[problem.is_some()] {
            summary { (t(lang, "Phát khẩn cấp…", "Emergency…")) }
            p { (t(lang, "Cắt ngay mục đang phát. Bạn sẽ được hỏi lại trước khi phát.",
                       "Cuts what airs at once. You are asked to confirm first.")) }
            @if let Some(p) = problem {
                p class="form-error" role="alert" id="em-loi" { (p) }
            }
            form method="get" action="/khan-cap" class="stack" {
                label for="em-what" { (t(lang, "Phát gì", "What to air")) }
                select id="em-what" name="what" aria-describedby=[problem.map(|_| "em-loi")] {
                    option value="" { (t(lang, "— gõ thông báo bên dưới —", "— type a notice below —")) }
                    @for p in picks {
                        option value=(p.value) { (p.name(lang)) " (" (clock(p.seconds)) ")" }
                    }
                }
                label for="em-text" { (t(lang, "Hoặc gõ thông báo để đọc", "Or type a notice to read aloud")) }
                textarea id="em-text" name="text" rows="3" maxlength="2000" {}
                // Heard through the page's script (this form is a GET and
                // carries no form token): hidden until the script shows it.
                button type="button" class="btn light" data-listen data-csrf=(signed.csrf) hidden {
                    (t(lang, "Nghe thử thông báo", "Listen to the notice first"))
                }
                div class="row2" {
                    div {
                        label for="em-every" { (t(lang, "Lặp lại mỗi (phút)", "Repeat every (minutes)")) }
                        input id="em-every" name="every" type="number" min="1" max="1440" inputmode="numeric"
                            placeholder=(t(lang, "không lặp", "no repeat"));
                    }
                    div {
                        label for="em-until" { (t(lang, "Đến (giờ:phút)", "Until (HH:MM)")) }
                        input id="em-until" name="until" type="time";
                    }
                }
                button type="submit" class="btn big red" { (t(lang, "Tiếp tục…", "Continue…")) }
            }
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct EmergencyQuery {
    #[serde(default)]
    what: String,
    text: Option<String>,
    every: Option<String>,
    until: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct EmergencyForm {
    csrf: String,
    #[serde(default)]
    what: String,
    text: Option<String>,
    every: Option<String>,
    until: Option<String>,
}

token_field!(EmergencyForm);

/// `HH:MM` as the next such instant in the station's zone (today, or
/// tomorrow when it has passed).
fn until_instant(lang: Lang, station: &Station, hhmm: &str) -> Result<DateTime<Utc>, Problem> {
    let bad = || {
        Problem::bad_request(format!(
            "{} «{hhmm}»: {}",
            t(lang, "Giờ sai", "Not a time"),
            t(
                lang,
                "hãy viết giờ:phút, ví dụ 17:30",
                "write HH:MM, e.g. 17:30"
            )
        ))
    };
    // The station file's parser: HH:MM (a browser may add :SS), no leap second.
    let time = crate::config::parse_time_of_day(hhmm).ok_or_else(bad)?;
    let tz = station.timezone;
    let now = Utc::now();
    let mut day = timefmt::local_date(now, tz);
    for _ in 0..2 {
        if let Some(at) = tz.from_local_datetime(&day.and_time(time)).earliest() {
            let at = at.with_timezone(&Utc);
            if at > now {
                return Ok(at);
            }
        }
        day += Duration::days(1);
    }
    Err(bad())
}

/// `GET /khan-cap`: what will air, how often and until when; one red
/// button confirms. A form that names nothing to air comes back as `/`
/// with the emergency form open and the error on it.
pub(crate) async fn emergency_confirm(
    State(s): State<AppState>,
    Operator(signed): Operator,
    q: Result<Query<EmergencyQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let lang = signed.lang;
    let title = t(lang, "Xác nhận phát khẩn cấp", "Confirm the emergency");
    let picks = picks(&s).await;
    let q = match q {
        Ok(Query(q)) => q,
        Err(_) => {
            let text = t(lang, "Chưa chọn phát gì.", "Nothing chosen to air.");
            return refused(&s, &signed, text).await;
        }
    };
    let body = match (non_empty(&q.text), picks.iter().find(|p| p.value == q.what)) {
        (None, None) => {
            let text = if q.what.is_empty() {
                t(
                        lang,
                        "Chưa chọn bản tin nào và chưa gõ thông báo: chọn một bản tin hoặc gõ thông báo rồi bấm lại.",
                        "No bulletin chosen and no notice typed: choose a bulletin or type a notice, then press again.",
                    )
            } else {
                t(
                    lang,
                    "Không tìm thấy bản tin hay bản ghi này (có thể vừa bị xoá): chọn lại.",
                    "No such bulletin or recording (perhaps just removed): choose again.",
                )
            };
            return refused(&s, &signed, text).await;
        }
        (text, pick) => {
            let every = non_empty(&q.every);
            let until = non_empty(&q.until);
            html! {
                div class="card danger" {
                    @match (text, pick) {
                        (Some(text), _) => {
                            p { (t(lang, "Đọc thông báo này:", "Reads this notice aloud:")) }
                            blockquote class="big-what notice" { (text) }
                        }
                        (None, Some(p)) => {
                            p class="big-what" { (p.name(lang)) }
                            p { (t(lang, "Dài ", "Length ")) (clock(p.seconds)) }
                        }
                        (None, None) => {}
                    }
                    p {
                        @match every {
                            Some(n) => {
                                (t(lang, "Lặp lại mỗi ", "Repeats every ")) (n) (t(lang, " phút", " minutes"))
                                @match until {
                                    Some(u) => { (t(lang, " đến ", " until ")) (u) }
                                    None => { (t(lang, " cho đến khi bấm dừng", " until stopped")) }
                                }
                            }
                            None => (t(lang, "Phát một lần.", "Airs once.")),
                        }
                    }
                    p { strong { (t(lang, "Mục đang phát sẽ bị cắt ngay.", "What airs now is cut at once.")) } }
                    form method="post" action="/khan-cap" class="stack" {
                        input type="hidden" name="csrf" value=(signed.csrf);
                        @match (text, pick) {
                            (Some(text), _) => { input type="hidden" name="text" value=(text); }
                            (None, Some(p)) => { input type="hidden" name="what" value=(p.value); }
                            (None, None) => {}
                        }
                        @if let Some(n) = every { input type="hidden" name="every" value=(n); }
                        @if let Some(u) = until { input type="hidden" name="until" value=(u); }
                        button type="submit" class="btn big red" { (t(lang, "Phát khẩn cấp ngay", "Air the emergency now")) }
                    }
                    a class="btn big light" href="/" { (t(lang, "Thôi, quay lại", "No, go back")) }
                }
            }
        }
    };
    layout(Some(&signed), lang, title, html! { h1 { (title) } (body) }).into_response()
}

/// `/` again with the emergency form open and `text` on it.
async fn refused(s: &AppState, signed: &Signed, text: &str) -> Response {
    let page = now_page(s, signed, None, Some(text)).await;
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

pub(crate) async fn emergency(State(s): State<AppState>, c: Control<EmergencyForm>) -> Response {
    c.run(|f, lang, who| async move {
        let station = s.current.get();
        let until = non_empty(&f.until)
            .map(|u| until_instant(lang, &station, u))
            .transpose()?;
        let order = EmergencyOrder {
            what: target_of(lang, &f.what, &f.text)?,
            repeat_every: non_empty(&f.every).map(|n| format!("{n}m")),
            until,
        };
        s.emergency(&who, order)
            .await
            .map_err(|e| Problem::of(lang, &e))?;
        Ok(t(lang, "Đang phát khẩn cấp.", "The emergency airs.").to_string())
    })
    .await
}
