//! Uploads.

use axum::http::header;
use serde_json::json;

use super::*;

// -- Upload --------------------------------------------------------------------

#[tokio::test]
async fn a_phone_recording_is_uploaded_under_a_safe_name_and_queued() {
    let r = rig().await;
    let m4a = std::fs::read(fixture("tests/fixtures/audio/aac-lc-moov-end.m4a")).unwrap();
    let (ctype, body) = multipart("../../Thông báo họp thôn.m4a", &m4a);
    let u = r.post_raw("/api/v1/audio", &ctype, &body).await;
    assert_eq!(u.status, 201, "{u:?}");
    let u = u.json();
    let name = u["name"].as_str().unwrap();
    assert!(name.starts_with("thong-bao-hop-thon-2"), "{name}");
    assert!(name.ends_with(".m4a"));
    assert_eq!(u["format"], "m4a");
    assert!((u["duration_seconds"].as_f64().unwrap() - 2.0).abs() < 0.1);
    assert_eq!(
        std::fs::read(r.audio.join(name)).unwrap(),
        m4a,
        "stored as sent"
    );
    assert!(!r.audio_files().iter().any(|f| f.starts_with('.')));
    // The same name again lands beside it.
    let again = r.post_raw("/api/v1/audio", &ctype, &body).await.json();
    assert_ne!(again["name"], u["name"]);
    let q = r.queue(json!({"file": name})).await;
    assert_eq!(q.status, 202, "{q:?}");
    r.wait_row("the upload aired", |x| {
        x.file == name && x.outcome.is_some_and(|o| o.as_str() == "completed")
    })
    .await;
    // A phone's HE-AAC recording and chat apps' Opus voice notes are
    // accepted, under the extension of what they are.
    for (file, ext) in [
        ("he-aac-explicit.m4a", ".m4a"),
        ("opus.ogg", ".opus"),
        ("opus.webm", ".webm"),
    ] {
        let bytes = std::fs::read(fixture(&format!("tests/fixtures/audio/{file}"))).unwrap();
        let (ctype, body) = multipart("ghi âm", &bytes);
        let u = r.post_raw("/api/v1/audio", &ctype, &body).await;
        assert_eq!(u.status, 201, "{file}: {u:?}");
        let name = u.json()["name"].as_str().unwrap().to_string();
        assert!(name.ends_with(ext), "{file}: {name}");
    }
}

#[tokio::test]
async fn refused_uploads_leave_nothing_behind() {
    let r = rig().await;
    let before = r.audio_files();
    let random: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (ctype, body) = multipart("noise.mp3", &random);
    let u = r.post_raw("/api/v1/audio", &ctype, &body).await;
    u.assert_error(415, "bad_audio");
    let msg = u.json()["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("noise.mp3") && !msg.contains(".loa-upload"),
        "{msg}"
    );

    // Audio that would air wrongly (cut short): 422.
    let cut = std::fs::read(fixture("tests/fixtures/audio/truncated.m4a")).unwrap();
    let (ctype, body) = multipart("cut.m4a", &cut);
    let u = r.post_raw("/api/v1/audio", &ctype, &body).await;
    assert_eq!(u.status, 422, "{u:?}");

    let (ctype, body) = multipart("empty.mp3", b"");
    let u = r.post_raw("/api/v1/audio", &ctype, &body).await;
    assert_eq!(u.status, 415, "{u:?}");

    // Over [api] max_upload_mb = 1: refused from the Content-Length, and
    // without one, while streaming.
    let big = vec![0xffu8; 1024 * 1024 + 10];
    let (ctype, body) = multipart("big.mp3", &big);
    let u = r.post_raw("/api/v1/audio", &ctype, &body).await;
    u.assert_error(413, "upload_too_large");
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/audio")
        .header(header::AUTHORIZATION, format!("Bearer {OPERATOR}"))
        .header(header::CONTENT_TYPE, &ctype)
        .body(HttpBody::from(body))
        .unwrap();
    let resp = r
        .app
        .clone()
        .layer(MockConnectInfo(SocketAddr::from((LOCAL, 1))))
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);

    // A huge text field before the file is not read without bound.
    let note = format!(
        "--loa-test-boundary-7d1f\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n{}\r\n--loa-test-boundary-7d1f--\r\n",
        "x".repeat(200_000)
    );
    let u = r.post_raw("/api/v1/audio", &ctype, note.as_bytes()).await;
    u.assert_error(413, "form_field_too_large");
    // It says what is wrong: not the recording's size.
    assert!(
        !u.json()["message"].as_str().unwrap().contains("MB"),
        "{u:?}"
    );

    let u = r.post_raw("/api/v1/audio", "application/json", b"{}").await;
    assert_eq!(u.status, 415);
    let (ctype, _) = multipart("x", b"");
    let only_text = "--loa-test-boundary-7d1f\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--loa-test-boundary-7d1f--\r\n";
    let u = r
        .post_raw("/api/v1/audio", &ctype, only_text.as_bytes())
        .await;
    u.assert_error(400, "no_file");
    let u = r
        .post_raw(
            "/api/v1/audio",
            &ctype,
            b"--loa-test-boundary-7d1f\r\ngarbage",
        )
        .await;
    assert_eq!(u.status, 400, "{u:?}");

    assert_eq!(r.audio_files(), before, "nothing left behind");
    r.assert_quiet().await;
}
