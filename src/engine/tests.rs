//! Engine logic with a virtual clock and a fake playout: a station's day in
//! milliseconds. Each test reads back the ledger, which is what officials
//! see.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use tokio::sync::{mpsc, oneshot};

use super::playout::{Cue, FakeBehaviour, FakePlayout};
use super::*;
use crate::config::{load_str, AudioFiles, Priority};
use crate::ledger::{AirtimeRow, Filter, Ledger};
use crate::probe::AudioInfo;

const STATION: &str = r#"
[station]
name = "Test"
data_dir = "var"
[quiet]
hours = ["21:00-05:00"]
[[bulletin]]
id = "a"
title = "A"
file = "a.mp3"
at = ["06:00"]
[[bulletin]]
id = "b"
title = "B"
file = "b.mp3"
at = ["06:00"]
grace = "2m"
[[bulletin]]
id = "pri"
title = "Priority"
file = "pri.mp3"
priority = "priority"
[[bulletin]]
id = "storm"
title = "Storm"
file = "storm.mp3"
priority = "emergency"
[[bulletin]]
id = "jingle"
title = "Jingle"
file = "jingle.mp3"
[[program]]
id = "morning"
title = "Morning"
at = ["05:30"]
items = ["jingle", "a", "jingle"]
"#;

/// Seconds of each test file.
fn seconds(file: &str) -> f64 {
    match file {
        "a.mp3" => 60.0,
        "b.mp3" => 30.0,
        "pri.mp3" => 20.0,
        "storm.mp3" => 15.0,
        "jingle.mp3" => 5.0,
        _ => 10.0,
    }
}

fn station(dir: &Path, text: &str) -> Station {
    let loaded = load_str(text, &dir.join("station.toml"), AudioFiles::AsWritten).finish();
    let mut s = loaded
        .station
        .unwrap_or_else(|| panic!("{}", loaded.diagnostics));
    for b in &mut s.bulletins {
        b.audio = Some(AudioInfo {
            seconds: seconds(&b.file),
            ..AudioInfo::test_default()
        });
    }
    s
}

/// Local time on 2026-10-07 (a Wednesday) in Vietnam.
fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Ho_Chi_Minh
        .with_ymd_and_hms(2026, 10, 7, h, m, s)
        .unwrap()
        .with_timezone(&Utc)
}

struct Rig {
    clock: TestClock,
    fake: FakePlayout<TestClock>,
    handle: Handle,
    recorder: Recorder,
    task: tokio::task::JoinHandle<()>,
    ledger: PathBuf,
    tz: chrono_tz::Tz,
}

/// An engine on `station` over `playout`, resumed from its ledger as the
/// daemon does; not running yet.
struct Parts<P: Playout> {
    engine: Engine<TestClock, P>,
    handle: Handle,
    recorder: Recorder,
    ledger: PathBuf,
    tz: chrono_tz::Tz,
}

fn parts<P: Playout>(
    station: Station,
    clock: &TestClock,
    playout: P,
    events: mpsc::UnboundedReceiver<PlayEvent>,
) -> Parts<P> {
    let path = station.ledger_path();
    let tz = station.timezone;
    let ledger = Ledger::open(&path, tz).unwrap();
    let now = clock.now();
    let resume = Resume::read(&ledger, now - Duration::days(8)).unwrap();
    let recorder = Recorder::start(ledger);
    let (engine, handle) = Engine::new(
        Arc::new(station),
        clock.clone(),
        playout,
        events,
        recorder.clone(),
        resume,
    );
    Parts {
        engine,
        handle,
        recorder,
        ledger: path,
        tz,
    }
}

fn start(station: Station, clock: TestClock) -> Rig {
    let (tx, rx) = mpsc::unbounded_channel();
    let fake = FakePlayout::new(clock.clone(), tx);
    let p = parts(station, &clock, fake.clone(), rx);
    let task = tokio::spawn(p.engine.run());
    Rig {
        clock,
        fake,
        handle: p.handle,
        recorder: p.recorder,
        task,
        ledger: p.ledger,
        tz: p.tz,
    }
}

/// Send a command that replies and wait for the reply.
async fn ask<T>(handle: &Handle, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, Refusal> {
    let (tx, rx) = oneshot::channel();
    handle.commands.send(make(tx)).await.unwrap();
    rx.await.unwrap()
}

impl Rig {
    /// Let `secs` of virtual time pass.
    async fn run_for(&self, secs: i64) {
        tokio::time::sleep(std::time::Duration::from_secs(secs as u64)).await;
    }

    /// Shut the engine down and read every ledger row.
    async fn stop(self) -> Vec<AirtimeRow> {
        self.handle.commands.send(Command::Shutdown).await.unwrap();
        self.task.await.unwrap();
        assert!(self.recorder.flush(std::time::Duration::from_secs(60)));
        rows(&self.ledger, self.tz)
    }

    /// No shutdown: the engine dies where it stands, as in a power cut;
    /// only what the ledger thread already had is written.
    async fn cut_power(self) {
        self.task.abort();
        let _ = self.task.await;
        assert!(self.recorder.flush(std::time::Duration::from_secs(60)));
    }

    fn played(&self) -> Vec<String> {
        self.fake
            .played()
            .into_iter()
            .map(|(p, _)| p.to_string_lossy().into_owned())
            .collect()
    }
}

fn rows(path: &Path, tz: chrono_tz::Tz) -> Vec<AirtimeRow> {
    Ledger::open_read_only(path, tz)
        .unwrap()
        .rows(&Filter::default())
        .unwrap()
}

fn outcomes(rows: &[AirtimeRow]) -> Vec<(String, String)> {
    rows.iter()
        .map(|r| {
            (
                r.occurrence.clone(),
                r.outcome.map_or("open".into(), |o| o.to_string()),
            )
        })
        .collect()
}

fn parse(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn by_bulletin<'a>(rows: &'a [AirtimeRow], id: &str) -> Vec<&'a AirtimeRow> {
    rows.iter().filter(|r| r.bulletin == id).collect()
}

