//! Relays: waiting their turn, cut by an emergency, aired as a
//! programme item, recorded as relays.

use super::*;

/// The `vov1` relay with `keys` (its source, duration, timing...).
fn vov1(keys: &str) -> String {
    format!("\n[[relay]]\nid = \"vov1\"\ntitle = \"Tiếp âm VOV1\"{keys}")
}

#[tokio::test(start_paused = true)]
async fn a_relay_waits_its_turn_and_an_emergency_cuts_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = storm_at("06:03:00")
        + &vov1(
            r#"
url = "http://127.0.0.1:9/vov1.mp3"
duration = "10m"
priority = "priority"
fallback = "jingle"
at = ["06:00:30"]
"#,
        );
    let rows = run_station(dir.path(), &text, at(5, 59, 55), 20 * 60).await;
    let relay = by_bulletin(&rows, "vov1");
    assert_eq!(relay.len(), 1, "{:?}", outcomes(&rows));
    let r = relay[0];
    assert_eq!(r.source, Source::Relay);
    assert_eq!(r.file, "http://127.0.0.1:9/vov1.mp3");
    // It did not cut `a` (06:00, 60 s): it started when `a` ended...
    assert_eq!(by_bulletin(&rows, "a")[0].outcome, Some(Outcome::Completed));
    assert_eq!(parse(r.started_at.as_deref().unwrap()), at(6, 1, 0));
    // ...and the emergency cut it.
    assert_eq!(r.outcome, Some(Outcome::Interrupted));
    assert_eq!(
        reason_of(r),
        &Reason::InterruptedByEmergency {
            bulletin: "storm".into(),
            title: "Storm".into()
        },
        "{r:?}"
    );
    assert_eq!(
        by_bulletin(&rows, "storm")[0].outcome,
        Some(Outcome::Completed)
    );
}

#[tokio::test(start_paused = true)]
async fn a_relay_airs_its_duration_and_is_recorded_as_a_relay() {
    let dir = tempfile::tempdir().unwrap();
    let text = STATION.to_string()
        + &vov1(
            r#"
url = "http://127.0.0.1:9/vov1.mp3"
duration = "5m"
at = ["07:00"]
"#,
        );
    let rows = run_station(dir.path(), &text, at(6, 59, 0), 10 * 60).await;
    let r = by_bulletin(&rows, "vov1")[0];
    assert_eq!(r.outcome, Some(Outcome::Completed), "{r:?}");
    assert_eq!(r.planned_seconds, 300.0);
    assert!((r.aired_seconds - 300.0).abs() < 0.01, "{r:?}");
    assert_eq!(parse(r.started_at.as_deref().unwrap()), at(7, 0, 0));
    assert_eq!(parse(r.ended_at.as_deref().unwrap()), at(7, 5, 0));
}

#[tokio::test(start_paused = true)]
async fn a_relay_airs_as_a_programme_item() {
    let dir = tempfile::tempdir().unwrap();
    let text = STATION.replace(
        "items = [\"jingle\", \"a\", \"jingle\"]",
        "items = [\"jingle\", \"vov1\", \"jingle\"]",
    ) + &vov1(
        r#"
input = "default"
duration = "2m"
"#,
    );
    let rig = start(station(dir.path(), &text), TestClock::new(at(5, 29, 0)));
    rig.run_for(10 * 60).await;
    let early = rig.fake.early_connects();
    let rows = rig.stop().await;
    let morning: Vec<_> = rows
        .iter()
        .filter(|r| r.program.as_deref() == Some("morning"))
        .collect();
    let ids: Vec<&str> = morning.iter().map(|r| r.bulletin.as_str()).collect();
    assert_eq!(ids, ["jingle", "vov1", "jingle"], "{:?}", outcomes(&rows));
    let relay = morning[1];
    assert_eq!(relay.source, Source::Relay);
    assert_eq!(relay.outcome, Some(Outcome::Completed));
    assert!(relay.occurrence.starts_with("morning/vov1@"), "{relay:?}");
    // Back to back: the second jingle starts when the relay's 2 minutes end.
    let relay_end = parse(relay.ended_at.as_deref().unwrap());
    assert_eq!(parse(morning[2].started_at.as_deref().unwrap()), relay_end);
    let relay_start = parse(relay.started_at.as_deref().unwrap());
    assert_eq!(relay_end - relay_start, Duration::minutes(2));
    // Behind the jingle, the relay starts connecting LEAD (3 s) ahead, not
    // only when it is cued (1.5 s ahead).
    assert_eq!(early.len(), 1, "{early:?}");
    assert_eq!(early[0].0, "vov1");
    assert_eq!(relay_start - early[0].1, LEAD, "{early:?}");
}
