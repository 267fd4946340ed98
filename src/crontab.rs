//! crontab(5) lines, translated for the `cron` crate.
//!
//! Operators write schedules the way crontab(5) documents them: five fields
//! (minute hour day-of-month month day-of-week), Sunday as 0 or 7, and the
//! rule that a day matches when EITHER day field matches if both are
//! restricted. The mandated `cron` crate (0.17) disagrees on every one of
//! those points: it wants a seconds field first, counts weekdays 1 = Sunday …
//! 7 = Saturday, and always ANDs the two day fields. Handing it an operator's
//! line would silently air bulletins on the wrong days, so this module parses
//! crontab(5) itself (which also lets errors name the field and show how to
//! write it), then builds `cron::Schedule`s from explicit lists in the
//! crate's own conventions — two of them for the OR rule — and answers all
//! questions about the line through those schedules.
//!
//! This module owns the syntax and the day/time semantics of one line. It
//! must not know about stations, time zones or DST: it speaks in local wall
//! time only; `schedule` maps wall time to instants.

use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use cron::TimeUnitSpec;

/// What every error message ends with: how a good line looks.
const HINT: &str = "write e.g. `15 6,17 * * 1-6` (minute hour day-of-month month day-of-week)";

/// A parsed crontab(5) line.
#[derive(Debug, Clone)]
pub struct CronSpec {
    /// The line as the operator wrote it (trimmed).
    pub source: String,
    /// One schedule, or two when crontab(5)'s OR rule applies (one for the
    /// day-of-month list, one for the day-of-week list). A wall-clock time
    /// matches the line when it matches any of them.
    schedules: Vec<cron::Schedule>,
    /// The minute × hour product, sorted: every time of day the line fires
    /// on a matching day. Read back from the `cron` schedule, not from our
    /// own parse, so the crate stays the authority.
    times: Vec<NaiveTime>,
}

/// The five fields of a crontab(5) line.
#[derive(Clone, Copy)]
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTH_NAMES: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: MONTH_NAMES,
    },
    // 0 and 7 are both Sunday.
    Field {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: DAY_NAMES,
    },
];

