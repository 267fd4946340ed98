//! The station left alone: the systemd unit, the notify protocol and the
//! watchdog, a power cut during playback, a missing sound card at boot and
//! a full disk under the ledger — each with the real `loa` binary.
//!
//! No sound card is needed: stations record to a WAV file, and the missing
//! card is a device name that does not exist.

use crate::common;
use crate::common::disk;

use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use loa::ledger::{Filter, Ledger, Outcome};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A station in `dir` airing `file` (inside the repo's audio/) once,
/// `in_secs` from now (UTC), recording to `dir/aired.wav` unless `output`
/// says otherwise; and the address its API listens on.
fn station(
    dir: &Path,
    data_dir: &Path,
    file: &str,
    in_secs: i64,
    output: Option<&str>,
) -> (PathBuf, SocketAddr) {
    let addr = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    let at = (Utc::now() + chrono::Duration::seconds(in_secs)).format("%H:%M:%S");
    let output = output.map(str::to_string).unwrap_or_else(|| {
        format!(
            "kind = \"wav\"\npath = \"{}\"\npace = \"realtime\"",
            dir.join("aired.wav").display()
        )
    });
    let text = format!(
        r#"[station]
name = "Đài thử nghiệm"
timezone = "UTC"
audio_dir = "{audio}"
data_dir = "{data}"

[output]
{output}

[api]
listen = "{addr}"

[[bulletin]]
id = "ban-tin"
title = "Bản tin thử nghiệm"
file = "{file}"
at = ["{at}"]
"#,
        audio = repo().join("audio").display(),
        data = data_dir.display(),
    );
    let path = dir.join("station.toml");
    std::fs::write(&path, text).unwrap();
    (path, addr)
}

/// Put the bulletin at `times` in the station file of the running
/// `daemon` (ready: it answered on `addr`) and reload it, waiting until
/// the last of them is the next item due: scheduled once the daemon is
/// up, so a slow start cannot make it late.
fn reschedule(config: &Path, daemon: &Daemon, addr: SocketAddr, times: &[DateTime<Utc>]) {
    let text = std::fs::read_to_string(config).unwrap();
    let list: Vec<String> = times
        .iter()
        .map(|t| format!("\"{}\"", common::hms(*t)))
        .collect();
    let text: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("at = [") {
                format!("at = [{}]", list.join(", "))
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(config, text.join("\n") + "\n").unwrap();
    let last = *times.last().unwrap();
    common::hup_until_next_at(daemon.child.id(), addr, last, || daemon.log());
}

/// What `loa run` said to its "service manager", with when.
#[derive(Clone, Default)]
struct Notes(Arc<Mutex<Vec<(Instant, String)>>>);

impl Notes {
    /// Listen on a datagram socket at `path`, like systemd does.
    fn listen(path: &Path) -> Notes {
        let sock = UnixDatagram::bind(path).unwrap();
        let notes = Notes::default();
        let log = Arc::clone(&notes.0);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = sock.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let now = Instant::now();
                let mut g = log.lock().unwrap();
                g.extend(text.lines().map(|l| (now, l.to_string())));
            }
        });
        notes
    }

    fn lines(&self) -> Vec<(Instant, String)> {
        self.0.lock().unwrap().clone()
    }

    fn has(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.lines().iter().any(|(_, l)| pred(l))
    }

    /// Wait up to `secs` for a line matching `pred`.
    fn wait(&self, secs: u64, what: &str, pred: impl Fn(&str) -> bool) {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if self.has(&pred) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no {what} within {secs} s; got {:?}", self.lines());
    }

    fn pings_since(&self, t: Instant) -> usize {
        self.lines()
            .iter()
            .filter(|(at, l)| *at >= t && l == "WATCHDOG=1")
            .count()
    }
}

