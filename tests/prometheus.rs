//! A province's monitoring against real stations: three `loa run` daemons
//! (null output, temporary directories, their own `[fleet] station_id`)
//! scraped by a real Prometheus (Debian's `prometheus`, started here on
//! loopback in a temporary directory) with the shipped scrape config,
//! targets file layout, metrics token and alert rules; the series and an
//! alert are read back through Prometheus' HTTP API. Also: `promtool`
//! checks the shipped config and rules and runs the rules' unit tests, and
//! the Grafana dashboard's queries are PromQL Prometheus accepts and use
//! only metrics loa really exports.
//!
//! A missing `prometheus` or `promtool` fails the test (`make test-deps`
//! installs them). Polls with generous deadlines; nothing is timed.

use crate::common;
use crate::common::pulse;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Duration as Span, Utc};
use common::{free_port, new_token, request, Daemon};
use serde_json::{json, Value};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn deploy(rel: &str) -> PathBuf {
    repo("deploy").join(rel)
}

/// `promtool ARGS` in `dir`: its output, asserting success.
fn promtool(dir: &Path, args: &[&str]) -> String {
    pulse::require("promtool", "prometheus", "test-deps");
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

/// The shipped prometheus.yml with its `/etc/prometheus/` files in `dir`
/// (the rules, the token, the targets files), and `interval` for scraping
/// and evaluating. Returns the config's path.
fn province_config(dir: &Path, token: &str, interval: &str) -> PathBuf {
    let shipped = std::fs::read_to_string(deploy("prometheus/prometheus.yml")).unwrap();
    let mut text = shipped.replace("/etc/prometheus/", &format!("{}/", dir.display()));
    assert_ne!(
        text, shipped,
        "the shipped config names /etc/prometheus/ files"
    );
    for key in ["scrape_interval", "evaluation_interval"] {
        let from = format!("{key}: 30s");
        assert!(text.contains(&from), "the shipped config sets {from}");
        text = text.replace(&from, &format!("{key}: {interval}"));
    }
    text = text.replace(
        "scrape_timeout: 10s",
        &format!("scrape_timeout: {interval}"),
    );
    std::fs::copy(
        deploy("prometheus/loa-alerts.yml"),
        dir.join("loa-alerts.yml"),
    )
    .unwrap();
    std::fs::write(dir.join("loa-metrics.token"), token).unwrap();
    std::fs::create_dir_all(dir.join("loa-stations")).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, text).unwrap();
    config
}

