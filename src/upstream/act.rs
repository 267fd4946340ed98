//! What a station does with a bulletin it trusts, by its level, through
//! `crate::control` (which audits it, with the publisher as the caller),
//! and the acknowledgements it sends back up.
//!
//! - emergency: cuts what airs, airs now, repeats as the manifest asks;
//! - priority: airs at the first free moment, ahead of waiting normal items;
//! - normal with times: queued at each of its times in its window;
//! - normal without times: stored (audio under `audio_dir/tinh/`) and
//!   acknowledged as stored, for the operator to air.

use std::collections::HashSet;
use std::path::Path;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use rumqttc::{AsyncClient, QoS};
use serde::Serialize;

use super::manifest::{AudioRef, Level, Manifest};
use super::topic;
use crate::config::{Priority, Role};
use crate::control::orders::{EmergencyOrder, QueueOrder, What};
use crate::control::{Caller, Control, Shared};

/// The folder of `audio_dir` where the province's audio is kept.
pub const AUDIO_FOLDER: &str = "tinh";
/// Most airings one normal bulletin may ask for (its times × its days).
const MAX_AIRINGS: usize = 64;

/// Where a bulletin is along its way at one station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Received,
    Stored,
    Scheduled,
    Aired,
    Failed,
    Missed,
    /// An operator declined it (a normal bulletin).
    Declined,
}

/// A station's acknowledgement of one bulletin, retained on
/// `loa/v1/ack/STATION/ID`: each state replaces the one before.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Ack {
    pub station: String,
    pub id: String,
    pub state: State,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aired_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The operator who decided (declined it, or aired it by hand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The engine's occurrences to watch for airing (not sent).
    #[serde(skip)]
    pub watch: Option<Vec<String>>,
}

impl Ack {
    pub fn new(station: &str, id: &str, state: State) -> Ack {
        Ack {
            station: station.to_string(),
            id: id.to_string(),
            state,
            at: Utc::now(),
            aired_at: None,
            reason: None,
            by: None,
            watch: None,
        }
    }

    pub fn reason(mut self, code: &str) -> Ack {
        self.reason = Some(code.to_string());
        self
    }
}

/// Publish `ack`, retained (best effort: the broker may be away).
pub async fn publish_ack(client: &AsyncClient, ack: &Ack) {
    let Ok(body) = serde_json::to_vec(ack) else {
        return;
    };
    let _ = client
        .publish(
            topic::ack(&ack.station, &ack.id),
            QoS::AtLeastOnce,
            true,
            body,
        )
        .await;
}

/// The file of `a` relative to `audio_dir`.
pub fn audio_name(a: &AudioRef) -> String {
    format!("{AUDIO_FOLDER}/{}.{}", a.sha256, a.ext)
}

