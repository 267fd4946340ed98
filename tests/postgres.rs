//! A province's PostgreSQL (Debian's server, a cluster made and started by
//! the test on loopback) and three real `loa run` daemons with `[fleet]
//! postgres`: their ledgers' closed rows reach it in full and once each,
//! across a station killed with SIGKILL mid-shipment and the database
//! stopped for a while with new rows written meanwhile; then the province's
//! report (`loa report --postgres`) equals the sum of the stations' own.

use crate::common;
use crate::common::postgres;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use common::{free_port, get_with_cookie, sign_in, Daemon};
use loa::config::Priority;
use loa::ledger::{Airing, Ledger, Outcome, Settled, Source};
use loa::reason::{Reason, Reasons};
use postgres::Postgres;
use serde_json::Value;

const TZ: chrono_tz::Tz = chrono_tz::Asia::Ho_Chi_Minh;

struct Station {
    dir: tempfile::TempDir,
    id: String,
    addr: SocketAddr,
    /// Every row `write_rows` wrote: (when, outcome, aired seconds, taken
    /// off by an operator), so the test knows the report's answers without
    /// asking loa.
    written: std::cell::RefCell<Vec<Written>>,
}

/// A row written: when, outcome, aired seconds, taken off by an operator.
type Written = (DateTime<Utc>, Outcome, f64, bool);

/// The report's counts, in the order [`known_totals`] gives them.
const COUNTS: [&str; 7] = [
    "plays",
    "completed",
    "interrupted",
    "failed",
    "missed",
    "skipped",
    "cancelled",
];

/// What a report over `from..to` (local dates, inclusive) must say of the
/// rows written: [`COUNTS`] and the seconds aired. Plays are what went on
/// air (here: completed, interrupted, and failed after starting, which no
/// row does); an operator's cancellation counts only as cancelled.
fn known_totals(stations: &[Station], from: (u32, u32), to: (u32, u32)) -> ([u64; 7], f64) {
    let day = |(m, d): (u32, u32)| chrono::NaiveDate::from_ymd_opt(2026, m, d).unwrap();
    let (first, last) = (day(from), day(to));
    let mut n = [0u64; 7];
    let mut seconds = 0.0;
    for s in stations {
        for (at, outcome, aired, cancelled) in s.written.borrow().iter() {
            let local = at.with_timezone(&TZ).date_naive();
            if local < first || local > last {
                continue;
            }
            if matches!(outcome, Outcome::Completed | Outcome::Interrupted) || *aired > 0.0 {
                n[0] += 1;
            }
            n[match (outcome, cancelled) {
                (_, true) => 6,
                (Outcome::Completed, _) => 1,
                (Outcome::Interrupted, _) => 2,
                (Outcome::Failed, _) => 3,
                (Outcome::Missed, _) => 4,
                (Outcome::Skipped, _) => 5,
            }] += 1;
            seconds += aired;
        }
    }
    (n, seconds)
}

