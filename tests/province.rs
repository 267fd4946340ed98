//! The province speaks to its stations (issue 20), whole: a real Mosquitto
//! on loopback with the shipped ACL (deploy/mosquitto/loa.acl), three real
//! `loa run` stations (s1 and s2 in district `bac`, s3 in `nam`) and the
//! real `loa publish`. Text bulletins are read aloud by espeak-ng, as in
//! tests/tts.rs. Needs `mosquitto`, `mosquitto-clients` and `espeak-ng`
//! (`make test-deps`); fails loudly without them.

use crate::common;
use crate::common::mqtt;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{bin, free_port, ledger_rows, wait_for_rows, Daemon};
use loa::ledger::{AirtimeRow, Source};
use mqtt::Broker;

const PUBLISHER: &str = "So TTTT";
/// Generous bounds for a busy 2-core machine.
const PATIENCE: Duration = Duration::from_secs(40);

struct Station {
    id: &'static str,
    dir: PathBuf,
    addr: SocketAddr,
    token: String,
}

impl Station {
    fn new(root: &Path, id: &'static str, district: &str, b: &Broker, key: &str) -> Station {
        let dir = root.join(id);
        std::fs::create_dir_all(dir.join("audio")).unwrap();
        let engine = dir.join("engine.sh");
        std::fs::write(
            &engine,
            "#!/bin/sh\nexec espeak-ng -v \"$3\" -w \"$1\" -f \"$2\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&engine, std::fs::Permissions::from_mode(0o755)).unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let (token, sha) = common::new_token("viewer", "viewer");
        let text = format!(
            "[station]\nname = \"Xã {id}\"\ntimezone = \"Asia/Ho_Chi_Minh\"\naudio_dir = \"audio\"\n\
             data_dir = \"var\"\n[api]\nlisten = \"{addr}\"\n\
             [output]\nkind = \"wav\"\npath = \"var/aired.wav\"\npace = \"fast\"\n\
             [tts]\ncommand = [\"{engine}\", \"{{out}}\", \"{{text_file}}\", \"{{voice}}\"]\ntimeout = \"20s\"\n\
             [fleet]\nstation_id = \"{id}\"\ndistrict = \"{district}\"\n\
             [upstream]\nbroker = \"{url}\"\nusername = \"{id}\"\npassword_file = \"{pw}\"\nkeys = [\"{key}\"]\n\
             [[api.token]]\nname = \"viewer\"\nrole = \"viewer\"\nsha256 = \"{sha}\"\n",
            engine = engine.display(),
            url = b.url(),
            pw = b.password_file(id).display(),
        );
        std::fs::write(dir.join("station.toml"), text).unwrap();
        Station {
            id,
            dir,
            addr,
            token,
        }
    }

    fn start(&self) -> Daemon {
        let d = Daemon::start_with(&self.dir.join("station.toml"), self.addr, |c| {
            c.env("LOA_LOG", "info");
        });
        // Up once subscribed: the broker has the station's session.
        let give_up = Instant::now() + PATIENCE;
        while common::metric(self.addr, "loa_upstream_connected") != Some(1.0) {
            assert!(
                Instant::now() < give_up,
                "{} never connected: {}",
                self.id,
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    fn db(&self) -> PathBuf {
        self.dir.join("var/airtime.db")
    }

    /// Rows the province asked for whose title starts with `tag`.
    fn aired(&self, tag: &str) -> Vec<AirtimeRow> {
        ledger_rows(&self.db())
            .into_iter()
            .filter(|r| r.title.starts_with(tag) && r.started_at.is_some())
            .collect()
    }

    fn wait_aired(&self, tag: &str) -> AirtimeRow {
        let rows = wait_for_rows(
            &self.db(),
            &format!("{tag} at {}", self.id),
            PATIENCE,
            |rows| {
                rows.iter()
                    .any(|r| r.title.starts_with(tag) && r.started_at.is_some())
            },
            || self.log(),
        );
        let row = rows.into_iter().find(|r| r.title.starts_with(tag)).unwrap();
        assert_eq!(row.requested_by.as_deref(), Some(PUBLISHER), "{row:?}");
        assert_eq!(row.source, Source::Province, "{row:?}");
        row
    }

    /// The audit rows of refused bulletins: their result.
    fn refusals(&self) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        let mut st = conn
            .prepare("SELECT result FROM audit WHERE action = 'province bulletin'")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn wait_refused(&self, code: &str) {
        let give_up = Instant::now() + PATIENCE;
        while !self
            .refusals()
            .iter()
            .any(|r| r.contains(&format!("({code})")))
        {
            assert!(
                Instant::now() < give_up,
                "{} never refused {code}: {}",
                self.id,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }

    /// `upstream` of `GET /api/v1/status`.
    fn link(&self) -> serde_json::Value {
        let r =
            common::request(self.addr, "GET", "/api/v1/status", Some(&self.token), None).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["upstream"].clone()
    }

    fn wait_link(&self, up: bool) {
        let give_up = Instant::now() + PATIENCE;
        while self.link()["connected"] != up {
            assert!(
                Instant::now() < give_up,
                "{} link never {up}: {}",
                self.id,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn started(r: &AirtimeRow) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(r.started_at.as_deref().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// `loa publish` as the province: the id it printed.
fn publish(b: &Broker, key: &Path, user: &str, args: &str) -> String {
    let (url, pw) = (b.url(), b.password_file(user));
    let mut all = vec!["publish", "--broker", &url, "--username", user];
    all.extend(["--password-file", pw.to_str().unwrap()]);
    all.extend(["--key", key.to_str().unwrap(), "--publisher", PUBLISHER]);
    all.extend(args.split('|'));
    mqtt::loa(&all)
}

fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let public = mqtt::loa(&["publish", "keygen", "--out", path.to_str().unwrap()]);
    (path, public)
}

#[test]
fn the_province_reaches_its_stations() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (key, public) = keygen(root, "tinh.key");
    let (rogue, _) = keygen(root, "rogue.key");
    let mut b = Broker::start(root, &[("s1", "bac"), ("s2", "bac"), ("s3", "nam")], "");
    let s1 = Station::new(root, "s1", "bac", &b, &public);
    let s2 = Station::new(root, "s2", "bac", &b, &public);
    let s3 = Station::new(root, "s3", "nam", &b, &public);
    let _d1 = s1.start();
    let d2 = s2.start();
    let _d3 = s3.start();

    // An emergency to all airs within 5 s at each station.
    let sent = Utc::now();
    publish(
        &b,
        &key,
        "tinh",
        "--priority|emergency|--text|Khẩn một. Bão số ba vào bờ.|--targets|all|--expires|1h",
    );
    for s in [&s1, &s2, &s3] {
        let row = s.wait_aired("Khẩn một");
        assert!(row.occurrence.starts_with("emergency:"), "{row:?}");
        assert!(
            row.occurrence.contains("/province:b"),
            "the broadcast id: {row:?}"
        );
        let lag = (started(&row) - sent).num_milliseconds();
        assert!(lag < 5000, "{}: aired {lag} ms after publishing", s.id);
    }
    // `loa airtime` words the source for people.
    let config = s1.dir.join("station.toml");
    let csv = mqtt::loa(&[
        "airtime",
        "--config",
        config.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert!(
        csv.lines()
            .any(|l| l.contains("Khẩn một") && l.contains("Tỉnh gửi")),
        "{csv}"
    );

    // A district's bulletin airs only there.
    publish(
        &b,
        &key,
        "tinh",
        "--priority|priority|--text|Huyện bắc. Họp dân.|--targets|district:bac",
    );
    s1.wait_aired("Huyện bắc");
    s2.wait_aired("Huyện bắc");

    // A bulletin signed with an untrusted key is refused everywhere.
    publish(
        &b,
        &rogue,
        "tinh",
        "--priority|emergency|--text|Giả mạo.|--targets|all",
    );
    for s in [&s1, &s2, &s3] {
        s.wait_refused("unknown_key");
    }

    // A station's credentials cannot publish a bulletin (the shipped ACL),
    // even one signed with the province's key.
    publish(
        &b,
        &key,
        "s1",
        "--priority|emergency|--text|Trạm gửi.|--targets|all",
    );

    // One to s3 only, captured on the wire: sent again, then altered.
    let cap = b.capture("s3", "loa/v1/station/s3/bulletin");
    let id = publish(
        &b,
        &key,
        "tinh",
        "--priority|priority|--text|Riêng ba. Tin riêng.|--targets|station:s3",
    );
    s3.wait_aired("Riêng ba");
    let wire = cap.message();
    assert!(!wire.is_empty(), "captured the signed message");
    b.raw_publish("tinh", "loa/v1/station/s3/bulletin", &wire);
    s3.wait_refused("already_seen");
    let altered = String::from_utf8(wire.clone())
        .unwrap()
        .replace("Tin riêng", "Tin khác");
    b.raw_publish("tinh", "loa/v1/station/s3/bulletin", altered.as_bytes());
    s3.wait_refused("altered");
    let once = s3.aired("Riêng ba");
    assert_eq!(once.len(), 1, "aired once however often it came");
    assert!(
        once[0].occurrence.contains(&format!("/province:{id}@")),
        "{:?}",
        once[0]
    );
    assert!(s1.aired("Riêng ba").is_empty() && s2.aired("Huyện bắc").len() == 1);
    assert!(s3.aired("Huyện bắc").is_empty(), "district bac only");

    // A CAP alert (the specification's A.2, Immediate + Severe) airs as an
    // emergency.
    let alert =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cap/a2-severe-thunderstorm.xml");
    let alert = alert.to_str().unwrap();
    publish(
        &b,
        &key,
        "tinh",
        &format!("--cap|{alert}|--targets|station:s1|--expires|1h"),
    );
    let row = s1.wait_aired("AT 254 PM PDT");
    assert_eq!(row.priority.as_str(), "emergency", "{row:?}");

    // By now every bulletin sent before has reached the stations: the one
    // s1's credentials sent never did.
    for s in [&s1, &s2, &s3] {
        assert!(
            s.aired("Trạm gửi").is_empty() && s.aired("Giả mạo").is_empty(),
            "{}",
            s.id
        );
    }

    // Offline: s2 stops; what comes meanwhile waits at the broker. The
    // unexpired bulletin airs when it is back; the expired one never.
    drop(d2);
    publish(
        &b,
        &key,
        "tinh",
        "--priority|priority|--text|Chờ một. Còn hạn.|--targets|all|--expires|1h",
    );
    publish(
        &b,
        &key,
        "tinh",
        "--priority|priority|--text|Hết hạn. Quá giờ.|--targets|all|--expires|3s",
    );
    s1.wait_aired("Chờ một");
    std::thread::sleep(Duration::from_secs(4));
    let _d2 = s2.start();
    s2.wait_aired("Chờ một");
    s2.wait_refused("expired");
    assert!(s2.aired("Hết hạn").is_empty());

    // An audio bulletin with a time airs at it (±1 s) at its one target.
    let at = Utc::now() + chrono::Duration::seconds(15);
    let at = at - chrono::Duration::nanoseconds(i64::from(at.timestamp_subsec_nanos()));
    let local = at
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .format("%H:%M:%S")
        .to_string();
    let jingle = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio/jingles/nhac-hieu.mp3");
    let jingle = jingle.to_str().unwrap();
    let args =
        format!("--priority|normal|--file|{jingle}|--title|Nhạc hiệu tỉnh|--at|{local}|--targets|station:s3|--expires|1h");
    publish(&b, &key, "tinh", &args);
    let rows = wait_for_rows(
        &s3.db(),
        "the audio bulletin",
        PATIENCE,
        |rows| {
            rows.iter()
                .any(|r| r.file.starts_with("tinh/") && r.started_at.is_some())
        },
        || s3.log(),
    );
    let row = rows.iter().find(|r| r.file.starts_with("tinh/")).unwrap();
    assert_eq!(row.title, "Nhạc hiệu tỉnh", "the bulletin's title: {row:?}");
    let off = (started(row) - at).num_milliseconds().abs();
    assert!(off <= 1000, "aired {off} ms from its time: {row:?}");
    assert!(ledger_rows(&s1.db())
        .iter()
        .all(|r| !r.file.starts_with("tinh/")));

    // `loa publish status` shows the stations' acknowledgements.
    let out = Command::new(bin::loa())
        .args([
            "publish",
            "status",
            "--broker",
            &b.url(),
            "--username",
            "tinh",
        ])
        .args(["--password-file", b.password_file("tinh").to_str().unwrap()])
        .args([id.as_str(), "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let acks = acks.as_array().unwrap();
    assert_eq!(acks.len(), 1, "{acks:?}");
    assert_eq!(acks[0]["station"], "s3");
    assert_eq!(acks[0]["state"], "aired", "{acks:?}");
    assert!(acks[0]["aired_at"].is_string());

    // Losing the broker never stops the station; the link comes back.
    assert!(s1.link()["last_message_at"].is_string());
    b.stop();
    s1.wait_link(false);
    assert_eq!(common::metric(s1.addr, "loa_upstream_connected"), Some(0.0));
    assert!(common::healthy(s1.addr));
    b.restart();
    s1.wait_link(true);
    publish(
        &b,
        &key,
        "tinh",
        "--priority|emergency|--text|Trở lại. Có tin.|--targets|station:s1",
    );
    s1.wait_aired("Trở lại");
}

/// `/` as `cookie` sees it once `ready` holds for it.
fn page_until(s: &Station, cookie: &str, what: &str, ready: impl Fn(&str) -> bool) -> String {
    let give_up = Instant::now() + PATIENCE;
    loop {
        let (code, page) = common::get_with_cookie(s.addr, "/", cookie);
        assert_eq!(code, 200, "{page}");
        if ready(&page) {
            return page;
        }
        assert!(Instant::now() < give_up, "{what}: {page}\n{}", s.log());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The part of `page` about the province's bulletin `id`.
fn item<'a>(page: &'a str, id: &str) -> &'a str {
    let from = page
        .find(&format!("data-broadcast=\"{id}\""))
        .unwrap_or_else(|| panic!("{id} is not listed: {page}"));
    let rest = &page[from..];
    &rest[..rest.find("</li>").unwrap_or(rest.len())]
}

/// An operator's button on the province's bulletin `id`: the flash it set.
fn decide(s: &Station, cookie: &str, id: &str, action: &str) {
    let (_, page) = common::get_with_cookie(s.addr, "/", cookie);
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("the page carries a token");
    let path = format!("/tinh-gui/{id}/{action}");
    let form = format!("csrf={}", common::percent_encode(csrf));
    let (code, answer) = common::with_cookie(s.addr, "POST", &path, cookie, Some(&form));
    assert_eq!(code, 303, "{answer}");
    let flash = common::set_cookie(&answer, "loa_flash").unwrap_or_default();
    assert!(
        flash.starts_with("loa_flash=ok."),
        "{action} {id}: {answer}"
    );
}

/// The acknowledgement of `id` by its one station once it reads `state`
/// (`loa publish status --format json`; an acknowledgement is sent after
/// the action that answered).
fn wait_ack(b: &Broker, id: &str, state: &str) -> serde_json::Value {
    let give_up = Instant::now() + PATIENCE;
    loop {
        let a = acks(b, id);
        if a.len() == 1 && a[0]["state"] == state {
            return a[0].clone();
        }
        assert!(
            Instant::now() < give_up,
            "{id} never acknowledged {state}: {a:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The acknowledgements of `id` (`loa publish status --format json`).
fn acks(b: &Broker, id: &str) -> Vec<serde_json::Value> {
    as_province(b, "status", &[id])
}

/// `loa publish stations` as the province: the presences it reads.
fn stations(b: &Broker) -> Vec<serde_json::Value> {
    as_province(b, "stations", &["--wait", "1"])
}

/// `loa publish COMMAND … --format json` with the province's login: the
/// JSON list it prints.
fn as_province(b: &Broker, command: &str, more: &[&str]) -> Vec<serde_json::Value> {
    let (url, pw) = (b.url(), b.password_file("tinh"));
    let mut args = vec!["publish", command, "--broker", &url, "--username", "tinh"];
    args.extend(["--password-file", pw.to_str().unwrap(), "--format", "json"]);
    args.extend(more);
    let out = mqtt::loa(&args);
    serde_json::from_str::<serde_json::Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn an_operator_airs_or_declines_what_the_province_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (key, public) = keygen(root, "tinh.key");
    let b = Broker::start(root, &[("s1", "bac")], "");
    let s1 = Station::new(root, "s1", "bac", &b, &public);
    common::attack::add_user(
        &s1.dir.join("station.toml"),
        "van-hanh",
        "mat-khau-van-hanh",
    );
    let d1 = s1.start();
    let cookie = common::sign_in(s1.addr, "van-hanh", "mat-khau-van-hanh");

    // A normal bulletin without times is kept and listed, waiting.
    let kept = publish(
        &b,
        &key,
        "tinh",
        "--priority|normal|--text|Thường một. Họp dân.|--title|Họp dân tháng mười hai|--targets|all|--expires|1h",
    );
    let page = page_until(&s1, &cookie, "listed", |p| {
        p.contains(&format!("data-broadcast=\"{kept}\""))
    });
    assert!(page.contains("Bản tin tỉnh gửi"), "{page}");
    let it = item(&page, &kept);
    for words in [
        "Họp dân tháng mười hai",
        "thông thường",
        PUBLISHER,
        "chờ người vận hành",
        "tu-choi",
    ] {
        assert!(it.contains(words), "{words}: {it}");
    }

    // One with a time, declined before it: removed, never aired.
    let at = Utc::now() + chrono::Duration::seconds(40);
    let at = at - chrono::Duration::nanoseconds(i64::from(at.timestamp_subsec_nanos()));
    let local = at
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .format("%H:%M:%S")
        .to_string();
    let timed = publish(
        &b,
        &key,
        "tinh",
        &format!(
            "--priority|normal|--text|Thường hai. Có giờ.|--at|{local}|--targets|all|--expires|1h"
        ),
    );
    page_until(&s1, &cookie, "scheduled", |p| {
        p.contains(&format!("data-broadcast=\"{timed}\""))
            && item(p, &timed).contains("sẽ phát lúc")
    });
    decide(&s1, &cookie, &timed, "tu-choi");
    assert!(
        Utc::now() < at,
        "declined only after its time: the machine is too slow for this test"
    );
    decide(&s1, &cookie, &kept, "tu-choi");
    let page = page_until(&s1, &cookie, "declined", |p| {
        item(p, &kept).contains("đã từ chối bởi van-hanh")
    });
    assert!(!item(&page, &kept).contains("tu-choi"), "no more buttons");
    for id in [&kept, &timed] {
        let a = wait_ack(&b, id, "declined");
        assert_eq!(a["by"], "van-hanh", "{a:?}");
    }
    let audits = {
        let conn = rusqlite::Connection::open(s1.db()).unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM audit WHERE action = 'decline province bulletin' AND who = 'van-hanh' AND result LIKE 'ok:%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        n
    };
    assert_eq!(audits, 2);

    // An operator airs another one now: the province's, queued by hand.
    let aired = publish(
        &b,
        &key,
        "tinh",
        "--priority|normal|--text|Thường ba. Phát ngay.|--targets|all|--expires|1h",
    );
    page_until(&s1, &cookie, "listed", |p| {
        p.contains(&format!("data-broadcast=\"{aired}\""))
    });
    decide(&s1, &cookie, &aired, "phat");
    let rows = wait_for_rows(
        &s1.db(),
        "aired by hand",
        PATIENCE,
        |rows| {
            rows.iter()
                .any(|r| r.title.starts_with("Thường ba") && r.started_at.is_some())
        },
        || s1.log(),
    );
    let row = rows
        .iter()
        .find(|r| r.title.starts_with("Thường ba"))
        .unwrap();
    assert_eq!(row.source, Source::Province, "{row:?}");
    assert_eq!(row.requested_by.as_deref(), Some("van-hanh"));
    assert!(
        row.occurrence.contains(&format!("/province:{aired}@")),
        "{row:?}"
    );

    // The declined time passes: nothing of it aired.
    while Utc::now() < at + chrono::Duration::seconds(3) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let timed_rows: Vec<AirtimeRow> = ledger_rows(&s1.db())
        .into_iter()
        .filter(|r| r.occurrence.contains(&format!("/province:{timed}@")))
        .collect();
    assert!(!timed_rows.is_empty(), "its airing is on record as removed");
    assert!(
        timed_rows.iter().all(|r| r.started_at.is_none()),
        "{timed_rows:?}"
    );

    // Kept across a restart.
    drop(d1);
    let _d1 = s1.start();
    let page = page_until(&s1, &cookie, "after a restart", |p| {
        p.contains(&format!("data-broadcast=\"{kept}\""))
    });
    assert!(
        item(&page, &kept).contains("đã từ chối bởi van-hanh"),
        "{page}"
    );
}

/// A reload that changes `[upstream]` restarts the link with it: a
/// bulletin signed by the new key airs, the old key is refused.
#[test]
fn a_reload_restarts_the_link() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (old_key, old_public) = keygen(root, "old.key");
    let (new_key, new_public) = keygen(root, "new.key");
    let b = Broker::start(root, &[("s1", "bac")], "");
    let s1 = Station::new(root, "s1", "bac", &b, &old_public);
    let d1 = s1.start();
    let config = s1.dir.join("station.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace(&old_public, &new_public)).unwrap();
    d1.hup();
    let give_up = Instant::now() + PATIENCE;
    while !s1
        .log()
        .contains("the link to the province's broker restarts")
    {
        assert!(
            Instant::now() < give_up,
            "the link never restarted: {}",
            s1.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    s1.wait_link(true);
    publish(
        &b,
        &old_key,
        "tinh",
        "--priority|priority|--text|Khoá cũ. Không phát.|--targets|all",
    );
    s1.wait_refused("unknown_key");
    publish(
        &b,
        &new_key,
        "tinh",
        "--priority|priority|--text|Khoá mới. Được phát.|--targets|all",
    );
    s1.wait_aired("Khoá mới");
    assert!(s1.aired("Khoá cũ").is_empty());
}

/// Each station keeps a retained presence (name, district, online) with a
/// last will that says offline; the shipped ACL lets a station write only
/// its own, and the publisher read them all.
#[test]
fn the_province_knows_its_stations() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (_key, public) = keygen(root, "tinh.key");
    let b = Broker::start(root, &[("s1", "bac"), ("s2", "nam")], "");
    let s1 = Station::new(root, "s1", "bac", &b, &public);
    let s2 = Station::new(root, "s2", "nam", &b, &public);
    let d1 = s1.start();
    let _d2 = s2.start();
    // s1's credentials speak for s2 and for a station that does not exist.
    let forged = br#"{"station":"s2","name":"forged","online":false}"#;
    b.raw_publish("s1", "loa/v1/station/s2/state", forged);
    let forged = br#"{"station":"s9","name":"forged","online":true}"#;
    b.raw_publish("s1", "loa/v1/station/s9/state", forged);
    let give_up = Instant::now() + PATIENCE;
    let known = loop {
        let known = stations(&b);
        if known.len() >= 2 || Instant::now() > give_up {
            break known;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let ids: Vec<&str> = known
        .iter()
        .map(|p| p["station"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["s1", "s2"], "{known:?}");
    assert_eq!(known[0]["name"], "Xã s1");
    assert_eq!(known[0]["district"], "bac");
    assert_eq!(known[1]["name"], "Xã s2", "not the forged one: {known:?}");
    assert!(known.iter().all(|p| p["online"] == true), "{known:?}");
    // s1 goes away: its last will says so.
    drop(d1);
    let give_up = Instant::now() + PATIENCE;
    while stations(&b)[0]["online"] != false {
        assert!(Instant::now() < give_up, "s1 never shown offline");
        std::thread::sleep(Duration::from_millis(200));
    }
}

const CENTRAL_PASSWORD: &str = "mat-khau-tinh";

/// The province's central host: `loa run` with `[publish]` and console
/// users `tinh` (province), `vh` (operator) and `xem` (viewer).
fn central(root: &Path, b: &Broker, key: &Path) -> (Daemon, SocketAddr) {
    let dir = root.join("central");
    std::fs::create_dir_all(&dir).unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = dir.join("station.toml");
    std::fs::write(
        &config,
        format!(
            "[station]\nname = \"Trung tâm tỉnh\"\ndata_dir = \"var\"\n[api]\nlisten = \"{addr}\"\n\
             [output]\nkind = \"null\"\n\
             [publish]\nbroker = \"{url}\"\nusername = \"tinh\"\npassword_file = \"{pw}\"\n\
             key = \"{key}\"\npublisher = \"{PUBLISHER}\"\n",
            url = b.url(),
            pw = b.password_file("tinh").display(),
            key = key.display(),
        ),
    )
    .unwrap();
    for (name, role) in [("tinh", "province"), ("vh", "operator"), ("xem", "viewer")] {
        let mut c = Command::new(bin::loa())
            .args(["user", "add", name, "--role", role, "--password-stdin"])
            .args(["--config", config.to_str().unwrap()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        writeln!(c.stdin.take().unwrap(), "{CENTRAL_PASSWORD}").unwrap();
        assert!(c.wait().unwrap().success(), "loa user add {name}");
    }
    (Daemon::start(&config, addr), addr)
}

/// Province staff send an emergency to one station from the central
/// host's page *Gửi bản tin*: confirmed first, aired there, shown aired on
/// the delivery page; viewers and operators are refused.
#[test]
fn the_province_sends_from_its_page() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (key, public) = keygen(root, "tinh.key");
    let b = Broker::start(root, &[("s1", "bac"), ("s2", "nam")], "");
    let s1 = Station::new(root, "s1", "bac", &b, &public);
    let s2 = Station::new(root, "s2", "nam", &b, &public);
    let _d1 = s1.start();
    let _d2 = s2.start();
    let (central, addr) = central(root, &b, &key);

    for name in ["vh", "xem"] {
        let cookie = common::sign_in(addr, name, CENTRAL_PASSWORD);
        let (code, page) = common::get_with_cookie(addr, "/gui-ban-tin", &cookie);
        assert_eq!(code, 403, "{name}: {page}");
        let (code, _) =
            common::post_multipart(addr, "/gui-ban-tin?csrf=x", &cookie, &[("level", "normal")]);
        assert_eq!(code, 403, "{name}");
        let (_, home) = common::get_with_cookie(addr, "/", &cookie);
        assert!(
            !home.contains("href=\"/gui-ban-tin\""),
            "{name} has no link"
        );
    }

    let cookie = common::sign_in(addr, "tinh", CENTRAL_PASSWORD);
    // The form offers the stations the broker knows.
    let give_up = Instant::now() + PATIENCE;
    let page = loop {
        let (code, page) = common::get_with_cookie(addr, "/gui-ban-tin", &cookie);
        assert_eq!(code, 200, "{page}");
        if page.contains("value=\"s1\"") && page.contains("value=\"s2\"") {
            break page;
        }
        assert!(
            Instant::now() < give_up,
            "the stations never showed: {page}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(page.contains("cán bộ tỉnh") && page.contains("href=\"/gui-ban-tin\""));
    let csrf = page
        .split("action=\"/gui-ban-tin?csrf=")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("the form carries its token")
        .to_string();
    let path = format!("/gui-ban-tin?csrf={csrf}");

    // Bad input: a clear Vietnamese error, nothing sent.
    let (code, answer) = common::post_multipart(
        addr,
        &path,
        &cookie,
        &[("level", "normal"), ("title", "x"), ("to", "all")],
    );
    assert_eq!(code, 303, "{answer}");
    let (_, page) = common::get_with_cookie(addr, "/gui-ban-tin", &flash_cookie(&cookie, &answer));
    assert!(
        page.contains("Hãy gõ lời đọc hoặc chọn một tệp âm thanh"),
        "{page}"
    );

    let fields = [
        ("level", "emergency"),
        ("title", "Khẩn trang"),
        ("text", "Khẩn trang. Lũ về, bà con lên cao."),
        ("to", "stations"),
        ("station", "s1"),
        ("expires", "1"),
    ];
    // An emergency asks first; nothing airs yet.
    let (code, confirm) = common::post_multipart(addr, &path, &cookie, &fields);
    assert_eq!(code, 200, "{confirm}");
    assert!(
        confirm.contains("Xác nhận gửi bản tin khẩn cấp"),
        "{confirm}"
    );
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirm", "1"));
    let (code, answer) = common::post_multipart(addr, &path, &cookie, &confirmed);
    assert_eq!(code, 303, "{answer}");
    let to = answer
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .expect("sent to the delivery page")
        .trim()
        .to_string();
    assert!(to.starts_with("/gui-ban-tin/b"), "{to}");

    let row = s1.wait_aired("Khẩn trang");
    assert_eq!(row.priority.as_str(), "emergency", "{row:?}");
    let give_up = Instant::now() + PATIENCE;
    loop {
        let (code, page) = common::get_with_cookie(addr, &to, &cookie);
        assert_eq!(code, 200, "{page}");
        assert!(page.contains("refresh: 5"), "refreshes itself");
        if page.contains("đã phát") {
            assert!(
                page.contains("Xã s1") && page.contains("Khẩn trang"),
                "{page}"
            );
            assert!(!page.contains("Xã s2"), "s2 was not a target: {page}");
            break;
        }
        assert!(
            Instant::now() < give_up,
            "never shown aired: {page}\n{}",
            central.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(s2.aired("Khẩn trang").is_empty());
    // The list of broadcasts sent from this host has it.
    let (_, page) = common::get_with_cookie(addr, "/gui-ban-tin", &cookie);
    assert!(page.contains(&format!("href=\"{to}\"")), "{page}");

    // An audio file uploaded through the page, to a district: no
    // confirmation below emergency; it airs at s2 (district nam) only.
    let jingle =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("audio/jingles/nhac-hieu.mp3"))
            .unwrap();
    let fields = [
        ("level", "priority"),
        ("title", "Nhạc hiệu trang"),
        ("to", "district"),
        ("district", "nam"),
    ];
    // Not audio: said in Vietnamese, nothing sent.
    let junk = Some(("thu.mp3", b"not audio at all".as_slice()));
    let (code, answer) = common::post_multipart_file(addr, &path, &cookie, &fields, junk);
    assert_eq!(code, 303, "{answer}");
    let (_, page) = common::get_with_cookie(addr, "/gui-ban-tin", &flash_cookie(&cookie, &answer));
    assert!(page.contains("tệp này không phát được"), "{page}");
    let file = Some(("nhac-hieu.mp3", jingle.as_slice()));
    let (code, answer) = common::post_multipart_file(addr, &path, &cookie, &fields, file);
    assert_eq!(code, 303, "{answer}");
    assert!(answer.contains("location: /gui-ban-tin/b"), "{answer}");
    let rows = wait_for_rows(
        &s2.db(),
        "the page's audio bulletin",
        PATIENCE,
        |rows| {
            rows.iter()
                .any(|r| r.file.starts_with("tinh/") && r.started_at.is_some())
        },
        || s2.log(),
    );
    let row = rows.iter().find(|r| r.file.starts_with("tinh/")).unwrap();
    assert_eq!(row.title, "Nhạc hiệu trang", "{row:?}");
    assert!(ledger_rows(&s1.db())
        .iter()
        .all(|r| !r.file.starts_with("tinh/")));
}

/// The session cookie and the one-time message an answer set.
fn flash_cookie(session: &str, answer: &str) -> String {
    let flash = common::set_cookie(answer, "loa_flash").expect("a one-time message");
    format!("{session}; {flash}")
}

/// A station over `mqtts://` with `[upstream] ca_file` (a private CA made
/// with openssl) airs a bulletin `loa publish --ca-file` sent through
/// Mosquitto run with the shipped mosquitto.conf (TLS listener); a station
/// trusting another CA is refused, and says so in its log.
#[test]
fn stations_reach_the_broker_over_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (key, public) = keygen(root, "tinh.key");
    let b = Broker::start_shipped_tls(root, &[("s1", "bac"), ("s2", "bac")]);
    assert!(b.url().starts_with("mqtts://"));
    let ca = b.dir.join("ca.pem");
    let (wrong_ca, _) = mqtt::make_ca_and_server(&root.join("other"), "other-ca");
    let s1 = Station::new(root, "s1", "bac", &b, &public);
    let s2 = Station::new(root, "s2", "bac", &b, &public);
    for (s, ca) in [(&s1, &ca), (&s2, &wrong_ca)] {
        let path = s.dir.join("station.toml");
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "[upstream]\n",
            &format!("[upstream]\nca_file = \"{}\"\n", ca.display()),
        );
        std::fs::write(path, text).unwrap();
    }
    let _d1 = s1.start();
    let d2 = Daemon::start_with(&s2.dir.join("station.toml"), s2.addr, |c| {
        c.env("LOA_LOG", "info");
    });
    let ca_arg = format!("--ca-file|{}", ca.display());
    publish(
        &b,
        &key,
        "tinh",
        &format!("--priority|emergency|--text|Qua TLS. Tin an toàn.|--targets|station:s1|{ca_arg}"),
    );
    s1.wait_aired("Qua TLS");
    // The wrong CA: refused, said clearly, never connected.
    let give_up = Instant::now() + PATIENCE;
    while !d2.log_text().contains("TLS refused") {
        assert!(Instant::now() < give_up, "no clear line: {}", d2.log_text());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(d2.log_text().contains("ca_file"), "{}", d2.log_text());
    assert_eq!(common::metric(s2.addr, "loa_upstream_connected"), Some(0.0));
}
