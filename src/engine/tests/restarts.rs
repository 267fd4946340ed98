//! Restarts, downtime and clock jumps: nothing airs twice, nothing is
//! forgotten, what was missed says so; the operator queue survives.

use super::*;

#[tokio::test(start_paused = true)]
async fn a_scheduled_item_in_quiet_hours_is_recorded_skipped_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{STATION}[[bulletin]]\nid = \"night\"\ntitle = \"Night\"\nfile = \"n.mp3\"\nat = [\"22:00\"]\n\
         [[program]]\nid = \"late\"\ntitle = \"Late\"\nat = [\"22:00\"]\nitems = [\"jingle\"]\n"
    );
    let rig = start(station(dir.path(), &text), TestClock::new(at(21, 59, 50)));
    rig.run_for(30).await;
    assert!(rig.played().is_empty(), "{:?}", rig.played());
    let rows1 = rig.stop().await;
    let skipped: Vec<(&str, Option<Outcome>, Option<&Reason>)> = rows1
        .iter()
        .map(|r| {
            (
                r.occurrence.as_str(),
                r.outcome,
                r.reason.as_ref().map(|r| &r.main),
            )
        })
        .collect();
    assert_eq!(
        skipped,
        [
            (
                "night@2026-10-07T22:00:00.000+07:00",
                Some(Outcome::Skipped),
                Some(&Reason::QuietHours)
            ),
            (
                "late/jingle@2026-10-07T22:00:00.000+07:00",
                Some(Outcome::Skipped),
                Some(&Reason::QuietHours)
            ),
        ]
    );
    assert_eq!(
        rows1[0].scheduled_at,
        rfc3339(at(22, 0, 0), chrono_tz::Asia::Ho_Chi_Minh)
    );
    // A restart within grace decides nothing again.
    let rows = run_station(dir.path(), &text, at(22, 1, 0), 60).await;
    assert_eq!(outcomes(&rows), outcomes(&rows1));
}

#[tokio::test(start_paused = true)]
async fn never_twice_across_a_restart() {
    let (dir, rig) = start_at(at(5, 59, 55));
    rig.run_for(80).await; // a completed at 06:01:00; b is airing
    let rows1 = rig.stop().await;
    assert_eq!(
        by_bulletin(&rows1, "a")[0].outcome,
        Some(Outcome::Completed)
    );
    assert_eq!(
        by_bulletin(&rows1, "b")[0].outcome,
        Some(Outcome::Interrupted)
    );
    // Restart a minute later, still within a's grace.
    let rig = start(station(dir.path(), STATION), TestClock::new(at(6, 2, 30)));
    // /metrics knows from the ledger when something last aired.
    let b_started = by_bulletin(&rows1, "b")[0].started_at.clone().unwrap();
    let b_started = DateTime::parse_from_rfc3339(&b_started).unwrap();
    let metrics = rig.handle.metrics.render(&rig.handle.status.borrow());
    assert!(
        metrics.contains(&format!(
            "loa_last_aired_timestamp_seconds {}.000\n",
            b_started.timestamp()
        )),
        "{b_started} {metrics}"
    );
    rig.run_for(5 * 60).await;
    assert!(rig.played().is_empty(), "{:?}", rig.played());
    let rows = rig.stop().await;
    assert_eq!(rows.len(), rows1.len(), "{:?}", outcomes(&rows));
}

#[tokio::test(start_paused = true)]
async fn after_downtime_only_items_within_grace_air_the_rest_are_missed() {
    let dir = tempfile::tempdir().unwrap();
    // First run at 05:00 establishes where the station got to.
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 0, 0)));
    rig.run_for(60).await;
    assert!(rig.played().is_empty());
    rig.stop().await;
    // Back at 06:01:30: the programme (05:30, grace 10m) is missed; a (06:00,
    // grace 10m) airs late; b (grace 2m) airs after a and is then too late.
    let rig = start(station(dir.path(), STATION), TestClock::new(at(6, 1, 30)));
    rig.run_for(10 * 60).await;
    assert_eq!(rig.played(), ["a.mp3"]);
    let rows = rig.stop().await;
    let missed: Vec<_> = rows
        .iter()
        .filter(|r| r.outcome == Some(Outcome::Missed))
        .map(|r| r.occurrence.as_str())
        .collect();
    assert_eq!(missed.len(), 4, "{:?}", outcomes(&rows));
    assert!(missed.iter().filter(|m| m.starts_with("morning/")).count() == 3);
    assert!(missed.iter().any(|m| m.starts_with("b@")));
    let a: Vec<_> = rows
        .iter()
        .filter(|r| r.occurrence.starts_with("a@"))
        .collect();
    assert_eq!(
        a[0].started_at.as_deref(),
        Some("2026-10-07T06:01:30.000+07:00"),
        "{:?}",
        outcomes(&rows)
    );
}

