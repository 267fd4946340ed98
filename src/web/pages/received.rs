//! *Bản tin tỉnh gửi* on `/`: what the province sent this station (kept
//! by `crate::upstream::inbox`), with its level, publisher, when it came,
//! its expiry and where it stands; an operator airs a normal one now,
//! queues it, or declines it (`crate::upstream::decide`).

use axum::extract::{Path, State};
use axum::response::Response;
use chrono::Utc;
use maud::{html, Markup};

use super::action::Control;
use super::now::CsrfForm;
use super::{date_time, Problem};
use crate::config::{Priority, Role};
use crate::control::Shared as AppState;
use crate::upstream::inbox::{Inbox, Received, Standing};
use crate::upstream::manifest::Level;
use crate::web::i18n::{t, Lang};
use crate::web::session::{Operator, Signed};

/// Most bulletins the section lists (the newest).
const SHOWN: usize = 50;

fn level(lang: Lang, l: Level) -> &'static str {
    match l {
        Level::Normal => t(lang, "thông thường", "normal"),
        Level::Priority => t(lang, "ưu tiên", "priority"),
        Level::Emergency => t(lang, "khẩn cấp", "emergency"),
    }
}

fn standing(lang: Lang, s: &Standing, tz: chrono_tz::Tz) -> String {
    match s {
        Standing::Waiting => t(lang, "chờ người vận hành", "waiting for an operator").into(),
        Standing::Scheduled(at) => {
            format!(
                "{} {}",
                t(lang, "sẽ phát lúc", "to air at"),
                date_time(*at, tz)
            )
        }
        Standing::Aired(at) => format!(
            "{} {}",
            t(lang, "đã phát lúc", "aired at"),
            date_time(*at, tz)
        ),
        Standing::Declined(d) => format!("{} {}", t(lang, "đã từ chối bởi", "declined by"), d.by),
        Standing::Expired => t(lang, "đã hết hạn", "expired").into(),
        Standing::Failed(code) => {
            format!("{} ({code})", t(lang, "không phát được", "could not air"))
        }
    }
}

/// The section, when the station has kept anything from the province.
pub(super) async fn section(s: &AppState, signed: &Signed) -> Markup {
    let station = s.current.get();
    let dir = station.data_dir.clone();
    let kept = tokio::task::spawn_blocking(move || Inbox::at(&dir).list())
        .await
        .unwrap_or_default();
    if kept.is_empty() && station.upstream.is_none() {
        return html! {};
    }
    let lang = signed.lang;
    let op = signed.role >= Role::Operator;
    let now = Utc::now();
    let tz = station.timezone;
    html! {
        section class="card" id="tinh-gui" aria-labelledby="h-tinh" {
            h2 id="h-tinh" { (t(lang, "Bản tin tỉnh gửi", "Bulletins from the province")) }
            @if kept.is_empty() {
                p class="idle" { (t(lang, "Chưa nhận bản tin nào.", "Nothing received yet.")) }
            } @else {
                ul class="rows" {
                    @for r in kept.iter().take(SHOWN) {
                        (row(r, lang, op, signed, now, tz))
                    }
                }
            }
        }
    }
}

fn row(
    r: &Received,
    lang: Lang,
    op: bool,
    signed: &Signed,
    now: chrono::DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Markup {
    let m = &r.manifest;
    let title = if m.title.is_empty() {
        m.text.as_deref().unwrap_or(&m.id)
    } else {
        &m.title
    };
    let title: String = title.chars().take(120).collect();
    let base = format!("/tinh-gui/{}", m.id);
    html! {
        li data-broadcast=(m.id) {
            span class="what" {
                (title)
                small {
                    " · " (level(lang, m.priority))
                    " · " (m.publisher)
                    " · " (t(lang, "nhận lúc ", "received ")) (date_time(r.received_at, tz))
                    " · " (t(lang, "hết hạn ", "expires ")) (date_time(m.expires, tz))
                }
                br;
                span class="state" { (standing(lang, &r.standing(now), tz)) }
            }
            @if op && r.open(now) {
                @for (action, vi, en) in [
                    ("phat", "Phát ngay", "Air now"),
                    ("xep-hang", "Xếp hàng", "Queue"),
                    ("tu-choi", "Từ chối", "Decline"),
                ] {
                    form method="post" action={ (base) "/" (action) } data-fetch class="inline" {
                        input type="hidden" name="csrf" value=(signed.csrf);
                        button type="submit" class="btn small" aria-label={ (t(lang, vi, en)) " " (title) } {
                            (t(lang, vi, en))
                        }
                    }
                }
            }
        }
    }
}

/// `POST /tinh-gui/{id}/{action}`: `phat` queues it now ahead of waiting
/// normal items, `xep-hang` behind them, `tu-choi` declines it.
pub(crate) async fn decide(
    State(s): State<AppState>,
    _: Operator,
    Path((id, action)): Path<(String, String)>,
    c: Control<CsrfForm>,
) -> Response {
    c.run(|_, lang, who| async move {
        use crate::upstream::decide::{air, decline};
        let queued = t(
            lang,
            "Đã xếp hàng bản tin tỉnh gửi.",
            "The province's bulletin is queued.",
        );
        let r = match action.as_str() {
            "phat" => air(&s, &who, &id, Priority::Priority).await.map(|_| queued),
            "xep-hang" => air(&s, &who, &id, Priority::Normal).await.map(|_| queued),
            "tu-choi" => decline(&s, &who, &id).await.map(|_| {
                t(
                    lang,
                    "Đã từ chối bản tin tỉnh gửi.",
                    "The province's bulletin is declined.",
                )
            }),
            _ => {
                return Err(Problem::bad_request(t(
                    lang,
                    "Không có thao tác này.",
                    "No such action.",
                )))
            }
        };
        r.map(str::to_string).map_err(|e| Problem::of(lang, &e))
    })
    .await
}
