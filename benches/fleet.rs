//! The province's report on a province's volume: a central `loa_airtime`
//! generated in a throwaway PostgreSQL (Debian's, as in tests/postgres.rs)
//! at 2,000 stations × 50 rows a day, then `loa report --postgres` for one
//! month (October 2026), timed, with the plan of its main query.
//!
//! `LOA_BENCH_FLEET_DAYS` (default 92: September to November 2026) sets how
//! many days of rows are generated; the report's month is always all
//! there. 365 gives the full year (about 36.5 million rows, some
//! 12 GB on disk while it runs). The monthly sums, which the whole-month
//! report reads, always hold a full year (January 2026 to January 2027),
//! the months without rows filled with October's sums. Goal: the month's
//! report under 1 s.

#[path = "../tests/common/mod.rs"]
mod common;
use common::postgres;

use std::time::{Duration, Instant};

use loa::report::Format;
use postgres::Postgres;

const STATIONS: u32 = 2_000;
const ROWS_PER_DAY: u32 = 50;
const GOAL: Duration = Duration::from_secs(1);

fn main() {
    let days: u32 = std::env::var("LOA_BENCH_FLEET_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(92)
        .clamp(31, 366);
    let pg = Postgres::start();
    // Room to cache the month's index, as a province's server has.
    pg.psql("ALTER SYSTEM SET shared_buffers = '1GB'");
    pg.psql("ALTER SYSTEM SET max_wal_size = '8GB'");
    pg.psql("ALTER SYSTEM SET work_mem = '64MB'");
    pg.stop();
    pg.start_again();
    let url = pg.url();

    // The schema as loa makes it (the first report migrates).
    let t = Instant::now();
    loa::cli::fleet_report_text(&url, csv_rows(None, None), None).expect("empty report");
    eprintln!("schema made in {:.2?}", t.elapsed());

    // Days before October first, so October sits in the middle of the range.
    let before = ((days - 31) / 2).min(days - 31);
    let t = Instant::now();
    pg.psql(&format!(
        "INSERT INTO loa_station (station_id, name, timezone) \
         SELECT 'st' || lpad(s::text, 4, '0'), 'Đài xã số ' || s, 'Asia/Ho_Chi_Minh' \
         FROM generate_series(1, {STATIONS}) s;
         INSERT INTO loa_campaign (station_id, campaign, title, target_minutes, position) \
         SELECT 'st' || lpad(s::text, 4, '0'), 'c' || c, 'Chiến dịch ' || c, 300, c \
         FROM generate_series(1, {STATIONS}) s, generate_series(0, 7) c;"
    ));
    // One day per statement keeps each transaction's memory small.
    for d in 0..days {
        pg.psql(&format!(
            "INSERT INTO loa_airtime (station_id, row_id, occurrence, bulletin, title, campaign, \
               priority, source, file, scheduled_at, started_at, ended_at, planned_seconds, \
               aired_seconds, outcome, reason) \
             SELECT 'st' || lpad(s::text, 4, '0'), {d} * {ROWS_PER_DAY} + k, \
               'b' || (k % 40) || '@' || {d} || '-' || k, 'b' || (k % 40), 'Bản tin ' || (k % 40), \
               CASE WHEN k % 9 = 0 THEN NULL ELSE 'c' || (k % 8) END, 'normal', \
               CASE WHEN k % 20 = 0 THEN 'relay' WHEN k % 31 = 0 THEN 'operator' ELSE 'schedule' END, \
               'x.mp3', t, t, t + interval '2 min', 120, \
               CASE WHEN o < 85 THEN 120 WHEN o < 90 THEN 45 ELSE 0 END, \
               CASE WHEN o < 85 THEN 'completed' WHEN o < 90 THEN 'interrupted' \
                    WHEN o < 94 THEN 'missed' WHEN o < 97 THEN 'skipped' ELSE 'failed' END, \
               CASE WHEN o < 85 THEN NULL WHEN o < 90 THEN 'daemon stopped' \
                    WHEN o < 94 THEN 'past its start window' WHEN o < 97 THEN 'quiet hours' \
                    ELSE 'device error' END \
             FROM generate_series(1, {STATIONS}) s, generate_series(1, {ROWS_PER_DAY}) k, \
               LATERAL (SELECT timestamptz '2026-10-01 05:00+07' + ({d} - {before}) * interval '1 day' \
                               + k * interval '17 min' AS t, (s * 7 + k * 13 + {d} * 3) % 100 AS o) x"
        ));
    }
    let rows = u64::from(STATIONS) * u64::from(ROWS_PER_DAY) * u64::from(days);
    eprintln!(
        "generated {rows} rows ({days} days × {STATIONS} stations × {ROWS_PER_DAY}) in {:.1?}",
        t.elapsed()
    );
    // The monthly sums, as the shipper keeps them row batch by row batch.
    let t = Instant::now();
    pg.psql(&loa::fleet::rollup_sql("loa_airtime"));
    // The whole-month report reads only the monthly sums: give them the
    // issue's full year (October's sums again for each month without
    // rows), as 36.5 million rows would have made them.
    pg.psql(
        "INSERT INTO loa_airtime_month \
         SELECT m.station_id, (date '2026-10-01' + n * interval '1 month')::date, m.campaign, \
                m.bulletin, m.source, m.outcome, m.reason, m.plays, m.aired_seconds, \
                m.last_row_id, m.last_title, m.reason_code, m.reason_args, m.reason_more, \
                m.on_air, m.cancelled \
         FROM loa_airtime_month m, generate_series(-9, 2) n \
         WHERE m.month = date '2026-10-01' AND n <> 0 \
         ON CONFLICT DO NOTHING",
    );
    eprintln!("monthly sums made in {:.1?}", t.elapsed());
    let t = Instant::now();
    // As autovacuum would have by then: statistics and the visibility map
    // that index-only scans need.
    pg.psql("VACUUM ANALYZE loa_airtime");
    pg.psql("VACUUM ANALYZE loa_airtime_month");
    eprintln!("VACUUM ANALYZE in {:.1?}", t.elapsed());
    eprintln!(
        "table {}, indexes {}",
        pg.psql("SELECT pg_size_pretty(pg_table_size('loa_airtime'))"),
        pg.psql("SELECT pg_size_pretty(pg_indexes_size('loa_airtime'))")
    );
    eprintln!(
        "monthly sums: {} rows, {}",
        pg.psql("SELECT count(*) FROM loa_airtime_month"),
        pg.psql("SELECT pg_size_pretty(pg_total_relation_size('loa_airtime_month'))")
    );

    let from = "2026-10-01";
    let to = "2026-10-31";
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let text = loa::cli::fleet_report_text(&url, csv_rows(Some(from), Some(to)), None)
            .expect("report");
        times.push(t.elapsed());
        size = text.len();
    }
    let first = times[0];
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "fleet report, October 2026, {STATIONS} stations, {} rows in the month, {rows} in the table: \
         first run {first:.2?}, median of 5 {median:.2?} (goal < {GOAL:?}) — CSV of {size} bytes",
        u64::from(STATIONS) * u64::from(ROWS_PER_DAY) * 31
    );
    let explain = |sql: &str, from: &str, to: &str| {
        pg.psql(&format!(
            "SET jit = off; SET work_mem = '256MB'; PREPARE q(text, text, text) AS {sql};
             EXPLAIN (ANALYZE, BUFFERS) EXECUTE q('{from}', '{to}', NULL);"
        ))
    };
    println!(
        "plan, whole month (monthly sums):\n{}",
        explain(loa::fleet::REPORT_MONTHS_SQL, "2026-10-01", "2026-11-01")
    );

    // A period that is not whole months reads the rows themselves.
    let t = Instant::now();
    loa::cli::fleet_report_text(&url, csv_rows(Some("2026-10-02"), Some(to)), None)
        .expect("report");
    println!(
        "fleet report, 2 to 31 October 2026 (not whole months: from the rows): {:.2?}",
        t.elapsed()
    );
    println!(
        "plan, 2 to 31 October (rows):\n{}",
        explain(
            loa::fleet::REPORT_SQL,
            "2026-10-02T00:00:00+07:00",
            "2026-11-01T00:00:00+07:00"
        )
    );
    if median > GOAL {
        println!("GOAL MISSED: the month's report took {median:.2?}");
    }
}

/// The whole province's rows over a period, as CSV.
fn csv_rows<'a>(from: Option<&'a str>, to: Option<&'a str>) -> loa::cli::Rows<'a> {
    loa::cli::Rows {
        from,
        to,
        campaign: None,
        format: Format::Csv,
    }
}