#[tokio::test(start_paused = true)]
async fn programme_plays_back_to_back_then_scheduled_items_by_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 29, 50)));
    rig.run_for(40 * 60).await;
    let played = rig.played();
    let starts: Vec<DateTime<Utc>> = rig.fake.played().iter().map(|p| p.1).collect();
    let rows = rig.stop().await;
    assert_eq!(
        played,
        ["jingle.mp3", "a.mp3", "jingle.mp3", "a.mp3", "b.mp3"],
        "{:?}",
        outcomes(&rows)
    );
    // On time, and back to back.
    assert_eq!(starts[0], at(5, 30, 0));
    assert_eq!(starts[1], at(5, 30, 5));
    assert_eq!(starts[2], at(5, 31, 5));
    assert_eq!(starts[3], at(6, 0, 0));
    assert_eq!(starts[4], at(6, 1, 0), "b waits for a, within its grace");
    assert!(rows.iter().all(|r| r.outcome == Some(Outcome::Completed)));
    let prog: Vec<_> = rows.iter().filter(|r| r.program.is_some()).collect();
    assert_eq!(prog.len(), 3);
    assert_eq!(
        prog[0].occurrence,
        "morning/jingle@2026-10-07T05:30:00.000+07:00"
    );
    assert_eq!(
        prog[2].occurrence,
        "morning/jingle#2@2026-10-07T05:30:00.000+07:00"
    );
    assert_eq!(
        rows[3].started_at.as_deref(),
        Some("2026-10-07T06:00:00.000+07:00")
    );
    assert_eq!(rows[3].aired_seconds, 60.0);
}

#[tokio::test(start_paused = true)]
async fn an_item_past_the_session_cap_is_skipped_unless_an_emergency() {
    let dir = tempfile::tempdir().unwrap();
    // A one-minute cap: the morning programme (jingle 5 s, a 60 s, jingle
    // 5 s) cannot air `a`; the jingle after it still fits. An emergency
    // programme of the same items is never held back.
    let text = STATION.replace("[quiet]", "[session]\nmax_minutes = 1\n[quiet]")
        + "[[program]]\nid = \"storm-prog\"\ntitle = \"Storm\"\nat = [\"07:00\"]\n\
           priority = \"emergency\"\nitems = [\"jingle\", \"a\", \"jingle\"]\n";
    let rig = start(station(dir.path(), &text), TestClock::new(at(5, 29, 50)));
    rig.run_for(100 * 60).await;
    let played = rig.played();
    let rows = rig.stop().await;
    let morning: Vec<_> = rows
        .iter()
        .filter(|r| r.program.as_deref() == Some("morning"))
        .collect();
    let got: Vec<_> = morning
        .iter()
        .map(|r| (r.bulletin.as_str(), r.outcome))
        .collect();
    assert_eq!(
        got,
        [
            ("jingle", Some(Outcome::Completed)),
            ("a", Some(Outcome::Skipped)),
            ("jingle", Some(Outcome::Completed)),
        ],
        "{:?}",
        outcomes(&rows)
    );
    let reason = morning[1].reason.as_deref().unwrap();
    assert!(
        reason.starts_with("Vượt giới hạn buổi phát thanh 1m / session cap of 1m"),
        "{reason}"
    );
    assert!(
        reason.contains("had aired 5s and this item is 1m"),
        "{reason}"
    );
    // The emergency programme aired whole; the standalone a and b too.
    let storm: Vec<_> = rows
        .iter()
        .filter(|r| r.program.as_deref() == Some("storm-prog"))
        .collect();
    assert_eq!(storm.len(), 3);
    assert!(storm.iter().all(|r| r.outcome == Some(Outcome::Completed)));
    assert_eq!(played.iter().filter(|p| *p == "a.mp3").count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_typed_notice_waits_for_its_audio_and_a_failed_one_is_recorded_failed() {
    let dir = tempfile::tempdir().unwrap();
    let text = STATION.to_string()
        + "[[bulletin]]\nid = \"hop\"\ntitle = \"Họp\"\ntext = \"Họp lúc 17:30\"\nat = [\"06:00\"]\n\
           [[bulletin]]\nid = \"treo\"\ntitle = \"Treo\"\ntext = \"Không đọc được\"\nat = [\"06:00\"]\n";
    let mut s = station(dir.path(), &text);
    // Not read aloud yet, as at the daemon's start.
    for b in s.bulletins.iter_mut().filter(|b| b.text.is_some()) {
        b.audio = None;
    }
    let rig = start(s.clone(), TestClock::new(at(5, 59, 50)));
    // a (60 s) and b (30 s) air; the notices wait.
    rig.run_for(3 * 60).await;
    assert_eq!(rig.played(), ["a.mp3", "b.mp3"]);
    // The background render ends: one read aloud, one failed.
    for b in s.bulletins.iter_mut() {
        match b.id.as_str() {
            "hop" => {
                b.audio = Some(AudioInfo {
                    seconds: 7.0,
                    ..AudioInfo::test_default()
                })
            }
            "treo" => b.tts_error = Some("the speech engine `x` did not finish within 30s".into()),
            _ => {}
        }
    }
    rig.handle
        .commands
        .send(Command::Reload(Arc::new(s)))
        .await
        .unwrap();
    rig.run_for(60).await;
    let played = rig.played();
    let rows = rig.stop().await;
    assert_eq!(played.len(), 3, "{played:?}");
    assert!(played[2].ends_with(".wav"), "{played:?}");
    let hop = by_bulletin(&rows, "hop");
    assert_eq!(hop[0].outcome, Some(Outcome::Completed));
    assert_eq!(hop[0].aired_seconds, 7.0);
    let treo = by_bulletin(&rows, "treo");
    assert_eq!(treo[0].outcome, Some(Outcome::Failed));
    assert!(treo[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("did not finish"));
}

#[tokio::test(start_paused = true)]
async fn a_notice_never_read_aloud_within_its_grace_is_missed_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let text = STATION.to_string()
        + "[[bulletin]]\nid = \"hop\"\ntitle = \"Họp\"\ntext = \"Họp\"\nat = [\"07:00\"]\ngrace = \"1m\"\n";
    let mut s = station(dir.path(), &text);
    s.bulletins.last_mut().unwrap().audio = None;
    let rig = start(s, TestClock::new(at(6, 59, 0)));
    rig.run_for(3 * 60).await;
    let rows = rig.stop().await;
    let hop = by_bulletin(&rows, "hop");
    assert_eq!(hop[0].outcome, Some(Outcome::Missed));
    assert!(
        hop[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("still being read aloud"),
        "{:?}",
        hop[0].reason
    );
}

#[tokio::test(start_paused = true)]
async fn line_busy_past_grace_is_missed() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = station(dir.path(), STATION);
    // a lasts 3 minutes; b's grace is 2 minutes.
    s.bulletins[0].audio.as_mut().unwrap().seconds = 180.0;
    let rig = start(s, TestClock::new(at(5, 59, 0)));
    rig.run_for(10 * 60).await;
    let rows = rig.stop().await;
    let b = by_bulletin(&rows, "b");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].outcome, Some(Outcome::Missed));
    assert!(
        b[0].reason.as_deref().unwrap().contains("busy"),
        "{:?}",
        b[0].reason
    );
    assert!(b[0].started_at.is_none());
}