#[test]
fn shipped_config_rules_and_rule_tests_pass_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let config = province_config(dir.path(), "loa_x", "30s");
    std::fs::copy(
        deploy("prometheus/stations/example.yml"),
        dir.path().join("loa-stations/example.yml"),
    )
    .unwrap();
    let out = promtool(dir.path(), &["check", "config", config.to_str().unwrap()]);
    assert!(out.contains("SUCCESS"), "{out}");
    let rules = deploy("prometheus");
    let out = promtool(&rules, &["check", "rules", "loa-alerts.yml"]);
    assert!(out.contains("SUCCESS"), "{out}");
    let out = promtool(&rules, &["test", "rules", "loa-alerts.test.yml"]);
    assert!(out.contains("SUCCESS"), "{out}");

    // Every alert has a unit test.
    let alerts = std::fs::read_to_string(rules.join("loa-alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(rules.join("loa-alerts.test.yml")).unwrap();
    let names: Vec<&str> = alerts
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert!(names.len() >= 7, "{names:?}");
    for name in names {
        assert!(
            tests.contains(&format!("alertname: {name}\n")),
            "alert {name} has no unit test in loa-alerts.test.yml"
        );
    }
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Station {
    _dir: tempfile::TempDir,
    id: &'static str,
    _daemon: Daemon,
    addr: SocketAddr,
    operator: String,
}

/// A station `id` with the province's metrics token (`metrics_sha`), a
/// bulletin planned an hour ago and one in two hours, and `extra` items.
fn station(id: &'static str, metrics_sha: &str, extra: &str) -> Station {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("audio");
    std::fs::create_dir(&audio).unwrap();
    std::fs::copy(
        repo("src/audio/testdata/tone1s.wav"),
        audio.join("tone.wav"),
    )
    .unwrap();
    let (operator, op_sha) = new_token("van-hoa-xa-hoi", "operator");
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let local = |d: Span| {
        (Utc::now() + d)
            .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
            .format("%H:%M")
            .to_string()
    };
    let (before, after) = (local(Span::hours(-1)), local(Span::hours(2)));
    let config = dir.path().join("station.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[station]
name = "Đài truyền thanh {id}"
audio_dir = "audio"
data_dir = "var"
[output]
kind = "null"
[api]
listen = "{addr}"
[fleet]
station_id = "{id}"
[[api.token]]
name = "prometheus-tinh"
role = "metrics"
sha256 = "{metrics_sha}"
[[api.token]]
name = "van-hoa-xa-hoi"
role = "operator"
sha256 = "{op_sha}"
[[bulletin]]
id = "tone"
title = "Tín hiệu"
file = "tone.wav"
[[bulletin]]
id = "sang"
title = "Bản tin"
file = "tone.wav"
at = ["{before}", "{after}"]
{extra}
"#
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&config, addr);
    Station {
        _dir: dir,
        id,
        _daemon: daemon,
        addr,
        operator,
    }
}

impl Station {
    fn post(&self, path: &str, body: Value) {
        let b = body.to_string();
        let r = request(
            self.addr,
            "POST",
            path,
            Some(&self.operator),
            Some(("application/json", b.as_bytes())),
        )
        .unwrap();
        assert_eq!(r.status, 202, "{path}: {r:?}");
    }

    fn metrics(&self) -> String {
        let r = request(self.addr, "GET", "/metrics", None, None).unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        r.text()
    }
}

/// Ask Prometheus `query` until `ok` holds of its result vector.
fn wait_query(prom: SocketAddr, query: &str, ok: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        if let Ok(r) = request(
            prom,
            "GET",
            &format!("/api/v1/query?query={}", common::percent_encode(query)),
            None,
            None,
        ) {
            if r.status == 200 {
                last = r.json();
                let v = last["data"]["result"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if ok(&v) {
                    return v;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("Prometheus never answered {query} as expected; last answer: {last}");
}

fn label<'a>(series: &'a Value, name: &str) -> &'a str {
    series["metric"][name].as_str().unwrap_or("")
}

fn stations_of(v: &[Value]) -> BTreeSet<String> {
    v.iter().map(|s| label(s, "station").to_string()).collect()
}

fn value(series: &Value) -> f64 {
    series["value"][1].as_str().unwrap().parse().unwrap()
}

#[test]
fn a_province_prometheus_scrapes_three_stations() {
    pulse::require("prometheus", "prometheus", "test-deps");
    let (token, sha) = new_token("prometheus-tinh", "metrics");
    let a = station("xa-a", &sha, "");
    let b = station(
        "xa-b",
        &sha,
        "[[bulletin]]\nid = \"mat\"\ntitle = \"Mất tệp\"\nfile = \"gone.mp3\"\n",
    );
    let c = station("xa-c", &sha, "");
    // Station A airs an operator's item, C is under a repeating emergency,
    // B airs nothing (and one of its bulletins has no audio file).
    a.post("/api/v1/queue", json!({"bulletin": "tone"}));
    c.post(
        "/api/v1/emergency",
        json!({"bulletin": "tone", "repeat_every": "30m"}),
    );

    // The token is checked even on loopback when one is sent.
    let wrong = request(a.addr, "GET", "/metrics", Some("loa_wrong"), None).unwrap();
    assert_eq!(wrong.status, 401);
    let good = request(a.addr, "GET", "/metrics", Some(&token), None).unwrap();
    assert_eq!(good.status, 200);

    // Prometheus as the province runs it: the shipped config, a targets
    // file listing the stations, the metrics token in a file.
    let dir = tempfile::tempdir().unwrap();
    let config = province_config(dir.path(), &token, "1s");
    let targets: String = [&a, &b, &c]
        .iter()
        .map(|s| {
            format!(
                "- targets: [\"{}\"]\n  labels:\n    station: {}\n    district: huyen-thu\n",
                s.addr, s.id
            )
        })
        .collect();
    std::fs::write(dir.path().join("loa-stations/test.yml"), targets).unwrap();
    let prom = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _prometheus = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={prom}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus"),
    );
    let ids: BTreeSet<String> = ["xa-a", "xa-b", "xa-c"].map(String::from).into();

    // Every station is up (scraped with the token) and says who it is.
    let up = wait_query(prom, "up{job=\"loa\"} == 1", |v| v.len() == 3);
    assert_eq!(stations_of(&up), ids);
    let info = wait_query(prom, "loa_station_info", |v| v.len() == 3);
    assert_eq!(stations_of(&info), ids, "{info:?}");
    for s in &info {
        assert_eq!(label(s, "version"), env!("CARGO_PKG_VERSION"));
        assert!(label(s, "name").starts_with("Đài truyền thanh xa-"));
    }
    // What each one did.
    let aired = wait_query(
        prom,
        "loa_aired_seconds_total{source=\"operator\"} > 0.5",
        |v| v.len() == 1,
    );
    assert_eq!(label(&aired[0], "station"), "xa-a");
    let emergency = wait_query(prom, "loa_emergency_active == 1", |v| !v.is_empty());
    assert_eq!(stations_of(&emergency), ["xa-c".to_string()].into());
    wait_query(
        prom,
        "time() - loa_emergency_since_timestamp_seconds{station=\"xa-c\"}",
        |v| v.len() == 1 && value(&v[0]) >= 0.0,
    );
    let failing = wait_query(prom, "loa_bulletins_failing > 0", |v| v.len() == 1);
    assert_eq!(label(&failing[0], "station"), "xa-b");
    for q in [
        "loa_next_item_due_timestamp_seconds > time()",
        "loa_last_planned_timestamp_seconds < time() - 3000",
        "loa_data_dir_free_bytes > 0",
        "process_resident_memory_bytes > 1e6",
        "loa_output_state{state=\"failed\"} == 0",
        "loa_clock_suspect == 0",
        "loa_ledger_writes_waiting == 0",
        "loa_build_info",
    ] {
        let v = wait_query(prom, q, |v| v.len() == 3);
        assert_eq!(stations_of(&v), ids, "{q}");
    }
    // An item was planned an hour ago and B has aired nothing since:
    // the alert fires for B only (A and C aired after it).
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let alerts = request(prom, "GET", "/api/v1/alerts", None, None)
            .map(|r| r.json())
            .unwrap_or(Value::Null);
        let firing: BTreeSet<String> = alerts["data"]["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["labels"]["alertname"] == "LoaPlannedNothingAired")
            .filter(|a| a["state"] == "firing")
            .map(|a| a["labels"]["station"].as_str().unwrap_or("").to_string())
            .collect();
        if !firing.is_empty() {
            assert_eq!(firing, ["xa-b".to_string()].into(), "{alerts}");
            break;
        }
        assert!(Instant::now() < deadline, "the alert never fired: {alerts}");
        std::thread::sleep(Duration::from_millis(250));
    }

    // The dashboard parses and queries only what loa exports (or
    // Prometheus' own `up`).
    let exported: String = [&a, &b, &c].iter().map(|s| s.metrics()).collect();
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(deploy("grafana/loa-province.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    let mut queries = Vec::new();
    collect_queries(&dashboard, &mut queries);
    assert!(queries.len() >= 20, "{queries:?}");
    let mut used = BTreeSet::new();
    for q in &queries {
        used.extend(metric_names(q));
        // Grafana's variables as it fills them in; `label_values` is
        // Grafana's own, not PromQL.
        if q.starts_with("label_values(") {
            continue;
        }
        let promql = q.replace("$station", ".*").replace("$__range", "5m");
        let r = request(
            prom,
            "GET",
            &format!("/api/v1/query?query={}", common::percent_encode(&promql)),
            None,
            None,
        )
        .unwrap();
        assert_eq!(r.status, 200, "the dashboard's {q} is not PromQL: {r:?}");
    }
    for name in &used {
        if name == "up" {
            continue;
        }
        assert!(
            exported.lines().any(|l| l
                .strip_prefix(name.as_str())
                .is_some_and(|rest| rest.starts_with(['{', ' ']))),
            "the dashboard queries {name}, which loa does not export"
        );
    }
    for wanted in [
        "loa_aired_seconds_total",
        "loa_items_total",
        "loa_airing",
        "loa_station_info",
    ] {
        assert!(used.contains(wanted), "the dashboard does not use {wanted}");
    }

    // A station that stops is seen down (what LoaStationDown waits on).
    drop(c);
    let down = wait_query(prom, "up{job=\"loa\"} == 0", |v| !v.is_empty());
    assert_eq!(stations_of(&down), ["xa-c".to_string()].into());
}

/// Every PromQL text of a dashboard: panel targets' `expr` and the
/// variables' queries.
fn collect_queries(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("expr" | "definition", Value::String(s)) => out.push(s.clone()),
                    ("query", Value::String(s)) if s.contains('(') => out.push(s.clone()),
                    _ => collect_queries(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_queries(x, out)),
        _ => {}
    }
}

/// The metric names a PromQL text uses: identifiers outside strings,
/// braces, ranges and label lists that are not functions or keywords. Every
/// name loa exports has an underscore, unlike PromQL's keywords (and Grafana's
/// `label_values(metric, label)` names a label without one here).
fn metric_names(q: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut chars = q.char_indices().peekable();
    let skip_to = |chars: &mut std::iter::Peekable<std::str::CharIndices>, end: char| {
        for (_, c) in chars.by_ref() {
            if c == end {
                break;
            }
        }
    };
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => skip_to(&mut chars, '"'),
            '{' => skip_to(&mut chars, '}'),
            '[' => skip_to(&mut chars, ']'),
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = i + 1;
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_ascii_alphanumeric() || d == '_' || d == ':' {
                        end = j + 1;
                        chars.next();
                    } else {
                        break;
                    }
                }
                let word = &q[i..end];
                let next = q[end..].trim_start().chars().next();
                if matches!(
                    word,
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                ) {
                    // Its label list, if it has one.
                    if next == Some('(') {
                        skip_to(&mut chars, ')');
                    }
                } else if next != Some('(') && (word.contains('_') || word == "up") {
                    names.insert(word.to_string());
                }
            }
            _ => {}
        }
    }
    names
}

#[test]
fn metric_names_are_found_in_promql() {
    let q = "histogram_quantile(0.95, sum by (station, le) (rate(loa_lateness_seconds_bucket{station=~\"$station\"}[1h]))) / on(instance) group_left(x_y) up";
    assert_eq!(
        metric_names(q),
        ["loa_lateness_seconds_bucket", "up"]
            .map(String::from)
            .into()
    );
    assert_eq!(
        metric_names("label_values(loa_station_info, station)"),
        ["loa_station_info".to_string()].into()
    );
}
