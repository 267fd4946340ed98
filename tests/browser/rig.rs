//! The browser test's rig: chromedriver and a headless Chromium session,
//! the station's users, the fake microphone's tone, and `Browser`: what
//! an operator does on a page, screenshots at both widths, each page audited
//! (axe-core, sideways scrolling).

pub(crate) use std::net::SocketAddr;
pub(crate) use std::path::{Path, PathBuf};
pub(crate) use std::process::{Child, Command, Stdio};
pub(crate) use std::time::{Duration, Instant};

pub(crate) use crate::common::{free_port, Daemon};
pub(crate) use fantoccini::elements::Element;
pub(crate) use fantoccini::wd::{Capabilities, PrintConfiguration};
pub(crate) use fantoccini::{Client, ClientBuilder, Locator};
pub(crate) use serde_json::{json, Value};

pub(crate) use crate::common;

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
pub(crate) const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub(crate) const PASSWORD: &str = "mat-khau-van-hanh";
/// The fake microphone's tone.
pub(crate) const TONE_HZ: f64 = 1000.0;
/// Generous bound for anything to show up on a busy machine.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);
/// One Chromium at a time: the machine is small and the first test paces
/// audio in real time.
pub(crate) static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub(crate) fn loa(args: &[&str], stdin: Option<&str>) -> std::process::Output {
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
pub(crate) fn add_user(cfg: &str, name: &str, role: &str) {
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
pub(crate) struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn start_driver(dir: &Path) -> (Driver, u16) {
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
pub(crate) async fn session(port: u16, profile: &Path, extra: &[String], prefs: Value) -> Client {
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
pub(crate) fn tone_wav(path: &Path, seconds: f64) {
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
pub(crate) fn longest_tone(wav: &Path) -> f64 {
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

pub(crate) struct Browser {
    pub(crate) c: Client,
    pub(crate) base: String,
    pub(crate) shots: PathBuf,
    /// What axe-core and the layout checks found on each photographed
    /// page, asserted empty at the end (so one run lists every page's).
    pub(crate) findings: std::sync::Mutex<Vec<String>>,
}

/// axe-core (tests/fixtures/axe), injected into each photographed page.
pub(crate) const AXE: &str = include_str!("../fixtures/axe/axe.min.js");

impl Browser {
    pub(crate) async fn goto(&self, path: &str) {
        self.c
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    pub(crate) async fn js(&self, script: &str) -> Value {
        self.c
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    pub(crate) async fn find(&self, css: &str) -> Element {
        self.c
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        let v = self
            .js(&format!(
                "var e = document.querySelector({}); return e ? e.textContent : '';",
                json!(css)
            ))
            .await;
        v.as_str().unwrap_or("").to_string()
    }

    /// Wait until the text of `css` contains `want`.
    pub(crate) async fn wait_text(&self, css: &str, want: &str) {
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

    pub(crate) async fn wait_url(&self, part: &str) {
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
    pub(crate) async fn audit(&self, name: &str, width: u32) {
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
    pub(crate) async fn shoot(&self, name: &str) {
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

    pub(crate) async fn sign_in(&self, name: &str, password: &str) {
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
