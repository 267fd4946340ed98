//! The shipper: one task per daemon that copies closed ledger rows to the
//! province's database, in ledger order, resuming from the mark kept in the
//! ledger's `state` table (`fleet_shipped_id`).
//!
//! A row is never stored twice: the central primary key is (station id,
//! ledger row id) and rows are inserted with `ON CONFLICT DO NOTHING`, so a
//! batch copied again after a crash between the database's commit and the
//! mark's is harmless. The mark only moves after the database committed,
//! so a crash never skips a row. Rows are read after the mark in id order
//! up to the first one still airing, so a row that closes late is never
//! jumped over.
//!
//! It never slows what airs: it is its own task, its SQLite reads are short
//! (a batch of rows by primary key) on a blocking thread with its own
//! connection, and the only write is the mark, one row of `state`. The
//! engine's ledger writer is a separate connection and never waits on it
//! for more than that single-row write.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use tokio::task::JoinHandle;
use tokio_postgres::Client;
use tracing::{info, warn};

use crate::config::Station;
use crate::current::CurrentStation;
use crate::ledger::{AirtimeRow, Ledger};

use super::{connect, pg_error, schema};

/// Rows per batch: one round trip, a few hundred kilobytes at most.
const BATCH: usize = 500;
/// How often a caught-up shipper looks for new closed rows.
const POLL: Duration = Duration::from_secs(1);
/// First wait after a failure; doubled each time up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between attempts while the link is down.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A round (read, insert, commit) taking longer than this is abandoned
/// and retried on a new connection: a link that died mid-query.
const ROUND_TIMEOUT: Duration = Duration::from_secs(60);

/// Start the shipper. It follows reloads: `[fleet] postgres` set, changed
/// or removed takes effect at its next round. It keeps `progress` up to
/// date for `/metrics` and the status.
pub(crate) fn spawn(current: CurrentStation, progress: Progress) -> JoinHandle<()> {
    tokio::spawn(run(current, progress))
}

/// How far the copy is, as the shipper last saw it; shared with the API.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress(Arc<Mutex<Shipping>>);

/// What `/metrics` and `/api/v1/status` tell about the copy.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Shipping {
    /// Closed rows of the local ledger not yet in the province's database
    /// (`None` until the shipper first counted them).
    pub rows_waiting: Option<u64>,
    /// When rows last reached the province's database (kept in the ledger
    /// across restarts; `None` before the first copy).
    pub last_shipped: Option<DateTime<Utc>>,
    /// Rounds that failed (link down, database refusing) since the daemon
    /// started.
    pub failures: u64,
    /// Why the last round failed, while it is not followed by a good one.
    pub last_error: Option<String>,
}

