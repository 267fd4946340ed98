//! Reading the station: its status, its plan, its ledger and its audit
//! trail, as typed values. Nothing here changes the station.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};

use super::{blocking, Control, Error, Result};
use crate::config::Station;
use crate::current::FileState;
use crate::engine::status::{QueuePage, Status};
use crate::engine::Command;
use crate::fleet::FleetReport;
use crate::ledger::{AirtimeRow, AuditRow, Filter, Ledger};
use crate::range::{self, RangeError};
use crate::report::{self, Report};
use crate::schedule;

/// Longest range of days a plan or a ledger listing expands.
pub const MAX_RANGE_DAYS: i64 = 400;
/// How many upcoming occurrences the status shows.
const STATUS_NEXT: usize = 5;
/// How many waiting entries a page of the queue shows when not told.
pub const QUEUE_PAGE: usize = 50;
/// The most a page of the queue shows.
pub(crate) const MAX_QUEUE_PAGE: usize = 500;
/// The audit listing's default reach.
const AUDIT_DEFAULT_DAYS: i64 = 30;

/// One upcoming occurrence, as the status shows it.
#[derive(Debug, Clone)]
pub struct Upcoming {
    pub at: DateTime<Utc>,
    pub title: String,
}

/// The next occurrences in the coming day: typed, and in the plan's shared
/// JSON shape (`schedule::plan_json`, what `loa schedule --format json`
/// prints) for the programs that read it.
#[derive(Debug, Clone)]
pub struct Next {
    pub items: Vec<Upcoming>,
    pub plan: serde_json::Value,
}

/// The copy to the province's database, when the station has one.
#[derive(Debug, Clone)]
pub struct FleetView {
    pub station_id: String,
    pub progress: crate::fleet::Shipping,
}

/// The typed-notice store.
#[derive(Debug, Clone, Copy)]
pub struct NoticeStore {
    pub bytes: u64,
    pub cap_bytes: u64,
    pub evictions: u64,
}

/// Everything the status shows.
#[derive(Debug, Clone)]
pub struct StatusView {
    pub station: Arc<Station>,
    pub now: DateTime<Utc>,
    pub uptime: StdDuration,
    pub engine: Status,
    pub next: Arc<Next>,
    pub file: FileState,
    pub fleet: Option<FleetView>,
    pub notices: NoticeStore,
    /// The link to the province's broker, with `[upstream]`.
    pub upstream: Option<super::link::LinkView>,
}

impl Control {
    /// What airs, waits and comes next.
    pub fn status(&self) -> StatusView {
        let engine = self.handle.status.borrow().clone();
        let station = self.current.get();
        let now = Utc::now();
        let next = self.next(&station, now);
        let fleet = station.fleet.postgres.as_ref().map(|_| FleetView {
            station_id: station.fleet.station_id.clone(),
            progress: self.fleet.get(),
        });
        let notices = NoticeStore {
            bytes: self
                .notices
                .cache_bytes(&station.data_dir.join(crate::config::TTS_DIR)),
            cap_bytes: station.tts.cache_bytes(),
            evictions: self.notices.evictions(),
        };
        StatusView {
            now,
            uptime: self.started.elapsed(),
            engine,
            next,
            file: self.current.file(),
            fleet,
            notices,
            station,
            upstream: self.link.view(),
        }
    }

