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
        409 => "Conflicts with the station's state (nothing airs, already paused, ...)",
        413 => "Body too large",
        415 => "Wrong content type, or not audio that can play",
        422 => "Well-formed but refused (see message)",
        429 => "The queue is full ([api] max_queue): remove waiting entries or let some air",
        503 => "The engine is not running",
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
                    "properties": { "file": { "type": "string", "format": "binary",
                        "description": "The recording (mp3, m4a/AAC-LC, flac, ogg/vorbis, wav)" } } } } } }),
            );
        }
    }
    match r.access {
        Access::Open => {
            op.insert("security".into(), json!([]));
        }
        Access::LoopbackOrViewer => {
            op.insert("security".into(), json!([{}, { "bearer": [] }]));
            op.insert("x-loa-role".into(), json!("none on loopback, else viewer"));
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
    responses.insert(
        ok.to_string(),
        json!({ "description": format!("{}: {what}", status_text(ok)) }),
    );
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
    json!({
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
                        "bulletin": { "type": "string", "description": "A bulletin id (give this or file)" },
                        "file": { "type": "string", "description": "A file name directly inside audio_dir" },
                        "priority": { "type": "string", "enum": ["normal", "priority"] },
                        "at": { "type": "string", "format": "date-time", "description": "Default: now" },
                    },
                },
                "EmergencyRequest": {
                    "type": "object", "additionalProperties": false,
                    "properties": {
                        "bulletin": { "type": "string" },
                        "file": { "type": "string" },
                        "repeat_every": { "type": "string", "example": "30m", "description": "At least 1m" },
                        "until": { "type": "string", "format": "date-time" },
                    },
                },
            },
        },
    })
}

/// What a query parameter accepts, as precisely as the handlers check it.
fn query_schema(name: &str) -> Value {
    match name {
        // A local date, or an RFC 3339 instant.
        "from" | "to" => json!({ "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?$" }),
        "format" => json!({ "type": "string", "enum": ["json", "csv"] }),
        "campaign" => json!({ "type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$" }),
        "offset" => json!({ "type": "integer", "minimum": 0 }),
        "limit" => json!({ "type": "integer", "minimum": 1, "maximum": 500 }),
        _ => json!({ "type": "string" }),
    }
}
