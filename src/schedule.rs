//! The plan: which item airs at which instant, as a pure function of the
//! station and a time range.
//!
//! This module owns the expansion of timings (`at` times on weekdays, cron
//! lines) into instants, the station's DST policy, the order in which
//! simultaneous occurrences are offered to the engine, and the
//! [`OccurrenceKey`] an occurrence is known by in the ledger. It must not
//! read the clock, the ledger or the audio device: the caller passes the
//! range in, so the engine, `loa plan` and `loa check` all see the same plan,
//! and tests can pin any day of any year.
//!
//! Wall time first, instants second: every timing is expanded in the
//! station's *local wall-clock* time, day by day, and only then mapped to an
//! instant. That is where the DST rules live, in one place:
//! - a local time that does not exist (spring gap) fires once, at the first
//!   instant after the gap — several gap times of one item collapse to one
//!   occurrence, so nothing is lost and nothing airs twice;
//! - a local time that exists twice (autumn) fires once, at its first instant.
//!
//! The `cron` crate on its own would skip gap times and fire twice in the
//! repeated hour, which is why cron lines are evaluated on wall dates too
//! (see `crontab`).
//!
//! Speed: a year of a 1,000-bulletin station is ~600,000 occurrences. Time
//! zone lookups are done once per local day (a day with no transition maps
//! wall time to instants by one fixed offset), cron lines are asked once per
//! day whether they fire, and each day's occurrences are sorted on their own
//! (days are already in order). `benches/schedule.rs` measures it.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use chrono::offset::LocalResult;
use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike,
    Utc, Weekday,
};
use chrono_tz::{GapInfo, Tz, TzOffset};
use serde::Serialize;

use crate::config::{Priority, ProgramItem, Station, Timing, Window};
use crate::timefmt;

/// What kind of station item an occurrence airs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Bulletin,
    Program,
    Relay,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Bulletin => "bulletin",
            ItemKind::Program => "program",
            ItemKind::Relay => "relay",
        }
    }
}

/// One planned airing of a bulletin or a programme.
#[derive(Debug, Clone)]
pub struct Occurrence<'a> {
    /// The instant, in the station's zone.
    pub at: DateTime<Tz>,
    pub kind: ItemKind,
    /// Index into `station.bulletins`, `station.programs` or `station.relays`.
    pub index: usize,
    pub id: &'a str,
    pub title: &'a str,
    pub priority: Priority,
    /// The bulletin's campaign; `None` for programmes.
    pub campaign: Option<&'a str>,
    /// Bulletin: its audio seconds. Programme: the sum of its items that day.
    /// Relay: its duration.
    pub planned_seconds: f64,
    pub grace_seconds: u32,
    /// Programme: the bulletins and relays airing in it that day, in order.
    /// Bulletin, relay: empty.
    pub items: Vec<ProgramItem>,
    /// It falls in quiet hours and is not an emergency, so it does not air;
    /// only [`schedule_with_quiet`] returns such occurrences.
    pub quiet: bool,
}

impl Occurrence<'_> {
    /// The stable key of this occurrence (see [`OccurrenceKey`]), as the
    /// text the ledger stores.
    pub fn key(&self) -> String {
        OccurrenceKey::new(self.id, self.at.with_timezone(&Utc), self.at.timezone()).into()
    }
}

/// The stable key of one occurrence: the item, `@`, and the instant it was
/// scheduled for in RFC 3339 with milliseconds and the station's offset,
/// e.g. `cds-thong-diep@2026-10-07T06:15:00.000+07:00`. The ledger stores it
/// on every row and the engine recognises an occurrence across restarts by
/// it, so it depends only on the item and the instant.
///
/// The item is
/// - a bulletin's or a programme's id ([`OccurrenceKey::new`]);
/// - `programme/bulletin` for a bulletin airing inside a programme, with
///   `#2`, `#3`… when it airs again in the same programme
///   ([`OccurrenceKey::program_item`]); the instant is the programme's;
/// - `source:n/target` for what an operator or an emergency put on air: the
///   engine's entry number, then a bulletin id or an audio file
///   ([`OccurrenceKey::queued`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OccurrenceKey {
    text: String,
    /// Where the `@` before the instant is: the last one, since an audio
    /// file's name may hold one and an instant never does.
    at: usize,
    /// The instant as written: to the millisecond.
    scheduled_at: DateTime<Utc>,
}

impl OccurrenceKey {
    /// The key of `item` scheduled at `at`, written in `tz`. The other
    /// constructors build their item and end here.
    pub fn new(item: &str, at: DateTime<Utc>, tz: Tz) -> OccurrenceKey {
        let text = format!("{item}@{}", timefmt::rfc3339(at, tz));
        // The text keeps milliseconds: so does the instant it stands for.
        let below_ms = at.timestamp_subsec_nanos() % 1_000_000;
        OccurrenceKey {
            text,
            at: item.len(),
            scheduled_at: at - Duration::nanoseconds(i64::from(below_ms)),
        }
    }

    /// The key of the `n`th airing (from 1) of `bulletin` inside one
    /// occurrence of `program` scheduled at `at`: `program/bulletin`, then
    /// `program/bulletin#2` and on when the programme lists it again.
    pub fn program_item(
        program: &str,
        bulletin: &str,
        n: u32,
        at: DateTime<Utc>,
        tz: Tz,
    ) -> OccurrenceKey {
        let item = if n <= 1 {
            format!("{program}/{bulletin}")
        } else {
            format!("{program}/{bulletin}#{n}")
        };
        OccurrenceKey::new(&item, at, tz)
    }

