//! The operators' queue.

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use super::*;

// -- Queue -----------------------------------------------------------------------

#[tokio::test]
async fn bad_queue_requests_are_refused_and_change_nothing() {
    let r = rig().await;
    let outside = r.audio.join("out.mp3");
    std::os::unix::fs::symlink(r.root.join("secret.mp3"), &outside).unwrap();
    std::fs::write(
        r.audio.join("text.mp3"),
        "xin chào, đây không phải âm thanh\n",
    )
    .unwrap();
    let cases: Vec<(&str, &[u8], u16, &str)> = vec![
        ("application/json", b"{\"bulletin\":", 400, "malformed_json"),
        ("application/json", b"[1,2]", 422, "invalid_body"),
        (
            "text/plain",
            b"{\"bulletin\":\"long\"}",
            415,
            "unsupported_media_type",
        ),
        (
            "application/json",
            b"{\"bulletin\":\"long\",\"x\":1}",
            422,
            "invalid_body",
        ),
        ("application/json", b"{}", 422, "bulletin_or_file"),
        (
            "application/json",
            b"{\"bulletin\":\"long\",\"file\":\"long.mp3\"}",
            422,
            "bulletin_or_file",
        ),
        (
            "application/json",
            b"{\"bulletin\":\"nope\"}",
            404,
            "unknown_bulletin",
        ),
        (
            "application/json",
            b"{\"file\":\"../station.toml\"}",
            422,
            "bad_file_name",
        ),
        (
            "application/json",
            b"{\"file\":\"..\"}",
            422,
            "bad_file_name",
        ),
        (
            "application/json",
            b"{\"file\":\"a\\u0000.mp3\"}",
            422,
            "bad_file_name",
        ),
        (
            "application/json",
            b"{\"file\":\"/etc/passwd\"}",
            422,
            "bad_file_name",
        ),
        (
            "application/json",
            b"{\"file\":\"missing.mp3\"}",
            404,
            "unknown_file",
        ),
        (
            "application/json",
            b"{\"file\":\"out.mp3\"}",
            422,
            "file_outside_audio_dir",
        ),
        (
            "application/json",
            b"{\"file\":\"text.mp3\"}",
            415,
            "bad_audio",
        ),
        (
            "application/json",
            b"{\"bulletin\":\"long\",\"priority\":\"emergency\"}",
            422,
            "use_emergency_route",
        ),
        (
            "application/json",
            b"{\"bulletin\":\"long\",\"priority\":\"urgent\"}",
            422,
            "bad_priority",
        ),
        (
            "application/json",
            b"{\"bulletin\":\"long\",\"at\":\"tomorrow\"}",
            422,
            "bad_time",
        ),
        (
            "application/json",
            b"{\"bulletin\":\"long\",\"at\":\"2020-01-01T00:00:00Z\"}",
            422,
            "time_in_past",
        ),
    ];
    for (ctype, body, status, code) in cases {
        let reply = r.post_raw("/api/v1/queue", ctype, body).await;
        assert_eq!(
            (reply.status.as_u16(), reply.error().as_str()),
            (status, code),
            "{}: {reply:?}",
            String::from_utf8_lossy(body)
        );
        let message = reply.json()["message"].as_str().unwrap().to_string();
        assert!(!message.is_empty());
        // Operators see names inside audio_dir, never the host's paths.
        assert!(
            !message.contains(r.root.to_str().unwrap()),
            "a host path in {message:?}"
        );
    }
    // Bigger than any control request.
    let huge = format!("{{\"bulletin\":\"{}\"}}", "x".repeat(MAX_JSON_BODY));
    let reply = r
        .post_raw("/api/v1/queue", "application/json", huge.as_bytes())
        .await;
    assert_eq!(reply.status, 413, "{reply:?}");
    assert_eq!(reply.error(), "body_too_large");
    r.assert_quiet().await;
    assert!(r.rows().is_empty());
}

