//! The station file: typed, validated description of one station.
//!
//! This module owns the shape of a station once it has been loaded and
//! checked (`Station` and friends) and the loader that turns a TOML file into
//! it (`load`), reporting every problem at once with its location.
//! It must not touch the clock, the ledger or the audio device: everything
//! here is a pure description that the schedule, the engine and the API read.

mod audio_info;
mod check_station;
mod deser;
mod fleet;
mod items;
mod load;
mod raw;
#[cfg(test)]
mod test_support;
mod timing;
mod warnings;

pub use audio_info::AudioInfo;
pub(crate) use load::item_label;
pub use load::{data_dir_of, load, load_str, AudioFiles, Draft, Loaded, Source};

use std::path::PathBuf;

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;

use crate::crontab::CronSpec;

/// Default timezone of a station: Vietnam has no DST.
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Asia::Ho_Chi_Minh;
/// Where the ledger lives when the station file does not say.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/loa";
/// How late an occurrence may still start, when the station file says nothing.
pub const DEFAULT_GRACE_SECONDS: u32 = 600;
/// `[api] max_queue` when not given: far more than a commune's operators
/// queue in a day, small enough that the queue stays cheap to look at.
pub const DEFAULT_MAX_QUEUE: usize = 200;

/// A whole, validated station.
#[derive(Debug, Clone)]
pub struct Station {
    /// The station file this was loaded from (absolute).
    pub path: PathBuf,
    pub name: String,
    pub timezone: Tz,
    /// Where bulletin files live: absolute; canonical when loaded with
    /// `AudioFiles::Resolve`.
    pub audio_dir: PathBuf,
    /// Where the ledger lives (absolute; may not exist yet).
    pub data_dir: PathBuf,
    pub output: Output,
    pub quiet: QuietHours,
    pub api: Api,
    pub fleet: Fleet,
    pub campaigns: Vec<Campaign>,
    pub bulletins: Vec<Bulletin>,
    pub programs: Vec<Program>,
}

impl Station {
    pub fn bulletin(&self, id: &str) -> Option<&Bulletin> {
        self.bulletins.iter().find(|b| b.id == id)
    }
    pub fn program(&self, id: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.id == id)
    }
    pub fn campaign(&self, id: &str) -> Option<&Campaign> {
        self.campaigns.iter().find(|c| c.id == id)
    }
    /// Path of the ledger database.
    pub fn ledger_path(&self) -> PathBuf {
        self.data_dir.join("airtime.db")
    }
}

/// Bulletin levels of Thông tư 39/2020/TT-BTTTT. Ordered: `Emergency` is
/// the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    #[default]
    Normal,
    Priority,
    Emergency,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Normal => "normal",
            Priority::Priority => "priority",
            Priority::Emergency => "emergency",
        }
    }
    pub fn parse(s: &str) -> Option<Priority> {
        match s {
            "normal" => Some(Priority::Normal),
            "priority" => Some(Priority::Priority),
            "emergency" => Some(Priority::Emergency),
            _ => None,
        }
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where audio goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub kind: OutputKind,
    /// 0.0..=1.0
    pub volume: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OutputKind {
    /// The real sound card: `"default"` or an ALSA/cpal device name.
    Device { device: String },
    /// A WAV recorder of exactly what aired (absolute path).
    Wav { path: PathBuf, pace: Pace },
    /// A paced sink that discards samples.
    Null,
}

/// How fast a non-device output consumes samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pace {
    #[default]
    Realtime,
    Fast,
}

/// Local time ranges in which non-emergency items never air.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuietHours {
    pub ranges: Vec<QuietRange>,
}

/// `start..end` in local time; wraps midnight when `end <= start`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuietRange {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietRange {
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

impl QuietHours {
    pub fn contains(&self, t: NaiveTime) -> bool {
        self.ranges.iter().any(|r| r.contains(t))
    }
}

/// HTTP API settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    pub listen: std::net::SocketAddr,
    pub max_upload_mb: u64,
    /// How many items operators may have waiting in the queue at once.
    pub max_queue: usize,
    pub tokens: Vec<ApiToken>,
}

