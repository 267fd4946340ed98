//! `/` Đang phát: what airs, its progress and time left, the queue, what
//! is next, today's plan with each past occurrence's outcome, the output,
//! pause, and a banner while an emergency repeats; and the operator's
//! controls. The live part is one fragment (`/truc-tiep`) the page's
//! script fetches every two seconds and swaps in when it changed, drawn by
//! the same code as the first view.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::action::{token_field, Control};
use super::ledger::source_word;
use super::{clock, outcome_badge, problem, shown, Flash, Problem};
use crate::config::Role;
use crate::control::orders::{QueueOrder, What};
use crate::control::Shared as AppState;
use crate::engine::playout::OutputState;
use crate::ledger::Outcome;
use crate::web::i18n::{t, Lang};
use crate::web::layout::page as layout;
use crate::web::session::{Operator, Signed};

/// How many recordings the pickers offer (newest names first).
const RECORDINGS_OFFERED: usize = 30;

pub(crate) async fn page(
    State(s): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
) -> Response {
    let flash = Flash::take(&headers);
    let page = now_page(&s, &signed, flash.as_ref(), None).await;
    shown(page, flash.as_ref())
}

/// `/` drawn: the emergency control first (operators), the live part,
/// then the queue form. `em_problem`: why the emergency form was refused,
/// shown on it.
pub(super) async fn now_page(
    s: &AppState,
    signed: &Signed,
    flash: Option<&Flash>,
    em_problem: Option<&str>,
) -> Markup {
    let lang = signed.lang;
    let op = signed.role >= Role::Operator;
    let live = fragment(s, signed).await;
    let picks = if op { picks(s).await } else { Vec::new() };
    let tinh = super::received::section(s, signed).await;
    let title = t(lang, "Đang phát", "On air");
    let body = html! {
        h1 { (title) }
        (Flash::show(flash))
        @if op { (super::emergency::emergency_form(signed, &picks, em_problem)) }
        section id="song" class="live" data-live="/truc-tiep" aria-live="off" {
            (live)
        }
        @if op { (queue_form(signed, &picks)) }
        (tinh)
    };
    layout(Some(signed), lang, title, body)
}

/// `GET /truc-tiep`: the live part of `/`, for the page's script.
pub(crate) async fn live(State(s): State<AppState>, signed: Signed) -> Response {
    let mut r = fragment(&s, &signed).await.into_response();
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    r
}

