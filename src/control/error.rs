//! Why an operation was refused, as data: one variant per reason, with
//! what the caller needs to act on it. Nothing above this module tells
//! errors apart by their text: the API maps a variant to its status, code
//! and hints ([`Error::code`], [`Error::kind`]); the pages match on the
//! variant and say it in plain words ([`Error::vi`] or `Display`, which is
//! English).
//!
//! No text here names an API route or a station-file key: those hints are
//! the API's to add (its clients are programs and the people who write
//! them), and the pages show the operator what to do in their own words.

use crate::engine::Refusal;
use crate::ledger::LedgerError;
use crate::probe::{ProbeError, ProbeErrorKind};
use crate::range::RangeError;

/// What kind of refusal: the API's status follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request itself is malformed (400).
    BadRequest,
    /// What it names does not exist (404).
    NotFound,
    /// The station's state does not allow it now (409).
    Conflict,
    /// Well formed, but its values cannot be taken (422).
    Unprocessable,
    /// Larger than allowed (413).
    TooLarge,
    /// Not audio the station can play (415).
    Unsupported,
    /// Too many at once; try later (429).
    TooMany,
    /// The station's storage is full (507).
    Storage,
    /// A part of the station is stopped or busy; try again (503).
    Unavailable,
    /// The station's own trouble (500).
    Internal,
}

