//! Reading the station: status, schedule, bulletins.

use serde_json::json;

use super::*;

// -- Reading -------------------------------------------------------------------

#[tokio::test]
async fn status_shows_what_airs_the_queue_and_what_comes_next() {
    let r = rig().await;
    let s = r.status().await;
    assert_eq!(s["station"], "Xã Test");
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(s["output"]["state"], "idle");
    assert_eq!(s["paused"], false);
    assert!(s["uptime_seconds"].is_u64());
    // The daily bulletin is within the next 24 hours, whatever the time.
    let next = s["next"].as_array().unwrap();
    assert!(!next.is_empty() && next.len() <= 5, "{s}");
    assert_eq!(next[0]["id"], "long");

    let q = r.queue(json!({"bulletin": "long"})).await;
    assert_eq!(q.status, 202, "{q:?}");
    let s = r
        .wait_status("long to air", |s| s["airing"]["bulletin"] == "long")
        .await;
    let a = &s["airing"];
    assert_eq!(a["title"], "Thông điệp dài");
    assert_eq!(a["priority"], "normal");
    assert_eq!(a["source"], "operator");
    assert!((a["duration_seconds"].as_f64().unwrap() - 21.4).abs() < 0.2);
    assert!(a["position_seconds"].as_f64().unwrap() >= 0.0);
    assert!(a["started_at"].as_str().unwrap().ends_with("+07:00"));
    assert_eq!(s["output"]["state"], "open");
}

#[tokio::test]
async fn schedule_is_the_cli_plan_with_a_capped_range() {
    let r = rig().await;
    let p = r
        .get("/api/v1/schedule?from=2026-10-07&to=2026-10-08", VIEWER)
        .await;
    assert_eq!(p.status, 200, "{p:?}");
    let ats = p.field_of_each("at");
    let plan = p.json();
    let at = crate::control::test_long_at();
    assert_eq!(
        ats,
        [
            format!("2026-10-07T{at}:00.000+07:00"),
            format!("2026-10-08T{at}:00.000+07:00")
        ]
    );
    assert_eq!(plan[0]["campaign"], "cds");
    let long = r
        .get("/api/v1/schedule?from=2026-01-01&to=2027-12-31", VIEWER)
        .await;
    long.assert_error(400, "range_too_long");
    let bad = r.get("/api/v1/schedule?from=tomorrow", VIEWER).await;
    bad.assert_error(400, "bad_range");
    assert!(bad.json()["message"]
        .as_str()
        .unwrap()
        .contains("2026-10-01"));
    let back = r
        .get("/api/v1/schedule?from=2026-10-08&to=2026-10-07", VIEWER)
        .await;
    assert_eq!(back.status, 400);
    let unknown = r.get("/api/v1/schedule?form=2026-10-08", VIEWER).await;
    unknown.assert_error(400, "bad_query");
}

#[tokio::test]
async fn bulletins_list_items_and_probed_files() {
    let r = rig().await;
    std::fs::write(r.audio.join("junk.mp3"), [0x55u8; 4000]).unwrap();
    // Measured (as `loa check` or the daemon's background thread does):
    // its level and gain are listed; not measured yet: null.
    let data_dir = r.ledger.parent().unwrap();
    let level = crate::audio::loudness::cache(data_dir)
        .level(&r.audio.join("long.mp3"))
        .unwrap();
    let b = r.get("/api/v1/bulletins", VIEWER).await;
    assert_eq!(b.status, 200);
    let b = b.json();
    let long = &b["bulletins"][0];
    assert_eq!(long["id"], "long");
    assert_eq!(long["audio"]["format"], "mp3");
    assert_eq!(long["scheduled"], true);
    assert_eq!(b["bulletins"][1]["scheduled"], false);
    let lufs = long["loudness"]["lufs"].as_f64().unwrap();
    assert!((lufs - level.lufs).abs() < 1e-9, "{long}");
    let gain = long["loudness"]["gain_db"].as_f64().unwrap();
    assert!((gain - level.gain_db(-16.0)).abs() < 1e-9, "{long}");
    assert!(b["bulletins"][1]["loudness"].is_null(), "{b}");
    let files: Vec<&str> = b["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["junk.mp3", "long.mp3", "tone.wav"]);
    assert!(b["files"][0]["problem"].is_string());
    assert_eq!(b["files"][2]["audio"]["format"], "wav");
}

#[tokio::test]
async fn a_file_in_a_sub_folder_is_listed_and_can_be_queued_by_that_name() {
    let r = rig().await;
    std::fs::create_dir(r.audio.join("sub")).unwrap();
    std::fs::copy(r.audio.join("tone.wav"), r.audio.join("sub/c.wav")).unwrap();
    let b = r.get("/api/v1/bulletins", VIEWER).await.json();
    let listed = b["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["file"] == "sub/c.wav");
    assert!(listed, "{b:#}");
    let q = r.queue(json!({"file": "sub/c.wav"})).await;
    assert_eq!(q.status, 202, "{q:?}");
    let row = r
        .wait_row("sub/c.wav aired", |x| {
            x.file == "sub/c.wav" && x.outcome.is_some()
        })
        .await;
    assert_eq!(row.outcome.unwrap().as_str(), "completed");
}