#[tokio::test(start_paused = true)]
async fn a_first_start_does_not_invent_missed_items() {
    let dir = tempfile::tempdir().unwrap();
    let rows = run_station(dir.path(), STATION, at(12, 0, 0), 60).await;
    assert!(rows.is_empty(), "{:?}", outcomes(&rows));
}

#[tokio::test(start_paused = true)]
async fn clock_jump_forward_releases_no_backlog() {
    let (_dir, rig) = start_at(at(5, 0, 0));
    rig.run_for(10).await;
    // NTP syncs: the clock jumps to 06:05.
    rig.clock.jump(at(6, 5, 0) - at(5, 0, 10));
    rig.run_for(10 * 60).await;
    // a (06:00, grace 10m) airs late; nothing else airs.
    assert_eq!(rig.played(), ["a.mp3"]);
    let rows = rig.stop().await;
    let missed = rows
        .iter()
        .filter(|r| r.outcome == Some(Outcome::Missed))
        .count();
    assert_eq!(missed, 4, "programme items and b: {:?}", outcomes(&rows));
}

#[tokio::test(start_paused = true)]
async fn clock_jump_backward_never_replays() {
    let (_dir, rig) = start_at(at(5, 59, 55));
    rig.run_for(3 * 60).await; // a and b aired
    rig.clock.jump(Duration::minutes(-10));
    rig.run_for(15 * 60).await;
    assert_eq!(rig.played(), ["a.mp3", "b.mp3"]);
    let rows = rig.stop().await;
    assert_eq!(rows.len(), 2, "{:?}", outcomes(&rows));
}

#[tokio::test(start_paused = true)]
async fn a_repeating_emergency_goes_on_after_a_restart() {
    let (dir, rig) = start_at(at(12, 0, 0));
    rig.ask(|tx| Command::Emergency(storm_until(at(14, 0, 0)), tx))
        .await
        .unwrap();
    rig.run_for(60).await; // aired once at 12:00
    rig.stop().await;
    // Power back at 12:40: the 12:30 repeat was missed, one airs at once,
    // then 13:00, 13:30, 14:00 would be past `until` (14:00:00 is not after).
    let rig = start(station(dir.path(), STATION), TestClock::new(at(12, 40, 0)));
    rig.run_for(1).await;
    let since = rig
        .handle
        .status
        .borrow()
        .emergency
        .as_ref()
        .map(|e| e.since);
    assert_eq!(
        since,
        Some(at(12, 0, 0)),
        "in force since before the restart"
    );
    rig.run_for(3 * 3600).await;
    let rows = rig.stop().await;
    let storms: Vec<_> = by_bulletin(&rows, "storm")
        .into_iter()
        .map(|r| r.started_at.clone().unwrap())
        .collect();
    assert_eq!(
        storms,
        [
            "2026-10-07T12:00:00.000+07:00",
            "2026-10-07T12:40:00.000+07:00",
            "2026-10-07T13:00:00.000+07:00",
            "2026-10-07T13:30:00.000+07:00",
            "2026-10-07T14:00:00.000+07:00",
        ]
    );
    // And after `until` nothing is left to resume.
    let ledger = Ledger::open_read_only(&dir.path().join("var/airtime.db"), rig_tz()).unwrap();
    assert_eq!(ledger.state("emergency").unwrap(), None);
}

#[tokio::test(start_paused = true)]
async fn a_short_lived_first_run_still_leaves_a_watermark_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    // The first run is killed 20 s after it starts: a airs, b waits.
    let rig = start(station(dir.path(), STATION), TestClock::new(at(5, 59, 55)));
    rig.run_for(20).await;
    rig.cut_power().await;
    // Power comes back long after every grace: both must be on record.
    let rows = run_station(dir.path(), STATION, at(6, 30, 0), 10).await;
    let a: Vec<_> = rows
        .iter()
        .filter(|r| r.occurrence.starts_with("a@"))
        .collect();
    assert_eq!(
        a[0].outcome,
        Some(Outcome::Interrupted),
        "{:?}",
        outcomes(&rows)
    );
    let b = by_bulletin(&rows, "b");
    assert_eq!(b.len(), 1, "b has no row: {:?}", outcomes(&rows));
    assert_eq!(b[0].outcome, Some(Outcome::Missed));
}