#[tokio::test(start_paused = true)]
async fn priority_goes_first_but_does_not_interrupt() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 59, 55)));
    rig.run_for(10).await; // a airs from 06:00, b waits
    let (tx, rx) = oneshot::channel();
    rig.handle
        .commands
        .send(Command::Queue(
            QueueRequest {
                target: Target::Bulletin("pri".into()),
                priority: None,
                at: None,
                requested_by: Some("van-hoa".into()),
            },
            tx,
        ))
        .await
        .unwrap();
    let view = rx.await.unwrap().unwrap();
    assert_eq!(view.priority, Priority::Priority);
    rig.run_for(5 * 60).await;
    assert_eq!(rig.played(), ["a.mp3", "pri.mp3", "b.mp3"]);
    let rows = rig.stop().await;
    let pri = by_bulletin(&rows, "pri");
    assert_eq!(pri[0].requested_by.as_deref(), Some("van-hoa"));
    assert_eq!(pri[0].source, Source::Operator);
    assert!(rows.iter().all(|r| r.outcome == Some(Outcome::Completed)));
}

#[tokio::test(start_paused = true)]
async fn emergency_interrupts_and_the_interrupted_item_is_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 59, 55)));
    rig.run_for(25).await; // a has aired 20 s
    let (tx, rx) = oneshot::channel();
    rig.handle
        .commands
        .send(Command::Emergency(
            EmergencyRequest {
                target: Target::Bulletin("storm".into()),
                repeat_every: Some(Duration::minutes(30)),
                until: Some(at(7, 0, 0)),
                requested_by: Some("chu-tich".into()),
            },
            tx,
        ))
        .await
        .unwrap();
    rx.await.unwrap().unwrap();
    rig.run_for(70 * 60).await;
    let rows = rig.stop().await;
    let a = by_bulletin(&rows, "a");
    assert_eq!(a.len(), 1, "not replayed: {:?}", outcomes(&rows));
    assert_eq!(a[0].outcome, Some(Outcome::Interrupted));
    assert!(a[0].reason.as_deref().unwrap().contains("storm"));
    assert!(
        (a[0].aired_seconds - 20.0).abs() < 1.0,
        "{}",
        a[0].aired_seconds
    );
    let storms = by_bulletin(&rows, "storm");
    // At once, then every 30 minutes until 07:00: 06:00:20, 06:30:20.
    assert_eq!(storms.len(), 2, "{:?}", outcomes(&rows));
    assert!(storms.iter().all(|r| r.outcome == Some(Outcome::Completed)));
    assert_eq!(storms[0].source, Source::Emergency);
    // b waited behind the emergency and still aired within its grace.
    assert_eq!(by_bulletin(&rows, "b")[0].outcome, Some(Outcome::Completed));
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_emergency_cuts_in_so_its_first_sample_is_on_its_instant() {
    let dir = tempfile::tempdir().unwrap();
    let text = STATION.replace(
        "priority = \"emergency\"\n",
        "priority = \"emergency\"\nat = [\"06:00:30\"]\n",
    );
    let rig = start(station(dir.path(), &text), TestClock::new(at(5, 59, 55)));
    // Stopping takes the real player's longest fade.
    rig.fake.set_fade(crate::audio::MAX_FADE);
    rig.run_for(60).await;
    let rows = rig.stop().await;
    let storm = by_bulletin(&rows, "storm");
    let a = by_bulletin(&rows, "a");
    let instant = at(6, 0, 30);
    // Cut early enough that the fade has ended at the instant, and the
    // emergency's first sample is on it (the fake starts cues exactly).
    let started = parse(storm[0].started_at.as_deref().unwrap());
    assert_eq!(started, instant, "{:?}", outcomes(&rows));
    assert_eq!(a[0].outcome, Some(Outcome::Interrupted));
    let cut = parse(a[0].ended_at.as_deref().unwrap());
    assert!(
        cut <= instant && instant - cut <= Duration::seconds(1),
        "a was cut at {cut}, the emergency is at {instant}"
    );
}

#[tokio::test(start_paused = true)]
async fn emergency_ignores_quiet_hours_normal_items_are_skipped_there() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(22, 0, 0)));
    for (target, prio) in [("a", None), ("storm", None)] {
        let (tx, rx) = oneshot::channel();
        let req = QueueRequest {
            target: Target::Bulletin(target.into()),
            priority: prio,
            at: None,
            requested_by: Some("op".into()),
        };
        rig.handle
            .commands
            .send(Command::Queue(req, tx))
            .await
            .unwrap();
        rx.await.unwrap().unwrap();
    }
    rig.run_for(60).await;
    let rows = rig.stop().await;
    assert_eq!(
        by_bulletin(&rows, "storm")[0].outcome,
        Some(Outcome::Completed)
    );
    let a = by_bulletin(&rows, "a");
    assert_eq!(a[0].outcome, Some(Outcome::Skipped));
    assert_eq!(a[0].reason.as_deref(), Some("quiet hours"));
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_item_in_quiet_hours_is_recorded_skipped_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{STATION}[[bulletin]]\nid = \"night\"\ntitle = \"Night\"\nfile = \"n.mp3\"\nat = [\"22:00\"]\n\
         [[program]]\nid = \"late\"\ntitle = \"Late\"\nat = [\"22:00\"]\nitems = [\"jingle\"]\n"
    );
    let rig = start(station(dir.path(), &text), TestClock::new(at(21, 59, 50)));
    rig.run_for(30).await;
    assert!(rig.played().is_empty(), "{:?}", rig.played());
    let rows1 = rig.stop().await;
    let skipped: Vec<(&str, Option<Outcome>, Option<&str>)> = rows1
        .iter()
        .map(|r| (r.occurrence.as_str(), r.outcome, r.reason.as_deref()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                "night@2026-10-07T22:00:00.000+07:00",
                Some(Outcome::Skipped),
                Some("quiet hours")
            ),
            (
                "late/jingle@2026-10-07T22:00:00.000+07:00",
                Some(Outcome::Skipped),
                Some("quiet hours")
            ),
        ]
    );
    assert_eq!(
        rows1[0].scheduled_at,
        rfc3339(at(22, 0, 0), chrono_tz::Asia::Ho_Chi_Minh)
    );
    // A restart within grace decides nothing again.
    let rig = start(station(dir.path(), &text), TestClock::new(at(22, 1, 0)));
    rig.run_for(60).await;
    let rows = rig.stop().await;
    assert_eq!(outcomes(&rows), outcomes(&rows1));
}

