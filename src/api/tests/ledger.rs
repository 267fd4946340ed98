//! Reload, the ledger's answers and the audit trail.

use axum::http::header;
use serde_json::json;

use super::*;

// -- Reload, ledger, audit -----------------------------------------------------

#[tokio::test]
async fn reload_takes_a_valid_file_and_refuses_an_invalid_one() {
    let r = rig().await;
    let bad = r
        .reload_with(&station_text(
            "at = [\"25:00\"]\n[[bulletin]]\nid = \"x\"\ntitle = \"X\"\nfile = \"missing.mp3\"\n",
        ))
        .await;
    bad.assert_error(422, "invalid_station_file");
    let errors = bad.json()["errors"].as_array().unwrap().clone();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().any(|e| e.as_str().unwrap().contains("`at`")));
    assert!(errors
        .iter()
        .any(|e| e.as_str().unwrap().contains("missing.mp3")));
    // Still the old station, and the status says the file on disk is not it.
    let b = r.get("/api/v1/bulletins", VIEWER).await.json();
    assert_eq!(b["bulletins"].as_array().unwrap().len(), 2);
    let s = r.get("/api/v1/status", VIEWER).await.json();
    assert_eq!(s["station_file"]["running"], "last_good", "{s}");
    assert_eq!(s["station_file"]["errors"], 1, "{s}");
    let m = r.send(LOCAL, "GET", "/metrics", None, None).await;
    let m = String::from_utf8_lossy(&m.body);
    assert!(m.contains("loa_station_file_last_good 1"), "{m}");

    // Only an audio problem: accepted, and the failing item is named.
    let audio = r
        .reload_with(&station_text(
            "\n[[bulletin]]\nid = \"x\"\ntitle = \"X\"\nfile = \"missing.mp3\"",
        ))
        .await;
    assert_eq!(audio.status, 200, "{audio:?}");
    assert_eq!(audio.json()["failing"], json!(["x"]));
    let s = r.get("/api/v1/status", VIEWER).await.json();
    assert_eq!(
        s["station_file"],
        json!({"running": "current", "errors": 0, "failing": ["x"]})
    );
    let kept = std::fs::read_to_string(r.root.join("var").join(crate::current::LAST_GOOD));
    assert!(kept.is_ok_and(|t| t.contains("missing.mp3")));

    let new_token = "new-operator-secret";
    let ok = r
        .reload_with(
            &format!(
                "{}[[bulletin]]\nid = \"tone2\"\ntitle = \"T2\"\nfile = \"tone.wav\"\n\
             [[api.token]]\nname = \"moi\"\nrole = \"operator\"\nsha256 = \"{}\"\n",
                station_text(""),
                hex(&hash(new_token))
            )
            .replace(
                "[api]\nmax_upload_mb = 1\n",
                "[api]\nmax_upload_mb = 1\nlisten = \"127.0.0.1:1\"\n",
            ),
        )
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.json()["bulletins"], 3);
    // The new token works at once; the listen address is restart-only.
    let q = r
        .post("/api/v1/queue", new_token, json!({"bulletin": "tone2"}))
        .await;
    assert_eq!(q.status, 202, "{q:?}");
    assert_eq!(
        r.state.current.get().api.listen.to_string(),
        "127.0.0.1:8077"
    );
}

