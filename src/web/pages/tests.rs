//! Route tests of the pages: what each role sees and may do, CSRF refusal
//! on every form, Vietnamese (and English) text, escaping, the audit trail
//! of actions taken from a page, and the assets.

use axum::http::{header, StatusCode};

use crate::config::Role;
use crate::web::test_rig::*;

/// The forms a viewer must be refused, with a body each would carry.
const CONTROLS: &[(&str, &str)] = &[
    ("/xep-hang", "what=b:tone"),
    ("/xep-hang/1/huy", ""),
    ("/xep-hang/huy-tat-ca", ""),
    ("/bo-qua", ""),
    ("/tam-dung", ""),
    ("/tiep-tuc", ""),
    ("/khan-cap", "what=b:tone"),
    ("/khan-cap/huy", ""),
    ("/nghe-thu", "text=a"),
];

fn audit(rig: &Rig) -> Vec<(String, String, String)> {
    rig.state.recorder.flush(std::time::Duration::from_secs(10));
    crate::ledger::Ledger::open_read_only(&rig.ledger, chrono_tz::Asia::Ho_Chi_Minh)
        .unwrap()
        .audit_rows(None, None)
        .unwrap()
        .into_iter()
        .map(|a| (a.who, a.action, a.result))
        .collect()
}

