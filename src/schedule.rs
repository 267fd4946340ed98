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
        // Item `index` of `kind` is due at `times` today: its slots in range.
        let due = |slots: &mut Vec<Slot>, times: &[NaiveTime], p: Priority, kind, index| {
            days.instants(day, times, |secs, local| {
                if from_s <= secs && secs < to_s && !dropped(local, p) {
                    slots.push(Slot::new(secs, p, kind, index));
                }
            });
        };
        for (index, b) in station.bulletins.iter().enumerate() {
            if !b.enabled || !in_window(b.window.as_ref(), day.date) {
                continue;
            }
            let times = day_times(&b.timing, &b_times[index], day);
            due(&mut slots, times, b.priority, ItemKind::Bulletin, index);
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
            due(&mut slots, times, p.priority, ItemKind::Program, index);
        }
        for (index, r) in station.relays.iter().enumerate() {
            if !r.enabled || !in_window(r.window.as_ref(), day.date) {
                continue;
            }
            let times = day_times(&r.timing, &r_times[index], day);
            due(&mut slots, times, r.priority, ItemKind::Relay, index);
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
            occurrence(station, *slot, at, &p_items, quiet)
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

/// The occurrence a sorted slot stands for; a programme's airing items and
/// their seconds are `p_items[index]`, found while its day was planned.
fn occurrence<'s>(
    station: &'s Station,
    slot: Slot,
    at: DateTime<Tz>,
    p_items: &[(Vec<ProgramItem>, f64)],
    quiet: bool,
) -> Occurrence<'s> {
    let index = slot.index();
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
mod tests;