    /// The next few occurrences in the coming 24 hours. Cached for a
    /// second per station: the status is polled, the plan changes by the
    /// minute.
    fn next(&self, station: &Arc<Station>, now: DateTime<Utc>) -> Arc<Next> {
        {
            let cache = self.next_cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, st, v)) = cache.as_ref() {
                if Arc::ptr_eq(st, station) && now >= *at && now - *at < Duration::seconds(1) {
                    return Arc::clone(v);
                }
            }
        }
        // Computed outside the lock: concurrent status requests never wait
        // on each other's schedule expansion (two may compute it; both are
        // right).
        let occ: Vec<_> = schedule::schedule(station, now, now + Duration::hours(24))
            .into_iter()
            .take(STATUS_NEXT)
            .collect();
        let next = Arc::new(Next {
            items: occ
                .iter()
                .map(|o| Upcoming {
                    at: o.at.with_timezone(&Utc),
                    title: o.title.to_string(),
                })
                .collect(),
            plan: schedule::plan_json(station, &occ),
        });
        *self.next_cache.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((now, Arc::clone(station), Arc::clone(&next)));
        next
    }

    /// A page of the waiting entries, in airing order.
    pub async fn queue_page(&self, offset: usize, limit: usize) -> Result<QueuePage> {
        if !(1..=MAX_QUEUE_PAGE).contains(&limit) {
            return Err(Error::BadLimit {
                max: MAX_QUEUE_PAGE,
                default: QUEUE_PAGE,
            });
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.tell(Command::QueuePage {
            offset,
            limit,
            reply: tx,
        })
        .await?;
        match tokio::time::timeout(super::ENGINE_TIMEOUT, rx).await {
            Ok(Ok(page)) => Ok(page),
            _ => Err(Error::EngineGone),
        }
    }

    /// The station's audio files, each with what its probe found.
    pub async fn audio_files(&self) -> Result<Vec<super::files::FileView>> {
        let dir = self.current.get().audio_dir.clone();
        let probes = Arc::clone(&self.probes);
        blocking(move || Ok(super::files::list(&dir, &probes))).await
    }

    /// The titles operators gave their recordings, by file name.
    pub async fn recording_titles(&self) -> Result<std::collections::BTreeMap<String, String>> {
        let data_dir = self.current.get().data_dir.clone();
        blocking(move || Ok(super::titles::read(&data_dir))).await
    }

    /// Whether a file among the station's audio files will play, and how.
    pub async fn probe_file(&self, name: String) -> Result<crate::probe::AudioInfo> {
        let dir = self.current.get().audio_dir.clone();
        blocking(move || super::files::probe_named(&dir, &name)).await
    }

    /// The ledger's rows over a range of days (today by default), at most
    /// [`MAX_RANGE_DAYS`] long, of one campaign or all.
    pub async fn airtime(&self, p: Period<'_>) -> Result<Airtime> {
        let (station, campaign) = (self.current.get(), p.campaign);
        let (from, to) = day_range(&station, p.from, p.to)?;
        blocking(move || {
            let ledger = open_ledger(&station)?;
            check_campaign(&station, &ledger, campaign.as_deref())?;
            let rows = ledger.rows(&Filter {
                from: Some(from),
                to: Some(to),
                campaign,
            })?;
            Ok(Airtime {
                station,
                from,
                to,
                rows,
            })
        })
        .await
    }

    /// The officials' report of this station's ledger over a period (open
    /// ends allowed), of one campaign or all.
    pub async fn report(&self, p: Period<'_>) -> Result<StationReport> {
        self.report_of(p, false).await
    }

    /// [`Control::report`] with the ledger rows it sums (the report page
    /// draws its chart and its list of what did not air from them).
    pub async fn report_with_rows(&self, p: Period<'_>) -> Result<StationReport> {
        self.report_of(p, true).await
    }

    async fn report_of(&self, p: Period<'_>, with_rows: bool) -> Result<StationReport> {
        let (station, campaign) = (self.current.get(), p.campaign);
        let (from, to) = range::parse(station.timezone, p.from, p.to)?;
        blocking(move || {
            let ledger = open_ledger(&station)?;
            check_campaign(&station, &ledger, campaign.as_deref())?;
            let filter = Filter { from, to, campaign };
            let report = report::report(&ledger, &station.campaigns, &filter)?;
            let rows = if with_rows {
                ledger.rows(&filter)?
            } else {
                Vec::new()
            };
            Ok(StationReport {
                station,
                from,
                to,
                report,
                rows,
            })
        })
        .await
    }

    /// The province's report over a period and campaign, read from the
    /// province's database (`[fleet] postgres`).
    pub async fn province_report(&self, p: Period<'_>) -> Result<FleetReport> {
        let station = self.current.get();
        let Some(url) = station.fleet.postgres.clone() else {
            return Err(Error::NoProvinceDatabase);
        };
        let (from, to) = range::parse(crate::fleet::MONTH_TZ, p.from, p.to)?;
        let filter = Filter {
            from,
            to,
            campaign: p.campaign,
        };
        let broadcast = p.broadcast.as_deref();
        if let Some(b) = broadcast {
            if !crate::broadcast::usable_id(b) {
                return Err(Error::BadBroadcastId {
                    given: b.chars().take(80).collect(),
                });
            }
        }
        crate::fleet::read_report(&url, &filter, broadcast)
            .await
            .map_err(|e| match e.downcast_ref::<report::UnknownCampaign>() {
                Some(u) => Error::UnknownCampaign {
                    id: u.id.clone(),
                    known: u.known.clone(),
                },
                None => Error::ProvinceDatabase(format!("{e:#}")),
            })
    }

    /// The audit trail over a period (the last 30 days by default).
    pub async fn audit_rows(&self, from: Option<&str>, to: Option<&str>) -> Result<Vec<AuditRow>> {
        let station = self.current.get();
        let (from, to) = range::parse(station.timezone, from, to)?;
        let from = from.unwrap_or_else(|| Utc::now() - Duration::days(AUDIT_DEFAULT_DAYS));
        if let Some(to) = to {
            if to <= from {
                return Err(Error::Range(RangeError::Reversed {
                    from: crate::timefmt::rfc3339(from, station.timezone),
                    to: crate::timefmt::rfc3339(to, station.timezone),
                }));
            }
        }
        let recorder = self.recorder.clone();
        blocking(move || {
            // Read what was just written: actions are audited
            // asynchronously.
            recorder.flush(StdDuration::from_millis(500));
            let ledger = open_ledger(&station)?;
            Ok(ledger.audit_rows(Some(from), to)?)
        })
        .await
    }
}

