//! `GET /metrics`: what a province's Prometheus scrapes from each station.
//!
//! The engine's counters and state (`crate::engine::Metrics`), then what
//! only the running daemon knows: which station this is
//! (`loa_station_info`, with `[fleet] station_id`), the plan around now, the
//! station file's health, free space under `data_dir`, and the process's CPU
//! and memory (Prometheus' usual `process_*` names, read from `/proc/self`).
//! Every name is listed in README ("Metrics"); names are kept stable, new
//! ones are added.

use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};

use super::AppState;
use crate::engine::metrics::{escape, family, sample};
use crate::schedule;

/// The whole exposition.
pub(super) fn render(s: &AppState) -> String {
    let status = s.handle.status.borrow().clone();
    let station = s.current.get();
    let now = Utc::now();
    let mut out = s.handle.metrics.render(&status);
    let o = &mut out;

    family(
        o,
        "loa_station_info",
        "gauge",
        "Which station this is: [fleet] station_id, its name and loa's version (always 1).",
    );
    let _ = writeln!(
        o,
        "loa_station_info{{station=\"{}\",name=\"{}\",version=\"{}\"}} 1",
        escape(&station.fleet.station_id),
        escape(&station.name),
        env!("CARGO_PKG_VERSION")
    );
    family(o, "loa_build_info", "gauge", "loa's build (always 1).");
    let _ = writeln!(
        o,
        "loa_build_info{{version=\"{}\",profile=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );

    // The plan from a day back to a day ahead: the planned instant just
    // passed (an alert compares it with the last item aired) and the next.
    let plan = schedule::schedule(&station, now - Duration::days(1), now + Duration::days(1));
    let last_planned = plan.iter().map(|o| o.at).rfind(|at| *at <= now);
    let next_planned = plan.iter().map(|o| o.at).find(|at| *at > now);
    let next_queued = status.queue_next.as_ref().map(|q| q.at);
    let next_due = next_planned
        .map(|t| t.with_timezone(&Utc))
        .into_iter()
        .chain(next_queued)
        .min();
    if let Some(t) = last_planned {
        sample(
            o,
            "loa_last_planned_timestamp_seconds",
            "gauge",
            "The latest instant the plan had an item due, in the last 24 hours (Unix time).",
            seconds(t),
        );
    }
    if let Some(t) = next_due {
        sample(
            o,
            "loa_next_item_due_timestamp_seconds",
            "gauge",
            "When the next item is due, planned or queued, in the next 24 hours (Unix time).",
            seconds(t),
        );
    }

    let f = s.current.file();
    sample(
        o,
        "loa_station_file_last_good",
        "gauge",
        "1 when the station file has errors and the last good copy runs.",
        u8::from(f.running == crate::current::Running::LastGood),
    );
    sample(
        o,
        "loa_station_file_errors",
        "gauge",
        "Errors that keep the station file from running (at the last load or reload).",
        f.errors,
    );
    sample(
        o,
        "loa_bulletins_failing",
        "gauge",
        "Bulletins whose audio is missing or would not play.",
        f.failing.len(),
    );

    if let Some((free, size)) = crate::control::files::disk_space(&station.data_dir) {
        sample(
            o,
            "loa_data_dir_free_bytes",
            "gauge",
            "Free space for loa on the filesystem of data_dir (the ledger's).",
            free,
        );
        sample(
            o,
            "loa_data_dir_size_bytes",
            "gauge",
            "Size of the filesystem of data_dir.",
            size,
        );
    }

    tts_cache(o, s, &station);

    if station.fleet.postgres.is_some() {
        fleet(o, &s.fleet.get());
    }
    if let Some(u) = s.link.view() {
        upstream(o, &u);
    }

    let p = process();
    if let Some(cpu) = p.cpu_seconds {
        sample(
            o,
            "process_cpu_seconds_total",
            "counter",
            "CPU time of the daemon, user and system, in seconds.",
            format!("{cpu:.2}"),
        );
    }
    if let Some(rss) = p.resident_bytes {
        sample(
            o,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the daemon.",
            rss,
        );
    }
    family(
        o,
        "process_start_time_seconds",
        "gauge",
        "When the daemon started (Unix time).",
    );
    let started = now - Duration::from_std(s.started.elapsed()).unwrap_or_default();
    let _ = writeln!(o, "process_start_time_seconds {}", seconds(started));
    out
}

/// The copy to the province's database (`[fleet] postgres` set).
fn fleet(o: &mut String, p: &crate::fleet::Shipping) {
    if let Some(n) = p.rows_waiting {
        sample(
            o,
            "loa_fleet_rows_waiting",
            "gauge",
            "Closed airtime rows not yet copied to the province's database.",
            n,
        );
    }
    if let Some(t) = p.last_shipped {
        sample(
            o,
            "loa_fleet_last_shipped_timestamp_seconds",
            "gauge",
            "When rows last reached the province's database (Unix time).",
            seconds(t),
        );
    }
    sample(
        o,
        "loa_fleet_ship_failures_total",
        "counter",
        "Attempts to copy rows to the province's database that failed, since the daemon started.",
        p.failures,
    );
}

/// The link to the province's broker (`[upstream]` set).
fn upstream(o: &mut String, u: &crate::control::link::LinkView) {
    sample(
        o,
        "loa_upstream_connected",
        "gauge",
        "1 while connected to the province's MQTT broker.",
        u8::from(u.connected),
    );
    if let Some(t) = u.last_message {
        sample(
            o,
            "loa_upstream_last_message_timestamp_seconds",
            "gauge",
            "When the province's broker last sent a message (Unix time).",
            seconds(t),
        );
    }
    sample(
        o,
        "loa_upstream_refused_total",
        "counter",
        "Bulletins refused (unsigned, unknown key, altered, expired, already seen) since the daemon started.",
        u.refused,
    );
}

fn seconds<Tz: chrono::TimeZone>(t: DateTime<Tz>) -> String {
    format!("{:.3}", t.timestamp_millis() as f64 / 1e3)
}

/// The cache of typed notices read aloud, `data_dir/tts`.
fn tts_cache(o: &mut String, s: &AppState, station: &crate::config::Station) {
    let dir = station.data_dir.join(crate::config::TTS_DIR);
    sample(
        o,
        "loa_tts_cache_bytes",
        "gauge",
        "Bytes of typed notices read aloud and kept in data_dir/tts.",
        s.notices.cache_bytes(&dir),
    );
    sample(
        o,
        "loa_tts_cache_cap_bytes",
        "gauge",
        "The most data_dir/tts may hold ([tts] cache_mb).",
        station.tts.cache_bytes(),
    );
    sample(
        o,
        "loa_tts_evictions_total",
        "counter",
        "Notices removed from data_dir/tts to keep it under [tts] cache_mb.",
        s.notices.evictions(),
    );
}

struct Process {
    cpu_seconds: Option<f64>,
    resident_bytes: Option<u64>,
}

/// This process's CPU time and resident memory, from `/proc/self`.
fn process() -> Process {
    // SAFETY: sysconf only reads a constant of the system.
    let (tick, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    let statm = std::fs::read_to_string("/proc/self/statm").ok();
    Process {
        cpu_seconds: stat
            .as_deref()
            .and_then(cpu_ticks)
            .filter(|_| tick > 0)
            .map(|t| t as f64 / tick as f64),
        resident_bytes: statm
            .as_deref()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .filter(|_| page > 0)
            .map(|pages| pages * page as u64),
    }
}

/// utime + stime of a `/proc/PID/stat` line, in clock ticks. The command
/// name (in parentheses) may hold spaces: fields are counted after it.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    // Fields 14 and 15 of proc(5); `rest` starts at field 3.
    let utime: u64 = f.nth(11)?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_skip_a_command_name_with_spaces() {
        let line = "4242 (loa run (x)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 \
                    9 0 123456 1000000 2000 18446744073709551615";
        assert_eq!(cpu_ticks(line), Some(325));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn fleet_series_are_left_out_until_known() {
        let mut o = String::new();
        fleet(&mut o, &crate::fleet::Shipping::default());
        assert!(o.contains("\nloa_fleet_ship_failures_total 0\n"), "{o}");
        assert!(!o.contains("loa_fleet_rows_waiting"), "{o}");
        let mut o = String::new();
        let p = crate::fleet::Shipping {
            rows_waiting: Some(7),
            last_shipped: DateTime::from_timestamp(1_700_000_000, 0),
            failures: 3,
            last_error: None,
        };
        fleet(&mut o, &p);
        assert!(o.contains("\nloa_fleet_rows_waiting 7\n"), "{o}");
        assert!(
            o.contains("\nloa_fleet_last_shipped_timestamp_seconds 1700000000.000\n"),
            "{o}"
        );
        assert!(o.contains("\nloa_fleet_ship_failures_total 3\n"), "{o}");
    }

    #[test]
    fn this_process_is_measured() {
        let p = process();
        assert!(p.cpu_seconds.is_some_and(|c| c >= 0.0));
        assert!(p.resident_bytes.is_some_and(|r| r > 1_000_000));
    }
}
