//! A recording from an operator's phone or laptop into `audio_dir`, only if
//! it will play right (the API's `POST /api/v1/audio` and the console's
//! record page both send it here, as the multipart form they received).
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

use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::Multipart;
use axum::http::StatusCode;
use chrono::Utc;
use tokio::io::AsyncWriteExt;

use super::{files, titles, Caller, Control, Error, Result};
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

fn multipart_error(e: MultipartError, limit_mb: u64) -> Error {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::UploadTooLarge { limit_mb }
    } else {
        Error::BadMultipart(e.body_text())
    }
}

/// An upload as it arrived: its headers' word on type and length, and the
/// form.
pub struct Incoming {
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    pub form: std::result::Result<Multipart, MultipartRejection>,
}

impl Incoming {
    /// What an upload's request says of itself, and its form.
    pub fn of(
        headers: &axum::http::HeaderMap,
        form: std::result::Result<Multipart, MultipartRejection>,
    ) -> Incoming {
        use axum::http::header;
        let text = |h| headers.get(h).and_then(|v| v.to_str().ok());
        Incoming {
            content_type: text(header::CONTENT_TYPE).map(str::to_string),
            content_length: text(header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
            form,
        }
    }
}

/// A recording kept among the station's audio files: its name there, and
/// what the probe found.
#[derive(Debug, Clone)]
pub struct Stored {
    pub name: String,
    pub info: AudioInfo,
    /// The title the operator gave it (a `title` field before the file).
    pub title: Option<String>,
}

impl Control {
    /// Keep an uploaded recording, if it will play right. Audited.
    pub async fn upload(&self, caller: &Caller, incoming: Incoming) -> Result<Stored> {
        let mut client_name = String::new();
        let r = receive(self, incoming, &mut client_name).await;
        self.audit(caller, "upload", &format!("file={client_name}"), &r, |s| {
            let title = s.title.as_deref().map(|t| format!(" «{t}»"));
            format!(
                "{} {} {:.1}s{}",
                s.name,
                s.info.format,
                s.info.seconds,
                title.unwrap_or_default()
            )
        });
        r
    }
}

async fn receive(s: &Control, incoming: Incoming, client_name: &mut String) -> Result<Stored> {
    let station = s.current.get();
    let limit_mb = station.api.max_upload_mb;
    let limit = limit_mb * MB;
    let ctype = incoming.content_type.as_deref().unwrap_or("");
    if !ctype
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Err(Error::NotMultipart);
    }
    // Refuse at once what announces itself as too big.
    let announced = incoming.content_length;
    if announced.is_some_and(|n| n > limit + FRAMING_SLACK) {
        return Err(Error::UploadTooLarge { limit_mb });
    }
    // Uploads one after another must not fill the card: the file may be as
    // large as announced (else the limit), and KEEP_FREE must stay free.
    let room = announced.unwrap_or(limit).min(limit) + KEEP_FREE;
    if let Some((free, _)) = files::disk_space(&station.audio_dir) {
        if free < room {
            return Err(Error::DiskFull {
                free_mb: free / MB,
                dir: station.audio_dir.display().to_string(),
                keep_mb: KEEP_FREE / MB,
            });
        }
    }
    let mut multipart = incoming
        .form
        .map_err(|e| Error::BadMultipart(e.body_text()))?;
    let mut skipped = 0u64;
    // A `title` field sent before the file names the recording.
    let mut title_bytes: Option<Vec<u8>> = None;
    let mut field = loop {
        match multipart
            .next_field()
            .await
            .map_err(|e| multipart_error(e, limit_mb))?
        {
            Some(f) if f.file_name().is_some() => break f,
            // Other fields are read and dropped, within the framing slack.
            Some(mut f) => {
                let is_title = f.name() == Some("title");
                while let Some(c) = f.chunk().await.map_err(|e| multipart_error(e, limit_mb))? {
                    skipped += c.len() as u64;
                    if skipped > FRAMING_SLACK {
                        return Err(Error::FormFieldTooLarge {
                            kb: FRAMING_SLACK / 1024,
                        });
                    }
                    if is_title {
                        title_bytes
                            .get_or_insert_with(Vec::new)
                            .extend_from_slice(&c);
                    }
                }
            }
            None => return Err(Error::NoFile),
        }
    };
    *client_name = field.file_name().unwrap_or_default().to_string();
    // Checked before the file is received: a bad title costs no upload.
    let title = match title_bytes {
        None => None,
        Some(b) => titles::check_title(&String::from_utf8_lossy(&b))?,
    };

    let dir = station.audio_dir.clone();
    let seq = s.upload_seq.fetch_add(1, Ordering::Relaxed);
    let tmp_path = dir.join(format!(".loa-upload-{}-{seq}.part", std::process::id()));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp_path)
        .await
        .map_err(|e| Error::io("create a temporary file", e))?;
    let tmp = TempFile(Some(tmp_path.clone()));
    let mut total: u64 = 0;
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| multipart_error(e, limit_mb))?
    {
        total += chunk.len() as u64;
        if total > limit {
            return Err(Error::UploadTooLarge { limit_mb });
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| Error::io("write the upload", e))?;
    }
    file.sync_all()
        .await
        .map_err(|e| Error::io("write the upload", e))?;
    drop(file);
    if total == 0 {
        return Err(Error::EmptyUpload);
    }

    let shown = client_name.clone();
    let titles = std::sync::Arc::clone(&s.titles);
    super::blocking(move || {
        let info =
            crate::probe::probe(&tmp_path).map_err(|e| Error::bad_audio(&e, &tmp_path, &shown))?;
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
        // The recording is kept whatever happens to its title: refusing now
        // would have the operator send it again (a second copy).
        let title = title.filter(|t| match titles.set(&station.data_dir, &dir, &name, t) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(file = %name, "the recording is kept without its title: {e}");
                false
            }
        });
        Ok(Stored { name, info, title })
    })
    .await
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
fn place(dir: &Path, tmp: &Path, slug: &str, stamp: &str, info: &AudioInfo) -> Result<String> {
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
                std::fs::rename(tmp, &dest).map_err(|e| Error::io("name the upload", e))?;
                return Ok(name);
            }
            Err(_) => continue,
        }
    }
    Err(Error::NoFreeName {
        slug: slug.to_string(),
    })
}
