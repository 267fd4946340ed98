//! Ledgers that older loa releases wrote, migrated by today's loa.
//!
//! `tests/fixtures/ledgers/vN.db` is a ledger a real loa of schema version N
//! made while it aired (see the README there: which commit, which station
//! file, how). Each test copies the frozen files, never changes them, and
//! reads what they held with rusqlite, not through `loa::ledger`, so a
//! migration that loses, changes or misreads an old row fails here — and so
//! does an edit of a released entry of `MIGRATIONS`: the old files were not
//! made by today's migrations, so their migrated schema no longer matches a
//! fresh ledger's.
//!
//! The tests hold for any `SCHEMA_VERSION` from 4 on: they compare with
//! `SCHEMA_VERSION`, and the columns a later version may re-encode (reason
//! and audit texts, turned into codes) are compared loosely.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use loa::config::{Priority, Role};
use loa::ledger::{
    Airing, Filter, Ledger, LedgerError, Outcome, Queued, SessionRow, Source, APPLICATION_ID,
    SCHEMA_VERSION,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

use common::{free_port, Daemon};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// Every schema version with a frozen ledger.
const VERSIONS: [i64; 7] = [0, 1, 2, 3, 4, 6, 7];

/// Columns that a later migration may rewrite (reason and audit texts kept
/// as codes, issue 18): a value there must stay, not necessarily verbatim.
const RECODED: [(&str, &str); 4] = [
    ("airtime", "reason"),
    ("audit", "action"),
    ("audit", "detail"),
    ("audit", "result"),
];

fn fixture(version: i64) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/ledgers/v{version}.db"))
}

/// A station in a temporary directory whose ledger (`var/airtime.db`) is a
/// copy of the version's fixture: (directory, station file, ledger).
fn station_with(version: i64) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("var")).unwrap();
    std::fs::create_dir_all(dir.path().join("audio")).unwrap();
    let db = dir.path().join("var/airtime.db");
    std::fs::copy(fixture(version), &db).unwrap();
    let config = dir.path().join("station.toml");
    let addr = format!("127.0.0.1:{}", free_port());
    std::fs::write(
        &config,
        format!(
            "[station]\nname = \"Xã Thử\"\ntimezone = \"Asia/Ho_Chi_Minh\"\naudio_dir = \"audio\"\n\
             data_dir = \"var\"\n[output]\nkind = \"null\"\n[api]\nlisten = \"{addr}\"\n"
        ),
    )
    .unwrap();
    (dir, config, db)
}

/// (type, name, table, sql) of a schema object, as `sqlite_master` has it.
type SchemaEntry = (String, String, String, Option<String>);

/// One table as stored: its columns, and its rows by primary key (the
/// key's values, printed).
#[derive(Debug, Clone, PartialEq)]
struct Table {
    columns: Vec<String>,
    rows: BTreeMap<String, BTreeMap<String, Value>>,
}

/// A ledger file as SQLite holds it, read with rusqlite alone.
#[derive(Debug, Clone)]
struct Snapshot {
    user_version: i64,
    application_id: i64,
    tables: BTreeMap<String, Table>,
    schema: Vec<SchemaEntry>,
}

impl Snapshot {
    fn read(path: &Path) -> Snapshot {
        let c = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
        let pragma =
            |name: &str| -> i64 { c.pragma_query_value(None, name, |r| r.get(0)).unwrap() };
        let schema: Vec<SchemaEntry> = c
            .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let tables = schema
            .iter()
            .filter(|(kind, name, ..)| kind == "table" && !name.starts_with("sqlite_"))
            .map(|(_, name, ..)| (name.clone(), read_table(&c, name)))
            .collect();
        Snapshot {
            user_version: pragma("user_version"),
            application_id: pragma("application_id"),
            tables,
            schema,
        }
    }

    fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    /// The `airtime` rows, by id text; none before version 1.
    fn airtime(&self) -> Vec<&BTreeMap<String, Value>> {
        self.table("airtime")
            .map(|t| t.rows.values().collect())
            .unwrap_or_default()
    }
}

fn read_table(c: &Connection, name: &str) -> Table {
    let info: Vec<(String, i64)> = c
        .prepare(&format!("PRAGMA table_info(\"{name}\")"))
        .unwrap()
        .query_map([], |r| Ok((r.get(1)?, r.get(5)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let columns: Vec<String> = info.iter().map(|(c, _)| c.clone()).collect();
    let key: Vec<usize> = (0..info.len()).filter(|&i| info[i].1 > 0).collect();
    assert!(!key.is_empty(), "table {name} has no primary key");
    let mut stmt = c.prepare(&format!("SELECT * FROM \"{name}\"")).unwrap();
    let rows = stmt
        .query_map([], |r| {
            let values: Vec<Value> = (0..columns.len())
                .map(|i| r.get(i))
                .collect::<rusqlite::Result<_>>()?;
            let k = key.iter().map(|&i| format!("{:?}", values[i])).collect();
            Ok((k, columns.iter().cloned().zip(values).collect()))
        })
        .unwrap()
        .collect::<rusqlite::Result<Vec<(Vec<String>, _)>>>()
        .unwrap();
    Table {
        columns: columns.clone(),
        rows: rows.into_iter().map(|(k, v)| (k.join("|"), v)).collect(),
    }
}

fn text(v: &Value) -> Option<&str> {
    match v {
        Value::Text(s) => Some(s),
        _ => None,
    }
}

fn real(v: &Value) -> f64 {
    match v {
        Value::Real(x) => *x,
        Value::Integer(n) => *n as f64,
        other => panic!("not a number: {other:?}"),
    }
}

/// Whether a row had its airing open (the power failed during it).
fn open(row: &BTreeMap<String, Value>) -> bool {
    row["outcome"] == Value::Null
}

/// `started_at + aired_seconds` as loa writes instants: what the first
/// open after a crash writes as the end of an open row.
fn ended_after_crash(row: &BTreeMap<String, Value>) -> Value {
    let started = text(&row["started_at"]).expect("an open row has started");
    let start = DateTime::parse_from_rfc3339(started).unwrap();
    let ms = (real(&row["aired_seconds"]) * 1000.0).round() as i64;
    Value::Text(
        (start + chrono::Duration::milliseconds(ms))
            .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string(),
    )
}

/// Whether `row` of a migrated `table` still says what the old `column`
/// said: the value itself, or, for a [`RECODED`] column, some value in it
/// or in a column named after it (`reason_code`...).
fn still_said(table: &str, column: &str, row: &BTreeMap<String, Value>) -> bool {
    if !RECODED.contains(&(table, column)) {
        return false;
    }
    row.iter().any(|(c, v)| {
        c.starts_with(column) && *v != Value::Null && *v != Value::Text(String::new())
    })
}

/// Every table, column and row of `old` is in `new` with the same value,
/// but for what opening a ledger after a crash changes: an open airing is
/// closed `interrupted`, ended at its last checkpoint, with a reason.
/// `new` may have rows old did not (written since). Only the `tables`
/// named, or all when `None`.
fn assert_kept(version: i64, old: &Snapshot, new: &Snapshot, tables: Option<&[&str]>) {
    for (name, table) in &old.tables {
        if tables.is_some_and(|t| !t.contains(&name.as_str())) {
            continue;
        }
        let Some(now) = new.table(name) else {
            panic!("v{version}: table {name} is gone after migrating")
        };
        for c in &table.columns {
            assert!(now.columns.contains(c), "v{version}: {name}.{c} is gone");
        }
        for (key, row) in &table.rows {
            let Some(got) = now.rows.get(key) else {
                panic!("v{version}: {name} row {key} is gone after migrating: {row:?}")
            };
            for (column, was) in row {
                let is = &got[column];
                let crashed = name == "airtime" && open(row);
                let expected = match column.as_str() {
                    "outcome" if crashed => Value::Text("interrupted".into()),
                    "ended_at" if crashed => ended_after_crash(row),
                    "reason" if crashed => {
                        assert!(still_said(name, column, got), "v{version}: {key}: {got:?}");
                        continue;
                    }
                    // From v5 the reason's code and arguments are columns
                    // too: the crash's reason fills them.
                    "reason_code" | "reason_args" if crashed => continue,
                    _ => was.clone(),
                };
                if *is != expected {
                    assert!(
                        *was != Value::Null && still_said(name, column, got),
                        "v{version}: {name} row {key}, column {column}: was {was:?}, \
                         expected {expected:?}, is {is:?}"
                    );
                }
            }
        }
    }
}

/// A migrated file's schema is the one today's loa makes from nothing.
fn assert_same_schema(version: i64, migrated: &Snapshot, fresh: &[SchemaEntry]) {
    let only = |a: &[SchemaEntry], b: &[SchemaEntry]| -> Vec<SchemaEntry> {
        a.iter().filter(|e| !b.contains(e)).cloned().collect()
    };
    assert!(
        migrated.schema == fresh,
        "v{version}: the migrated schema differs from a fresh ledger's (was a released \
         migration edited?)\nonly in the migrated file: {:#?}\nonly in a fresh ledger: {:#?}",
        only(&migrated.schema, fresh),
        only(fresh, &migrated.schema),
    );
}

/// The schema of a ledger today's loa makes from nothing.
fn fresh_schema() -> Vec<SchemaEntry> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airtime.db");
    drop(Ledger::open(&path, TZ).unwrap());
    Snapshot::read(&path).schema
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn airing(id: &str, source: Source, when: DateTime<Utc>) -> Airing {
    Airing {
        occurrence: format!("{id}@{}", when.to_rfc3339()),
        bulletin: id.into(),
        title: format!("Tiêu đề {id}"),
        campaign: None,
        program: None,
        priority: Priority::Normal,
        source,
        file: format!("{id}.mp3"),
        scheduled_at: when,
        planned_seconds: 60.0,
        requested_by: None,
    }
}

/// What each version brought works on its migrated file, beside the old
/// rows: loa reads every old row and queue entry, records a relay (v3),
/// keeps a queue entry (v2) and a user, a session and a failed sign-in
/// (v4).
fn assert_features_work(version: i64, old: &Snapshot, ledger: &mut Ledger) {
    let rows = ledger.rows(&Filter::default()).unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut old_ids: Vec<i64> = old
        .airtime()
        .iter()
        .map(|r| match r["id"] {
            Value::Integer(n) => n,
            ref v => panic!("{v:?}"),
        })
        .collect();
    old_ids.sort();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, old_ids, "v{version}: loa reads every old row");
    let old_queue: Vec<String> = old
        .table("queue")
        .map(|t| t.rows.keys().cloned().collect())
        .unwrap_or_default();
    let queued = ledger.queued().unwrap();
    let mut queued_ids: Vec<String> = queued
        .iter()
        .map(|q| format!("{:?}", Value::Integer(q.id as i64)))
        .collect();
    queued_ids.sort();
    assert_eq!(queued_ids, old_queue, "v{version}: loa reads the old queue");
    let next = old
        .table("state")
        .and_then(|t| {
            t.rows
                .get(&format!("{:?}", Value::Text("next_entry_id".into())))
        })
        .map_or(1, |r| text(&r["value"]).unwrap().parse().unwrap());
    assert_eq!(ledger.next_entry_id().unwrap(), next, "v{version}");

    let when = at("2026-12-08T06:00:00+07:00");
    let relay = ledger
        .record(
            &airing("tiep-am", Source::Relay, when),
            Outcome::Missed,
            None,
        )
        .unwrap();
    let entry = Queued {
        id: next,
        airing: airing("thong-bao", Source::Operator, when),
        path: PathBuf::from("/nowhere/thong-bao.mp3"),
        sort_at: when,
        order: 1,
        grace_seconds: 600,
    };
    ledger.queue_put(&entry).unwrap();
    assert!(ledger
        .add_user("moi", Role::Operator, "$argon2id$x")
        .unwrap());
    let session = SessionRow {
        id: "ab".repeat(32),
        user: "moi".into(),
        created_ms: when.timestamp_millis(),
        seen_ms: when.timestamp_millis(),
        addr: "192.0.2.7".into(),
        agent: "test".into(),
    };
    ledger.add_session(&session).unwrap();
    ledger
        .add_signin_failure(when, "moi", "192.0.2.7", DateTime::UNIX_EPOCH)
        .unwrap();

    let rows = ledger.rows(&Filter::default()).unwrap();
    assert!(rows
        .iter()
        .any(|r| r.id == relay && r.source == Source::Relay));
    assert_eq!(rows.len(), old_ids.len() + 1);
    assert_eq!(ledger.queued().unwrap().len(), queued.len() + 1);
    assert!(ledger.queued().unwrap().contains(&entry));
    assert!(ledger.users().unwrap().iter().any(|u| u.name == "moi"));
    assert_eq!(
        ledger.session(&session.id).unwrap().unwrap().session,
        session
    );
    assert_eq!(ledger.integrity_check().unwrap(), "ok");
}

#[test]
fn every_old_ledger_migrates_to_todays_schema_keeping_every_row() {
    let fresh = fresh_schema();
    for version in VERSIONS {
        let (_dir, _config, db) = station_with(version);
        let old = Snapshot::read(&db);
        assert_eq!(old.user_version, version, "the v{version} fixture");
        let crashed = old.airtime().into_iter().filter(|r| open(r)).count();

        let mut ledger =
            Ledger::open(&db, TZ).unwrap_or_else(|e| panic!("v{version} does not migrate: {e}"));
        assert_eq!(ledger.recovered_on_open(), crashed, "v{version}");
        let new = Snapshot::read(&db);
        assert_eq!(new.user_version, SCHEMA_VERSION, "v{version}");
        assert_eq!(new.application_id, i64::from(APPLICATION_ID), "v{version}");
        assert_same_schema(version, &new, &fresh);
        for (name, table) in &old.tables {
            assert_eq!(
                new.tables[name].rows.len(),
                table.rows.len(),
                "v{version}: rows of {name}"
            );
        }
        assert_kept(version, &old, &new, None);
        // v7: nothing was heard on rows from before the line monitor.
        assert!(
            new.airtime()
                .iter()
                .all(|r| r.get("heard_seconds") == Some(&Value::Null)),
            "v{version}: heard_seconds must be null on old rows"
        );
        assert_features_work(version, &old, &mut ledger);
        drop(ledger);
        // Opening again changes nothing more.
        drop(Ledger::open(&db, TZ).unwrap());
        let again = Snapshot::read(&db);
        assert_kept(version, &old, &again, None);
        // v8: the province's bulletins and accounts fit the rebuilt tables.
        if version >= 1 {
            assert_province_fits(version, &db);
        }
    }
}

/// The CHECKs v8 widened: airtime and queue rows with source 'province',
/// a user with role 'province'.
fn assert_province_fits(version: i64, db: &Path) {
    let c = Connection::open(db).unwrap();
    let changed = c
        .execute(
            "UPDATE airtime SET source = 'province' WHERE id = (SELECT MIN(id) FROM airtime)",
            [],
        )
        .unwrap_or_else(|e| panic!("v{version}: a province airtime row: {e}"));
    assert_eq!(changed, 1, "v{version}");
    c.execute("UPDATE queue SET source = 'province'", [])
        .unwrap_or_else(|e| panic!("v{version}: a province queue row: {e}"));
    c.execute(
        "INSERT INTO users (name, role, password, created_at) VALUES ('tinh', 'province', 'x', 'now')",
        [],
    )
    .unwrap_or_else(|e| panic!("v{version}: a province user: {e}"));
    let refused = c.execute(
        "UPDATE airtime SET source = 'tinh' WHERE id = (SELECT MIN(id) FROM airtime)",
        [],
    );
    assert!(refused.is_err(), "v{version}: the source CHECK is gone");
}

/// What the fixtures hold: every kind of row each version could write, so
/// the tests above cover them (this fails if a fixture is made again
/// poorer).
#[test]
fn the_fixtures_hold_every_kind_of_row_their_version_wrote() {
    for version in VERSIONS {
        let old = Snapshot::read(&fixture(version));
        assert_eq!(old.user_version, version);
        let file_bytes = std::fs::read(fixture(version)).unwrap();
        // Bytes 18 and 19 of the header: 1 for a rollback journal, 2 for WAL.
        assert_eq!(
            file_bytes[18..20],
            [1, 1],
            "v{version} is not in rollback mode"
        );
        if version == 0 {
            assert!(old.tables.is_empty(), "{:?}", old.tables.keys());
            assert_eq!(old.application_id, 0);
            continue;
        }
        assert_eq!(old.application_id, i64::from(APPLICATION_ID));
        let rows = old.airtime();
        let has = |column: &str, value: &str| rows.iter().any(|r| text(&r[column]) == Some(value));
        for outcome in ["completed", "interrupted", "failed", "missed", "skipped"] {
            assert!(has("outcome", outcome), "v{version}: no {outcome} row");
        }
        for source in ["schedule", "operator", "emergency"] {
            assert!(has("source", source), "v{version}: no {source} row");
        }
        assert!(rows.iter().any(|r| open(r)), "v{version}: no open row");
        assert!(rows.iter().any(|r| r["program"] != Value::Null));
        assert!(rows.iter().any(|r| r["requested_by"] != Value::Null));
        assert!(!old.tables["audit"].rows.is_empty());
        assert!(!old.tables["state"].rows.is_empty());
        assert_eq!(old.table("queue").is_some(), version >= 2);
        if version >= 2 {
            assert!(
                !old.tables["queue"].rows.is_empty(),
                "v{version}: empty queue"
            );
        }
        assert_eq!(has("source", "relay"), version >= 3, "v{version}: relay");
        for t in ["users", "sessions", "signin_failures"] {
            assert_eq!(
                old.table(t).is_some_and(|t| !t.rows.is_empty()),
                version >= 4,
                "v{version}: {t}"
            );
        }
    }
    // Before version 8 the file itself refuses a province row (on a copy).
    let (_dir, _config, db) = station_with(7);
    let refused = Connection::open(&db)
        .unwrap()
        .execute("UPDATE airtime SET source = 'province' WHERE id = 1", []);
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("CHECK constraint failed")),
        "{refused:?}"
    );
    // Before version 3 the file itself refuses a relay row (on a copy).
    let (_dir, _config, db) = station_with(2);
    let refused = Connection::open(&db)
        .unwrap()
        .execute("UPDATE airtime SET source = 'relay' WHERE id = 1", []);
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("CHECK constraint failed")),
        "{refused:?}"
    );
}