/// The live part: drawn from the control layer's typed status.
async fn fragment(s: &AppState, signed: &Signed) -> Markup {
    let lang = signed.lang;
    let op = signed.role >= Role::Operator;
    let view = s.status();
    let station = Arc::clone(&view.station);
    let tz = station.timezone;
    let hm = |t: DateTime<Utc>| t.with_timezone(&tz).format("%H:%M").to_string();
    let plan = today(s).await.render(lang);
    let st = view.engine;
    let paused = st.paused;
    let etas = expected_starts(&st, Utc::now());
    html! {
        @if let Some(e) = &st.emergency {
            div class="banner emergency" role="alert" {
                p {
                    strong { (t(lang, "KHẨN CẤP đang lặp lại: ", "EMERGENCY repeating: ")) }
                    (e.title)
                }
                p {
                    (t(lang, "Mỗi ", "Every ")) (every(lang, e.repeat_every.num_seconds() as f64))
                    @if let Some(u) = e.until {
                        (t(lang, " đến ", " until ")) (hm(u))
                    }
                    (t(lang, " · lần tới ", " · next at ")) (hm(e.next_at))
                }
                @if op {
                    form method="post" action="/khan-cap/huy" data-fetch {
                        input type="hidden" name="csrf" value=(signed.csrf);
                        button type="submit" class="btn big light" { (t(lang, "Dừng khẩn cấp", "Stop the emergency")) }
                    }
                }
            }
        }
        @if paused {
            div class="banner paused" role="alert" {
                p { strong { (t(lang, "Đài đang TẠM DỪNG: không phát gì.", "The station is PAUSED: nothing airs.")) } }
                @if op {
                    form method="post" action="/tiep-tuc" data-fetch {
                        input type="hidden" name="csrf" value=(signed.csrf);
                        button type="submit" class="btn big" { (t(lang, "Tiếp tục phát", "Resume")) }
                    }
                }
            }
        }
        (line_banners(lang, st.line))
        @if st.clock_suspect {
            p class="banner warn" {
                (t(lang, "Đồng hồ máy có vẻ chậm hơn sổ phát sóng: các mục theo lịch đang chờ. Kiểm tra giờ (NTP).",
                       "The clock looks behind the ledger: scheduled items wait. Check the time (NTP)."))
            }
        }
        div class="card onair" {
            h2 { (t(lang, "Đang phát", "On air")) }
            @if let Some(a) = &st.airing {
                @let dur = a.duration_seconds;
                @let started = a.started_at.timestamp_millis();
                p class="title" { (a.title) }
                p class="meta" {
                    (source_word(lang, a.source))
                    " · " (t(lang, "bắt đầu ", "started ")) (hm(a.started_at))
                    " · " (t(lang, "dài ", "length ")) (clock(dur))
                }
                progress class="bar" max=(format!("{dur:.1}")) value="0"
                    data-started=(started) data-duration=(format!("{dur:.3}"))
                    aria-label=(t(lang, "Tiến độ", "Progress")) {}
                p class="left" data-left-label=(t(lang, "còn lại", "left")) {}
                @if op {
                    form method="post" action="/bo-qua" data-fetch class="inline" {
                        input type="hidden" name="csrf" value=(signed.csrf);
                        button type="submit" class="btn" { (t(lang, "Bỏ qua", "Skip")) }
                    }
                }
            } @else {
                p class="idle" { (t(lang, "Không phát gì lúc này.", "Nothing airs right now.")) }
            }
            @if op && !paused {
                a class="btn" href="/tam-dung" { (t(lang, "Tạm dừng đài…", "Pause the station…")) }
            }
            p class="output" { (output_line(lang, &st.output)) }
            @if let Some(u) = &view.upstream {
                (upstream_line(lang, u, hm))
            }
        }
        div class="card" {
            h2 { (t(lang, "Hàng chờ", "Queue")) " (" (st.queue_length) ")" }
            @if st.queue.is_empty() {
                p class="idle" { (t(lang, "Không có mục nào đang chờ.", "Nothing waits.")) }
            } @else {
                ol class="rows" {
                    @for (i, (q, eta)) in st.queue.iter().zip(&etas).enumerate() {
                        li {
                            span class="pos" { (i + 1) "." }
                            span class="time" { (hm(*eta)) }
                            span class="what" {
                                (q.title)
                                small { " · " (source_word(lang, q.source))
                                    @if let Some(by) = &q.requested_by { " · " (by) }
                                    " · " (clock(q.planned_seconds)) }
                            }
                            @if op {
                                form method="post" action={ "/xep-hang/" (q.id) "/huy" } data-fetch class="inline" {
                                    input type="hidden" name="csrf" value=(signed.csrf);
                                    button type="submit" class="btn small" aria-label={ (t(lang, "Huỷ ", "Cancel ")) (q.title) } {
                                        (t(lang, "Huỷ", "Cancel"))
                                    }
                                }
                            }
                        }
                    }
                }
                p class="eta" {
                    @if paused {
                        (t(lang, "Đài đang tạm dừng: hàng chờ phát khi tiếp tục.", "The station is paused: the queue airs when it resumes."))
                    } @else {
                        (t(lang, "Giờ bên trái là giờ dự kiến bắt đầu (tin khẩn cấp chen vào sẽ làm muộn hơn).",
                               "The time on the left is the expected start (an emergency cutting in makes it later)."))
                    }
                }
                @if st.queue_length > st.queue.len() {
                    p class="more" {
                        (t(lang, "… còn ", "… and "))
                        (st.queue_length - st.queue.len())
                        (t(lang, " mục nữa sau các mục trên.", " more after these."))
                    }
                }
                @if op {
                    a class="btn small light" href="/xep-hang/huy-tat-ca" { (t(lang, "Huỷ tất cả…", "Cancel all…")) }
                }
            }
            @if let Some(n) = view.next.items.first() {
                p class="next" {
                    strong { (t(lang, "Tiếp theo theo lịch: ", "Next on the plan: ")) }
                    (hm(n.at)) " " (n.title)
                }
            }
        }
        div class="card" {
            h2 { (t(lang, "Lịch hôm nay", "Today's plan")) }
            (plan)
        }
    }
}

