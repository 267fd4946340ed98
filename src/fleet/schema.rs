//! The province's database: loa's tables, created and migrated by loa.
//!
//! # Schema (version 5)
//!
//! `loa_schema_version (version, applied_at)`: one row per migration
//! applied; loa refuses a database migrated by a newer loa.
//!
//! `loa_station`, one row per station: `station_id` (`[fleet] station_id`,
//! primary key), `name`, `timezone`, `updated_at` (when the station last
//! said its name and campaigns), `last_row_id` and `last_shipped_at` (its
//! latest copied row, and when).
//!
//! `loa_campaign`, the campaigns of each station's file as it runs now:
//! `(station_id, campaign)` primary key, `title`, `target_minutes`,
//! `position` (order in the file, which the report keeps), and its window
//! as the station file writes it (`window_from`, `window_to`: `YYYY-MM-DD`
//! or `MM-DD`, NULL for an open end; version 2), which pro-rates the target
//! to the days of the period inside it, as the station's own report does.
//!
//! `loa_airtime`, every closed row of every station's ledger: `station_id`,
//! `row_id` (the row's id in the station's ledger; `(station_id, row_id)` is
//! the primary key, so a row copied twice is stored once), then the ledger's
//! columns (`occurrence`, `bulletin`, `title`, `campaign`, `program`,
//! `priority`, `source`, `file`, `scheduled_at`, `started_at`, `ended_at`
//! as `timestamptz`, `planned_seconds`, `aired_seconds`, `outcome`,
//! `reason`, `requested_by`, and since version 3 `reason_code`,
//! `reason_args`, `reason_more` as the ledger stores them, and since
//! version 4 `heard_seconds`, what the station's line monitor heard of the
//! airing, NULL without a monitor and on rows shipped before; since version
//! 5 `broadcast`, the id of the province's bulletin the row aired, NULL
//! for the station's own, index `loa_airtime_broadcast`) and `shipped_at`. Rows shipped since version 3 carry the reason as code and
//! arguments only (`reason` NULL), which the report renders in the
//! reader's language through `crate::reason`; older rows keep the English
//! `reason` text and read as free text. Index `loa_airtime_report
//! (scheduled_at) INCLUDE (station_id, campaign, bulletin, source, outcome,
//! reason, reason_code, reason_args, reason_more, started_at,
//! aired_seconds, heard_seconds, row_id)` answers the report by an index-only scan of
//! the period.
//!
//! `loa_airtime_month`, the monthly sums the report reads for periods of
//! whole months: per (`month` — its first day, in Vietnam's time —,
//! `station_id`, `campaign`, `bulletin`, `source`, `outcome`, `reason`,
//! `reason_code`, `reason_args`, `reason_more`; NULLs stored as `''`),
//! `plays` (rows, whatever became of them), `on_air` (those that went on
//! air) and `cancelled` (those an operator took off before they started;
//! both version 3, filled from the rows already there), `aired_seconds`,
//! `heard_seconds` and `heard_rows` (the seconds a line monitor heard, and
//! how many rows had a figure; version 4, filled from the rows already
//! there), and the latest row's id and title (`last_row_id`, `last_title`). The
//! shipper adds to it in the transaction that inserts the rows
//! ([`ROLLUP_SQL`]).

use tokio_postgres::Client;

/// `MIGRATIONS[n]` takes the schema from version `n` to `n + 1`. Never
/// edit a released entry; append.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE loa_station (
    station_id      text PRIMARY KEY,
    name            text NOT NULL,
    timezone        text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_row_id     bigint NOT NULL DEFAULT 0,
    last_shipped_at timestamptz
);
CREATE TABLE loa_campaign (
    station_id      text NOT NULL REFERENCES loa_station ON DELETE CASCADE,
    campaign        text NOT NULL,
    title           text NOT NULL,
    target_minutes  double precision,
    position        integer NOT NULL,
    PRIMARY KEY (station_id, campaign)
);
CREATE TABLE loa_airtime (
    station_id      text NOT NULL,
    row_id          bigint NOT NULL,
    occurrence      text NOT NULL,
    bulletin        text NOT NULL,
    title           text NOT NULL,
    campaign        text,
    program         text,
    priority        text NOT NULL,
    source          text NOT NULL,
    file            text NOT NULL,
    scheduled_at    timestamptz NOT NULL,
    started_at      timestamptz,
    ended_at        timestamptz,
    planned_seconds double precision NOT NULL,
    aired_seconds   double precision NOT NULL,
    outcome         text NOT NULL,
    reason          text,
    requested_by    text,
    shipped_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, row_id)
);
CREATE INDEX loa_airtime_report ON loa_airtime (scheduled_at)
    INCLUDE (station_id, campaign, bulletin, source, outcome, reason, aired_seconds, row_id);