#[tokio::test]
async fn a_reload_queues_the_files_it_adds_for_loudness_measuring() {
    let r = rig().await;
    let fresh = r.audio.join("fresh.wav");
    std::fs::copy(r.audio.join("tone.wav"), &fresh).unwrap();
    let ok = r
        .reload_with(&station_text(
            "\n[[bulletin]]\nid = \"fresh\"\ntitle = \"F\"\nfile = \"fresh.wav\"",
        ))
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    // Measured in the background, without being prepared to air: bounded
    // by work (one 1 s file), not by a timer.
    let cache = crate::audio::loudness::cache(&r.state.current.get().data_dir);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while cache.lookup(&fresh).is_none() {
        assert!(std::time::Instant::now() < deadline, "never measured");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn airtime_and_report_as_json_and_csv() {
    let r = rig().await;
    r.queue(json!({"bulletin": "tone"})).await;
    r.wait_row("tone completed", |x| x.outcome.is_some()).await;

    let a = r.get("/api/v1/airtime", VIEWER).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/json");
    let rows = a.json();
    assert_eq!(rows[0]["bulletin"], "tone");
    assert_eq!(rows[0]["requested_by"], "van-hanh");
    let csv = r.get("/api/v1/airtime?format=csv", VIEWER).await;
    assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let disp = csv.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disp.starts_with("attachment; filename=\"airtime-"),
        "{disp}"
    );
    assert!(csv.body.starts_with("\u{feff}".as_bytes()));
    assert!(String::from_utf8_lossy(&csv.body).contains("van-hanh"));

    // The report counts what the airtime rows show: one play of tone,
    // completed, none in campaign cds (tone belongs to no campaign).
    let rep = r.get("/api/v1/report?campaign=cds", VIEWER).await;
    assert_eq!(rep.status, 200, "{rep:?}");
    let cds = rep.json();
    assert_eq!(cds["campaign_filter"], "cds");
    assert_eq!(cds["total"]["plays"], 0, "{cds:#}");
    let all = r.get("/api/v1/report", VIEWER).await.json();
    let total = &all["total"];
    assert_eq!(
        (total["plays"].as_u64(), total["completed"].as_u64()),
        (Some(1), Some(1)),
        "{all:#}"
    );
    let aired = rows[0]["aired_seconds"].as_f64().unwrap();
    assert!(aired > 0.5, "{rows:#}");
    assert!(
        (total["aired_seconds"].as_f64().unwrap() - aired).abs() < 0.001,
        "report {total} against the row's {aired} s"
    );
    let rep = r
        .get(
            "/api/v1/report?from=2026-10-01&to=2026-10-31&format=csv",
            VIEWER,
        )
        .await;
    assert_eq!(
        rep.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"bao-cao-2026-10-01-2026-10-31.csv\""
    );
    for (path, status, code) in [
        ("/api/v1/airtime?format=xml", 400, "bad_format"),
        ("/api/v1/airtime?campaign=ghost", 404, "unknown_campaign"),
        ("/api/v1/report?campaign=ghost", 404, "unknown_campaign"),
        (
            "/api/v1/airtime?from=2020-01-01&to=2026-01-01",
            400,
            "range_too_long",
        ),
        ("/api/v1/report?from=yesterday", 400, "bad_range"),
        (
            "/api/v1/report?from=2026-10-02&to=2026-10-01",
            400,
            "bad_range",
        ),
        ("/api/v1/airtime?limit=5", 400, "bad_query"),
    ] {
        let e = r.get(path, VIEWER).await;
        assert_eq!(
            (e.status.as_u16(), e.error().as_str()),
            (status, code),
            "{path}"
        );
    }
}

#[tokio::test]
async fn control_actions_are_audited_with_who_and_result() {
    let r = rig().await;
    r.queue(json!({"bulletin": "tone"})).await;
    r.queue(json!({"bulletin": "nope"})).await;
    r.operator("POST", "/api/v1/pause").await;
    let a = r.get("/api/v1/audit", ADMIN).await;
    assert_eq!(a.status, 200, "{a:?}");
    let rows = a.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0]["who"], "van-hanh");
    assert_eq!(rows[0]["action"], "queue");
    assert_eq!(rows[0]["detail"], "bulletin=tone");
    assert!(rows[0]["result"].as_str().unwrap().starts_with("ok: "));
    assert!(rows[1]["result"]
        .as_str()
        .unwrap()
        .starts_with("refused (unknown_bulletin)"));
    assert_eq!(rows[2]["action"], "pause");
    assert!(rows[0]["at"].as_str().unwrap().ends_with("+07:00"));
    let old = r
        .get("/api/v1/audit?from=2020-01-01&to=2020-01-02", ADMIN)
        .await;
    assert_eq!(old.json(), json!([]));
    let bad = r.get("/api/v1/audit?from=never", ADMIN).await;
    assert_eq!(bad.status, 400);
    let reversed = r
        .get("/api/v1/audit?from=2026-10-31&to=2026-10-01", ADMIN)
        .await;
    reversed.assert_error(400, "bad_range");
}

#[tokio::test]
async fn the_report_counts_what_an_operator_took_off_as_cancelled_not_as_plays() {
    let r = rig().await;
    // Three queued for later and taken off again, through the engine.
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    for _ in 0..3 {
        let q = r.queue(json!({"file": "tone.wav", "at": at})).await;
        assert_eq!(q.status, 202, "{q:?}");
        let path = format!("/api/v1/queue/{}", q.json()["id"]);
        let d = r.operator("DELETE", &path).await;
        assert_eq!(d.status, 200, "{d:?}");
    }
    for _ in 0..200 {
        if r.rows().len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let all = r.get("/api/v1/report", VIEWER).await.json();
    let t = &all["total"];
    assert_eq!(
        [&t["plays"], &t["skipped"], &t["missed"], &t["cancelled"]],
        [0, 0, 0, 3],
        "{all:#}"
    );

    // The known ledger: ten queued, seven cancelled, one missed, one
    // skipped for quiet hours, one aired.
    Ledger::open(&r.ledger, r.tz)
        .unwrap()
        .record_all(crate::ledger::test_util::ten_queued())
        .unwrap();
    let day = "from=2026-10-07&to=2026-10-07";
    let rep = r.get(&format!("/api/v1/report?{day}"), VIEWER).await.json();
    let t = &rep["total"];
    assert_eq!(
        [
            &t["plays"],
            &t["completed"],
            &t["missed"],
            &t["skipped"],
            &t["cancelled"],
            &t["failed"]
        ],
        [1, 1, 1, 1, 7, 0],
        "{rep:#}"
    );
    let csv = r
        .get(&format!("/api/v1/report?{day}&format=csv"), VIEWER)
        .await;
    let csv = String::from_utf8_lossy(&csv.body);
    assert!(
        csv.contains(",tổng cộng,,,,,1,1,0,0,1,1,7,2.00,0.00,2.00,,\r\n"),
        "{csv}"
    );
    assert!(csv.contains(",chú thích,,,Đã huỷ,"), "{csv}");
}
