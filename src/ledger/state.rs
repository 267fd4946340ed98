//! The `state` table: the daemon's own bookkeeping, kept across restarts.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Ledger, Result};
use crate::timefmt::{parse_rfc3339, rfc3339};

/// `state` key: the instant up to which the daemon has decided the plan.
const DECIDED_UNTIL: &str = "decided_until";
/// `state` key: the id of the last row the province's database holds
/// (`crate::fleet`); every row up to it has been copied there.
const FLEET_SHIPPED: &str = "fleet_shipped_id";
/// `state` key: when the mark last moved (rows reached the province's
/// database), so `/metrics` knows it across restarts.
const FLEET_SHIPPED_AT: &str = "fleet_shipped_at";

impl Ledger {
    /// The instant up to which the daemon decided the plan, if it ever ran.
    pub fn last_alive(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .state(DECIDED_UNTIL)?
            .as_deref()
            .and_then(parse_rfc3339))
    }

    /// Save the instant up to which the daemon decided the plan.
    pub fn set_last_alive(&mut self, at: DateTime<Utc>) -> Result<()> {
        self.set_state(DECIDED_UNTIL, Some(&rfc3339(at, self.tz)))
    }

    /// When the last item that aired started (the newest row with audio
    /// out), for `/metrics` after a restart.
    pub fn last_aired(&self) -> Result<Option<DateTime<Utc>>> {
        let at: Option<String> = self
            .conn
            .query_row(
                "SELECT started_at FROM airtime WHERE started_at IS NOT NULL \
                 ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(self.err("read when the last item aired"))?;
        Ok(at.as_deref().and_then(parse_rfc3339))
    }

    /// The id up to which rows were copied to the province's database (0
    /// before the first copy).
    pub fn shipped_mark(&self) -> Result<i64> {
        Ok(self
            .state(FLEET_SHIPPED)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Save the id up to which rows were copied, and when (now).
    pub fn set_shipped_mark(&mut self, id: i64) -> Result<()> {
        self.set_state(FLEET_SHIPPED, Some(&id.to_string()))?;
        self.set_state(FLEET_SHIPPED_AT, Some(&rfc3339(Utc::now(), self.tz)))
    }

    /// When rows last reached the province's database (`None` before the
    /// first copy).
    pub fn shipped_at(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .state(FLEET_SHIPPED_AT)?
            .as_deref()
            .and_then(parse_rfc3339))
    }

    /// A value of the daemon's own bookkeeping (table `state`).
    pub fn state(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM state WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(self.err("read the daemon's bookkeeping"))
    }

    /// Set (or with `None`, remove) a value of the daemon's bookkeeping.
    pub fn set_state(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        let r = match value {
            Some(v) => self
                .conn
                .prepare_cached(
                    "INSERT INTO state (key, value) VALUES (?1, ?2) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .and_then(|mut s| s.execute(params![key, v])),
            None => self
                .conn
                .prepare_cached("DELETE FROM state WHERE key = ?1")
                .and_then(|mut s| s.execute([key])),
        };
        r.map_err(self.err("save the daemon's bookkeeping"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::test_util::*;
    use crate::ledger::Outcome;

    #[test]
    fn last_alive_survives_a_reopen() {
        let (_dir, path, mut l) = fresh_ledger();
        assert_eq!(l.last_alive().unwrap(), None);
        let t = DateTime::parse_from_rfc3339("2026-10-07T06:00:03.250+07:00")
            .unwrap()
            .with_timezone(&Utc);
        l.set_last_alive(t).unwrap();
        l.set_last_alive(t).unwrap();
        drop(l);
        let l = Ledger::open_read_only(&path, TZ).unwrap();
        assert_eq!(l.last_alive().unwrap(), Some(t));
    }

    #[test]
    fn last_aired_is_the_newest_started_row() {
        let (_dir, _, mut l) = fresh_ledger();
        assert_eq!(l.last_aired().unwrap(), None);
        l.record(&airing("a", None, at(5, 0)), Outcome::Missed, None)
            .unwrap();
        assert_eq!(l.last_aired().unwrap(), None, "a missed row aired nothing");
        l.begin(&airing("b", None, at(6, 0)), at(6, 0)).unwrap();
        l.begin(&airing("c", None, at(7, 0)), at(7, 1)).unwrap();
        l.record(&airing("d", None, at(8, 0)), Outcome::Missed, None)
            .unwrap();
        assert_eq!(l.last_aired().unwrap(), Some(at(7, 1)));
    }
}
