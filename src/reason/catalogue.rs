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

pub(super) fn render(r: &Reason, lang: Lang) -> String {
    match lang {
        Lang::Vi => vi(r),
        Lang::En => en(r),
    }
}

fn vi(r: &Reason) -> String {
    let l = Lang::Vi;
    match r {
        Reason::SkippedBy { by } => format!("{} đã bỏ qua", who(l, by)),
        Reason::PausedBy { by } => format!("{} tạm dừng đài", who(l, by)),
        Reason::EmergencyCancelledBy { by } => format!("{} huỷ phát khẩn cấp", who(l, by)),
        Reason::InterruptedByEmergency { title, .. } => {
            format!("bị ngắt để phát tin khẩn cấp «{title}»")
        }
        Reason::StationPaused => "đài đang tạm dừng".into(),
        Reason::QuietHours => "giờ yên tĩnh".into(),
        Reason::Dequeued => "người vận hành bỏ khỏi hàng chờ".into(),
        Reason::LineBusy {
            late_seconds,
            grace_seconds,
        } => format!(
            "trễ {}: đường phát bận quá thời gian chờ {}",
            span(l, *late_seconds),
            span(l, *grace_seconds)
        ),
        Reason::NoticeNotReady {
            late_seconds,
            grace_seconds,
        } => format!(
            "trễ {}: thông báo chưa đọc xong quá thời gian chờ {}",
            span(l, *late_seconds),
            span(l, *grace_seconds)
        ),
        Reason::OffAir {
            late_seconds,
            grace_seconds,
        } => format!(
            "đài không chạy lúc đến giờ phát (phần mềm dừng hoặc đồng hồ bị chỉnh); \
             trễ {}, thời gian chờ {}",
            span(l, *late_seconds),
            span(l, *grace_seconds)
        ),
        Reason::DownAtItsTime {
            late_seconds,
            grace_seconds,
        } => format!(
            "phần mềm phát thanh không chạy lúc đến giờ; chạy lại trễ {}, quá thời gian chờ {}",
            span(l, *late_seconds),
            span(l, *grace_seconds)
        ),
        Reason::SessionCap {
            programme,
            cap_seconds,
            used_seconds,
            item_seconds,
        } => format!(
            "vượt giới hạn buổi phát thanh {}: chương trình «{programme}» đã phát {}, mục này dài {}",
            span_f(l, *cap_seconds),
            span_f(l, *used_seconds),
            span_f(l, *item_seconds)
        ),
        Reason::SpeechFailed { error } => format!("không đọc được thông báo thành tiếng: {error}"),
        Reason::FileFailed { error } => format!("không đọc được tệp âm thanh: {error}"),
        Reason::NoAudio => "tệp không có âm thanh".into(),
        Reason::Truncated {
            file,
            aired_seconds,
            expected_seconds,
        } => format!(
            "tệp {file} dừng sau {} trong {}: tệp bị cắt cụt hoặc hỏng; hãy tải lên lại",
            secs1(l, *aired_seconds),
            secs1(l, *expected_seconds)
        ),
        Reason::DeviceFailed { error } => format!("thiết bị âm thanh bị lỗi: {error}"),
        Reason::OutputStalled { seconds } => format!(
            "thiết bị âm thanh không nhận âm thanh trong {} (bị treo hoặc bị rút ra?)",
            secs1(l, *seconds)
        ),
        Reason::OutputOverran { seconds } => format!(
            "vẫn đang phát {} sau lúc lẽ ra đã xong (thiết bị âm thanh quá chậm hoặc bị treo)",
            secs1(l, *seconds)
        ),
        Reason::Stopped => "bị dừng".into(),
        Reason::DaemonStopped => "phần mềm phát thanh đã dừng".into(),
        Reason::OutputGone => "thiết bị âm thanh ngừng phản hồi; phần mềm phát thanh dừng".into(),
        Reason::RelayNoSource => "tiếp sóng: nguồn không có âm thanh".into(),
        Reason::RelayDrops { drops } => format!(
            "tiếp sóng: mất nguồn {} lần: {}",
            drops.len(),
            drop_notes(l, drops)
        ),
        Reason::RelayFallback { seconds } => {
            format!("tiếp sóng: phát âm thanh dự phòng {}", secs1(l, *seconds))
        }
        Reason::RelaySilence { seconds } => format!("tiếp sóng: im lặng {}", secs1(l, *seconds)),
        Reason::Internal { error } => {
            format!("lỗi trong phần mềm phát thanh: {error}; hãy khởi động lại phần mềm")
        }
        Reason::Free { text } => text.clone(),
    }
}

