//! Proof of play through a real line: `loa run` plays into a PulseAudio
//! null sink `amp`; a `module-loopback` from `amp`'s monitor into a
//! second null sink `line` (300 ms late) is the amplifier; `[monitor]`
//! captures `line`'s monitor through ALSA's pulse plugin. One daemon run,
//! in order: a good line (the first item after the start, while the
//! monitor has yet to find the line's delay), the same line with pink noise (20 dB below the
//! programme) and a 50 Hz hum played into it, the amplifier switched off
//! in the middle of an item (the loopback unloaded), and a foreign sound
//! on the line while nothing airs. `heard_seconds` is read from the ledger
//! with rusqlite, never through `loa::ledger`.
//!
//! Needs `pulseaudio`, `pactl`/`paplay` (pulseaudio-utils) and
//! `libasound2-plugins`, which `make test` installs: without them this
//! test fails, it never skips.

use crate::common;
use crate::common::pulse;
use crate::common::signals;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

/// `[monitor] silence_alarm` here (the default is 10 s).
const SILENCE_ALARM: f64 = 2.0;
/// A busy machine's allowance on top of what the issue asks (a row's
/// heard seconds may wait 30 s for the line's delay after a start).
const PATIENCE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct Row {
    bulletin: String,
    aired: f64,
    heard: Option<f64>,
    outcome: Option<String>,
}

