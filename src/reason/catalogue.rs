//! The catalogue: every reason code and audit action in plain Vietnamese
//! (for operators and officials: no paths, no configuration keys, no
//! English) and in English. Names of people and bulletins and the raw text
//! of device, decoder and speech errors are arguments and shown as given.

use super::{By, ByKind, Lang, Reason, RelayDrop};

/// `45 giây`, `3 phút 20 giây`, `1 giờ 5 phút` / `45s`, `3m 20s`, `1h 5m`.
fn span(lang: Lang, secs: i64) -> String {
    let s = secs.max(0);
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let (hw, mw, sw) = match lang {
        Lang::Vi => (" giờ", " phút", " giây"),
        Lang::En => ("h", "m", "s"),
    };
    match (h, m, s) {
        (0, 0, s) => format!("{s}{sw}"),
        (0, m, 0) => format!("{m}{mw}"),
        (0, m, s) => format!("{m}{mw} {s}{sw}"),
        (h, 0, _) => format!("{h}{hw}"),
        (h, m, _) => format!("{h}{hw} {m}{mw}"),
    }
}

/// A span of audio given in seconds with decimals.
fn span_f(lang: Lang, secs: f64) -> String {
    span(lang, secs.round() as i64)
}

/// `1,5 giây` / `1.5 s`.
fn secs1(lang: Lang, s: f64) -> String {
    match lang {
        Lang::Vi => format!("{s:.1} giây").replace('.', ","),
        Lang::En => format!("{s:.1} s"),
    }
}

