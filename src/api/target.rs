//! What a control request asks to air (`POST /api/v1/queue`,
//! `POST /api/v1/emergency`): its target checked and resolved (a typed
//! notice read aloud), its priority and its instant.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::error::{ApiError, ApiResult};
use super::notice::{self, Hold, Purpose};
use super::routes::blocking;
use super::{files, AppState};
use crate::config::{Priority, Station};
use crate::engine::Target;
use crate::timefmt;

/// How far ahead an operator may queue something.
const MAX_AHEAD_DAYS: i64 = 366;

/// `{"bulletin": id}`, `{"file": name}` or `{"text": notice}` as an engine
/// target: the file checked, resolved inside `audio_dir` and probed; the
/// notice read aloud now (or found in the cache), with its hold on the
/// cache file (settle it with the engine's answer).
pub(super) async fn target(
    s: &AppState,
    station: &Arc<Station>,
    (bulletin, file, text): (Option<String>, Option<String>, Option<String>),
    purpose: Purpose,
) -> ApiResult<(Target, Option<Hold>)> {
    let target = match (bulletin, file, text) {
        (None, None, Some(text)) => {
            let (t, hold) = notice::notice(s, station, text, purpose).await?;
            return Ok((t, Some(hold)));
        }
        (Some(id), None, None) => {
            if station.bulletin(&id).is_none() {
                return Err(ApiError::not_found(
                    "unknown_bulletin",
                    format!(
                        "Không tìm thấy bản tin / no bulletin with id {id:?} in the station file: \
                         see GET /api/v1/bulletins"
                    ),
                ));
            }
            Ok(Target::Bulletin(id))
        }
        (None, Some(name), None) => {
            files::check_name(&name)?;
            let dir = station.audio_dir.clone();
            blocking(move || {
                let path = files::resolve(&dir, &name)?;
                let info =
                    crate::probe::probe(&path).map_err(|e| files::probe_error(&e, &path, &name))?;
                Ok(Target::File {
                    file: name,
                    path,
                    seconds: info.seconds,
                    title: None,
                })
            })
            .await
        }
        _ => Err(ApiError::unprocessable(
            "bulletin_or_file",
            "Cần đúng một trong ba / give exactly one of \"bulletin\" (an id), \"file\" \
             (a name in audio_dir) or \"text\" (a notice to read aloud)",
        )),
    }?;
    Ok((target, None))
}

pub(super) fn describe(t: &Target) -> String {
    match t {
        Target::Bulletin(id) => format!("bulletin {id}"),
        Target::File { file, .. } => format!("file {file}"),
    }
}

pub(super) fn parse_at(at: Option<&str>, now: DateTime<Utc>) -> ApiResult<Option<DateTime<Utc>>> {
    let Some(s) = at else { return Ok(None) };
    let t = timefmt::parse_rfc3339(s).ok_or_else(|| {
        ApiError::unprocessable(
            "bad_time",
            format!(
                "Thời điểm sai / {s:?} is not an RFC 3339 instant: write e.g. \
                 \"2026-10-07T06:15:00+07:00\""
            ),
        )
    })?;
    if t < now - Duration::minutes(1) {
        return Err(ApiError::unprocessable(
            "time_in_past",
            format!("Thời điểm đã qua / {s} is in the past: leave \"at\" out to air now"),
        ));
    }
    if t > now + Duration::days(MAX_AHEAD_DAYS) {
        return Err(ApiError::unprocessable(
            "time_too_far",
            format!("{s} is more than {MAX_AHEAD_DAYS} days ahead"),
        ));
    }
    Ok(Some(t))
}

pub(super) fn parse_priority(p: Option<&str>) -> ApiResult<Option<Priority>> {
    match p {
        None => Ok(None),
        Some("emergency") => Err(ApiError::unprocessable(
            "use_emergency_route",
            "Khẩn cấp dùng POST /api/v1/emergency / an emergency cuts what airs: send it with \
             POST /api/v1/emergency",
        )),
        Some(s) => Priority::parse(s).map(Some).ok_or_else(|| {
            ApiError::unprocessable(
                "bad_priority",
                format!(
                    "Mức ưu tiên sai / unknown priority {s:?}: write \"normal\" or \"priority\""
                ),
            )
        }),
    }
}