    /// The key of what `source` (`operator`, `emergency`) put on air as the
    /// engine's entry `n`, `target` being a bulletin id or an audio file.
    pub fn queued(source: &str, n: u64, target: &str, at: DateTime<Utc>, tz: Tz) -> OccurrenceKey {
        OccurrenceKey::new(&format!("{source}:{n}/{target}"), at, tz)
    }

    /// Read a key back, e.g. from a ledger row: `None` unless it is a
    /// non-empty item, `@`, and an RFC 3339 instant.
    pub fn parse(s: &str) -> Option<OccurrenceKey> {
        let (item, stamp) = s.rsplit_once('@')?;
        if item.is_empty() {
            return None;
        }
        Some(OccurrenceKey {
            text: s.to_string(),
            at: item.len(),
            scheduled_at: timefmt::parse_rfc3339(stamp)?,
        })
    }

    /// The item: everything before the instant.
    pub fn item(&self) -> &str {
        &self.text[..self.at]
    }

    /// The instant the occurrence was scheduled for.
    pub fn scheduled_at(&self) -> DateTime<Utc> {
        self.scheduled_at
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for OccurrenceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<OccurrenceKey> for String {
    fn from(k: OccurrenceKey) -> String {
        k.text
    }
}

/// The order the engine offers simultaneous occurrences in: by instant,
/// then higher priority first, then bulletins, programmes, relays, then
/// station-file order.
pub fn order(a: &Occurrence<'_>, b: &Occurrence<'_>) -> Ordering {
    a.at.cmp(&b.at)
        .then(b.priority.cmp(&a.priority))
        .then(a.kind.cmp(&b.kind))
        .then(a.index.cmp(&b.index))
}

/// Every occurrence with `from <= at < to`, sorted by [`order`].
///
/// Disabled items are left out; so are non-emergency occurrences whose
/// local time falls in quiet hours, and programme occurrences on a day when
/// none of their bulletins airs.
pub fn schedule(station: &Station, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Occurrence<'_>> {
    plan(station, from, to, false)
}

/// As [`schedule`], but non-emergency occurrences in quiet hours are kept,
/// marked `quiet`: the engine records each of them `skipped`, so that a
/// report shows what quiet hours held back.
pub fn schedule_with_quiet(
    station: &Station,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Occurrence<'_>> {
    plan(station, from, to, true)
}

fn plan(
    station: &Station,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    keep_quiet: bool,
) -> Vec<Occurrence<'_>> {
    if from >= to {
        return Vec::new();
    }
    let tz = station.timezone;
    let days = Days::new(tz, from, to);
    // Planned instants are whole seconds: `from <= at < to` on seconds.
    let (from_s, to_s) = (ceil_secs(from), ceil_secs(to));
    let b_times: Vec<Cow<'_, [NaiveTime]>> = station
        .bulletins
        .iter()
        .map(|b| at_times(&b.timing))
        .collect();
    let p_times: Vec<Cow<'_, [NaiveTime]>> = station
        .programs
        .iter()
        .map(|p| at_times(&p.timing))
        .collect();
    let r_times: Vec<Cow<'_, [NaiveTime]>> =
        station.relays.iter().map(|r| at_times(&r.timing)).collect();

    // An upper bound of the count, so the vector grows at most once or
    // twice; pages reserved but never written cost nothing.
    let per_day: usize = (station.bulletins.iter().map(|b| &b.timing))
        .chain(station.programs.iter().map(|p| &p.timing))
        .chain(station.relays.iter().map(|r| &r.timing))
        .map(|t| match t {
            Timing::Unscheduled => 0,
            Timing::At { times, .. } => times.len(),
            Timing::Cron(c) => c.times_of_day().len(),
        })
        .sum();
    let mut out: Vec<Occurrence<'_>> = Vec::with_capacity((per_day * days.list.len()).min(1 << 21));
    let quiet =
        |local: NaiveTime, p: Priority| p != Priority::Emergency && station.quiet.contains(local);
    let dropped = |local: NaiveTime, p: Priority| !keep_quiet && quiet(local, p);
    // A day's occurrences are first collected as small sort keys and only
    // built, in order, once sorted: sorting the 136-byte `Occurrence`s
    // themselves was a third of the run time.
    let mut slots: Vec<Slot> = Vec::with_capacity(per_day);
    // Programme i's airing bulletins today, and their seconds.
    let mut p_items: Vec<(Vec<ProgramItem>, f64)> = vec![(Vec::new(), 0.0); station.programs.len()];

    for day in &days.list {
        slots.clear();
        for (index, b) in station.bulletins.iter().enumerate() {
            if !b.enabled || !in_window(b.window.as_ref(), day.date) {
                continue;
            }
            let times = day_times(&b.timing, &b_times[index], day);
            days.instants(day, times, |secs, local| {
                if from_s <= secs && secs < to_s && !dropped(local, b.priority) {
                    slots.push(Slot::new(secs, b.priority, ItemKind::Bulletin, index));
                }
            });
        }
        for (index, p) in station.programs.iter().enumerate() {
            if !p.enabled || !in_window(p.window.as_ref(), day.date) {
                continue;
            }
            let times = day_times(&p.timing, &p_times[index], day);
            if times.is_empty() {
                continue;
            }
            let (items, planned) = &mut p_items[index];
            items.clear();
            items.extend(p.items.iter().copied().filter(|&i| {
                let info = station.item_info(i);
                info.enabled && in_window(info.window, day.date)
            }));
            if items.is_empty() {
                continue;
            }
            *planned = items.iter().map(|&i| station.item_info(i).seconds).sum();
            days.instants(day, times, |secs, local| {
                if from_s <= secs && secs < to_s && !dropped(local, p.priority) {
                    slots.push(Slot::new(secs, p.priority, ItemKind::Program, index));
                }
            });
        }
        for (index, r) in station.relays.iter().enumerate() {
            if !r.enabled || !in_window(r.window.as_ref(), day.date) {
                continue;
            }
            let times = day_times(&r.timing, &r_times[index], day);
            days.instants(day, times, |secs, local| {
                if from_s <= secs && secs < to_s && !dropped(local, r.priority) {
                    slots.push(Slot::new(secs, r.priority, ItemKind::Relay, index));
                }
            });
        }
        slots.sort_unstable();
        out.extend(slots.iter().map(|slot| {
            let at = days.at(day, slot.secs);
            let index = slot.index();
            let priority = match slot.kind() {
                ItemKind::Bulletin => station.bulletins[index].priority,
                ItemKind::Program => station.programs[index].priority,
                ItemKind::Relay => station.relays[index].priority,
            };
            let quiet = keep_quiet && quiet(at.time(), priority);
            match slot.kind() {
                ItemKind::Bulletin => {
                    let b = &station.bulletins[index];
                    Occurrence {
                        at,
                        kind: ItemKind::Bulletin,
                        index,
                        id: &b.id,
                        title: &b.title,
                        priority: b.priority,
                        campaign: b.campaign.as_deref(),
                        planned_seconds: b.seconds(),
                        grace_seconds: b.grace_seconds,
                        items: Vec::new(),
                        quiet,
                    }
                }
                ItemKind::Program => {
                    let p = &station.programs[index];
                    let (items, planned) = &p_items[index];
                    Occurrence {
                        at,
                        kind: ItemKind::Program,
                        index,
                        id: &p.id,
                        title: &p.title,
                        priority: p.priority,
                        campaign: None,
                        planned_seconds: *planned,
                        grace_seconds: p.grace_seconds,
                        items: items.clone(),
                        quiet,
                    }
                }
                ItemKind::Relay => {
                    let r = &station.relays[index];
                    Occurrence {
                        at,
                        kind: ItemKind::Relay,
                        index,
                        id: &r.id,
                        title: &r.title,
                        priority: r.priority,
                        campaign: r.campaign.as_deref(),
                        planned_seconds: f64::from(r.seconds),
                        grace_seconds: r.grace_seconds,
                        items: Vec::new(),
                        quiet,
                    }
                }
            }
        }));
    }
    // Each local day's instants come before the next day's, so sorting day
    // by day sorts the whole; the one exception is a DST gap that swallows
    // midnight, pushing a late time onto the next day. Check, don't assume.
    if !out.is_sorted_by(|a, b| order(a, b) != Ordering::Greater) {
        out.sort_by(order);
    }
    out
}

/// The sort key of one occurrence of a day: the instant (Unix seconds;
/// every planned time is a whole second), then a rank packing priority
/// (highest first), kind (bulletins, programmes, relays) and index, so that sorting the
/// pairs gives [`order`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    secs: i64,
    rank: u64,
}