impl CronSpec {
    /// Parse a 5-field crontab(5) line (or an `@daily`-style nickname); the
    /// error says what is wrong and how to write it.
    pub fn parse(line: &str) -> Result<CronSpec, String> {
        let source = line.trim();
        if source.is_empty() {
            return Err(format!("the cron line is empty; {HINT}"));
        }
        let expanded = if let Some(nick) = source.strip_prefix('@') {
            nickname(nick)?
        } else {
            source
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        match parts.len() {
            5 => {}
            6 | 7 => {
                return Err(format!(
                    "`{source}` has {} fields, but loa takes crontab(5) lines with 5 fields \
                     and no seconds field (minute hour day-of-month month day-of-week); \
                     e.g. write `30 6 * * 1-5` for 06:30 Monday to Friday",
                    parts.len()
                ))
            }
            n => {
                return Err(format!(
                    "`{source}` has {n} field{}, a crontab(5) line has 5; {HINT}",
                    if n == 1 { "" } else { "s" }
                ))
            }
        }

        let mut sets = [0u64; 5];
        for (i, (text, field)) in parts.iter().zip(FIELDS.iter()).enumerate() {
            sets[i] = parse_field(i + 1, field, text)?;
        }
        // Day-of-week 7 is Sunday, like 0.
        if sets[4] & (1 << 7) != 0 {
            sets[4] = (sets[4] & !(1 << 7)) | 1;
        }
        // cronie's rule: a day field whose text starts with `*` is
        // unrestricted for the purpose of the OR rule (so `*/2` is "AND").
        let dom_star = parts[2].starts_with('*');
        let dow_star = parts[4].starts_with('*');

        let minutes = list(sets[0], 0);
        let hours = list(sets[1], 0);
        let months = list(sets[3], 0);
        // `*` rather than a 31- or 7-item list when a day field is full, so
        // the crate's own "every day" shortcut applies.
        let dom = if sets[2] == bits(1, 31) {
            "*".to_string()
        } else {
            list(sets[2], 0)
        };
        // The `cron` crate counts weekdays 1 = Sunday … 7 = Saturday.
        let dow = if sets[4] == bits(0, 6) {
            "*".to_string()
        } else {
            list(sets[4], 1)
        };
        let mut exprs = Vec::with_capacity(2);
        if dom_star || dow_star {
            exprs.push(format!("0 {minutes} {hours} {dom} {months} {dow}"));
        } else {
            // Both restricted: crontab(5) fires when EITHER matches; the
            // crate ANDs, so give each day field its own schedule.
            exprs.push(format!("0 {minutes} {hours} {dom} {months} *"));
            exprs.push(format!("0 {minutes} {hours} * {months} {dow}"));
        }
        let schedules = exprs
            .iter()
            .map(|e| {
                cron::Schedule::from_str(e).map_err(|err| {
                    // Our own output should always parse; if it does not,
                    // say so plainly rather than blame the operator.
                    format!(
                        "`{source}` could not be translated for the cron library \
                         (`{e}`: {err}); this is a bug in loa, please report it; \
                         meanwhile {HINT}"
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let first = &schedules[0];
        let mut times = Vec::new();
        for h in first.hours().iter() {
            for m in first.minutes().iter() {
                times.push(NaiveTime::from_hms_opt(h, m, 0).expect("cron hours/minutes in range"));
            }
        }
        Ok(CronSpec {
            source: source.to_string(),
            schedules,
            times,
        })
    }

    /// The `cron` crate schedules this line was translated to (1 or 2; a
    /// wall-clock time matches when any of them includes it).
    pub fn schedules(&self) -> &[cron::Schedule] {
        &self.schedules
    }

    /// Every time of day the line fires on a matching date, sorted.
    pub fn times_of_day(&self) -> &[NaiveTime] {
        &self.times
    }

    /// Whether the line fires on this (local) date at all. The `cron` crate
    /// decides (dates outside its years 1970–2100 never match).
    pub fn matches_date(&self, date: NaiveDate) -> bool {
        let probe = Utc.from_utc_datetime(&date.and_time(self.times[0]));
        self.schedules.iter().any(|s| s.includes(probe))
    }

    /// Every local wall-clock time in `[from, to)` the line fires at, by
    /// running the `cron` iterator in a naive pseudo-zone (UTC standing for
    /// wall time). Exact but slow for long ranges: `schedule` uses
    /// `matches_date` × `times_of_day` instead, which is equivalent.
    pub fn wall_times(&self, from: NaiveDateTime, to: NaiveDateTime) -> Vec<NaiveDateTime> {
        let start = Utc.from_utc_datetime(&(from - chrono::Duration::seconds(1)));
        let mut out: Vec<NaiveDateTime> = Vec::new();
        for s in &self.schedules {
            out.extend(
                s.after(&start)
                    .map(|t| t.naive_utc())
                    .take_while(|t| *t < to)
                    .filter(|t| *t >= from),
            );
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Expand an `@nickname`.
fn nickname(nick: &str) -> Result<&'static str, String> {
    Ok(match nick.to_ascii_lowercase().as_str() {
        "yearly" | "annually" => "0 0 1 1 *",
        "monthly" => "0 0 1 * *",
        "weekly" => "0 0 * * 0",
        "daily" | "midnight" => "0 0 * * *",
        "hourly" => "0 * * * *",
        "reboot" => {
            return Err(
                "`@reboot` means \"when cron starts\", which has no meaning for a broadcast \
                 schedule; give a time instead, e.g. `@daily` or `30 6 * * *` (06:30 every day)"
                    .to_string(),
            )
        }
        _ => {
            return Err(format!(
                "`@{nick}` is not a crontab(5) nickname; use one of @yearly, @annually, \
                 @monthly, @weekly, @daily, @midnight, @hourly, or {HINT}"
            ))
        }
    })
}

/// Parse one field into a bit set (bit `v` = value `v`).
fn parse_field(n: usize, field: &Field, text: &str) -> Result<u64, String> {
    let err = |what: String| format!("field {n} ({}) {what}; {HINT}", field.name);
    let mut set = 0u64;
    for elem in text.split(',') {
        if elem.is_empty() {
            return Err(err(format!("`{text}` has an empty list item")));
        }
        let (base, step) = match elem.split_once('/') {
            Some((b, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| err(format!("`{elem}`: the step after `/` must be a number")))?;
                if step == 0 {
                    return Err(err(format!("`{elem}`: the step must be at least 1")));
                }
                (b, Some(step))
            }
            None => (elem, None),
        };
        let (lo, hi) = if base == "*" {
            (field.min, field.max)
        } else if let Some((a, b)) = base.split_once('-') {
            let (a, b) = (value(n, field, a)?, value(n, field, b)?);
            if a > b {
                return Err(err(format!(
                    "`{elem}`: a range must go from low to high (`{b}-{a}`?)"
                )));
            }
            (a, b)
        } else {
            let v = value(n, field, base)?;
            if let Some(st) = step {
                return Err(err(format!(
                    "`{elem}`: a step needs a range or `*` before it (e.g. `{v}-{}/{st}`)",
                    field.max
                )));
            }
            (v, v)
        };
        let step = step.unwrap_or(1);
        let mut v = lo;
        while v <= hi {
            set |= 1 << v;
            v += step;
        }
    }
    Ok(set)
}

/// Parse one number or name of a field.
fn value(n: usize, field: &Field, text: &str) -> Result<u32, String> {
    let range = format!("{}–{}", field.min, field.max);
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(v) if (field.min..=field.max).contains(&v) => Ok(v),
            _ => Err(format!(
                "field {n} ({}) `{text}` is out of range {range}; {HINT}",
                field.name
            )),
        };
    }
    let lower = text.to_ascii_lowercase();
    if let Some(i) = field.names.iter().position(|&nm| nm == lower) {
        // Months are 1-based (jan = 1), days 0-based (sun = 0).
        return Ok(i as u32 + field.min);
    }
    let names = if field.names.is_empty() {
        String::new()
    } else {
        format!(" or a name ({})", field.names.join(", "))
    };
    Err(format!(
        "field {n} ({}) `{text}` is not a number in {range}{names}; {HINT}",
        field.name
    ))
}

/// The bit set of `lo..=hi`.
fn bits(lo: u32, hi: u32) -> u64 {
    (lo..=hi).fold(0, |acc, v| acc | (1 << v))
}

/// A bit set as a comma list, each value plus `shift`.
fn list(set: u64, shift: u32) -> String {
    let mut s = String::new();
    for v in 0..64u32 {
        if set & (1 << v) != 0 {
            if !s.is_empty() {
                s.push(',');
            }
            s.push_str(&(v + shift).to_string());
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Duration, Timelike, Weekday};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    /// The dates of 2026 the line fires on.
    fn dates_2026(spec: &CronSpec) -> Vec<NaiveDate> {
        d(2026, 1, 1)
            .iter_days()
            .take_while(|x| x.year() == 2026)
            .filter(|x| spec.matches_date(*x))
            .collect()
    }

    /// Checks the line fires on exactly the 2026 dates `want` picks, at
    /// exactly `times`, and that the `cron` iterator agrees day by day.
    fn check(line: &str, times: &[NaiveTime], want: impl Fn(NaiveDate) -> bool) {
        let spec = CronSpec::parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(spec.times_of_day(), times, "{line}: times of day");
        let expected: Vec<NaiveDate> = d(2026, 1, 1)
            .iter_days()
            .take_while(|x| x.year() == 2026)
            .filter(|x| want(*x))
            .collect();
        assert_eq!(dates_2026(&spec), expected, "{line}: dates");
        let via_iter = spec.wall_times(
            d(2026, 1, 1).and_time(t(0, 0)),
            d(2027, 1, 1).and_time(t(0, 0)),
        );
        let via_days: Vec<NaiveDateTime> = expected
            .iter()
            .flat_map(|x| times.iter().map(move |tm| x.and_time(*tm)))
            .collect();
        assert_eq!(via_iter, via_days, "{line}: cron iterator disagrees");
    }

    #[test]
    fn weekdays_are_crontab_weekdays() {
        // The `cron` crate alone would read 1-5 as Sunday–Thursday.
        check("30 6 * * 1-5", &[t(6, 30)], |x| {
            x.weekday().num_days_from_monday() < 5
        });
    }

    #[test]
    fn both_day_fields_restricted_means_either() {
        check("0 0 13 * 5", &[t(0, 0)], |x| {
            x.day() == 13 || x.weekday() == Weekday::Fri
        });
        check("0 8 1-7 * mon", &[t(8, 0)], |x| {
            x.day() <= 7 || x.weekday() == Weekday::Mon
        });
    }

    #[test]
    fn a_star_day_field_means_and() {
        // cronie: a field starting with `*` counts as unrestricted, so the
        // two fields are ANDed even though `*/2` restricts the days.
        check("0 0 */2 * 1", &[t(0, 0)], |x| {
            x.day() % 2 == 1 && x.weekday() == Weekday::Mon
        });
        check("0 7 15 * *", &[t(7, 0)], |x| x.day() == 15);
    }

    #[test]
    fn sunday_is_zero_and_seven() {
        let sun = |x: NaiveDate| x.weekday() == Weekday::Sun;
        check("0 12 * * 0", &[t(12, 0)], sun);
        check("0 12 * * 7", &[t(12, 0)], sun);
        check("0 12 * * SUN", &[t(12, 0)], sun);
        check("0 12 * * 5-7", &[t(12, 0)], |x| {
            matches!(x.weekday(), Weekday::Fri | Weekday::Sat | Weekday::Sun)
        });
        check("0 12 * * 0-7", &[t(12, 0)], |_| true);
    }

    #[test]
    fn steps_ranges_lists_and_names() {
        check(
            "*/20 5-6 * * mon-sat",
            &[t(5, 0), t(5, 20), t(5, 40), t(6, 0), t(6, 20), t(6, 40)],
            |x| x.weekday() != Weekday::Sun,
        );
        check(
            "10-30/10 17 * * *",
            &[t(17, 10), t(17, 20), t(17, 30)],
            |_| true,
        );
        check("15 6,17 * * 1-6", &[t(6, 15), t(17, 15)], |x| {
            x.weekday() != Weekday::Sun
        });
        check("0 9 1 Jan-MAR,dec *", &[t(9, 0)], |x| {
            x.day() == 1 && matches!(x.month(), 1..=3 | 12)
        });
        check("0 9 * * */3", &[t(9, 0)], |x| {
            // 0,3,6 = Sunday, Wednesday, Saturday
            matches!(x.weekday(), Weekday::Sun | Weekday::Wed | Weekday::Sat)
        });
        check("0 0 31 2 *", &[t(0, 0)], |_| false);
        check("05 06 * * *", &[t(6, 5)], |_| true);
    }

    #[test]
    fn nicknames() {
        check("@daily", &[t(0, 0)], |_| true);
        check("@midnight", &[t(0, 0)], |_| true);
        check("@weekly", &[t(0, 0)], |x| x.weekday() == Weekday::Sun);
        check("@monthly", &[t(0, 0)], |x| x.day() == 1);
        check("@yearly", &[t(0, 0)], |x| x.ordinal() == 1);
        check("@Annually", &[t(0, 0)], |x| x.ordinal() == 1);
        let hourly: Vec<NaiveTime> = (0..24).map(|h| t(h, 0)).collect();
        check("@hourly", &hourly, |_| true);
        assert_eq!(CronSpec::parse(" @daily ").unwrap().source, "@daily");
    }

    #[test]
    fn wall_times_respects_bounds() {
        let spec = CronSpec::parse("0 12 * * 0").unwrap();
        let from = d(2026, 10, 4).and_time(t(12, 0)); // a Sunday, inclusive
        let to = d(2026, 10, 18).and_time(t(12, 0)); // exclusive
        let got = spec.wall_times(from, to);
        assert_eq!(got, vec![from, from + Duration::days(7)]);
        assert!(got.iter().all(|x| x.second() == 0));
    }

    fn err(line: &str) -> String {
        CronSpec::parse(line).expect_err(line)
    }

    #[test]
    fn errors_say_what_and_how() {
        assert_eq!(
            err("15 25 * * 1-6"),
            "field 2 (hour) `25` is out of range 0–23; write e.g. `15 6,17 * * 1-6` \
             (minute hour day-of-month month day-of-week)"
        );
        let e = err("0 30 6 * * 1-5");
        assert!(
            e.contains("6 fields") && e.contains("no seconds field"),
            "{e}"
        );
        // What each line's error says, among the rest.
        for (line, says) in [
            ("0 30 6 * * 1-5 2026", "7 fields"),
            ("30 6 * *", "has 4 fields"),
            ("", "empty"),
            ("@reboot", "@reboot"),
            ("@reboot", "@daily"),
            ("@sometimes", "not a crontab(5) nickname"),
            (
                "0 0 0 * *",
                "field 3 (day-of-month) `0` is out of range 1–31",
            ),
            ("0 0 * 13 *", "field 4 (month) `13` is out of range 1–12"),
            ("0 0 * * 8", "field 5 (day-of-week) `8` is out of range 0–7"),
            ("60 0 * * *", "field 1 (minute)"),
            ("0 17-6 * * *", "low to high (`6-17`?)"),
            ("*/0 * * * *", "at least 1"),
            ("*/x * * * *", "must be a number"),
            ("5/10 * * * *", "`5-59/10`"),
            ("1,,2 * * * *", "empty list item"),
            ("0 6 * * funday", "sun, mon"),
            ("0 6 * * funday", "field 5"),
            (
                "mon 6 * * *",
                "field 1 (minute) `mon` is not a number in 0–59;",
            ),
            ("0 6 * * monday", "`monday`"),
        ] {
            let e = err(line);
            assert!(e.contains(says), "{line:?}: {e}");
        }
    }
}