/// A relay's drops: `at 12 s, WHY (3 times); …` in `lang`.
fn drop_notes(lang: Lang, drops: &[RelayDrop]) -> String {
    let (at, times) = match lang {
        Lang::Vi => ("ở giây", "lần"),
        Lang::En => ("at", "times"),
    };
    let unit = if lang == Lang::En { " s" } else { "" };
    drops
        .iter()
        .map(|d| {
            let n = if d.times > 1 {
                format!(" ({} {times})", d.times)
            } else {
                String::new()
            };
            format!("{at} {:.0}{unit}, {}{n}", d.at, d.why)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn who(lang: Lang, by: &By) -> String {
    match (lang, by.kind) {
        (Lang::Vi, ByKind::User) => format!("người dùng {}", by.name),
        (Lang::Vi, ByKind::Token) => format!("mã truy cập {}", by.name),
        (Lang::En, _) => by.to_string(),
    }
}

/// `vi` or `en`, as `l` asks.
fn say(l: Lang, vi: impl Into<String>, en: impl Into<String>) -> String {
    match l {
        Lang::Vi => vi.into(),
        Lang::En => en.into(),
    }
}

/// [`say`] a sentence about an item `{late}` past its time and its
/// `{grace}`, both written as `lang` writes them.
fn say_late(l: Lang, (late, grace): (i64, i64), vi: &str, en: &str) -> String {
    say(l, vi, en)
        .replace("{late}", &span(l, late))
        .replace("{grace}", &span(l, grace))
}

/// [`say`] a sentence about a length of time: `{s}` in it is `seconds`,
/// written as `lang` writes it.
fn say_secs(l: Lang, seconds: f64, vi: &str, en: &str) -> String {
    say(l, vi, en).replace("{s}", &secs1(l, seconds))
}

/// Each reason in both languages, side by side.
pub(super) fn render(r: &Reason, l: Lang) -> String {
    who_and_when(r, l)
        .or_else(|| what_failed(r, l))
        .unwrap_or_else(|| r.code().to_string())
}

/// Reasons of people and of time: who skipped, paused or cancelled, and
/// items that came too late.
fn who_and_when(r: &Reason, l: Lang) -> Option<String> {
    Some(match r {
        Reason::SkippedBy { by } => say(
            l,
            format!("{} đã bỏ qua", who(l, by)),
            format!("skipped by {by}"),
        ),
        Reason::PausedBy { by } => say(
            l,
            format!("{} tạm dừng đài", who(l, by)),
            format!("station paused by {by}"),
        ),
        Reason::EmergencyCancelledBy { by } => say(
            l,
            format!("{} huỷ phát khẩn cấp", who(l, by)),
            format!("emergency cancelled by {by}"),
        ),
        Reason::InterruptedByEmergency { bulletin, title } => say(
            l,
            format!("bị ngắt để phát tin khẩn cấp «{title}»"),
            format!("interrupted by emergency \"{bulletin}\" ({title})"),
        ),
        Reason::StationPaused => say(l, "đài đang tạm dừng", "station paused"),
        Reason::QuietHours => say(l, "giờ yên tĩnh", "quiet hours"),
        Reason::Dequeued => say(
            l,
            "người vận hành bỏ khỏi hàng chờ",
            "removed from the queue by an operator",
        ),
        Reason::LineBusy {
            late_seconds,
            grace_seconds,
        } => say_late(
            l,
            (*late_seconds, *grace_seconds),
            "trễ {late}: đường phát bận quá thời gian chờ {grace}",
            "{late} late: the line was busy past its grace of {grace}",
        ),
        Reason::NoticeNotReady {
            late_seconds,
            grace_seconds,
        } => say_late(
            l,
            (*late_seconds, *grace_seconds),
            "trễ {late}: thông báo chưa đọc xong quá thời gian chờ {grace}",
            "{late} late: the notice was still being read aloud (see [tts] timeout) \
             past its grace of {grace}",
        ),
        Reason::OffAir {
            late_seconds,
            grace_seconds,
        } => say_late(
            l,
            (*late_seconds, *grace_seconds),
            "đài không chạy lúc đến giờ phát (phần mềm dừng hoặc đồng hồ bị chỉnh); \
             trễ {late}, thời gian chờ {grace}",
            "station off air at its time (daemon stopped or clock jumped); first seen \
             {late} late, grace {grace}",
        ),
        Reason::DownAtItsTime {
            late_seconds,
            grace_seconds,
        } => say_late(
            l,
            (*late_seconds, *grace_seconds),
            "phần mềm phát thanh không chạy lúc đến giờ; chạy lại trễ {late}, quá thời \
             gian chờ {grace}",
            "the daemon was down at its time; it restarted {late} late, past its grace \
             of {grace}",
        ),
        Reason::SessionCap {
            programme,
            cap_seconds,
            used_seconds,
            item_seconds,
        } => {
            let cap = span_f(l, *cap_seconds);
            let (used, item) = (span_f(l, *used_seconds), span_f(l, *item_seconds));
            say(
                l,
                format!(
                    "vượt giới hạn buổi phát thanh {cap}: chương trình «{programme}» đã phát \
                     {used}, mục này dài {item}"
                ),
                format!(
                    "session cap of {cap} ([session] max_minutes) reached: programme \
                     \"{programme}\" had aired {used} and this item is {item}"
                ),
            )
        }
        _ => return None,
    })
}

/// Reasons of the audio: the file, the speech, the output, a relay's
/// source, loa itself; and free text kept from older ledgers.
fn what_failed(r: &Reason, l: Lang) -> Option<String> {
    Some(match r {
        Reason::SpeechFailed { error } => say(
            l,
            format!("không đọc được thông báo thành tiếng: {error}"),
            format!("the notice could not be read aloud: {error}"),
        ),
        Reason::FileFailed { error } => say(
            l,
            format!("không đọc được tệp âm thanh: {error}"),
            format!("the audio file cannot be read: {error}"),
        ),
        Reason::NoAudio => say(
            l,
            "tệp không có âm thanh",
            "nothing was played: the file holds no audio",
        ),
        Reason::Truncated {
            file,
            aired_seconds,
            expected_seconds,
        } => {
            let (aired, expected) = (secs1(l, *aired_seconds), secs1(l, *expected_seconds));
            say(
                l,
                format!("tệp {file} dừng sau {aired} trong {expected}: tệp bị cắt cụt hoặc hỏng; hãy tải lên lại"),
                format!(
                    "{file} ended after {aired} of its {expected}: the file is truncated or \
                     damaged; upload it again"
                ),
            )
        }
        Reason::DeviceFailed { error } => say(
            l,
            format!("thiết bị âm thanh bị lỗi: {error}"),
            format!("the audio output failed: {error}"),
        ),
        Reason::OutputStalled { seconds } => say_secs(
            l,
            *seconds,
            "thiết bị âm thanh không nhận âm thanh trong {s} (bị treo hoặc bị rút ra?)",
            "the output took no audio for {s} (sound card stuck or gone?)",
        ),
        Reason::OutputOverran { seconds } => say_secs(
            l,
            *seconds,
            "vẫn đang phát {s} sau lúc lẽ ra đã xong (thiết bị âm thanh quá chậm hoặc bị treo)",
            "still playing {s} after it should have ended (the output is too slow or stuck)",
        ),
        Reason::Stopped => say(l, "bị dừng", "stopped"),
        Reason::DaemonStopped => say(l, "phần mềm phát thanh đã dừng", "daemon stopped"),
        Reason::OutputGone => say(
            l,
            "thiết bị âm thanh ngừng phản hồi; phần mềm phát thanh dừng",
            "the audio output stopped reporting; engine stopped",
        ),
        Reason::RelayNoSource => say(
            l,
            "tiếp sóng: nguồn không có âm thanh",
            "relay: no audio came from the source",
        ),
        Reason::RelayDrops { drops } => {
            let (n, notes) = (drops.len(), drop_notes(l, drops));
            say(
                l,
                format!("tiếp sóng: mất nguồn {n} lần: {notes}"),
                format!("relay: {n} drop(s): {notes}"),
            )
        }
        Reason::RelayFallback { seconds } => say_secs(
            l,
            *seconds,
            "tiếp sóng: phát âm thanh dự phòng {s}",
            "relay: fallback aired {s}",
        ),
        Reason::RelaySilence { seconds } => {
            say_secs(l, *seconds, "tiếp sóng: im lặng {s}", "relay: silence {s}")
        }
        Reason::Internal { error } => say(
            l,
            format!("lỗi trong phần mềm phát thanh: {error}; hãy khởi động lại phần mềm"),
            format!("{error}; restart loa"),
        ),
        Reason::Free { text } => text.clone(),
        _ => return None,
    })
}

/// Every audit action code loa writes, with its Vietnamese and English
/// label.
#[rustfmt::skip]
pub const AUDIT_ACTIONS: &[(&str, &str, &str)] = &[
    ("queue",             "thêm vào hàng chờ",               "queue"),
    ("dequeue",           "bỏ khỏi hàng chờ",                "remove from the queue"),
    ("dequeue_all",       "huỷ tất cả hàng chờ",             "clear the queue"),
    ("skip",              "bỏ qua mục đang phát",            "skip"),
    ("pause",             "tạm dừng đài",                    "pause the station"),
    ("resume",            "cho đài phát lại",                "resume the station"),
    ("emergency",         "phát khẩn cấp",                   "emergency"),
    ("cancel_emergency",  "huỷ phát khẩn cấp",               "cancel the emergency"),
    ("upload",            "tải tệp lên",                     "upload"),
    ("province bulletin", "bản tin tỉnh gửi",                "bulletin from the province"),
    ("reload",            "nạp lại tệp cấu hình đài",        "reload the station file"),
    ("setup",             "tạo tài khoản quản trị đầu tiên", "first admin set up"),
    ("sign-in",           "đăng nhập",                       "sign in"),
    ("sign-out",          "đăng xuất",                       "sign out"),
    ("session end",       "kết thúc phiên đăng nhập",        "end a session"),
    ("user add",          "thêm người dùng",                 "add a user"),
    ("user role",         "đổi vai trò người dùng",          "change a user's role"),
    ("user enable",       "mở khoá người dùng",              "enable a user"),
    ("user disable",      "khoá người dùng",                 "disable a user"),
    ("user password",     "đổi mật khẩu người dùng",         "change a user's password"),
    ("user remove",       "xoá người dùng",                  "remove a user"),
];

/// An audit action as people read it; an action this loa does not know
/// (written by another version) is shown as stored.
pub fn audit_action(lang: Lang, code: &str) -> String {
    AUDIT_ACTIONS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or_else(
            || code.to_string(),
            |(_, vi, en)| match lang {
                Lang::Vi => (*vi).to_string(),
                Lang::En => (*en).to_string(),
            },
        )
}