/// The link to the province, under what airs (a station with `[upstream]`).
fn upstream_line(
    lang: Lang,
    u: &crate::control::link::LinkView,
    hm: impl Fn(DateTime<Utc>) -> String,
) -> Markup {
    html! {
        p class="output upstream" {
            @if u.connected {
                (t(lang, "Kết nối với tỉnh: có", "Link to the province: up"))
            } @else {
                strong { (t(lang, "Kết nối với tỉnh: MẤT (đang thử lại)", "Link to the province: DOWN (retrying)")) }
            }
            @if let Some(at) = u.last_message {
                " · " (t(lang, "tin cuối ", "last message ")) (hm(at))
            }
        }
    }
}

/// When each shown queue entry should start: after what airs and the
/// entries before it, and not before it is due. An estimate: an emergency
/// cutting in, or a pause, makes it later.
fn expected_starts(st: &crate::engine::Status, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let length = |seconds: f64| chrono::Duration::milliseconds((seconds * 1000.0) as i64);
    let mut free = st.airing.as_ref().map_or(now, |a| {
        (a.started_at + length(a.duration_seconds)).max(now)
    });
    st.queue
        .iter()
        .map(|q| {
            let start = free.max(q.at);
            free = start + length(q.planned_seconds);
            start
        })
        .collect()
}

/// A repeat interval in words: `30 phút`, `1 giờ 30 phút`.
fn every(lang: Lang, seconds: f64) -> String {
    let m = (seconds / 60.0).round() as u64;
    match (m / 60, m % 60) {
        (0, m) => format!("{m} {}", t(lang, "phút", "min")),
        (h, 0) => format!("{h} {}", t(lang, "giờ", "h")),
        (h, m) => format!("{h} {} {m} {}", t(lang, "giờ", "h"), t(lang, "phút", "min")),
    }
}

fn output_line(lang: Lang, o: &OutputState) -> Markup {
    html! {
        (t(lang, "Loa: ", "Output: "))
        @match o {
            OutputState::Open => span class="badge o-ok" { (t(lang, "đang mở", "open")) },
            OutputState::Idle => span class="badge o-skip" { (t(lang, "nghỉ (mở khi có bản tin)", "idle (opens for the next item)")) },
            OutputState::Failed { reason } => {
                span class="badge o-fail" { (t(lang, "lỗi", "failed")) }
                " " (reason.0.text(lang))
            },
        }
    }
}

/// Today's plan in the station's zone, each past occurrence with its
/// outcome from the ledger.
async fn today(s: &AppState) -> PlanRows {
    let now = Utc::now();
    PlanRows(s.today().await.map(|plan| {
        plan.into_iter()
            .map(|p| PlanRow {
                at: p.at.format("%H:%M").to_string(),
                past: p.at.with_timezone(&Utc) <= now,
                title: p.title,
                campaign: p.campaign,
                outcome: p.outcome,
            })
            .collect()
    }))
}

struct PlanRow {
    at: String,
    title: String,
    campaign: Option<String>,
    /// `Some(None)`: on air now; `None`: no row yet.
    outcome: Option<Option<Outcome>>,
    past: bool,
}

struct PlanRows(Result<Vec<PlanRow>, crate::control::Error>);

