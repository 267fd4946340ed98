//! Typed notices as an attacker sends them (issue 17), through the whole
//! binary:
//!
//! - a notice `-f<secret file>` is read as words, never as an option of
//!   the speech engine: the default espeak-ng reads it from its standard
//!   input, a `[tts] command` gets it through a private file or after
//!   `--`, and a command that would pass it as an option is refused by
//!   `loa check` naming the key;
//! - notices cannot fill the disk or the CPU: a notice past `[api]
//!   max_queue` is refused before it is rendered (no WAV left), the cache
//!   stays under `[tts] cache_mb` (the notices used longest ago go, the
//!   queued ones stay), and at most two notices are read aloud at once.
//!
//! The engines here are small scripts that record what they were given
//! and hand the text to Debian's `espeak-ng` (installed by `make
//! test-deps`; the tests fail if it is missing).

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{new_token, request, Daemon, Reply};
use serde_json::{json, Value};

fn espeak_present() {
    let ok = Command::new("espeak-ng")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "espeak-ng is missing: make test-deps installs it");
}

/// An executable shell script `name` in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A station file holding a PostgreSQL password and a long text: read
/// aloud it is minutes of speech.
fn secret_file(dir: &Path) -> PathBuf {
    let p = dir.join("secret.toml");
    let mut text = String::from("postgres = \"host=db user=loa password=hunter2\"\n");
    for i in 0..200 {
        text.push_str(&format!(
            "# dòng bí mật số {i}: mật khẩu của tỉnh là hunter2\n"
        ));
    }
    std::fs::write(&p, text).unwrap();
    p
}

fn wav_seconds(path: &Path) -> f64 {
    let r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    f64::from(r.duration()) / f64::from(spec.sample_rate)
}

/// `loa say` with `args`, in `dir`, the notice after `--`.
fn say(dir: &Path, args: &[&str], notice: &str) -> Output {
    Command::new(common::bin::loa())
        .arg("say")
        .args(args)
        .args(["--", notice])
        .env_remove("LOA_CONFIG")
        .current_dir(dir)
        .output()
        .unwrap()
}

fn station_with_command(dir: &Path, name: &str, command: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!("[station]\nname = \"X\"\ndata_dir = \"var\"\n[tts]\ncommand = {command}\n"),
    )
    .unwrap();
    p
}

/// `loa say` with a station whose engine `{stem}-engine.sh` is given
/// `args` (TOML, after the program), writes its arguments to
/// `{stem}-argv.txt` and runs `body` in `dir`; the WAV is `{stem}.wav`.
fn say_with_engine(dir: &Path, stem: &str, args: &str, body: &str, notice: &str) {
    let engine = script(
        dir,
        &format!("{stem}-engine.sh"),
        &format!(
            "cd {}\nprintf '%s\\n' \"$@\" > {stem}-argv.txt\n{body}\n",
            dir.display()
        ),
    );
    let config = station_with_command(
        dir,
        &format!("{stem}.toml"),
        &format!("[\"{}\", {args}]", engine.display()),
    );
    let out = format!("{stem}.wav");
    let run = say(
        dir,
        &["--config", config.to_str().unwrap(), "--out", &out],
        notice,
    );
    assert!(run.status.success(), "{run:?}");
}

