//! How long does planning a whole year take for a big station?
//!
//! Goal: a station with 1,000 bulletins (two times a day, Monday–Saturday,
//! some with windows, ~10% cron lines) and 20 programmes expands over one
//! year in under 100 ms (release). Run: `cargo bench --bench schedule`.
//!
//! It also times the `cron` crate's own iterator over the same cron lines,
//! because that is the figure that made `schedule` ask the crate day by day
//! (`CronSpec::matches_date`) instead of iterating.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveTime};
use loa::config::{
    parse_date_spec, parse_days, Api, Bulletin, Output, OutputKind, Priority, Program, ProgramItem,
    QuietHours, QuietRange, Station, Timing, Window,
};
use loa::crontab::CronSpec;
use loa::probe::AudioInfo;
use loa::schedule::schedule;
use loa::timefmt::{parse_bound, Bound};

const RUNS: usize = 10;

fn big_station() -> Station {
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    let mon_sat = parse_days("mon-sat").unwrap();
    let cron_lines = ["15 6,17 * * 1-6", "45 5,16 * * mon-sat", "0 6,18 1,15 * 0"];
    let bulletins = (0..1000)
        .map(|i| {
            let timing = if i % 10 == 0 {
                Timing::Cron(CronSpec::parse(cron_lines[(i / 10) % 3]).unwrap())
            } else {
                let m = (i % 60) as u32;
                Timing::At {
                    times: vec![
                        NaiveTime::from_hms_opt(5 + (i % 3) as u32, m, 0).unwrap(),
                        NaiveTime::from_hms_opt(16 + (i % 3) as u32, m, 0).unwrap(),
                    ],
                    days: mon_sat,
                }
            };
            let window = match i % 8 {
                1 => Some(("12-15", "01-15")),
                2 => Some(("2026-03-01", "2026-09-30")),
                _ => None,
            }
            .map(|(a, b)| Window {
                from: parse_date_spec(a).unwrap(),
                to: parse_date_spec(b).unwrap(),
            });
            Bulletin {
                id: format!("b{i:04}"),
                title: format!("Bản tin số {i}"),
                file: format!("b{i:04}.mp3"),
                text: None,
                tts_error: None,
                path: format!("/srv/loa/audio/b{i:04}.mp3").into(),
                campaign: Some(format!("c{}", i % 7)),
                priority: if i % 50 == 0 {
                    Priority::Priority
                } else {
                    Priority::Normal
                },
                timing,
                window,
                grace_seconds: 600,
                enabled: i % 97 != 0,
                audio: Some(AudioInfo {
                    seconds: 60.0 + (i % 120) as f64,
                    ..AudioInfo::test_default()
                }),
            }
        })
        .collect();
    let programs = (0..20)
        .map(|p| Program {
            id: format!("p{p:02}"),
            title: format!("Chương trình {p}"),
            priority: Priority::Normal,
            timing: Timing::At {
                times: vec![
                    NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
                    NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
                ],
                days: mon_sat,
            },
            window: None,
            grace_seconds: 900,
            enabled: true,
            items: (0..10)
                .map(|k| ProgramItem::Bulletin(p * 50 + k * 3))
                .collect(),
        })
        .collect();
    Station {
        path: "/srv/loa/station.toml".into(),
        name: "Đài truyền thanh xã (benchmark)".into(),
        timezone: tz,
        audio_dir: "/srv/loa/audio".into(),
        data_dir: "/srv/loa/data".into(),
        output: Output {
            kind: OutputKind::Null,
            volume: 1.0,
            loudness_lufs: None,
        },
        quiet: QuietHours {
            ranges: vec![QuietRange {
                start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(5, 0, 0).unwrap(),
            }],
        },
        api: Api {
            listen: "127.0.0.1:8080".parse().unwrap(),
            max_upload_mb: 50,
            max_queue: loa::config::DEFAULT_MAX_QUEUE,
            tokens: Vec::new(),
            web: Default::default(),
        },
        fleet: loa::config::Fleet {
            station_id: "xa-benchmark".into(),
            postgres: None,
            district: None,
        },
        upstream: None,
        publish: None,
        tts: Default::default(),
        session: Default::default(),
        report: Default::default(),
        campaigns: Vec::new(),
        bulletins,
        programs,
        relays: Vec::new(),
        monitor: None,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let st = big_station();
    let from = parse_bound("2026-01-01", Bound::Start, st.timezone).unwrap();
    let to = parse_bound("2026-12-31", Bound::End, st.timezone).unwrap();

    let mut best = Duration::MAX;
    let mut count = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let occ = schedule(black_box(&st), from, to);
        best = best.min(t.elapsed());
        count = occ.len();
        drop(black_box(occ));
    }
    println!(
        "schedule: {} bulletins, {} programmes, 1 year: {count} occurrences in {:.1} ms \
         (best of {RUNS}; goal < 100 ms)",
        st.bulletins.len(),
        st.programs.len(),
        ms(best)
    );

    // The alternative that was not taken: the cron crate's iterator.
    let specs: Vec<&CronSpec> = st
        .bulletins
        .iter()
        .filter_map(|b| match &b.timing {
            Timing::Cron(c) => Some(c),
            _ => None,
        })
        .collect();
    let (wf, wt) = (
        NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_time(NaiveTime::MIN),
        NaiveDate::from_ymd_opt(2027, 1, 1)
            .unwrap()
            .and_time(NaiveTime::MIN),
    );
    let mut best_iter = Duration::MAX;
    let mut best_days = Duration::MAX;
    let (mut n_iter, mut n_days) = (0, 0);
    for _ in 0..RUNS {
        let t = Instant::now();
        n_iter = specs
            .iter()
            .map(|c| black_box(c.wall_times(wf, wt)).len())
            .sum();
        best_iter = best_iter.min(t.elapsed());
        let t = Instant::now();
        n_days = specs
            .iter()
            .map(|c| {
                wf.date()
                    .iter_days()
                    .take_while(|d| *d < wt.date())
                    .filter(|d| c.matches_date(*d))
                    .map(|_| c.times_of_day().len())
                    .sum::<usize>()
            })
            .sum();
        best_days = best_days.min(t.elapsed());
    }
    println!(
        "cron lines ({}), 1 year: cron iterator {n_iter} times in {:.1} ms; \
         day by day (matches_date) {n_days} times in {:.1} ms",
        specs.len(),
        ms(best_iter),
        ms(best_days)
    );
    assert_eq!(n_iter, n_days, "the two cron paths disagree");
}
