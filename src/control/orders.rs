//! Steering the station: queue, dequeue, skip, pause, resume, emergency
//! and its cancel. Each takes the typed caller and a typed order, asks
//! the engine, audits what happened (refusals too) and answers typed.

use chrono::{DateTime, Duration, Utc};

use super::notice::Purpose;
use super::target::resolve;
use super::{Caller, Control, Error, Result};
use crate::config::Priority;
use crate::engine::status::QueuedView;
use crate::engine::{Command, EmergencyRequest, QueueRequest, Repetition, Target};
use crate::timefmt;

/// How far ahead an operator may queue something.
const MAX_AHEAD_DAYS: i64 = 366;
/// Shortest repeat of an emergency: back-to-back repeats would hold the
/// line forever.
const MIN_REPEAT_SECONDS: u32 = 60;
/// Longest repeat: beyond a day it is a new announcement, not a repeat.
const MAX_REPEAT_SECONDS: u32 = 24 * 3600;
/// How many characters of a typed notice the audit row keeps.
const AUDIT_TEXT_CHARS: usize = 80;

/// What to air: a bulletin of the station file, a file among the
/// station's audio files, or a typed notice to read aloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    Bulletin(String),
    File(String),
    Text(String),
}

impl What {
    /// The one target of a request that may name several (or none).
    pub fn one_of(
        bulletin: Option<String>,
        file: Option<String>,
        text: Option<String>,
    ) -> Result<What> {
        match (bulletin, file, text) {
            (Some(b), None, None) => Ok(What::Bulletin(b)),
            (None, Some(f), None) => Ok(What::File(f)),
            (None, None, Some(t)) => Ok(What::Text(t)),
            _ => Err(Error::OneTarget),
        }
    }

    /// As the audit row's detail shows it.
    fn detail(&self) -> String {
        match self {
            What::Bulletin(b) => format!("bulletin={b}"),
            What::File(f) => format!("file={f}"),
            What::Text(t) => format!(
                "text={}",
                t.chars().take(AUDIT_TEXT_CHARS).collect::<String>()
            ),
        }
    }
}

/// An item for the operators' queue.
#[derive(Debug, Clone)]
pub struct QueueOrder {
    pub what: What,
    /// `None`: the bulletin's own (normal for files and notices).
    pub priority: Option<Priority>,
    /// `None`: as soon as the line is free.
    pub at: Option<DateTime<Utc>>,
}

/// An emergency: airs at once, cutting what airs, maybe repeating.
#[derive(Debug, Clone)]
pub struct EmergencyOrder {
    pub what: What,
    /// How often it airs again, as written (`"30m"`, `"1h"`).
    pub repeat_every: Option<String>,
    /// When repeats stop.
    pub until: Option<DateTime<Utc>>,
}

/// An accepted emergency: what airs, and its queue entry.
#[derive(Debug, Clone)]
pub struct Emergency {
    pub entry: QueuedView,
    pub what: String,
}

/// A priority as requests write it: `normal` or `priority`. An emergency
/// is not a queue priority.
pub fn parse_priority(p: Option<&str>) -> Result<Option<Priority>> {
    match p {
        None => Ok(None),
        Some("emergency") => Err(Error::EmergencyNotQueued),
        Some(s) => Priority::parse(s)
            .map(Some)
            .ok_or_else(|| Error::BadPriority { given: s.into() }),
    }
}

/// An RFC 3339 instant as requests write it.
pub fn parse_at(at: &str) -> Result<DateTime<Utc>> {
    timefmt::parse_rfc3339(at).ok_or_else(|| Error::BadTime { given: at.into() })
}

/// An instant to queue at: not past (a minute's slack), not beyond a year.
fn check_at(t: DateTime<Utc>, now: DateTime<Utc>, tz: chrono_tz::Tz) -> Result<()> {
    let given = || timefmt::rfc3339(t, tz);
    if t < now - Duration::minutes(1) {
        return Err(Error::TimeInPast { given: given() });
    }
    if t > now + Duration::days(MAX_AHEAD_DAYS) {
        return Err(Error::TimeTooFar {
            given: given(),
            days: MAX_AHEAD_DAYS,
        });
    }
    Ok(())
}