impl Slot {
    fn new(secs: i64, priority: Priority, kind: ItemKind, index: usize) -> Slot {
        let p: u64 = match priority {
            Priority::Emergency => 0,
            Priority::Priority => 1,
            Priority::Normal => 2,
        };
        let k: u64 = match kind {
            ItemKind::Bulletin => 0,
            ItemKind::Program => 1,
            ItemKind::Relay => 2,
        };
        debug_assert!(index < 1 << 32, "index {index} does not fit a slot");
        Slot {
            secs,
            rank: p << 34 | k << 32 | index as u64,
        }
    }
    fn kind(self) -> ItemKind {
        match self.rank >> 32 & 3 {
            0 => ItemKind::Bulletin,
            1 => ItemKind::Program,
            _ => ItemKind::Relay,
        }
    }
    fn index(self) -> usize {
        (self.rank & 0xFFFF_FFFF) as usize
    }
}

/// The raw instants of one timing in `[from, to)`, sorted: quiet hours and
/// `enabled` are ignored (so `loa check` can warn about items that fall
/// entirely in quiet hours, or never occur at all). `window` limits the
/// dates, as for a scheduled item.
pub fn item_instants(
    station: &Station,
    timing: &Timing,
    window: Option<&Window>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    if from >= to {
        return Vec::new();
    }
    let days = Days::new(station.timezone, from, to);
    let sorted = at_times(timing);
    let mut out = Vec::new();
    for day in &days.list {
        if !in_window(window, day.date) {
            continue;
        }
        days.instants(day, day_times(timing, &sorted, day), |secs, _| {
            if let Some(at) = DateTime::from_timestamp(secs, 0) {
                if from <= at && at < to {
                    out.push(at);
                }
            }
        });
    }
    // Same reasoning as in `schedule`.
    out.sort_unstable();
    out.dedup();
    out
}

/// The smallest whole second not before `t`.
fn ceil_secs(t: DateTime<Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

fn in_window(window: Option<&Window>, date: NaiveDate) -> bool {
    window.is_none_or(|w| w.contains(date))
}

/// An `at` timing's times, sorted and without repeats (borrowed when they
/// already are), so that mapping them to instants stays in order and gap
/// collapses are next to each other. Empty for other timings.
fn at_times(timing: &Timing) -> Cow<'_, [NaiveTime]> {
    match timing {
        Timing::At { times, .. } if times.windows(2).all(|w| w[0] < w[1]) => Cow::Borrowed(times),
        Timing::At { times, .. } => {
            let mut v = times.clone();
            v.sort_unstable();
            v.dedup();
            Cow::Owned(v)
        }
        _ => Cow::Borrowed(&[]),
    }
}