#[tokio::test(start_paused = true)]
async fn never_twice_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 59, 55)));
    rig.run_for(80).await; // a completed at 06:01:00; b is airing
    let rows1 = rig.stop().await;
    assert_eq!(
        by_bulletin(&rows1, "a")[0].outcome,
        Some(Outcome::Completed)
    );
    assert_eq!(
        by_bulletin(&rows1, "b")[0].outcome,
        Some(Outcome::Interrupted)
    );
    // Restart a minute later, still within a's grace.
    let rig = start(station(dir.path(), STATION), TestClock::new(at(6, 2, 30)));
    // /metrics knows from the ledger when something last aired.
    let b_started = by_bulletin(&rows1, "b")[0].started_at.clone().unwrap();
    let b_started = DateTime::parse_from_rfc3339(&b_started).unwrap();
    let metrics = rig.handle.metrics.render(&rig.handle.status.borrow());
    assert!(
        metrics.contains(&format!(
            "loa_last_aired_timestamp_seconds {}.000\n",
            b_started.timestamp()
        )),
        "{b_started} {metrics}"
    );
    rig.run_for(5 * 60).await;
    assert!(rig.played().is_empty(), "{:?}", rig.played());
    let rows = rig.stop().await;
    assert_eq!(rows.len(), rows1.len(), "{:?}", outcomes(&rows));
}

#[tokio::test(start_paused = true)]
async fn after_downtime_only_items_within_grace_air_the_rest_are_missed() {
    let dir = tempfile::tempdir().unwrap();
    // First run at 05:00 establishes where the station got to.
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 0, 0)));
    rig.run_for(60).await;
    assert!(rig.played().is_empty());
    rig.stop().await;
    // Back at 06:01:30: the programme (05:30, grace 10m) is missed; a (06:00,
    // grace 10m) airs late; b (grace 2m) airs after a and is then too late.
    let rig = start(station(dir.path(), STATION), TestClock::new(at(6, 1, 30)));
    rig.run_for(10 * 60).await;
    assert_eq!(rig.played(), ["a.mp3"]);
    let rows = rig.stop().await;
    let missed: Vec<_> = rows
        .iter()
        .filter(|r| r.outcome == Some(Outcome::Missed))
        .map(|r| r.occurrence.as_str())
        .collect();
    assert_eq!(missed.len(), 4, "{:?}", outcomes(&rows));
    assert!(missed.iter().filter(|m| m.starts_with("morning/")).count() == 3);
    assert!(missed.iter().any(|m| m.starts_with("b@")));
    let a: Vec<_> = rows
        .iter()
        .filter(|r| r.occurrence.starts_with("a@"))
        .collect();
    assert_eq!(
        a[0].started_at.as_deref(),
        Some("2026-10-07T06:01:30.000+07:00"),
        "{:?}",
        outcomes(&rows)
    );
}

#[tokio::test(start_paused = true)]
async fn a_first_start_does_not_invent_missed_items() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(12, 0, 0)));
    rig.run_for(60).await;
    let rows = rig.stop().await;
    assert!(rows.is_empty(), "{:?}", outcomes(&rows));
}

#[tokio::test(start_paused = true)]
async fn clock_jump_forward_releases_no_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 0, 0)));
    rig.run_for(10).await;
    // NTP syncs: the clock jumps to 06:05.
    rig.clock.jump(at(6, 5, 0) - at(5, 0, 10));
    rig.run_for(10 * 60).await;
    // a (06:00, grace 10m) airs late; nothing else airs.
    assert_eq!(rig.played(), ["a.mp3"]);
    let rows = rig.stop().await;
    let missed = rows
        .iter()
        .filter(|r| r.outcome == Some(Outcome::Missed))
        .count();
    assert_eq!(missed, 4, "programme items and b: {:?}", outcomes(&rows));
}

#[tokio::test(start_paused = true)]
async fn clock_jump_backward_never_replays() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 59, 55)));
    rig.run_for(3 * 60).await; // a and b aired
    rig.clock.jump(Duration::minutes(-10));
    rig.run_for(15 * 60).await;
    assert_eq!(rig.played(), ["a.mp3", "b.mp3"]);
    let rows = rig.stop().await;
    assert_eq!(rows.len(), 2, "{:?}", outcomes(&rows));
}

#[tokio::test(start_paused = true)]
async fn device_failure_mid_item_is_failed_and_the_next_item_airs() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 59, 55)));
    rig.fake.set_behaviour(
        "a.mp3",
        FakeBehaviour::FailAfter(12.0, "audio device vanished".into()),
    );
    rig.run_for(3 * 60).await;
    let rows = rig.stop().await;
    let a = by_bulletin(&rows, "a");
    assert_eq!(a[0].outcome, Some(Outcome::Failed));
    assert_eq!(a[0].reason.as_deref(), Some("audio device vanished"));
    assert_eq!(a[0].aired_seconds, 12.0);
    let b = by_bulletin(&rows, "b");
    assert_eq!(b[0].outcome, Some(Outcome::Completed));
    assert_eq!(
        b[0].started_at.as_deref(),
        Some("2026-10-07T06:00:12.000+07:00")
    );
}

#[tokio::test(start_paused = true)]
async fn decode_failure_is_failed_without_a_start_and_the_next_item_airs() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 59, 55)));
    rig.fake
        .set_behaviour("a.mp3", FakeBehaviour::FailToOpen("not audio".into()));
    rig.run_for(2 * 60).await;
    let rows = rig.stop().await;
    let a = by_bulletin(&rows, "a");
    assert_eq!(a[0].outcome, Some(Outcome::Failed));
    assert!(a[0].started_at.is_none());
    assert_eq!(by_bulletin(&rows, "b")[0].outcome, Some(Outcome::Completed));
}

