//! `POST /api/v1/audio`: a recording from an operator's phone or laptop
//! into `audio_dir`, only if it will play right.
//!
//! The body is streamed to a hidden temporary file inside `audio_dir` (so
//! the final move is a same-filesystem link, atomic), counted as it comes
//! so an oversized upload is cut at the limit rather than after, probed off
//! the runtime, and only then given its final name. The name is ours: an
//! ASCII slug of the client's file name, a timestamp, and the extension of
//! the format the probe found. Whatever refuses the upload (size, probe,
//! a dropped connection) removes the temporary file: nothing is left.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use axum::extract::multipart::MultipartError;
use axum::extract::{Multipart, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::error::{ApiError, ApiResult};
use super::{files, AppState, Caller};
use crate::probe::AudioInfo;

const MB: u64 = 1024 * 1024;
/// Room for the multipart framing around the file part.
const FRAMING_SLACK: u64 = 64 * 1024;

/// Room an upload must leave free on the file system of `audio_dir`, on
/// top of the largest file it may be: the ledger, the loudness and notice
/// caches and the log need it, and a card filled by uploads would stop the
/// station recording what airs.
const KEEP_FREE: u64 = 256 * MB;

/// A temporary file removed when dropped, unless kept.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn too_large(limit_mb: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "upload_too_large",
        format!(
            "Tệp quá lớn / the recording is larger than {limit_mb} MB ([api] max_upload_mb): \
             shorten it or re-encode it, e.g. `ffmpeg -i IN -ac 1 -c:a libmp3lame -b:a 64k OUT.mp3`"
        ),
    )
}

fn multipart_error(e: MultipartError, limit_mb: u64) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(limit_mb)
    } else {
        ApiError::bad_request(
            "bad_multipart",
            format!(
                "Dữ liệu tải lên hỏng / the multipart body could not be read: {}",
                e.body_text()
            ),
        )
    }
}

fn io_error(what: &str, e: std::io::Error) -> ApiError {
    ApiError::internal(format!(
        "Không ghi được tệp / could not {what} in audio_dir: {e} (disk full? read-only?)"
    ))
}

pub async fn upload(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Response> {
    let mut client_name = String::new();
    let r = receive(&s, &headers, multipart, &mut client_name).await;
    s.audit(
        &caller,
        "upload",
        &format!("file={client_name}"),
        &r.as_ref()
            .map(|(name, info)| format!("{name} {} {:.1}s", info.format, info.seconds))
            .map_err(Clone::clone),
    );
    let (name, info) = r?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "name": name,
            "format": info.format,
            "codec": info.codec,
            "channels": info.channels,
            "sample_rate": info.sample_rate,
            "duration_seconds": info.seconds,
        })),
    )
        .into_response())
}