/// The local times `timing` fires at on `day` (sorted), window aside.
fn day_times<'t>(timing: &'t Timing, sorted_at: &'t [NaiveTime], day: &Day) -> &'t [NaiveTime] {
    match timing {
        Timing::Unscheduled => &[],
        Timing::At { days, .. } if days.contains(day.weekday) => sorted_at,
        Timing::At { .. } => &[],
        Timing::Cron(spec) if spec.matches_date(day.date) => spec.times_of_day(),
        Timing::Cron(_) => &[],
    }
}

/// One local date of the range.
struct Day {
    date: NaiveDate,
    weekday: Weekday,
    /// When no transition happens that day (almost always): the offset in
    /// force all day long, and the Unix time of the day's local midnight,
    /// so wall time maps to instants by one addition.
    fixed: Option<(TzOffset, i64)>,
}

/// The local dates that can hold instants of `[from, to)`.
struct Days {
    tz: Tz,
    list: Vec<Day>,
}

impl Days {
    fn new(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Days {
        // A wall time on date d maps to an instant on d (or, through a gap
        // at midnight, just after it), so one day before `from`'s local date
        // is enough at the start.
        let first = timefmt::local_date(from, tz)
            .pred_opt()
            .unwrap_or(NaiveDate::MIN);
        let last = timefmt::local_date(to, tz);
        let mut list = Vec::with_capacity((last - first).num_days().max(0) as usize + 1);
        let mut date = first;
        while date <= last {
            list.push(Day {
                date,
                weekday: date.weekday(),
                fixed: fixed_offset(tz, date),
            });
            match date.succ_opt() {
                Some(d) => date = d,
                None => break,
            }
        }
        Days { tz, list }
    }

    /// Map the sorted wall `times` of `day` to instants and hand each
    /// distinct one to `f` (as Unix seconds, with its actual local time of
    /// day), in order. Several gap times collapse to one.
    fn instants(&self, day: &Day, times: &[NaiveTime], mut f: impl FnMut(i64, NaiveTime)) {
        match day.fixed {
            Some((_, midnight)) => {
                for &t in times {
                    f(midnight + i64::from(t.num_seconds_from_midnight()), t);
                }
            }
            None => {
                let mut last = None;
                for &t in times {
                    let at = wall_to_instant(self.tz, day.date.and_time(t));
                    let secs = at.timestamp();
                    if last != Some(secs) {
                        f(secs, at.time());
                        last = Some(secs);
                    }
                }
            }
        }
    }

    /// The instant `secs`, produced by `instants` for `day`, in the zone.
    fn at(&self, day: &Day, secs: i64) -> DateTime<Tz> {
        let utc = DateTime::from_timestamp(secs, 0)
            .expect("instants of valid local dates are in range")
            .naive_utc();
        let offset = match day.fixed {
            Some((offset, _)) => offset,
            None => self.tz.offset_from_utc_datetime(&utc),
        };
        DateTime::from_naive_utc_and_offset(utc, offset)
    }
}

/// The offset of `date` and the Unix time of its midnight, when one offset
/// holds from the day's first to its last second; `None` on a transition
/// day.
fn fixed_offset(tz: Tz, date: NaiveDate) -> Option<(TzOffset, i64)> {
    let midnight = date.and_time(NaiveTime::MIN);
    let LocalResult::Single(start) = tz.from_local_datetime(&midnight) else {
        return None;
    };
    let next = date.succ_opt()?.and_time(NaiveTime::MIN);
    let LocalResult::Single(end) = tz.from_local_datetime(&next) else {
        return None;
    };
    let last_second = tz.offset_from_utc_datetime(&(end.naive_utc() - Duration::seconds(1)));
    // No zone has had two transitions that cancel out within one local day;
    // equal offsets at both ends therefore mean no transition at all.
    (*start.offset() == last_second && *end.offset() == last_second)
        .then(|| (last_second, start.timestamp()))
}

/// A wall-clock time of the station to its instant, by the DST rules in the
/// module doc.
fn wall_to_instant(tz: Tz, wall: NaiveDateTime) -> DateTime<Tz> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(at) => at,
        LocalResult::Ambiguous(a, b) => a.min(b),
        LocalResult::None => match GapInfo::new(&wall, &tz).and_then(|g| g.end) {
            Some(end) => end,
            // Only at the edge of the zone's known history; read the wall
            // time with the offset in force at that instant.
            None => tz.from_utc_datetime(&(wall - tz.offset_from_utc_datetime(&wall).fix())),
        },
    }
}

