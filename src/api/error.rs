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