CREATE TABLE loa_airtime_month (
    station_id      text NOT NULL,
    month           date NOT NULL,
    campaign        text NOT NULL,
    bulletin        text NOT NULL,
    source          text NOT NULL,
    outcome         text NOT NULL,
    reason          text NOT NULL,
    plays           bigint NOT NULL,
    aired_seconds   double precision NOT NULL,
    last_row_id     bigint NOT NULL,
    last_title      text NOT NULL,
    PRIMARY KEY (month, station_id, campaign, bulletin, source, outcome, reason)
);
",
    "
ALTER TABLE loa_campaign ADD COLUMN window_from text;
ALTER TABLE loa_campaign ADD COLUMN window_to text;
",
    // v3: reasons as data, and what went on air apart from what an
    // operator cancelled. Rows shipped before keep their English `reason`
    // (read as free text); the monthly sums get their new counts from the
    // rows already there.
    "
ALTER TABLE loa_airtime ADD COLUMN reason_code text;
ALTER TABLE loa_airtime ADD COLUMN reason_args text;
ALTER TABLE loa_airtime ADD COLUMN reason_more text;
DROP INDEX loa_airtime_report;
CREATE INDEX loa_airtime_report ON loa_airtime (scheduled_at)
    INCLUDE (station_id, campaign, bulletin, source, outcome, reason, reason_code, reason_args,
             reason_more, started_at, aired_seconds, row_id);
ALTER TABLE loa_airtime_month ADD COLUMN reason_code text NOT NULL DEFAULT '';
ALTER TABLE loa_airtime_month ADD COLUMN reason_args text NOT NULL DEFAULT '';
ALTER TABLE loa_airtime_month ADD COLUMN reason_more text NOT NULL DEFAULT '';
ALTER TABLE loa_airtime_month ADD COLUMN on_air bigint NOT NULL DEFAULT 0;
ALTER TABLE loa_airtime_month ADD COLUMN cancelled bigint NOT NULL DEFAULT 0;
ALTER TABLE loa_airtime_month DROP CONSTRAINT loa_airtime_month_pkey;
ALTER TABLE loa_airtime_month ADD PRIMARY KEY
    (month, station_id, campaign, bulletin, source, outcome, reason, reason_code, reason_args,
     reason_more);