/// `loa run` as systemd would start it; stderr goes to a file to read.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(config: &Path, dir: &Path, env: &[(&str, &str)]) -> Daemon {
        let log = dir.join(format!("loa-{}.log", Utc::now().timestamp_micros()));
        // A fault hook needs the binary built with them.
        let bin = if env.iter().any(|(k, _)| k.starts_with("LOA_TEST_")) {
            common::bin::hooks()
        } else {
            common::bin::loa()
        };
        let mut cmd = Command::new(bin);
        cmd.args(["run", "--config", config.to_str().unwrap()])
            .env_remove("LOA_CONFIG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("JOURNAL_STREAM")
            .env("LOA_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Daemon {
            child: cmd.spawn().unwrap(),
            log,
        }
    }

    fn log(&self) -> String {
        let mut s = String::new();
        std::fs::File::open(&self.log)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    fn wait_log(&self, secs: u64, needle: &str) {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if self.log().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no `{needle}` in the log within {secs} s:\n{}", self.log());
    }

    /// SIGTERM, as `systemctl stop` sends, and wait for the exit.
    fn stop(mut self) -> String {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        let log = self.log();
        assert!(status.success(), "loa run exited {status}:\n{log}");
        log
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A copy of the unit whose ExecStart is the binary under test (verify
/// needs the binary to exist).
fn unit_under_test(dir: &Path) -> PathBuf {
    let unit = std::fs::read_to_string(repo().join("systemd/loa.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/loa run"));
    let unit = unit.replace("/usr/bin/loa", &common::bin::loa().display().to_string());
    let path = dir.join("loa.service");
    std::fs::write(&path, unit).unwrap();
    path
}

/// `systemd-analyze`, which `make test` installs (package `systemd`). A
/// machine without it fails these tests: a skip would read as a pass.
fn systemd_analyze() -> &'static str {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "systemd-analyze is missing: install the `systemd` package (`make test` does)"
    );
    "systemd-analyze"
}

#[test]
fn the_unit_file_verifies_clean() {
    let sa = systemd_analyze();
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_under_test(dir.path());
    let out = Command::new(sa).arg("verify").arg(&unit).output().unwrap();
    let msgs =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "verify failed:\n{msgs}");
    let about_us: Vec<&str> = msgs.lines().filter(|l| l.contains("loa.service")).collect();
    assert!(about_us.is_empty(), "verify complains:\n{msgs}");
}

/// `systemd-analyze security` rates the unit 0 (locked down) to 10; the
/// goal is 2.0 or lower while ALSA still reaches /dev/snd.
#[test]
fn the_unit_file_exposure_is_at_most_2() {
    let sa = systemd_analyze();
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_under_test(dir.path());
    let out = Command::new(sa)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for loa.service:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no exposure score in:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    println!("exposure: {score}");
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{text}");
    // The sound card must stay reachable.
    let unit = std::fs::read_to_string(&unit).unwrap();
    assert!(unit.contains("DeviceAllow=char-alsa rw"));
    assert!(unit.contains("SupplementaryGroups=audio"));
    assert!(!unit.contains("PrivateDevices=yes") && !unit.contains("PrivateDevices=true"));
}

#[test]
fn notify_ready_status_and_watchdog_until_the_engine_wedges() {
    let dir = tempfile::tempdir().unwrap();
    // An hour ahead at READY (the status line names it next); put a few
    // seconds ahead once the station is up.
    let (config, addr) = station(
        dir.path(),
        &dir.path().join("var"),
        "jingles/nhac-hieu.mp3",
        3600,
        None,
    );
    // With a web console admin the status line says only what airs (without
    // one it leads with the first-start link: `systemd`'s unit tests).
    let added = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "printf 'mat-khau-dai\\n' | {} user add quan-tri --role admin --password-stdin --config {}",
            common::bin::loa().display(),
            config.display()
        ))
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let sock = dir.path().join("notify.sock");
    let notes = Notes::listen(&sock);
    let daemon = Daemon::start(
        &config,
        dir.path(),
        &[
            ("NOTIFY_SOCKET", sock.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
            // Seconds after start: after the bulletin, on a busy machine too.
            ("LOA_TEST_WEDGE_ENGINE", "20"),
        ],
    );
    notes.wait(60, "READY=1", |l| l == "READY=1");
    assert!(
        notes.has(|l| l.starts_with("STATUS=Tiếp theo: Bản tin thử nghiệm lúc ")),
        "{:?}",
        notes.lines()
    );
    reschedule(&config, &daemon, addr, &[common::whole_second_in(3)]);
    notes.wait(10, "STATUS=Đang phát", |l| {
        l == "STATUS=Đang phát: Bản tin thử nghiệm"
    });
    notes.wait(5, "WATCHDOG=1", |l| l == "WATCHDOG=1");

    // The hook wedges the engine for real 20 s after start (its loop gets
    // stuck): its ping times out, pings stop and stay stopped (systemd
    // would kill and restart the station) for the 3 s watched.
    daemon.wait_log(30, "the engine's loop is now stuck");
    daemon.wait_log(20, "the engine does not answer");
    let wedged = Instant::now();
    let before = notes
        .lines()
        .iter()
        .filter(|(_, l)| l == "WATCHDOG=1")
        .count();
    assert!(before >= 3, "pinged {before} times before the wedge");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        notes.pings_since(wedged + Duration::from_millis(600)),
        0,
        "{:?}",
        notes.lines()
    );
    let log = daemon.stop();
    notes.wait(5, "STOPPING=1", |l| l == "STOPPING=1");
    assert!(log.contains("told systemd the station is ready"), "{log}");
}