impl Kind {
    /// The HTTP status both doors answer with.
    pub fn http_status(self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Kind::BadRequest => StatusCode::BAD_REQUEST,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::Conflict => StatusCode::CONFLICT,
            Kind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::Unsupported => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::TooMany => StatusCode::TOO_MANY_REQUESTS,
            Kind::Storage => StatusCode::INSUFFICIENT_STORAGE,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A refused or failed operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the engine is not running (the daemon is stopping?); see the daemon's log")]
    EngineGone,
    /// The engine's own refusals.
    #[error("{}", refusal_en(.0))]
    Refused(Refusal),
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    /// A range of dates that cannot be read or is too long.
    #[error("{}", .0.message(""))]
    Range(#[from] RangeError),
    #[error("the station is already paused")]
    AlreadyPaused,
    #[error("the station is not paused")]
    NotPaused,
    #[error("a limit must be from 1 to {max} (default {default})")]
    BadLimit { max: usize, default: usize },
    #[error("repeat every {given:?} is shorter than one minute: write e.g. \"30m\"")]
    RepeatTooOften { given: String },
    #[error(
        "repeat every {given:?} is longer than a day: warnings usually repeat every 30 to 120 \
         minutes, e.g. \"30m\""
    )]
    RepeatTooRare { given: String },
    #[error("repeat every {given:?} is not a duration: write e.g. \"30m\", \"1h\" or \"1h30m\"")]
    BadDuration { given: String },
    #[error(
        "an end time says when repeats stop, but there is no repeat: give one (e.g. \"30m\"), \
         or no end time to air once"
    )]
    UntilWithoutRepeat,
    #[error("{given:?} is not a time: write e.g. \"2026-10-07T06:15:00+07:00\"")]
    BadTime { given: String },
    #[error("{given} is in the past: leave the time out to air now")]
    TimeInPast { given: String },
    #[error("the end time {given} is not in the future")]
    UntilNotFuture { given: String },
    #[error("{given} is more than {days} days ahead")]
    TimeTooFar { given: String, days: i64 },
    #[error("an emergency cuts what airs: send it as an emergency, not to the queue")]
    EmergencyNotQueued,
    #[error("unknown priority {given:?}: write \"normal\" or \"priority\"")]
    BadPriority { given: String },
    #[error("give exactly one of a bulletin, an audio file or a notice to read aloud")]
    OneTarget,
    #[error(
        "no campaign {id:?} in the station file or the ledger; known campaigns: {}",
        if known.is_empty() { "(none)".to_string() } else { known.join(", ") }
    )]
    UnknownCampaign { id: String, known: Vec<String> },
    #[error(
        "the province's report is read from the province's database, and this station has none"
    )]
    NoProvinceDatabase,
    #[error("the province's database cannot be read: {0}")]
    ProvinceDatabase(String),
    #[error("file name {name:?} {why}")]
    BadFileName { name: String, why: &'static str },
    #[error("no file {name:?} among the station's audio files")]
    UnknownFile { name: String },
    #[error("{name:?} cannot be read: {cause}")]
    UnreadableFile { name: String, cause: String },
    #[error("{name:?} is a link that leads outside the station's audio folder: copy the file in instead")]
    FileOutsideAudioDir { name: String },
    #[error("{name:?} is not a regular file")]
    NotAFile { name: String },
    #[error("the station's audio folder {dir} cannot be read: {cause}")]
    AudioDirUnreadable { dir: String, cause: String },
    /// A file that will not play right.
    #[error("the file will not play right: {message} {hint}")]
    BadAudio {
        kind: ProbeErrorKind,
        message: String,
        hint: String,
    },
    #[error("the notice must have 1 to {max} characters (it has {chars}): split a long one")]
    BadText { chars: usize, max: usize },
    #[error("a recording's title must be one line of at most {max} characters (it has {chars})")]
    BadTitle { chars: usize, max: usize },
    #[error(
        "the notices waiting to air fill their store ({mb:.1} MB of {cap_mb} MB): let some air \
         or remove them from the queue"
    )]
    NoticeStoreFull { mb: f64, cap_mb: u64 },
    #[error("the speech engine is busy reading other notices: {0}")]
    SpeechBusy(String),
    #[error("the notice could not be read aloud: {0}")]
    SpeechFailed(String),
    #[error("the recording is larger than {limit_mb} MB: shorten it or re-encode it")]
    UploadTooLarge { limit_mb: u64 },
    #[error("send the recording as multipart/form-data with one file part")]
    NotMultipart,
    #[error("the upload could not be read: {0}")]
    BadMultipart(String),
    #[error("the form's parts other than the file carry more than {kb} KB")]
    FormFieldTooLarge { kb: u64 },
    #[error("the form has no file part")]
    NoFile,
    #[error("the uploaded file is empty (0 bytes)")]
    EmptyUpload,
    #[error(
        "only {free_mb} MB are free for audio ({dir}), and an upload must leave {keep_mb} MB \
         free for the ledger: remove recordings that no longer air, then upload again"
    )]
    DiskFull {
        free_mb: u64,
        dir: String,
        keep_mb: u64,
    },
    #[error("could not {what} among the audio files: {cause} (disk full? read-only?)")]
    Io { what: &'static str, cause: String },
    #[error("could not find a free name for {slug} among the audio files")]
    NoFreeName { slug: String },
    /// The station file has errors; the station keeps the old one.
    #[error(
        "{path} has {} error(s); the station keeps running the old one: fix them (`loa check \
         --config {path}`) and reload again",
        .errors.len()
    )]
    InvalidStationFile { path: String, errors: Vec<String> },
    #[error("no bulletin {id:?} from the province is kept at this station (expired and removed, or never received)")]
    UnknownBroadcast { id: String },
    #[error("the province's bulletin {id:?} {en}")]
    BroadcastClosed {
        id: String,
        en: &'static str,
        vi: &'static str,
    },
    #[error("{given:?} is not a broadcast id (letters, digits, -, _, ., at most 64, as `loa publish` printed it)")]
    BadBroadcastId { given: String },
    #[error("{0}")]
    Internal(String),
}

/// The engine's refusals in each language (the engine's own `Display`
/// is for its log).
fn refusal_halves(r: &Refusal) -> (String, String) {
    match r {
        Refusal::UnknownBulletin(id) => (
            format!("Không tìm thấy bản tin «{id}»"),
            format!("no bulletin with id \"{id}\""),
        ),
        Refusal::NotInQueue(id) => (
            format!("Mục {id} không còn trong hàng chờ (đã phát hoặc đang phát?)"),
            format!("no waiting entry with id {id} (already airing or aired?)"),
        ),
        Refusal::NothingAiring => (
            "Không có gì đang phát".into(),
            "nothing airs now, so nothing was skipped".into(),
        ),
        Refusal::NoEmergency => (
            "Không có phát khẩn cấp".into(),
            "no emergency airs, waits or repeats".into(),
        ),
        Refusal::QueueFull(max) => (
            format!(
                "Hàng chờ đã đầy ({max} mục): hãy xoá bớt mục đang chờ hoặc đợi chúng phát xong"
            ),
            format!("the queue is full ({max} items waiting): remove waiting items or let some air first"),
        ),
    }
}

