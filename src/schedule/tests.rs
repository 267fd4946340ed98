//! Tests of the plan: times, windows, cron lines, quiet hours, DST gaps and
//! repeats, occurrence keys.

use super::*;
use crate::config::{
    parse_date_spec, parse_days, parse_time_of_day, Api, Bulletin, Output, OutputKind, Program,
    QuietHours, QuietRange,
};
use crate::crontab::CronSpec;
use crate::probe::AudioInfo;
use crate::timefmt::{parse_bound, Bound};

const VN: Tz = chrono_tz::Asia::Ho_Chi_Minh;
const BERLIN: Tz = chrono_tz::Europe::Berlin;

fn station(tz: Tz) -> Station {
    Station {
        path: "/srv/loa/station.toml".into(),
        name: "Đài thử".into(),
        timezone: tz,
        audio_dir: "/srv/loa/audio".into(),
        data_dir: "/srv/loa/data".into(),
        output: Output {
            kind: OutputKind::Null,
            volume: 1.0,
            loudness_lufs: None,
        },
        quiet: QuietHours::default(),
        api: Api {
            listen: "127.0.0.1:8080".parse().unwrap(),
            max_upload_mb: 50,
            max_queue: crate::config::DEFAULT_MAX_QUEUE,
            tokens: Vec::new(),
            web: Default::default(),
        },
        fleet: crate::config::Fleet {
            station_id: "dai-thu".into(),
            postgres: None,
            district: None,
        },
        upstream: None,
        publish: None,
        tts: Default::default(),
        session: Default::default(),
        report: Default::default(),
        campaigns: Vec::new(),
        bulletins: Vec::new(),
        programs: Vec::new(),
        relays: Vec::new(),
        monitor: None,
    }
}

fn at(times: &[&str], days: &str) -> Timing {
    Timing::At {
        times: times
            .iter()
            .map(|t| parse_time_of_day(t).unwrap())
            .collect(),
        days: parse_days(days).unwrap(),
    }
}

fn cron(line: &str) -> Timing {
    Timing::Cron(CronSpec::parse(line).unwrap())
}

fn window(from: &str, to: &str) -> Option<Window> {
    Some(Window {
        from: parse_date_spec(from).unwrap(),
        to: parse_date_spec(to).unwrap(),
    })
}

fn bulletin(id: &str, seconds: f64, timing: Timing) -> Bulletin {
    Bulletin {
        id: id.into(),
        title: format!("Bản tin {id}"),
        file: format!("{id}.mp3"),
        text: None,
        tts_error: None,
        path: format!("/srv/loa/audio/{id}.mp3").into(),
        campaign: Some("tiem-chung".into()),
        priority: Priority::Normal,
        timing,
        window: None,
        grace_seconds: 600,
        enabled: true,
        audio: Some(AudioInfo {
            seconds,
            ..AudioInfo::test_default()
        }),
    }
}

fn program(id: &str, items: &[usize], timing: Timing) -> Program {
    Program {
        id: id.into(),
        title: format!("Chương trình {id}"),
        priority: Priority::Normal,
        timing,
        window: None,
        grace_seconds: 900,
        enabled: true,
        items: items.iter().map(|&i| ProgramItem::Bulletin(i)).collect(),
    }
}

/// `[first day, last day]` as local dates of the station, inclusive.
fn days(st: &Station, first: &str, last: &str) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        parse_bound(first, Bound::Start, st.timezone).unwrap(),
        parse_bound(last, Bound::End, st.timezone).unwrap(),
    )
}

/// The plan of `st` from the first day to the last, whole days.
fn plan<'s>(st: &'s Station, first: &str, last: &str) -> Vec<Occurrence<'s>> {
    let (from, to) = days(st, first, last);
    schedule(st, from, to)
}