/// The plan as JSON, the shape `loa schedule --format json` and the API
/// share.
pub fn plan_json(station: &Station, occ: &[Occurrence]) -> serde_json::Value {
    let tz = station.timezone;
    serde_json::Value::Array(
        occ.iter()
            .map(|o| {
                let mut v = serde_json::json!({
                    "at": timefmt::rfc3339(o.at.with_timezone(&chrono::Utc), tz),
                    "kind": o.kind.as_str(),
                    "id": o.id,
                    "title": o.title,
                    "priority": o.priority.as_str(),
                    "campaign": o.campaign,
                    "planned_seconds": round3(o.planned_seconds),
                });
                if o.kind == ItemKind::Relay {
                    v["source"] = station.relays[o.index].source.describe().into();
                }
                if o.kind == ItemKind::Program {
                    v["items"] = o
                        .items
                        .iter()
                        .map(|&i| {
                            let info = station.item_info(i);
                            let mut item = serde_json::json!({
                                "id": info.id,
                                "title": info.title,
                                "campaign": info.campaign,
                                "planned_seconds": round3(info.seconds),
                            });
                            if let ProgramItem::Relay(r) = i {
                                item["kind"] = "relay".into();
                                item["source"] = station.relays[r].source.describe().into();
                            }
                            item
                        })
                        .collect();
                }
                v
            })
            .collect(),
    )
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        parse_date_spec, parse_days, parse_time_of_day, Api, Bulletin, Output, OutputKind, Program,
        QuietHours, QuietRange,
    };
    use crate::crontab::CronSpec;
    use crate::probe::AudioInfo;
    use crate::timefmt::{parse_bound, Bound};

    const VN: Tz = chrono_tz::Asia::Ho_Chi_Minh;
    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    fn station(tz: Tz) -> Station {
        Station {
            path: "/srv/loa/station.toml".into(),
            name: "Đài thử".into(),
            timezone: tz,
            audio_dir: "/srv/loa/audio".into(),
            data_dir: "/srv/loa/data".into(),
            output: Output {
                kind: OutputKind::Null,
                volume: 1.0,
                loudness_lufs: None,
            },
            quiet: QuietHours::default(),
            api: Api {
                listen: "127.0.0.1:8080".parse().unwrap(),
                max_upload_mb: 50,
                max_queue: crate::config::DEFAULT_MAX_QUEUE,
                tokens: Vec::new(),
                web: Default::default(),
            },
            fleet: crate::config::Fleet {
                station_id: "dai-thu".into(),
                postgres: None,
            },
            tts: Default::default(),
            session: Default::default(),
            report: Default::default(),
            campaigns: Vec::new(),
            bulletins: Vec::new(),
            programs: Vec::new(),
            relays: Vec::new(),
        }
    }

    fn at(times: &[&str], days: &str) -> Timing {
        Timing::At {
            times: times
                .iter()
                .map(|t| parse_time_of_day(t).unwrap())
                .collect(),
            days: parse_days(days).unwrap(),
        }
    }

    fn cron(line: &str) -> Timing {
        Timing::Cron(CronSpec::parse(line).unwrap())
    }

    fn window(from: &str, to: &str) -> Option<Window> {
        Some(Window {
            from: parse_date_spec(from).unwrap(),
            to: parse_date_spec(to).unwrap(),
        })
    }

    fn bulletin(id: &str, seconds: f64, timing: Timing) -> Bulletin {
        Bulletin {
            id: id.into(),
            title: format!("Bản tin {id}"),
            file: format!("{id}.mp3"),
            text: None,
            tts_error: None,
            path: format!("/srv/loa/audio/{id}.mp3").into(),
            campaign: Some("tiem-chung".into()),
            priority: Priority::Normal,
            timing,
            window: None,
            grace_seconds: 600,
            enabled: true,
            audio: Some(AudioInfo {
                seconds,
                ..AudioInfo::test_default()
            }),
        }
    }

    fn program(id: &str, items: &[usize], timing: Timing) -> Program {
        Program {
            id: id.into(),
            title: format!("Chương trình {id}"),
            priority: Priority::Normal,
            timing,
            window: None,
            grace_seconds: 900,
            enabled: true,
            items: items.iter().map(|&i| ProgramItem::Bulletin(i)).collect(),
        }
    }

    /// `[first day, last day]` as local dates of the station, inclusive.
    fn days(st: &Station, first: &str, last: &str) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            parse_bound(first, Bound::Start, st.timezone).unwrap(),
            parse_bound(last, Bound::End, st.timezone).unwrap(),
        )
    }

    fn keys(occ: &[Occurrence<'_>]) -> Vec<String> {
        occ.iter().map(|o| o.key()).collect()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        timefmt::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn at_times_on_their_weekdays() {
        let mut st = station(VN);
        st.bulletins
            .push(bulletin("sang", 90.0, at(&["17:15", "06:30"], "mon-sat")));
        // 2026-10-05 is a Monday.
        let (from, to) = days(&st, "2026-10-05", "2026-10-11");
        let occ = schedule(&st, from, to);
        assert_eq!(occ.len(), 12);
        assert_eq!(occ[0].key(), "sang@2026-10-05T06:30:00.000+07:00");
        assert_eq!(occ[1].key(), "sang@2026-10-05T17:15:00.000+07:00");
        assert_eq!(occ[11].key(), "sang@2026-10-10T17:15:00.000+07:00");
        assert!(occ.iter().all(|o| o.at.weekday() != Weekday::Sun));
        let o = &occ[0];
        assert_eq!(
            (o.kind, o.index, o.id, o.title, o.campaign),
            (
                ItemKind::Bulletin,
                0,
                "sang",
                "Bản tin sang",
                Some("tiem-chung")
            )
        );
        assert_eq!((o.planned_seconds, o.grace_seconds), (90.0, 600));
        assert!(o.items.is_empty());
        assert_eq!(serde_json::to_string(&o.kind).unwrap(), "\"bulletin\"");
        assert_eq!(
            serde_json::to_string(&ItemKind::Program).unwrap(),
            "\"program\""
        );
    }

    #[test]
    fn fixed_and_annual_windows() {
        let mut st = station(VN);
        let mut fixed = bulletin("fixed", 60.0, at(&["07:00"], "daily"));
        fixed.window = window("2026-10-07", "2026-10-09");
        let mut tet = bulletin("tet", 60.0, at(&["07:00"], "daily"));
        tet.window = window("12-15", "01-15");
        st.bulletins.extend([fixed, tet]);

        let (from, to) = days(&st, "2026-10-01", "2026-10-31");
        let occ = schedule(&st, from, to);
        assert_eq!(
            keys(&occ),
            [
                "fixed@2026-10-07T07:00:00.000+07:00",
                "fixed@2026-10-08T07:00:00.000+07:00",
                "fixed@2026-10-09T07:00:00.000+07:00",
            ]
        );

        let (from, to) = days(&st, "2026-12-01", "2027-01-31");
        let occ = schedule(&st, from, to);
        assert_eq!(occ.len(), 17 + 15);
        assert_eq!(occ[0].key(), "tet@2026-12-15T07:00:00.000+07:00");
        assert_eq!(occ[16].key(), "tet@2026-12-31T07:00:00.000+07:00");
        assert_eq!(occ[31].key(), "tet@2027-01-15T07:00:00.000+07:00");
    }

    #[test]
    fn cron_lines_follow_crontab_rules() {
        let mut st = station(VN);
        st.bulletins.extend([
            // 13th OR Friday: Oct 2026 has Fridays 2, 9, 16, 23, 30; the
            // 13th is a Tuesday.
            bulletin("or", 60.0, cron("0 12 13 * 5")),
            bulletin("sun0", 60.0, cron("0 12 * * 0")),
            bulletin("sun7", 60.0, cron("0 12 * * 7")),
            bulletin("monfri", 60.0, cron("30 6 * * 1-5")),
        ]);
        let (from, to) = days(&st, "2026-10-01", "2026-10-31");
        let occ = schedule(&st, from, to);
        let dates = |id: &str| -> Vec<u32> {
            occ.iter()
                .filter(|o| o.id == id)
                .map(|o| o.at.day())
                .collect()
        };
        assert_eq!(dates("or"), [2, 9, 13, 16, 23, 30]);
        assert_eq!(dates("sun0"), [4, 11, 18, 25]);
        assert_eq!(dates("sun7"), [4, 11, 18, 25]);
        assert_eq!(dates("monfri").len(), 22);
        assert!(occ.iter().filter(|o| o.id == "monfri").all(|o| o
            .at
            .weekday()
            .num_days_from_monday()
            < 5
            && o.at.time() == NaiveTime::from_hms_opt(6, 30, 0).unwrap()));
    }

    #[test]
    fn cron_matches_the_cron_crate_iterator_without_dst() {
        // Vietnam has no DST, so the crate's own iterator, run in the
        // station zone, must give exactly our instants for a whole year.
        let st = station(VN);
        for line in ["*/20 5-6 * * mon-sat", "15 6,17 1-7 * 0", "0 0 */2 * 1"] {
            let timing = cron(line);
            let Timing::Cron(spec) = &timing else {
                unreachable!()
            };
            let (from, to) = days(&st, "2026-01-01", "2026-12-31");
            let ours = item_instants(&st, &timing, None, from, to);
            let mut theirs: Vec<DateTime<Utc>> = spec
                .schedules()
                .iter()
                .flat_map(|s| {
                    s.after(&(from - Duration::seconds(1)).with_timezone(&VN))
                        .take_while(|t| *t < to)
                        .map(|t| t.with_timezone(&Utc))
                })
                .collect();
            theirs.sort();
            theirs.dedup();
            assert!(!ours.is_empty(), "{line}");
            assert_eq!(ours, theirs, "{line}");
        }
    }

    #[test]
    fn quiet_hours_drop_all_but_emergencies() {
        let mut st = station(VN);
        st.quiet.ranges.push(QuietRange {
            start: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(5, 0, 0).unwrap(),
        });
        let normal = bulletin("normal", 60.0, at(&["04:30", "06:00", "21:30"], "daily"));
        let mut alarm = bulletin("bao-lu", 60.0, at(&["04:30"], "daily"));
        alarm.priority = Priority::Emergency;
        st.bulletins.extend([normal, alarm]);
        st.programs
            .push(program("dem", &[0], at(&["22:00"], "daily")));

        let (from, to) = days(&st, "2026-10-05", "2026-10-05");
        assert_eq!(
            keys(&schedule(&st, from, to)),
            [
                "bao-lu@2026-10-05T04:30:00.000+07:00",
                "normal@2026-10-05T06:00:00.000+07:00",
            ]
        );
        // The engine's plan keeps them, marked, so they are recorded.
        let all = schedule_with_quiet(&st, from, to);
        let marked: Vec<(String, bool)> = all.iter().map(|o| (o.key(), o.quiet)).collect();
        assert_eq!(
            marked,
            [
                ("bao-lu@2026-10-05T04:30:00.000+07:00".to_string(), false),
                ("normal@2026-10-05T04:30:00.000+07:00".to_string(), true),
                ("normal@2026-10-05T06:00:00.000+07:00".to_string(), false),
                ("normal@2026-10-05T21:30:00.000+07:00".to_string(), true),
                ("dem@2026-10-05T22:00:00.000+07:00".to_string(), true),
            ]
        );
        // The raw instants ignore quiet hours (and `enabled`).
        st.bulletins[0].enabled = false;
        let raw = item_instants(&st, &st.bulletins[0].timing, None, from, to);
        assert_eq!(raw.len(), 3);
        assert_eq!(raw[0], utc("2026-10-05T04:30:00+07:00"));
    }

    #[test]
    fn disabled_and_unscheduled_items_are_left_out() {
        let mut st = station(VN);
        let mut off = bulletin("off", 60.0, at(&["06:00"], "daily"));
        off.enabled = false;
        st.bulletins.extend([
            off,
            bulletin("on", 60.0, at(&["06:00"], "daily")),
            bulletin("queue-only", 60.0, Timing::Unscheduled),
        ]);
        let mut p = program("p", &[1], at(&["07:00"], "daily"));
        p.enabled = false;
        st.programs.push(p);
        let (from, to) = days(&st, "2026-10-05", "2026-10-06");
        let occ = schedule(&st, from, to);
        assert_eq!(occ.len(), 2);
        assert!(occ.iter().all(|o| o.id == "on"));
        assert!(item_instants(&st, &Timing::Unscheduled, None, from, to).is_empty());
    }

    #[test]
    fn programmes_list_the_bulletins_airing_that_day() {
        let mut st = station(VN);
        let mut off = bulletin("off", 40.0, Timing::Unscheduled);
        off.enabled = false;
        let mut short = bulletin("short", 30.0, Timing::Unscheduled);
        short.window = window("2026-10-07", "2026-10-08");
        st.bulletins
            .extend([bulletin("always", 120.0, Timing::Unscheduled), off, short]);
        let mut prog = program("thoi-su", &[2, 1, 0], at(&["18:00"], "daily"));
        prog.priority = Priority::Priority;
        st.programs
            .extend([prog, program("empty", &[1], at(&["19:00"], "daily"))]);

        let (from, to) = days(&st, "2026-10-06", "2026-10-08");
        let occ = schedule(&st, from, to);
        assert_eq!(occ.len(), 3, "{:?}", keys(&occ));
        let o = &occ[0];
        assert_eq!((o.kind, o.index, o.id), (ItemKind::Program, 0, "thoi-su"));
        assert_eq!(
            (o.priority, o.campaign, o.grace_seconds),
            (Priority::Priority, None, 900)
        );
        use ProgramItem::Bulletin as B;
        assert_eq!(o.items, [B(0)]);
        assert_eq!(o.planned_seconds, 120.0);
        assert_eq!(occ[1].items, [B(2), B(0)]);
        assert_eq!(occ[1].planned_seconds, 150.0);
        assert_eq!(occ[2].items, [B(2), B(0)]);
    }

    #[test]
    fn simultaneous_occurrences_are_ordered() {
        let mut st = station(VN);
        let mut emergency = bulletin("e", 60.0, at(&["06:00"], "daily"));
        emergency.priority = Priority::Emergency;
        let mut prio = bulletin("p", 60.0, at(&["06:00"], "daily"));
        prio.priority = Priority::Priority;
        st.bulletins.extend([
            bulletin("n0", 60.0, at(&["06:00"], "daily")),
            emergency,
            bulletin("early", 60.0, at(&["05:59"], "daily")),
            prio,
            bulletin("n4", 60.0, at(&["06:00"], "daily")),
        ]);
        let mut prog = program("prog", &[0], at(&["06:00"], "daily"));
        prog.priority = Priority::Priority;
        st.programs.push(prog);
        let (from, to) = days(&st, "2026-10-05", "2026-10-05");
        let ids: Vec<&str> = schedule(&st, from, to).iter().map(|o| o.id).collect();
        assert_eq!(ids, ["early", "e", "p", "prog", "n0", "n4"]);
    }

    #[test]
    fn slots_sort_like_order() {
        // `schedule` re-sorts with `order` if the day-by-day slot sort ever
        // disagrees, which would hide a wrong packing: test the packing.
        use ItemKind::{Bulletin as B, Program as P, Relay as R};
        let slots = [
            Slot::new(99, Priority::Normal, P, 7),
            Slot::new(100, Priority::Emergency, P, 5),
            Slot::new(100, Priority::Priority, B, 9),
            Slot::new(100, Priority::Priority, P, 0),
            Slot::new(100, Priority::Priority, R, 3),
            Slot::new(100, Priority::Normal, B, 0),
            Slot::new(100, Priority::Normal, B, 1),
            Slot::new(100, Priority::Normal, R, 0),
        ];
        assert!(slots.windows(2).all(|w| w[0] < w[1]));
        assert_eq!((slots[1].kind(), slots[1].index()), (P, 5));
        assert_eq!((slots[2].kind(), slots[2].index()), (B, 9));
        assert_eq!((slots[4].kind(), slots[4].index()), (R, 3));
    }

    #[test]
    fn range_is_half_open() {
        let mut st = station(VN);
        st.bulletins.push(bulletin(
            "b",
            60.0,
            at(&["06:00", "12:00", "18:00"], "daily"),
        ));
        let from = utc("2026-10-05T06:00:00+07:00");
        let to = utc("2026-10-05T18:00:00+07:00");
        assert_eq!(
            keys(&schedule(&st, from, to)),
            [
                "b@2026-10-05T06:00:00.000+07:00",
                "b@2026-10-05T12:00:00.000+07:00"
            ]
        );
        assert!(schedule(&st, to, from).is_empty());
        assert!(schedule(&st, from, from).is_empty());
        let one_ms = Duration::milliseconds(1);
        assert_eq!(schedule(&st, from + one_ms, to + one_ms).len(), 2);
        assert_eq!(
            item_instants(&st, &st.bulletins[0].timing, None, from, to),
            [from, utc("2026-10-05T12:00:00+07:00")]
        );
    }

    #[test]
    fn spring_gap_fires_once_after_the_gap() {
        // Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
        let mut st = station(BERLIN);
        st.bulletins.extend([
            bulletin(
                "at",
                60.0,
                at(&["01:30", "02:15", "02:45", "03:00", "03:30"], "daily"),
            ),
            bulletin("cron", 60.0, cron("*/30 2 * * *")),
            bulletin("cron3", 60.0, cron("30 2,3 * * *")),
        ]);
        let (from, to) = days(&st, "2026-03-28", "2026-03-30");
        let occ = schedule(&st, from, to);
        let of = |id: &str| -> Vec<String> {
            occ.iter().filter(|o| o.id == id).map(|o| o.key()).collect()
        };
        assert_eq!(
            of("at")[5..10],
            [
                "at@2026-03-29T01:30:00.000+01:00",
                "at@2026-03-29T03:00:00.000+02:00",
                "at@2026-03-29T03:30:00.000+02:00",
                "at@2026-03-30T01:30:00.000+02:00",
                "at@2026-03-30T02:15:00.000+02:00",
            ]
        );
        assert_eq!(of("at").len(), 5 + 3 + 5);
        assert_eq!(
            of("cron"),
            [
                "cron@2026-03-28T02:00:00.000+01:00",
                "cron@2026-03-28T02:30:00.000+01:00",
                "cron@2026-03-29T03:00:00.000+02:00",
                "cron@2026-03-30T02:00:00.000+02:00",
                "cron@2026-03-30T02:30:00.000+02:00",
            ]
        );
        assert_eq!(
            of("cron3")[2..4],
            [
                "cron3@2026-03-29T03:00:00.000+02:00",
                "cron3@2026-03-29T03:30:00.000+02:00"
            ]
        );
        assert_eq!(occ[0].at.with_timezone(&Utc), utc("2026-03-28T00:30:00Z"));
    }

    #[test]
    fn a_gap_at_midnight_moves_early_times_to_its_end() {
        // São Paulo, 2018-11-04: midnight did not exist (00:00 -03 became
        // 01:00 -02), so that day has no fixed offset and starts at 01:00.
        let mut st = station(chrono_tz::America::Sao_Paulo);
        st.bulletins.push(bulletin(
            "x",
            60.0,
            at(&["00:15", "00:45", "06:00"], "daily"),
        ));
        let (from, to) = days(&st, "2018-11-04", "2018-11-04");
        assert_eq!(
            keys(&schedule(&st, from, to)),
            [
                "x@2018-11-04T01:00:00.000-02:00",
                "x@2018-11-04T06:00:00.000-02:00"
            ]
        );
    }

    #[test]
    fn repeated_hour_fires_once_at_the_first_instant() {
        // Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET, so
        // 02:00–03:00 happens twice (00:00–01:00 and 01:00–02:00 UTC).
        let mut st = station(BERLIN);
        st.bulletins.extend([
            bulletin("at", 60.0, at(&["02:30", "03:30"], "daily")),
            bulletin("cron", 60.0, cron("0,30 2 * * *")),
        ]);
        let (from, to) = days(&st, "2026-10-25", "2026-10-25");
        let occ = schedule(&st, from, to);
        assert_eq!(
            keys(&occ),
            [
                "cron@2026-10-25T02:00:00.000+02:00",
                "at@2026-10-25T02:30:00.000+02:00",
                "cron@2026-10-25T02:30:00.000+02:00",
                "at@2026-10-25T03:30:00.000+01:00",
            ]
        );
        assert_eq!(occ[1].at.with_timezone(&Utc), utc("2026-10-25T00:30:00Z"));
        // A whole year of a nightly 02:30 in Berlin: every day exactly once.
        let (from, to) = days(&st, "2026-01-01", "2026-12-31");
        let year = item_instants(&st, &cron("30 2 * * *"), None, from, to);
        assert_eq!(year.len(), 365);
        assert!(year.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn occurrence_keys_are_built_one_way_and_read_back() {
        let at = utc("2026-10-06T23:15:00Z");
        let k = OccurrenceKey::new("cds-thong-diep", at, VN);
        assert_eq!(
            k.to_string(),
            "cds-thong-diep@2026-10-07T06:15:00.000+07:00"
        );
        assert_eq!((k.item(), k.scheduled_at()), ("cds-thong-diep", at));
        assert_eq!(OccurrenceKey::parse(k.as_str()), Some(k.clone()));
        assert_eq!(String::from(k.clone()), k.to_string());

        let item = |n| OccurrenceKey::program_item("thoi-su", "b1", n, at, VN).to_string();
        assert_eq!(item(1), "thoi-su/b1@2026-10-07T06:15:00.000+07:00");
        assert_eq!(item(2), "thoi-su/b1#2@2026-10-07T06:15:00.000+07:00");
        assert_eq!(
            OccurrenceKey::queued("operator", 7, "b1", at, BERLIN).to_string(),
            "operator:7/b1@2026-10-07T01:15:00.000+02:00"
        );

        // A file name may hold `@`; the instant never does.
        let file = OccurrenceKey::queued("emergency", 3, "lu@xa.mp3", at, VN);
        let back = OccurrenceKey::parse(file.as_str()).unwrap();
        assert_eq!(back.item(), "emergency:3/lu@xa.mp3");
        assert_eq!(back.scheduled_at(), at);

        // Below a millisecond is not written, so it is not kept either.
        let k = OccurrenceKey::new("b", at + Duration::microseconds(1500), VN);
        assert_eq!(k.scheduled_at(), at + Duration::milliseconds(1));
        assert_eq!(OccurrenceKey::parse(k.as_str()), Some(k));

        for bad in [
            "b1",
            "@2026-10-07T06:15:00.000+07:00",
            "b1@yesterday",
            "b1@",
        ] {
            assert_eq!(OccurrenceKey::parse(bad), None, "{bad}");
        }
    }
}
