//! Instants as the station shows and stores them: RFC 3339 with the
//! station's offset and millisecond precision, e.g.
//! `2026-10-07T06:15:00.000+07:00`. Also the parsing of `--from`/`--to`.

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;

/// Format an instant in the station's zone, milliseconds, numeric offset.
pub fn rfc3339(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Millis, false)
}

/// Parse RFC 3339 (any offset) into UTC. A leap second (`23:59:60`) is
/// refused: chrono would take it as the next second's instant, which no
/// operator means.
pub fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    use chrono::Timelike;
    DateTime::parse_from_rfc3339(s)
        .ok()
        .filter(|d| d.nanosecond() < 1_000_000_000)
        .map(|d| d.with_timezone(&Utc))
}

/// The first instant of a local date in `tz` (the first instant after a gap
/// when midnight does not exist).
pub fn start_of_day(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut t = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    // Walk forward by minutes through a DST gap at midnight (rare but real).
    for _ in 0..24 * 60 {
        if let Some(d) = tz.from_local_datetime(&t).earliest() {
            return d.with_timezone(&Utc);
        }
        t += chrono::Duration::minutes(1);
    }
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

/// Which end of a range a command-line bound is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// `--from`: a date means its first instant.
    Start,
    /// `--to`: a date means the end of that day (inclusive date).
    End,
}

/// Parse `--from`/`--to`: `YYYY-MM-DD` (a local date of the station) or
/// RFC 3339. The error says what was expected.
pub fn parse_bound(s: &str, bound: Bound, tz: Tz) -> Result<DateTime<Utc>, String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(match bound {
            Bound::Start => start_of_day(d, tz),
            Bound::End => start_of_day(d.succ_opt().unwrap_or(d), tz),
        });
    }
    parse_rfc3339(s).ok_or_else(|| {
        format!(
            "`{s}` is not a date or an instant; write a date like 2026-10-01 \
             or an RFC 3339 instant like 2026-10-01T06:00:00+07:00"
        )
    })
}

/// The local date of an instant in the station's zone.
pub fn local_date(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_station_offset_and_millis() {
        let at = Utc.with_ymd_and_hms(2026, 10, 6, 23, 15, 0).unwrap();
        assert_eq!(
            rfc3339(at, chrono_tz::Asia::Ho_Chi_Minh),
            "2026-10-07T06:15:00.000+07:00"
        );
    }

    #[test]
    fn a_leap_second_is_not_an_instant() {
        assert!(parse_rfc3339("2026-12-31T23:59:60Z").is_none());
        assert!(parse_rfc3339("2026-12-31T23:59:59.999Z").is_some());
    }

    #[test]
    fn bounds() {
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let from = parse_bound("2026-10-01", Bound::Start, tz).unwrap();
        let to = parse_bound("2026-10-31", Bound::End, tz).unwrap();
        assert_eq!(rfc3339(from, tz), "2026-10-01T00:00:00.000+07:00");
        assert_eq!(rfc3339(to, tz), "2026-11-01T00:00:00.000+07:00");
        assert!(parse_bound("yesterday", Bound::Start, tz).is_err());
        assert_eq!(
            parse_bound("2026-10-01T06:00:00+07:00", Bound::Start, tz).unwrap(),
            Utc.with_ymd_and_hms(2026, 9, 30, 23, 0, 0).unwrap()
        );
    }
}