fn refusal_en(r: &Refusal) -> String {
    refusal_halves(r).1
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        Error::Refused(r)
    }
}

impl Error {
    /// A refusal of the probe, naming `shown` (the client's own name)
    /// where the probe named `path` (our temporary file).
    pub fn bad_audio(e: &ProbeError, path: &std::path::Path, shown: &str) -> Error {
        let converted = path.with_extension("mp3").display().to_string();
        let shown_mp3 = std::path::Path::new(shown)
            .with_extension("mp3")
            .display()
            .to_string();
        let p = path.display().to_string();
        let clean = |s: &str| s.replace(&converted, &shown_mp3).replace(&p, shown);
        Error::BadAudio {
            kind: e.kind,
            message: clean(&e.message),
            hint: clean(&e.hint),
        }
    }

    pub fn io(what: &'static str, e: std::io::Error) -> Error {
        Error::Io {
            what,
            cause: e.to_string(),
        }
    }

    /// What kind of refusal this is.
    pub fn kind(&self) -> Kind {
        use Error::*;
        match self {
            EngineGone | SpeechBusy(_) | SpeechFailed(_) | ProvinceDatabase(_) => Kind::Unavailable,
            Refused(r) => match r {
                Refusal::UnknownBulletin(_) | Refusal::NotInQueue(_) => Kind::NotFound,
                Refusal::NothingAiring | Refusal::NoEmergency => Kind::Conflict,
                Refusal::QueueFull(_) => Kind::TooMany,
            },
            Ledger(LedgerError::Busy(_)) => Kind::Unavailable,
            Ledger(LedgerError::DiskFull(_)) => Kind::Storage,
            Ledger(_) | AudioDirUnreadable { .. } | Io { .. } | NoFreeName { .. } | Internal(_) => {
                Kind::Internal
            }
            Range(_) | BadLimit { .. } | BadMultipart(_) | NoFile => Kind::BadRequest,
            AlreadyPaused | NotPaused | NoProvinceDatabase => Kind::Conflict,
            UnknownCampaign { .. } | UnknownFile { .. } | UnknownBroadcast { .. } => Kind::NotFound,
            BroadcastClosed { .. } => Kind::Conflict,
            BadBroadcastId { .. } => Kind::BadRequest,
            RepeatTooOften { .. }
            | RepeatTooRare { .. }
            | BadDuration { .. }
            | UntilWithoutRepeat
            | BadTime { .. }
            | TimeInPast { .. }
            | UntilNotFuture { .. }
            | TimeTooFar { .. }
            | EmergencyNotQueued
            | BadPriority { .. }
            | OneTarget
            | BadFileName { .. }
            | UnreadableFile { .. }
            | FileOutsideAudioDir { .. }
            | NotAFile { .. }
            | BadText { .. }
            | BadTitle { .. }
            | InvalidStationFile { .. } => Kind::Unprocessable,
            BadAudio { kind, .. } => match kind {
                ProbeErrorKind::NotAudio | ProbeErrorKind::Empty | ProbeErrorKind::Unsupported => {
                    Kind::Unsupported
                }
                _ => Kind::Unprocessable,
            },
            EmptyUpload | NotMultipart => Kind::Unsupported,
            UploadTooLarge { .. } | FormFieldTooLarge { .. } => Kind::TooLarge,
            NoticeStoreFull { .. } | DiskFull { .. } => Kind::Storage,
        }
    }

