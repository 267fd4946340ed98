//! Skip, pause, emergencies.

use chrono::{Duration, Utc};
use serde_json::json;

use super::*;
use crate::reason::{By, Reason};

// -- On air --------------------------------------------------------------------

#[tokio::test]
async fn skip_ends_what_airs_and_names_the_token() {
    let r = rig().await;
    let none = r.operator("POST", "/api/v1/skip").await;
    none.assert_error(409, "nothing_airing");
    r.queue(json!({"bulletin": "long"})).await;
    r.queue(json!({"bulletin": "tone"})).await;
    r.wait_status("long airs", |s| s["airing"]["bulletin"] == "long")
        .await;
    let s = r.operator("POST", "/api/v1/skip").await;
    assert_eq!(s.status, 200, "{s:?}");
    assert_eq!(s.json()["skipped"], "Thông điệp dài");
    let row = r
        .wait_row("long interrupted", |x| {
            x.bulletin == "long" && x.outcome.is_some()
        })
        .await;
    assert_eq!(row.outcome.unwrap().as_str(), "interrupted");
    assert_eq!(
        row.reason.map(|r| r.main),
        Some(Reason::SkippedBy {
            by: By::token("van-hanh")
        })
    );
    assert_eq!(row.requested_by.as_deref(), Some("van-hanh"));
    // The next item airs.
    r.wait_row("tone completed", |x| {
        x.bulletin == "tone" && x.outcome.is_some_and(|o| o.as_str() == "completed")
    })
    .await;
}

#[tokio::test]
async fn pause_skips_what_falls_due_until_resume() {
    let r = rig().await;
    let p = r.operator("POST", "/api/v1/pause").await;
    assert_eq!(p.status, 200, "{p:?}");
    assert_eq!(r.status().await["paused"], true);
    let again = r.operator("POST", "/api/v1/pause").await;
    again.assert_error(409, "already_paused");
    let q = r.queue(json!({"bulletin": "tone"})).await;
    assert_eq!(q.status, 202);
    let row = r.wait_row("tone skipped", |x| x.bulletin == "tone").await;
    assert_eq!(row.outcome.unwrap().as_str(), "skipped");
    assert_eq!(row.reason.map(|r| r.main), Some(Reason::StationPaused));
    let res = r.operator("POST", "/api/v1/resume").await;
    assert_eq!(res.status, 200);
    assert_eq!(r.status().await["paused"], false);
    let again = r.operator("POST", "/api/v1/resume").await;
    again.assert_error(409, "not_paused");
}

#[tokio::test]
async fn an_emergency_cuts_in_repeats_and_is_cancelled() {
    let r = rig().await;
    let until = (Utc::now() + Duration::hours(2)).to_rfc3339();
    for (body, code) in [
        (
            json!({"bulletin": "tone", "repeat_every": "often"}),
            "bad_duration",
        ),
        (
            json!({"bulletin": "tone", "repeat_every": "10s"}),
            "repeat_too_often",
        ),
        (
            json!({"bulletin": "tone", "repeat_every": "4294967295s"}),
            "repeat_too_rare",
        ),
        (
            json!({"bulletin": "tone", "repeat_every": "30m", "until": "2020-01-01T00:00:00Z"}),
            "time_in_past",
        ),
        (
            json!({"bulletin": "tone", "repeat_every": "30m", "until": "2030-06-30T23:59:60Z"}),
            "bad_time",
        ),
        (
            json!({"bulletin": "tone", "until": until.clone()}),
            "until_without_repeat",
        ),
        (json!({"bulletin": "nope"}), "unknown_bulletin"),
        (json!({"file": "../x.mp3"}), "bad_file_name"),
    ] {
        let e = r.post("/api/v1/emergency", OPERATOR, body.clone()).await;
        assert_eq!(e.error(), code, "{body}: {e:?}");
    }
    r.assert_quiet().await;
    let none = r.operator("DELETE", "/api/v1/emergency").await;
    none.assert_error(409, "no_emergency");

    r.queue(json!({"bulletin": "long"})).await;
    r.wait_status("long airs", |s| s["airing"]["bulletin"] == "long")
        .await;
    let e = r
        .post(
            "/api/v1/emergency",
            OPERATOR,
            json!({"bulletin": "tone", "repeat_every": "30m", "until": until}),
        )
        .await;
    assert_eq!(e.status, 202, "{e:?}");
    assert_eq!(e.json()["priority"], "emergency");
    let s = r
        .wait_status("the emergency airs", |s| s["airing"]["bulletin"] == "tone")
        .await;
    assert_eq!(s["emergency"]["repeat_every_seconds"], 1800);
    let cut = r
        .wait_row("long interrupted", |x| {
            x.bulletin == "long" && x.outcome.is_some()
        })
        .await;
    assert_eq!(cut.reason.unwrap().main.code(), "interrupted_by_emergency");
    let c = r.operator("DELETE", "/api/v1/emergency").await;
    assert_eq!(c.status, 200, "{c:?}");
    r.wait_status("no repeat", |s| s["emergency"].is_null())
        .await;
}