UPDATE loa_airtime_month m SET on_air = x.on_air, cancelled = x.cancelled
FROM (
    SELECT station_id,
           date_trunc('month', scheduled_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS month,
           coalesce(campaign, '') AS campaign, bulletin, source, outcome,
           coalesce(reason, '') AS reason,
           count(*) FILTER (WHERE outcome IN ('completed', 'interrupted')
               OR (outcome = 'failed' AND (aired_seconds > 0 OR started_at IS NOT NULL)))
               AS on_air,
           count(*) FILTER (WHERE outcome IN ('skipped', 'missed')
               AND (reason = 'removed from the queue by an operator'
                    OR reason LIKE 'emergency cancelled by %')) AS cancelled
    FROM loa_airtime GROUP BY 1, 2, 3, 4, 5, 6, 7
) x
WHERE m.station_id = x.station_id AND m.month = x.month AND m.campaign = x.campaign
  AND m.bulletin = x.bulletin AND m.source = x.source AND m.outcome = x.outcome
  AND m.reason = x.reason AND m.reason_code = '';
",
    // v4: proof of play, what each station's line monitor heard (NULL
    // without a monitor). Rows shipped before have no figure; the monthly
    // sums are filled from the rows already there all the same.
    "
ALTER TABLE loa_airtime ADD COLUMN heard_seconds double precision;
DROP INDEX loa_airtime_report;
CREATE INDEX loa_airtime_report ON loa_airtime (scheduled_at)
    INCLUDE (station_id, campaign, bulletin, source, outcome, reason, reason_code, reason_args,
             reason_more, started_at, aired_seconds, heard_seconds, row_id);
ALTER TABLE loa_airtime_month ADD COLUMN heard_seconds double precision NOT NULL DEFAULT 0;
ALTER TABLE loa_airtime_month ADD COLUMN heard_rows bigint NOT NULL DEFAULT 0;
UPDATE loa_airtime_month m SET heard_seconds = x.heard_seconds, heard_rows = x.heard_rows
FROM (
    SELECT station_id,
           date_trunc('month', scheduled_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS month,
           coalesce(campaign, '') AS campaign, bulletin, source, outcome,
           coalesce(reason, '') AS reason, coalesce(reason_code, '') AS reason_code,
           coalesce(reason_args, '') AS reason_args, coalesce(reason_more, '') AS reason_more,
           coalesce(sum(heard_seconds), 0) AS heard_seconds,
           count(heard_seconds) AS heard_rows
    FROM loa_airtime WHERE heard_seconds IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
) x
WHERE m.station_id = x.station_id AND m.month = x.month AND m.campaign = x.campaign
  AND m.bulletin = x.bulletin AND m.source = x.source AND m.outcome = x.outcome
  AND m.reason = x.reason AND m.reason_code = x.reason_code
  AND m.reason_args = x.reason_args AND m.reason_more = x.reason_more;
",
    // v5: the province's broadcast a row aired (`crate::upstream`), for
    // the report of one broadcast; rows shipped before get it from their
    // occurrence, which names it (`…/province:ID@…`).
    "
ALTER TABLE loa_airtime ADD COLUMN broadcast text;
UPDATE loa_airtime SET broadcast = substring(occurrence from '^[a-z]+:[0-9]+/province:([^@/]+)@')
    WHERE occurrence LIKE '%/province:%';
CREATE INDEX loa_airtime_broadcast ON loa_airtime (broadcast, scheduled_at)
    WHERE broadcast IS NOT NULL;
",
];

/// The rows of a group that went on air.
pub(crate) const ON_AIR_SQL: &str = on_air_sql!();

/// The rows of a group an operator took off before they started.
pub(crate) const CANCELLED_SQL: &str = cancelled_sql!();

/// Add the rows of `{rows}` (a table or a CTE with `loa_airtime`'s columns)
/// to the monthly sums (`{on_air}` and `{cancelled}` are [`ON_AIR_SQL`]
/// and [`CANCELLED_SQL`]: see [`rollup_sql`]). The shipper runs it on the rows its insert really
/// added, in the same transaction, so each row is counted once.
pub const ROLLUP_SQL: &str = "INSERT INTO loa_airtime_month AS m (station_id, month, campaign, \
       bulletin, source, outcome, reason, reason_code, reason_args, reason_more, plays, on_air, \
       cancelled, aired_seconds, heard_seconds, heard_rows, last_row_id, last_title) \
     SELECT station_id, date_trunc('month', scheduled_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, \
            coalesce(campaign, ''), bulletin, source, outcome, coalesce(reason, ''), \
            coalesce(reason_code, ''), coalesce(reason_args, ''), coalesce(reason_more, ''), \
            count(*), {on_air}, {cancelled}, \
            sum(aired_seconds), coalesce(sum(heard_seconds), 0), count(heard_seconds), max(row_id), \
             (array_agg(title ORDER BY row_id DESC))[1] \
     FROM {rows} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 \
     ON CONFLICT (month, station_id, campaign, bulletin, source, outcome, reason, reason_code, \
       reason_args, reason_more) DO UPDATE SET \
       plays = m.plays + excluded.plays, \
       on_air = m.on_air + excluded.on_air, \
       cancelled = m.cancelled + excluded.cancelled, \
       aired_seconds = m.aired_seconds + excluded.aired_seconds, \
       heard_seconds = m.heard_seconds + excluded.heard_seconds, \
       heard_rows = m.heard_rows + excluded.heard_rows, \
       last_title = CASE WHEN excluded.last_row_id > m.last_row_id \
                         THEN excluded.last_title ELSE m.last_title END, \
       last_row_id = greatest(m.last_row_id, excluded.last_row_id)";

/// [`ROLLUP_SQL`] over the rows of `rows`.
pub fn rollup_sql(rows: &str) -> String {
    ROLLUP_SQL
        .replace("{rows}", rows)
        .replace("{on_air}", ON_AIR_SQL)
        .replace("{cancelled}", CANCELLED_SQL)
}

/// The schema version this loa writes.
pub(crate) const VERSION: i32 = MIGRATIONS.len() as i32;

/// Bring the database to [`VERSION`]: under an advisory lock, so stations
/// starting together migrate once. A database already there is only read,
/// so stations may connect with a role that cannot create tables.
pub(crate) async fn migrate(client: &mut Client) -> anyhow::Result<()> {
    let found: i32 = current(client).await?;
    if found == VERSION {
        return Ok(());
    }
    if found > VERSION {
        anyhow::bail!(
            "the province's database has loa schema version {found}, this loa knows {VERSION}: \
             upgrade loa"
        );
    }
    let tx = client.transaction().await?;
    // "loa\0" as in the ledger's application id.
    tx.execute("SELECT pg_advisory_xact_lock(1819238656)", &[])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS loa_schema_version (
            version    integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let found: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM loa_schema_version",
            &[],
        )
        .await?
        .get(0);
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO loa_schema_version (version) VALUES ($1)",
            &[&(n as i32 + 1)],
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(
        from = found,
        to = VERSION,
        "province database schema migrated"
    );
    Ok(())
}

/// The version the database is at; 0 when loa never touched it.
async fn current(client: &Client) -> Result<i32, tokio_postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('loa_schema_version') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    Ok(client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM loa_schema_version",
            &[],
        )
        .await?
        .get(0))
}