impl PlanRows {
    fn render(&self, lang: Lang) -> Markup {
        match &self.0 {
            Err(e) => problem(lang, e),
            Ok(rows) if rows.is_empty() => html! {
                p class="idle" { (t(lang, "Hôm nay không có gì theo lịch.", "Nothing is planned today.")) }
            },
            Ok(rows) => html! {
                ol class="rows plan" {
                    @for r in rows {
                        li class=[(!r.past).then_some("future")] {
                            span class="time" { (r.at) }
                            span class="what" {
                                (r.title)
                                @if let Some(c) = &r.campaign { small { " · " (c) } }
                            }
                            @match r.outcome {
                                Some(o) => (outcome_badge(lang, o)),
                                None if r.past => span class="badge o-wait" { (t(lang, "không có trong sổ phát sóng (đài không chạy lúc đó?)", "not in the ledger (was the station off?)")) },
                                None => span class="badge o-next" { (t(lang, "sắp phát", "upcoming")) },
                            }
                        }
                    }
                }
            },
        }
    }
}

/// Something an operator may air: a bulletin of the station file, or a
/// recording in `audio_dir`.
pub(crate) struct Pick {
    /// `b:ID` or `f:NAME`, as the forms send it.
    pub(crate) value: String,
    pub(crate) title: String,
    pub(crate) seconds: f64,
    /// A recording in `audio_dir` rather than a bulletin.
    pub(crate) recording: bool,
}

impl Pick {
    /// How the pickers name it.
    pub(super) fn name(&self, lang: Lang) -> String {
        if self.recording {
            format!("{}{}", t(lang, "Bản ghi: ", "Recording: "), self.title)
        } else {
            self.title.clone()
        }
    }
}

/// Bulletins that can play, then the newest recordings.
pub(crate) async fn picks(s: &AppState) -> Vec<Pick> {
    let station = s.current.get();
    let mut out: Vec<Pick> = station
        .bulletins
        .iter()
        .filter(|b| b.audio.is_some())
        .map(|b| Pick {
            value: format!("b:{}", b.id),
            title: b.title.clone(),
            seconds: b.seconds(),
            recording: false,
        })
        .collect();
    let used: Vec<String> = station.bulletins.iter().map(|b| b.file.clone()).collect();
    let files = s.audio_files().await.unwrap_or_default();
    let mut titles = s.recording_titles().await.unwrap_or_default();
    let mut recordings: Vec<Pick> = files
        .into_iter()
        .filter(|f| f.audio.is_some() && !used.contains(&f.file))
        .map(|f| Pick {
            title: titles.remove(&f.file).unwrap_or_else(|| f.file.clone()),
            recording: true,
            seconds: f.audio.as_ref().map_or(0.0, |a| a.seconds),
            value: format!("f:{}", f.file),
        })
        .collect();
    recordings.reverse();
    recordings.truncate(RECORDINGS_OFFERED);
    out.extend(recordings);
    out
}

/// The form that queues a bulletin, a recording or a typed notice.
fn queue_form(signed: &Signed, picks: &[Pick]) -> Markup {
    let lang = signed.lang;
    html! {
        section class="card" aria-labelledby="h-queue" {
            h2 id="h-queue" { (t(lang, "Xếp hàng một bản tin", "Queue a bulletin")) }
            label for="tim" { (t(lang, "Tìm theo tên", "Search by title")) }
            input id="tim" type="search" class="search" data-filter="#ds-phat" autocomplete="off"
                placeholder=(t(lang, "gõ vài chữ của tên bản tin", "type part of the title"));
            ul id="ds-phat" class="rows picks" {
                @for p in picks {
                    @let name = p.name(lang);
                    li data-title=(name.to_lowercase()) {
                        span class="what" { (name) small { " · " (clock(p.seconds)) } }
                        form method="post" action="/xep-hang" data-fetch class="inline" {
                            input type="hidden" name="csrf" value=(signed.csrf);
                            input type="hidden" name="what" value=(p.value);
                            button type="submit" class="btn small" aria-label={ (t(lang, "Xếp hàng ", "Queue ")) (name) } {
                                (t(lang, "Xếp hàng", "Queue"))
                            }
                        }
                    }
                }
            }
            form method="post" action="/xep-hang" class="stack" {
                input type="hidden" name="csrf" value=(signed.csrf);
                label for="q-text" { (t(lang, "Hoặc gõ thông báo để đọc", "Or type a notice to read aloud")) }
                textarea id="q-text" name="text" rows="3" required maxlength="2000" {}
                div class="actions" {
                    button type="submit" class="btn" { (t(lang, "Đọc và xếp hàng", "Read aloud and queue")) }
                    button type="submit" class="btn light" formaction="/nghe-thu" formtarget="_blank" data-listen {
                        (t(lang, "Nghe thử", "Listen first"))
                    }
                }
            }
        }
    }
}