fn en(r: &Reason) -> String {
    let l = Lang::En;
    match r {
        Reason::SkippedBy { by } => format!("skipped by {by}"),
        Reason::PausedBy { by } => format!("station paused by {by}"),
        Reason::EmergencyCancelledBy { by } => format!("emergency cancelled by {by}"),
        Reason::InterruptedByEmergency { bulletin, title } => {
            format!("interrupted by emergency \"{bulletin}\" ({title})")
        }
        Reason::StationPaused => "station paused".into(),
        Reason::QuietHours => "quiet hours".into(),
        Reason::Dequeued => "removed from the queue by an operator".into(),
        Reason::LineBusy {
            late_seconds,
            grace_seconds,
        } => format!(
            "{} late: the line was busy past its grace of {}",
            span(l, *late_seconds),
            span(l, *grace_seconds)
        ),
        Reason::NoticeNotReady {
            late_seconds,
            grace_seconds,
        } => format!(
            "{} late: the notice was still being read aloud (see [tts] timeout) past its grace of {}",
            span(l, *late_seconds),
            span(l, *grace_seconds)
        ),
        Reason::OffAir {
            late_seconds,
            grace_seconds,
        } => format!(
            "station off air at its time (daemon stopped or clock jumped); first seen {} late, grace {}",
            span(l, *late_seconds),
            span(l, *grace_seconds)
        ),
        Reason::DownAtItsTime {
            late_seconds,
            grace_seconds,
        } => format!(
            "the daemon was down at its time; it restarted {} late, past its grace of {}",
            span(l, *late_seconds),
            span(l, *grace_seconds)
        ),
        Reason::SessionCap {
            programme,
            cap_seconds,
            used_seconds,
            item_seconds,
        } => format!(
            "session cap of {} ([session] max_minutes) reached: programme \"{programme}\" had \
             aired {} and this item is {}",
            span_f(l, *cap_seconds),
            span_f(l, *used_seconds),
            span_f(l, *item_seconds)
        ),
        Reason::SpeechFailed { error } => format!("the notice could not be read aloud: {error}"),
        Reason::FileFailed { error } => format!("the audio file cannot be read: {error}"),
        Reason::NoAudio => "nothing was played: the file holds no audio".into(),
        Reason::Truncated {
            file,
            aired_seconds,
            expected_seconds,
        } => format!(
            "{file} ended after {aired_seconds:.1} s of its {expected_seconds:.1} s: the file is \
             truncated or damaged; upload it again"
        ),
        Reason::DeviceFailed { error } => format!("the audio output failed: {error}"),
        Reason::OutputStalled { seconds } => {
            format!("the output took no audio for {seconds:.1} s (sound card stuck or gone?)")
        }
        Reason::OutputOverran { seconds } => format!(
            "still playing {seconds:.1} s after it should have ended (the output is too slow or stuck)"
        ),
        Reason::Stopped => "stopped".into(),
        Reason::DaemonStopped => "daemon stopped".into(),
        Reason::OutputGone => "the audio output stopped reporting; engine stopped".into(),
        Reason::RelayNoSource => "relay: no audio came from the source".into(),
        Reason::RelayDrops { drops } => {
            format!("relay: {} drop(s): {}", drops.len(), drop_notes(l, drops))
        }
        Reason::RelayFallback { seconds } => format!("relay: fallback aired {seconds:.1} s"),
        Reason::RelaySilence { seconds } => format!("relay: silence {seconds:.1} s"),
        Reason::Internal { error } => format!("{error}; restart loa"),
        Reason::Free { text } => text.clone(),
    }
}

/// Every audit action code loa writes, with its Vietnamese and English
/// label.
pub const AUDIT_ACTIONS: &[(&str, &str, &str)] = &[
    ("queue", "thêm vào hàng chờ", "queue"),
    ("dequeue", "bỏ khỏi hàng chờ", "remove from the queue"),
    ("dequeue_all", "huỷ tất cả hàng chờ", "clear the queue"),
    ("skip", "bỏ qua mục đang phát", "skip"),
    ("pause", "tạm dừng đài", "pause the station"),
    ("resume", "cho đài phát lại", "resume the station"),
    ("emergency", "phát khẩn cấp", "emergency"),
    (
        "cancel_emergency",
        "huỷ phát khẩn cấp",
        "cancel the emergency",
    ),
    ("upload", "tải tệp lên", "upload"),
    (
        "province bulletin",
        "bản tin tỉnh gửi",
        "bulletin from the province",
    ),
    (
        "reload",
        "nạp lại tệp cấu hình đài",
        "reload the station file",
    ),
    (
        "setup",
        "tạo tài khoản quản trị đầu tiên",
        "first admin set up",
    ),
    ("sign-in", "đăng nhập", "sign in"),
    ("sign-out", "đăng xuất", "sign out"),
    ("session end", "kết thúc phiên đăng nhập", "end a session"),
    ("user add", "thêm người dùng", "add a user"),
    (
        "user role",
        "đổi vai trò người dùng",
        "change a user's role",
    ),
    ("user enable", "mở khoá người dùng", "enable a user"),
    ("user disable", "khoá người dùng", "disable a user"),
    (
        "user password",
        "đổi mật khẩu người dùng",
        "change a user's password",
    ),
    ("user remove", "xoá người dùng", "remove a user"),
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
