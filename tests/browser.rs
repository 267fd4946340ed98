//! The web console in a real browser: `loa run` on a temporary station
//! recording to a WAV file in real time, Debian's headless Chromium driven
//! over WebDriver (chromedriver) with a fake microphone that plays a
//! 1 kHz tone. An operator signs in, queues a bulletin and sees it air on
//! `/` without a reload, records a notice through the microphone and hears
//! it in the WAV output, breaks in with an emergency and stops it, opens
//! the report, downloads its CSV (the same bytes as `loa report`), and
//! prints it to PDF. Screenshots of every page at 360×740 and 1366×768
//! (and full-height ones) go to `target/screenshots/`.
//!
//! A missing browser fails the test: `make test-deps` installs it.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, Daemon};
use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, PrintConfiguration};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PASSWORD: &str = "mat-khau-van-hanh";
/// The fake microphone's tone.
const TONE_HZ: f64 = 1000.0;
/// Generous bound for anything to show up on a busy machine.
const PATIENCE: Duration = Duration::from_secs(30);
/// One Chromium at a time: the machine is small and the first test paces
/// audio in real time.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn loa(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(common::bin::loa());
    cmd.args(args)
        .env_remove("LOA_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run loa");
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "loa {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A console user with `PASSWORD`.
fn add_user(cfg: &str, name: &str, role: &str) {
    loa(
        &[
            "user",
            "add",
            name,
            "--role",
            role,
            "--password-stdin",
            "--config",
            cfg,
        ],
        Some(&format!("{PASSWORD}\n")),
    );
}

/// chromedriver, killed when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_driver(dir: &Path) -> (Driver, u16) {
    for tool in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: install Debian's chromium and chromium-driver (`make test-deps`)"
        );
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .arg(format!(
            "--log-path={}",
            dir.join("chromedriver.log").display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + PATIENCE;
    // Listening is enough: the session request below waits for it to be ready.
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (driver, port)
}

/// A headless Chromium session through chromedriver on `port`, with `extra`
/// command-line switches and `prefs`.
async fn session(port: u16, profile: &Path, extra: &[String], prefs: Value) -> Client {
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--lang=vi",
        "--window-size=1366,768",
    ]
    .map(String::from)
    .into();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend_from_slice(extra);
    let mut caps = Capabilities::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": CHROMIUM, "args": args, "prefs": prefs }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session")
}