// -- Actions ------------------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    csrf: String,
}

#[derive(Deserialize)]
pub(crate) struct QueueForm {
    csrf: String,
    #[serde(default)]
    what: String,
    /// A typed notice, read aloud, instead of `what`.
    text: Option<String>,
}

token_field!(CsrfForm, QueueForm);

/// What a form asks to air: a typed notice (read aloud) when one is
/// given, else `b:ID` / `f:NAME`, a bulletin or a recording.
fn form_target(what: &str, text: &Option<String>) -> Option<What> {
    if let Some(t) = non_empty(text) {
        return Some(What::Text(t.to_string()));
    }
    match what.split_once(':') {
        Some(("b", id)) => Some(What::Bulletin(id.to_string())),
        Some(("f", name)) => Some(What::File(name.to_string())),
        _ => None,
    }
}

/// The target of a form, or the page's refusal in the reader's language.
pub(super) fn target_of(lang: Lang, what: &str, text: &Option<String>) -> Result<What, Problem> {
    form_target(what, text).ok_or_else(|| Problem::of(lang, &crate::control::Error::OneTarget))
}

pub(crate) async fn queue(State(s): State<AppState>, c: Control<QueueForm>) -> Response {
    c.run(|f, lang, who| async move {
        let order = QueueOrder {
            what: target_of(lang, &f.what, &f.text)?,
            priority: None,
            at: None,
        };
        s.queue(&who, order)
            .await
            .map_err(|e| Problem::of(lang, &e))?;
        Ok(t(lang, "Đã xếp hàng.", "Queued.").to_string())
    })
    .await
}

/// The sign-in check comes before the entry's id is read.
pub(crate) async fn dequeue(
    State(s): State<AppState>,
    _: Operator,
    Path(id): Path<u64>,
    c: Control<CsrfForm>,
) -> Response {
    c.run(|_, lang, who| async move {
        s.dequeue(&who, id)
            .await
            .map_err(|e| Problem::of(lang, &e))?;
        Ok(t(
            lang,
            "Đã huỷ mục trong hàng chờ.",
            "Removed from the queue.",
        )
        .to_string())
    })
    .await
}

/// The controls that take nothing but the token.
macro_rules! simple_action {
    ($name:ident, $op:ident, $vi:literal, $en:literal) => {
        pub(crate) async fn $name(State(s): State<AppState>, c: Control<CsrfForm>) -> Response {
            c.run(|_, lang, who| async move {
                s.$op(&who)
                    .await
                    .map(drop)
                    .map_err(|e| Problem::of(lang, &e))?;
                Ok(t(lang, $vi, $en).to_string())
            })
            .await
        }
    };
}

simple_action!(
    skip,
    skip,
    "Đã bỏ qua mục đang phát.",
    "Skipped what aired."
);
simple_action!(pause, pause, "Đài đã tạm dừng.", "The station is paused.");
simple_action!(
    resume,
    resume,
    "Đài tiếp tục phát.",
    "The station airs again."
);
simple_action!(
    emergency_cancel,
    cancel_emergency,
    "Đã dừng khẩn cấp.",
    "The emergency is stopped."
);

pub(super) fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `GET /xep-hang/huy-tat-ca`: how many entries would go, and one
/// button that removes them all.
pub(crate) async fn cancel_all_confirm(
    State(s): State<AppState>,
    Operator(signed): Operator,
) -> Response {
    let lang = signed.lang;
    let title = t(lang, "Huỷ tất cả hàng chờ?", "Cancel the whole queue?");
    let waiting = s.status().engine.queue_length;
    let what = html! {
        @if waiting == 0 {
            p { (t(lang, "Hàng chờ đang trống: không có gì để huỷ.", "The queue is empty: nothing to cancel.")) }
        } @else {
            p { strong {
                (t(lang, "Bỏ cả ", "Removes all ")) (waiting)
                (t(lang, " mục đang chờ khỏi hàng chờ.", " waiting entries from the queue."))
            } }
            p { (t(lang,
                "Mục đang phát vẫn phát tiếp; lịch phát không đổi. Sổ phát sóng ghi lại các mục bị huỷ.",
                "What airs now goes on; the plan is unchanged. The ledger records the removed entries.")) }
        }
    };
    let button = (waiting > 0).then(|| t(lang, "Huỷ tất cả", "Cancel all"));
    confirm(&signed, title, what, "/xep-hang/huy-tat-ca", button)
}

