//! `POST /api/v1/audio`: a recording from an operator's phone or laptop,
//! kept by the control layer (`crate::control::upload`) only if it will
//! play right.

use axum::extract::multipart::MultipartRejection;
use axum::extract::Multipart;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::error::ApiResult;
use super::routes::By;
use crate::control::upload::Incoming;

pub async fn upload(
    By(s, caller): By,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let stored = s.upload(&caller, Incoming::of(&headers, multipart)).await?;
    let info = stored.info;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "name": stored.name,
            "title": stored.title,
            "format": info.format,
            "codec": info.codec,
            "channels": info.channels,
            "sample_rate": info.sample_rate,
            "duration_seconds": info.seconds,
        })),
    )
        .into_response())
}