#[test]
fn a_notice_that_looks_like_an_option_is_read_as_words() {
    espeak_present();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let secret = secret_file(d);
    let notice = format!("-f{}", secret.display());

    // The default engine: espeak-ng reads the notice's words, not the file
    // (which is minutes of speech).
    let run = say(d, &["--out", "default.wav"], &notice);
    assert!(run.status.success(), "{run:?}");
    let seconds = wav_seconds(&d.join("default.wav"));
    assert!(seconds < 20.0, "{seconds} s: the file was read aloud");

    // A command with {text_file}: the text reaches it in a file only loa's
    // user can read; no argument carries it.
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    say_with_engine(
        d,
        "file",
        r#""{out}", "{text_file}""#,
        "stat -c %a \"$2\" > file-mode.txt\n\
         cat \"$2\" > file-text.txt\n\
         exec espeak-ng -v vi -w \"$1\" -f \"$2\"",
        &notice,
    );
    assert!(
        !read("file-argv.txt").contains("secret"),
        "{}",
        read("file-argv.txt")
    );
    assert!(
        read("file-text.txt").contains("secret"),
        "{}",
        read("file-text.txt")
    );
    assert_eq!(
        read("file-mode.txt").trim(),
        "600",
        "the text file is private"
    );
    assert!(wav_seconds(&d.join("file.wav")) < 20.0);

    // A command without {text}: the text goes to its standard input.
    say_with_engine(
        d,
        "stdin",
        r#""{out}""#,
        "cat > stdin-text.txt\nexec espeak-ng -v vi -w \"$1\" -f stdin-text.txt",
        &notice,
    );
    assert!(!read("stdin-argv.txt").contains("secret"));
    assert!(read("stdin-text.txt").contains("secret"));
    assert!(wav_seconds(&d.join("stdin.wav")) < 20.0);

    // {text} after `--`: an operand, whatever it starts with.
    say_with_engine(
        d,
        "operand",
        r#""{out}", "--", "{text}""#,
        "exec espeak-ng -v vi -w \"$1\" -- \"$3\"",
        &notice,
    );
    let argv = read("operand-argv.txt");
    let lines: Vec<&str> = argv.lines().collect();
    assert_eq!(lines.len(), 3, "{argv}");
    assert_eq!(lines[1], "--");
    assert!(lines[2].starts_with("-f"), "{argv}");
    assert!(wav_seconds(&d.join("operand.wav")) < 20.0);

    // {text} where it could start an option: refused by `loa check`, with
    // the file, the key and what to write instead; `loa say` renders
    // nothing with it.
    for (name, command) in [
        (
            "whole.toml",
            r#"["espeak-ng", "-v", "vi", "-w", "{out}", "{text}"]"#,
        ),
        ("glued.toml", r#"["espeak-ng", "-w", "{out}", "-{text}"]"#),
    ] {
        let config = station_with_command(d, name, command);
        let run = Command::new(common::bin::loa())
            .args(["check", "--config", config.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{stderr}");
        assert!(stderr.contains(&format!("{name}:5:")), "{stderr}");
        assert!(
            stderr.contains("[tts], key `command`") && stderr.contains("read as an option"),
            "{stderr}"
        );
        assert!(stderr.contains("{text_file}"), "{stderr}");
        let out = format!("{name}.wav");
        let run = say(
            d,
            &["--config", config.to_str().unwrap(), "--out", &out],
            &notice,
        );
        assert!(!run.status.success(), "{run:?}");
        assert!(!d.join(&out).exists());
    }
}

struct Station {
    dir: tempfile::TempDir,
    addr: SocketAddr,
    operator: String,
}

impl Station {
    /// A station whose engine logs each run (`+` at its start, `-` at its
    /// end, `pause` seconds apart) and reads the text with espeak-ng.
    fn new(api: &str, tts: &str, pause: &str) -> Station {
        espeak_present();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("audio")).unwrap();
        let engine = script(
            d,
            "engine.sh",
            &format!(
                "echo + >> {d}/runs\nsleep {pause}\necho - >> {d}/runs\n\
                 exec espeak-ng -v vi -w \"$1\" -f \"$2\"\n",
                d = d.display()
            ),
        );
        let (operator, sha) = new_token("van-hoa", "operator");
        let addr = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
        std::fs::write(
            d.join("station.toml"),
            format!(
                "[station]\nname = \"Test\"\ntimezone = \"UTC\"\naudio_dir = \"audio\"\n\
                 data_dir = \"var\"\n\
                 [output]\nkind = \"wav\"\npath = \"var/aired.wav\"\npace = \"fast\"\n\
                 [api]\nlisten = \"{addr}\"\n{api}\n\
                 [[api.token]]\nname = \"van-hoa\"\nrole = \"operator\"\nsha256 = \"{sha}\"\n\
                 [tts]\ncommand = [\"{}\", \"{{out}}\", \"{{text_file}}\"]\ntimeout = \"20s\"\n{tts}\n",
                engine.display()
            ),
        )
        .unwrap();
        Station {
            dir,
            addr,
            operator,
        }
    }

    fn start(&self) -> Daemon {
        Daemon::start_with(&self.dir.path().join("station.toml"), self.addr, |cmd| {
            cmd.env("LOA_LOG", "info");
        })
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let b = body.map(|b| b.to_string());
        let body = b.as_deref().map(|b| ("application/json", b.as_bytes()));
        request(self.addr, method, path, Some(&self.operator), body).unwrap()
    }

    fn queue(&self, text: &str) -> Reply {
        self.call("POST", "/api/v1/queue", Some(json!({ "text": text })))
    }

    /// Queue `text` for an hour from now: it waits in the queue.
    fn queue_later(&self, text: &str) -> Reply {
        let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        self.call(
            "POST",
            "/api/v1/queue",
            Some(json!({ "text": text, "at": at })),
        )
    }

    /// The cached notices: name → bytes.
    fn cache(&self) -> Vec<(String, u64)> {
        let dir = self.dir.path().join("var/tts");
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| {
                        let len = e.metadata().unwrap().len();
                        (e.file_name().to_string_lossy().into_owned(), len)
                    })
                    .filter(|(n, _)| n.ends_with(".wav"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    fn runs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("runs")).unwrap_or_default()
    }
}

/// A dozen words (a few seconds, some 100–200 kB of WAV), each different.
fn notice(i: usize) -> String {
    format!("Thông báo số {i}: mời bà con họp tổ dân phố.")
}

#[test]
fn notices_past_the_queue_or_the_cache_are_refused_before_they_are_rendered() {
    let st = Station::new("max_queue = 3", "cache_mb = 1", "0");
    let daemon = st.start();
    const CAP: u64 = 1_000_000;
    // Queued for later: they wait, and the queue fills.
    let (a, b) = (st.queue_later(&notice(1000)), st.queue_later(&notice(1001)));
    assert_eq!((a.status, b.status), (202, 202), "{a:?} {b:?}");
    let kept = st.cache();
    assert_eq!(kept.len(), 2, "{kept:?}");

    // Notices queued and taken out again: the cache keeps the newest, the
    // two that wait stay, and it never holds more than its cap.
    for i in 0..12 {
        let r = st.queue_later(&notice(i));
        assert_eq!(r.status, 202, "notice {i}: {r:?}");
        let id = r.json()["id"].as_u64().unwrap();
        let r = st.call("DELETE", &format!("/api/v1/queue/{id}"), None);
        assert_eq!(r.status, 200, "{r:?}");
        let cache = st.cache();
        let bytes: u64 = cache.iter().map(|c| c.1).sum();
        assert!(bytes <= CAP, "after notice {i}: {bytes} bytes in {cache:?}");
        for k in &kept {
            assert!(cache.contains(k), "the queued {} was removed", k.0);
        }
    }
    let status = st.call("GET", "/api/v1/status", None).json();
    let tts = &status["tts_cache"];
    assert_eq!(tts["cap_bytes"], json!(CAP), "{status}");
    assert!(tts["bytes"].as_u64().unwrap() <= CAP, "{status}");
    let evictions = tts["evictions"].as_u64().unwrap();
    assert!(evictions >= 1, "{status}");
    let metrics = st.call("GET", "/metrics", None).text();
    assert!(
        metrics.contains(&format!("\nloa_tts_evictions_total {evictions}\n")),
        "{metrics}"
    );
    assert!(metrics.contains("\nloa_tts_cache_bytes "), "{metrics}");

    // The queue full: the truth, before any render.
    let c = st.queue_later(&notice(2000));
    assert_eq!(c.status, 202, "{c:?}");
    let (cache, runs) = (st.cache(), st.runs());
    let d = st.queue_later(&notice(2001));
    assert_eq!(d.status, 429, "{d:?}");
    assert_eq!(d.json()["error"], "queue_full");
    assert_eq!(st.cache(), cache, "a refused notice left a WAV");
    assert_eq!(st.runs(), runs, "a refused notice was rendered");
    // An emergency is not bound by the queue and is rendered.
    let e = st.call(
        "POST",
        "/api/v1/emergency",
        Some(json!({ "text": notice(2002) })),
    );
    assert_eq!(e.status, 202, "{e:?}");
    assert!(st.cache().len() <= cache.len() + 1);
    drop(daemon);
    let log = std::fs::read_to_string(st.dir.path().join("daemon.log")).unwrap();
    assert!(log.contains("tts cache over [tts] cache_mb"), "{log}");
}

#[test]
fn at_most_two_notices_are_read_aloud_at_once() {
    let st = Station::new("", "", "1");
    let daemon = st.start();
    let st = &st;
    let replies: Vec<Reply> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..6)
            .map(|i| s.spawn(move || st.queue(&notice(i))))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &replies {
        assert_eq!(r.status, 202, "{r:?}\n{}", daemon.log_text());
    }
    let runs = st.runs();
    let (mut now, mut most) = (0i32, 0i32);
    for l in runs.lines() {
        now += if l == "+" { 1 } else { -1 };
        most = most.max(now);
    }
    assert_eq!(runs.lines().count(), 12, "{runs}");
    assert!(most <= 2, "{most} renders at once:\n{runs}");
    drop(daemon);
}