/// A page that asks before an action: what it does, one red button that
/// posts to `action` (none when there is nothing to do), and a way back.
fn confirm(
    signed: &Signed,
    title: &str,
    what: Markup,
    action: &str,
    button: Option<&str>,
) -> Response {
    let lang = signed.lang;
    let body = html! {
        h1 { (title) }
        div class="card danger" {
            (what)
            @if let Some(button) = button {
                form method="post" action=(action) class="stack" {
                    input type="hidden" name="csrf" value=(signed.csrf);
                    button type="submit" class="btn big red" { (button) }
                }
            }
            a class="btn big light" href="/" { (t(lang, "Thôi, quay lại", "No, go back")) }
        }
    };
    layout(Some(signed), lang, title, body).into_response()
}

pub(crate) async fn cancel_all(State(s): State<AppState>, c: Control<CsrfForm>) -> Response {
    c.run(|_, lang, who| async move {
        let n = s
            .dequeue_all(&who)
            .await
            .map_err(|e| Problem::of(lang, &e))?;
        Ok(match lang {
            Lang::Vi => format!("Đã huỷ {n} mục trong hàng chờ."),
            Lang::En => format!("Removed {n} entries from the queue."),
        })
    })
    .await
}

/// `GET /tam-dung`: what pausing does, and one button that does it.
pub(crate) async fn pause_confirm(Operator(signed): Operator) -> Response {
    let lang = signed.lang;
    let title = t(lang, "Tạm dừng đài?", "Pause the station?");
    let what = html! {
        p { strong { (t(lang, "Mục đang phát sẽ bị cắt ngay.", "What airs now is cut at once.")) } }
        p { (t(lang,
            "Trong lúc tạm dừng, các mục đến giờ theo lịch sẽ bị bỏ qua (không phát bù); \
             hàng chờ được giữ lại. Tin khẩn cấp vẫn phát.",
            "While paused, scheduled items that come due are skipped (not aired later); \
             the queue is kept. Emergencies still air.")) }
        p { (t(lang, "Bấm «Tiếp tục phát» trên trang Đang phát để đài phát lại theo lịch.",
            "Press \u{201c}Resume\u{201d} on the On air page to air the plan again.")) }
    };
    let button = t(lang, "Tạm dừng đài ngay", "Pause the station now");
    confirm(&signed, title, what, "/tam-dung", Some(button))
}

/// The loudspeaker line's alarms (`[monitor]`), as red banners.
fn line_banners(lang: Lang, line: Option<crate::monitor::LineState>) -> Markup {
    html! {
        @if line.is_some_and(|l| l.silent) {
            div class="banner emergency" role="alert" {
                p { strong { (t(lang, "Loa không có tiếng", "The loudspeakers are silent")) } }
                p { (t(lang, "Đang phát nhưng đường loa im lặng: kiểm tra âm ly, cầu chì và dây loa.",
                           "An item airs but the loudspeaker line is silent: check the amplifier, its fuse and the cables.")) }
            }
        }
        @if line.is_some_and(|l| l.foreign) {
            div class="banner emergency" role="alert" {
                p { strong { (t(lang, "Có tiếng lạ trên loa", "Foreign sound on the loudspeakers")) } }
                p { (t(lang, "Không phát gì nhưng đường loa có tiếng (micrô quên tắt, người khác dùng âm ly?).",
                           "Nothing airs but the loudspeaker line carries sound (a microphone left open, someone else on the amplifier?).")) }
            }
        }
    }
}