#[tokio::test(start_paused = true)]
async fn paused_station_skips_what_comes_due_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 59, 0)));
    rig.handle
        .commands
        .send(Command::Pause("op".into()))
        .await
        .unwrap();
    rig.run_for(5 * 60).await;
    rig.handle
        .commands
        .send(Command::Resume("op".into()))
        .await
        .unwrap();
    assert!(rig.played().is_empty());
    let rows = rig.stop().await;
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r.outcome, Some(Outcome::Skipped));
        assert_eq!(r.reason.as_deref(), Some("station paused"));
    }
}

#[tokio::test(start_paused = true)]
async fn skip_ends_the_item_and_the_next_one_airs() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 59, 55)));
    rig.run_for(15).await;
    let (tx, rx) = oneshot::channel();
    rig.handle
        .commands
        .send(Command::Skip("op".into(), tx))
        .await
        .unwrap();
    assert_eq!(rx.await.unwrap().as_deref(), Ok("A"));
    rig.run_for(60).await;
    let rows = rig.stop().await;
    assert_eq!(
        by_bulletin(&rows, "a")[0].outcome,
        Some(Outcome::Interrupted)
    );
    assert_eq!(
        by_bulletin(&rows, "a")[0].reason.as_deref(),
        Some("skipped by op")
    );
    assert_eq!(by_bulletin(&rows, "b")[0].outcome, Some(Outcome::Completed));
}

#[tokio::test(start_paused = true)]
async fn shutdown_closes_the_airing_row_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 59, 55)));
    rig.run_for(30).await;
    let rows = rig.stop().await;
    let a = by_bulletin(&rows, "a");
    assert_eq!(a[0].outcome, Some(Outcome::Interrupted));
    assert_eq!(a[0].reason.as_deref(), Some("daemon stopped"));
    assert!(by_bulletin(&rows, "b").is_empty(), "b was never started");
}

#[tokio::test(start_paused = true)]
async fn reload_drops_removed_items_and_keeps_what_aired() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 59, 55)));
    rig.run_for(10).await; // a airs, b queued
    let changed = STATION.replace(
        "id = \"b\"\ntitle = \"B\"\nfile = \"b.mp3\"\nat = [\"06:00\"]",
        "id = \"b\"\ntitle = \"B\"\nfile = \"b.mp3\"\nat = [\"07:00\"]",
    );
    assert_ne!(changed, STATION);
    rig.handle
        .commands
        .send(Command::Reload(Arc::new(station(dir.path(), &changed))))
        .await
        .unwrap();
    rig.run_for(2 * 3600).await;
    assert_eq!(rig.played(), ["a.mp3", "b.mp3"]);
    let starts: HashMap<_, _> = rig
        .fake
        .played()
        .into_iter()
        .map(|(p, t)| (p.to_string_lossy().into_owned(), t))
        .collect();
    assert_eq!(starts["b.mp3"], at(7, 0, 0));
    let rows = rig.stop().await;
    assert_eq!(rows.len(), 2, "{:?}", outcomes(&rows));
}

#[tokio::test(start_paused = true)]
async fn a_dequeued_occurrence_is_recorded_skipped_not_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 59, 58)));
    rig.run_for(5).await; // a airs, b waits in the queue
    let queued = rig.handle.status.borrow().queue.clone();
    let b = queued.iter().find(|q| q.bulletin == "b").expect("b queued");
    let (tx, rx) = oneshot::channel();
    rig.handle
        .commands
        .send(Command::Dequeue(b.id, tx))
        .await
        .unwrap();
    assert_eq!(rx.await.unwrap(), Ok(()));
    rig.run_for(120).await;
    assert_eq!(rig.played(), ["a.mp3"]);
    let rows = rig.stop().await;
    let b = by_bulletin(&rows, "b");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].outcome, Some(Outcome::Skipped));
    assert_eq!(b[0].reason.as_deref(), Some(super::queue::DEQUEUED));
}

#[tokio::test(start_paused = true)]
async fn a_repeating_emergency_goes_on_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(12, 0, 0)));
    let (tx, rx) = oneshot::channel();
    rig.handle
        .commands
        .send(Command::Emergency(
            EmergencyRequest {
                target: Target::Bulletin("storm".into()),
                repeat_every: Some(Duration::minutes(30)),
                until: Some(at(14, 0, 0)),
                requested_by: Some("chu-tich".into()),
            },
            tx,
        ))
        .await
        .unwrap();
    rx.await.unwrap().unwrap();
    rig.run_for(60).await; // aired once at 12:00
    rig.stop().await;
    // Power back at 12:40: the 12:30 repeat was missed, one airs at once,
    // then 13:00, 13:30, 14:00 would be past `until` (14:00:00 is not after).
    let rig = start(station(dir.path(), STATION), TestClock::new(at(12, 40, 0)));
    rig.run_for(1).await;
    let since = rig
        .handle
        .status
        .borrow()
        .emergency
        .as_ref()
        .map(|e| e.since);
    assert_eq!(
        since,
        Some(at(12, 0, 0)),
        "in force since before the restart"
    );
    rig.run_for(3 * 3600).await;
    let rows = rig.stop().await;
    let storms: Vec<_> = by_bulletin(&rows, "storm")
        .into_iter()
        .map(|r| r.started_at.clone().unwrap())
        .collect();
    assert_eq!(
        storms,
        [
            "2026-10-07T12:00:00.000+07:00",
            "2026-10-07T12:40:00.000+07:00",
            "2026-10-07T13:00:00.000+07:00",
            "2026-10-07T13:30:00.000+07:00",
            "2026-10-07T14:00:00.000+07:00",
        ]
    );
    // And after `until` nothing is left to resume.
    let ledger = Ledger::open_read_only(&dir.path().join("var/airtime.db"), rig_tz()).unwrap();
    assert_eq!(ledger.state("emergency").unwrap(), None);
}

fn rig_tz() -> chrono_tz::Tz {
    chrono_tz::Asia::Ho_Chi_Minh
}