/// Write `bytes` at `path` whole (a temporary beside it, then renamed).
pub fn store(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Name the stored audio `file` with the bulletin's title, as operators
/// name their recordings: the pickers, the status and the ledger show it.
pub fn keep_title(c: &Control, file: &str, title: &str) {
    let title: String = title
        .chars()
        .take(crate::control::titles::MAX_TITLE_CHARS)
        .collect();
    let Ok(Some(title)) = crate::control::titles::check_title(&title) else {
        return;
    };
    let station = c.current.get();
    if let Err(e) = c
        .titles
        .set(&station.data_dir, &station.audio_dir, file, &title)
    {
        tracing::warn!(file, "cannot keep the province's title: {e}");
    }
}

/// Ask the station to air `m` (its text, or the stored `file`): the
/// acknowledgement to send.
pub async fn order(c: &Control, station: &str, m: &Manifest, file: Option<String>) -> Ack {
    let caller = Caller {
        name: m.publisher.clone(),
        role: Some(Role::Operator),
        user: false,
    };
    let what = match (file, &m.text) {
        (Some(f), _) => What::File(f),
        (None, Some(t)) => What::Text(t.clone()),
        (None, None) => return Ack::new(station, &m.id, State::Failed).reason("no_content"),
    };
    let r = match m.priority {
        Level::Emergency => {
            let order = EmergencyOrder {
                what,
                repeat_every: m.repeat.as_ref().map(|r| r.every.clone()),
                until: m.repeat.as_ref().map(|r| r.until),
            };
            c.emergency_tagged(&caller, order, Some(&m.id))
                .await
                .map(|e| vec![e.entry.occurrence])
        }
        Level::Priority => {
            let order = QueueOrder {
                what,
                priority: Some(Priority::Priority),
                at: None,
            };
            c.queue_tagged(&caller, order, Some(&m.id))
                .await
                .map(|v| vec![v.occurrence])
        }
        Level::Normal => {
            let tz = c.current.get().timezone;
            let times = airings(m, tz, Utc::now());
            if times.is_empty() {
                return Ack::new(station, &m.id, State::Stored);
            }
            let mut out = Vec::new();
            let mut err = None;
            for at in times {
                let order = QueueOrder {
                    what: what.clone(),
                    priority: Some(Priority::Normal),
                    at: Some(at),
                };
                match c.queue_tagged(&caller, order, Some(&m.id)).await {
                    Ok(v) => out.push(v.occurrence),
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
            match (out.is_empty(), err) {
                (true, Some(e)) => Err(e),
                _ => Ok(out),
            }
        }
    };
    match r {
        Ok(occ) => {
            let mut a = Ack::new(station, &m.id, State::Scheduled);
            a.watch = Some(occ);
            a
        }
        Err(e) => Ack::new(station, &m.id, State::Failed).reason(e.code()),
    }
}

/// The instants a normal bulletin airs at: its times on its days (all when
/// none) from `from` (today) to `to` (its expiry), in the station's zone,
/// after `now` and before it expires; at most [`MAX_AIRINGS`].
pub fn airings(m: &Manifest, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let Some(s) = &m.schedule else {
        return Vec::new();
    };
    let today = now.with_timezone(&tz).date_naive();
    let last = m.expires.with_timezone(&tz).date_naive();
    let first = s.from.map_or(today, |f| f.max(today));
    let last = s.to.map_or(last, |t| t.min(last));
    let mut out = Vec::new();
    let mut d: NaiveDate = first;
    while d <= last && out.len() < MAX_AIRINGS {
        let wd = d.weekday().number_from_monday() as u8;
        if s.days.is_empty() || s.days.contains(&wd) {
            for t in &s.times {
                if let Some(at) = tz.from_local_datetime(&d.and_time(*t)).earliest() {
                    let at = at.with_timezone(&Utc);
                    if at > now && at < m.expires && out.len() < MAX_AIRINGS {
                        out.push(at);
                    }
                }
            }
        }
        d += Duration::days(1);
    }
    out.sort();
    out
}

/// When one of `want` starts airing (seen airing, or found in the
/// ledger: a short item may have aired before this looks); `None` if the
/// engine stopped.
async fn first_airing(c: &Control, want: &HashSet<String>) -> Option<Option<DateTime<Utc>>> {
    let mut rx = c.handle.status.clone();
    let instants: Vec<DateTime<Utc>> = want
        .iter()
        .filter_map(|o| crate::schedule::OccurrenceKey::parse(o))
        .map(|k| k.scheduled_at())
        .collect();
    let (from, to) = (
        instants.iter().min().copied()?,
        instants.iter().max().copied()?,
    );
    loop {
        let airing = rx.borrow_and_update().airing.clone();
        if let Some(a) = airing.filter(|a| want.contains(&a.occurrence)) {
            return Some(Some(a.started_at));
        }
        if let Some(at) = in_ledger(c, want, from, to).await {
            return Some(Some(at));
        }
        let changed = tokio::time::timeout(std::time::Duration::from_secs(1), rx.changed()).await;
        if let Ok(Err(_)) = changed {
            return None;
        }
    }
}

/// When the ledger says one of `want` (scheduled from `from` to `to`)
/// started airing.
async fn in_ledger(
    c: &Control,
    want: &HashSet<String>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let station = c.current.get();
    let want = want.clone();
    crate::control::blocking(move || {
        let ledger = crate::control::reading::open_ledger(&station)?;
        let rows = ledger.rows(&crate::ledger::Filter {
            from: Some(from),
            to: Some(to + Duration::milliseconds(1)),
            campaign: None,
        })?;
        Ok(rows
            .into_iter()
            .filter(|r| want.contains(&r.occurrence))
            .find_map(|r| crate::timefmt::parse_rfc3339(r.started_at.as_deref()?)))
    })
    .await
    .ok()
    .flatten()
}

/// Acknowledge `m` as aired when one of `occurrences` starts airing, or as
/// missed when it expires first.
pub fn watch_aired(
    c: Shared,
    client: AsyncClient,
    station: String,
    m: Manifest,
    occurrences: Vec<String>,
) {
    tokio::spawn(async move {
        let want: HashSet<String> = occurrences.into_iter().collect();
        let left = (m.expires - Utc::now()).to_std().unwrap_or_default();
        let aired = match tokio::time::timeout(left, first_airing(&c, &want)).await {
            Ok(Some(at)) => Some(at),
            Ok(None) => return,
            Err(_) => None,
        };
        // An operator who declined it has said so to the province.
        let (dir, id) = (c.current.get().data_dir.clone(), m.id.clone());
        let at = aired.flatten();
        let kept = tokio::task::spawn_blocking(move || {
            super::inbox::Inbox::at(&dir).update(&id, |r| {
                if r.declined.is_none() {
                    r.aired_at = r.aired_at.or(at);
                }
            })
        })
        .await;
        if let Ok(Ok(Some(r))) = kept {
            if r.declined.is_some() {
                return;
            }
        }
        let ack = match aired {
            Some(at) => {
                let mut a = Ack::new(&station, &m.id, State::Aired);
                a.aired_at = at;
                a
            }
            None => Ack::new(&station, &m.id, State::Missed).reason("expired_before_airing"),
        };
        // The link may have restarted (a reload) since this began.
        let client = c.link.client().unwrap_or(client);
        publish_ack(&client, &ack).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::manifest::Schedule;
    use chrono::NaiveTime;

    #[test]
    fn normal_airings_follow_times_days_and_expiry() {
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        // Monday 2026-12-07 08:00 local.
        let now = tz
            .with_ymd_and_hms(2026, 12, 7, 8, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let m = Manifest {
            id: "x".into(),
            publisher: "p".into(),
            issued: now,
            expires: now + Duration::days(7),
            priority: Level::Normal,
            title: String::new(),
            text: Some("t".into()),
            audio: None,
            targets: "all".into(),
            schedule: Some(Schedule {
                times: vec![
                    NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
                    NaiveTime::from_hms_opt(17, 30, 0).unwrap(),
                ],
                days: vec![1, 3],
                ..Default::default()
            }),
            repeat: None,
        };
        let got: Vec<String> = airings(&m, tz, now)
            .iter()
            .map(|t| t.with_timezone(&tz).format("%a %H:%M").to_string())
            .collect();
        assert_eq!(got, ["Mon 17:30", "Wed 06:00", "Wed 17:30", "Mon 06:00"]);
    }
}