/// `[fleet]`: the station among its province's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fleet {
    /// Stable id in the province's database (e.g. the commune code); when
    /// not written, the station name as a lowercase ASCII slug.
    pub station_id: String,
    /// Connection string of the province's PostgreSQL, where closed
    /// airtime rows are copied; `None`: the station keeps them to itself.
    pub postgres: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// The word the station file, the audit log and `loa token` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    pub name: String,
    pub role: Role,
    /// SHA-256 of the token, 32 bytes.
    pub sha256: [u8; 32],
}

/// One end of a date window: a fixed date, or a day of every year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateSpec {
    Fixed(NaiveDate),
    /// `MM-DD`, every year.
    Annual {
        month: u32,
        day: u32,
    },
}

/// An inclusive window of dates. Both ends are of the same kind; an annual
/// window whose `to` comes before its `from` wraps the new year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateSpec,
    pub to: DateSpec,
}

impl Window {
    pub fn contains(&self, d: NaiveDate) -> bool {
        use chrono::Datelike;
        match (self.from, self.to) {
            (DateSpec::Fixed(a), DateSpec::Fixed(b)) => a <= d && d <= b,
            (DateSpec::Annual { month: fm, day: fd }, DateSpec::Annual { month: tm, day: td }) => {
                let x = (d.month(), d.day());
                let (a, b) = ((fm, fd), (tm, td));
                if a <= b {
                    a <= x && x <= b
                } else {
                    x >= a || x <= b
                }
            }
            // The loader never builds a mixed window.
            _ => false,
        }
    }
}

/// A set of weekdays, bit `n` = `Weekday::num_days_from_monday() == n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DaySet(pub u8);

impl DaySet {
    pub const ALL: DaySet = DaySet(0b111_1111);
    pub fn contains(self, d: Weekday) -> bool {
        self.0 & (1 << d.num_days_from_monday()) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// When an item airs.
#[derive(Debug, Clone)]
pub enum Timing {
    /// Only as part of a programme, or when an operator queues it.
    Unscheduled,
    /// Fixed local times on some weekdays.
    At { times: Vec<NaiveTime>, days: DaySet },
    /// A crontab(5) line.
    Cron(CronSpec),
}

#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: String,
    pub title: String,
    pub window: Option<Window>,
    pub target_minutes: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Bulletin {
    pub id: String,
    pub title: String,
    /// Path relative to `audio_dir`, as written in the station file.
    pub file: String,
    /// The audio file's real, absolute path when loaded with
    /// `AudioFiles::Resolve`; `file` as written otherwise.
    pub path: PathBuf,
    pub campaign: Option<String>,
    pub priority: Priority,
    pub timing: Timing,
    /// The item's own window, else its campaign's.
    pub window: Option<Window>,
    pub grace_seconds: u32,
    pub enabled: bool,
    /// What probing the file found; `None` until the `check` module probes
    /// it, so only when loading without probing.
    pub audio: Option<AudioInfo>,
}

impl Bulletin {
    /// Planned airtime in seconds (0 when unknown).
    pub fn seconds(&self) -> f64 {
        self.audio.as_ref().map_or(0.0, |a| a.seconds)
    }
}

/// A session: bulletins played back to back.
#[derive(Debug, Clone)]
pub struct Program {
    pub id: String,
    pub title: String,
    pub priority: Priority,
    pub timing: Timing,
    pub window: Option<Window>,
    pub grace_seconds: u32,
    pub enabled: bool,
    /// Indexes into `Station::bulletins`, in playing order.
    pub items: Vec<usize>,
}

/// Parse a date bound: `YYYY-MM-DD` or `MM-DD`.
pub fn parse_date_spec(s: &str) -> Option<DateSpec> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if s.len() == 10 {
            return Some(DateSpec::Fixed(d));
        }
    }
    let (m, d) = s.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (month, day): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    // 2024 is a leap year, so 02-29 is accepted.
    NaiveDate::from_ymd_opt(2024, month, day)?;
    Some(DateSpec::Annual { month, day })
}