impl Progress {
    pub(crate) fn get(&self) -> Shipping {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn update(&self, f: impl FnOnce(&mut Shipping)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// What a session with the database knows.
struct Session {
    url: String,
    client: Client,
    /// The station (by pointer) whose name and campaigns were last sent.
    described: Option<Arc<Station>>,
}

/// The local side: the shipper's own ledger connection, opened on first use.
struct Local {
    ledger: Option<Ledger>,
}

async fn run(current: CurrentStation, progress: Progress) {
    let mut session: Option<Session> = None;
    let mut local = Local { ledger: None };
    let mut backoff = FIRST_BACKOFF;
    let mut down_since: Option<Instant> = None;
    loop {
        let station = current.get();
        let Some(url) = station.fleet.postgres.clone() else {
            session = None;
            tokio::time::sleep(POLL * 5).await;
            continue;
        };
        if session.as_ref().is_some_and(|s| s.url != url) {
            session = None;
        }
        let round = tokio::time::timeout(
            ROUND_TIMEOUT,
            round(&station, &url, &mut session, &mut local),
        )
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer in {ROUND_TIMEOUT:?}")));
        // The local ledger answers even while the link is down.
        let counted = read_local(&mut local, &station, |l| {
            let mark = l.shipped_mark()?;
            Ok((l.rows_after(mark)?, l.shipped_at()?))
        })
        .await;
        progress.update(|p| {
            if let Ok((waiting, at)) = counted {
                p.rows_waiting = Some(waiting);
                p.last_shipped = at;
            }
            match &round {
                Ok(_) => p.last_error = None,
                Err(e) => {
                    p.failures += 1;
                    p.last_error = Some(format!("{e:#}"));
                }
            }
        });
        match round {
            Ok(shipped) => {
                if let Some(t) = down_since.take() {
                    info!(
                        down_seconds = t.elapsed().as_secs(),
                        "province database reachable again; shipping resumes"
                    );
                }
                backoff = FIRST_BACKOFF;
                if shipped < BATCH {
                    tokio::time::sleep(POLL).await;
                }
            }
            Err(e) => {
                session = None;
                if down_since.is_none() {
                    down_since = Some(Instant::now());
                }
                warn!(
                    station_id = %station.fleet.station_id,
                    retry_in_seconds = backoff.as_secs(),
                    "cannot copy airtime to the province's database (the station airs on; \
                     rows wait in the local ledger): {e:#}"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// With a line monitor a row closes before its heard seconds are known
/// (they follow within `HEARD_WAIT`): how many of `rows` to ship, up to
/// the first one that may still get them, so the province gets the figure
/// (and a row the monitor never settles still goes, without one).
fn heard_settled(rows: &[AirtimeRow], now: DateTime<Utc>) -> usize {
    let wait = chrono::Duration::from_std(crate::monitor::HEARD_WAIT + Duration::from_secs(10))
        .unwrap_or_else(|_| chrono::Duration::minutes(2));
    rows.iter()
        .position(|r| {
            r.started_at.is_some()
                && r.heard_seconds.is_none()
                && r.ended_at
                    .as_deref()
                    .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
                    .is_none_or(|e| now - e.with_timezone(&Utc) < wait)
        })
        .unwrap_or(rows.len())
}

/// One batch: connect if needed, read rows after the mark, insert them,
/// move the mark. Returns how many rows it copied.
async fn round(
    station: &Arc<Station>,
    url: &str,
    session: &mut Option<Session>,
    local: &mut Local,
) -> anyhow::Result<usize> {
    if session.is_none() {
        let mut client = connect(url)
            .await
            .map_err(|e| anyhow::anyhow!(pg_error(&e)))?;
        schema::migrate(&mut client).await?;
        *session = Some(Session {
            url: url.to_string(),
            client,
            described: None,
        });
    }
    let s = session.as_mut().expect("set above");
    if !s
        .described
        .as_ref()
        .is_some_and(|d| Arc::ptr_eq(d, station))
    {
        describe(&mut s.client, station).await.map_err(pg)?;
        s.described = Some(Arc::clone(station));
    }

    let monitored = station.monitor.is_some();
    let (mark, rows) = read_local(local, station, move |l| {
        let mark = l.shipped_mark()?;
        let mut rows = l.closed_after(mark, BATCH)?;
        if monitored {
            rows.truncate(heard_settled(&rows, Utc::now()));
        }
        Ok((mark, rows))
    })
    .await?;
    let Some(last) = rows.last().map(|r| r.id) else {
        return Ok(0);
    };
    let id = &station.fleet.station_id;
    let inserted = insert(&mut s.client, id, &rows).await?;
    read_local(local, station, move |l| l.set_shipped_mark(last)).await?;
    let waiting = read_local(local, station, move |l| l.rows_after(last)).await?;
    info!(
        station_id = %id,
        rows = rows.len(),
        new = inserted,
        from_row = mark + 1,
        to_row = last,
        waiting,
        "airtime copied to the province's database"
    );
    Ok(rows.len())
}

fn pg(e: tokio_postgres::Error) -> anyhow::Error {
    anyhow::anyhow!(pg_error(&e))
}

/// Run `f` on the shipper's ledger connection, on a blocking thread.
async fn read_local<T: Send + 'static>(
    local: &mut Local,
    station: &Station,
    f: impl FnOnce(&mut Ledger) -> crate::ledger::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let ledger = local.ledger.take();
    let path = station.ledger_path();
    let tz = station.timezone;
    let (ledger, out) = tokio::task::spawn_blocking(move || {
        let mut ledger = match ledger {
            Some(l) => l,
            None => match Ledger::open_beside(&path, tz) {
                Ok(l) => l,
                Err(e) => return (None, Err(e)),
            },
        };
        let out = f(&mut ledger);
        (Some(ledger), out)
    })
    .await?;
    local.ledger = ledger;
    Ok(out?)
}

/// Say the station's name, zone and campaigns (as its file has them now).
async fn describe(client: &mut Client, station: &Station) -> Result<(), tokio_postgres::Error> {
    let id = &station.fleet.station_id;
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO loa_station (station_id, name, timezone) VALUES ($1, $2, $3) \
         ON CONFLICT (station_id) DO UPDATE \
         SET name = excluded.name, timezone = excluded.timezone, updated_at = now()",
        &[id, &station.name, &station.timezone.name()],
    )
    .await?;
    tx.execute("DELETE FROM loa_campaign WHERE station_id = $1", &[id])
        .await?;
    for (i, c) in station.campaigns.iter().enumerate() {
        let (from, to) = c.window.map(|w| w.ends()).unwrap_or_default();
        tx.execute(
            "INSERT INTO loa_campaign (station_id, campaign, title, target_minutes, position, \
               window_from, window_to) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                id,
                &c.id,
                &c.title,
                &c.target_minutes,
                &(i as i32),
                &from,
                &to,
            ],
        )
        .await?;
    }
    tx.commit().await
}

/// Insert closed rows, each once. Returns how many were new. A row already
/// there with another occurrence means two stations share a station id, or
/// the ledger was replaced: nothing is committed and it is an error, so no
/// row is lost silently.
async fn insert(client: &mut Client, station_id: &str, rows: &[AirtimeRow]) -> anyhow::Result<u64> {
    fn col<T>(rows: &[AirtimeRow], f: impl Fn(&AirtimeRow) -> T) -> Vec<T> {
        rows.iter().map(f).collect()
    }
    let ids = col(rows, |r| r.id);
    let occurrences = col(rows, |r| r.occurrence.clone());
    let tx = client.transaction().await.map_err(pg)?;
    // The mark moves once this commits: the commit must be on disk then,
    // even on a server whose default is `synchronous_commit = off` (which
    // would lose acknowledged rows in a crash, and they would never be
    // sent again).
    tx.batch_execute("SET LOCAL synchronous_commit TO on")
        .await
        .map_err(pg)?;
    let insert_rows =
        "INSERT INTO loa_airtime (station_id, row_id, occurrence, bulletin, title, campaign, \
               program, priority, source, file, scheduled_at, started_at, ended_at, \
               planned_seconds, aired_seconds, outcome, reason, requested_by, reason_code, \
               reason_args, reason_more, heard_seconds, broadcast) \
             SELECT $1, t.id, t.occ, t.bul, t.title, t.camp, t.prog, t.prio, t.src, t.file, \
               t.sched::timestamptz, t.started::timestamptz, t.ended::timestamptz, \
               t.planned, t.aired, t.outcome, NULL, t.req, t.code, t.args, t.more, t.heard, \
               t.broadcast \
             FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
               $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], \
               $14::float8[], $15::float8[], $16::text[], $17::text[], $18::text[], \
               $19::text[], $20::text[], $21::float8[], $22::text[]) \
               AS t(id, occ, bul, title, camp, prog, prio, src, file, sched, started, ended, \
                    planned, aired, outcome, code, req, args, more, heard, broadcast) \
             ON CONFLICT (station_id, row_id) DO NOTHING RETURNING *";
    // Only the rows really added go into the monthly sums.
    let sql = format!(
        "WITH ins AS ({insert_rows}), roll AS ({}) SELECT count(*) FROM ins",
        schema::rollup_sql("ins")
    );
    let inserted = tx
        .query_one(
            &sql,
            &[
                &station_id,
                &ids,
                &occurrences,
                &col(rows, |r| r.bulletin.clone()),
                &col(rows, |r| r.title.clone()),
                &col(rows, |r| r.campaign.clone()),
                &col(rows, |r| r.program.clone()),
                &col(rows, |r| r.priority.as_str().to_string()),
                &col(rows, |r| r.source.as_str().to_string()),
                &col(rows, |r| r.file.clone()),
                &col(rows, |r| r.scheduled_at.clone()),
                &col(rows, |r| r.started_at.clone()),
                &col(rows, |r| r.ended_at.clone()),
                &col(rows, |r| r.planned_seconds),
                &col(rows, |r| r.aired_seconds),
                &col(rows, |r| r.outcome.map(|o| o.as_str().to_string())),
                // The reason as data, as the ledger stores it (no English
                // text: the report renders it in the reader's language).
                &col(rows, |r| {
                    r.reason.as_ref().map(|x| x.main.code().to_string())
                }),
                &col(rows, |r| r.requested_by.clone()),
                &col(rows, |r| r.reason.as_ref().map(|x| x.args_json())),
                &col(rows, |r| r.reason.as_ref().and_then(|x| x.more_json())),
                // What the line monitor heard; NULL without one.
                &col(rows, |r| r.heard_seconds),
                // The province's broadcast, named in the occurrence.
                &col(rows, |r| {
                    (r.source == crate::ledger::Source::Province)
                        .then(|| crate::broadcast::broadcast_of(&r.occurrence))
                        .flatten()
                        .map(str::to_string)
                }),
            ],
        )
        .await
        .map_err(pg)?
        .get::<_, i64>(0)
        .max(0) as u64;
    if inserted < rows.len() as u64 {
        let clash = tx
            .query(
                "SELECT a.row_id FROM loa_airtime a \
                 JOIN unnest($2::int8[], $3::text[]) AS t(id, occ) ON a.row_id = t.id \
                 WHERE a.station_id = $1 AND a.occurrence <> t.occ LIMIT 1",
                &[&station_id, &ids, &occurrences],
            )
            .await
            .map_err(pg)?;
        if let Some(r) = clash.first() {
            let row: i64 = r.get(0);
            anyhow::bail!(
                "the province's database already holds another airing as row {row} of station \
                 id `{station_id}`: two stations use the same [fleet] station_id, or this \
                 station's ledger was replaced; give this station its own station_id \
                 (nothing was copied, the local ledger keeps every row)"
            );
        }
    }
    let last = ids.last().copied().unwrap_or(0);
    tx.execute(
        "UPDATE loa_station SET last_row_id = greatest(last_row_id, $2), \
         last_shipped_at = now() WHERE station_id = $1",
        &[&station_id, &last],
    )
    .await
    .map_err(pg)?;
    tx.commit().await.map_err(pg)?;
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::heard_settled;
    use crate::ledger::test_util::{airing, at, fresh_ledger};
    use crate::ledger::Outcome;

    #[test]
    fn rows_waiting_for_their_heard_seconds_are_shipped_once_they_have_them() {
        let (_d, _p, mut l) = fresh_ledger();
        let a = l.begin(&airing("a", None, at(6, 0)), at(6, 0)).unwrap();
        l.finish(a, at(6, 1), 60.0, Outcome::Completed, None, Some(58.0))
            .unwrap();
        l.record(&airing("b", None, at(6, 5)), Outcome::Missed, None)
            .unwrap();
        let c = l.begin(&airing("c", None, at(6, 10)), at(6, 10)).unwrap();
        l.finish(c, at(6, 11), 60.0, Outcome::Completed, None, None)
            .unwrap();
        let rows = l.closed_after(0, 10).unwrap();
        assert_eq!(rows.len(), 3);
        // c closed a moment ago: its heard seconds are on their way.
        let soon = at(6, 11) + chrono::Duration::seconds(5);
        assert_eq!(heard_settled(&rows, soon), 2);
        l.set_heard(c, 59.5).unwrap();
        let rows = l.closed_after(0, 10).unwrap();
        assert_eq!(heard_settled(&rows, soon), 3);
        // A row the monitor never settled goes without them in the end.
        let d = l.begin(&airing("d", None, at(7, 0)), at(7, 0)).unwrap();
        l.finish(d, at(7, 1), 60.0, Outcome::Completed, None, None)
            .unwrap();
        let rows = l.closed_after(0, 10).unwrap();
        assert_eq!(heard_settled(&rows, at(7, 1)), 3);
        assert_eq!(heard_settled(&rows, at(7, 3)), 4);
    }
}
