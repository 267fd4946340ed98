//! How fast the officials' report and the airtime listing are on a large
//! ledger: 100,000 rows (about a year of a busy station), 20 campaigns,
//! 1,000 bulletins, mixed outcomes.
//!
//! Run with `cargo bench --bench ledger`. Prints figures; the goal for
//! `report()` + `format_report` is under 50 ms in release. Also what one
//! commit of the daemon costs (the disk's fsyncs, `synchronous=FULL` with a
//! rollback journal), written in the system's temp dir.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use loa::config::{Campaign, Priority};
use loa::ledger::{Airing, Filter, Ledger, Outcome, Settled, Source};
use loa::reason::Reason;
use loa::report::{format_airtime, format_report, report, Format};
use loa::schedule::OccurrenceKey;

const ROWS: usize = 100_000;
const CAMPAIGNS: usize = 20;
const BULLETINS: usize = 1_000;
const RUNS: usize = 10;
const TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// xorshift64*: deterministic, good enough to mix outcomes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn local(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    TZ.with_ymd_and_hms(y, m, d, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn rows(start: DateTime<Utc>) -> Vec<Settled> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Spread over 365 days: about 274 rows a day.
    let step_ms = 365 * 24 * 3_600_000 / ROWS as i64;
    (0..ROWS)
        .map(|i| {
            let b = rng.below(BULLETINS as u64) as usize;
            // Bulletin b belongs to campaign b % 20; every 10th has none.
            let campaign = (b % 10 != 9).then(|| format!("cd-{:02}", b % CAMPAIGNS));
            let when = start + chrono::Duration::milliseconds(i as i64 * step_ms);
            let planned = 60.0 + (b % 240) as f64;
            let (outcome, aired, reason) = match rng.below(100) {
                0..=79 => (Outcome::Completed, planned, None),
                80..=87 => (
                    Outcome::Interrupted,
                    planned * rng.below(100) as f64 / 100.0,
                    Some(
                        Reason::InterruptedByEmergency {
                            bulletin: "bao-lu".into(),
                            title: "Báo lũ".into(),
                        }
                        .into(),
                    ),
                ),
                88..=91 => (Outcome::Failed, 0.0, Some(Reason::NoAudio.into())),
                92..=95 => (
                    Outcome::Missed,
                    0.0,
                    Some(
                        Reason::LineBusy {
                            late_seconds: 400,
                            grace_seconds: 300,
                        }
                        .into(),
                    ),
                ),
                _ => (Outcome::Skipped, 0.0, Some(Reason::QuietHours.into())),
            };
            let id = format!("bt-{b:04}");
            Settled {
                airing: Airing {
                    occurrence: OccurrenceKey::new(&id, when, TZ).into(),
                    title: format!("Bản tin số {b} về phòng chống dịch bệnh"),
                    bulletin: id,
                    campaign,
                    program: None,
                    priority: Priority::Normal,
                    source: Source::Schedule,
                    file: format!("bt-{b:04}.mp3"),
                    scheduled_at: when,
                    planned_seconds: planned,
                    requested_by: None,
                },
                started_at: (aired > 0.0).then_some(when),
                ended_at: (aired > 0.0)
                    .then(|| when + chrono::Duration::milliseconds((aired * 1000.0) as i64)),
                aired_seconds: aired,
                outcome,
                reason,
            }
        })
        .collect()
}

fn best<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        let out = f();
        best = best.min(t.elapsed());
        last = Some(out);
    }
    (best, last.expect("RUNS > 0"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("airtime.db");
    let mut ledger = Ledger::open(&path, TZ).expect("open ledger");
    let start = local(2026, 1, 1);
    let data = rows(start);
    let sample = data[0].airing.clone();

    let t = Instant::now();
    let n = ledger.record_all(data).expect("bulk insert");
    println!(
        "insert: {n} rows in one transaction in {:.1} ms",
        ms(t.elapsed())
    );
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(path.with_extension("db-journal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!("file: {:.1} MB (with its journal)", size as f64 / 1e6);

    let campaigns: Vec<Campaign> = (0..CAMPAIGNS)
        .map(|c| Campaign {
            id: format!("cd-{c:02}"),
            title: format!("Chiến dịch tuyên truyền số {c}"),
            window: None,
            target_minutes: Some(1_000.0 + 100.0 * c as f64),
        })
        .collect();

    let year = Filter::default();
    let (d, text) = best(|| {
        let r = report(&ledger, &campaigns, &year).expect("report");
        format_report(&r, Format::Table)
    });
    println!(
        "report: {ROWS} rows in {:.1} ms (goal < 50 ms), table of {} lines",
        ms(d),
        text.lines().count()
    );
    for (name, fmt) in [("csv", Format::Csv), ("json", Format::Json)] {
        let (d, text) = best(|| {
            let r = report(&ledger, &campaigns, &year).expect("report");
            format_report(&r, fmt)
        });
        println!(
            "report as {name}: {:.1} ms, {:.0} kB",
            ms(d),
            text.len() as f64 / 1e3
        );
    }
    let dated = Filter {
        from: Some(start),
        to: Some(local(2027, 1, 1)),
        campaign: None,
    };
    let (d, _) = best(|| {
        let r = report(&ledger, &campaigns, &dated).expect("report");
        format_report(&r, Format::Table)
    });
    println!("report --from 2026-01-01 --to 2026-12-31: {:.1} ms", ms(d));
    let one = Filter {
        campaign: Some("cd-07".into()),
        ..Filter::default()
    };
    let (d, _) = best(|| report(&ledger, &campaigns, &one).expect("report"));
    println!("report --campaign: {:.1} ms", ms(d));

    let october = Filter {
        from: Some(local(2026, 10, 1)),
        to: Some(local(2026, 11, 1)),
        campaign: None,
    };
    let (d, listed) = best(|| ledger.rows(&october).expect("rows"));
    println!(
        "rows(): {} rows for a month in {:.1} ms",
        listed.len(),
        ms(d)
    );
    let (d, text) = best(|| format_airtime(&listed, Format::Table));
    println!(
        "format_airtime table: {:.1} ms, {} lines",
        ms(d),
        text.lines().count()
    );
    let (d, _) = best(|| report(&ledger, &campaigns, &october).expect("report"));
    println!("report for a month: {:.1} ms", ms(d));
    commits(&sample);
}

/// One airing's writes as the engine makes them, each its own commit:
/// begin, progress, finish, 50 times.
fn commits(airing: &Airing) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ledger = Ledger::open(&dir.path().join("airtime.db"), TZ).expect("open ledger");
    let mut times = Vec::new();
    for _ in 0..50 {
        let at = airing.scheduled_at;
        let t = Instant::now();
        let id = ledger.begin(airing, at).expect("begin");
        times.push(t.elapsed());
        let t = Instant::now();
        ledger.progress(id, 5.0).expect("progress");
        times.push(t.elapsed());
        let t = Instant::now();
        ledger
            .finish(id, at, 10.0, Outcome::Completed, None, None)
            .expect("finish");
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "one commit (begin, progress or finish; {} of them): median {:.1} ms, p95 {:.1} ms",
        times.len(),
        ms(times[times.len() / 2]),
        ms(times[times.len() * 95 / 100])
    );
}