#[test]
fn without_systemd_nothing_is_sent_and_the_station_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (config, addr) = station(
        dir.path(),
        &dir.path().join("var"),
        "jingles/nhac-hieu.mp3",
        3600,
        None,
    );
    let daemon = Daemon::start(&config, dir.path(), &[]);
    // Up; the stop is handled after the readiness step, so the whole log
    // by the exit covers it.
    common::wait_healthy(addr, || daemon.log());
    let log = daemon.stop();
    assert!(!log.contains("told systemd"), "{log}");
}

#[test]
fn a_power_cut_during_playback_leaves_a_clean_ledger_and_the_row_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("var");
    let (config, _) = station(dir.path(), &data, "cds/thong-diep.mp3", 3, None);
    let mut cut = Daemon::start(&config, dir.path(), &[]);
    // Airing, its row open in the ledger: pull the plug.
    common::wait_for_rows(
        &data.join("airtime.db"),
        "the bulletin's open row",
        Duration::from_secs(60),
        |rows| rows.len() == 1 && rows[0].outcome.is_none(),
        || cut.log(),
    );
    cut.child.kill().unwrap(); // SIGKILL: no fade, no flush
    cut.child.wait().unwrap();

    // The next boot: the daemon opens the ledger, closes the cut row, runs.
    let sock = dir.path().join("notify.sock");
    let notes = Notes::listen(&sock);
    let boot = Daemon::start(
        &config,
        dir.path(),
        &[("NOTIFY_SOCKET", sock.to_str().unwrap())],
    );
    notes.wait(60, "READY=1 after the power cut", |l| l == "READY=1");
    let log = boot.stop();
    assert!(
        log.contains("closed rows a crash or power cut left open"),
        "{log}"
    );

    let ledger = Ledger::open_read_only(&data.join("airtime.db"), chrono_tz::UTC).unwrap();
    assert_eq!(ledger.integrity_check().unwrap(), "ok");
    let rows = ledger.rows(&Filter::default()).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.outcome, Some(Outcome::Interrupted), "{row:?}");
    assert!(
        common::reason_code(row) == Some("daemon_stopped"),
        "{row:?}"
    );
}