    /// The code programs read (`{"error": code}`): stable, snake_case.
    pub fn code(&self) -> &'static str {
        use Error::*;
        match self {
            EngineGone => "engine_stopped",
            Refused(r) => match r {
                Refusal::UnknownBulletin(_) => "unknown_bulletin",
                Refusal::NotInQueue(_) => "unknown_entry",
                Refusal::NothingAiring => "nothing_airing",
                Refusal::NoEmergency => "no_emergency",
                Refusal::QueueFull(_) => "queue_full",
            },
            Ledger(LedgerError::Busy(_)) => "ledger_busy",
            Ledger(LedgerError::DiskFull(_)) => "disk_full",
            Ledger(_) | AudioDirUnreadable { .. } | Io { .. } | NoFreeName { .. } | Internal(_) => {
                "internal"
            }
            Range(RangeError::TooLong { .. }) => "range_too_long",
            Range(_) => "bad_range",
            AlreadyPaused => "already_paused",
            NotPaused => "not_paused",
            BadLimit { .. } => "bad_limit",
            RepeatTooOften { .. } => "repeat_too_often",
            RepeatTooRare { .. } => "repeat_too_rare",
            BadDuration { .. } => "bad_duration",
            UntilWithoutRepeat => "until_without_repeat",
            BadTime { .. } => "bad_time",
            TimeInPast { .. } | UntilNotFuture { .. } => "time_in_past",
            TimeTooFar { .. } => "time_too_far",
            EmergencyNotQueued => "use_emergency_route",
            BadPriority { .. } => "bad_priority",
            OneTarget => "bulletin_or_file",
            UnknownCampaign { .. } => "unknown_campaign",
            NoProvinceDatabase => "no_province_database",
            ProvinceDatabase(_) => "province_database",
            BadFileName { .. } => "bad_file_name",
            UnknownFile { .. } => "unknown_file",
            UnreadableFile { .. } => "unreadable_file",
            FileOutsideAudioDir { .. } => "file_outside_audio_dir",
            NotAFile { .. } => "not_a_file",
            BadAudio { .. } | EmptyUpload => "bad_audio",
            BadText { .. } => "bad_text",
            BadTitle { .. } => "bad_title",
            NoticeStoreFull { .. } => "tts_cache_full",
            SpeechBusy(_) => "tts_busy",
            SpeechFailed(_) => "tts_failed",
            UploadTooLarge { .. } => "upload_too_large",
            NotMultipart => "unsupported_media_type",
            BadMultipart(_) => "bad_multipart",
            FormFieldTooLarge { .. } => "form_field_too_large",
            NoFile => "no_file",
            DiskFull { .. } => "disk_full",
            InvalidStationFile { .. } => "invalid_station_file",
            UnknownBroadcast { .. } => "unknown_broadcast",
            BroadcastClosed { .. } => "broadcast_closed",
            BadBroadcastId { .. } => "bad_broadcast",
        }
    }

    /// The same in plain Vietnamese, for the operator.
    pub fn vi(&self) -> String {
        use Error::*;
        match self {
            EngineGone => "Bộ điều phối đã dừng (đài đang tắt?); xem nhật ký của đài".into(),
            Refused(r) => refusal_halves(r).0,
            Ledger(LedgerError::Busy(_)) => "Sổ phát sóng đang bận, hãy thử lại sau ít giây".into(),
            Ledger(LedgerError::DiskFull(_)) => {
                "Bộ nhớ của đài đã đầy, không ghi được sổ phát sóng".into()
            }
            Ledger(_) => "Không mở được sổ phát sóng".into(),
            Range(_) => "Khoảng thời gian sai".into(),
            AlreadyPaused => "Đài đã tạm dừng".into(),
            NotPaused => "Đài không tạm dừng".into(),
            BadLimit { max, .. } => format!("Giới hạn sai: từ 1 đến {max}"),
            RepeatTooOften { .. } => "Lặp quá dày: ít nhất mỗi phút một lần".into(),
            RepeatTooRare { .. } => "Khoảng lặp quá dài: nhiều nhất một ngày".into(),
            BadDuration { given } => format!("Khoảng lặp sai: «{given}», ví dụ 30 phút"),
            UntilWithoutRepeat => "Có giờ kết thúc nhưng thiếu khoảng lặp".into(),
            BadTime { given } => format!("Thời điểm sai: «{given}»"),
            TimeInPast { .. } => "Thời điểm đã qua".into(),
            UntilNotFuture { .. } => "Giờ kết thúc phải ở phía sau".into(),
            TimeTooFar { days, .. } => format!("Thời điểm xa quá {days} ngày"),
            EmergencyNotQueued => "Tin khẩn cấp phải phát ngay, không xếp hàng".into(),
            BadPriority { .. } => "Mức ưu tiên sai".into(),
            OneTarget => "Cần chọn đúng một: bản tin, tệp âm thanh hoặc nội dung đọc".into(),
            UnknownCampaign { id, .. } => format!("Không có chiến dịch «{id}»"),
            NoProvinceDatabase => "Đài chưa nối với cơ sở dữ liệu của tỉnh".into(),
            ProvinceDatabase(_) => "Không đọc được cơ sở dữ liệu của tỉnh".into(),
            BadFileName { name, .. } => format!("Tên tệp không hợp lệ: «{name}»"),
            UnknownFile { name } => format!("Không tìm thấy tệp «{name}»"),
            UnreadableFile { name, .. } => format!("Không đọc được tệp «{name}»"),
            FileOutsideAudioDir { name } => {
                format!("Tệp «{name}» nằm ngoài thư mục âm thanh của đài")
            }
            NotAFile { name } => format!("«{name}» không phải là tệp"),
            AudioDirUnreadable { .. } => "Không đọc được thư mục âm thanh của đài".into(),
            BadAudio { .. } | EmptyUpload => "Tệp âm thanh không phát đúng được".into(),
            BadText { chars, max } => {
                format!("Nội dung trống hoặc quá dài ({chars} ký tự, tối đa {max})")
            }
            BadTitle { chars, max } => {
                format!("Tên bản ghi phải là một dòng, tối đa {max} ký tự (đang có {chars})")
            }
            NoticeStoreFull { .. } => "Bộ nhớ thông báo đã đầy".into(),
            SpeechBusy(_) => "Bộ đọc đang bận".into(),
            SpeechFailed(_) => "Không đọc được thông báo".into(),
            UploadTooLarge { limit_mb } => format!("Tệp quá lớn (tối đa {limit_mb} MB)"),
            NotMultipart => "Sai kiểu nội dung".into(),
            BadMultipart(_) => "Dữ liệu tải lên hỏng".into(),
            FormFieldTooLarge { .. } => "Trường không phải tệp quá lớn".into(),
            NoFile => "Không có tệp".into(),
            DiskFull { free_mb, .. } => format!(
                "Bộ nhớ của đài gần đầy (còn {free_mb} MB): hãy xoá bớt bản ghi không còn phát"
            ),
            Io { .. } | NoFreeName { .. } => "Không ghi được tệp".into(),
            InvalidStationFile { errors, .. } => format!(
                "Tệp cấu hình có {} lỗi; đài vẫn chạy theo tệp cũ",
                errors.len()
            ),
            Internal(_) => "Lỗi bên trong đài; xem nhật ký của đài".into(),
            UnknownBroadcast { id } => {
                format!("Đài không còn giữ bản tin tỉnh gửi «{id}» (đã hết hạn?)")
            }
            BroadcastClosed { id, vi, .. } => format!("Bản tin tỉnh gửi «{id}» {vi}"),
            BadBroadcastId { given } => format!("Mã bản tin tỉnh gửi không hợp lệ: «{given}»"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_refusals_are_split_into_their_two_languages() {
        let e = Error::from(Refusal::NothingAiring);
        assert_eq!(e.vi(), "Không có gì đang phát");
        assert_eq!(e.to_string(), "nothing airs now, so nothing was skipped");
        assert_eq!(e.kind(), Kind::Conflict);
        assert_eq!(e.code(), "nothing_airing");
    }

    #[test]
    fn no_text_names_an_api_route_or_a_station_file_key() {
        let all = [
            Error::EngineGone,
            Error::from(Refusal::QueueFull(3)),
            Error::UploadTooLarge { limit_mb: 20 },
            Error::DiskFull {
                free_mb: 1,
                dir: "/x".into(),
                keep_mb: 256,
            },
            Error::NoticeStoreFull {
                mb: 1.0,
                cap_mb: 200,
            },
            Error::UnknownFile {
                name: "a.mp3".into(),
            },
            Error::EmergencyNotQueued,
            Error::NoProvinceDatabase,
        ];
        for e in all {
            for text in [e.vi(), e.to_string()] {
                assert!(!text.contains("/api/"), "{text}");
                assert!(
                    !text.contains("_mb") && !text.contains("audio_dir"),
                    "{text}"
                );
            }
        }
    }
}