fn loa(args: &[&str]) -> Output {
    Command::new(common::bin::loa())
        .args(args)
        .env_remove("LOA_CONFIG")
        .output()
        .expect("run loa")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The station-local dates of the rows, as `--from`/`--to` take them.
fn dates(rows: &[&BTreeMap<String, Value>]) -> (String, String) {
    let mut days: Vec<&str> = rows
        .iter()
        .map(|r| &text(&r["scheduled_at"]).unwrap()[..10])
        .collect();
    days.sort();
    (days[0].to_string(), days[days.len() - 1].to_string())
}

#[test]
fn loa_run_migrates_each_old_ledger_and_loa_airtime_and_report_print_its_rows() {
    let fresh = fresh_schema();
    for version in VERSIONS {
        let (_dir, config, db) = station_with(version);
        let old = Snapshot::read(&db);
        let addr: std::net::SocketAddr = std::fs::read_to_string(&config)
            .unwrap()
            .split("listen = \"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .parse()
            .unwrap();
        drop(Daemon::start(&config, addr));
        let new = Snapshot::read(&db);
        assert_eq!(new.user_version, SCHEMA_VERSION, "v{version}");
        assert_same_schema(version, &new, &fresh);
        // The daemon moves its own bookkeeping on (`state`), airs or drops
        // the old queue and forgets idle sessions and old failed sign-ins.
        assert_kept(version, &old, &new, Some(&["airtime", "audit", "users"]));
        let cfg = config.to_str().unwrap();
        let rows = old.airtime();
        if rows.is_empty() {
            stdout(&loa(&["report", "--config", cfg]));
            continue;
        }
        let (from, to) = dates(&rows);
        let range = ["--config", cfg, "--from", &from, "--to", &to];

        let json = stdout(&loa(
            &[&["airtime"][..], &range, &["--format", "json"]].concat()
        ));
        let printed: serde_json::Value = serde_json::from_str(&json).unwrap();
        let printed = printed.as_array().unwrap();
        for row in &rows {
            assert_printed(version, row, printed);
        }
        let table = stdout(&loa(&[&["airtime"][..], &range].concat()));
        for row in &rows {
            let title = text(&row["title"]).unwrap();
            assert!(table.contains(title), "v{version}: {title} not in\n{table}");
        }
        let json = stdout(&loa(
            &[&["report"][..], &range, &["--format", "json"]].concat()
        ));
        assert_report(
            version,
            &from,
            &to,
            &new,
            &serde_json::from_str(&json).unwrap(),
        );
    }
}

/// `row` of the old file is in `loa airtime --format json`'s output.
fn assert_printed(version: i64, row: &BTreeMap<String, Value>, printed: &[serde_json::Value]) {
    let id = match row["id"] {
        Value::Integer(n) => n,
        ref v => panic!("{v:?}"),
    };
    let Some(p) = printed.iter().find(|p| p["id"] == id) else {
        panic!("v{version}: row {id} not printed: {printed:#?}")
    };
    for column in [
        "occurrence",
        "bulletin",
        "title",
        "scheduled_at",
        "started_at",
    ] {
        assert_eq!(
            p[column].as_str(),
            text(&row[column]),
            "v{version}: row {id}, {column}"
        );
    }
    assert_eq!(
        p["aired_seconds"].as_f64(),
        Some(real(&row["aired_seconds"]))
    );
    let (outcome, ended) = if open(row) {
        (
            Some("interrupted"),
            text(&ended_after_crash(row)).map(str::to_string),
        )
    } else {
        (
            text(&row["outcome"]),
            text(&row["ended_at"]).map(str::to_string),
        )
    };
    assert_eq!(p["outcome"].as_str(), outcome, "v{version}: row {id}");
    assert_eq!(
        p["ended_at"].as_str(),
        ended.as_deref(),
        "v{version}: row {id}"
    );
    if row["reason"] != Value::Null || open(row) {
        let said = p
            .as_object()
            .unwrap()
            .iter()
            .any(|(k, v)| k.starts_with("reason") && !v.is_null());
        assert!(said, "v{version}: row {id} lost its reason: {p}");
    }
}

/// `loa report --format json` sums what the file holds between the dates,
/// per campaign and bulletin (the sums made here with SQL).
fn assert_report(version: i64, from: &str, to: &str, file: &Snapshot, report: &serde_json::Value) {
    let mut expected: BTreeMap<(String, String), [f64; 7]> = BTreeMap::new();
    for row in file.airtime() {
        let day = &text(&row["scheduled_at"]).unwrap()[..10];
        if day < from || day > to {
            continue;
        }
        let campaign = text(&row["campaign"]).unwrap_or("").to_string();
        let bulletin = text(&row["bulletin"]).unwrap().to_string();
        let e = expected.entry((campaign, bulletin)).or_default();
        let outcome = text(&row["outcome"]);
        let aired = real(&row["aired_seconds"]);
        // Plays are what went on air; an operator's cancellation is
        // neither missed nor skipped (the older files say it in English).
        let on_air = matches!(outcome, Some("completed" | "interrupted"))
            || (outcome == Some("failed") && (aired > 0.0 || text(&row["started_at"]).is_some()));
        let code = text(&row["reason_code"]);
        let english = text(&row["reason"]).unwrap_or("");
        let cancelled = matches!(outcome, Some("skipped" | "missed"))
            && match code {
                Some(c) => c == "dequeued" || c == "emergency_cancelled_by",
                None => {
                    english == "removed from the queue by an operator"
                        || english.starts_with("emergency cancelled by ")
                }
            };
        if on_air {
            e[0] += 1.0;
        }
        if !cancelled {
            let i = ["completed", "interrupted", "failed", "missed", "skipped"]
                .iter()
                .position(|o| outcome == Some(o))
                .expect("a closed row");
            e[1 + i] += 1.0;
        }
        e[6] += aired;
    }
    let mut got: BTreeMap<(String, String), [f64; 7]> = BTreeMap::new();
    for c in report["campaigns"].as_array().unwrap() {
        let campaign = c["campaign"].as_str().unwrap_or("").to_string();
        for b in c["bulletins"].as_array().unwrap() {
            let n = |k: &str| b[k].as_f64().unwrap_or_else(|| panic!("{k} in {b}"));
            got.insert(
                (
                    campaign.clone(),
                    b["bulletin"].as_str().unwrap().to_string(),
                ),
                [
                    n("plays"),
                    n("completed"),
                    n("interrupted"),
                    n("failed"),
                    n("missed"),
                    n("skipped"),
                    n("aired_seconds"),
                ],
            );
        }
    }
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "v{version}: {report}"
    );
    for (k, e) in &expected {
        let g = got[k];
        assert_eq!(g[..6], e[..6], "v{version}: {k:?}: {report}");
        assert!(
            (g[6] - e[6]).abs() < 0.001,
            "v{version}: {k:?}: {g:?} vs {e:?}"
        );
    }
}

#[test]
fn reading_an_old_ledger_says_to_start_the_daemon_and_leaves_the_file_as_it_was() {
    for version in VERSIONS.into_iter().filter(|&v| v < SCHEMA_VERSION) {
        let (dir, config, db) = station_with(version);
        let before = std::fs::read(&db).unwrap();
        let files = || {
            let mut names: Vec<_> = std::fs::read_dir(dir.path().join("var"))
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            names.sort();
            names
        };
        let listing = files();

        for open in [Ledger::open_read_only, Ledger::open_beside] {
            let e = open(&db, TZ).err().expect("an old ledger is refused");
            assert!(
                matches!(e, LedgerError::NotMigrated(_)),
                "v{version}: {e:?}"
            );
            let msg = e.to_string();
            assert!(msg.contains(&db.display().to_string()), "{msg}");
            assert!(msg.contains(&format!("schema version {version}")), "{msg}");
            assert!(msg.contains("start the daemon"), "{msg}");
            assert!(!msg.contains("no ledger"), "{msg}");
        }
        for cmd in ["report", "airtime"] {
            let out = loa(&[cmd, "--config", config.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(1), "loa {cmd} on v{version}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("start the daemon"), "{err}");
            assert!(err.contains(&format!("schema version {version}")), "{err}");
        }
        assert!(
            std::fs::read(&db).unwrap() == before,
            "v{version} was modified"
        );
        assert_eq!(files(), listing, "v{version}: files left beside the ledger");
    }
}
