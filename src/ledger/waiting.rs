//! The `queue` table: what operators queued and what has not aired yet,
//! kept so a restart or a power cut does not lose it; and the next entry
//! id, so ids are never handed out twice.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use rusqlite::{params_from_iter, ToSql};

use super::{Airing, Ledger, Result, Source};
use crate::config::Priority;
use crate::timefmt::{parse_rfc3339, rfc3339};

/// `state` key: the first entry id the next run may hand out.
const NEXT_ENTRY_ID: &str = "next_entry_id";

/// One waiting item, as the engine queued it.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    /// The entry id the API showed.
    pub id: u64,
    pub airing: Airing,
    /// The audio file, resolved.
    pub path: PathBuf,
    /// Where it sorts among entries of its priority.
    pub sort_at: DateTime<Utc>,
    /// Its place among entries of the same priority and instant.
    pub order: u64,
    /// How late it may still start, in seconds.
    pub grace_seconds: i64,
}

impl Ledger {
    /// Keep `q` (replacing an item with its id).
    pub fn queue_put(&mut self, q: &Queued) -> Result<()> {
        let a = &q.airing;
        let tz = self.tz;
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO queue (id, occurrence, bulletin, title, campaign, \
                 program, priority, source, file, path, scheduled_at, scheduled_ms, sort_ms, \
                 ord, grace_seconds, planned_seconds, requested_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )
            .and_then(|mut s| {
                let id: [&dyn ToSql; 1] = [&(q.id as i64)];
                let rest: [&dyn ToSql; 8] = [
                    &q.path.to_string_lossy(),
                    &rfc3339(a.scheduled_at, tz),
                    &a.scheduled_at.timestamp_millis(),
                    &q.sort_at.timestamp_millis(),
                    &(q.order as i64),
                    &q.grace_seconds,
                    &a.planned_seconds,
                    &a.requested_by,
                ];
                s.execute(params_from_iter(id.into_iter().chain(a.named()).chain(rest)))
            })
            .map_err(self.err("keep a queued item"))?;
        Ok(())
    }

    /// Forget queued item `id` (it aired, was recorded, or was removed);
    /// nothing when it is not kept.
    pub fn queue_remove(&mut self, id: u64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM queue WHERE id = ?1")
            .and_then(|mut s| s.execute([id as i64]))
            .map_err(self.err("forget a queued item"))?;
        Ok(())
    }

    /// Every kept item, by id. A row this loa cannot read back (edited by
    /// hand) is left out and logged.
    pub fn queued(&self) -> Result<Vec<Queued>> {
        let action = "read the queued items";
        let sql = "SELECT id, occurrence, bulletin, title, campaign, program, priority, source, \
                 file, path, scheduled_at, sort_ms, ord, grace_seconds, planned_seconds, \
                 requested_by FROM queue ORDER BY id";
        let rows: Vec<_> = self.all(action, sql, [], |r| {
            Ok((
                (
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                ),
                (
                    r.get::<_, String>(8)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, String>(10)?,
                    r.get::<_, i64>(11)?,
                    r.get::<_, i64>(12)?,
                    r.get::<_, i64>(13)?,
                    r.get::<_, f64>(14)?,
                    r.get::<_, Option<String>>(15)?,
                ),
            ))
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for (
            (id, occurrence, bulletin, title, campaign, program, priority, source),
            (file, path, scheduled_at, sort_ms, ord, grace_seconds, planned_seconds, requested_by),
        ) in rows
        {
            let parsed = (
                Priority::parse(&priority),
                Source::parse(&source),
                parse_rfc3339(&scheduled_at),
                DateTime::<Utc>::from_timestamp_millis(sort_ms),
            );
            let (Some(priority), Some(source), Some(at), Some(sort_at)) = parsed else {
                tracing::warn!(id, occurrence = %occurrence, "a queued item in the ledger cannot be read back; left out");
                continue;
            };
            out.push(Queued {
                id: id as u64,
                airing: Airing {
                    occurrence,
                    bulletin,
                    title,
                    campaign,
                    program,
                    priority,
                    source,
                    file,
                    scheduled_at: at,
                    planned_seconds,
                    requested_by,
                },
                path: PathBuf::from(path),
                sort_at,
                order: ord as u64,
                grace_seconds,
            });
        }
        Ok(out)
    }

    /// The first entry id the next run may hand out (1 on a new ledger):
    /// past every id a previous run reserved, and every kept item's.
    pub fn next_entry_id(&self) -> Result<u64> {
        let reserved = self
            .state(NEXT_ENTRY_ID)?
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1);
        let kept: Option<i64> = self
            .conn
            .query_row("SELECT max(id) FROM queue", [], |r| r.get(0))
            .map_err(self.err("read the queued items"))?;
        Ok(reserved.max(kept.map_or(1, |k| k as u64 + 1)))
    }

    /// Reserve entry ids below `next`: the next run starts there.
    pub fn set_next_entry_id(&mut self, next: u64) -> Result<()> {
        self.set_state(NEXT_ENTRY_ID, Some(&next.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::test_util::*;

    fn queued(id: u64) -> Queued {
        let mut a = airing("tone", None, at(9, 30));
        a.source = Source::Operator;
        a.priority = Priority::Priority;
        a.requested_by = Some("van-hanh".into());
        Queued {
            id,
            airing: a,
            path: PathBuf::from("/srv/audio/tone.wav"),
            sort_at: at(9, 30),
            order: (1 << 40) + id,
            grace_seconds: 600,
        }
    }

    #[test]
    fn queued_items_and_the_next_id_survive_a_reopen() {
        let (_dir, path, mut l) = fresh_ledger();
        assert_eq!(l.queued().unwrap(), []);
        assert_eq!(l.next_entry_id().unwrap(), 1);
        l.queue_put(&queued(7)).unwrap();
        l.queue_put(&queued(3)).unwrap();
        l.queue_remove(3).unwrap();
        l.queue_remove(99).unwrap();
        drop(l);
        let mut l = Ledger::open(&path, TZ).unwrap();
        assert_eq!(l.queued().unwrap(), [queued(7)]);
        assert_eq!(l.next_entry_id().unwrap(), 8, "past the kept item");
        l.set_next_entry_id(1000).unwrap();
        assert_eq!(l.next_entry_id().unwrap(), 1000);
    }
}