#[tokio::test(start_paused = true)]
async fn a_short_lived_first_run_still_leaves_a_watermark_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    // The first run is killed 20 s after it starts: a airs, b waits.
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 59, 55)));
    rig.run_for(20).await;
    rig.cut_power().await;
    // Power comes back long after every grace: both must be on record.
    let rig = start(station(dir.path(), STATION), TestClock::new(at(6, 30, 0)));
    rig.run_for(10).await;
    let rows = rig.stop().await;
    let a: Vec<_> = rows
        .iter()
        .filter(|r| r.occurrence.starts_with("a@"))
        .collect();
    assert_eq!(
        a[0].outcome,
        Some(Outcome::Interrupted),
        "{:?}",
        outcomes(&rows)
    );
    let b = by_bulletin(&rows, "b");
    assert_eq!(b.len(), 1, "b has no row: {:?}", outcomes(&rows));
    assert_eq!(b[0].outcome, Some(Outcome::Missed));
}

#[tokio::test(start_paused = true)]
async fn refusals_name_what_was_not_there() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(12, 0, 0)));
    let nope = || Target::Bulletin("nope".into());
    let queued = ask(&rig.handle, |tx| {
        let req = QueueRequest {
            target: nope(),
            priority: None,
            at: None,
            requested_by: None,
        };
        Command::Queue(req, tx)
    })
    .await;
    assert_eq!(queued, Err(Refusal::UnknownBulletin("nope".into())));
    let emergency = ask(&rig.handle, |tx| {
        let req = EmergencyRequest {
            target: nope(),
            repeat_every: Some(Duration::minutes(30)),
            until: None,
            requested_by: None,
        };
        Command::Emergency(req, tx)
    })
    .await;
    assert_eq!(emergency, Err(Refusal::UnknownBulletin("nope".into())));
    assert_eq!(
        ask(&rig.handle, |tx| Command::Dequeue(999, tx)).await,
        Err(Refusal::NotInQueue(999))
    );
    assert_eq!(
        ask(&rig.handle, |tx| Command::Skip("op".into(), tx)).await,
        Err(Refusal::NothingAiring)
    );
    assert_eq!(
        ask(&rig.handle, |tx| Command::CancelEmergency("op".into(), tx)).await,
        Err(Refusal::NoEmergency)
    );
    assert!(rig.handle.status.borrow().emergency.is_none());
    let rows = rig.stop().await;
    assert!(rows.is_empty(), "{:?}", outcomes(&rows));
}

/// A playout the test drives: it notes what it is asked and reports
/// nothing by itself (the test sends the events).
#[derive(Clone, Default)]
struct Scripted {
    cues: Arc<Mutex<Vec<Cue>>>,
    stops: Arc<Mutex<Vec<u64>>>,
}

impl Scripted {
    fn cue_of(&self, file: &str) -> u64 {
        let cues = self.cues.lock().unwrap();
        cues.iter()
            .find(|c| c.path.ends_with(file))
            .unwrap_or_else(|| panic!("{file} was not cued: {cues:?}"))
            .id
    }
}

impl Playout for Scripted {
    fn cue(&mut self, cue: Cue) {
        self.cues.lock().unwrap().push(cue);
    }

    fn stop(&mut self, cue: u64) {
        self.stops.lock().unwrap().push(cue);
    }

    fn connect_early(&mut self, _relay: &crate::audio::relay::RelayCue) {}

    fn state(&self) -> OutputState {
        OutputState::Idle
    }
}

/// `a` (06:00) on the air for 12 s over a scripted playout.
struct OnAir {
    playout: Scripted,
    handle: Handle,
    task: tokio::task::JoinHandle<()>,
    events: mpsc::UnboundedSender<PlayEvent>,
    cue: u64,
    ledger: PathBuf,
    tz: chrono_tz::Tz,
}

async fn on_air(dir: &Path) -> OnAir {
    let (events, rx) = mpsc::unbounded_channel();
    let playout = Scripted::default();
    let clock = TestClock::new(at(5, 59, 55));
    let p = parts(station(dir, STATION), &clock, playout.clone(), rx);
    let task = tokio::spawn(p.engine.run());
    // Cued ahead of 06:00; the test starts it on time.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let cue = playout.cue_of("a.mp3");
    events
        .send(PlayEvent::Started {
            cue,
            at: at(6, 0, 0),
        })
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(12)).await;
    events
        .send(PlayEvent::Progress {
            cue,
            aired_seconds: 12.0,
        })
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    OnAir {
        playout,
        handle: p.handle,
        task,
        events,
        cue,
        ledger: p.ledger,
        tz: p.tz,
    }
}

/// The one row of `a`, read without flushing the ledger first: what the
/// engine's own flush landed.
fn row_of_a(ledger: &Path, tz: chrono_tz::Tz) -> AirtimeRow {
    let rows = rows(ledger, tz);
    let a = by_bulletin(&rows, "a");
    assert_eq!(a.len(), 1, "{:?}", outcomes(&rows));
    a[0].clone()
}

#[tokio::test(start_paused = true)]
async fn the_airing_row_is_closed_when_the_playout_events_end() {
    let dir = tempfile::tempdir().unwrap();
    let air = on_air(dir.path()).await;
    // The audio side goes away: no event will ever come again.
    drop(air.events);
    air.task.await.unwrap();
    let a = row_of_a(&air.ledger, air.tz);
    assert_eq!(a.outcome, Some(Outcome::Interrupted));
    assert_eq!(
        a.reason.as_deref(),
        Some("the audio output stopped reporting; engine stopped")
    );
    assert_eq!(a.aired_seconds, 12.0);
    assert!(air.handle.commands.is_closed(), "the engine is gone");
}

#[tokio::test(start_paused = true)]
async fn a_fade_that_never_ends_leaves_the_ledger_its_own_budget() {
    let dir = tempfile::tempdir().unwrap();
    let air = on_air(dir.path()).await;
    let asked = tokio::time::Instant::now();
    air.handle.commands.send(Command::Shutdown).await.unwrap();
    air.task.await.unwrap();
    let took = asked.elapsed();
    assert!(took >= STOP_BUDGET && took <= SHUTDOWN_BUDGET, "{took:?}");
    assert_eq!(*air.playout.stops.lock().unwrap(), [air.cue]);
    let a = row_of_a(&air.ledger, air.tz);
    assert_eq!(a.outcome, Some(Outcome::Interrupted));
    assert_eq!(a.reason.as_deref(), Some("daemon stopped"));
    assert_eq!(a.aired_seconds, 12.0);
    drop(air.events);
}

