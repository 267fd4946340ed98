//! The `loa` binary end to end: check, schedule, airtime and report, as an
//! operator or official runs them.

use crate::common::bin;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{TimeZone, Utc};

fn loa(args: &[&str]) -> Output {
    Command::new(bin::loa())
        .args(args)
        .env_remove("LOA_CONFIG")
        .output()
        .expect("run loa")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn example() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/station.toml")
        .display()
        .to_string()
}

/// A station file in a temp dir whose audio_dir is the repo's audio/.
fn station(dir: &Path, body: &str) -> PathBuf {
    let audio = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio");
    let text = format!(
        "[station]\nname = \"Test\"\naudio_dir = \"{}\"\ndata_dir = \"var\"\n{body}",
        audio.display()
    );
    let path = dir.join("station.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn check_accepts_the_example_station() {
    let out = loa(&["check", "--config", &example()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{}", stdout, text(&out.stderr));
    assert!(stdout.contains("Đài truyền thanh xã Thạch Hà"));
    assert!(stdout.contains("cds/thong-diep.mp3"));
    assert!(stdout.contains("mp3"));
    assert!(stdout.contains("Sắp phát"), "{stdout}");
    assert!(stdout.contains("Hợp lệ"));
}

#[test]
fn check_rejects_a_broken_file_with_located_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = station(
        dir.path(),
        r#"
[[bulletin]]
id = "x"
title = "X"
file = "cds/thong-diep.mp3"
at = ["25:00"]
cron = "61 * * * *"

[[bulletin]]
id = "y"
title = "Y"
file = "../config/station.toml"
campaign = "ghost"
"#,
    );
    let out = loa(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let p = path.display().to_string();
    assert!(
        err.contains(&format!("{p}:10:7: error: bulletin \"x\", key `at`")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{p}:11:8: error: bulletin \"x\", key `cron`: field 1"
        )),
        "{err}"
    );
    assert!(err.contains("bulletin \"y\", key `file`"), "{err}");
    assert!(err.contains("bulletin \"y\", key `campaign`"), "{err}");
    assert!(err.contains("help:"), "{err}");
    assert!(err.contains("lỗi (errors)"), "{err}");
}

#[test]
fn a_leap_second_is_not_a_time_of_day() {
    // chrono reads second 60 as a leap second; it aired at 23:59:59.
    let dir = tempfile::tempdir().unwrap();
    let path = station(
        dir.path(),
        r#"
[[bulletin]]
id = "x"
title = "X"
file = "cds/thong-diep.mp3"
at = ["06:00", "23:59:60"]

[quiet]
hours = ["23:59:60-05:00"]
"#,
    );
    let out = loa(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    let p = path.display().to_string();
    assert!(
        err.contains(&format!(
            "{p}:10:16: error: bulletin \"x\", key `at`: `23:59:60` is not a time of day"
        )),
        "{err}"
    );
    assert!(err.contains("from 00:00 to 23:59:59"), "{err}");
    assert!(
        err.contains(&format!("{p}:13:10: error: [quiet], key `hours`")),
        "{err}"
    );
}

#[test]
fn a_missing_station_file_says_how_to_point_at_one() {
    let out = loa(&["check", "--config", "/nonexistent/station.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--config"));
}

#[test]
fn config_comes_from_loa_config() {
    let out = Command::new(bin::loa())
        .args(["check"])
        .env("LOA_CONFIG", example())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn schedule_json_is_the_plan_in_time_order() {
    let out = loa(&[
        "schedule",
        "--config",
        &example(),
        "--from",
        "2026-10-07",
        "--to",
        "2026-10-08",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let plan = plan.as_array().unwrap();
    let got: Vec<(String, String)> = plan
        .iter()
        .map(|o| {
            (
                o["at"].as_str().unwrap().to_string(),
                o["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Wednesday 7 and Thursday 8 October 2026.
    assert_eq!(
        got,
        [
            ("2026-10-07T05:30:00.000+07:00", "buoi-sang"),
            ("2026-10-07T11:30:00.000+07:00", "cds-cao-diem"),
            ("2026-10-07T17:00:00.000+07:00", "buoi-chieu"),
            ("2026-10-07T17:20:00.000+07:00", "binh-dan-hoc-vu-so"),
            ("2026-10-08T05:30:00.000+07:00", "buoi-sang"),
            ("2026-10-08T11:30:00.000+07:00", "cds-cao-diem"),
            ("2026-10-08T17:00:00.000+07:00", "buoi-chieu"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let first = &plan[0];
    assert_eq!(first["kind"], "program");
    assert_eq!(first["priority"], "normal");
    assert!(first["campaign"].is_null());
    assert!(first["planned_seconds"].as_f64().unwrap() > 60.0);
    assert_eq!(plan[1]["kind"], "bulletin");
    assert_eq!(plan[1]["campaign"], "cds");
    assert_eq!(
        plan[1]["title"],
        "Cao điểm Ngày Chuyển đổi số: nhanh hơn, hiệu quả hơn, gần dân hơn"
    );
}

#[test]
fn schedule_table_has_planned_minutes_per_campaign() {
    let out = loa(&[
        "schedule",
        "--config",
        &example(),
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("cds — Ngày Chuyển đổi số quốc gia 10/10"),
        "{stdout}"
    );
    assert!(stdout.contains("Phút dự kiến"));
}

#[test]
fn the_example_station_airs_something_every_day_of_the_year() {
    let out = loa(&[
        "schedule",
        "--config",
        &example(),
        "--from",
        "2027-01-01",
        "--to",
        "2027-12-31",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let days: std::collections::BTreeSet<String> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["at"].as_str().unwrap()[..10].to_string())
        .collect();
    assert_eq!(days.len(), 365);
}

#[test]
fn bad_dates_get_a_clear_error() {
    let out = loa(&["schedule", "--config", &example(), "--from", "tomorrow"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("--from") && err.contains("2026-10-01"),
        "{err}"
    );
    let out = loa(&[
        "schedule",
        "--config",
        &example(),
        "--from",
        "2026-10-31",
        "--to",
        "2026-10-01",
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("not after"));
}

/// A ledger of known rows for the station at `path`.
fn known_ledger(path: &Path) {
    use loa::config::Priority;
    use loa::ledger::{Airing, Ledger, Outcome, Settled, Source};
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    let data = path.parent().unwrap().join("var");
    let mut l = Ledger::open(&data.join("airtime.db"), tz).unwrap();
    let t = |d: u32, h: u32| {
        tz.with_ymd_and_hms(2026, 10, d, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    let row = |id: &str, campaign: Option<&str>, d: u32, outcome: Outcome, aired: f64| Settled {
        airing: Airing {
            occurrence: format!("{id}@{d}"),
            bulletin: id.into(),
            title: format!("Tiêu đề {id}, \"trích dẫn\""),
            campaign: campaign.map(str::to_string),
            program: None,
            priority: Priority::Normal,
            source: Source::Schedule,
            file: format!("{id}.mp3"),
            scheduled_at: t(d, 6),
            planned_seconds: 120.0,
            requested_by: None,
        },
        started_at: (aired > 0.0).then(|| t(d, 6)),
        ended_at: (aired > 0.0).then(|| t(d, 6)),
        aired_seconds: aired,
        outcome,
        reason: None,
    };
    l.record_all([
        row("a", Some("cds-2026"), 1, Outcome::Completed, 120.0),
        row("a", Some("cds-2026"), 2, Outcome::Completed, 120.0),
        row("a", Some("cds-2026"), 3, Outcome::Interrupted, 30.0),
        row("b", Some("cds-2026"), 3, Outcome::Missed, 0.0),
        row("c", None, 4, Outcome::Completed, 60.0),
        // Outside October: not in the report.
        row("a", Some("cds-2026"), 31, Outcome::Completed, 120.0),
    ])
    .unwrap();
}

#[test]
fn report_totals_on_a_ledger_of_known_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = station(
        dir.path(),
        "[[campaign]]\nid = \"cds-2026\"\ntitle = \"Chuyển đổi số\"\ntarget_minutes = 10\n",
    );
    known_ledger(&path);
    let cfg = path.to_str().unwrap();
    let out = loa(&[
        "report",
        "--config",
        cfg,
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-30",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = r.to_string();
    let cds = r["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["campaign"] == "cds-2026")
        .unwrap_or_else(|| panic!("{s}"));
    // The missed one never went on air.
    assert_eq!(cds["plays"], 3);
    assert_eq!(cds["completed"], 2);
    assert_eq!(cds["interrupted"], 1);
    assert_eq!(cds["missed"], 1);
    assert_eq!(cds["aired_minutes"].as_f64().unwrap(), 4.5);
    assert_eq!(cds["target_minutes"].as_f64().unwrap(), 10.0);
    assert_eq!(cds["percent_of_target"].as_f64().unwrap(), 45.0);

    let out = loa(&[
        "report",
        "--config",
        cfg,
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-30",
        "--format",
        "csv",
    ]);
    assert!(
        out.stdout.starts_with(b"\xEF\xBB\xBF"),
        "UTF-8 BOM for Excel"
    );
    assert!(text(&out.stdout).contains("\"Tiêu đề a, \"\"trích dẫn\"\"\""));

    let out = loa(&[
        "airtime",
        "--config",
        cfg,
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
        "--campaign",
        "cds-2026",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 5);
    assert_eq!(rows[0]["scheduled_at"], "2026-10-01T06:00:00.000+07:00");
}

#[test]
fn reading_commands_never_create_the_ledger_and_ignore_audio_problems() {
    let dir = tempfile::tempdir().unwrap();
    // The audio file is missing: a report must still be readable.
    let path = station(
        dir.path(),
        "[[bulletin]]\nid = \"x\"\ntitle = \"X\"\nfile = \"gone.mp3\"\n",
    );
    let db = dir.path().join("var/airtime.db");
    // No ledger yet: a clear error naming the path, and nothing created
    // (run as root, a created file would lock the daemon's user out).
    for cmd in ["report", "airtime"] {
        let out = loa(&[cmd, "--config", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let err = text(&out.stderr);
        assert!(err.contains("no airtime ledger at"), "{err}");
        assert!(err.contains("var/airtime.db"), "{err}");
        assert!(!db.exists(), "`loa {cmd}` created the ledger");
        assert!(
            !dir.path().join("var").exists(),
            "`loa {cmd}` created data_dir"
        );
    }
    // Once the station has a ledger, the missing audio does not matter.
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    loa::ledger::Ledger::open(&db, chrono_tz::UTC).unwrap();
    let out = loa(&["report", "--config", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = loa(&[
        "airtime",
        "--config",
        path.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn check_warns_when_the_sound_card_cannot_be_opened_but_accepts_the_station() {
    let dir = tempfile::tempdir().unwrap();
    let path = station(
        dir.path(),
        "[output]\nkind = \"device\"\ndevice = \"loa-test-no-such-card\"\n",
    );
    let out = loa(&["check", "--config", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("warning: [output] device \"loa-test-no-such-card\" cannot be opened"),
        "{err}"
    );
    assert!(text(&out.stdout).contains("1 cảnh báo"));
}

/// `loa check` on something that is not a station file answers at once:
/// `/dev/zero` used to grow to gigabytes, a FIFO to hang forever.
#[test]
fn a_device_a_pipe_or_a_huge_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("station.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let huge = dir.path().join("huge.toml");
    let f = std::fs::File::create(&huge).unwrap();
    f.set_len(17 * 1024 * 1024).unwrap();
    for (path, says) in [
        (Path::new("/dev/zero"), "not a regular file"),
        (fifo.as_path(), "not a regular file"),
        (huge.as_path(), "larger than 16 MB"),
    ] {
        let mut child = Command::new(bin::loa())
            .args(["check", "--config"])
            .arg(path)
            .env_remove("LOA_CONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > end {
                let _ = child.kill();
                panic!("loa check --config {} did not answer", path.display());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", path.display());
        let err = text(&out.stderr);
        assert!(err.contains(says), "{}: {err}", path.display());
    }
}