/// A repeat interval, within a minute and a day.
fn repeat_every(x: &str) -> Result<Duration> {
    match crate::config::parse_duration(x) {
        Some(n) if (MIN_REPEAT_SECONDS..=MAX_REPEAT_SECONDS).contains(&n) => {
            Ok(Duration::seconds(i64::from(n)))
        }
        Some(n) if n < MIN_REPEAT_SECONDS => Err(Error::RepeatTooOften { given: x.into() }),
        Some(_) => Err(Error::RepeatTooRare { given: x.into() }),
        None => Err(Error::BadDuration { given: x.into() }),
    }
}

impl Control {
    /// Queue an item for the operators' queue.
    pub async fn queue(&self, caller: &Caller, order: QueueOrder) -> Result<QueuedView> {
        self.queue_tagged(caller, order, None).await
    }

    /// [`Control::queue`] for the province's broadcast `tag`
    /// (`crate::upstream`): its occurrence names the broadcast.
    pub async fn queue_tagged(
        &self,
        caller: &Caller,
        order: QueueOrder,
        tag: Option<&str>,
    ) -> Result<QueuedView> {
        let mut detail = vec![order.what.detail()];
        if let Some(t) = tag {
            detail.push(format!("broadcast={t}"));
        }
        if let Some(p) = order.priority {
            detail.push(format!("priority={}", p.as_str()));
        }
        let station = self.current.get();
        if let Some(at) = order.at {
            detail.push(format!("at={}", timefmt::rfc3339(at, station.timezone)));
        }
        let r = async {
            if let Some(at) = order.at {
                check_at(at, Utc::now(), station.timezone)?;
            }
            let (target, hold) = resolve(self, &station, order.what, Purpose::Queue).await?;
            let req = QueueRequest {
                target: tagged(target, tag),
                priority: order.priority,
                at: order.at,
                requested_by: Some(caller.name.clone()),
            };
            let r = self.ask(|tx| Command::Queue(req, tx)).await;
            if let Some(h) = hold {
                h.settle(r.is_ok());
            }
            r
        }
        .await;
        self.audit(caller, "queue", &detail.join(" "), &r, |v| {
            format!("id {} {}", v.id, v.occurrence)
        });
        r
    }

    /// Remove a waiting entry of the queue.
    pub async fn dequeue(&self, caller: &Caller, id: u64) -> Result<()> {
        let r = self.ask(|tx| Command::Dequeue(id, tx)).await;
        self.audit(caller, "dequeue", &format!("id={id}"), &r, |()| {
            format!("removed {id}")
        });
        r
    }