/// What a reading of the ledger asks for: a period by its days as the
/// caller wrote them (open ends allowed), and one campaign or all.
pub struct Period<'a> {
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub campaign: Option<String>,
    /// The province's report only: the rows of one broadcast of the
    /// province (`crate::upstream`).
    pub broadcast: Option<String>,
}

impl<'a> Period<'a> {
    pub fn new(from: Option<&'a str>, to: Option<&'a str>, campaign: Option<String>) -> Self {
        Period {
            from,
            to,
            campaign,
            broadcast: None,
        }
    }

    /// The same, of one broadcast of the province.
    pub fn broadcast(self, broadcast: Option<String>) -> Self {
        Period { broadcast, ..self }
    }
}

/// Ledger rows over a range of days.
pub struct Airtime {
    pub station: Arc<Station>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub rows: Vec<AirtimeRow>,
}

/// A station's report over a period.
pub struct StationReport {
    pub station: Arc<Station>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub report: Report,
    /// The rows summed, when asked for.
    pub rows: Vec<AirtimeRow>,
}

/// `from`/`to` as a range of days (today by default), at most
/// [`MAX_RANGE_DAYS`] long.
pub fn day_range(
    station: &Station,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let (from, to) = range::days(station.timezone, from, to, Utc::now())?;
    range::cap(from, to, MAX_RANGE_DAYS)?;
    Ok((from, to))
}

/// The station's ledger, read-only.
pub fn open_ledger(station: &Station) -> Result<Ledger> {
    Ok(Ledger::open_read_only(
        &station.ledger_path(),
        station.timezone,
    )?)
}

/// Refuse a campaign named nowhere, as `loa report` does.
pub fn check_campaign(station: &Station, ledger: &Ledger, id: Option<&str>) -> Result<()> {
    report::check_campaign(ledger, &station.campaigns, id)?.map_err(|e| Error::UnknownCampaign {
        id: e.id,
        known: e.known,
    })
}