#[tokio::test]
async fn a_file_is_queued_at_a_time_listed_and_removed() {
    let r = rig().await;
    let at = (Utc::now() + Duration::hours(1)).to_rfc3339();
    let q = r
        .queue(json!({"file": "tone.wav", "at": at, "priority": "priority"}))
        .await;
    assert_eq!(q.status, 202, "{q:?}");
    let entry = q.json();
    assert_eq!(entry["bulletin"], "tone.wav");
    assert_eq!(entry["priority"], "priority");
    assert_eq!(entry["requested_by"], "van-hanh");
    let id = entry["id"].as_u64().unwrap();
    let list = r.get("/api/v1/queue", VIEWER).await.json();
    assert_eq!(list["queue"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["queue"][0]["id"], id);
    assert_eq!(list["queue_length"], 1);

    let path = format!("/api/v1/queue/{id}");
    let d = r.operator("DELETE", &path).await;
    assert_eq!(d.status, 200, "{d:?}");
    let again = r.operator("DELETE", &path).await;
    again.assert_error(404, "unknown_entry");
    let bad = r.operator("DELETE", "/api/v1/queue/abc").await;
    bad.assert_error(400, "bad_path");
    r.assert_quiet().await;
}

#[tokio::test]
async fn past_max_queue_a_request_gets_429_saying_how_to_make_room() {
    let text =
        station_text("").replace("max_upload_mb = 1\n", "max_upload_mb = 1\nmax_queue = 3\n");
    let r = rig_with(&text).await;
    let at = (Utc::now() + Duration::hours(1)).to_rfc3339();
    let body = json!({"bulletin": "tone", "at": at});
    let mut ids = Vec::new();
    for _ in 0..3 {
        let q = r.post("/api/v1/queue", OPERATOR, body.clone()).await;
        assert_eq!(q.status, 202, "{q:?}");
        ids.push(q.json()["id"].as_u64().unwrap());
    }
    let full = r.post("/api/v1/queue", OPERATOR, body.clone()).await;
    full.assert_error(429, "queue_full");
    let msg = full.json()["message"].as_str().unwrap().to_string();
    assert!(msg.starts_with("Hàng chờ đã đầy"), "{msg}");
    assert!(msg.contains("DELETE /api/v1/queue/"), "{msg}");
    assert!(msg.contains("max_queue"), "{msg}");
    assert_eq!(r.status().await["queue_length"], 3);
    // Removing one makes room for one.
    let path = format!("/api/v1/queue/{}", ids[0]);
    let d = r.operator("DELETE", &path).await;
    assert_eq!(d.status, 200, "{d:?}");
    let q = r.post("/api/v1/queue", OPERATOR, body).await;
    assert_eq!(q.status, 202, "{q:?}");
}

#[tokio::test]
async fn the_status_shows_the_head_of_a_long_queue_and_the_list_pages() {
    let r = rig().await;
    let base = Utc::now() + Duration::hours(1);
    let mut ids = Vec::new();
    for i in 0..25 {
        let at = (base + Duration::minutes(i)).to_rfc3339();
        let q = r.queue(json!({"bulletin": "tone", "at": at})).await;
        assert_eq!(q.status, 202, "{q:?}");
        ids.push(q.json()["id"].clone());
    }
    let s = r.status().await;
    assert_eq!(s["queue_length"], 25, "{s}");
    let head = s["queue"].as_array().unwrap();
    assert_eq!(head.len(), 20, "{s}");
    assert_eq!(
        head.iter().map(|q| q["id"].clone()).collect::<Vec<_>>(),
        ids[..20]
    );

    let page = r
        .get("/api/v1/queue?offset=20&limit=10", VIEWER)
        .await
        .json();
    assert_eq!(page["queue_length"], 25, "{page}");
    assert_eq!(
        (page["offset"].clone(), page["limit"].clone()),
        (json!(20), json!(10))
    );
    let rest: Vec<Value> = page["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].clone())
        .collect();
    assert_eq!(rest, ids[20..]);
    let all = r.get("/api/v1/queue", VIEWER).await.json();
    assert_eq!(all["queue"].as_array().unwrap().len(), 25, "{all}");
    for bad in ["limit=0", "limit=501", "offset=-1", "page=2"] {
        let b = r.get(&format!("/api/v1/queue?{bad}"), VIEWER).await;
        assert_eq!(b.status, 400, "{bad}: {b:?}");
    }
}