#[test]
fn the_ledger_keeps_its_budget_however_long_the_fade_takes() {
    let start = tokio::time::Instant::now();
    let d = Deadlines::from(start);
    // A fade that used all of its time leaves the writes all of theirs...
    assert_eq!(d.flush_budget(start + STOP_BUDGET), FLUSH_BUDGET);
    // ...one that ended early leaves them its rest too.
    let early = std::time::Duration::from_millis(300);
    assert_eq!(
        d.flush_budget(start + early),
        STOP_BUDGET + FLUSH_BUDGET - early
    );
    assert!(STOP_BUDGET >= 2 * crate::audio::MAX_FADE);
    assert!(SHUTDOWN_BUDGET < std::time::Duration::from_secs(2));
}

/// An engine that exists but is not running, over a scripted playout
/// (and the sender of its events, which keeps them open).
fn idle_parts(dir: &Path) -> (Parts<Scripted>, mpsc::UnboundedSender<PlayEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let clock = TestClock::new(at(12, 0, 0));
    (
        parts(station(dir, STATION), &clock, Scripted::default(), rx),
        tx,
    )
}

#[tokio::test]
async fn a_full_command_channel_is_not_a_wedged_engine() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _events) = idle_parts(dir.path());
    let mut waiting = 0;
    while p
        .handle
        .commands
        .try_send(Command::Resume("op".into()))
        .is_ok()
    {
        waiting += 1;
    }
    assert_eq!(waiting, 64, "the command channel is full");
    let ping = p.handle.ping.clone();
    let alive =
        tokio::task::spawn_blocking(move || ping.answers(std::time::Duration::from_secs(5)));
    // The ping goes out while the commands are still all waiting.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let task = tokio::spawn(p.engine.run());
    assert!(alive.await.unwrap(), "a busy engine is not a wedged one");
    p.handle.commands.send(Command::Shutdown).await.unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn an_engine_that_does_not_turn_or_has_stopped_is_wedged() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _events) = idle_parts(dir.path());
    let answers = |timeout_ms: u64| {
        let ping = p.handle.ping.clone();
        tokio::task::spawn_blocking(move || {
            ping.answers(std::time::Duration::from_millis(timeout_ms))
        })
    };
    assert!(!answers(100).await.unwrap(), "never polled: no answer");
    drop(p.engine);
    // At once, not after the ping's timeout: a minute, so that the bound
    // below holds on a busy machine and still tells the two apart.
    let asked = std::time::Instant::now();
    assert!(!answers(60_000).await.unwrap(), "stopped: no answer");
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(30),
        "at once, not after the timeout: {:?}",
        asked.elapsed()
    );
}

/// Queue `bulletin` at `when` as operator `van-hoa`.
async fn queue_at(handle: &Handle, bulletin: &str, when: DateTime<Utc>) -> QueuedView {
    ask(handle, |tx| {
        Command::Queue(
            QueueRequest {
                target: Target::Bulletin(bulletin.into()),
                priority: None,
                at: Some(when),
                requested_by: Some("van-hoa".into()),
            },
            tx,
        )
    })
    .await
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_operator_queue_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(12, 0, 0)));
    let early = queue_at(&rig.handle, "jingle", at(12, 10, 0)).await;
    let later = queue_at(&rig.handle, "pri", at(12, 30, 0)).await;
    rig.run_for(60).await;
    assert!(rig.stop().await.is_empty(), "nothing aired yet");

    // Down from 12:01 to 12:25: the 12:10 item is past its grace (10 min),
    // the 12:30 one waits again, under its id, and airs on time.
    let rig = start(station(dir.path(), STATION), TestClock::new(at(12, 25, 0)));
    rig.run_for(1).await;
    let queued = rig.handle.status.borrow().queue.clone();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].id, later.id);
    assert_eq!(queued[0].occurrence, later.occurrence);
    assert_eq!(queued[0].priority, Priority::Priority);
    assert_eq!(queued[0].requested_by.as_deref(), Some("van-hoa"));
    let new = queue_at(&rig.handle, "jingle", at(14, 0, 0)).await;
    assert!(
        new.id > later.id && new.id > early.id,
        "ids go on: {} after {}",
        new.id,
        later.id
    );
    rig.run_for(40 * 60).await;
    assert_eq!(rig.played(), ["pri.mp3"]);
    assert_eq!(rig.fake.played()[0].1, at(12, 30, 0));
    let rows = rig.stop().await;
    let missed = by_bulletin(&rows, "jingle");
    assert_eq!(missed.len(), 1, "{:?}", outcomes(&rows));
    assert_eq!(missed[0].occurrence, early.occurrence);
    assert_eq!(missed[0].outcome, Some(Outcome::Missed));
    assert_eq!(missed[0].source, Source::Operator);
    assert!(
        missed[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("daemon was down"),
        "{:?}",
        missed[0].reason
    );
    let pri = by_bulletin(&rows, "pri");
    assert_eq!(pri[0].outcome, Some(Outcome::Completed));

    // What aired or was recorded is not kept; the 14:00 item still is,
    // and nothing is recorded twice after another restart.
    let rig = start(station(dir.path(), STATION), TestClock::new(at(13, 56, 0)));
    rig.run_for(1).await;
    let queued = rig.handle.status.borrow().queue.clone();
    assert_eq!(
        queued.iter().map(|q| q.id).collect::<Vec<_>>(),
        [new.id],
        "{queued:?}"
    );
    rig.run_for(10 * 60).await;
    let rows = rig.stop().await;
    assert_eq!(
        by_bulletin(&rows, "jingle").len(),
        2,
        "{:?}",
        outcomes(&rows)
    );
    assert_eq!(by_bulletin(&rows, "pri").len(), 1, "{:?}", outcomes(&rows));
}

#[tokio::test(start_paused = true)]
async fn a_dequeued_item_does_not_come_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(12, 0, 0)));
    let q = queue_at(&rig.handle, "pri", at(12, 30, 0)).await;
    assert_eq!(
        ask(&rig.handle, |tx| Command::Dequeue(q.id, tx)).await,
        Ok(())
    );
    rig.stop().await;
    let rig = start(station(dir.path(), STATION), TestClock::new(at(12, 20, 0)));
    rig.run_for(20 * 60).await;
    assert!(rig.played().is_empty());
    let rows = rig.stop().await;
    assert_eq!(outcomes(&rows).len(), 1, "{:?}", outcomes(&rows));
    assert_eq!(rows[0].outcome, Some(Outcome::Skipped));
}

