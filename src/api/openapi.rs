//! The OpenAPI 3 document, built from the route table (`super::routes`) so
//! it lists exactly the routes the router serves.

use serde_json::{json, Map, Value};

use super::{Access, Body, Method, Route};

fn status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        400 => "Bad request: malformed JSON, bad query or path parameter",
        401 => "No token, or an unknown one",
        403 => "The token's role is too low",
        404 => "Unknown bulletin, file, entry or campaign",
        409 => "Conflicts with the station's state (nothing airs, already paused, no [fleet] postgres, ...)",
        413 => "Body too large",
        415 => "Wrong content type, or not audio that can play",
        422 => "Well-formed but refused (see message)",
        429 => "The queue is full ([api] max_queue): remove waiting entries or let some air",
        503 => "The engine is not running, the speech engine could not read the text aloud (tts_failed) or is busy with other notices (tts_busy), or the province's database did not answer",
        507 => "data_dir/tts is full ([tts] cache_mb) of typed notices that wait to air (tts_cache_full), or the disk is too full for an upload or a ledger write (disk_full)",
        _ => "Error",
    }
}

fn error_ref() -> Value {
    json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } })
}

fn operation(r: &Route) -> Value {
    let mut op = Map::new();
    op.insert("summary".into(), json!(r.summary));
    op.insert(
        "operationId".into(),
        json!(format!(
            "{}{}",
            r.method.as_str().to_ascii_lowercase(),
            r.path
                .split(['/', '{', '}', '.'])
                .filter(|s| !s.is_empty())
                .map(|s| {
                    let mut c = s.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect::<String>()
        )),
    );
    let mut params: Vec<Value> = r
        .query
        .iter()
        .map(|(name, desc)| {
            json!({ "name": name, "in": "query", "required": false,
                    "description": desc, "schema": query_schema(name) })
        })
        .collect();
    for seg in r.path.split('/') {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            params.push(json!({ "name": name, "in": "path", "required": true,
                                "schema": { "type": "integer", "minimum": 0 } }));
        }
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    let mut errors: Vec<u16> = r.errors.to_vec();
    match r.body {
        Body::None => {}
        Body::Json(schema) => {
            op.insert(
                "requestBody".into(),
                json!({ "required": true, "content": { "application/json": {
                    "schema": { "$ref": format!("#/components/schemas/{schema}") } } } }),
            );
            errors.extend([400, 413, 415, 422]);
        }
        Body::Multipart => {
            op.insert(
                "requestBody".into(),
                json!({ "required": true, "content": { "multipart/form-data": { "schema": {
                    "type": "object", "required": ["file"],
                    "properties": {
                        "title": { "type": "string", "maxLength": 120,
                            "description": "The recording's title (one line; sent before the file part), shown instead of its file name" },
                        "file": { "type": "string", "format": "binary",
                        "description": "The recording (mp3, m4a/AAC-LC, flac, ogg/vorbis, wav)" } } } } } }),
            );
        }
    }
    match r.access {
        Access::Open => {
            op.insert("security".into(), json!([]));
        }
        Access::LoopbackOrMetrics => {
            op.insert("security".into(), json!([{}, { "bearer": [] }]));
            op.insert("x-loa-role".into(), json!("none on loopback, else metrics"));
            errors.extend([401, 403]);
        }
        Access::Role(role) => {
            op.insert("security".into(), json!([{ "bearer": [] }]));
            op.insert("x-loa-role".into(), json!(role.as_str()));
            errors.extend([401, 403]);
        }
    }
    let mut responses = Map::new();
    let (ok, what) = r.ok;
    let mut success = json!({ "description": format!("{}: {what}", status_text(ok)) });
    if let Some(content) = success_content(r) {
        success["content"] = content;
    }
    responses.insert(ok.to_string(), success);
    errors.sort_unstable();
    errors.dedup();
    for e in errors {
        responses.insert(
            e.to_string(),
            json!({ "description": status_text(e), "content": error_ref() }),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// What a route answers on success, where it is JSON the document
/// describes (`components.schemas`).
fn success_content(r: &Route) -> Option<Value> {
    let schema = match (r.method, r.path) {
        (Method::Get, "/api/v1/status") => json!({ "$ref": "#/components/schemas/Status" }),
        (Method::Get, "/api/v1/bulletins") => json!({ "$ref": "#/components/schemas/Bulletins" }),
        (Method::Get, "/api/v1/queue") => json!({ "$ref": "#/components/schemas/QueuePage" }),
        (Method::Post, "/api/v1/queue" | "/api/v1/emergency") => {
            json!({ "$ref": "#/components/schemas/QueuedEntry" })
        }
        (Method::Get, "/api/v1/airtime") => {
            json!({ "type": "array", "items": { "$ref": "#/components/schemas/AirtimeRow" } })
        }
        (Method::Get, "/api/v1/report") => json!({ "oneOf": [
            { "$ref": "#/components/schemas/Report" },
            { "$ref": "#/components/schemas/FleetReport" },
        ] }),
        (Method::Get, "/api/v1/schedule") => {
            json!({ "type": "array", "items": { "$ref": "#/components/schemas/PlannedOccurrence" } })
        }
        _ => return None,
    };
    let mut content = json!({ "application/json": { "schema": schema } });
    if r.query.iter().any(|(name, _)| *name == "format") {
        content["text/csv"] = json!({ "schema": { "type": "string" } });
    }
    Some(content)
}

/// An object with exactly these properties, all present.
fn closed(properties: Value) -> Value {
    let required: Vec<&String> = properties.as_object().expect("properties").keys().collect();
    json!({ "type": "object", "additionalProperties": false,
            "required": required, "properties": properties })
}

/// `schema` or null.
fn nullable(mut schema: Value) -> Value {
    if schema.get("$ref").is_some() {
        // OpenAPI 3.0 ignores the siblings of a `$ref`.
        schema = json!({ "allOf": [schema] });
    }
    schema["nullable"] = json!(true);
    schema
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The schemas of the JSON the API answers with.
fn response_schemas() -> Map<String, Value> {
    let string = || json!({ "type": "string" });
    let instant = || json!({ "type": "string", "format": "date-time" });
    let seconds = || json!({ "type": "number", "minimum": 0 });
    let count = || json!({ "type": "integer", "minimum": 0 });
    let priority = || json!({ "type": "string", "enum": ["normal", "priority", "emergency"] });
    let source = || json!({ "type": "string", "enum": ["schedule", "operator", "emergency", "relay", "province"] });
    let outcome = || {
        json!({ "type": "string",
                "enum": ["completed", "interrupted", "failed", "missed", "skipped"] })
    };
    let counts = json!({
        "plays": count(), "completed": count(), "interrupted": count(), "failed": count(),
        "missed": count(), "skipped": count(), "cancelled": count(),
        "aired_minutes": seconds(), "aired_seconds": seconds(),
        "relay_minutes": seconds(), "local_minutes": seconds(),
        "heard_minutes": nullable(json!({ "type": "number",
            "description": "minutes the loudspeaker line carried, as [monitor] heard them; null where no row had a monitor" })),
    });
    let with_counts = |more: Value| {
        let mut p = counts.as_object().expect("counts").clone();
        p.extend(more.as_object().expect("properties").clone());
        closed(Value::Object(p))
    };
    let mut s = Map::new();
    s.insert(
        "Status".into(),
        closed(json!({
            "station": string(), "timezone": string(), "now": instant(), "version": string(),
            "uptime_seconds": count(),
            "airing": nullable(schema_ref("Airing")),
            "queue": { "type": "array", "items": schema_ref("QueuedEntry"),
                       "description": "The first 20 entries in airing order" },
            "queue_length": count(),
            "next": { "type": "array", "items": schema_ref("PlannedOccurrence") },
            "output": schema_ref("Output"),
            "paused": { "type": "boolean" },
            "emergency": nullable(schema_ref("Emergency")),
            "clock_suspect": { "type": "boolean" },
            "line": nullable(closed(json!({
                "silent": { "type": "boolean", "description": "The loudspeaker line is silent though an item airs ([monitor] silence_alarm)" },
                "foreign": { "type": "boolean", "description": "The line carries sound though nothing airs (30 s)" },
            }))),
            "station_file": schema_ref("StationFile"),
            "fleet": nullable(schema_ref("FleetShipping")),
            "upstream": nullable(schema_ref("Upstream")),
            "tts_cache": schema_ref("TtsCache"),
        })),
    );
    s.insert(
        "Upstream".into(),
        closed(json!({
            "connected": { "type": "boolean",
                           "description": "Connected to the province's broker ([upstream])" },
            "last_message_at": nullable(instant()),
            "refused": { "type": "integer", "minimum": 0,
                         "description": "Bulletins refused (unsigned, unknown key, altered, expired, seen) since the daemon started" },
        })),
    );
    s.insert(
        "TtsCache".into(),
        closed(json!({
            "bytes": { "type": "integer", "minimum": 0,
                       "description": "Bytes of typed notices kept in data_dir/tts" },
            "cap_bytes": { "type": "integer", "minimum": 0,
                           "description": "The most it may hold ([tts] cache_mb)" },
            "evictions": { "type": "integer", "minimum": 0,
                           "description": "Notices removed to keep it under its cap since the daemon started" },
        })),
    );
    s.insert(
        "FleetShipping".into(),
        closed(json!({
            "station_id": string(),
            "rows_waiting": { "type": "integer", "minimum": 0, "nullable": true,
                              "description": "Closed ledger rows not yet in the province's database (null until counted)" },
            "last_shipped_at": nullable(instant()),
            "failures": count(),
            "last_error": nullable(string()),
        })),
    );
    s.insert(
        "StationFile".into(),
        closed(json!({
            "running": { "type": "string", "enum": ["current", "last_good"] },
            "errors": count(),
            "failing": { "type": "array", "items": string(),
                         "description": "Bulletins whose audio is missing or broken" },
        })),
    );
    s.insert(
        "QueuePage".into(),
        closed(json!({
            "queue_length": count(), "offset": count(), "limit": count(),
            "queue": { "type": "array", "items": schema_ref("QueuedEntry") },
        })),
    );
    s.insert(
        "Airing".into(),
        closed(json!({
            "occurrence": string(), "bulletin": string(), "title": string(),
            "program": nullable(string()), "priority": priority(), "source": source(),
            "started_at": instant(), "position_seconds": seconds(), "duration_seconds": seconds(),
        })),
    );
    s.insert(
        "QueuedEntry".into(),
        closed(json!({
            "id": count(), "occurrence": string(), "bulletin": string(), "title": string(),
            "priority": priority(), "source": source(), "at": instant(),
            "planned_seconds": seconds(), "requested_by": nullable(string()),
        })),
    );
    s.insert(
        "Emergency".into(),
        closed(json!({
            "bulletin": string(), "title": string(), "repeat_every_seconds": count(),
            "until": nullable(instant()), "next_at": instant(),
        })),
    );
    s.insert(
        "Output".into(),
        json!({
            "type": "object", "additionalProperties": false, "required": ["state"],
            "properties": {
                "state": { "type": "string", "enum": ["open", "idle", "failed"] },
                "reason": { "type": "string", "description": "Why, when failed (English)" },
                "reason_code": { "type": "string",
                    "description": "its code, e.g. device_failed, output_stalled" },
                "reason_args": { "type": "object", "description": "its arguments" },
            },
        }),
    );
    s.insert(
        "PlannedOccurrence".into(),
        json!({
            "type": "object", "additionalProperties": false,
            "required": ["at", "kind", "id", "title", "priority", "campaign", "planned_seconds"],
            "properties": {
                "at": instant(),
                "kind": { "type": "string", "enum": ["bulletin", "program", "relay"] },
                "source": { "type": "string",
                            "description": "A relay's stream address, or input:DEVICE" },
                "id": string(), "title": string(), "priority": priority(),
                "campaign": nullable(string()), "planned_seconds": seconds(),
                "items": { "type": "array",
                    "description": "A programme's bulletins and relays, in order",
                    "items": {
                        "type": "object", "additionalProperties": false,
                        "required": ["id", "title", "campaign", "planned_seconds"],
                        "properties": {
                            "id": string(), "title": string(), "campaign": nullable(string()),
                            "planned_seconds": seconds(),
                            "kind": { "type": "string", "enum": ["relay"],
                                      "description": "Present for a relay" },
                            "source": string(),
                        },
                    } },
            },
        }),
    );
    s.insert(
        "AudioInfo".into(),
        closed(json!({
            "format": string(), "codec": string(), "channels": count(),
            "sample_rate": count(), "seconds": seconds(),
            "bitrate_kbps": nullable(count()),
        })),
    );
    s.insert(
        "Bulletins".into(),
        closed(json!({
            "bulletins": { "type": "array", "items": closed(json!({
                "id": string(), "title": string(), "file": string(),
                "campaign": nullable(string()), "priority": priority(),
                "enabled": { "type": "boolean" }, "scheduled": { "type": "boolean" },
                "audio": nullable(schema_ref("AudioInfo")),
                "loudness": nullable(closed(json!({
                    "lufs": nullable(json!({ "type": "number",
                        "description": "EBU R128 integrated loudness; null for silence" })),
                    "true_peak_dbtp": nullable(json!({ "type": "number" })),
                    "gain_db": { "type": "number",
                        "description": "Gain it airs with ([output] loudness_lufs); 0 when levelling is off" },
                }))),
            })) },
            "programs": { "type": "array", "items": closed(json!({
                "id": string(), "title": string(), "priority": priority(),
                "enabled": { "type": "boolean" },
                "items": { "type": "array", "items": string() },
            })) },
            "relays": { "type": "array", "items": closed(json!({
                "id": string(), "title": string(),
                "source": { "type": "string", "description": "Stream address, or input:DEVICE" },
                "duration_seconds": count(), "fallback": nullable(string()),
                "campaign": nullable(string()), "priority": priority(),
                "enabled": { "type": "boolean" }, "scheduled": { "type": "boolean" },
            })) },
            "files": { "type": "array", "items": closed(json!({
                "file": string(), "bytes": count(),
                "audio": nullable(schema_ref("AudioInfo")),
                "problem": nullable(string()),
            })) },
        })),
    );
    s.insert(
        "AirtimeRow".into(),
        closed(json!({
            "id": count(), "occurrence": string(), "bulletin": string(), "title": string(),
            "campaign": nullable(string()), "program": nullable(string()),
            "priority": priority(), "source": source(), "file": string(),
            "scheduled_at": instant(), "started_at": nullable(instant()),
            "ended_at": nullable(instant()), "planned_seconds": seconds(),
            "aired_seconds": seconds(),
            "heard_seconds": nullable(json!({ "type": "number",
                "description": "seconds the loudspeaker line carried, as [monitor] heard them; null without a monitor, and for a few seconds after the row closes (up to a minute after a start) until the monitor's verdicts are final" })),
            "outcome": nullable(json!({ "allOf": [outcome()],
                "description": "null while the row still airs" })),
            "reason": nullable(json!({ "type": "string",
                "description": "every reason in English (as before version 5 of the ledger)" })),
            "reason_vi": nullable(json!({ "type": "string",
                "description": "every reason in Vietnamese, from the catalogue" })),
            "reason_code": nullable(json!({ "type": "string",
                "description": "the main reason's stable code, e.g. interrupted_by_emergency, \
                                quiet_hours, skipped_by, device_failed; free for old text" })),
            "reason_args": nullable(json!({ "type": "object",
                "description": "the main reason's arguments, e.g. {\"bulletin\", \"title\"}" })),
            "reason_details": { "type": "array",
                "description": "further reasons (a relay's drops, fallback, silence)",
                "items": closed(json!({ "code": string(),
                    "args": { "type": "object" }, "text": string() })) },
            "requested_by": nullable(string()),
        })),
    );
    s.insert(
        "Report".into(),
        closed(json!({
            "from": nullable(instant()), "to": nullable(instant()),
            "campaign_filter": nullable(string()),
            "campaigns": { "type": "array", "items": with_counts(json!({
                "campaign": nullable(string()), "title": string(),
                "target_minutes": nullable(seconds()), "percent_of_target": nullable(seconds()),
                "bulletins": { "type": "array", "items": with_counts(json!({
                    "bulletin": string(), "title": string() })) },
            })) },
            "total": closed(counts.clone()),
        })),
    );
    // `scope=province`: each station's report (as its own), then the total.
    s.insert(
        "FleetReportPart".into(),
        closed(json!({
            "station_id": nullable(string()), "name": string(),
            "report": schema_ref("Report"),
            "by_source": { "type": "object", "additionalProperties": closed(counts.clone()) },
            "not_aired": { "type": "array", "items": closed(json!({
                "outcome": { "type": "string",
                    "enum": ["interrupted", "failed", "missed", "skipped", "cancelled"] },
                "reason": string(), "reason_vi": string(),
                "reason_code": nullable(string()),
                "reason_args": nullable(json!({ "type": "object" })),
                "count": count() })) },
        })),
    );
    s.insert(
        "FleetReport".into(),
        closed(json!({
            "stations": { "type": "array", "items": schema_ref("FleetReportPart") },
            "total": schema_ref("FleetReportPart"),
        })),
    );
    s
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in super::routes() {
        let item = paths
            .entry(r.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        let key = match r.method {
            Method::Get => "get",
            Method::Post => "post",
            Method::Delete => "delete",
        };
        item[key] = operation(&r);
    }
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "loa control API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Control a commune radio station run by `loa run`. Tokens are declared \
                in the station file ([[api.token]], stored as SHA-256) and made with \
                `loa token new NAME ROLE`; roles: viewer < operator < admin.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": {
                    "type": "object", "required": ["error", "message"],
                    "properties": {
                        "error": { "type": "string", "description": "English snake_case code" },
                        "message": { "type": "string", "description": "Vietnamese, then English: what was wrong and what to do" },
                        "errors": { "type": "array", "items": { "type": "string" },
                                    "description": "Every problem, when there are several" },
                    },
                },
                "QueueRequest": {
                    "type": "object", "additionalProperties": false,
                    "properties": {
                        "bulletin": { "type": "string", "description": "A bulletin id (give one of bulletin, file, text)" },
                        "file": { "type": "string", "description": "A file name directly inside audio_dir" },
                        "text": { "type": "string", "minLength": 1, "maxLength": crate::config::MAX_TTS_CHARS,
                                  "description": "A notice read aloud by the station's speech engine ([tts]); numbers, dates and times are read the Vietnamese way" },
                        "priority": { "type": "string", "enum": ["normal", "priority"] },
                        "at": { "type": "string", "format": "date-time", "description": "Default: now" },
                    },
                },
                "EmergencyRequest": {
                    "type": "object", "additionalProperties": false,
                    "properties": {
                        "bulletin": { "type": "string" },
                        "file": { "type": "string" },
                        "text": { "type": "string", "minLength": 1, "maxLength": crate::config::MAX_TTS_CHARS,
                                  "description": "A notice read aloud at once by the station's speech engine" },
                        "repeat_every": { "type": "string", "example": "30m", "description": "At least 1m" },
                        "until": { "type": "string", "format": "date-time" },
                    },
                },
            },
        },
    });
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("schemas");
    schemas.extend(response_schemas());
    doc
}

/// What a query parameter accepts, as precisely as the handlers check it.
fn query_schema(name: &str) -> Value {
    match name {
        // A local date, or an RFC 3339 instant.
        "from" | "to" => json!({ "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?$" }),
        "format" => json!({ "type": "string", "enum": ["json", "csv"] }),
        "scope" => json!({ "type": "string", "enum": ["station", "province"] }),
        "campaign" => json!({ "type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$" }),
        "broadcast" => {
            json!({ "type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$" })
        }
        "offset" => json!({ "type": "integer", "minimum": 0 }),
        "limit" => json!({ "type": "integer", "minimum": 1, "maximum": 500 }),
        _ => json!({ "type": "string" }),
    }
}