/// The ledger's rows, read with rusqlite.
fn rows(db: &Path) -> Vec<Row> {
    if !db.exists() {
        return Vec::new();
    }
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    let Ok(mut q) = c
        .prepare("SELECT bulletin, aired_seconds, heard_seconds, outcome FROM airtime ORDER BY id")
    else {
        return Vec::new(); // no table yet
    };
    q.query_map([], |r| {
        Ok(Row {
            bulletin: r.get(0)?,
            aired: r.get(1)?,
            heard: r.get(2)?,
            outcome: r.get(3)?,
        })
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Wait until `bulletin`'s row is finished and has its heard seconds
/// (written when the monitor's verdicts are final, after the row closes);
/// it must have completed.
fn finished(db: &Path, bulletin: &str, log: &dyn Fn() -> String) -> Row {
    finished_nth(db, bulletin, 1, log)
}

/// The `n`th row of `bulletin` (from 1, by id) once it has ended and has
/// its heard seconds.
fn finished_nth(db: &Path, bulletin: &str, n: usize, log: &dyn Fn() -> String) -> Row {
    let give_up = Instant::now() + PATIENCE;
    loop {
        if let Some(r) = rows(db)
            .into_iter()
            .filter(|r| r.bulletin == bulletin)
            .nth(n - 1)
            .filter(|r| r.outcome.is_some() && r.heard.is_some())
        {
            assert_eq!(r.outcome.as_deref(), Some("completed"), "{r:?}\n{}", log());
            return r;
        }
        assert!(
            Instant::now() < give_up,
            "{bulletin} did not end: {:?}\n{}",
            rows(db),
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Wait until `/metrics` says `name` is `value`; how long that took.
fn metric_becomes(addr: SocketAddr, name: &str, value: f64, log: &dyn Fn() -> String) -> Duration {
    let start = Instant::now();
    loop {
        if common::metric(addr, name) == Some(value) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < PATIENCE,
            "{name} is {:?}, not {value}\n{}",
            common::metric(addr, name),
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn queue(addr: SocketAddr, token: &str, bulletin: &str) {
    let body = json!({ "bulletin": bulletin }).to_string();
    let r = common::request(
        addr,
        "POST",
        "/api/v1/queue",
        Some(token),
        Some(("application/json", body.as_bytes())),
    )
    .unwrap();
    assert_eq!(r.status, 202, "{r:?}");
}

/// `paplay` of `file` into the sink `line`, killed when dropped.
struct Playing(Child);

impl Playing {
    fn start(server: &pulse::Pulse, file: &Path) -> Playing {
        let mut cmd = Command::new("paplay");
        server.apply(&mut cmd);
        cmd.args(["-d", "line"])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Playing(cmd.spawn().expect("start paplay (pulseaudio-utils)"))
    }
}

impl Drop for Playing {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn assert_heard(row: &Row, what: &str, log: &dyn Fn() -> String) {
    let heard = row
        .heard
        .unwrap_or_else(|| panic!("{what}: no heard_seconds: {row:?}"));
    println!("{what}: heard {heard:.1} s of {:.1} s aired", row.aired);
    assert!(
        heard >= 0.9 * row.aired && heard <= row.aired + 1e-9,
        "{what}: heard {heard} of {} aired\n{}",
        row.aired,
        log()
    );
}

#[test]
fn the_ledger_says_what_the_line_carried_and_the_line_alarms_rise_and_clear() {
    pulse::require("paplay", "pulseaudio-utils", "test");
    let server = pulse::Pulse::start("test");
    server.pactl(&["load-module", "module-null-sink", "sink_name=amp"]);
    server.pactl(&["load-module", "module-null-sink", "sink_name=line"]);
    let amplifier = server.pactl(&[
        "load-module",
        "module-loopback",
        "source=amp.monitor",
        "sink=line",
        "latency_msec=300",
    ]);

    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    std::fs::create_dir(&audio).unwrap();
    let programme = signals::speech(5.0, 1);
    let level = signals::rms(&programme);
    pulse::wav(&audio.join("tin-1.wav"), &programme);
    pulse::wav(&audio.join("tin-2.wav"), &signals::speech(5.0, 2));
    pulse::wav(&audio.join("tin-3.wav"), &signals::speech(9.0, 3));
    let noise = signals::mix(
        &signals::pink(12.0, level / 10.0, 4),
        &signals::hum(12.0, level / 3.0),
    );
    pulse::wav(&dir.path().join("noise.wav"), &noise);
    pulse::wav(&dir.path().join("voice.wav"), &signals::speech(40.0, 5));

    let addr = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    let (token, sha) = common::new_token("van-thu", "operator");
    let text = common::api_station_toml(
        addr,
        &[("van-thu", "operator", &sha)],
        &format!(
            "[monitor]\ninput = \"default\"\nsilence_alarm = {SILENCE_ALARM}\n\
             [[bulletin]]\nid = \"tot\"\ntitle = \"Đường loa tốt\"\nfile = \"tin-1.wav\"\n\
             [[bulletin]]\nid = \"nhieu\"\ntitle = \"Đường loa có nhiễu\"\nfile = \"tin-2.wav\"\n\
             [[bulletin]]\nid = \"cat\"\ntitle = \"Âm ly tắt giữa chừng\"\nfile = \"tin-3.wav\"\n"
        ),
    )
    .replace(
        "kind = \"wav\"\npath = \"var/aired.wav\"\npace = \"realtime\"",
        "kind = \"device\"\ndevice = \"default\"\nloudness = false",
    );
    let config = dir.path().join("station.toml");
    std::fs::write(&config, text).unwrap();
    let daemon = common::Daemon::start_with(&config, addr, |cmd| {
        server.apply(cmd);
        // loa plays into the amplifier and listens to the line.
        cmd.env("PULSE_SINK", "amp")
            .env("PULSE_SOURCE", "line.monitor");
    });
    let log = || format!("{}\npulseaudio:\n{}", daemon.log_text(), server.log());
    let db = dir.path().join("var/airtime.db");
    assert_eq!(
        common::metric(addr, "loa_line_silent"),
        Some(0.0),
        "{}",
        log()
    );

    // A good line, 300 ms late: the first item after the start, where
    // the monitor still searches for the line's delay, the sound server
    // takes about a second to start playing (the tap learns it only when
    // it asks for more, and stamps the frames it held again), and the
    // capture delivers its first frame only once the line carries sound.
    queue(addr, &token, "tot");
    assert_heard(
        &finished(&db, "tot", &log),
        "good line, 300 ms, first item",
        &log,
    );
    // A second item on the good line, the delay now known.
    queue(addr, &token, "tot");
    assert_heard(
        &finished_nth(&db, "tot", 2, &log),
        "good line, 300 ms",
        &log,
    );

    // Pink noise 20 dB below the programme and a 50 Hz hum on the line.
    let noisy = Playing::start(&server, &dir.path().join("noise.wav"));
    queue(addr, &token, "nhieu");
    assert_heard(&finished(&db, "nhieu", &log), "noise and hum", &log);
    drop(noisy);

    // The amplifier is switched off 3 s into a 9 s item.
    queue(addr, &token, "cat");
    metric_becomes(addr, "loa_airing", 1.0, &log);
    std::thread::sleep(Duration::from_secs(3));
    server.pactl(&["unload-module", &amplifier]);
    let raised = metric_becomes(addr, "loa_line_silent", 1.0, &log);
    println!(
        "line silent raised {:.2} s after the amplifier went off",
        raised.as_secs_f64()
    );
    assert!(
        raised.as_secs_f64() <= SILENCE_ALARM + 1.0,
        "loa_line_silent took {raised:?}\n{}",
        log()
    );
    let cut = finished(&db, "cat", &log);
    let heard = cut.heard.expect("heard_seconds");
    println!(
        "amplifier off at 3 s: heard {heard:.1} s of {:.1} s",
        cut.aired
    );
    // Heard stops growing at the cut: at most a second after it (the
    // line's delay), and the last 1.5 s before it may go unconfirmed (a
    // frame's verdict looks 1.5 s either side).
    assert!((1.0..=4.0).contains(&heard), "{cut:?}\n{}", log());

    // The report and the listing say what was heard.
    let report = common::request(addr, "GET", "/api/v1/report", Some(&token), None)
        .unwrap()
        .json();
    let bulletins: Vec<&serde_json::Value> = report["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["bulletins"].as_array().unwrap())
        .collect();
    let tot = bulletins.iter().find(|b| b["bulletin"] == "tot").unwrap();
    let heard_min = tot["heard_minutes"].as_f64().expect("heard_minutes");
    assert!(
        heard_min >= 0.9 * tot["aired_minutes"].as_f64().unwrap() - 0.01,
        "{tot}"
    );
    assert!(
        report["total"]["heard_minutes"].as_f64().is_some(),
        "{report}"
    );
    let listing = common::request(addr, "GET", "/api/v1/airtime", Some(&token), None)
        .unwrap()
        .json();
    let listed = listing["rows"].as_array().or(listing.as_array()).unwrap();
    assert!(
        listed.iter().all(|r| r["heard_seconds"].as_f64().is_some()),
        "{listing}"
    );

    // Someone speaks on the line while nothing airs: foreign after 30 s;
    // the sound also clears the silence alarm, and quiet clears both.
    let voice = Playing::start(&server, &dir.path().join("voice.wav"));
    metric_becomes(addr, "loa_line_silent", 0.0, &log);
    let foreign = metric_becomes(addr, "loa_line_foreign", 1.0, &log);
    assert!(
        foreign >= Duration::from_secs(29),
        "foreign after {foreign:?}"
    );
    drop(voice);
    metric_becomes(addr, "loa_line_foreign", 0.0, &log);
}
