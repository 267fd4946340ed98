//! Relays (tiếp âm) end to end: `loa run` relays a stream from a server
//! this test starts — an in-test HTTP server that streams MP3 at real-time
//! pace and can refuse, drop, go silent and return, and Debian's `icecast2`
//! fed by `ffmpeg` — or a line-in (a PulseAudio null sink's monitor as the
//! capture device), airs it to a WAV file, and records one ledger row per
//! relay, which each test reads back.
//!
//! Relays here last seconds (`silence_after` is scaled down with them), so
//! the whole file runs in well under a minute.

use crate::common;
use crate::common::pulse;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use loa::ledger::{AirtimeRow, Outcome, Source};
use loa::reason::Reason;

/// How long before its instant loa connects a relay (the engine's lead).
const LEAD: Duration = Duration::from_secs(3);

/// The stream's tone (the in-test server's and icecast's source) and the
/// fallback bulletin's: a relay's WAV is read back for each.
const SOURCE_HZ: f64 = 440.0;
const SOURCE_TONE: &str = "sine=f=440:d=40";
const FALLBACK_HZ: f64 = 880.0;
const FALLBACK_TONE: &str = "sine=f=880:d=3";
/// How far the seconds of a tone heard in the WAV may be from what the
/// row counts: a 50 ms window or two at each change of source.
const TONE_TOLERANCE: f64 = 0.5;

/// Make an MP3 of `seconds` from an ffmpeg lavfi source, CBR 128 kbit/s
/// stereo with no ID3/Xing headers, so its bytes can be cut anywhere.
fn mp3(dir: &Path, name: &str, lavfi: &str) -> PathBuf {
    pulse::require("ffmpeg", "ffmpeg", "test-deps");
    let out = dir.join(name);
    let ok = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i", lavfi])
        .args(["-ac", "2", "-ar", "44100", "-b:a", "128k"])
        .args(["-id3v2_version", "0", "-write_xing", "0"])
        .arg(&out)
        .status()
        .expect("run ffmpeg")
        .success();
    assert!(ok, "ffmpeg could not make {name}");
    out
}

/// What the in-test server does in a stretch of time.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Refuse with 503.
    Down,
    /// Stream the tone.
    Tone,
    /// Stream silence.
    Silent,
}

/// An HTTP server streaming MP3 at real-time pace (128 kbit/s, with a
/// one-second burst on connect, as Icecast does). Its behaviour follows a
/// timeline of phases from `t0` (set by [`StreamServer::begin`], once the
/// relay's instant is known; down until then); a connection streams while
/// its phase lasts and is closed when the phase changes to `Down`,
/// switching from tone to silence (or back) within the same connection.
struct StreamServer {
    addr: SocketAddr,
    t0: Arc<OnceLock<Instant>>,
}

impl StreamServer {
    fn start(tone: PathBuf, silence: PathBuf, phases: Vec<(Duration, Phase)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let bytes = Arc::new((
            std::fs::read(tone).unwrap(),
            std::fs::read(silence).unwrap(),
        ));
        let phases = Arc::new(phases);
        let t0 = Arc::new(OnceLock::new());
        let timeline = Arc::clone(&t0);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (bytes, phases) = (Arc::clone(&bytes), Arc::clone(&phases));
                let t0 = Arc::clone(&timeline);
                std::thread::spawn(move || {
                    let _ = serve(conn, &bytes, &t0, &phases);
                });
            }
        });
        StreamServer { addr, t0 }
    }

    /// Start the timeline: its phases count from `t0`.
    fn begin(&self, t0: Instant) {
        self.t0.set(t0).unwrap();
    }

    fn url(&self) -> String {
        format!("http://{}/live.mp3", self.addr)
    }
}

