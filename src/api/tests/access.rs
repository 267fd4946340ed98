//! Routes, access and the OpenAPI document against the standard and the real answers.

use axum::http::{header, StatusCode};
use chrono::{Duration, Utc};
use serde_json::{json, Value};

use super::*;

// -- Routes and access ---------------------------------------------------------

#[tokio::test]
async fn every_route_is_in_the_openapi_document_and_served() {
    let r = rig().await;
    let doc = r
        .send(REMOTE, "GET", "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let mut documented = 0;
    for (_, item) in doc["paths"].as_object().unwrap() {
        documented += item.as_object().unwrap().len();
    }
    let table = routes();
    assert_eq!(documented, table.len());
    for route in &table {
        let m = route.method.as_str().to_ascii_lowercase();
        let op = &doc["paths"][route.path][&m];
        assert!(op.is_object(), "{} {} missing", m, route.path);
        assert!(op["responses"].is_object());
        // Served: whatever the guard says, it is not the fallback's 404.
        let path = route.path.replace("{id}", "1");
        let reply = r
            .send(REMOTE, route.method.as_str(), &path, None, None)
            .await;
        assert_ne!(reply.error(), "no_route", "{} {}", m, route.path);
        if matches!(route.access, Access::Role(_)) {
            assert!(op["responses"]["401"].is_object());
        }
    }
    let none = r.get("/api/v1/nope", ADMIN).await;
    assert_eq!(
        (none.status, none.error().as_str()),
        (StatusCode::NOT_FOUND, "no_route")
    );
    let wrong = r
        .send(LOCAL, "PUT", "/api/v1/status", Some(ADMIN), None)
        .await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.error(), "method_not_allowed");
}

#[tokio::test]
async fn each_role_boundary_is_enforced() {
    let r = rig().await;
    for route in routes() {
        let path = route.path.replace("{id}", "1");
        let m = route.method.as_str();
        let Access::Role(needed) = route.access else {
            continue;
        };
        // No token, a wrong one, a malformed header: 401, nothing runs.
        let none = r.send(REMOTE, m, &path, None, None).await;
        assert_eq!(none.status, 401, "{m} {path}: {none:?}");
        assert_eq!(none.error(), "unauthorized");
        assert_eq!(none.headers[header::WWW_AUTHENTICATE], "Bearer");
        let wrong = r.send(LOCAL, m, &path, Some("guess"), None).await;
        assert_eq!(wrong.status, 401, "{m} {path}");
        // Just below the role needed: 403.
        let below = match needed {
            Role::Metrics => None,
            Role::Viewer => Some(METRICS),
            // No API route needs it (tokens are never province).
            Role::Province => unreachable!("{m} {path} needs the province role"),
            Role::Operator => Some(VIEWER),
            Role::Admin => Some(OPERATOR),
        };
        if let Some(t) = below {
            let reply = r.send(LOCAL, m, &path, Some(t), None).await;
            assert_eq!(reply.status, 403, "{m} {path}: {reply:?}");
            assert_eq!(reply.error(), "forbidden");
        }
    }
    // Role 403s changed nothing on air.
    r.assert_quiet().await;
    assert!(!r.status().await["paused"].as_bool().unwrap());
    // A header that is not `Bearer ...`.
    let mut req = Request::builder()
        .uri("/api/v1/status")
        .header(header::AUTHORIZATION, format!("Basic {VIEWER}"))
        .body(HttpBody::empty())
        .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(SocketAddr::from((LOCAL, 1))));
    let resp = r.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn healthz_is_open_and_metrics_open_on_loopback_only() {
    let r = rig().await;
    let h = r.send(REMOTE, "GET", "/healthz", None, None).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["ok"], true);

    let local = r.send(LOCAL, "GET", "/metrics", None, None).await;
    assert_eq!(local.status, 200);
    assert!(local.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(String::from_utf8_lossy(&local.body).contains("loa_items_total"));
    let remote = r.send(REMOTE, "GET", "/metrics", None, None).await;
    assert_eq!(remote.status, 401);
    let remote = r.send(REMOTE, "GET", "/metrics", Some("wrong"), None).await;
    assert_eq!(remote.status, 401);
    let remote = r.send(REMOTE, "GET", "/metrics", Some(VIEWER), None).await;
    assert_eq!(remote.status, 200);
    // A province's Prometheus holds a `metrics` token: it reads /metrics
    // from elsewhere, and nothing else.
    let remote = r.send(REMOTE, "GET", "/metrics", Some(METRICS), None).await;
    assert_eq!(remote.status, 200);
    assert!(String::from_utf8_lossy(&remote.body).contains("loa_station_info{"));
    let status = r
        .send(REMOTE, "GET", "/api/v1/status", Some(METRICS), None)
        .await;
    assert_eq!(status.status, 403);
}

