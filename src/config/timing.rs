//! Checks of when an item airs: `priority`, `at`/`days`/`cron`, `grace`, and
//! the `from`/`to` window.

use chrono::{NaiveDate, NaiveTime};

use super::load::Loader;
use super::raw::{value_display, value_text, RawWhen, S};
use super::*;
use crate::crontab::CronSpec;

impl Loader<'_> {
    pub(super) fn window(
        &mut self,
        label: &str,
        from: &Option<S<toml::Value>>,
        to: &Option<S<toml::Value>>,
    ) -> Result<Option<Window>, ()> {
        let parse = |this: &mut Self, v: &Option<S<toml::Value>>, key: &str| match v {
            None => Ok(None),
            Some(v) => match value_text(v.get_ref()).as_deref().and_then(parse_date_spec) {
                Some(d) => Ok(Some((d, v.span()))),
                None => {
                    this.at(v.span()).item(label).key(key).error(
                        format!("`{}` is not a date", value_display(v.get_ref())),
                        "write \"YYYY-MM-DD\" for one date or \"MM-DD\" for that day every year",
                    );
                    Err(())
                }
            },
        };
        let from = parse(self, from, "from")?;
        let to = parse(self, to, "to")?;
        let fixed_min = DateSpec::Fixed(NaiveDate::MIN);
        let fixed_max = DateSpec::Fixed(NaiveDate::MAX);
        match (from, to) {
            (None, None) => Ok(None),
            (Some((f @ DateSpec::Fixed(_), _)), None) => Ok(Some(Window {
                from: f,
                to: fixed_max,
            })),
            (None, Some((t @ DateSpec::Fixed(_), _))) => Ok(Some(Window {
                from: fixed_min,
                to: t,
            })),
            (Some((DateSpec::Annual { .. }, span)), None)
            | (None, Some((DateSpec::Annual { .. }, span))) => {
                self.at(span).item(label).error(
                    "a yearly window (MM-DD) needs both `from` and `to`",
                    "add the other end, e.g. from = \"12-15\" and to = \"01-15\"",
                );
                Err(())
            }
            (Some((f, fspan)), Some((t, _))) => match (f, t) {
                (DateSpec::Fixed(a), DateSpec::Fixed(b)) if a > b => {
                    self.at(fspan).item(label).key("from").error(
                        format!("`from` {a} is after `to` {b}"),
                        "swap them; both dates are inclusive",
                    );
                    Err(())
                }
                (DateSpec::Fixed(_), DateSpec::Fixed(_))
                | (DateSpec::Annual { .. }, DateSpec::Annual { .. }) => {
                    Ok(Some(Window { from: f, to: t }))
                }
                _ => {
                    self.at(fspan).item(label).key("from").error(
                        "`from` and `to` mix a full date with a yearly MM-DD date",
                        "write both as YYYY-MM-DD, or both as MM-DD for every year",
                    );
                    Err(())
                }
            },
        }
    }

    pub(super) fn priority(&mut self, p: &Option<S<String>>, label: &str) -> Option<Priority> {
        match p {
            None => Some(Priority::Normal),
            Some(p) => {
                let v = Priority::parse(p.get_ref());
                if v.is_none() {
                    self.at(p.span())
                        .item(label)
                        .key("priority")
                        .error(
                            format!("unknown priority `{}`", p.get_ref()),
                            "write \"normal\", \"priority\" or \"emergency\" (Thông tư 39/2020/TT-BTTTT levels)",
                        );
                }
                v
            }
        }
    }

    /// `at`/`days`/`cron`, `grace`; the window is done by the caller.
    pub(super) fn when(&mut self, w: &RawWhen, label: &str) -> Option<(Timing, u32)> {
        let keys_agree = self.timing_keys_agree(w, label);
        let days = self.days(&w.days, label);
        // Parse `cron` even when `at` is also set, so its own mistakes are
        // reported in the same run.
        let cron = w.cron.as_ref().map(|c| self.cron(c, label));
        let times = w.at.as_ref().map(|at| self.times(at, label));
        let grace = self.grace(&w.grace, label);
        let timing = match (times, cron) {
            (Some(times), _) => Timing::At {
                times: times?,
                days: days?,
            },
            (None, Some(cron)) => Timing::Cron(cron?),
            (None, None) => Timing::Unscheduled,
        };
        let grace = grace?;
        keys_agree.then_some((timing, grace))
    }

    /// Whether the timing keys go together: `at` or `cron`, not both, and
    /// `days` only with `at`.
    fn timing_keys_agree(&mut self, w: &RawWhen, label: &str) -> bool {
        let mut ok = true;
        if let (Some(_), Some(cron)) = (&w.at, &w.cron) {
            self.at(cron.span()).item(label).key("cron").error(
                "both `at` and `cron` are set",
                "keep one: `at` + `days` for fixed times, or `cron` for a crontab(5) line",
            );
            ok = false;
        }
        if let (Some(days), Some(_)) = (&w.days, &w.cron) {
            self.at(days.span()).item(label).key("days").error(
                "`days` does not go with `cron`",
                "put the days in the crontab line's 5th field, e.g. \"15 6 * * 1-6\"",
            );
            ok = false;
        }
        if let (Some(days), None, None) = (&w.days, &w.at, &w.cron) {
            self.at(days.span()).item(label).key("days").error(
                "`days` without `at`",
                "add the times, e.g. at = [\"06:15\", \"17:15\"]",
            );
            ok = false;
        }
        ok
    }

    fn days(&mut self, d: &Option<S<String>>, label: &str) -> Option<DaySet> {
        let Some(d) = d else {
            return Some(DaySet::ALL);
        };
        let days = parse_days(d.get_ref());
        if days.is_none() {
            self.at(d.span()).item(label).key("days").error(
                format!("`{}` is not a set of days", d.get_ref()),
                "write daily, weekdays, weekends, mon-fri, mon-sat or a list like \"mon,wed,fri\"",
            );
        }
        days
    }

    fn cron(&mut self, c: &S<String>, label: &str) -> Option<CronSpec> {
        match CronSpec::parse(c.get_ref()) {
            Ok(spec) => Some(spec),
            Err(e) => {
                self.at(c.span())
                    .item(label)
                    .key("cron")
                    .error(
                        e,
                        "crontab(5) has five fields: minute hour day-of-month month day-of-week; see `man 5 crontab`",
                    );
                None
            }
        }
    }

    /// The times of `at`, sorted and without repeats.
    fn times(&mut self, at: &S<Vec<S<toml::Value>>>, label: &str) -> Option<Vec<NaiveTime>> {
        let mut ok = true;
        let mut times = Vec::new();
        for t in at.get_ref() {
            match value_text(t.get_ref())
                .as_deref()
                .and_then(parse_time_of_day)
            {
                Some(time) => times.push(time),
                None => {
                    self.at(t.span()).item(label).key("at").error(
                        format!("`{}` is not a time of day", value_display(t.get_ref())),
                        "write \"HH:MM\" or \"HH:MM:SS\" from 00:00 to 23:59:59, e.g. \"06:15\"",
                    );
                    ok = false;
                }
            }
        }
        if at.get_ref().is_empty() {
            self.at(at.span()).item(label).key("at").error(
                "`at` is an empty list",
                "list the times, e.g. at = [\"06:15\"], or remove the key",
            );
            ok = false;
        }
        times.sort();
        times.dedup();
        ok.then_some(times)
    }

    fn grace(&mut self, g: &Option<S<String>>, label: &str) -> Option<u32> {
        match g {
            None => Some(DEFAULT_GRACE_SECONDS),
            Some(g) => self.duration(g, label, "grace"),
        }
    }

    /// A duration key (`grace`, a relay's `duration`...) in seconds.
    pub(super) fn duration(&mut self, v: &S<String>, label: &str, key: &str) -> Option<u32> {
        let seconds = parse_duration(v.get_ref());
        if seconds.is_none() {
            self.at(v.span()).item(label).key(key).error(
                format!("`{}` is not a duration", v.get_ref()),
                "write e.g. \"30s\", \"10m\" or \"1h\"",
            );
        }
        seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::*;

    #[test]
    fn windows() {
        let base =
            "[station]\nname = \"X\"\n[[bulletin]]\nid = \"a\"\ntitle = \"A\"\nfile = \"a.mp3\"\n";
        let l = load_text(&format!("{base}from = \"12-15\"\nto = \"01-15\"\n"));
        let w = l.station.unwrap().bulletins[0].window.unwrap();
        assert!(w.contains(NaiveDate::from_ymd_opt(2027, 1, 2).unwrap()));
        let l = load_text(&format!("{base}from = \"12-15\"\n"));
        assert!(errors(&l)[0].message.contains("both"));
        let l = load_text(&format!("{base}from = \"12-15\"\nto = \"2027-01-15\"\n"));
        assert!(errors(&l)[0].message.contains("mix"));
        let l = load_text(&format!("{base}from = \"2026-13-01\"\n"));
        assert!(errors(&l)[0].message.contains("not a date"));
        // Open-ended fixed window; an unquoted TOML date works too.
        let l = load_text(&format!("{base}from = 2026-10-07\n"));
        let w = l.station.unwrap().bulletins[0].window.unwrap();
        assert!(!w.contains(NaiveDate::from_ymd_opt(2026, 10, 6).unwrap()));
        assert!(w.contains(NaiveDate::from_ymd_opt(2099, 1, 1).unwrap()));
    }
}