impl Station {
    fn new(id: &str, url: &str) -> Station {
        let dir = tempfile::tempdir().unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        std::fs::write(
            dir.path().join("station.toml"),
            format!(
                r#"
[station]
name = "Đài xã {id}"
data_dir = "var"
[output]
kind = "null"
[api]
listen = "{addr}"
[fleet]
station_id = "{id}"
postgres = "{url}"
[[campaign]]
id = "tiem-chung"
title = "Tiêm chủng mở rộng"
target_minutes = 600
[[campaign]]
id = "phong-chay"
title = "Phòng cháy"
from = "2026-10-01"
to = "2026-10-31"
target_minutes = 310
"#
            ),
        )
        .unwrap();
        Station {
            dir,
            id: id.to_string(),
            addr,
            written: Default::default(),
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("station.toml")
    }

    fn ledger_path(&self) -> PathBuf {
        self.dir.path().join("var").join("airtime.db")
    }

    /// Write `n` closed rows, the `k`-th batch of this station's, varied in
    /// campaign, outcome, reason and source. Aired seconds are multiples of
    /// a half, so sums are exact whatever order they are added in.
    fn write_rows(&self, n: usize, k: usize) {
        let mut l = Ledger::open(&self.ledger_path(), TZ).unwrap();
        let seed = self.id.len() * 7 + k * 13;
        let rows = (0..n).map(|i| {
            let j = i + seed;
            let when: DateTime<Utc> = TZ
                .with_ymd_and_hms(2026, 10, 1 + (j % 31) as u32, 6 + (j % 12) as u32, 0, 0)
                .unwrap()
                .with_timezone(&Utc)
                + chrono::Duration::seconds((k * 100_000 + i) as i64);
            let bulletin = format!("b{}", j % 5);
            let campaign = match j % 3 {
                0 => Some("tiem-chung".to_string()),
                1 => Some("phong-chay".to_string()),
                _ => None,
            };
            let (outcome, aired, reason) = match j % 7 {
                0 => (Outcome::Missed, 0.0, Some(free("loa tắt"))),
                1 => (
                    Outcome::Interrupted,
                    30.5,
                    Some(Reason::DaemonStopped.into()),
                ),
                2 => (Outcome::Skipped, 0.0, Some(Reason::QuietHours.into())),
                // Half of these were taken off the queue by an operator.
                3 if j % 14 == 10 => (Outcome::Skipped, 0.0, Some(Reason::Dequeued.into())),
                3 => (Outcome::Failed, 0.0, None),
                _ => (Outcome::Completed, 60.0 + (j % 4) as f64 * 0.5, None),
            };
            let cancelled = reason
                .as_ref()
                .is_some_and(|r: &Reasons| r.main == Reason::Dequeued);
            self.written
                .borrow_mut()
                .push((when, outcome, aired, cancelled));
            Settled {
                airing: Airing {
                    occurrence: format!("{bulletin}@{k}-{i}"),
                    title: format!("Bản tin {bulletin}"),
                    bulletin,
                    campaign,
                    program: None,
                    priority: Priority::Normal,
                    source: if j.is_multiple_of(11) {
                        Source::Operator
                    } else {
                        Source::Schedule
                    },
                    file: "x.mp3".into(),
                    scheduled_at: when,
                    planned_seconds: 62.0,
                    requested_by: None,
                },
                started_at: (aired > 0.0).then_some(when),
                ended_at: None,
                aired_seconds: aired,
                outcome,
                reason,
            }
        });
        l.record_all(rows).unwrap();
    }

    /// (row id, occurrence, aired seconds) of every closed local row.
    fn closed(&self) -> Vec<String> {
        let l = Ledger::open_read_only(&self.ledger_path(), TZ).unwrap();
        let mut rows = l.rows(&Default::default()).unwrap();
        rows.retain(|r| r.outcome.is_some());
        rows.sort_by_key(|r| r.id);
        rows.into_iter()
            .map(|r| format!("{}|{}|{}", r.id, r.occurrence, r.aired_seconds))
            .collect()
    }

    /// The station's own report (JSON) over `period`.
    fn own_report(&self, period: &[&str]) -> Value {
        let config = self.config();
        let mut args = vec![
            "report",
            "--config",
            config.to_str().unwrap(),
            "--format",
            "json",
        ];
        args.extend(period);
        serde_json::from_str(&loa(&args)).unwrap()
    }

    fn start(&self) -> Daemon {
        Daemon::start(&self.config(), self.addr)
    }
}

fn central(pg: &Postgres, id: &str) -> Vec<String> {
    let out = pg.psql(&format!(
        "SELECT row_id || '|' || occurrence || '|' || aired_seconds FROM loa_airtime \
         WHERE station_id = '{id}' ORDER BY row_id"
    ));
    out.lines().map(str::to_string).collect()
}

fn shipped(pg: &Postgres, id: &str) -> i64 {
    pg.try_psql(&format!(
        "SELECT coalesce((SELECT last_row_id FROM loa_station WHERE station_id = '{id}'), -1)"
    ))
    .and_then(|v| v.parse().ok())
    .unwrap_or(-1)
}

fn loa(args: &[&str]) -> String {
    let out = Command::new(common::bin::loa())
        .args(args)
        .env_remove("LOA_POSTGRES")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "loa {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn stations_ship_every_closed_row_once_through_crashes_and_outages() {
    let pg = Postgres::start();
    let url = pg.url();
    let stations: Vec<Station> = ["31234", "31237", "dai-xa-c"]
        .iter()
        .map(|id| Station::new(id, &url))
        .collect();
    // The first one has many rows, so its shipping takes many batches and
    // a SIGKILL can land in the middle of it.
    stations[0].write_rows(30_000, 0);
    stations[1].write_rows(1_200, 0);
    stations[2].write_rows(700, 0);

    let mut first = Some(stations[0].start());
    // The log line follows the batch's commit: wait for it, or the kill
    // can land between the two and the log would say nothing was copied.
    wait_until(
        "the first batches of station 1",
        Duration::from_secs(30),
        || {
            let d = first.as_ref().unwrap();
            shipped(&pg, &stations[0].id) > 0 && d.log_text().contains("airtime copied")
        },
    );
    let at_kill = shipped(&pg, &stations[0].id);
    // SIGKILL: no clean shutdown, the mark may lag the database.
    let mut d = first.take().unwrap();
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    let log = d.log_text();
    drop(d);
    eprintln!("station 1 killed after shipping up to row {at_kill} of 30000");

    let others: Vec<Daemon> = stations[1..].iter().map(Station::start).collect();
    wait_until("stations 2 and 3 shipped", Duration::from_secs(30), || {
        stations[1..]
            .iter()
            .all(|s| central(&pg, &s.id).len() == s.closed().len())
    });

    // The link goes down; the stations keep writing rows meanwhile, and
    // each fails to ship them at least once before it comes back.
    let failures =
        |d: &Daemon| common::metric(d.addr, "loa_fleet_ship_failures_total").unwrap_or(0.0);
    let before: Vec<f64> = others.iter().map(failures).collect();
    pg.stop();
    stations[1].write_rows(300, 1);
    stations[2].write_rows(200, 1);
    wait_until(
        "both stations failing to ship",
        Duration::from_secs(60),
        || others.iter().zip(&before).all(|(d, b)| failures(d) > *b),
    );
    pg.start_again();
    let d1 = stations[0].start();

    for s in &stations {
        let want = s.closed();
        let t = Instant::now();
        while central(&pg, &s.id).len() < want.len() {
            if t.elapsed() > Duration::from_secs(60) {
                for d in others.iter().chain([&d1]) {
                    eprintln!("{}", d.log_text());
                }
                let got = central(&pg, &s.id);
                let mark = Ledger::open_read_only(&s.ledger_path(), TZ)
                    .unwrap()
                    .shipped_mark()
                    .unwrap();
                let missing: Vec<&String> =
                    want.iter().filter(|w| !got.contains(w)).take(5).collect();
                panic!(
                    "station {} did not catch up in 60 s: {} central rows (last {:?}), {} local \
                     (last {:?}), mark {mark}, missing e.g. {missing:?}",
                    s.id,
                    got.len(),
                    got.last(),
                    want.len(),
                    want.last()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let got = central(&pg, &s.id);
        let first_diff = got.iter().zip(&want).position(|(a, b)| a != b);
        assert!(
            got.len() == want.len() && first_diff.is_none(),
            "station {}: {} central rows, {} local; first difference at {first_diff:?}",
            s.id,
            got.len(),
            want.len()
        );
    }
    let texts: Vec<String> = others.iter().chain([&d1]).map(Daemon::log_text).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("cannot copy airtime to the province's database")),
        "the outage was logged: {texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("reachable again")),
        "the recovery was logged: {texts:?}"
    );
    assert!(log.contains("airtime copied"), "{log}");
    drop(others);
    drop(d1);

    // A mark that lags the database (a crash between the two commits) makes
    // rows be sent again: they are not stored twice.
    let s3 = &stations[2];
    let before = central(&pg, &s3.id);
    Ledger::open_beside(&s3.ledger_path(), TZ)
        .unwrap()
        .set_shipped_mark(0)
        .unwrap();
    let d3 = s3.start();
    let last: i64 = before
        .last()
        .unwrap()
        .split('|')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    wait_until(
        "station 3 sent its rows again",
        Duration::from_secs(30),
        || {
            Ledger::open_read_only(&s3.ledger_path(), TZ)
                .unwrap()
                .shipped_mark()
                .unwrap()
                == last
        },
    );
    assert!(d3.log_text().contains("new=0"), "{}", d3.log_text());
    drop(d3);
    assert_eq!(central(&pg, &s3.id), before);

    // The province's report is the sum of the stations' own.
    let period = ["--from", "2026-10-01", "--to", "2026-10-31"];
    let mut args = vec!["report", "--postgres", &url, "--format", "json"];
    args.extend(period);
    let fleet: Value = serde_json::from_str(&loa(&args)).unwrap();
    let parts = fleet["stations"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    let mut sum = [0u64; 7];
    let mut seconds = 0.0;
    for (s, part) in stations.iter().zip(parts) {
        assert_eq!(part["station_id"], s.id.as_str());
        let own = s.own_report(&period);
        assert_eq!(part["report"], own, "station {}", s.id);
        for (i, k) in COUNTS.iter().enumerate() {
            sum[i] += own["total"][k].as_u64().unwrap();
        }
        seconds += own["total"]["aired_seconds"].as_f64().unwrap();
        let by_source: u64 = part["by_source"]
            .as_object()
            .unwrap()
            .values()
            .map(|c| c["plays"].as_u64().unwrap())
            .sum();
        assert_eq!(by_source, own["total"]["plays"].as_u64().unwrap());
    }
    let total = &fleet["total"]["report"]["total"];
    for (i, k) in COUNTS.iter().enumerate() {
        assert_eq!(total[k].as_u64().unwrap(), sum[i], "{k}");
    }
    assert_eq!(total["aired_seconds"].as_f64().unwrap(), seconds);
    // And what the rows written say, counted here, not by loa.
    let (known, known_seconds) = known_totals(&stations, (10, 1), (10, 31));
    assert_eq!(sum, known, "October's counts as written");
    assert_eq!(seconds, known_seconds, "October's seconds as written");
    let tiem = &fleet["total"]["report"]["campaigns"][0];
    assert_eq!(tiem["campaign"], "tiem-chung");
    assert_eq!(tiem["target_minutes"], 1800.0, "three stations' targets");
    let missed = fleet["total"]["not_aired"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["outcome"] == "missed")
        .unwrap();
    assert_eq!(missed["reason"], "loa tắt");
    assert_eq!(missed["count"].as_u64().unwrap(), sum[4]);
    assert!(sum[6] > 0, "some rows cancelled: {sum:?}");
    let why = |outcome: &str| -> Value {
        fleet["total"]["not_aired"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["outcome"] == outcome)
            .unwrap_or_else(|| panic!("{outcome} in {fleet:#}"))
            .clone()
    };
    let cancelled = why("cancelled");
    assert_eq!(cancelled["reason_code"], "dequeued");
    assert_eq!(cancelled["reason"], "removed from the queue by an operator");
    assert_eq!(cancelled["reason_vi"], "người vận hành bỏ khỏi hàng chờ");
    assert_eq!(cancelled["count"].as_u64().unwrap(), sum[6]);
    let quiet = why("skipped");
    assert_eq!(quiet["reason_code"], "quiet_hours");
    assert_eq!(quiet["count"].as_u64().unwrap(), sum[5]);
    // The province receives reasons as data, no English text.
    assert_eq!(
        pg.psql("SELECT count(*) FROM loa_airtime WHERE reason IS NOT NULL"),
        "0"
    );
    assert_eq!(
        pg.psql(
            "SELECT DISTINCT reason_code || ' ' || reason_args FROM loa_airtime \
             WHERE reason_code IN ('quiet_hours', 'daemon_stopped') ORDER BY 1"
        ),
        "daemon_stopped {}\nquiet_hours {}"
    );

    // A period that is not whole months is summed from the rows: the same.
    // And the whole ledger, which spans two months (several monthly sums
    // per bulletin and outcome).
    let odd: &[&str] = &[
        "--from",
        "2026-10-03",
        "--to",
        "2026-10-20T12:00:00+07:00",
        "--campaign",
        "tiem-chung",
    ];
    // A period across the end of a campaign's window: its target is
    // pro-rated to the days inside (16–31 October: 16 of 31 days), the same
    // in each station's report and the province's, which sums them.
    let across: &[&str] = &[
        "--from",
        "2026-10-16",
        "--to",
        "2026-11-15",
        "--campaign",
        "phong-chay",
    ];
    let mut args = vec!["report", "--postgres", &url, "--format", "json"];
    args.extend(across);
    let fleet: Value = serde_json::from_str(&loa(&args)).unwrap();
    let phong = &fleet["total"]["report"]["campaigns"][0];
    assert_eq!(phong["campaign"], "phong-chay");
    assert_eq!(
        phong["target_minutes"], 480.0,
        "three stations' 160 minutes"
    );
    let december = ["--from", "2026-12-01", "--to", "2026-12-31"];
    let mut args = vec!["report", "--postgres", &url, "--format", "json"];
    args.extend(december);
    let fleet: Value = serde_json::from_str(&loa(&args)).unwrap();
    let phong = fleet["total"]["report"]["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["campaign"] == "phong-chay")
        .unwrap()
        .clone();
    assert!(
        phong["target_minutes"].is_null(),
        "outside its window: {phong}"
    );
    for period in [odd, across, &[]] {
        let mut args = vec!["report", "--postgres", &url, "--format", "json"];
        args.extend(period);
        let fleet: Value = serde_json::from_str(&loa(&args)).unwrap();
        for (s, part) in stations.iter().zip(fleet["stations"].as_array().unwrap()) {
            let own = s.own_report(period);
            assert_eq!(part["report"], own, "station {}, {period:?}", s.id);
        }
    }
    assert_eq!(
        pg.psql("SELECT count(DISTINCT month) FROM loa_airtime_month"),
        "2",
        "the rows span two months"
    );

    let mut args = vec!["report", "--postgres", &url, "--format", "csv"];
    args.extend(period);
    let csv = loa(&args);
    assert!(csv.starts_with("\u{feff}Mã đài,Đài,Từ,"), "{csv}");
    assert!(csv.contains("(toàn tỉnh),Toàn tỉnh,"), "{csv}");
    assert!(csv.contains(",nguồn,,,operator,người vận hành,"), "{csv}");
    let table = loa(&["report", "--postgres", &url]);
    assert!(
        table.contains("=== Đài Đài xã 31234 (mã 31234) ==="),
        "{table}"
    );
    assert!(table.contains("Không phát trọn và lý do:"), "{table}");
    assert!(
        table.contains("  đã huỷ: người vận hành bỏ khỏi hàng chờ: "),
        "{table}"
    );
    assert!(table.contains("  bỏ qua: giờ yên tĩnh: "), "{table}");
}

/// A central host (a station file with `[fleet] postgres`) answers the
/// province's report through the API and the report page, the same as
/// `loa report --postgres`; `/metrics` and the status show the copy's
/// progress. Without `[fleet] postgres` the province's scope is refused
/// with what to set.
#[test]
fn a_central_host_answers_the_province_report_and_shows_shipping_lag() {
    let pg = Postgres::start();
    let url = pg.url();
    let stations: Vec<Station> = ["31240", "31243"]
        .iter()
        .map(|id| Station::new(id, &url))
        .collect();
    let (token, sha) = common::new_token("tinh", "viewer");
    let grant = format!("[[api.token]]\nname = \"tinh\"\nrole = \"viewer\"\nsha256 = \"{sha}\"\n");
    let mut text = std::fs::read_to_string(stations[0].config()).unwrap();
    text.push_str(&grant);
    std::fs::write(stations[0].config(), text).unwrap();
    let t = Some(token.as_str());
    stations[0].write_rows(120, 0);
    stations[1].write_rows(80, 0);
    let pass = "mat-khau-dai\n";
    let add = Command::new(common::bin::loa())
        .args([
            "user",
            "add",
            "tinh",
            "--role",
            "viewer",
            "--password-stdin",
        ])
        .args(["--config", stations[0].config().to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(pass.as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(add.success());
    let daemons: Vec<Daemon> = stations.iter().map(Station::start).collect();
    // `shipped` first: it reads nothing before the first daemon made the
    // tables (`central` would fail on a database not migrated yet).
    wait_until("both stations shipped", Duration::from_secs(30), || {
        stations
            .iter()
            .all(|s| shipped(&pg, &s.id) >= 0 && central(&pg, &s.id).len() == s.closed().len())
    });
    let host = &daemons[0];

    // The lag, caught up: nothing waits, the last copy is recent.
    let mut metrics = String::new();
    let t0 = Instant::now();
    while !metrics.contains("\nloa_fleet_rows_waiting 0\n") {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "waited 10 s for the copy counted: {}",
            metrics
                .lines()
                .filter(|l| l.starts_with("loa_fleet") || l.starts_with("loa_station"))
                .collect::<Vec<_>>()
                .join("; ")
        );
        std::thread::sleep(Duration::from_millis(100));
        metrics = common::request(host.addr, "GET", "/metrics", None, None)
            .unwrap()
            .text();
    }
    assert!(
        metrics.contains("\nloa_fleet_ship_failures_total 0\n"),
        "{metrics}"
    );
    let shipped_at: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("loa_fleet_last_shipped_timestamp_seconds "))
        .expect("last shipped exported")
        .parse()
        .unwrap();
    assert!((Utc::now().timestamp() as f64 - shipped_at).abs() < 120.0);
    let status = common::request(host.addr, "GET", "/api/v1/status", t, None)
        .unwrap()
        .json();
    assert_eq!(status["fleet"]["station_id"], "31240", "{status}");
    assert_eq!(status["fleet"]["rows_waiting"], 0, "{status}");
    assert!(status["fleet"]["last_shipped_at"].is_string(), "{status}");

    // The API's province report is `loa report --postgres`, byte for byte.
    let period = "from=2026-10-01&to=2026-10-31";
    let mut args = vec!["report", "--postgres", &url, "--format", "csv"];
    args.extend(["--from", "2026-10-01", "--to", "2026-10-31"]);
    let cli_csv = loa(&args);
    let api_csv = common::request(
        host.addr,
        "GET",
        &format!("/api/v1/report?scope=province&{period}&format=csv"),
        t,
        None,
    )
    .unwrap();
    assert_eq!(api_csv.status, 200, "{api_csv:?}");
    assert_eq!(api_csv.text(), cli_csv);
    assert!(api_csv
        .header("content-disposition")
        .is_some_and(|d| d.contains("bao-cao-toan-tinh-2026-10-01-2026-10-31.csv")));
    let json = common::request(
        host.addr,
        "GET",
        &format!("/api/v1/report?scope=province&{period}"),
        t,
        None,
    )
    .unwrap()
    .json();
    let parts = json["stations"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{json}");
    let plays: u64 = parts
        .iter()
        .map(|p| p["report"]["total"]["plays"].as_u64().unwrap())
        .sum();
    assert_eq!(json["total"]["report"]["total"]["plays"], plays);
    let unknown = common::request(
        host.addr,
        "GET",
        "/api/v1/report?scope=province&campaign=ghost",
        t,
        None,
    )
    .unwrap();
    assert_eq!(unknown.status, 404, "{unknown:?}");

    // The report page: the province's choice, a row per station and the
    // total, and its CSV download equal to the CLI's.
    let cookie = sign_in(host.addr, "tinh", pass.trim());
    let (code, page) = get_with_cookie(host.addr, "/bao-cao", &cookie);
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("Toàn tỉnh (province)"), "{page}");
    let (code, page) = get_with_cookie(
        host.addr,
        "/bao-cao?tu=2026-10-01&den=2026-10-31&pham_vi=tinh",
        &cookie,
    );
    assert_eq!(code, 200, "{page}");
    for s in &stations {
        assert!(page.contains(&format!("<td>{}</td>", s.id)), "{page}");
    }
    assert!(page.contains("Tổng cộng"), "{page}");
    assert!(
        page.contains("/bao-cao.csv?tu=2026-10-01&amp;den=2026-10-31&amp;pham_vi=tinh"),
        "{page}"
    );
    let (code, csv) = get_with_cookie(
        host.addr,
        "/bao-cao.csv?tu=2026-10-01&den=2026-10-31&pham_vi=tinh",
        &cookie,
    );
    assert_eq!(code, 200, "{csv}");
    assert!(csv.ends_with(&cli_csv), "{csv}");
    drop(daemons);

    // Without [fleet] postgres: refused, saying what to set.
    let lone = Station::new("31246", &url);
    let text = std::fs::read_to_string(lone.config()).unwrap();
    let text = text.replace(&format!("postgres = \"{url}\"\n"), "") + &grant;
    std::fs::write(lone.config(), text).unwrap();
    let d = lone.start();
    let no = common::request(d.addr, "GET", "/api/v1/report?scope=province", t, None).unwrap();
    assert_eq!(no.status, 409, "{no:?}");
    assert!(no.text().contains("[fleet]"), "{no:?}");
    let metrics = common::request(d.addr, "GET", "/metrics", None, None)
        .unwrap()
        .text();
    assert!(!metrics.contains("loa_fleet_"), "{metrics}");
}

fn free(text: &str) -> Reasons {
    Reason::Free { text: text.into() }.into()
}

/// A province's database left by a loa with schema version 2 (English
/// reasons, monthly sums without the new counts) is migrated by the first
/// report: its monthly sums get their plays and cancellations from the rows
/// already there, and its old reasons still read, as they were written.
#[test]
fn an_older_province_database_migrates_and_its_rows_report_honestly() {
    let pg = Postgres::start();
    let url = pg.url();
    pg.psql(include_str!("fixtures/province/v2.sql"));
    let report = |period: &[&str]| -> Value {
        let mut args = vec!["report", "--postgres", &url, "--format", "json"];
        args.extend(period);
        serde_json::from_str(&loa(&args)).unwrap()
    };
    // Whole months read the monthly sums, another period the rows.
    for period in [
        &["--from", "2026-10-01", "--to", "2026-10-31"][..],
        &["--from", "2026-10-02", "--to", "2026-10-02"][..],
    ] {
        let fleet = report(period);
        let t = &fleet["total"]["report"]["total"];
        let got: Vec<u64> = COUNTS.iter().map(|k| t[k].as_u64().unwrap()).collect();
        // Three aired and one failure after its start went on air; three
        // cancelled by an operator; one skipped; two failures.
        assert_eq!(got, [4, 3, 0, 2, 0, 1, 3], "{period:?}: {t:#}");
        // Rows from before any line monitor: no heard minutes.
        assert!(t["heard_minutes"].is_null(), "{period:?}: {t:#}");
        let why: Vec<(String, String, u64)> = fleet["total"]["not_aired"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["outcome"].as_str().unwrap().to_string(),
                    w["reason"].as_str().unwrap().to_string(),
                    w["count"].as_u64().unwrap(),
                )
            })
            .collect();
        let has = |o: &str, r: &str, n: u64| why.contains(&(o.into(), r.into(), n));
        assert!(
            has("cancelled", "removed from the queue by an operator", 2),
            "{why:?}"
        );
        assert!(
            has("cancelled", "emergency cancelled by user op", 1),
            "{why:?}"
        );
        assert!(has("skipped", "quiet hours", 1), "{why:?}");
        assert!(has("failed", "device error: gone", 2), "{why:?}");
    }
    assert_eq!(pg.psql("SELECT max(version) FROM loa_schema_version"), "5");
    assert_eq!(
        pg.psql("SELECT sum(plays) || ' ' || sum(on_air) || ' ' || sum(cancelled) FROM loa_airtime_month"),
        "9 4 3"
    );
    assert_eq!(
        pg.psql(
            "SELECT (SELECT sum(heard_rows) FROM loa_airtime_month) || ' ' || \
             (SELECT count(heard_seconds) FROM loa_airtime)"
        ),
        "0 0"
    );
}

/// What stations' line monitors heard reaches the province: its report
/// shows the heard minutes the test's own rows sum to, by the monthly sums
/// (a whole month) and by the rows (another period), the same as each
/// station's own report; a station without a monitor shows none.
#[test]
fn the_province_report_sums_what_the_stations_line_monitors_heard() {
    let pg = Postgres::start();
    let url = pg.url();
    let heard = Station::new("31250", &url);
    let deaf = Station::new("31251", &url);
    // (day of October, heard seconds): multiples of a half, exact sums.
    let figures = [
        (2, Some(90.0)),
        (2, Some(30.5)),
        (2, None),
        (20, Some(45.0)),
    ];
    {
        let mut l = Ledger::open(&heard.ledger_path(), TZ).unwrap();
        for (i, (day, h)) in figures.iter().enumerate() {
            let when = TZ
                .with_ymd_and_hms(2026, 10, *day, 7, i as u32, 0)
                .unwrap()
                .with_timezone(&Utc);
            let a = Airing {
                occurrence: format!("b@{i}"),
                title: "Bản tin".into(),
                bulletin: "b".into(),
                campaign: Some("tiem-chung".into()),
                program: None,
                priority: Priority::Normal,
                source: Source::Schedule,
                file: "x.mp3".into(),
                scheduled_at: when,
                planned_seconds: 120.0,
                requested_by: None,
            };
            let id = l.begin(&a, when).unwrap();
            let end = when + chrono::Duration::seconds(120);
            l.finish(id, end, 120.0, Outcome::Completed, None, *h)
                .unwrap();
        }
    }
    deaf.write_rows(50, 0);
    let daemons: Vec<Daemon> = [&heard, &deaf].iter().map(|s| s.start()).collect();
    wait_until("both stations shipped", Duration::from_secs(60), || {
        [&heard, &deaf]
            .iter()
            .all(|s| central(&pg, &s.id).len() == s.closed().len())
    });
    drop(daemons);
    let minutes = |days: std::ops::RangeInclusive<u32>| {
        let s: f64 = figures
            .iter()
            .filter(|(d, _)| days.contains(d))
            .filter_map(|(_, h)| *h)
            .sum();
        s / 60.0
    };
    let round2 = |x: f64| (x * 100.0).round() / 100.0;
    for (period, days) in [
        (&["--from", "2026-10-01", "--to", "2026-10-31"][..], 1..=31),
        (&["--from", "2026-10-02", "--to", "2026-10-02"][..], 2..=2),
    ] {
        let mut args = vec!["report", "--postgres", &url, "--format", "json"];
        args.extend(period);
        let fleet: Value = serde_json::from_str(&loa(&args)).unwrap();
        let total = &fleet["total"]["report"]["total"];
        assert_eq!(
            total["heard_minutes"].as_f64(),
            Some(round2(minutes(days))),
            "{period:?}: {total:#}"
        );
        for (s, part) in [&heard, &deaf]
            .iter()
            .zip(fleet["stations"].as_array().unwrap())
        {
            let own = s.own_report(period);
            assert_eq!(part["report"], own, "station {}, {period:?}", s.id);
        }
        let deaf_part = &fleet["stations"][1]["report"]["total"];
        assert!(deaf_part["heard_minutes"].is_null(), "{deaf_part:#}");
    }
    assert_eq!(
        pg.psql("SELECT sum(heard_seconds) || ' ' || sum(heard_rows) FROM loa_airtime_month"),
        "165.5 3"
    );
}

mod broadcast;
