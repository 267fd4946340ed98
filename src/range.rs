//! Date ranges as people ask for them: `from` and `to`, each a station-local
//! date (`2026-10-01`; `to` inclusive) or an RFC 3339 instant, turned into
//! a half-open `[from, to)` of instants.
//!
//! One parser for the command line (`--from/--to`), the HTTP API and the
//! web pages; the error is typed, and each edge names the fields its own
//! way ([`RangeError::message`]). This module owns no defaults beyond "a
//! day": what an empty range means (today, the whole ledger, the last 30
//! days) is the caller's choice.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::timefmt::{self, Bound};

/// Which end of a range a value was given for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    From,
    To,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::From => "from",
            Field::To => "to",
        }
    }
}

/// Why a range was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeError {
    /// A bound that is neither a date nor an instant.
    Unreadable { field: Field, reason: String },
    /// `to` is not after `from`.
    Reversed { from: String, to: String },
    /// Longer than the caller allows.
    TooLong { max_days: i64 },
}

impl RangeError {
    /// The message with the fields named as the caller's users write them:
    /// `"--"` for the command line, `""` for the API and the pages.
    pub fn message(&self, prefix: &str) -> String {
        match self {
            RangeError::Unreadable { field, reason } => {
                format!("{prefix}{}: {reason}", field.name())
            }
            RangeError::Reversed { from, to } => format!(
                "{prefix}to ({to}) is not after {prefix}from ({from}); {prefix}to is an inclusive \
                 date, e.g. {prefix}from 2026-10-01 {prefix}to 2026-10-31"
            ),
            RangeError::TooLong { max_days } => format!(
                "the range is longer than {max_days} days; ask for a shorter one, e.g. one \
                 month at a time"
            ),
        }
    }
}

impl std::fmt::Display for RangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message(""))
    }
}

impl std::error::Error for RangeError {}

/// Both ends of a range as given; either may be absent.
pub type Bounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Parse both bounds; either may be absent. When both are given, `to`
/// must be after `from`.
pub fn parse(tz: Tz, from: Option<&str>, to: Option<&str>) -> Result<Bounds, RangeError> {
    let from = from.map(|s| bound(s, Field::From, tz)).transpose()?;
    let to = to.map(|s| bound(s, Field::To, tz)).transpose()?;
    if let (Some(a), Some(b)) = (from, to) {
        ordered(a, b, tz)?;
    }
    Ok((from, to))
}

/// A range of whole days by default: a missing `from` is the start of
/// `now`'s local day, a missing `to` the end of `from`'s local day.
pub fn days(
    tz: Tz,
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), RangeError> {
    let (from, to) = parse(tz, from, to)?;
    let from = from.unwrap_or_else(|| timefmt::start_of_day(timefmt::local_date(now, tz), tz));
    let to = to.unwrap_or_else(|| {
        let day = timefmt::local_date(from, tz);
        timefmt::start_of_day(day.succ_opt().unwrap_or(day), tz)
    });
    ordered(from, to, tz)?;
    Ok((from, to))
}

/// Refuse a range longer than `max_days`.
pub fn cap(from: DateTime<Utc>, to: DateTime<Utc>, max_days: i64) -> Result<(), RangeError> {
    if to - from > chrono::Duration::days(max_days) {
        return Err(RangeError::TooLong { max_days });
    }
    Ok(())
}

fn bound(s: &str, field: Field, tz: Tz) -> Result<DateTime<Utc>, RangeError> {
    let b = match field {
        Field::From => Bound::Start,
        Field::To => Bound::End,
    };
    timefmt::parse_bound(s, b, tz).map_err(|reason| RangeError::Unreadable { field, reason })
}

fn ordered(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> Result<(), RangeError> {
    if to <= from {
        return Err(RangeError::Reversed {
            from: timefmt::rfc3339(from, tz),
            to: timefmt::rfc3339(to, tz),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const HCM: Tz = chrono_tz::Asia::Ho_Chi_Minh;

    #[test]
    fn dates_are_local_and_to_is_inclusive() {
        let (a, b) = parse(HCM, Some("2026-10-01"), Some("2026-10-31")).unwrap();
        // 00:00 +07:00 is 17:00 UTC the day before.
        assert_eq!(
            a,
            Some(Utc.with_ymd_and_hms(2026, 9, 30, 17, 0, 0).unwrap())
        );
        assert_eq!(
            b,
            Some(Utc.with_ymd_and_hms(2026, 10, 31, 17, 0, 0).unwrap())
        );
    }

    #[test]
    fn days_default_to_today_and_one_day() {
        let now = Utc.with_ymd_and_hms(2026, 10, 7, 20, 0, 0).unwrap(); // 03:00 on the 8th local
        let (a, b) = days(HCM, None, None, now).unwrap();
        assert_eq!(a, Utc.with_ymd_and_hms(2026, 10, 7, 17, 0, 0).unwrap());
        assert_eq!(b, Utc.with_ymd_and_hms(2026, 10, 8, 17, 0, 0).unwrap());
        let (a, b) = days(HCM, Some("2026-10-01"), None, now).unwrap();
        assert_eq!(b - a, chrono::Duration::days(1));
    }

    #[test]
    fn reversed_and_unreadable_name_the_field() {
        let e = parse(HCM, Some("2026-10-31"), Some("2026-10-01")).unwrap_err();
        assert!(matches!(e, RangeError::Reversed { .. }));
        assert!(e
            .message("--")
            .starts_with("--to (2026-10-02T00:00:00.000+07:00) is not after --from"));
        let e = parse(HCM, Some("hôm qua"), None).unwrap_err();
        assert_eq!(
            e,
            RangeError::Unreadable {
                field: Field::From,
                reason: timefmt::parse_bound("hôm qua", Bound::Start, HCM).unwrap_err()
            }
        );
        assert!(e.message("").starts_with("from: `hôm qua` is not a date"));
        // A default `to` before an explicit instant `from` is refused too.
        let now = Utc.with_ymd_and_hms(2026, 10, 7, 0, 0, 0).unwrap();
        assert!(days(HCM, None, Some("2026-10-01"), now).is_err());
    }

    #[test]
    fn cap_counts_days() {
        let a = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert!(cap(a, a + chrono::Duration::days(400), 400).is_ok());
        assert_eq!(
            cap(a, a + chrono::Duration::days(401), 400),
            Err(RangeError::TooLong { max_days: 400 })
        );
    }
}