/// The phase at `now`: the last whose start has passed (down before the
/// timeline begins).
fn phase_at(t0: &OnceLock<Instant>, phases: &[(Duration, Phase)], now: Instant) -> Phase {
    let Some(t0) = t0.get() else {
        return Phase::Down;
    };
    phases
        .iter()
        .rev()
        .find(|(from, _)| now >= *t0 + *from)
        .map_or(Phase::Down, |(_, p)| *p)
}

fn serve(
    mut conn: TcpStream,
    (tone, silence): &(Vec<u8>, Vec<u8>),
    t0: &OnceLock<Instant>,
    phases: &[(Duration, Phase)],
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    if let Phase::Down = phase_at(t0, phases, Instant::now()) {
        conn.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    }
    conn.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-name: test\r\n\r\n")?;
    const PER_SECOND: usize = 16_000;
    const STEP: usize = PER_SECOND / 10;
    let start = Instant::now();
    let mut sent = 0usize;
    loop {
        let now = Instant::now();
        let body = match phase_at(t0, phases, now) {
            Phase::Down => return Ok(()),
            Phase::Tone => tone,
            Phase::Silent => silence,
        };
        // One second ahead (the burst), then real time.
        let due = PER_SECOND + (now - start).as_millis() as usize * PER_SECOND / 1000;
        if sent + STEP <= due {
            let from = sent % (body.len() - STEP);
            conn.write_all(&body[from..from + STEP])?;
            sent += STEP;
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A station in a temp dir: a fallback bulletin and one relay, put at its
/// instant once the daemon is up ([`Station::schedule`]).
struct Station {
    dir: tempfile::TempDir,
    api: SocketAddr,
    /// The station file, `{AT}` where the relay's instant goes.
    text: String,
}

/// Where the relay's instant goes in [`Station::text`].
const AT: &str = "{AT}";

impl Station {
    /// `relay` holds the relay's own keys (source, duration...). Until
    /// [`Station::schedule`], the relay is hours ahead.
    fn new(relay: &str) -> Station {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("audio")).unwrap();
        mp3(&dir.path().join("audio"), "cho.mp3", FALLBACK_TONE);
        let api: SocketAddr = format!("127.0.0.1:{}", common::free_port())
            .parse()
            .unwrap();
        let text = format!(
            r#"
[station]
name = "Đài thử tiếp âm"
timezone = "UTC"
audio_dir = "audio"
data_dir = "var"

[output]
kind = "wav"
path = "out.wav"

[api]
listen = "{api}"

[[bulletin]]
id = "nhac-cho"
title = "Nhạc chờ"
file = "cho.mp3"

[[relay]]
id = "vov1"
title = "Tiếp âm VOV1"
at = ["{AT}"]
{relay}
"#
        );
        let later = common::hms(Utc::now() + chrono::Duration::hours(3));
        std::fs::write(dir.path().join("station.toml"), text.replace(AT, &later)).unwrap();
        Station { dir, api, text }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("station.toml")
    }

    fn start(&self) -> common::Daemon {
        common::Daemon::start(&self.config(), self.api)
    }

    /// Put the relay at `at` in the running station (SIGHUP) and wait
    /// until that is the plan in force.
    fn schedule(&self, d: &common::Daemon, at: DateTime<Utc>) {
        std::fs::write(self.config(), self.text.replace(AT, &common::hms(at))).unwrap();
        d.hup_until_next_at(at);
    }

    /// The relay's row once it is closed (waits up to `within`).
    fn row(&self, daemon: &common::Daemon, within: Duration) -> AirtimeRow {
        let rows = common::wait_for_rows(
            &self.dir.path().join("var/airtime.db"),
            "a closed relay row",
            within,
            |rows| {
                rows.iter()
                    .any(|r| r.bulletin == "vov1" && r.outcome.is_some())
            },
            || daemon.log_text(),
        );
        rows.into_iter()
            .find(|r| r.bulletin == "vov1" && r.outcome.is_some())
            .unwrap()
    }
}

/// The next whole second at least `ahead` from now, and it as an Instant.
/// Called once the daemon is up: `ahead` covers the engine's lead and a
/// reload on a busy machine.
fn slot(ahead: Duration) -> (DateTime<Utc>, Instant) {
    let at = common::whole_second_in(ahead.as_secs() as i64);
    let wait = (at - Utc::now()).to_std().unwrap();
    (at, Instant::now() + wait)
}

/// How far ahead of now a relay is put once the daemon is up: the lead,
/// and a reload's time on a busy machine.
const AHEAD: Duration = Duration::from_secs(LEAD.as_secs() + 3);

/// Seconds of fallback and of silence a relay's row records (its reasons
/// `relay_fallback` and `relay_silence`; 0 when it has none).
fn fallback_and_silence(r: &AirtimeRow) -> (f64, f64) {
    let (mut fallback, mut silence) = (0.0, 0.0);
    for x in r.reason.iter().flat_map(|r| r.iter()) {
        match x {
            Reason::RelayFallback { seconds } => fallback += seconds,
            Reason::RelaySilence { seconds } => silence += seconds,
            _ => {}
        }
    }
    (fallback, silence)
}

/// The row's own accounting: source audio, fallback and silence fill the
/// slot, and the row ends when the slot does.
fn check_slot(r: &AirtimeRow, duration: f64) {
    println!("relay row: {r:?}");
    let (fallback, silence) = fallback_and_silence(r);
    let filled = r.aired_seconds + fallback + silence;
    assert!(
        (filled - duration).abs() < 0.35,
        "source + fallback + silence = {filled}, not {duration}: {r:?}"
    );
    assert_eq!(r.source, Source::Relay);
    assert_eq!(r.planned_seconds, duration);
    let started = loa::timefmt::parse_rfc3339(r.started_at.as_deref().unwrap()).unwrap();
    let ended = loa::timefmt::parse_rfc3339(r.ended_at.as_deref().unwrap()).unwrap();
    let wall = (ended - started).num_milliseconds() as f64 / 1000.0;
    assert!(
        (wall - duration).abs() < 0.5,
        "aired {wall} s of wall time: {r:?}"
    );
}

/// Seconds in the WAV file the station aired to.
fn wav_seconds(dir: &Path) -> f64 {
    let r = hound::WavReader::open(dir.join("out.wav")).unwrap();
    r.duration() as f64 / r.spec().sample_rate as f64
}

/// Seconds of the station's WAV in which a tone at `hz` is what sounds:
/// 50 ms windows above -40 dBFS whose energy is mostly (over half) at `hz`
/// (Goertzel, first channel).
fn tone_seconds(dir: &Path, hz: f64) -> f64 {
    let mut r = hound::WavReader::open(dir.join("out.wav")).unwrap();
    let spec = r.spec();
    let rate = f64::from(spec.sample_rate);
    let first: Vec<f64> = r
        .samples::<i16>()
        .step_by(usize::from(spec.channels))
        .map(|s| f64::from(s.unwrap()) / 32768.0)
        .collect();
    let n = (rate / 20.0) as usize;
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * hz / rate).cos();
    let windows = first
        .chunks_exact(n)
        .filter(|b| {
            let energy: f64 = b.iter().map(|x| x * x).sum();
            if energy / (n as f64) < 1e-4 {
                return false;
            }
            let (mut s1, mut s2) = (0.0, 0.0);
            for &x in b.iter() {
                let s0 = x + coeff * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
            power / (energy * n as f64 / 2.0) > 0.5
        })
        .count();
    windows as f64 * n as f64 / rate
}

/// The WAV holds the source's tone for `source` seconds and the fallback's
/// for `fallback` seconds (what the row says aired of each).
fn check_tones(dir: &Path, r: &AirtimeRow, source: f64, fallback: f64) {
    let (heard_source, heard_fallback) =
        (tone_seconds(dir, SOURCE_HZ), tone_seconds(dir, FALLBACK_HZ));
    println!("in the WAV: {heard_source:.2} s of the source's tone, {heard_fallback:.2} s of the fallback's");
    assert!(
        (heard_source - source).abs() < TONE_TOLERANCE,
        "{heard_source:.2} s of the source's tone in the WAV, {source} s counted: {r:?}"
    );
    assert!(
        (heard_fallback - fallback).abs() < TONE_TOLERANCE,
        "{heard_fallback:.2} s of the fallback's tone in the WAV, {fallback} s counted: {r:?}"
    );
}

fn sources(dir: &Path) -> (PathBuf, PathBuf) {
    (
        mp3(dir, "tone.mp3", SOURCE_TONE),
        mp3(dir, "silence.mp3", "anullsrc=r=44100:cl=stereo:d=40"),
    )
}

#[test]
fn never_up_airs_the_fallback_and_records_why() {
    let tmp = tempfile::tempdir().unwrap();
    let (tone, silence) = sources(tmp.path());
    let server = StreamServer::start(tone, silence, vec![(Duration::ZERO, Phase::Down)]);
    let st = Station::new(&format!(
        "url = \"{}\"\nduration = \"6s\"\nfallback = \"nhac-cho\"",
        server.url()
    ));
    let d = st.start();
    let (at, t) = slot(AHEAD);
    server.begin(t);
    st.schedule(&d, at);
    let r = st.row(&d, Duration::from_secs(30));
    assert_eq!(r.outcome, Some(Outcome::Failed), "{r:?}");
    assert_eq!(r.aired_seconds, 0.0);
    let reason = &common::reason_en(&r);
    assert!(reason.contains("HTTP 503"), "{reason}");
    assert!(reason.contains("fallback aired 6.0 s"), "{reason}");
    check_slot(&r, 6.0);
    drop(d);
    // The fallback aired in the relay's place, for the relay's slot, and
    // nothing of the source.
    assert!((wav_seconds(st.dir.path()) - 6.0).abs() < 0.2);
    check_tones(st.dir.path(), &r, 0.0, 6.0);
}

#[test]
fn dropped_mid_slot_reconnects_and_counts_only_source_audio() {
    let tmp = tempfile::tempdir().unwrap();
    let (tone, silence) = sources(tmp.path());
    // Up from before the lead, gone 1 s into the slot, back 5 s in.
    let phases = vec![
        (Duration::ZERO, Phase::Tone),
        (LEAD + Duration::from_secs(3), Phase::Down),
        (LEAD + Duration::from_secs(7), Phase::Tone),
    ];
    let server = StreamServer::start(tone, silence, phases);
    let st = Station::new(&format!(
        "url = \"{}\"\nduration = \"10s\"\nfallback = \"nhac-cho\"",
        server.url()
    ));
    let d = st.start();
    let (at, t) = slot(AHEAD);
    server.begin(t - LEAD - Duration::from_secs(2));
    st.schedule(&d, at);
    let r = st.row(&d, Duration::from_secs(40));
    assert_eq!(r.outcome, Some(Outcome::Completed), "{r:?}");
    let reason = &common::reason_en(&r);
    assert!(reason.contains("the stream ended"), "{reason}");
    assert!(reason.contains("HTTP 503"), "{reason}");
    // Some source audio before the drop and after the return; the gap
    // between them was the fallback's.
    let fallback = fallback_and_silence(&r).0;
    assert!(fallback > 0.2, "{reason}");
    assert!(
        (3.0..=9.8).contains(&r.aired_seconds),
        "{} s of source audio: {reason}",
        r.aired_seconds
    );
    check_slot(&r, 10.0);
    drop(d);
    // The WAV holds the source's tone for the source's seconds, and the
    // fallback's in the gap.
    check_tones(st.dir.path(), &r, r.aired_seconds, fallback);
}

#[test]
fn a_silent_source_counts_as_a_drop() {
    let tmp = tempfile::tempdir().unwrap();
    let (tone, silence) = sources(tmp.path());
    // Tone, then silent from 1 s into the slot, for good.
    let phases = vec![
        (Duration::ZERO, Phase::Tone),
        (LEAD + Duration::from_secs(3), Phase::Silent),
    ];
    let server = StreamServer::start(tone, silence, phases);
    let st = Station::new(&format!(
        "url = \"{}\"\nduration = \"10s\"\nsilence_after = \"2s\"",
        server.url()
    ));
    let d = st.start();
    let (at, t) = slot(AHEAD);
    server.begin(t - LEAD - Duration::from_secs(2));
    st.schedule(&d, at);
    let r = st.row(&d, Duration::from_secs(40));
    let reason = &common::reason_en(&r);
    assert!(reason.contains("silent for 2 s"), "{reason}");
    // The tone aired (a few seconds, buffered ahead); the dead air did not
    // count as relayed audio.
    assert!(
        (1.0..=7.0).contains(&r.aired_seconds),
        "{} s of source audio: {reason}",
        r.aired_seconds
    );
    assert!(fallback_and_silence(&r).1 >= 3.0, "{reason}");
    check_slot(&r, 10.0);
    drop(d);
    // The tone is in the WAV for the seconds counted, but for the last
    // reconnection's silence: shorter than `silence_after` when the slot
    // ends, it is not yet dead air, so it counts as the source's. No
    // fallback here.
    let heard = tone_seconds(st.dir.path(), SOURCE_HZ);
    let undetected = r.aired_seconds - heard;
    assert!(
        heard > 1.0 && (-TONE_TOLERANCE..2.0 + TONE_TOLERANCE).contains(&undetected),
        "{heard:.2} s of the source's tone in the WAV, {} s counted: {r:?}",
        r.aired_seconds
    );
    assert_eq!(tone_seconds(st.dir.path(), FALLBACK_HZ), 0.0);
}

/// Debian's icecast2 on a free loopback port, in a temp dir, as root
/// allowed by `<changeowner>` (it refuses to run as root otherwise).
struct Icecast {
    _child: pulse::Stopped,
    port: u16,
    dir: PathBuf,
}

impl Icecast {
    fn start(dir: &Path) -> Icecast {
        pulse::require("icecast2", "icecast2", "test-deps");
        let port = common::free_port();
        let log = dir.join("icecast-log");
        std::fs::create_dir_all(&log).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            // Written by `nobody` after the change of owner.
            std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let root = nix_is_root();
        let owner = if root {
            "<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
        } else {
            ""
        };
        let xml = format!(
            r#"<icecast>
  <limits><sources>2</sources><burst-size>16000</burst-size></limits>
  <authentication><source-password>hackme</source-password><admin-user>admin</admin-user><admin-password>hackme</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <fileserve>0</fileserve>
  <paths><logdir>{log}</logdir><webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot>{owner}</security>
</icecast>
"#,
            log = log.display()
        );
        let conf = dir.join("icecast.xml");
        std::fs::write(&conf, xml).unwrap();
        let child = Command::new("icecast2")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("icecast.out")).unwrap())
            .spawn()
            .expect("start icecast2");
        let give_up = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < give_up,
                "icecast2 did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Icecast {
            _child: pulse::Stopped(child),
            port,
            dir: dir.to_path_buf(),
        }
    }

    /// ffmpeg feeding `file` (looped, at real-time pace) to `/live.mp3`.
    fn feed(&self, file: &Path) -> pulse::Stopped {
        let child = Command::new("ffmpeg")
            .args(["-loglevel", "error", "-re", "-stream_loop", "-1", "-i"])
            .arg(file)
            .args(["-c", "copy", "-content_type", "audio/mpeg", "-f", "mp3"])
            .arg(format!(
                "icecast://source:hackme@127.0.0.1:{}/live.mp3",
                self.port
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("ffmpeg.out")).unwrap())
            .spawn()
            .expect("start ffmpeg");
        pulse::Stopped(child)
    }

    /// Wait until the mount point streams (its first line says 200).
    fn wait_live(&self) {
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            let status = TcpStream::connect(("127.0.0.1", self.port)).and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(2)))?;
                s.write_all(b"GET /live.mp3 HTTP/1.0\r\n\r\n")?;
                let mut line = String::new();
                BufReader::new(s).read_line(&mut line)?;
                Ok(line)
            });
            if status.is_ok_and(|l| l.contains(" 200")) {
                return;
            }
            assert!(
                Instant::now() < give_up,
                "icecast2's /live.mp3 never came up: {}",
                std::fs::read_to_string(self.dir.join("ffmpeg.out")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn icecast_stream_killed_and_restarted_mid_slot() {
    let tmp = tempfile::tempdir().unwrap();
    let tone = mp3(tmp.path(), "tone.mp3", SOURCE_TONE);
    let ice = Icecast::start(tmp.path());
    let feeder = ice.feed(&tone);
    ice.wait_live();
    let st = Station::new(&format!(
        "url = \"http://127.0.0.1:{}/live.mp3\"\nduration = \"10s\"\nfallback = \"nhac-cho\"",
        ice.port
    ));
    let d = st.start();
    let (at, t) = slot(AHEAD);
    st.schedule(&d, at);
    // Kill the source 1 s into the slot, bring it back 4 s later.
    std::thread::sleep((t + Duration::from_secs(1)).saturating_duration_since(Instant::now()));
    feeder.stop();
    std::thread::sleep(Duration::from_secs(4));
    let _feeder = ice.feed(&tone);
    let r = st.row(&d, Duration::from_secs(40));
    assert_eq!(r.outcome, Some(Outcome::Completed), "{r:?}");
    let reason = &common::reason_en(&r);
    assert!(reason.contains("drop(s)"), "{reason}");
    assert!(fallback_and_silence(&r).0 > 0.2, "{reason}");
    assert!(
        (2.0..=9.8).contains(&r.aired_seconds),
        "{} s of source audio: {reason}",
        r.aired_seconds
    );
    check_slot(&r, 10.0);
    drop(d);
    let fallback = fallback_and_silence(&r).0;
    check_tones(st.dir.path(), &r, r.aired_seconds, fallback);
}

#[test]
fn line_in_relay_from_a_capture_device() {
    let tmp = tempfile::tempdir().unwrap();
    let pa = pulse::Pulse::start("test-deps");
    pulse::require("aplay", "alsa-utils", "test-deps");
    // The "receiver": a tone played into the null sink, whose monitor is
    // the capture device loa relays (`default` through ALSA's pulse plugin).
    let wav = tmp.path().join("fm.wav");
    pulse::square_wav(&wav, 30.0, 0.3);
    let mut play = Command::new("aplay");
    play.args(["-q", "-D", "default"])
        .arg(&wav)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    pa.apply(&mut play);
    let _receiver = pulse::Stopped(play.spawn().expect("start aplay"));
    let st = Station::new("input = \"default\"\nduration = \"5s\"");
    let d = common::Daemon::start_with(&st.config(), st.api, |cmd| {
        pa.apply(cmd);
    });
    let (at, _) = slot(AHEAD);
    st.schedule(&d, at);
    let r = st.row(&d, Duration::from_secs(30));
    assert_eq!(r.outcome, Some(Outcome::Completed), "{r:?}");
    assert_eq!(r.file, "input:default");
    assert!(
        r.aired_seconds > 4.0,
        "{} s of line-in audio: {:?}",
        r.aired_seconds,
        r.reason
    );
    check_slot(&r, 5.0);
    drop(d);
    // The receiver's square wave (441 Hz fundamental) is what aired.
    let heard = tone_seconds(st.dir.path(), 441.0);
    assert!(
        (heard - r.aired_seconds).abs() < TONE_TOLERANCE,
        "{heard:.2} s of the line-in's tone in the WAV, {} s counted",
        r.aired_seconds
    );
}
