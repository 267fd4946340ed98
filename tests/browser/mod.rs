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

mod print;
mod rig;

use print::print_pdf;
use rig::*;

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

    // A notice through the microphone, named, previewed, sent, probed,
    // queued: it airs, and is in the ledger, by its title.
    b.goto("/thu-am").await;
    b.shoot("thu-am").await;
    let titled = "Thông báo họp tổ dân phố";
    b.find("#ten-ban-ghi")
        .await
        .send_keys(titled)
        .await
        .unwrap();
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
    assert_eq!(b.text(".verdict .big-what").await, titled);
    let recorded = b.text(".verdict .hint").await;
    assert!(recorded.starts_with("ghi-am-"), "{recorded}");
    b.shoot("thu-am-ket-qua").await;
    b.find(".verdict form button").await.click().await.unwrap();
    b.wait_text("#thong-bao", "Đã xếp hàng").await;
    b.goto("/").await;
    b.wait_text("#song .onair .title", titled).await;
    // It ends by itself (about three seconds).
    let deadline = Instant::now() + PATIENCE;
    while b.text("#song .onair .title").await.contains(titled) {
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
    b.wait_text("table.ledger", titled).await;
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