fn keys(occ: &[Occurrence<'_>]) -> Vec<String> {
    occ.iter().map(|o| o.key()).collect()
}

fn utc(s: &str) -> DateTime<Utc> {
    timefmt::parse_rfc3339(s).unwrap()
}

#[test]
fn at_times_on_their_weekdays() {
    let mut st = station(VN);
    st.bulletins
        .push(bulletin("sang", 90.0, at(&["17:15", "06:30"], "mon-sat")));
    // 2026-10-05 is a Monday.
    let occ = plan(&st, "2026-10-05", "2026-10-11");
    assert_eq!(occ.len(), 12);
    assert_eq!(occ[0].key(), "sang@2026-10-05T06:30:00.000+07:00");
    assert_eq!(occ[1].key(), "sang@2026-10-05T17:15:00.000+07:00");
    assert_eq!(occ[11].key(), "sang@2026-10-10T17:15:00.000+07:00");
    assert!(occ.iter().all(|o| o.at.weekday() != Weekday::Sun));
    let o = &occ[0];
    assert_eq!(
        (o.kind, o.index, o.id, o.title, o.campaign),
        (
            ItemKind::Bulletin,
            0,
            "sang",
            "Bản tin sang",
            Some("tiem-chung")
        )
    );
    assert_eq!((o.planned_seconds, o.grace_seconds), (90.0, 600));
    assert!(o.items.is_empty());
    assert_eq!(serde_json::to_string(&o.kind).unwrap(), "\"bulletin\"");
    assert_eq!(
        serde_json::to_string(&ItemKind::Program).unwrap(),
        "\"program\""
    );
}

#[test]
fn fixed_and_annual_windows() {
    let mut st = station(VN);
    let mut fixed = bulletin("fixed", 60.0, at(&["07:00"], "daily"));
    fixed.window = window("2026-10-07", "2026-10-09");
    let mut tet = bulletin("tet", 60.0, at(&["07:00"], "daily"));
    tet.window = window("12-15", "01-15");
    st.bulletins.extend([fixed, tet]);

    let occ = plan(&st, "2026-10-01", "2026-10-31");
    assert_eq!(
        keys(&occ),
        [
            "fixed@2026-10-07T07:00:00.000+07:00",
            "fixed@2026-10-08T07:00:00.000+07:00",
            "fixed@2026-10-09T07:00:00.000+07:00",
        ]
    );

    let occ = plan(&st, "2026-12-01", "2027-01-31");
    assert_eq!(occ.len(), 17 + 15);
    assert_eq!(occ[0].key(), "tet@2026-12-15T07:00:00.000+07:00");
    assert_eq!(occ[16].key(), "tet@2026-12-31T07:00:00.000+07:00");
    assert_eq!(occ[31].key(), "tet@2027-01-15T07:00:00.000+07:00");
}

#[test]
fn cron_lines_follow_crontab_rules() {
    let mut st = station(VN);
    st.bulletins.extend([
        // 13th OR Friday: Oct 2026 has Fridays 2, 9, 16, 23, 30; the
        // 13th is a Tuesday.
        bulletin("or", 60.0, cron("0 12 13 * 5")),
        bulletin("sun0", 60.0, cron("0 12 * * 0")),
        bulletin("sun7", 60.0, cron("0 12 * * 7")),
        bulletin("monfri", 60.0, cron("30 6 * * 1-5")),
    ]);
    let occ = plan(&st, "2026-10-01", "2026-10-31");
    let dates = |id: &str| -> Vec<u32> {
        occ.iter()
            .filter(|o| o.id == id)
            .map(|o| o.at.day())
            .collect()
    };
    assert_eq!(dates("or"), [2, 9, 13, 16, 23, 30]);
    assert_eq!(dates("sun0"), [4, 11, 18, 25]);
    assert_eq!(dates("sun7"), [4, 11, 18, 25]);
    assert_eq!(dates("monfri").len(), 22);
    assert!(occ
        .iter()
        .filter(|o| o.id == "monfri")
        .all(|o| o.at.weekday().num_days_from_monday() < 5
            && o.at.time() == NaiveTime::from_hms_opt(6, 30, 0).unwrap()));
}

#[test]
fn cron_matches_the_cron_crate_iterator_without_dst() {
    // Vietnam has no DST, so the crate's own iterator, run in the
    // station zone, must give exactly our instants for a whole year.
    let st = station(VN);
    for line in ["*/20 5-6 * * mon-sat", "15 6,17 1-7 * 0", "0 0 */2 * 1"] {
        let timing = cron(line);
        let Timing::Cron(spec) = &timing else {
            unreachable!()
        };
        let (from, to) = days(&st, "2026-01-01", "2026-12-31");
        let ours = item_instants(&st, &timing, None, from, to);
        let mut theirs: Vec<DateTime<Utc>> = spec
            .schedules()
            .iter()
            .flat_map(|s| {
                s.after(&(from - Duration::seconds(1)).with_timezone(&VN))
                    .take_while(|t| *t < to)
                    .map(|t| t.with_timezone(&Utc))
            })
            .collect();
        theirs.sort();
        theirs.dedup();
        assert!(!ours.is_empty(), "{line}");
        assert_eq!(ours, theirs, "{line}");
    }
}

#[test]
fn quiet_hours_drop_all_but_emergencies() {
    let mut st = station(VN);
    st.quiet.ranges.push(QuietRange {
        start: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(5, 0, 0).unwrap(),
    });
    let normal = bulletin("normal", 60.0, at(&["04:30", "06:00", "21:30"], "daily"));
    let mut alarm = bulletin("bao-lu", 60.0, at(&["04:30"], "daily"));
    alarm.priority = Priority::Emergency;
    st.bulletins.extend([normal, alarm]);
    st.programs
        .push(program("dem", &[0], at(&["22:00"], "daily")));

    let (from, to) = days(&st, "2026-10-05", "2026-10-05");
    assert_eq!(
        keys(&schedule(&st, from, to)),
        [
            "bao-lu@2026-10-05T04:30:00.000+07:00",
            "normal@2026-10-05T06:00:00.000+07:00",
        ]
    );
    // The engine's plan keeps them, marked, so they are recorded.
    let all = schedule_with_quiet(&st, from, to);
    let marked: Vec<(String, bool)> = all.iter().map(|o| (o.key(), o.quiet)).collect();
    assert_eq!(
        marked,
        [
            ("bao-lu@2026-10-05T04:30:00.000+07:00".to_string(), false),
            ("normal@2026-10-05T04:30:00.000+07:00".to_string(), true),
            ("normal@2026-10-05T06:00:00.000+07:00".to_string(), false),
            ("normal@2026-10-05T21:30:00.000+07:00".to_string(), true),
            ("dem@2026-10-05T22:00:00.000+07:00".to_string(), true),
        ]
    );
    // The raw instants ignore quiet hours (and `enabled`).
    st.bulletins[0].enabled = false;
    let raw = item_instants(&st, &st.bulletins[0].timing, None, from, to);
    assert_eq!(raw.len(), 3);
    assert_eq!(raw[0], utc("2026-10-05T04:30:00+07:00"));
}

#[test]
fn disabled_and_unscheduled_items_are_left_out() {
    let mut st = station(VN);
    let mut off = bulletin("off", 60.0, at(&["06:00"], "daily"));
    off.enabled = false;
    st.bulletins.extend([
        off,
        bulletin("on", 60.0, at(&["06:00"], "daily")),
        bulletin("queue-only", 60.0, Timing::Unscheduled),
    ]);
    let mut p = program("p", &[1], at(&["07:00"], "daily"));
    p.enabled = false;
    st.programs.push(p);
    let (from, to) = days(&st, "2026-10-05", "2026-10-06");
    let occ = schedule(&st, from, to);
    assert_eq!(occ.len(), 2);
    assert!(occ.iter().all(|o| o.id == "on"));
    assert!(item_instants(&st, &Timing::Unscheduled, None, from, to).is_empty());
}

#[test]
fn programmes_list_the_bulletins_airing_that_day() {
    let mut st = station(VN);
    let mut off = bulletin("off", 40.0, Timing::Unscheduled);
    off.enabled = false;
    let mut short = bulletin("short", 30.0, Timing::Unscheduled);
    short.window = window("2026-10-07", "2026-10-08");
    st.bulletins
        .extend([bulletin("always", 120.0, Timing::Unscheduled), off, short]);
    let mut prog = program("thoi-su", &[2, 1, 0], at(&["18:00"], "daily"));
    prog.priority = Priority::Priority;
    st.programs
        .extend([prog, program("empty", &[1], at(&["19:00"], "daily"))]);

    let occ = plan(&st, "2026-10-06", "2026-10-08");
    assert_eq!(occ.len(), 3, "{:?}", keys(&occ));
    let o = &occ[0];
    assert_eq!((o.kind, o.index, o.id), (ItemKind::Program, 0, "thoi-su"));
    assert_eq!(
        (o.priority, o.campaign, o.grace_seconds),
        (Priority::Priority, None, 900)
    );
    use ProgramItem::Bulletin as B;
    assert_eq!(o.items, [B(0)]);
    assert_eq!(o.planned_seconds, 120.0);
    assert_eq!(occ[1].items, [B(2), B(0)]);
    assert_eq!(occ[1].planned_seconds, 150.0);
    assert_eq!(occ[2].items, [B(2), B(0)]);
}

#[test]
fn simultaneous_occurrences_are_ordered() {
    let mut st = station(VN);
    let mut emergency = bulletin("e", 60.0, at(&["06:00"], "daily"));
    emergency.priority = Priority::Emergency;
    let mut prio = bulletin("p", 60.0, at(&["06:00"], "daily"));
    prio.priority = Priority::Priority;
    st.bulletins.extend([
        bulletin("n0", 60.0, at(&["06:00"], "daily")),
        emergency,
        bulletin("early", 60.0, at(&["05:59"], "daily")),
        prio,
        bulletin("n4", 60.0, at(&["06:00"], "daily")),
    ]);
    let mut prog = program("prog", &[0], at(&["06:00"], "daily"));
    prog.priority = Priority::Priority;
    st.programs.push(prog);
    let (from, to) = days(&st, "2026-10-05", "2026-10-05");
    let ids: Vec<&str> = schedule(&st, from, to).iter().map(|o| o.id).collect();
    assert_eq!(ids, ["early", "e", "p", "prog", "n0", "n4"]);
}

#[test]
fn slots_sort_like_order() {
    // `schedule` re-sorts with `order` if the day-by-day slot sort ever
    // disagrees, which would hide a wrong packing: test the packing.
    use ItemKind::{Bulletin as B, Program as P, Relay as R};
    let slots = [
        Slot::new(99, Priority::Normal, P, 7),
        Slot::new(100, Priority::Emergency, P, 5),
        Slot::new(100, Priority::Priority, B, 9),
        Slot::new(100, Priority::Priority, P, 0),
        Slot::new(100, Priority::Priority, R, 3),
        Slot::new(100, Priority::Normal, B, 0),
        Slot::new(100, Priority::Normal, B, 1),
        Slot::new(100, Priority::Normal, R, 0),
    ];
    assert!(slots.windows(2).all(|w| w[0] < w[1]));
    assert_eq!((slots[1].kind(), slots[1].index()), (P, 5));
    assert_eq!((slots[2].kind(), slots[2].index()), (B, 9));
    assert_eq!((slots[4].kind(), slots[4].index()), (R, 3));
}

#[test]
fn range_is_half_open() {
    let mut st = station(VN);
    st.bulletins.push(bulletin(
        "b",
        60.0,
        at(&["06:00", "12:00", "18:00"], "daily"),
    ));
    let from = utc("2026-10-05T06:00:00+07:00");
    let to = utc("2026-10-05T18:00:00+07:00");
    assert_eq!(
        keys(&schedule(&st, from, to)),
        [
            "b@2026-10-05T06:00:00.000+07:00",
            "b@2026-10-05T12:00:00.000+07:00"
        ]
    );
    assert!(schedule(&st, to, from).is_empty());
    assert!(schedule(&st, from, from).is_empty());
    let one_ms = Duration::milliseconds(1);
    assert_eq!(schedule(&st, from + one_ms, to + one_ms).len(), 2);
    assert_eq!(
        item_instants(&st, &st.bulletins[0].timing, None, from, to),
        [from, utc("2026-10-05T12:00:00+07:00")]
    );
}

#[test]
fn spring_gap_fires_once_after_the_gap() {
    // Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
    let mut st = station(BERLIN);
    st.bulletins.extend([
        bulletin(
            "at",
            60.0,
            at(&["01:30", "02:15", "02:45", "03:00", "03:30"], "daily"),
        ),
        bulletin("cron", 60.0, cron("*/30 2 * * *")),
        bulletin("cron3", 60.0, cron("30 2,3 * * *")),
    ]);
    let occ = plan(&st, "2026-03-28", "2026-03-30");
    let of =
        |id: &str| -> Vec<String> { occ.iter().filter(|o| o.id == id).map(|o| o.key()).collect() };
    assert_eq!(
        of("at")[5..10],
        [
            "at@2026-03-29T01:30:00.000+01:00",
            "at@2026-03-29T03:00:00.000+02:00",
            "at@2026-03-29T03:30:00.000+02:00",
            "at@2026-03-30T01:30:00.000+02:00",
            "at@2026-03-30T02:15:00.000+02:00",
        ]
    );
    assert_eq!(of("at").len(), 5 + 3 + 5);
    assert_eq!(
        of("cron"),
        [
            "cron@2026-03-28T02:00:00.000+01:00",
            "cron@2026-03-28T02:30:00.000+01:00",
            "cron@2026-03-29T03:00:00.000+02:00",
            "cron@2026-03-30T02:00:00.000+02:00",
            "cron@2026-03-30T02:30:00.000+02:00",
        ]
    );
    assert_eq!(
        of("cron3")[2..4],
        [
            "cron3@2026-03-29T03:00:00.000+02:00",
            "cron3@2026-03-29T03:30:00.000+02:00"
        ]
    );
    assert_eq!(occ[0].at.with_timezone(&Utc), utc("2026-03-28T00:30:00Z"));
}

#[test]
fn a_gap_at_midnight_moves_early_times_to_its_end() {
    // São Paulo, 2018-11-04: midnight did not exist (00:00 -03 became
    // 01:00 -02), so that day has no fixed offset and starts at 01:00.
    let mut st = station(chrono_tz::America::Sao_Paulo);
    st.bulletins.push(bulletin(
        "x",
        60.0,
        at(&["00:15", "00:45", "06:00"], "daily"),
    ));
    let (from, to) = days(&st, "2018-11-04", "2018-11-04");
    assert_eq!(
        keys(&schedule(&st, from, to)),
        [
            "x@2018-11-04T01:00:00.000-02:00",
            "x@2018-11-04T06:00:00.000-02:00"
        ]
    );
}

#[test]
fn repeated_hour_fires_once_at_the_first_instant() {
    // Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET, so
    // 02:00–03:00 happens twice (00:00–01:00 and 01:00–02:00 UTC).
    let mut st = station(BERLIN);
    st.bulletins.extend([
        bulletin("at", 60.0, at(&["02:30", "03:30"], "daily")),
        bulletin("cron", 60.0, cron("0,30 2 * * *")),
    ]);
    let occ = plan(&st, "2026-10-25", "2026-10-25");
    assert_eq!(
        keys(&occ),
        [
            "cron@2026-10-25T02:00:00.000+02:00",
            "at@2026-10-25T02:30:00.000+02:00",
            "cron@2026-10-25T02:30:00.000+02:00",
            "at@2026-10-25T03:30:00.000+01:00",
        ]
    );
    assert_eq!(occ[1].at.with_timezone(&Utc), utc("2026-10-25T00:30:00Z"));
    // A whole year of a nightly 02:30 in Berlin: every day exactly once.
    let (from, to) = days(&st, "2026-01-01", "2026-12-31");
    let year = item_instants(&st, &cron("30 2 * * *"), None, from, to);
    assert_eq!(year.len(), 365);
    assert!(year.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn occurrence_keys_are_built_one_way_and_read_back() {
    let at = utc("2026-10-06T23:15:00Z");
    let k = OccurrenceKey::new("cds-thong-diep", at, VN);
    assert_eq!(
        k.to_string(),
        "cds-thong-diep@2026-10-07T06:15:00.000+07:00"
    );
    assert_eq!((k.item(), k.scheduled_at()), ("cds-thong-diep", at));
    assert_eq!(OccurrenceKey::parse(k.as_str()), Some(k.clone()));
    assert_eq!(String::from(k.clone()), k.to_string());

    let item = |n| OccurrenceKey::program_item("thoi-su", "b1", n, at, VN).to_string();
    assert_eq!(item(1), "thoi-su/b1@2026-10-07T06:15:00.000+07:00");
    assert_eq!(item(2), "thoi-su/b1#2@2026-10-07T06:15:00.000+07:00");
    assert_eq!(
        OccurrenceKey::queued("operator", 7, "b1", at, BERLIN).to_string(),
        "operator:7/b1@2026-10-07T01:15:00.000+02:00"
    );

    // A file name may hold `@`; the instant never does.
    let file = OccurrenceKey::queued("emergency", 3, "lu@xa.mp3", at, VN);
    let back = OccurrenceKey::parse(file.as_str()).unwrap();
    assert_eq!(back.item(), "emergency:3/lu@xa.mp3");
    assert_eq!(back.scheduled_at(), at);

    // Below a millisecond is not written, so it is not kept either.
    let k = OccurrenceKey::new("b", at + Duration::microseconds(1500), VN);
    assert_eq!(k.scheduled_at(), at + Duration::milliseconds(1));
    assert_eq!(OccurrenceKey::parse(k.as_str()), Some(k));

    for bad in [
        "b1",
        "@2026-10-07T06:15:00.000+07:00",
        "b1@yesterday",
        "b1@",
    ] {
        assert_eq!(OccurrenceKey::parse(bad), None, "{bad}");
    }
}