async fn receive(
    s: &AppState,
    headers: &HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
    client_name: &mut String,
) -> ApiResult<(String, AudioInfo)> {
    let station = s.current.get();
    let limit_mb = station.api.max_upload_mb;
    let limit = limit_mb * MB;
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ctype
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Sai kiểu nội dung / send the recording as multipart/form-data with one file part, \
             e.g. `curl -F file=@ghi-am.m4a ...`",
        ));
    }
    // Refuse at once what announces itself as too big.
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit + FRAMING_SLACK) {
        return Err(too_large(limit_mb));
    }
    // Uploads one after another must not fill the card: the file may be as
    // large as announced (else the limit), and KEEP_FREE must stay free.
    let room = announced.unwrap_or(limit).min(limit) + KEEP_FREE;
    if let Some((free, _)) = super::metrics::disk_space(&station.audio_dir) {
        if free < room {
            return Err(ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "disk_full",
                format!(
                    "Bộ nhớ của đài gần đầy / only {} MB are free under audio_dir ({}), and an \
                     upload must leave {} MB free for the ledger: remove recordings that no \
                     longer air, then upload again",
                    free / MB,
                    station.audio_dir.display(),
                    KEEP_FREE / MB
                ),
            ));
        }
    }
    let mut multipart = multipart.map_err(|e| {
        ApiError::bad_request(
            "bad_multipart",
            format!("Dữ liệu tải lên hỏng / {}", e.body_text()),
        )
    })?;
    let mut skipped = 0u64;
    let mut field = loop {
        match multipart
            .next_field()
            .await
            .map_err(|e| multipart_error(e, limit_mb))?
        {
            Some(f) if f.file_name().is_some() => break f,
            // Other fields are read and dropped, within the framing slack.
            Some(mut f) => {
                while let Some(c) = f.chunk().await.map_err(|e| multipart_error(e, limit_mb))? {
                    skipped += c.len() as u64;
                    if skipped > FRAMING_SLACK {
                        return Err(ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "form_field_too_large",
                            format!(
                                "Trường không phải tệp quá lớn / the form's parts other than the \
                                 file carry more than {} KB; the file itself must be a part \
                                 with a file name: send it as e.g. `-F file=@ghi-am.m4a`",
                                FRAMING_SLACK / 1024
                            ),
                        ));
                    }
                }
            }
            None => return Err(ApiError::bad_request(
                "no_file",
                "Không có tệp / the form has no file part: send it as e.g. `-F file=@ghi-am.m4a`",
            )),
        }
    };
    *client_name = field.file_name().unwrap_or_default().to_string();

    let dir = station.audio_dir.clone();
    let seq = s.upload_seq.fetch_add(1, Ordering::Relaxed);
    let tmp_path = dir.join(format!(".loa-upload-{}-{seq}.part", std::process::id()));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp_path)
        .await
        .map_err(|e| io_error("create a temporary file", e))?;
    let tmp = TempFile(Some(tmp_path.clone()));
    let mut total: u64 = 0;
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| multipart_error(e, limit_mb))?
    {
        total += chunk.len() as u64;
        if total > limit {
            return Err(too_large(limit_mb));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| io_error("write the upload", e))?;
    }
    file.sync_all()
        .await
        .map_err(|e| io_error("write the upload", e))?;
    drop(file);
    if total == 0 {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_audio",
            "Tệp rỗng / the uploaded file is empty (0 bytes)",
        ));
    }

    let shown = client_name.clone();
    tokio::task::spawn_blocking(move || {
        let info = crate::probe::probe(&tmp_path)
            .map_err(|e| files::probe_error(&e, &tmp_path, &shown))?;
        let stamp = Utc::now()
            .with_timezone(&station.timezone)
            .format("%Y%m%d-%H%M%S")
            .to_string();
        let name = place(&dir, &tmp_path, &files::slug(&shown), &stamp, &info)?;
        drop(tmp);
        if station.output.loudness_lufs.is_some() {
            // Measured now, in the background, so it airs levelled (it airs
            // as recorded if played before that is done).
            crate::audio::loudness::cache(&station.data_dir)
                .measure_in_background([dir.join(&name)]);
        }
        Ok((name, info))
    })
    .await
    .map_err(|e| ApiError::internal(format!("a background task failed: {e}")))?
}

/// The extension of a probed format.
fn extension(info: &AudioInfo) -> &'static str {
    match info.format.as_str() {
        "m4a" => "m4a",
        "aac" => "aac",
        "flac" => "flac",
        "ogg" if info.codec == "opus" => "opus",
        "ogg" => "ogg",
        "webm" => "webm",
        "wav" => "wav",
        _ => "mp3",
    }
}

/// Give the probed temporary file its final name in `dir`, never replacing
/// a file: a hard link fails when the name is taken, so two uploads of the
/// same name in the same second both land. `stamp` is the station's local
/// time, as operators read it. Returns the name.
fn place(dir: &Path, tmp: &Path, slug: &str, stamp: &str, info: &AudioInfo) -> ApiResult<String> {
    let ext = extension(info);
    for n in 1..1000 {
        let name = if n == 1 {
            format!("{slug}-{stamp}.{ext}")
        } else {
            format!("{slug}-{stamp}-{n}.{ext}")
        };
        let dest = dir.join(&name);
        match std::fs::hard_link(tmp, &dest) {
            Ok(()) => return Ok(name),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            // A filesystem without hard links (FAT on a USB stick).
            Err(_) if !dest.exists() => {
                std::fs::rename(tmp, &dest).map_err(|e| io_error("name the upload", e))?;
                return Ok(name);
            }
            Err(_) => continue,
        }
    }
    Err(ApiError::internal(format!(
        "could not find a free name for {slug} in audio_dir"
    )))
}