#[tokio::test(start_paused = true)]
async fn operators_may_queue_up_to_max_queue_items() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = station(dir.path(), STATION);
    s.api.max_queue = 2;
    let rig = start(s, TestClock::new(at(12, 0, 0)));
    let first = queue_at(&rig.handle, "pri", at(12, 30, 0)).await;
    queue_at(&rig.handle, "jingle", at(12, 40, 0)).await;
    let req = || QueueRequest {
        target: Target::Bulletin("a".into()),
        priority: None,
        at: Some(at(12, 50, 0)),
        requested_by: None,
    };
    let full = ask(&rig.handle, |tx| Command::Queue(req(), tx)).await;
    assert_eq!(full.unwrap_err(), Refusal::QueueFull(2));
    ask(&rig.handle, |tx| Command::Dequeue(first.id, tx))
        .await
        .unwrap();
    assert!(ask(&rig.handle, |tx| Command::Queue(req(), tx))
        .await
        .is_ok());
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_queued_item_survives_a_power_cut() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(at(12, 0, 0)));
    let q = queue_at(&rig.handle, "pri", at(12, 30, 0)).await;
    rig.run_for(5).await;
    rig.cut_power().await;
    let rig = start(station(dir.path(), STATION), TestClock::new(at(12, 20, 0)));
    rig.run_for(1).await;
    assert_eq!(rig.handle.status.borrow().queue[0].id, q.id);
    rig.run_for(11 * 60).await;
    assert_eq!(rig.played(), ["pri.mp3"]);
    assert_eq!(rig.fake.played()[0].1, at(12, 30, 0));
    let rows = rig.stop().await;
    assert_eq!(rows.len(), 1, "{:?}", outcomes(&rows));
    assert_eq!(rows[0].occurrence, q.occurrence);
    assert_eq!(rows[0].outcome, Some(Outcome::Completed));
}

#[tokio::test(start_paused = true)]
async fn a_relay_waits_its_turn_and_an_emergency_cuts_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = STATION.replace(
        "priority = \"emergency\"\n",
        "priority = \"emergency\"\nat = [\"06:03:00\"]\n",
    ) + r#"
[[relay]]
id = "vov1"
title = "Tiếp âm VOV1"
url = "http://127.0.0.1:9/vov1.mp3"
duration = "10m"
priority = "priority"
fallback = "jingle"
at = ["06:00:30"]
"#;
    let rig = start(station(dir.path(), &text), TestClock::new(at(5, 59, 55)));
    rig.run_for(20 * 60).await;
    let rows = rig.stop().await;
    let relay = by_bulletin(&rows, "vov1");
    assert_eq!(relay.len(), 1, "{:?}", outcomes(&rows));
    let r = relay[0];
    assert_eq!(r.source, Source::Relay);
    assert_eq!(r.file, "http://127.0.0.1:9/vov1.mp3");
    // It did not cut `a` (06:00, 60 s): it started when `a` ended...
    assert_eq!(by_bulletin(&rows, "a")[0].outcome, Some(Outcome::Completed));
    assert_eq!(parse(r.started_at.as_deref().unwrap()), at(6, 1, 0));
    // ...and the emergency cut it.
    assert_eq!(r.outcome, Some(Outcome::Interrupted));
    assert!(r.reason.as_deref().unwrap().contains("storm"), "{r:?}");
    assert_eq!(
        by_bulletin(&rows, "storm")[0].outcome,
        Some(Outcome::Completed)
    );
}

#[tokio::test(start_paused = true)]
async fn a_relay_airs_its_duration_and_is_recorded_as_a_relay() {
    let dir = tempfile::tempdir().unwrap();
    let text = STATION.to_string()
        + r#"
[[relay]]
id = "vov1"
title = "Tiếp âm VOV1"
url = "http://127.0.0.1:9/vov1.mp3"
duration = "5m"
at = ["07:00"]
"#;
    let rig = start(station(dir.path(), &text), TestClock::new(at(6, 59, 0)));
    rig.run_for(10 * 60).await;
    let rows = rig.stop().await;
    let r = by_bulletin(&rows, "vov1")[0];
    assert_eq!(r.outcome, Some(Outcome::Completed), "{r:?}");
    assert_eq!(r.planned_seconds, 300.0);
    assert!((r.aired_seconds - 300.0).abs() < 0.01, "{r:?}");
    assert_eq!(parse(r.started_at.as_deref().unwrap()), at(7, 0, 0));
    assert_eq!(parse(r.ended_at.as_deref().unwrap()), at(7, 5, 0));
}

#[tokio::test(start_paused = true)]
async fn a_relay_airs_as_a_programme_item() {
    let dir = tempfile::tempdir().unwrap();
    let text = STATION.replace(
        "items = [\"jingle\", \"a\", \"jingle\"]",
        "items = [\"jingle\", \"vov1\", \"jingle\"]",
    ) + r#"
[[relay]]
id = "vov1"
title = "Tiếp âm VOV1"
input = "default"
duration = "2m"
"#;
    let rig = start(station(dir.path(), &text), TestClock::new(at(5, 29, 0)));
    rig.run_for(10 * 60).await;
    let early = rig.fake.early_connects();
    let rows = rig.stop().await;
    let morning: Vec<_> = rows
        .iter()
        .filter(|r| r.program.as_deref() == Some("morning"))
        .collect();
    let ids: Vec<&str> = morning.iter().map(|r| r.bulletin.as_str()).collect();
    assert_eq!(ids, ["jingle", "vov1", "jingle"], "{:?}", outcomes(&rows));
    let relay = morning[1];
    assert_eq!(relay.source, Source::Relay);
    assert_eq!(relay.outcome, Some(Outcome::Completed));
    assert!(relay.occurrence.starts_with("morning/vov1@"), "{relay:?}");
    // Back to back: the second jingle starts when the relay's 2 minutes end.
    let relay_end = parse(relay.ended_at.as_deref().unwrap());
    assert_eq!(parse(morning[2].started_at.as_deref().unwrap()), relay_end);
    let relay_start = parse(relay.started_at.as_deref().unwrap());
    assert_eq!(relay_end - relay_start, Duration::minutes(2));
    // Behind the jingle, the relay starts connecting LEAD (3 s) ahead, not
    // only when it is cued (1.5 s ahead).
    assert_eq!(early.len(), 1, "{early:?}");
    assert_eq!(early[0].0, "vov1");
    assert_eq!(relay_start - early[0].1, LEAD, "{early:?}");
}