    /// Remove every waiting entry ("huỷ tất cả"): how many were removed.
    /// The ids are read first, page by page; an entry that starts airing
    /// meanwhile is left to air. One audit line for the whole.
    pub async fn dequeue_all(&self, caller: &Caller) -> Result<usize> {
        let r = async {
            let mut ids = Vec::new();
            loop {
                let page = self
                    .queue_page(ids.len(), super::reading::MAX_QUEUE_PAGE)
                    .await?;
                if page.entries.is_empty() {
                    break;
                }
                ids.extend(page.entries.iter().map(|e| e.id));
                if ids.len() >= page.total {
                    break;
                }
            }
            let mut removed = 0;
            for id in ids {
                match self.ask(|tx| Command::Dequeue(id, tx)).await {
                    Ok(()) => removed += 1,
                    Err(Error::Refused(crate::engine::Refusal::NotInQueue(_))) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(removed)
        }
        .await;
        self.audit(caller, "dequeue_all", "", &r, |n| format!("removed {n}"));
        r
    }

    /// Stop what airs and go on with what comes next: the title skipped.
    pub async fn skip(&self, caller: &Caller) -> Result<String> {
        let r = self.ask(|tx| Command::Skip(caller.by(), tx)).await;
        self.audit(caller, "skip", "", &r, String::clone);
        r
    }

    /// Pause the station: nothing airs until it resumes.
    pub async fn pause(&self, caller: &Caller) -> Result<()> {
        self.set_paused(caller, true).await
    }

    /// Air again after a pause.
    pub async fn resume(&self, caller: &Caller) -> Result<()> {
        self.set_paused(caller, false).await
    }

    async fn set_paused(&self, caller: &Caller, want: bool) -> Result<()> {
        let r = if self.handle.status.borrow().paused == want {
            Err(if want {
                Error::AlreadyPaused
            } else {
                Error::NotPaused
            })
        } else {
            let cmd = if want {
                Command::Pause(caller.by())
            } else {
                Command::Resume(caller.by())
            };
            match self.tell(cmd).await {
                Ok(()) => {
                    // Answer once the engine has published it (bounded).
                    let mut rx = self.handle.status.clone();
                    let _ = tokio::time::timeout(
                        super::ENGINE_TIMEOUT,
                        rx.wait_for(|st| st.paused == want),
                    )
                    .await;
                    Ok(())
                }
                Err(e) => Err(e),
            }
        };
        let (action, done) = if want {
            ("pause", "paused")
        } else {
            ("resume", "resumed")
        };
        self.audit(caller, action, "", &r, |()| done.to_string());
        r
    }

    /// Air an emergency now, maybe repeating until a time.
    pub async fn emergency(&self, caller: &Caller, order: EmergencyOrder) -> Result<Emergency> {
        self.emergency_tagged(caller, order, None).await
    }

    /// [`Control::emergency`] for the province's broadcast `tag`.
    pub async fn emergency_tagged(
        &self,
        caller: &Caller,
        order: EmergencyOrder,
        tag: Option<&str>,
    ) -> Result<Emergency> {
        let station = self.current.get();
        let tz = station.timezone;
        let detail = format!(
            "{}{} repeat_every={} until={}",
            tag.map_or_else(String::new, |t| format!("broadcast={t} ")),
            order.what.detail(),
            order.repeat_every.as_deref().unwrap_or("-"),
            order
                .until
                .map_or_else(|| "-".to_string(), |u| timefmt::rfc3339(u, tz)),
        );
        let r = async {
            let now = Utc::now();
            let every = order
                .repeat_every
                .as_deref()
                .map(repeat_every)
                .transpose()?;
            let repeat = match (every, order.until) {
                (Some(every), until) => Some(Repetition { every, until }),
                (None, Some(_)) => return Err(Error::UntilWithoutRepeat),
                (None, None) => None,
            };
            if let Some(u) = order.until.filter(|u| *u <= now) {
                return Err(Error::UntilNotFuture {
                    given: timefmt::rfc3339(u, tz),
                });
            }
            let (target, hold) = resolve(self, &station, order.what, Purpose::Emergency).await?;
            let what = describe(&target);
            let req = EmergencyRequest {
                target: tagged(target, tag),
                repeat,
                requested_by: Some(caller.name.clone()),
            };
            let r = self.ask(|tx| Command::Emergency(req, tx)).await;
            if let Some(h) = hold {
                h.settle(r.is_ok());
            }
            Ok(Emergency { entry: r?, what })
        }
        .await;
        self.audit(caller, "emergency", &detail, &r, |e| {
            format!("{} id {}", e.what, e.entry.id)
        });
        r
    }

    /// Stop the emergency that airs, waits or repeats.
    pub async fn cancel_emergency(&self, caller: &Caller) -> Result<()> {
        let r = self
            .ask(|tx| Command::CancelEmergency(caller.by(), tx))
            .await;
        self.audit(caller, "cancel_emergency", "", &r, |()| {
            "cancelled".to_string()
        });
        r
    }
}

/// `t` carrying the province's broadcast id, when there is one (a
/// bulletin of the station file never does).
fn tagged(t: Target, tag: Option<&str>) -> Target {
    match (t, tag) {
        (
            Target::File {
                file,
                path,
                seconds,
                title,
                ..
            },
            Some(tag),
        ) => Target::File {
            file,
            path,
            seconds,
            title,
            tag: Some(tag.to_string()),
        },
        (t, _) => t,
    }
}

/// A target as the audit names it.
fn describe(t: &Target) -> String {
    match t {
        Target::Bulletin(id) => format!("bulletin {id}"),
        Target::File { file, .. } => format!("file {file}"),
    }
}