#[test]
fn a_missing_sound_card_at_boot_still_starts_records_failures_and_keeps_pinging() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = station(
        dir.path(),
        &dir.path().join("var"),
        "jingles/nhac-hieu.mp3",
        3,
        Some("kind = \"device\"\ndevice = \"loa-test-no-such-card\""),
    );
    let sock = dir.path().join("notify.sock");
    let notes = Notes::listen(&sock);
    let daemon = Daemon::start(
        &config,
        dir.path(),
        &[
            ("NOTIFY_SOCKET", sock.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    notes.wait(60, "READY=1", |l| l == "READY=1");
    // The play at its time fails (and says so in the status line); the
    // audio thread still answers, so systemd is not asked to restart.
    notes.wait(20, "the output failure in STATUS", |l| {
        l.starts_with("STATUS=") && l.contains("thiết bị âm thanh bị lỗi")
    });
    // Pings go on (every 0.5 s; the bound is generous for a busy machine).
    let t = Instant::now();
    let end = t + Duration::from_secs(10);
    while notes.pings_since(t) < 2 {
        assert!(Instant::now() < end, "pings stopped: {:?}", notes.lines());
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = daemon.stop();
    assert!(log.contains("audio output not usable yet"), "{log}");
}

#[test]
fn a_full_disk_under_the_ledger_keeps_the_station_airing_and_rows_are_written_later() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Needs root (as `make test` and CI run): a skip would read as a pass.
    let _fs = disk::Tmpfs::mount(&data, "2m")
        .unwrap_or_else(|why| panic!("{why}: this test needs root to mount a small tmpfs"));
    let (config, addr) = station(dir.path(), &data, "jingles/nhac-hieu.mp3", 3600, None);
    let sock = dir.path().join("notify.sock");
    let notes = Notes::listen(&sock);
    let daemon = Daemon::start(
        &config,
        dir.path(),
        &[("NOTIFY_SOCKET", sock.to_str().unwrap())],
    );
    notes.wait(60, "READY=1", |l| l == "READY=1");
    let filler = disk::fill(&data);
    // Due a few seconds after the disk filled up.
    reschedule(&config, &daemon, addr, &[common::whole_second_in(3)]);

    // The bulletin airs to its end although its row cannot be written.
    daemon.wait_log(20, "ledger write failed; the station keeps airing");
    daemon.wait_log(20, "outcome=\"completed\"");
    let aired = std::fs::metadata(dir.path().join("aired.wav"))
        .unwrap()
        .len();
    assert!(aired > 100_000, "only {aired} bytes aired");

    // Space comes back: the waiting rows are written.
    std::fs::remove_file(filler).unwrap();
    daemon.wait_log(20, "ledger is writable again");
    daemon.stop();
    let ledger = Ledger::open_read_only(&data.join("airtime.db"), chrono_tz::UTC).unwrap();
    assert_eq!(ledger.integrity_check().unwrap(), "ok");
    let rows = ledger.rows(&Filter::default()).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].outcome, Some(Outcome::Completed), "{rows:?}");
    assert!(rows[0].aired_seconds > 4.0, "{rows:?}");
}

/// An ALSA configuration of our own (`ALSA_CONFIG_PATH`) in which the PCM
/// `loatest` can be made to appear, as a USB card does when it comes up
/// late: alsa-lib rereads a changed top-level configuration at the next
/// open, and the audio layer opens the device anew for every play.
fn alsa_config(dir: &Path, with_card: bool) -> PathBuf {
    let path = dir.join("asound.conf");
    let card = if with_card {
        format!(
            "pcm.loatest {{\n  type file\n  slave.pcm \"null\"\n  file \"{}\"\n  format \"raw\"\n  hint {{ show on description \"loa test card\" }}\n}}\n",
            dir.join("captured.raw").display()
        )
    } else {
        String::new()
    };
    std::fs::write(&path, format!("pcm.null {{ type null }}\n{card}")).unwrap();
    path
}

#[test]
fn a_sound_card_that_comes_up_late_airs_once_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let conf = alsa_config(dir.path(), false);
    // Each play is put a few seconds ahead once the station is up (and
    // the second once the card is there), so a slow start cannot make
    // them late or run them together.
    let (config, addr) = station(
        dir.path(),
        &dir.path().join("var"),
        "jingles/nhac-hieu.mp3",
        3600,
        Some("kind = \"device\"\ndevice = \"loatest\""),
    );
    let daemon = Daemon::start(
        &config,
        dir.path(),
        &[("ALSA_CONFIG_PATH", conf.to_str().unwrap())],
    );
    common::wait_healthy(addr, || daemon.log());
    let first = common::whole_second_in(3);
    reschedule(&config, &daemon, addr, &[first]);
    daemon.wait_log(30, "outcome=\"failed\"");
    // The card comes up between the two plays.
    std::thread::sleep(Duration::from_millis(1100)); // a new mtime second
    alsa_config(dir.path(), true);
    reschedule(&config, &daemon, addr, &[first, common::whole_second_in(3)]);
    daemon.wait_log(30, "outcome=\"completed\"");
    daemon.stop();
    let captured = std::fs::metadata(dir.path().join("captured.raw")).map_or(0, |m| m.len());
    assert!(captured > 100_000, "only {captured} bytes reached the card");
    let ledger =
        Ledger::open_read_only(&dir.path().join("var/airtime.db"), chrono_tz::UTC).unwrap();
    let outcomes: Vec<Option<Outcome>> = ledger
        .rows(&Filter::default())
        .unwrap()
        .iter()
        .map(|r| r.outcome)
        .collect();
    assert_eq!(
        outcomes,
        vec![Some(Outcome::Failed), Some(Outcome::Completed)]
    );
}
