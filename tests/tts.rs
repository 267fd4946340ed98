//! Typed notices read aloud, end to end with `loa run` and the WAV output:
//! a `text` bulletin is read by the speech engine in the background and
//! airs; a restart finds it in the cache (the engine does not run again);
//! an engine that hangs is killed at `[tts] timeout` and its notice is
//! recorded failed with the reason while the rest of the station airs.
//!
//! The engine here is a small script that counts its runs and hands the
//! text to Debian's `espeak-ng` (installed by `make test-deps`), or hangs
//! when the text asks it to.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::Daemon;

use chrono::{Timelike, Utc};
use loa::ledger::{AirtimeRow, Outcome};

/// `HH:MM:SS` in UTC, `secs` from now, never wrapping past midnight.
fn hms_in(secs: i64) -> String {
    let mut now = Utc::now();
    if now.num_seconds_from_midnight() > 86_400 - 180 {
        std::thread::sleep(Duration::from_secs(
            (86_400 - now.num_seconds_from_midnight() + 1) as u64,
        ));
        now = Utc::now();
    }
    (now + chrono::Duration::seconds(secs))
        .format("%H:%M:%S")
        .to_string()
}

struct Station {
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl Station {
    fn new() -> Station {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("audio");
        std::fs::create_dir(&audio).unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("audio/jingles/nhac-hieu.mp3"),
            audio.join("nhac-hieu.mp3"),
        )
        .unwrap();
        let engine = dir.path().join("engine.sh");
        std::fs::write(
            &engine,
            format!(
                "#!/bin/sh\necho run >> {runs}\n\
                 case \"$(cat \"$2\")\" in *treo*) exec sleep 60;; esac\n\
                 exec espeak-ng -v \"$3\" -w \"$1\" -f \"$2\"\n",
                runs = dir.path().join("runs").display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&engine, std::fs::Permissions::from_mode(0o755)).unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
        Station { dir, addr }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write_config(&self, bulletins: &str) {
        // The engine's timeout is generous (espeak-ng reads a notice in well
        // under a second when idle, seconds on a busy machine); the hanging
        // engine is stopped at it.
        let text = format!(
            "[station]\nname = \"Test\"\ntimezone = \"UTC\"\naudio_dir = \"audio\"\ndata_dir = \"var\"\n\
             [api]\nlisten = \"{}\"\n\
             [output]\nkind = \"wav\"\npath = \"var/aired.wav\"\npace = \"fast\"\n\
             [tts]\ncommand = [\"{}\", \"{{out}}\", \"{{text_file}}\", \"{{voice}}\"]\ntimeout = \"10s\"\n\
             {bulletins}",
            self.addr,
            self.path("engine.sh").display()
        );
        std::fs::write(self.path("station.toml"), text).unwrap();
    }

    fn start(&self) -> Daemon {
        Daemon::start_with(&self.path("station.toml"), self.addr, |cmd| {
            cmd.env("LOA_LOG", "info");
        })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("daemon.log")).unwrap_or_default()
    }

    fn runs(&self) -> usize {
        std::fs::read_to_string(self.path("runs"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    fn wait_for(&self, what: &str, done: impl Fn(&[AirtimeRow]) -> bool) -> Vec<AirtimeRow> {
        common::wait_for_rows(
            &self.path("var/airtime.db"),
            what,
            Duration::from_secs(90),
            done,
            || self.log(),
        )
    }
}

/// Seconds and RMS level (0..1) of a 16-bit WAV file.
fn wav_seconds_and_rms(path: &Path) -> (f64, f64) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let samples: Vec<f64> = r
        .samples::<i16>()
        .map(|s| f64::from(s.unwrap()) / 32768.0)
        .collect();
    let frames = samples.len() as f64 / f64::from(spec.channels);
    let rms = (samples.iter().map(|s| s * s).sum::<f64>() / samples.len().max(1) as f64).sqrt();
    (frames / f64::from(spec.sample_rate), rms)
}

const NOTICE: &str = "Kính thưa bà con, lúc 17:30 ngày 10/10 tổ dân phố số 5 họp tại nhà văn hoá.";

#[test]
fn a_typed_notice_airs_is_cached_and_a_hanging_engine_fails_alone() {
    let st = Station::new();
    let at = hms_in(3);
    st.write_config(&format!(
        r#"
[[bulletin]]
id = "hop"
title = "Thông báo họp tổ dân phố"
text = "{NOTICE}"
at = ["{at}"]
[[bulletin]]
id = "treo"
title = "Một thông báo làm treo bộ đọc"
text = "Thông báo treo máy"
at = ["{at}"]
[[bulletin]]
id = "nhac"
title = "Nhạc hiệu"
file = "nhac-hieu.mp3"
at = ["{at}"]
"#
    ));
    let daemon = st.start();
    let rows = st.wait_for("three rows closed", |rows| {
        rows.len() == 3 && rows.iter().all(|r| r.outcome.is_some())
    });
    // The notice the engine failed on is counted as failing.
    let metrics = common::request(st.addr, "GET", "/metrics", None, None).unwrap();
    assert!(
        metrics.text().contains("\nloa_bulletins_failing 1\n"),
        "{}",
        metrics.text()
    );
    drop(daemon);
    let row = |id: &str| rows.iter().find(|r| r.bulletin == id).unwrap();
    let hop = row("hop");
    assert_eq!(hop.outcome, Some(Outcome::Completed), "{rows:#?}");
    assert!(hop.file.starts_with("tts/"), "{}", hop.file);
    // About twenty words: several seconds of speech, not a blip.
    assert!(
        (3.0..30.0).contains(&hop.aired_seconds),
        "{} s aired",
        hop.aired_seconds
    );
    let treo = row("treo");
    assert_eq!(treo.outcome, Some(Outcome::Failed), "{rows:#?}");
    let reason = &common::reason_en(treo);
    assert!(
        reason.contains("did not finish within 10s and was stopped"),
        "{reason}"
    );
    assert_eq!(row("nhac").outcome, Some(Outcome::Completed));
    // The recording holds the speech: as long as what aired, and not silent.
    let (seconds, rms) = wav_seconds_and_rms(&st.path("var/aired.wav"));
    let aired: f64 = rows.iter().map(|r| r.aired_seconds).sum();
    assert!(
        (seconds - aired).abs() < 0.2,
        "wav {seconds} s, ledger {aired} s"
    );
    assert!(rms > 0.01, "the recording is silent (RMS {rms})");
    assert_eq!(st.runs(), 2, "one run per notice");

    // Restart with the hanging notice gone: the other comes from the cache.
    // (Later than the last run's look-ahead, which it saved as decided.)
    let at = hms_in(6);
    st.write_config(&format!(
        r#"
[[bulletin]]
id = "hop-lai"
title = "Nhắc lại: họp tổ dân phố"
text = "{NOTICE}"
at = ["{at}"]
"#
    ));
    let daemon = st.start();
    let rows = st.wait_for("the notice again", |rows| {
        rows.iter()
            .any(|r| r.bulletin == "hop-lai" && r.outcome.is_some())
    });
    drop(daemon);
    let again = rows.iter().find(|r| r.bulletin == "hop-lai").unwrap();
    assert_eq!(again.outcome, Some(Outcome::Completed));
    assert_eq!(again.file, hop.file, "the same cached file");
    assert_eq!(st.runs(), 2, "a cache hit runs no engine:\n{}", st.log());
}

#[test]
fn loa_say_writes_a_preview_and_shows_how_numbers_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("thu.wav");
    let run = std::process::Command::new(common::bin::loa())
        .args([
            "say",
            "Từ 7:30 ngày 1/10/2026, 21 hộ nhận 105 cây giống.",
            "--out",
        ])
        .arg(&out)
        .env_remove("LOA_CONFIG")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains(
            "Từ bảy giờ ba mươi ngày một tháng mười năm hai nghìn không trăm hai mươi sáu, \
             hai mươi mốt hộ nhận một trăm linh năm cây giống."
        ),
        "{stdout}"
    );
    let (seconds, rms) = wav_seconds_and_rms(&out);
    assert!((2.0..30.0).contains(&seconds), "{seconds} s");
    assert!(rms > 0.01, "silent preview (RMS {rms})");

    // A station whose engine is missing: the error names what to do.
    let config = dir.path().join("station.toml");
    std::fs::write(
        &config,
        "[station]\nname = \"X\"\n[tts]\ncommand = [\"/nonexistent/piper\", \"{out}\"]\n",
    )
    .unwrap();
    let run = std::process::Command::new(common::bin::loa())
        .args(["say", "xin chào", "--config"])
        .arg(&config)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("/nonexistent/piper") && stderr.contains("not found"),
        "{stderr}"
    );
}

#[test]
fn check_names_the_package_when_espeak_ng_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("station.toml");
    std::fs::write(
        &config,
        "[station]\nname = \"X\"\ndata_dir = \"var\"\n\
         [[bulletin]]\nid = \"hop\"\ntitle = \"Họp\"\ntext = \"Họp lúc 17:30\"\nat = [\"06:00\"]\n",
    )
    .unwrap();
    // A PATH without espeak-ng, as on a station where it was never installed.
    let run = std::process::Command::new(common::bin::loa())
        .args(["check", "--config"])
        .arg(&config)
        .env("PATH", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    assert!(
        stderr
            .contains("bulletin \"hop\", key `text`: the speech engine espeak-ng is not installed"),
        "{stderr}"
    );
    assert!(stderr.contains("sudo apt install espeak-ng"), "{stderr}");
}
