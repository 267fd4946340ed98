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
    ("/bo-qua", ""),
    ("/tam-dung", ""),
    ("/tiep-tuc", ""),
    ("/khan-cap", "what=b:tone"),
    ("/khan-cap/huy", ""),
];

fn audit(rig: &Rig) -> Vec<(String, String, String)> {
    rig.state
        .recorder
        .flush(std::time::Duration::from_millis(500));
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
    let rig = rig("").await;
    let v = rig.signed_in(Role::Viewer).await;
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
    let rig = rig("").await;
    let op = rig.signed_in(Role::Operator).await;
    let cookie = format!("loa_phien={}", op.cookie);
    for (path, form) in CONTROLS {
        for body in [form.to_string(), format!("csrf=0000&{form}")] {
            let r = rig
                .send(
                    LOCAL,
                    "POST",
                    path,
                    &[("cookie", &cookie), ("sec-fetch-site", "same-origin")],
                    Some(&body),
                )
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} {body}: {r:?}");
        }
    }
    // The upload takes its token in a header or the query.
    for path in ["/thu-am/tai-len", "/thu-am/tai-len?csrf=0000"] {
        let r = rig
            .send(
                LOCAL,
                "POST",
                path,
                &[("cookie", &cookie), ("sec-fetch-site", "same-origin")],
                Some("x"),
            )
            .await;
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
    let rig = rig("").await;
    let op = rig.signed_in(Role::Operator).await;
    // The page's script asks for JSON: the long bulletin airs...
    let r = rig
        .send(
            LOCAL,
            "POST",
            "/xep-hang",
            &[
                ("cookie", &format!("loa_phien={}", op.cookie)),
                ("sec-fetch-site", "same-origin"),
                ("x-loa-fetch", "1"),
            ],
            Some(&format!("csrf={}&what=b:long", op.csrf)),
        )
        .await;
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
    assert!(
        page.body.contains("Không tìm thấy bản tin"),
        "{}",
        page.body
    );

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
        rig.state
            .recorder
            .flush(std::time::Duration::from_millis(500));
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
    let en = rig.get(Some(&op), "/nhat-ky?lang=en").await.body;
    assert!(en.contains("<td>skipped by user operator</td>"), "{en}");
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
    let rig = rig("").await;
    let op = rig.signed_in(Role::Operator).await;
    let r = rig
        .get(Some(&op), "/khan-cap?what=b%3Atone&every=30&until=23%3A59")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
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
    let rig = rig("").await;
    let v = rig.signed_in(Role::Viewer).await;
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
    let rig = rig("").await;
    let v = rig.signed_in(Role::Viewer).await;
    let r = rig
        .get(Some(&v), "/bao-cao.csv?tu=2026-01-01&den=2026-01-31")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
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
    assert!(page.contains("Người lập biểu") && page.contains("Thủ trưởng đơn vị"));
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
    let rig = rig("").await;
    let op = rig.signed_in(Role::Operator).await;
    let boundary = "loa-b";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ghi-am.webm\"\r\n\
         Content-Type: audio/webm\r\n\r\nthis is not audio at all\r\n--{boundary}--\r\n"
    );
    let r = rig
        .send(
            LOCAL,
            "POST",
            "/thu-am/tai-len",
            &[
                ("cookie", &format!("loa_phien={}", op.cookie)),
                ("sec-fetch-site", "same-origin"),
                ("x-csrf-token", &op.csrf),
                ("x-loa-fetch", "1"),
                (
                    "content-type",
                    &format!("multipart/form-data; boundary={boundary}"),
                ),
            ],
            Some(&body),
        )
        .await;
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

/// A notice typed on `/` is read aloud (espeak-ng) and aired: queued, or
/// as an emergency after a confirmation page that shows the words.
#[tokio::test]
async fn a_typed_notice_is_queued_or_aired_as_an_emergency() {
    let rig = rig("").await;
    let op = rig.signed_in(Role::Operator).await;
    let page = rig.get(Some(&op), "/").await.body;
    assert!(page.contains("Hoặc gõ thông báo để đọc"), "{page}");
    assert!(page.contains("name=\"text\""));
    let text = "Kính thưa bà con, <b>17:30</b> họp tổ dân phố.";
    let q = format!("/khan-cap?what=&text={}&every=", form_encode(text));
    let confirm = rig.get(Some(&op), &q).await;
    assert_eq!(confirm.status, StatusCode::OK, "{confirm:?}");
    assert!(
        confirm.body.contains("Đọc thông báo này"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains("&lt;b&gt;17:30&lt;/b&gt;"), "escaped");
    assert!(!confirm.body.contains(text));
    assert!(confirm.body.contains("name=\"text\""));
    rig.post_expect(
        &op,
        "/khan-cap",
        &format!("what=&text={}", form_encode(text)),
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

#[tokio::test]
async fn an_emergency_needs_a_bulletin_or_words() {
    let rig = rig("").await;
    let op = rig.signed_in(Role::Operator).await;
    let r = rig.get(Some(&op), "/khan-cap?what=&text=+&every=").await;
    assert!(r.body.contains("chưa gõ thông báo"), "{}", r.body);
    assert!(!r.body.contains("Phát khẩn cấp ngay"));
}

#[tokio::test]
async fn pausing_asks_first_and_says_what_it_does() {
    let rig = rig("").await;
    let op = rig.signed_in(Role::Operator).await;
    let home = rig.get(Some(&op), "/").await;
    assert!(home.body.contains("href=\"/tam-dung\""), "{}", home.body);
    let page = rig.get(Some(&op), "/tam-dung").await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert!(page.body.contains("Tạm dừng đài?"), "{}", page.body);
    assert!(page.body.contains("sẽ bị bỏ qua"), "{}", page.body);
    assert!(page.body.contains("action=\"/tam-dung\""), "{}", page.body);
    // Asking changes nothing.
    assert!(!rig.state.handle.status.borrow().paused);
    let en = rig.get(Some(&op), "/tam-dung?lang=en").await;
    assert!(
        en.body
            .contains("scheduled items that come due are skipped"),
        "{}",
        en.body
    );
    // A viewer is not offered it.
    let viewer = rig.signed_in(Role::Viewer).await;
    let v = rig.get(Some(&viewer), "/tam-dung").await;
    assert_ne!(v.status, StatusCode::OK, "{v:?}");
}

#[tokio::test]
async fn the_favicon_answers_without_a_session() {
    let rig = rig("").await;
    let r = rig.get(None, "/favicon.ico").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
}