/// Parse a local time of day: `HH:MM` or `HH:MM:SS`.
pub fn parse_time_of_day(s: &str) -> Option<NaiveTime> {
    let fmt = match s.len() {
        5 => "%H:%M",
        8 => "%H:%M:%S",
        _ => return None,
    };
    NaiveTime::parse_from_str(s, fmt).ok()
}

/// Parse a duration like `30s`, `10m`, `1h`, `1h30m` into seconds.
pub fn parse_duration(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut saw_unit = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
        } else {
            let n: u64 = num.parse().ok()?;
            num.clear();
            total += n * match c {
                'h' => 3600,
                'm' => 60,
                's' => 1,
                _ => return None,
            };
            saw_unit = true;
        }
    }
    if !num.is_empty() || !saw_unit {
        return None;
    }
    u32::try_from(total).ok()
}

/// Parse the `days` key.
pub fn parse_days(s: &str) -> Option<DaySet> {
    let s = s.trim().to_ascii_lowercase();
    let named = match s.as_str() {
        "daily" | "every day" | "all" => Some(DaySet::ALL),
        "weekdays" => Some(DaySet(0b001_1111)),
        "weekends" => Some(DaySet(0b110_0000)),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let day = |t: &str| -> Option<u32> {
        Some(match t.trim() {
            "mon" | "monday" => 0,
            "tue" | "tuesday" => 1,
            "wed" | "wednesday" => 2,
            "thu" | "thursday" => 3,
            "fri" | "friday" => 4,
            "sat" | "saturday" => 5,
            "sun" | "sunday" => 6,
            _ => return None,
        })
    };
    let mut set = 0u8;
    for part in s.split(',') {
        if let Some((a, b)) = part.split_once('-') {
            let (a, b) = (day(a)?, day(b)?);
            // A range may wrap the week: "sat-mon".
            let mut i = a;
            loop {
                set |= 1 << i;
                if i == b {
                    break;
                }
                i = (i + 1) % 7;
            }
        } else {
            set |= 1 << day(part)?;
        }
    }
    (set != 0).then_some(DaySet(set))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days() {
        assert_eq!(parse_days("mon-sat"), Some(DaySet(0b011_1111)));
        assert_eq!(parse_days("daily"), Some(DaySet::ALL));
        assert_eq!(parse_days("mon,wed,fri"), Some(DaySet(0b001_0101)));
        assert_eq!(parse_days("sat-mon"), Some(DaySet(0b110_0001)));
        assert_eq!(parse_days("funday"), None);
        assert_eq!(parse_days(""), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(30));
        assert_eq!(parse_duration("10m"), Some(600));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5x"), None);
    }

    #[test]
    fn times_and_dates() {
        assert!(parse_time_of_day("25:00").is_none());
        assert!(parse_time_of_day("6:15").is_none());
        assert_eq!(
            parse_time_of_day("17:15:30"),
            NaiveTime::from_hms_opt(17, 15, 30)
        );
        assert_eq!(
            parse_date_spec("12-15"),
            Some(DateSpec::Annual { month: 12, day: 15 })
        );
        assert!(parse_date_spec("02-30").is_none());
        assert!(parse_date_spec("2026-02-30").is_none());
    }

    #[test]
    fn annual_window_wraps() {
        let w = Window {
            from: DateSpec::Annual { month: 12, day: 15 },
            to: DateSpec::Annual { month: 1, day: 15 },
        };
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert!(w.contains(d(12, 31)));
        assert!(w.contains(d(1, 15)));
        assert!(!w.contains(d(1, 16)));
        assert!(!w.contains(d(12, 14)));
    }

    #[test]
    fn quiet_range_wraps_midnight() {
        let r = QuietRange {
            start: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(5, 0, 0).unwrap(),
        };
        assert!(r.contains(NaiveTime::from_hms_opt(23, 0, 0).unwrap()));
        assert!(r.contains(NaiveTime::from_hms_opt(4, 59, 59).unwrap()));
        assert!(!r.contains(NaiveTime::from_hms_opt(5, 0, 0).unwrap()));
        assert!(!r.contains(NaiveTime::from_hms_opt(20, 59, 0).unwrap()));
    }
}
