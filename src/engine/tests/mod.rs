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
use crate::reason::{By, Reason};

/// The main reason of a row that has one.
fn reason_of(r: &AirtimeRow) -> &Reason {
    &r.reason.as_ref().expect("the row has a reason").main
}

fn vanished() -> Reason {
    Reason::DeviceFailed {
        error: "audio device vanished".into(),
    }
}

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

/// `STATION` in a fresh folder, started with its clock at `now`.
fn start_at(now: DateTime<Utc>) -> (tempfile::TempDir, Rig) {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(station(dir.path(), STATION), TestClock::new(now));
    (dir, rig)
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

/// Run the station file `text` from `from` for `secs` of virtual time,
/// then stop: every ledger row.
async fn run_station(dir: &Path, text: &str, from: DateTime<Utc>, secs: i64) -> Vec<AirtimeRow> {
    let rig = start(station(dir, text), TestClock::new(from));
    rig.run_for(secs).await;
    rig.stop().await
}

/// `STATION` with its storm warning scheduled at `time` (`HH:MM:SS`).
fn storm_at(time: &str) -> String {
    let text = STATION.replace(
        "priority = \"emergency\"\n",
        &format!("priority = \"emergency\"\nat = [\"{time}\"]\n"),
    );
    assert_ne!(text, STATION, "STATION has a storm warning to schedule");
    text
}

/// The chairman's storm warning, repeated every 30 minutes until `until`.
fn storm_until(until: DateTime<Utc>) -> EmergencyRequest {
    EmergencyRequest {
        target: Target::Bulletin("storm".into()),
        repeat: Some(Repetition {
            every: Duration::minutes(30),
            until: Some(until),
        }),
        requested_by: Some("chu-tich".into()),
    }
}

impl Rig {
    /// Send a command that replies and wait for the reply.
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, Refusal> {
        let (tx, rx) = oneshot::channel();
        self.handle.commands.send(make(tx)).await.unwrap();
        rx.await.unwrap()
    }

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

fn rig_tz() -> chrono_tz::Tz {
    chrono_tz::Asia::Ho_Chi_Minh
}

mod commands;
mod line;
mod outputs;
mod relay;
mod restarts;
