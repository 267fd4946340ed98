//! Errors as the API answers them: `{"error": code, "message": text}` with
//! the right status, for every refusal including axum's own (bad JSON,
//! wrong content type, unknown route), so a client never has to parse a
//! plain-text body.
//!
//! `error` is an English snake_case code for programs; `message` is for
//! the operator who reads it: Vietnamese first where it is cheap, then
//! English saying what was wrong and what to do.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::control::Error;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    pub error: &'static str,
    pub message: String,
    /// Every problem, when there are several (an invalid station file).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error,
            message: message.into(),
            errors: Vec::new(),
        }
    }

    pub fn bad_request(error: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, message)
    }

    pub fn not_found(error: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, error, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.error,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(&self)).into_response()
    }
}

/// The code for one of axum's own refusals, by its status.
fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        _ => "bad_request",
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        let message = match &r {
            JsonRejection::MissingJsonContentType(_) => {
                "Sai kiểu nội dung / the body must be JSON: send `Content-Type: application/json`."
                    .to_string()
            }
            JsonRejection::JsonSyntaxError(_) => {
                format!("JSON không hợp lệ / malformed JSON: {}", r.body_text())
            }
            JsonRejection::JsonDataError(_) => format!(
                "Nội dung không đúng / the JSON does not have the expected fields: {}",
                r.body_text()
            ),
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => {
                "Nội dung quá lớn / the body is larger than this route accepts.".to_string()
            }
            _ => r.body_text(),
        };
        // Syntax errors are 400, wrong shapes 422: both as axum decides.
        let code = match &r {
            JsonRejection::JsonSyntaxError(_) => "malformed_json",
            _ => code_for(status),
        };
        ApiError::new(status, code, message)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(
            "bad_query",
            format!("Tham số sai / bad query parameters: {}", r.body_text()),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(
            "bad_path",
            format!("Đường dẫn sai / bad path parameter: {}", r.body_text()),
        )
    }
}

/// What a program's author needs beyond the operator's words: the route
/// that shows what exists, or the field or key to change.
fn api_hint(e: &Error) -> &'static str {
    use crate::engine::Refusal;
    match e {
        Error::Refused(Refusal::UnknownBulletin(_)) => "; see GET /api/v1/bulletins",
        Error::Refused(Refusal::NotInQueue(_)) => ": see GET /api/v1/queue",
        Error::Refused(Refusal::QueueFull(_)) => {
            " ([api] max_queue in the station file); see GET /api/v1/queue and remove entries \
             with DELETE /api/v1/queue/{id}"
        }
        Error::AlreadyPaused => ": POST /api/v1/resume to air again",
        Error::EmergencyNotQueued => ": send it with POST /api/v1/emergency",
        Error::OneTarget => {
            " (\"bulletin\": an id, \"file\": a name in audio_dir, or \"text\": a notice to \
             read aloud)"
        }
        Error::BadFileName { .. } | Error::UnknownFile { .. } => {
            ": give a file's path inside audio_dir as GET /api/v1/bulletins lists it, e.g. \
             \"thong-bao.mp3\" or \"cds/thong-diep.mp3\", upload it with POST /api/v1/audio, \
             or queue a bulletin by id"
        }
        Error::UntilWithoutRepeat => " (\"until\" needs \"repeat_every\")",
        Error::UploadTooLarge { .. } => {
            " ([api] max_upload_mb), e.g. `ffmpeg -i IN -ac 1 -c:a libmp3lame -b:a 64k OUT.mp3`"
        }
        Error::NotMultipart | Error::NoFile | Error::FormFieldTooLarge { .. } => {
            ": send it as e.g. `curl -F file=@ghi-am.m4a ...`"
        }
        Error::NoticeStoreFull { .. } => " (data_dir/tts; raise [tts] cache_mb)",
        Error::NoProvinceDatabase => {
            ": set `postgres` (a PostgreSQL connection string) under [fleet] in this station \
             file, then reload"
        }
        _ => "",
    }
}

/// A refusal of the control layer: its status and code, the operator's
/// words in both languages, and the API's own hint.
impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let errors = match &e {
            Error::InvalidStationFile { errors, .. } => errors.clone(),
            _ => Vec::new(),
        };
        let mut a = ApiError::new(
            e.kind().http_status(),
            e.code(),
            format!("{} / {e}{}", e.vi(), api_hint(&e)),
        );
        a.errors = errors;
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Refusal;
    use crate::ledger::LedgerError;

    fn answer(e: Error) -> (u16, &'static str, String) {
        let a = ApiError::from(e);
        (a.status.as_u16(), a.error, a.message)
    }

    /// The engine's refusals answer with their status, code, both
    /// languages, and the route that shows what exists.
    #[test]
    fn each_refusal_has_its_status_code_and_message() {
        assert_eq!(
            answer(Refusal::UnknownBulletin("nope".into()).into()),
            (
                404,
                "unknown_bulletin",
                "Không tìm thấy bản tin «nope» / no bulletin with id \"nope\"; see GET \
                 /api/v1/bulletins"
                    .into()
            )
        );
        let (status, code, message) = answer(Refusal::NotInQueue(42).into());
        assert_eq!((status, code), (404, "unknown_entry"));
        assert!(message.ends_with(": see GET /api/v1/queue"), "{message}");
        assert_eq!(
            answer(Refusal::NothingAiring.into()),
            (
                409,
                "nothing_airing",
                "Không có gì đang phát / nothing airs now, so nothing was skipped".into()
            )
        );
        let (status, code, message) = answer(Refusal::QueueFull(3).into());
        assert_eq!((status, code), (429, "queue_full"));
        assert!(message.contains("[api] max_queue"), "{message}");
    }

    #[test]
    fn a_ledger_error_is_the_stations_trouble_with_its_whole_text() {
        use crate::ledger::ErrorContext;
        let ctx = || ErrorContext {
            path: "/var/lib/loa/airtime.db".into(),
            action: "read airtime",
            cause: "database is locked".into(),
        };
        for (e, status, code) in [
            (LedgerError::Busy(ctx()), 503, "ledger_busy"),
            (LedgerError::DiskFull(ctx()), 507, "disk_full"),
            (LedgerError::Corrupt(ctx()), 500, "internal"),
        ] {
            let text = e.to_string();
            let (s, c, message) = answer(e.into());
            assert_eq!((s, c), (status, code));
            assert!(message.ends_with(&text), "{message}");
        }
    }
}