/// A 16-bit mono WAV of a steady tone: what the fake microphone hears.
fn tone_wav(path: &Path, seconds: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = (seconds * 48_000.0) as usize;
    for i in 0..n {
        let x = (2.0 * std::f64::consts::PI * TONE_HZ * i as f64 / 48_000.0).sin();
        w.write_sample((x * 0.5 * f64::from(i16::MAX)) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

/// The longest run, in seconds, of 50 ms windows of `wav` that carry the
/// fake microphone's tone: loud, and crossing zero at twice its frequency.
fn longest_tone(wav: &Path) -> f64 {
    let mut r = hound::WavReader::open(wav).unwrap();
    let spec = r.spec();
    let ch = usize::from(spec.channels);
    let rate = f64::from(spec.sample_rate);
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
        hound::SampleFormat::Int => {
            let scale = (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.unwrap() as f32 / scale)
                .collect()
        }
    };
    let mono: Vec<f32> = samples.chunks(ch).map(|c| c[0]).collect();
    let win = (rate * 0.05) as usize;
    let (mut best, mut run) = (0usize, 0usize);
    for w in mono.chunks(win) {
        if w.len() < win {
            break;
        }
        let rms = (w.iter().map(|x| x * x).sum::<f32>() / w.len() as f32).sqrt();
        let crossings = w
            .windows(2)
            .filter(|p| (p[0] < 0.0) != (p[1] < 0.0))
            .count() as f64;
        let hz = crossings / 2.0 / 0.05;
        if rms > 0.02 && (hz - TONE_HZ).abs() < TONE_HZ * 0.05 {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best as f64 * 0.05
}

struct Browser {
    c: Client,
    base: String,
    shots: PathBuf,
    /// What axe-core and the layout checks found on each photographed
    /// page, asserted empty at the end (so one run lists every page's).
    findings: std::sync::Mutex<Vec<String>>,
}

/// axe-core (tests/fixtures/axe), injected into each photographed page.
const AXE: &str = include_str!("fixtures/axe/axe.min.js");

impl Browser {
    async fn goto(&self, path: &str) {
        self.c
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    async fn js(&self, script: &str) -> Value {
        self.c
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    async fn find(&self, css: &str) -> Element {
        self.c
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
    }

    async fn text(&self, css: &str) -> String {
        let v = self
            .js(&format!(
                "var e = document.querySelector({}); return e ? e.textContent : '';",
                json!(css)
            ))
            .await;
        v.as_str().unwrap_or("").to_string()
    }

    /// Wait until the text of `css` contains `want`.
    async fn wait_text(&self, css: &str, want: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let got = self.text(css).await;
            if got.contains(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed {want:?}; it shows {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn wait_url(&self, part: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let url = self.c.current_url().await.unwrap();
            if url.as_str().contains(part) {
                return;
            }
            assert!(Instant::now() < deadline, "never reached {part}: at {url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// axe-core's serious and critical violations on the page as shown,
    /// and sideways scrolling of the page itself.
    async fn audit(&self, name: &str, width: u32) {
        let loaded = self.js(&format!("{AXE}\n;return typeof axe;")).await;
        assert_eq!(loaded, json!("object"), "axe-core did not load");
        let found = self
            .c
            .execute_async(
                "var done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(function (r) {
                   done(r.violations
                     .filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; })
                     .map(function (v) {
                       return v.impact + ' ' + v.id + ': ' + v.nodes.slice(0, 3).map(function (n) { return n.target.join(' '); }).join(', ');
                     }));
                 }, function (e) { done(['axe failed: ' + e]); });",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("axe on {name}: {e}"));
        let wide = self
            .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            .await;
        let mut findings = self.findings.lock().unwrap();
        for v in found.as_array().into_iter().flatten() {
            findings.push(format!(
                "{name} at {width} px: {}",
                v.as_str().unwrap_or("?")
            ));
        }
        if wide.as_i64().unwrap_or(0) > 0 {
            findings.push(format!(
                "{name} at {width} px scrolls sideways by {wide} px"
            ));
        }
    }

    /// Screenshots of what is shown at both sizes, exact and full height,
    /// each size audited (axe-core, sideways scrolling).
    async fn shoot(&self, name: &str) {
        for (w, h) in [(360u32, 740u32), (1366, 768)] {
            self.c.set_window_size(w, h).await.unwrap();
            self.js("window.scrollTo(0, 0); if (document.activeElement) { document.activeElement.blur(); } return 1;").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            self.audit(name, w).await;
            let png = self.c.screenshot().await.unwrap();
            std::fs::write(self.shots.join(format!("{name}-{w}x{h}.png")), png).unwrap();
            let full = self
                .js("return document.documentElement.scrollHeight")
                .await
                .as_u64()
                .unwrap_or(u64::from(h)) as u32;
            if full > h {
                self.c.set_window_size(w, full.min(6000)).await.unwrap();
                tokio::time::sleep(Duration::from_millis(300)).await;
                let png = self.c.screenshot().await.unwrap();
                std::fs::write(self.shots.join(format!("{name}-{w}-full.png")), png).unwrap();
            }
        }
        self.c.set_window_size(1366, 768).await.unwrap();
    }

    async fn sign_in(&self, name: &str, password: &str) {
        self.goto("/dang-nhap").await;
        self.find("#name").await.send_keys(name).await.unwrap();
        self.find("#password")
            .await
            .send_keys(password)
            .await
            .unwrap();
        self.find("main form button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
        self.wait_text("header .who", name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_runs_the_station_from_a_browser() {
    let _alone = ONE_BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let audio = root.join("audio");
    std::fs::create_dir(&audio).unwrap();
    std::fs::copy(repo("audio/cds/thong-diep.mp3"), audio.join("long.mp3")).unwrap();
    std::fs::copy(repo("audio/jingles/nhac-hieu.mp3"), audio.join("short.mp3")).unwrap();
    let mic = root.join("mic.wav");
    tone_wav(&mic, 20.0);
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = root.join("station.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[station]
name = "Xã Thử Nghiệm"
audio_dir = "audio"
data_dir = "var"
[output]
kind = "wav"
path = "var/aired.wav"
pace = "realtime"
[api]
listen = "{addr}"
[report]
preparer_name = "Nguyễn Thị Lan"
head_title = "Chủ tịch UBND xã"
head_name = "Trần Văn Hùng"
[[campaign]]
id = "cds"
title = "Chuyển đổi số"
target_minutes = 30
[[bulletin]]
id = "long"
title = "Thông điệp chuyển đổi số"
file = "long.mp3"
campaign = "cds"
at = ["06:00", "11:30", "17:00"]
[[bulletin]]
id = "short"
title = "Nhạc hiệu <b>đài</b>"
file = "short.mp3"
at = ["05:55"]
"#
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    add_user(cfg, "van-hanh", "operator");
    add_user(cfg, "quan-tri", "admin");
    add_user(cfg, "xem", "viewer");
    let daemon = Daemon::start(&config, addr);

    let shots = repo("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (_driver, port) = start_driver(root);
    let profile = root.join("chromium-profile");
    let downloads = root.join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    let c = session(
        port,
        &profile,
        &[
            "--autoplay-policy=no-user-gesture-required".into(),
            "--use-fake-ui-for-media-stream".into(),
            "--use-fake-device-for-media-stream".into(),
            format!("--use-file-for-fake-audio-capture={}", mic.display()),
        ],
        json!({
            "download.default_directory": downloads,
            "download.prompt_for_download": false,
        }),
    )
    .await;
    let b = Browser {
        c,
        base: format!("http://{addr}"),
        shots: shots.clone(),
        findings: std::sync::Mutex::new(Vec::new()),
    };

    // Signed out: the sign-in page.
    b.goto("/").await;
    b.wait_url("/dang-nhap").await;
    b.shoot("dang-nhap").await;

    // The operator signs in and queues a bulletin; it airs on the page
    // without a reload.
    b.sign_in("van-hanh", PASSWORD).await;
    b.goto("/").await;
    b.find("#song .onair").await;
    b.js("window.loaNoReload = 'still here'; return 1;").await;
    b.find("#tim").await.send_keys("nhac hieu").await.unwrap();
    let visible = b
        .js("return Array.from(document.querySelectorAll('#ds-phat li')).filter(function(li){return !li.hidden}).length")
        .await;
    assert_eq!(visible, json!(1), "the search keeps only the jingle");
    b.find("#ds-phat li:not([hidden]) button")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text("#song .onair .title", "Nhạc hiệu <b>đài</b>")
        .await;
    b.wait_text("#thong-bao", "Đã xếp hàng").await;
    assert_eq!(b.js("return window.loaNoReload").await, json!("still here"));
    // A typed notice is heard before it airs: read by the station and
    // played under the button, nothing queued.
    b.find("#q-text")
        .await
        .send_keys("Kính thưa bà con, mời họp tổ dân phố.")
        .await
        .unwrap();
    b.find("#q-text ~ .actions button[data-listen]")
        .await
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let heard = b
            .js("var a = document.querySelector('audio.listen'); return a ? [a.src.slice(0, 5), a.duration] : null;")
            .await;
        if heard[0] == json!("blob:") && heard[1].as_f64().is_some_and(|d| d > 0.5) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the notice was never played: {heard}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.js("document.querySelector('#q-text').value = ''; return 1;")
        .await;
    // The progress bar moves and the time left counts down.
    let left = b.text("#song .onair .left").await;
    assert!(left.contains("còn lại"), "{left:?}");
    b.shoot("dang-phat").await;

    // A notice through the microphone, previewed, sent, probed, queued.
    b.goto("/thu-am").await;
    b.shoot("thu-am").await;
    b.find("#bat-dau").await.click().await.unwrap();
    b.wait_text("#trang-thai-thu", "Đang thu").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    b.find("#dung").await.click().await.unwrap();
    b.wait_text("#trang-thai-thu", "Đã thu xong").await;
    b.find("#gui-ban-ghi").await.click().await.unwrap();
    b.wait_url("/thu-am?tep=").await;
    b.wait_text(".verdict h2", "Tệp tốt").await;
    let verdict = b.text(".verdict").await;
    assert!(verdict.contains("WAV"), "{verdict}");
    let recorded = b.text(".verdict .big-what").await;
    assert!(recorded.starts_with("ghi-am-"), "{recorded}");
    b.shoot("thu-am-ket-qua").await;
    b.find(".verdict form button").await.click().await.unwrap();
    b.wait_text("#thong-bao", "Đã xếp hàng").await;
    b.goto("/").await;
    b.wait_text("#song .onair .title", &recorded).await;
    // It ends by itself (about three seconds).
    let deadline = Instant::now() + PATIENCE;
    while b.text("#song .onair .title").await.contains(&recorded) {
        assert!(Instant::now() < deadline, "the recording never ended");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The emergency control is on the first screen of a phone, under a
    // header that names the station in under a fifth of the screen.
    b.c.set_window_size(360, 740).await.unwrap();
    b.goto("/").await;
    let fit = b
        .js(
            "return [document.querySelector('header.top').getBoundingClientRect().height,
                     document.querySelector('#khan-cap > summary').getBoundingClientRect().bottom,
                     window.innerHeight]",
        )
        .await;
    let fit: Vec<f64> = fit
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        fit[0] < fit[2] / 5.0,
        "the header takes {} of {} px",
        fit[0],
        fit[2]
    );
    assert!(
        fit[1] <= fit[2],
        "the emergency control ends at {} px, below the {} px screen",
        fit[1],
        fit[2]
    );
    assert_eq!(b.text("header .brand").await, "Xã Thử Nghiệm");
    b.c.set_window_size(1366, 768).await.unwrap();
    // An empty emergency form comes back on the form, open, with the error.
    b.find("#khan-cap > summary").await.click().await.unwrap();
    b.find("form[action='/khan-cap'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text("#khan-cap .form-error", "Chưa chọn bản tin nào")
        .await;
    assert_eq!(
        b.js("return document.querySelector('#khan-cap').open")
            .await,
        json!(true)
    );

    // Break in with a repeating emergency, confirm, then stop it in one tap.
    b.find("#em-what")
        .await
        .select_by_value("b:long")
        .await
        .unwrap();
    b.find("#em-every").await.send_keys("10").await.unwrap();
    b.find("form[action='/khan-cap'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_url("/khan-cap?").await;
    b.wait_text("main .big-what", "Thông điệp chuyển đổi số")
        .await;
    b.shoot("khan-cap-xac-nhan").await;
    b.find("form[action='/khan-cap'] button.red")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text("#song .banner.emergency", "KHẨN CẤP đang lặp lại")
        .await;
    b.wait_text("#song .onair .title", "Thông điệp chuyển đổi số")
        .await;
    b.wait_text("#song .onair .meta", "khẩn cấp").await;
    b.shoot("dang-phat-khan-cap").await;
    b.find("form[action='/khan-cap/huy'] button")
        .await
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while !b.text("#song .banner.emergency").await.is_empty() {
        assert!(Instant::now() < deadline, "the emergency banner stayed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.wait_text("#thong-bao", "Đã dừng khẩn cấp").await;

    // Pausing asks first and says what it does; going back changes nothing.
    b.goto("/tam-dung").await;
    b.wait_text("main h1", "Tạm dừng đài?").await;
    b.wait_text("main", "sẽ bị bỏ qua").await;
    b.shoot("tam-dung").await;

    // The plan and the ledger.
    b.goto("/lich").await;
    b.wait_text("main", "Số phút dự kiến theo chiến dịch").await;
    b.shoot("lich").await;
    b.goto("/nhat-ky").await;
    b.wait_text("table.ledger", &recorded).await;
    b.shoot("nhat-ky").await;

    // The report: the CSV is `loa report`'s, byte for byte; then the PDF.
    b.goto("/bao-cao").await;
    b.wait_text(".report", "BÁO CÁO THỜI LƯỢNG PHÁT SÓNG").await;
    b.wait_text(".paper-end", "CHỦ TỊCH UBND XÃ").await;
    b.shoot("bao-cao").await;
    let href = b
        .js("return document.querySelector('a[download]').getAttribute('href')")
        .await;
    let href = href.as_str().unwrap().to_string();
    // Download it as the official would: a click on the link.
    b.find("a[download]").await.click().await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    let csv = loop {
        let done: Vec<PathBuf> = std::fs::read_dir(&downloads)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        if let Some(p) = done.first() {
            assert!(
                p.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("bao-cao-"),
                "{p:?}"
            );
            break std::fs::read(p).unwrap();
        }
        assert!(Instant::now() < deadline, "the CSV was not downloaded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let q: Vec<(&str, &str)> = href
        .split_once('?')
        .unwrap()
        .1
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let arg = |k: &str| q.iter().find(|(x, _)| *x == k).unwrap().1;
    let cli = loa(
        &[
            "report",
            "--config",
            cfg,
            "--from",
            arg("tu"),
            "--to",
            arg("den"),
            "--format",
            "csv",
        ],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&csv),
        String::from_utf8_lossy(&cli.stdout),
        "the page's CSV and `loa report --format csv` differ"
    );
    assert!(csv.starts_with("\u{feff}".as_bytes()), "UTF-8 with a BOM");
    std::fs::write(shots.join("bao-cao.csv"), &csv).unwrap();
    let pages = print_pdf(&b, "bao-cao").await;
    assert!(
        pages[0].contains("BÁO CÁO THỜI LƯỢNG PHÁT SÓNG") && pages[0].contains("Trang 1/"),
        "{pages:?}"
    );

    // The admin's page, and the English view.
    b.find("form.signout button").await.click().await.unwrap();
    b.wait_url("/dang-nhap").await;
    b.sign_in("quan-tri", PASSWORD).await;
    b.goto("/tai-khoan").await;
    b.wait_text("main", "van-hanh").await;
    b.shoot("tai-khoan").await;
    b.goto("/?lang=en").await;
    b.wait_text("main h1", "On air").await;
    b.shoot("dang-phat-en").await;
    b.goto("/?lang=vi").await;

    // A viewer sees the station but has no controls.
    b.find("form.signout button").await.click().await.unwrap();
    b.wait_url("/dang-nhap").await;
    b.sign_in("xem", PASSWORD).await;
    b.goto("/").await;
    b.find("#song .onair").await;
    assert_eq!(
        b.js("return document.querySelectorAll('form[action=\"/khan-cap\"], form[action=\"/bo-qua\"], #ds-phat').length")
            .await,
        json!(0)
    );
    b.shoot("dang-phat-nguoi-xem").await;
    b.c.close().await.unwrap();
    let findings = b.findings.lock().unwrap().clone();
    assert!(
        findings.is_empty(),
        "accessibility and layout findings:\n{}",
        findings.join("\n")
    );

    // The recording aired: its tone is in the WAV output (closed on stop).
    let wav = root.join("var/aired.wav");
    drop(daemon);
    let tone = longest_tone(&wav);
    // How much of the tone the page captured depends on how soon Chromium's
    // fake device starts delivering under load; what must hold is that the
    // microphone was heard and that all of the recording aired.
    let upload = find_file(&audio, &recorded).expect("the uploaded recording is in audio_dir");
    let captured = longest_tone(&upload);
    eprintln!("tone: {captured:.2} s recorded, {tone:.2} s aired");
    assert!(
        captured >= 1.0,
        "the page should have recorded the microphone's tone for most of 3 s, found {captured:.2} s in {}",
        upload.display()
    );
    assert!(
        tone >= captured - 0.25,
        "the recording's {captured:.2} s of tone should all be in {}, found {tone:.2} s",
        wav.display()
    );
}

/// The file named `name` under `dir`, at any depth.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()? {
        let p = e.ok()?.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|f| f == name) {
            return Some(p);
        }
    }
    None
}

/// The report's PDF as text, page by page (`pdftotext -layout`).
fn pdf_pages(pdf: &Path) -> Vec<String> {
    let out = Command::new("pdftotext")
        .arg("-layout")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext is missing: install Debian's poppler-utils (`make test-deps`)");
    assert!(out.status.success(), "pdftotext {}", pdf.display());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut pages: Vec<String> = text.split('\x0c').map(str::to_string).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

/// Print what the browser shows to `name`.pdf under the screenshots, and
/// read it back.
async fn print_pdf(b: &Browser, name: &str) -> Vec<String> {
    let pdf =
        b.c.print(
            PrintConfiguration::builder()
                .background(true)
                .build()
                .unwrap(),
        )
        .await
        .expect("print to PDF");
    let path = b.shots.join(format!("{name}.pdf"));
    std::fs::write(&path, &pdf).unwrap();
    pdf_pages(&path)
}

/// Bulletins in October 2026's ledger: bulletin `j` airs every day from
/// the `j + 1`th, so a period ending on day `k` reports `k` of them.
const PRINT_BULLETINS: u32 = 31;
const PRINT_CAMPAIGNS: u32 = 8;

/// A month of rows for `report_prints_as_an_administrative_document`.
fn october_ledger(db: &Path) {
    use chrono::TimeZone;
    use loa::config::Priority;
    use loa::ledger::{Airing, Ledger, Outcome, Settled, Source};
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    let mut l = Ledger::open(db, tz).unwrap();
    let mut rows = Vec::new();
    for j in 0..PRINT_BULLETINS {
        for d in (j + 1)..=31 {
            let at = tz
                .with_ymd_and_hms(2026, 10, d, 6, 0, 0)
                .unwrap()
                .with_timezone(&chrono::Utc);
            let missed = (j + d) % 9 == 0;
            rows.push(Settled {
                airing: Airing {
                    occurrence: format!("b{j}@{d}"),
                    bulletin: format!("b{j:02}"),
                    title: format!("Bản tin số {j:02}"),
                    campaign: Some(format!("c{}", j % PRINT_CAMPAIGNS)),
                    program: None,
                    priority: Priority::Normal,
                    source: Source::Schedule,
                    file: format!("b{j}.mp3"),
                    scheduled_at: at,
                    planned_seconds: 180.0,
                    requested_by: None,
                },
                started_at: (!missed).then_some(at),
                ended_at: (!missed).then_some(at),
                aired_seconds: if missed { 0.0 } else { 180.0 },
                outcome: if missed {
                    Outcome::Missed
                } else {
                    Outcome::Completed
                },
                reason: None,
            });
        }
    }
    l.record_all(rows).unwrap();
}

/// The printed report is a Vietnamese administrative document (Nghị định
/// 30/2020/NĐ-CP): issuing body and number, national heading, place and
/// date line, "Trang i/n" on every page, and "Nơi nhận:" with the
/// signatures on the page that ends the table, whatever its length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_prints_as_an_administrative_document() {
    let _alone = ONE_BROWSER.lock().await;
    for tool in ["pdftotext", "pdftoppm"] {
        assert!(
            Command::new(tool).arg("-v").output().is_ok(),
            "{tool} is missing: install Debian's poppler-utils (`make test-deps`)"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = root.join("station.toml");
    let campaigns: String = (0..PRINT_CAMPAIGNS)
        .map(|c| format!("[[campaign]]\nid = \"c{c}\"\ntitle = \"Chiến dịch tuyên truyền số {c}\"\ntarget_minutes = 600\n"))
        .collect();
    std::fs::write(
        &config,
        format!(
            r#"
[station]
name = "Đài truyền thanh xã Thạch Hà"
data_dir = "var"
[output]
kind = "null"
[api]
listen = "{addr}"
[report]
authority = "Ủy ban nhân dân xã Thạch Hà"
number_prefix = "BC-ĐTT"
place = "Thạch Hà"
preparer_name = "Nguyễn Thị Lan"
head_title = "Chủ tịch UBND xã"
head_name = "Trần Văn Hùng"
{campaigns}"#
        ),
    )
    .unwrap();
    std::fs::create_dir(root.join("var")).unwrap();
    october_ledger(&root.join("var/airtime.db"));
    let cfg = config.to_str().unwrap();
    add_user(cfg, "xem", "viewer");
    let _daemon = Daemon::start(&config, addr);
    let shots = repo("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (_driver, port) = start_driver(root);
    let c = session(port, &root.join("chromium-profile"), &[], json!({})).await;
    let b = Browser {
        c,
        base: format!("http://{addr}"),
        shots: shots.clone(),
    };
    b.sign_in("xem", PASSWORD).await;

    // The whole month: three pages of tables, then the annex.
    b.goto("/bao-cao?tu=2026-10-01&den=2026-10-31").await;
    b.wait_text(".paper-head", "ỦY BAN NHÂN DÂN XÃ THẠCH HÀ")
        .await;
    let pages = print_pdf(&b, "bao-cao-giay").await;
    let n = pages.len();
    assert!(n >= 3, "a month should print on 3+ pages, got {n}");
    for (i, p) in pages.iter().enumerate() {
        let want = format!("Trang {}/{n}", i + 1);
        assert!(p.contains(&want), "page {} lacks {want:?}:\n{p}", i + 1);
    }
    let first = &pages[0];
    for want in [
        "ỦY BAN NHÂN DÂN XÃ THẠCH HÀ",
        "ĐÀI TRUYỀN THANH",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "/BC-ĐTT",
        "Thạch Hà, ngày",
        "BÁO CÁO THỜI LƯỢNG PHÁT SÓNG",
        "từ 01/10/2026 đến hết 31/10/2026",
    ] {
        assert!(first.contains(want), "page 1 lacks {want:?}:\n{first}");
    }
    assert!(
        !first.contains("Đài truyền thanh xã Thạch Hà,"),
        "the date line names the place, not the station:\n{first}"
    );
    let end = pages
        .iter()
        .position(|p| p.contains("Tổng cộng"))
        .expect("the total is printed");
    assert!(end > 0, "the table should run past page 1");
    for p in &pages[..=end] {
        assert!(
            p.contains("Chiến dịch / bản tin"),
            "the table's header on every page:\n{p}"
        );
    }
    for want in [
        "Nơi nhận:",
        "- Lưu: VT.",
        "NGƯỜI LẬP BIỂU",
        "CHỦ TỊCH UBND XÃ",
        "Trần Văn Hùng",
    ] {
        assert!(
            pages[end].contains(want),
            "page {} (the total's) lacks {want:?}:\n{}",
            end + 1,
            pages[end]
        );
    }
    assert!(
        pages[end + 1..].iter().any(|p| p.contains("PHỤ LỤC")),
        "the chart and what did not air follow as an annex"
    );
    // Each page as a picture, to look at.
    let png = Command::new("pdftoppm")
        .args(["-png", "-r", "60"])
        .arg(shots.join("bao-cao-giay.pdf"))
        .arg(shots.join("bao-cao-giay"))
        .status()
        .unwrap();
    assert!(png.success());

    signatures_stay_with_the_total(&b).await;
    printed_in_english(&b).await;
    b.goto("/bao-cao?lang=vi").await;
    b.c.close().await.unwrap();
}

/// Whatever the table's length, the signatures end the page of its total
/// with at least one of its rows: never alone on a page.
async fn signatures_stay_with_the_total(b: &Browser) {
    for k in 1..=PRINT_BULLETINS {
        b.goto(&format!("/bao-cao?tu=2026-10-01&den=2026-10-{k:02}"))
            .await;
        b.wait_text(".paper-title", &format!("đến hết {k:02}/10/2026"))
            .await;
        let pages = print_pdf(b, "bao-cao-giay-ngan").await;
        let end = pages
            .iter()
            .position(|p| p.contains("Tổng cộng"))
            .unwrap_or_else(|| panic!("{k} days: no total"));
        let p = &pages[end];
        assert!(
            p.contains("NGƯỜI LẬP BIỂU") && p.contains("Nơi nhận:"),
            "{k} days: the signatures left the total's page {}:\n{p}",
            end + 1
        );
        assert!(
            p.contains("Bản tin số") || p.contains("Chiến dịch tuyên truyền"),
            "{k} days: the total and signatures are alone on page {}:\n{p}",
            end + 1
        );
    }
}

/// English: the national heading is the document's form and stays.
async fn printed_in_english(b: &Browser) {
    b.goto("/bao-cao?tu=2026-10-01&den=2026-10-31&lang=en")
        .await;
    b.wait_text(".paper-title", "AIRTIME REPORT").await;
    let pages = print_pdf(b, "bao-cao-giay-en").await;
    let n = pages.len();
    for (i, p) in pages.iter().enumerate() {
        let want = format!("Page {}/{n}", i + 1);
        assert!(p.contains(&want), "page {} lacks {want:?}:\n{p}", i + 1);
    }
    for want in [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "No.:",
        "Thạch Hà, date",
    ] {
        assert!(
            pages[0].contains(want),
            "page 1 lacks {want:?}:\n{}",
            pages[0]
        );
    }
    assert!(pages.iter().any(|p| p.contains("Recipients:")));
}