/// Queue `bulletin` at `when` as operator `van-hoa`.
async fn queue_at(rig: &Rig, bulletin: &str, when: DateTime<Utc>) -> QueuedView {
    rig.ask(|tx| {
        Command::Queue(
            QueueRequest {
                target: Target::Bulletin(bulletin.into()),
                priority: None,
                at: Some(when),
                requested_by: Some("van-hoa".into()),
            },
            tx,
        )
    })
    .await
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_operator_queue_survives_a_restart() {
    let (dir, rig) = start_at(at(12, 0, 0));
    let early = queue_at(&rig, "jingle", at(12, 10, 0)).await;
    let later = queue_at(&rig, "pri", at(12, 30, 0)).await;
    rig.run_for(60).await;
    assert!(rig.stop().await.is_empty(), "nothing aired yet");

    // Down from 12:01 to 12:25: the 12:10 item is past its grace (10 min),
    // the 12:30 one waits again, under its id, and airs on time.
    let rig = start(station(dir.path(), STATION), TestClock::new(at(12, 25, 0)));
    rig.run_for(1).await;
    let queued = rig.handle.status.borrow().queue.clone();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].id, later.id);
    assert_eq!(queued[0].occurrence, later.occurrence);
    assert_eq!(queued[0].priority, Priority::Priority);
    assert_eq!(queued[0].requested_by.as_deref(), Some("van-hoa"));
    let new = queue_at(&rig, "jingle", at(14, 0, 0)).await;
    assert!(
        new.id > later.id && new.id > early.id,
        "ids go on: {} after {}",
        new.id,
        later.id
    );
    rig.run_for(40 * 60).await;
    assert_eq!(rig.played(), ["pri.mp3"]);
    assert_eq!(rig.fake.played()[0].1, at(12, 30, 0));
    let rows = rig.stop().await;
    let missed = by_bulletin(&rows, "jingle");
    assert_eq!(missed.len(), 1, "{:?}", outcomes(&rows));
    assert_eq!(missed[0].occurrence, early.occurrence);
    assert_eq!(missed[0].outcome, Some(Outcome::Missed));
    assert_eq!(missed[0].source, Source::Operator);
    assert!(
        matches!(reason_of(missed[0]), Reason::DownAtItsTime { .. }),
        "{:?}",
        missed[0].reason
    );
    let pri = by_bulletin(&rows, "pri");
    assert_eq!(pri[0].outcome, Some(Outcome::Completed));

    // What aired or was recorded is not kept; the 14:00 item still is,
    // and nothing is recorded twice after another restart.
    let rig = start(station(dir.path(), STATION), TestClock::new(at(13, 56, 0)));
    rig.run_for(1).await;
    let queued = rig.handle.status.borrow().queue.clone();
    assert_eq!(
        queued.iter().map(|q| q.id).collect::<Vec<_>>(),
        [new.id],
        "{queued:?}"
    );
    rig.run_for(10 * 60).await;
    let rows = rig.stop().await;
    assert_eq!(
        by_bulletin(&rows, "jingle").len(),
        2,
        "{:?}",
        outcomes(&rows)
    );
    assert_eq!(by_bulletin(&rows, "pri").len(), 1, "{:?}", outcomes(&rows));
}

#[tokio::test(start_paused = true)]
async fn a_dequeued_item_does_not_come_back_after_a_restart() {
    let (dir, rig) = start_at(at(12, 0, 0));
    let q = queue_at(&rig, "pri", at(12, 30, 0)).await;
    assert_eq!(rig.ask(|tx| Command::Dequeue(q.id, tx)).await, Ok(()));
    rig.stop().await;
    let rig = start(station(dir.path(), STATION), TestClock::new(at(12, 20, 0)));
    rig.run_for(20 * 60).await;
    assert!(rig.played().is_empty());
    let rows = rig.stop().await;
    assert_eq!(outcomes(&rows).len(), 1, "{:?}", outcomes(&rows));
    assert_eq!(rows[0].outcome, Some(Outcome::Skipped));
}

#[tokio::test(start_paused = true)]
async fn operators_may_queue_up_to_max_queue_items() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = station(dir.path(), STATION);
    s.api.max_queue = 2;
    let rig = start(s, TestClock::new(at(12, 0, 0)));
    let first = queue_at(&rig, "pri", at(12, 30, 0)).await;
    queue_at(&rig, "jingle", at(12, 40, 0)).await;
    let req = || QueueRequest {
        target: Target::Bulletin("a".into()),
        priority: None,
        at: Some(at(12, 50, 0)),
        requested_by: None,
    };
    let full = rig.ask(|tx| Command::Queue(req(), tx)).await;
    assert_eq!(full.unwrap_err(), Refusal::QueueFull(2));
    rig.ask(|tx| Command::Dequeue(first.id, tx)).await.unwrap();
    assert!(rig.ask(|tx| Command::Queue(req(), tx)).await.is_ok());
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_queued_item_survives_a_power_cut() {
    let (dir, rig) = start_at(at(12, 0, 0));
    let q = queue_at(&rig, "pri", at(12, 30, 0)).await;
    rig.run_for(5).await;
    rig.cut_power().await;
    let rig = start(station(dir.path(), STATION), TestClock::new(at(12, 20, 0)));
    rig.run_for(1).await;
    assert_eq!(rig.handle.status.borrow().queue[0].id, q.id);
    rig.run_for(11 * 60).await;
    assert_eq!(rig.played(), ["pri.mp3"]);
    assert_eq!(rig.fake.played()[0].1, at(12, 30, 0));
    let rows = rig.stop().await;
    assert_eq!(rows.len(), 1, "{:?}", outcomes(&rows));
    assert_eq!(rows[0].occurrence, q.occurrence);
    assert_eq!(rows[0].outcome, Some(Outcome::Completed));
}