// -- The OpenAPI document against the standard and the real answers ----------

/// The official OpenAPI 3.0 schema (tests/fixtures, Apache-2.0).
fn openapi_meta_schema() -> Value {
    let text = std::fs::read_to_string(fixture("tests/fixtures/openapi-3.0-schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// OpenAPI 3.0's `nullable: true` as JSON Schema says it (`type` also
/// allows null), so a JSON Schema validator reads the document's schemas
/// as OpenAPI means them.
fn as_json_schema(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out: serde_json::Map<String, Value> = m
                .iter()
                .filter(|(k, _)| k.as_str() != "nullable")
                .map(|(k, v)| (k.clone(), as_json_schema(v)))
                .collect();
            if m.get("nullable") == Some(&Value::Bool(true)) {
                match out.get("type").cloned() {
                    Some(Value::String(t)) => {
                        out.insert("type".into(), json!([t, "null"]));
                    }
                    _ => {
                        // A `$ref` or `enum` alone: null or that.
                        let inner = Value::Object(out);
                        return json!({ "anyOf": [{ "type": "null" }, inner] });
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(as_json_schema).collect()),
        other => other.clone(),
    }
}

/// Check `reply` against what `doc` says `method path` answers with its
/// status: the status is documented, and a JSON body fits its schema.
fn check_against_document(doc: &Value, method: &str, path: &str, reply: &Reply) {
    let op = &doc["paths"][path][method.to_ascii_lowercase()];
    assert!(op.is_object(), "{method} {path} is not documented");
    let code = reply.status.as_u16().to_string();
    let response = &op["responses"][&code];
    assert!(
        response.is_object(),
        "{method} {path} answered {code}, which the document does not list: {reply:?}"
    );
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {code}: the document gives no JSON schema"
    );
    let mut root = as_json_schema(schema);
    root["components"] = as_json_schema(&doc["components"]);
    let validator = jsonschema::draft4::new(&root).unwrap();
    let body = reply.json();
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {code} does not fit its schema: {errors:#?}\n{body:#}"
    );
}

#[tokio::test]
async fn the_openapi_document_is_valid_openapi_3_0() {
    let r = rig().await;
    let doc = r.get("/api/v1/openapi.json", VIEWER).await.json();
    let meta = jsonschema::draft4::new(&openapi_meta_schema()).unwrap();
    let errors: Vec<String> = meta
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[tokio::test]
async fn real_answers_fit_the_documented_schemas() {
    let r = rig().await;
    let doc = r.get("/api/v1/openapi.json", VIEWER).await.json();
    // Idle: nothing airs, nothing waits, nothing in the ledger.
    let reads = [
        "/api/v1/status",
        "/api/v1/bulletins",
        "/api/v1/queue",
        "/api/v1/airtime",
        "/api/v1/report",
    ];
    let check_reads = || async {
        for path in reads {
            let reply = r.get(path, VIEWER).await;
            assert_eq!(reply.status, 200, "{path}: {reply:?}");
            check_against_document(&doc, "GET", path, &reply);
        }
    };
    check_reads().await;
    // Busy: one item airs, one waits, an earlier one is in the ledger.
    let q = r.queue(json!({"bulletin": "tone"})).await;
    check_against_document(&doc, "POST", "/api/v1/queue", &q);
    r.wait_row("tone completed", |x| x.outcome.is_some()).await;
    r.queue(json!({"bulletin": "long"})).await;
    let later = (Utc::now() + Duration::hours(1)).to_rfc3339();
    r.queue(json!({"bulletin": "tone", "at": later})).await;
    let s = r
        .wait_status("long to air, tone waiting", |s| {
            s["airing"]["bulletin"] == "long" && s["queue"][0]["bulletin"] == "tone"
        })
        .await;
    assert!(s["next"].as_array().is_some_and(|n| !n.is_empty()), "{s}");
    check_reads().await;
    // Error bodies.
    let cases = [
        (
            r.send(REMOTE, "GET", "/api/v1/status", None, None).await,
            "GET",
            "/api/v1/status",
            401,
        ),
        (
            r.queue(json!({"bulletin": "ghost"})).await,
            "POST",
            "/api/v1/queue",
            404,
        ),
        (
            r.queue(json!({"bulletin": "tone", "file": "tone.wav"}))
                .await,
            "POST",
            "/api/v1/queue",
            422,
        ),
        (
            r.operator("DELETE", "/api/v1/queue/999").await,
            "DELETE",
            "/api/v1/queue/{id}",
            404,
        ),
    ];
    let viewer = [
        ("/api/v1/audit", "/api/v1/audit", 403),
        ("/api/v1/airtime?format=xml", "/api/v1/airtime", 400),
        ("/api/v1/report?campaign=ghost", "/api/v1/report", 404),
        // No [fleet] postgres here: the province's report says what to set.
        ("/api/v1/report?scope=province", "/api/v1/report", 409),
    ];
    for (uri, path, status) in viewer {
        let reply = r.get(uri, VIEWER).await;
        assert_eq!(reply.status.as_u16(), status, "GET {uri}: {reply:?}");
        check_against_document(&doc, "GET", path, &reply);
    }
    for (reply, method, path, status) in cases {
        assert_eq!(reply.status.as_u16(), status, "{method} {path}: {reply:?}");
        check_against_document(&doc, method, path, &reply);
    }
}

#[tokio::test]
async fn the_province_scope_needs_fleet_postgres_and_says_so() {
    let r = rig().await;
    let no = r.get("/api/v1/report?scope=province", VIEWER).await;
    assert_eq!(no.status, 409, "{no:?}");
    let msg = no.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(msg.contains("[fleet]") && msg.contains("postgres"), "{msg}");
    let bad = r.get("/api/v1/report?scope=district", VIEWER).await;
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(
        r.get("/api/v1/status", VIEWER).await.json()["fleet"],
        Value::Null
    );

    // Set, but nothing answers there: 503 with the database's words, and
    // the status carries the (not yet counted) copy's progress.
    let r = rig_with(&station_text(
        "[fleet]\nstation_id = \"31234\"\npostgres = \"host=127.0.0.1 port=9 user=loa connect_timeout=2\"\n",
    ))
    .await;
    let doc = r.get("/api/v1/openapi.json", VIEWER).await.json();
    let down = r.get("/api/v1/report?scope=province", VIEWER).await;
    assert_eq!(down.status, 503, "{down:?}");
    check_against_document(&doc, "GET", "/api/v1/report", &down);
    assert!(
        down.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("province's database")),
        "{down:?}"
    );
    let st = r.get("/api/v1/status", VIEWER).await;
    check_against_document(&doc, "GET", "/api/v1/status", &st);
    assert_eq!(st.json()["fleet"]["station_id"], "31234", "{st:?}");
    assert_eq!(st.json()["fleet"]["failures"], 0, "{st:?}");
}

#[tokio::test]
async fn relays_are_listed_and_planned_as_documented() {
    let r = rig_with(&station_text(
        r#"[[relay]]
id = "vov1"
title = "Tiếp âm VOV1"
url = "http://127.0.0.1:9/vov1.mp3"
duration = "30m"
fallback = "tone"
campaign = "cds"
at = ["05:00"]
[[program]]
id = "sang"
title = "Buổi sáng"
at = ["07:00"]
items = ["tone", "vov1"]
"#,
    ))
    .await;
    let doc = r.get("/api/v1/openapi.json", VIEWER).await.json();
    let b = r.get("/api/v1/bulletins", VIEWER).await;
    check_against_document(&doc, "GET", "/api/v1/bulletins", &b);
    let relay = &b.json()["relays"][0];
    assert_eq!(relay["source"], "http://127.0.0.1:9/vov1.mp3");
    assert_eq!(relay["duration_seconds"], 1800);
    assert_eq!(relay["fallback"], "tone");
    let day = Utc::now().with_timezone(&r.tz).date_naive() + chrono::Days::new(1);
    let plan = r
        .get(&format!("/api/v1/schedule?from={day}&to={day}"), VIEWER)
        .await;
    check_against_document(&doc, "GET", "/api/v1/schedule", &plan);
    let kinds = plan.field_of_each("kind");
    let plan = plan.json();
    assert!(kinds.iter().any(|k| k == "relay"), "{plan:#}");
    let sang = plan
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "sang")
        .unwrap();
    assert_eq!(sang["items"][1]["kind"], "relay");
    assert_eq!(sang["planned_seconds"], 1801.0);
}

#[tokio::test]
async fn a_typed_notice_is_read_aloud_queued_and_sent_as_an_emergency() {
    let r = rig().await;
    let doc = r.get("/api/v1/openapi.json", VIEWER).await.json();
    let text = "Kính thưa bà con, 17:30 ngày 10/10 họp tổ dân phố.";
    let q = r.queue(json!({ "text": text })).await;
    assert_eq!(q.status, 202, "{q:?}");
    check_against_document(&doc, "POST", "/api/v1/queue", &q);
    let file = q.json()["bulletin"].as_str().unwrap().to_string();
    assert_eq!(q.json()["title"], text);
    assert!(file.starts_with("tts/") && file.ends_with(".wav"), "{file}");
    let row = r
        .wait_row("the notice aired", |x| x.outcome.is_some())
        .await;
    assert_eq!(
        row.outcome,
        Some(crate::ledger::Outcome::Completed),
        "{row:?}"
    );
    assert_eq!(row.file, file);
    assert!(row.planned_seconds > 1.0, "{row:?}");
    // The same words as an emergency: read from the cache, same file.
    // A render replaces the file: a cache hit keeps the same one (its
    // modification time is renewed: it marks the last use).
    use std::os::unix::fs::MetadataExt;
    let cached = r.root.join("var").join(&file);
    let rendered = std::fs::metadata(&cached).unwrap().ino();
    let e = r
        .post("/api/v1/emergency", OPERATOR, json!({ "text": text }))
        .await;
    assert_eq!(e.status, 202, "{e:?}");
    check_against_document(&doc, "POST", "/api/v1/emergency", &e);
    assert_eq!(e.json()["bulletin"], file.as_str());
    assert_eq!(e.json()["priority"], "emergency");
    assert_eq!(
        std::fs::metadata(&cached).unwrap().ino(),
        rendered,
        "a cache hit renders nothing"
    );
    // Refused: empty, or with another target.
    for body in [
        json!({ "text": "  " }),
        json!({ "text": "x", "bulletin": "tone" }),
    ] {
        let bad = r.post("/api/v1/queue", OPERATOR, body).await;
        assert_eq!(bad.status, 422, "{bad:?}");
        check_against_document(&doc, "POST", "/api/v1/queue", &bad);
    }
}

#[tokio::test]
async fn a_speech_engine_that_hangs_is_a_clear_503_and_the_station_goes_on() {
    let text = station_text(
        "[[bulletin]]\nid = \"hop\"\ntitle = \"Họp\"\ntext = \"Họp tổ dân phố lúc 17:30\"\n",
    )
    .replace(
        "[api]",
        "[tts]\ncommand = [\"sh\", \"-c\", \"exec sleep 60\", \"{out}\"]\ntimeout = \"1s\"\n[api]",
    );
    let r = rig_with(&text).await;
    let doc = r.get("/api/v1/openapi.json", VIEWER).await.json();
    let e = r
        .post("/api/v1/emergency", OPERATOR, json!({ "text": "Bão số 3" }))
        .await;
    assert_eq!(e.status, 503, "{e:?}");
    check_against_document(&doc, "POST", "/api/v1/emergency", &e);
    assert_eq!(e.json()["error"], "tts_failed");
    // A typed bulletin not read aloud yet is listed like the others.
    let b = r.get("/api/v1/bulletins", VIEWER).await;
    assert_eq!(b.status, 200, "{b:?}");
    check_against_document(&doc, "GET", "/api/v1/bulletins", &b);
    let message = e.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("did not finish within 1s"), "{message}");
    // A recording still airs.
    let q = r.queue(json!({"bulletin": "tone"})).await;
    assert_eq!(q.status, 202, "{q:?}");
    let row = r.wait_row("tone aired", |x| x.outcome.is_some()).await;
    assert_eq!(row.outcome, Some(crate::ledger::Outcome::Completed));
}