#[tokio::test]
async fn viewer_reads_every_page_but_controls_nothing() {
    let (rig, v) = rig_as(Role::Viewer).await;
    for (path, text) in [
        ("/", "Lịch hôm nay"),
        ("/lich", "Số phút dự kiến theo chiến dịch"),
        ("/nhat-ky", "Kết quả"),
        ("/bao-cao", "BÁO CÁO THỜI LƯỢNG PHÁT SÓNG"),
        ("/truc-tiep", "Hàng chờ"),
    ] {
        let r = rig.get(Some(&v), path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {r:?}");
        assert!(r.body.contains(text), "{path} lacks {text}: {}", r.body);
    }
    let home = rig.get(Some(&v), "/").await.body;
    assert!(
        !home.contains("action=\"/bo-qua\""),
        "no controls for viewers"
    );
    assert!(!home.contains("Phát khẩn cấp"));
    assert!(!home.contains("href=\"/thu-am\""));
    assert_eq!(
        rig.get(Some(&v), "/thu-am").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        rig.get(Some(&v), "/khan-cap?what=b:tone").await.status,
        StatusCode::FORBIDDEN
    );
    // A viewer's forged requests, with a valid token of their own.
    for (path, form) in CONTROLS {
        let r = rig.post(&v, path, form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {r:?}");
    }
    let r = rig
        .send(
            LOCAL,
            "POST",
            &format!("/thu-am/tai-len?csrf={}", v.csrf),
            &[
                ("cookie", &format!("loa_phien={}", v.cookie)),
                ("sec-fetch-site", "same-origin"),
            ],
            Some("x"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    assert!(rig.state.handle.status.borrow().queue.is_empty());
    assert!(!rig.state.handle.status.borrow().paused);
}

#[tokio::test]
async fn signed_out_pages_send_to_sign_in() {
    let rig = rig("").await;
    for path in [
        "/",
        "/lich",
        "/nhat-ky",
        "/bao-cao",
        "/bao-cao.csv",
        "/truc-tiep",
    ] {
        let r = rig.get(None, path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}: {r:?}");
        assert!(r.location().starts_with("/dang-nhap"), "{path}: {r:?}");
    }
}

#[tokio::test]
async fn forms_without_the_session_token_are_refused() {
    let (rig, op) = rig_as(Role::Operator).await;
    let cookie = format!("loa_phien={}", op.cookie);
    let headers = [
        ("cookie", cookie.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    for (path, form) in CONTROLS {
        for body in [form.to_string(), format!("csrf=0000&{form}")] {
            let r = rig.send(LOCAL, "POST", path, &headers, Some(&body)).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} {body}: {r:?}");
        }
    }
    // The upload takes its token in a header or the query.
    for path in ["/thu-am/tai-len", "/thu-am/tai-len?csrf=0000"] {
        let r = rig.send(LOCAL, "POST", path, &headers, Some("x")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {r:?}");
    }
    assert!(rig.state.handle.status.borrow().queue.is_empty());
    assert!(!rig.state.handle.status.borrow().paused);
    assert!(audit(&rig)
        .iter()
        .all(|(_, a, _)| a != "queue" && a != "pause"));
}

#[tokio::test]
async fn operator_actions_go_through_the_api_as_the_user() {
    let (rig, op) = rig_as(Role::Operator).await;
    // The page's script asks for JSON: the long bulletin airs...
    let r = rig.post_script(&op, "/xep-hang", "what=b:long").await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(r.body.contains("\"ok\":true"), "{r:?}");
    rig.wait_status("it airs", 5, |s| s.airing.is_some()).await;
    // ...and a plain form queues the tone behind it.
    let r = rig
        .post_expect(&op, "/xep-hang", "what=b:tone", StatusCode::SEE_OTHER)
        .await;
    assert_eq!(r.location(), "/");
    let queued = rig.state.handle.status.borrow().queue.clone();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].requested_by.as_deref(), Some("operator"));
    let live = rig.get(Some(&op), "/truc-tiep").await.body;
    assert!(
        live.contains("Thông điệp dài") && live.contains("Tín hiệu"),
        "{live}"
    );
    assert!(live.contains("data-started="), "a progress bar: {live}");

    // A refusal comes back in the API's words, shown once on the page.
    let r = rig
        .post_expect(&op, "/xep-hang", "what=b:nope", StatusCode::SEE_OTHER)
        .await;
    let flash = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("loa_flash="))
        .expect("a message")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = rig
        .send(
            LOCAL,
            "GET",
            "/",
            &[("cookie", &format!("loa_phien={}; {flash}", op.cookie))],
            None,
        )
        .await;
    page.assert_has("Không tìm thấy bản tin");

    let id = queued[0].id;
    rig.post_expect(
        &op,
        &format!("/xep-hang/{id}/huy"),
        "",
        StatusCode::SEE_OTHER,
    )
    .await;
    assert!(rig.state.handle.status.borrow().queue.is_empty());
    rig.post(&op, "/bo-qua", "").await;
    rig.post(&op, "/tam-dung", "").await;
    assert!(rig.state.handle.status.borrow().paused);
    let live = rig.get(Some(&op), "/truc-tiep").await.body;
    assert!(live.contains("Đài đang TẠM DỪNG"), "{live}");
    rig.post(&op, "/tiep-tuc", "").await;
    assert!(!rig.state.handle.status.borrow().paused);

    let rows = audit(&rig);
    let mine: Vec<_> = rows
        .iter()
        .filter(|(who, a, _)| who == "operator" && a != "sign-in")
        .map(|(_, a, r)| (a.as_str(), r.starts_with("ok")))
        .collect();
    assert_eq!(
        mine,
        [
            ("queue", true),
            ("queue", true),
            ("queue", false),
            ("dequeue", true),
            ("skip", true),
            ("pause", true),
            ("resume", true)
        ],
        "{rows:?}"
    );
    // The ledger says a user skipped, not a token; in Vietnamese first.
    let mut page = String::new();
    for _ in 0..100 {
        rig.state.recorder.flush(std::time::Duration::from_secs(10));
        page = rig.get(Some(&op), "/nhat-ky").await.body;
        if page.contains("đã bỏ qua") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // In Vietnamese only, from the catalogue: no English after it.
    assert!(
        page.contains("<td>người dùng operator đã bỏ qua</td>"),
        "{page}"
    );
    assert!(!page.contains("skipped by"), "{page}");
    assert!(!page.contains("mã truy cập"), "{page}");
    // Outcomes that read alike are told apart in words under the table.
    assert!(page.contains("Ý nghĩa các kết quả"), "{page}");
    assert!(
        page.contains("<b>Bỏ lỡ</b>: đến giờ mà đài không phát được"),
        "{page}"
    );
    assert!(
        !page.contains("<b>Lượt phát</b>"),
        "not a ledger outcome: {page}"
    );
    let en = rig.get(Some(&op), "/nhat-ky?lang=en").await.body;
    assert!(en.contains("<td>skipped by user operator</td>"), "{en}");
    assert!(en.contains("<b>Skipped</b>: not aired by rule"), "{en}");
    assert!(!en.contains("đã bỏ qua"));
    // The report's "not aired and why" too, outcome in the page's language.
    let report = rig.get(Some(&op), "/bao-cao").await.body;
    assert!(
        report.contains("<td>bị ngắt</td><td>người dùng operator đã bỏ qua</td>"),
        "{report}"
    );
    let en = rig.get(Some(&op), "/bao-cao?lang=en").await.body;
    assert!(
        en.contains("<td>interrupted</td><td>skipped by user operator</td>"),
        "{en}"
    );
}

#[tokio::test]
async fn emergency_is_confirmed_then_repeats_until_cancelled() {
    let (rig, op) = rig_as(Role::Operator).await;
    let ask = "/khan-cap?what=b%3Atone&every=30&until=23%3A59";
    let r = rig.get_expect(Some(&op), ask, StatusCode::OK).await;
    assert!(r.body.contains("Tín hiệu") && r.body.contains("Lặp lại mỗi 30 phút đến 23:59"));
    assert!(
        rig.state.handle.status.borrow().emergency.is_none(),
        "nothing before the confirmation"
    );
    rig.post_expect(
        &op,
        "/khan-cap",
        "what=b%3Atone&every=30&until=23%3A59",
        StatusCode::SEE_OTHER,
    )
    .await;
    rig.wait_status("the emergency repeats", 5, |s| s.emergency.is_some())
        .await;
    let live = rig.get(Some(&op), "/truc-tiep").await.body;
    assert!(live.contains("KHẨN CẤP đang lặp lại"), "{live}");
    assert!(live.contains("action=\"/khan-cap/huy\""));
    rig.post(&op, "/khan-cap/huy", "").await;
    rig.wait_status("cancelled in one tap", 5, |s| s.emergency.is_none())
        .await;
}

#[tokio::test]
async fn titles_are_text_not_markup() {
    let rig = rig(r#"
[[bulletin]]
id = "xss"
title = "<script>alert(1)</script>"
file = "tone.wav"
at = ["00:00", "23:59"]
"#)
    .await;
    let op = rig.signed_in(Role::Operator).await;
    for path in ["/", "/lich", "/truc-tiep", "/khan-cap?what=b:xss"] {
        let body = rig.get(Some(&op), path).await.body;
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}: {body}"
        );
        assert!(!body.contains("<script>alert"), "{path}");
    }
}

#[tokio::test]
async fn english_on_asking_and_remembered() {
    let (rig, v) = rig_as(Role::Viewer).await;
    let r = rig.get(Some(&v), "/?lang=en").await;
    assert!(r.body.contains("Today's plan") && r.body.contains("<html lang=\"en\">"));
    let set: Vec<_> = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(set.iter().any(|c| c.starts_with("loa_lang=en")), "{set:?}");
    let r = rig.get(Some(&v), "/bao-cao?lang=en").await;
    assert!(r.body.contains("Minutes aired per day"));
}

#[tokio::test]
async fn report_csv_is_the_reports_own() {
    let (rig, v) = rig_as(Role::Viewer).await;
    let january = "/bao-cao.csv?tu=2026-01-01&den=2026-01-31";
    let r = rig.get_expect(Some(&v), january, StatusCode::OK).await;
    let station = rig.state.current.get();
    let ledger = crate::ledger::Ledger::open_read_only(&rig.ledger, station.timezone).unwrap();
    let (from, to) =
        crate::range::parse(station.timezone, Some("2026-01-01"), Some("2026-01-31")).unwrap();
    let expected = crate::report::format_report(
        &crate::report::report(
            &ledger,
            &station.campaigns,
            &crate::ledger::Filter {
                from,
                to,
                campaign: None,
            },
        )
        .unwrap(),
        crate::report::Format::Csv,
    );
    assert_eq!(r.body, expected);
    assert!(r.headers.get(header::CONTENT_DISPOSITION).is_some_and(|d| d
        .to_str()
        .unwrap()
        .contains("bao-cao-2026-01-01-2026-01-31.csv")));
    // The printed report's signature blocks, as the station file says.
    let page = rig.get(Some(&v), "/bao-cao").await.body;
    assert!(page.contains("NGƯỜI LẬP BIỂU") && page.contains("THỦ TRƯỞNG ĐƠN VỊ"));
}

#[tokio::test]
async fn printed_report_is_framed_as_the_station_file_says() {
    let rig = rig(
        "[report]\nauthority = \"Ủy ban nhân dân xã Thạch Hà\"\nnumber_prefix = \"BC-ĐTT\"\n\
         place = \"Thạch Hà\"\nrecipients = [\"- UBND huyện (b/c);\", \"- Lưu: VT.\"]\n",
    )
    .await;
    let v = rig.signed_in(Role::Viewer).await;
    let (rig, v) = (&rig, &v);
    let page = |path| async move { (path, rig.get(Some(v), path).await.body) };
    let vi = page("/bao-cao").await;
    // The place, not the station's name, leads the date line.
    assert!(!vi.1.contains("Xã Test, ngày"), "{}", vi.1);
    holds_each(
        vi,
        &[
            "ỦY BAN NHÂN DÂN XÃ THẠCH HÀ",
            "XÃ TEST",
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "Độc lập - Tự do - Hạnh phúc",
            "Số: ……………/BC-ĐTT",
            "Thạch Hà, ngày …… tháng …… năm ……",
            "Nơi nhận:",
            "- UBND huyện (b/c);",
        ],
    );
    // English: the national heading stays, the rest is English.
    holds_each(
        page("/bao-cao?lang=en").await,
        &[
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "AIRTIME REPORT",
            "No.: ……………/BC-ĐTT",
            "Thạch Hà, date",
            "Recipients:",
            "PREPARED BY",
        ],
    );

    // Without the keys the document still prints, with blanks to fill.
    let (bare, v) = rig_as(Role::Viewer).await;
    let page = bare.get(Some(&v), "/bao-cao").await.body;
    holds_each(
        ("/bao-cao", page),
        &[
            "<p class=\"authority\">………………………………</p>",
            "Số: ……………</p>",
            "<p class=\"date-line\">……………, ngày",
            "- Lưu: VT.",
        ],
    );
}

/// Assert the page at `path` holds each of `wants`.
fn holds_each((path, page): (&str, String), wants: &[&str]) {
    for want in wants {
        assert!(page.contains(want), "{path} lacks {want:?}: {page}");
    }
}

#[tokio::test]
async fn assets_are_hashed_and_kept() {
    let rig = rig("").await;
    let page = rig.get(None, "/dang-nhap").await.body;
    let css = crate::web::layout::assets::STYLE.url();
    assert!(page.contains(&css), "{page}");
    let r = rig.get(None, &css).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers.get(header::CACHE_CONTROL).unwrap(),
        "public, max-age=31536000, immutable"
    );
    assert!(r
        .headers
        .get(header::CONTENT_TYPE)
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert_eq!(
        rig.get(None, "/tai-nguyen/style.000000000000.css")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_refused_upload_says_why_in_plain_words() {
    let (rig, op) = rig_as(Role::Operator).await;
    let boundary = "loa-b";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ghi-am.webm\"\r\n\
         Content-Type: audio/webm\r\n\r\nthis is not audio at all\r\n--{boundary}--\r\n"
    );
    let r = rig.upload(&op, boundary, &body).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{r:?}");
    assert!(
        r.body
            .contains("Đây không phải tệp âm thanh mà đài phát được"),
        "{r:?}"
    );
    // Nothing is left in audio_dir, and the refusal is audited as the user.
    let left: Vec<_> = std::fs::read_dir(&rig.state.current.get().audio_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(audit(&rig)
        .iter()
        .any(|(who, a, res)| who == "operator" && a == "upload" && res.starts_with("refused")));
}

/// A second of 8 kHz 8-bit mono WAV whose bytes are all ASCII (the rig
/// sends text bodies): near-silence at 0x7f.
fn ascii_wav() -> String {
    let mut w = String::from("RIFF\u{64}\u{1f}\0\0WAVEfmt \u{10}\0\0\0\u{1}\0\u{1}\0");
    w.push_str("\u{40}\u{1f}\0\0\u{40}\u{1f}\0\0\u{1}\0\u{8}\0data\u{40}\u{1f}\0\0");
    w.push_str(&"\u{7f}".repeat(8000));
    w
}

/// An operator names a recording as it is uploaded: the pickers and the
/// page after the upload show the title, and what airs carries it; a title
/// that is not one short line is refused before the file is taken.
#[tokio::test]
async fn a_recording_is_named_by_its_title() {
    let (rig, op) = rig_as(Role::Operator).await;
    let upload = |title: String| {
        let boundary = "loa-b";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n{title}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ghi-am.wav\"\r\n\
             Content-Type: audio/wav\r\n\r\n{}\r\n--{boundary}--\r\n",
            ascii_wav()
        );
        let (rig, op) = (&rig, &op);
        async move { rig.upload(op, boundary, &body).await }
    };
    let long = "dài ".repeat(40);
    let refused = upload(long).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{refused:?}"
    );
    assert!(refused.body.contains("Tên bản ghi"), "{refused:?}");
    let page_en = rig.get(Some(&op), "/thu-am?lang=en").await.body;
    assert!(page_en.contains("Recording's title"), "{page_en}");
    // What the recorder's script says comes in the page's language.
    assert!(page_en.contains(r#"data-asking="Asking for the microphone…""#));
    let page_vi = rig.get(Some(&op), "/thu-am").await.body;
    assert!(page_vi.contains(r#"data-asking="Đang xin phép dùng micrô…""#));
    let r = upload("  Thông báo  tiêm phòng dại ".into()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let name: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let name = name["name"].as_str().unwrap().to_string();
    let verdict = rig
        .get(Some(&op), &format!("/thu-am?tep={name}"))
        .await
        .body;
    assert!(verdict.contains("Thông báo tiêm phòng dại"), "{verdict}");
    let home = rig.get(Some(&op), "/").await.body;
    assert!(home.contains("Bản ghi: Thông báo tiêm phòng dại"), "{home}");
    let r = rig.post(&op, "/xep-hang", &format!("what=f:{name}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    let mut rx = rig.state.handle.status.clone();
    let st = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        rx.wait_for(|s| s.airing.is_some()),
    )
    .await
    .expect("it airs")
    .unwrap()
    .clone();
    assert_eq!(st.airing.unwrap().title, "Thông báo tiêm phòng dại");
}

/// A notice typed on `/` is read aloud (espeak-ng) and aired: queued, or
/// as an emergency after a confirmation page that shows the words.
#[tokio::test]
async fn a_typed_notice_is_queued_or_aired_as_an_emergency() {
    let (rig, op) = rig_as(Role::Operator).await;
    let page = rig.get(Some(&op), "/").await.body;
    assert!(page.contains("Hoặc gõ thông báo để đọc"), "{page}");
    assert!(page.contains("name=\"text\""));
    let text = "Kính thưa bà con, <b>17:30</b> họp tổ dân phố.";
    let q = format!(
        "/khan-cap?{}",
        form(&[("what", ""), ("text", text), ("every", "")])
    );
    let confirm = rig.get_expect(Some(&op), &q, StatusCode::OK).await;
    confirm.assert_has("Đọc thông báo này");
    assert!(confirm.body.contains("&lt;b&gt;17:30&lt;/b&gt;"), "escaped");
    assert!(!confirm.body.contains(text));
    assert!(confirm.body.contains("name=\"text\""));
    rig.post_expect(
        &op,
        "/khan-cap",
        &form(&[("what", ""), ("text", text)]),
        StatusCode::SEE_OTHER,
    )
    .await;
    let st = rig
        .wait_status("the notice airs", 30, |s| s.airing.is_some())
        .await;
    let airing = st.airing.expect("airing");
    assert_eq!(airing.title, text);
    assert!(airing.bulletin.starts_with("tts/"), "{airing:?}");
    assert_eq!(airing.priority, crate::config::Priority::Emergency);
    // Queued the same way, behind it.
    rig.post_expect(
        &op,
        "/xep-hang",
        "text=H%E1%BB%8Dp+chi+b%E1%BB%99",
        StatusCode::SEE_OTHER,
    )
    .await;
    let queued = rig.state.handle.status.borrow().queue.clone();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].title, "Họp chi bộ");
    assert_eq!(queued[0].requested_by.as_deref(), Some("operator"));
}

/// "Nghe thử": the operator hears a typed notice before it airs; the
/// render stays in the cache (queuing the same words reads nothing again);
/// empty words are refused in plain words.
#[tokio::test]
async fn a_typed_notice_can_be_heard_before_it_airs() {
    let (rig, op) = rig_as(Role::Operator).await;
    let page = rig.get(Some(&op), "/").await.body;
    assert!(page.contains(r#"formaction="/nghe-thu""#), "{page}");
    assert!(page.contains("Nghe thử"), "{page}");
    let en = rig.get(Some(&op), "/?lang=en").await.body;
    assert!(en.contains("Listen first"), "{en}");
    let text = "Kính thưa bà con, mời họp lúc 17 giờ.";
    let r = rig.post(&op, "/nghe-thu", &form(&[("text", text)])).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.headers[header::CONTENT_TYPE], "audio/wav");
    assert!(r.body.starts_with("RIFF"), "a WAV");
    assert!(r.body.len() > 1000, "{} bytes", r.body.len());
    let cached = rig.state.current.get().tts_path(text);
    assert!(cached.exists(), "kept in the cache: {}", cached.display());
    // Nothing aired or queued.
    let st = rig.state.handle.status.borrow().clone();
    assert!(st.airing.is_none() && st.queue.is_empty(), "{st:?}");
    // No words: the page's script gets the reason.
    let empty = rig.post_script(&op, "/nghe-thu", "text=+").await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY, "{empty:?}");
    assert!(empty.body.contains("\"ok\":false"), "{empty:?}");
}

#[tokio::test]
async fn an_emergency_needs_a_bulletin_or_words() {
    let (rig, op) = rig_as(Role::Operator).await;
    let r = rig.get(Some(&op), "/khan-cap?what=&text=+&every=").await;
    r.assert_has("chưa gõ thông báo");
    assert!(!r.body.contains("Phát khẩn cấp ngay"));
    // Not a dead end: `/` again, the emergency form open with the error
    // on it, above the form's fields.
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.assert_has(r#"<details class="card danger em" id="khan-cap" open>"#);
    let error = r.body.find(r#"class="form-error" role="alert""#).unwrap();
    let field = r.body.find(r#"id="em-what""#).unwrap();
    assert!(error < field && r.body.contains(r#"id="song""#));
    let unknown = rig.get(Some(&op), "/khan-cap?what=b:khong-co").await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    unknown.assert_has("Không tìm thấy bản tin");
}

/// The emergency control comes first on `/` for an operator (before what
/// airs), closed until asked; a viewer has none.
#[tokio::test]
async fn the_emergency_control_comes_first() {
    let (rig, op) = rig_as(Role::Operator).await;
    let home = rig.get(Some(&op), "/").await.body;
    let em = home
        .find(r#"<details class="card danger em" id="khan-cap">"#)
        .expect("the emergency control, closed");
    assert!(em < home.find(r#"id="song""#).unwrap(), "{home}");
    assert!(home.contains("<summary>Phát khẩn cấp…</summary>"), "{home}");
    let en = rig.get(Some(&op), "/?lang=en").await.body;
    assert!(en.contains("<summary>Emergency…</summary>"), "{en}");
    let viewer = rig.signed_in(Role::Viewer).await;
    let v = rig.get(Some(&viewer), "/").await.body;
    assert!(!v.contains("khan-cap"), "{v}");
}

/// The queue shows each entry's place and expected start, says how many
/// more wait past the first 20, and "Huỷ tất cả" asks, then clears it with
/// one audit line.
#[tokio::test]
async fn the_queue_shows_places_and_can_be_cleared() {
    let (rig, op) = rig_as(Role::Operator).await;
    let r = rig.post(&op, "/xep-hang", "what=b:long").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    let mut rx = rig.state.handle.status.clone();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        rx.wait_for(|s| s.airing.is_some()),
    )
    .await
    .expect("it airs")
    .unwrap();
    for _ in 0..23 {
        let r = rig.post(&op, "/xep-hang", "what=b:tone").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    }
    let live = rig.get(Some(&op), "/truc-tiep").await.body;
    assert!(live.contains(r#"<span class="pos">1.</span>"#), "{live}");
    assert!(live.contains(r#"<span class="pos">20.</span>"#), "{live}");
    assert!(!live.contains(r#"<span class="pos">21.</span>"#), "{live}");
    assert!(live.contains("… còn 3 mục nữa"), "{live}");
    assert!(live.contains("giờ dự kiến bắt đầu"), "{live}");
    assert!(live.contains(r#"href="/xep-hang/huy-tat-ca""#), "{live}");
    let en = rig.get(Some(&op), "/truc-tiep?lang=en").await.body;
    assert!(en.contains("… and 3 more after these."), "{en}");
    assert!(en.contains("the expected start"), "{en}");
    let ask_en = rig
        .get(Some(&op), "/xep-hang/huy-tat-ca?lang=en")
        .await
        .body;
    assert!(
        ask_en.contains("Removes all 23 waiting entries"),
        "{ask_en}"
    );
    // Asking changes nothing.
    let ask = rig
        .get_expect(Some(&op), "/xep-hang/huy-tat-ca", StatusCode::OK)
        .await;
    ask.assert_has("Bỏ cả 23 mục");
    assert_eq!(rig.state.handle.status.borrow().queue_length, 23);
    let r = rig.post(&op, "/xep-hang/huy-tat-ca", "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    let st = rig.state.handle.status.borrow().clone();
    assert_eq!(st.queue_length, 0, "{st:?}");
    assert!(st.airing.is_some(), "what airs goes on");
    let lines: Vec<_> = audit(&rig)
        .into_iter()
        .filter(|(_, action, _)| action == "dequeue_all")
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].2.contains("removed 23"), "{lines:?}");
}

#[tokio::test]
async fn pausing_asks_first_and_says_what_it_does() {
    let (rig, op) = rig_as(Role::Operator).await;
    let home = rig.get(Some(&op), "/").await;
    home.assert_has("href=\"/tam-dung\"");
    let page = rig.get_expect(Some(&op), "/tam-dung", StatusCode::OK).await;
    page.assert_has("Tạm dừng đài?");
    page.assert_has("sẽ bị bỏ qua");
    page.assert_has("action=\"/tam-dung\"");
    // Asking changes nothing.
    assert!(!rig.state.handle.status.borrow().paused);
    let en = rig.get(Some(&op), "/tam-dung?lang=en").await;
    en.assert_has("scheduled items that come due are skipped");
    // A viewer is not offered it.
    let viewer = rig.signed_in(Role::Viewer).await;
    let v = rig.get(Some(&viewer), "/tam-dung").await;
    assert_ne!(v.status, StatusCode::OK, "{v:?}");
}

#[tokio::test]
async fn the_favicon_answers_without_a_session() {
    let rig = rig("").await;
    rig.get_expect(None, "/favicon.ico", StatusCode::NO_CONTENT)
        .await;
}

#[tokio::test]
async fn the_report_page_counts_cancellations_apart_and_explains_its_columns() {
    let (rig, v) = rig_as(Role::Viewer).await;
    let tz = rig.state.current.get().timezone;
    crate::ledger::Ledger::open(&rig.ledger, tz)
        .unwrap()
        .record_all(crate::ledger::test_util::ten_queued())
        .unwrap();
    let page = rig
        .get(Some(&v), "/bao-cao?tu=2026-10-07&den=2026-10-07")
        .await
        .body;
    assert!(
        page.contains(
            r#"<th scope="col" class="num">Bỏ qua</th><th scope="col" class="num">Đã huỷ</th>"#
        ),
        "{page}"
    );
    // Plays, completed, interrupted, failed, missed, skipped, cancelled, minutes.
    let cells = ["1", "1", "0", "0", "1", "1", "7", "2,00"]
        .map(|c| format!(r#"<td class="num">{c}</td>"#))
        .concat();
    let total = page.find(r#"<tr class="total">"#).expect("a total row");
    assert!(page[total..].contains(&cells), "{page}");
    for (vi, means, _, _) in crate::report::LEGEND {
        assert!(
            page.contains(&format!("<li><b>{vi}</b>: {means}</li>")),
            "{page}"
        );
    }
    assert!(page.contains(crate::report::CSV_NUMBERS.0), "{page}");
    // What did not air: the seven cancellations as such, not as skipped.
    assert!(
        page.contains("<td>Họp dân</td><td>đã huỷ</td><td>người vận hành bỏ khỏi hàng chờ</td><td class=\"num\">7</td>"),
        "{page}"
    );

    let en = rig
        .get(Some(&v), "/bao-cao?tu=2026-10-07&den=2026-10-07&lang=en")
        .await
        .body;
    for (_, _, word, means) in crate::report::LEGEND {
        assert!(
            en.contains(&format!("<li><b>{word}</b>: {means}</li>")),
            "{en}"
        );
    }
    assert!(en.contains(crate::report::CSV_NUMBERS.1), "{en}");
    assert!(en.contains("<td>cancelled</td>"), "{en}");
}
