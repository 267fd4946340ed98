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

use crate::engine::Refusal;
use crate::ledger::LedgerError;

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

    pub fn conflict(error: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, error, message)
    }

    pub fn unprocessable(error: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, error, message)
    }

    /// Something on the station's side (the ledger unreadable, the engine
    /// gone): the operator cannot fix it by changing the request.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "engine_stopped", message)
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

/// The engine's refusals, each with its status and code; where the API
/// has a route that shows what exists, the message points to it.
impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::UnknownBulletin(_) => ApiError::not_found(
                "unknown_bulletin",
                format!("{r}; see GET /api/v1/bulletins"),
            ),
            Refusal::NotInQueue(_) => {
                ApiError::not_found("unknown_entry", format!("{r}: see GET /api/v1/queue"))
            }
            Refusal::NothingAiring => ApiError::conflict("nothing_airing", r.to_string()),
            Refusal::NoEmergency => ApiError::conflict("no_emergency", r.to_string()),
            Refusal::QueueFull(_) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "queue_full",
                format!(
                    "{r}; see GET /api/v1/queue and remove entries with DELETE /api/v1/queue/{{id}}"
                ),
            ),
        }
    }
}

/// A ledger that cannot be read is the station's trouble, not the
/// request's: the message says what failed and what to do about it.
impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            // Another writer holds it for a moment: try again.
            LedgerError::Busy(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ledger_busy",
                e.to_string(),
            ),
            LedgerError::DiskFull(_) => {
                ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "disk_full", e.to_string())
            }
            _ => ApiError::internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(e: ApiError) -> (u16, &'static str, String) {
        (e.status.as_u16(), e.error, e.message)
    }

    /// The engine's refusals answer as they did when the API told them
    /// apart by their text.
    #[test]
    fn each_refusal_has_its_status_code_and_message() {
        assert_eq!(
            answer(Refusal::UnknownBulletin("nope".into()).into()),
            (
                404,
                "unknown_bulletin",
                "Không tìm thấy bản tin / no bulletin with id \"nope\"; see GET /api/v1/bulletins"
                    .into()
            )
        );
        assert_eq!(
            answer(Refusal::NotInQueue(42).into()),
            (
                404,
                "unknown_entry",
                "Không có trong hàng đợi / no waiting entry with id 42 (already airing or aired?): \
                 see GET /api/v1/queue"
                    .into()
            )
        );
        assert_eq!(
            answer(Refusal::NothingAiring.into()),
            (
                409,
                "nothing_airing",
                "Không có gì đang phát / nothing airs now, so nothing was skipped".into()
            )
        );
        assert_eq!(
            answer(Refusal::NoEmergency.into()),
            (
                409,
                "no_emergency",
                "Không có phát khẩn cấp / no emergency airs, waits or repeats".into()
            )
        );
    }

    #[test]
    fn a_ledger_error_is_the_stations_trouble_with_its_whole_text() {
        use crate::ledger::ErrorContext;
        let ctx = || ErrorContext {
            path: "/var/lib/loa/airtime.db".into(),
            action: "read airtime",
            cause: "database is locked".into(),
        };
        let busy = LedgerError::Busy(ctx());
        let text = busy.to_string();
        assert_eq!(answer(busy.into()), (503, "ledger_busy", text));
        let full = LedgerError::DiskFull(ctx());
        let text = full.to_string();
        assert_eq!(answer(full.into()), (507, "disk_full", text));
        let corrupt = LedgerError::Corrupt(ctx());
        let text = corrupt.to_string();
        assert_eq!(answer(corrupt.into()), (500, "internal", text));
    }
}
