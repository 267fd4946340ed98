//! Operators' commands and failures of an item: pause, skip, dequeue,
//! reload, shutdown, a device or file that fails, refusals.

use super::*;

#[tokio::test(start_paused = true)]
async fn device_failure_mid_item_is_failed_and_the_next_item_airs() {
    let (_dir, rig) = start_at(at(5, 59, 55));
    rig.fake
        .set_behaviour("a.mp3", FakeBehaviour::FailAfter(12.0, vanished()));
    rig.run_for(3 * 60).await;
    let rows = rig.stop().await;
    let a = by_bulletin(&rows, "a");
    assert_eq!(a[0].outcome, Some(Outcome::Failed));
    assert_eq!(reason_of(a[0]), &vanished());
    assert_eq!(a[0].aired_seconds, 12.0);
    let b = by_bulletin(&rows, "b");
    assert_eq!(b[0].outcome, Some(Outcome::Completed));
    assert_eq!(
        b[0].started_at.as_deref(),
        Some("2026-10-07T06:00:12.000+07:00")
    );
}

#[tokio::test(start_paused = true)]
async fn decode_failure_is_failed_without_a_start_and_the_next_item_airs() {
    let (_dir, rig) = start_at(at(5, 59, 55));
    rig.fake.set_behaviour(
        "a.mp3",
        FakeBehaviour::FailToOpen(Reason::FileFailed {
            error: "not audio".into(),
        }),
    );
    rig.run_for(2 * 60).await;
    let rows = rig.stop().await;
    let a = by_bulletin(&rows, "a");
    assert_eq!(a[0].outcome, Some(Outcome::Failed));
    assert!(a[0].started_at.is_none());
    assert_eq!(by_bulletin(&rows, "b")[0].outcome, Some(Outcome::Completed));
}

#[tokio::test(start_paused = true)]
async fn paused_station_skips_what_comes_due_and_resumes() {
    let (_dir, rig) = start_at(at(5, 59, 0));
    rig.handle
        .commands
        .send(Command::Pause(By::token("op")))
        .await
        .unwrap();
    rig.run_for(5 * 60).await;
    rig.handle
        .commands
        .send(Command::Resume(By::token("op")))
        .await
        .unwrap();
    assert!(rig.played().is_empty());
    let rows = rig.stop().await;
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r.outcome, Some(Outcome::Skipped));
        assert_eq!(reason_of(r), &Reason::StationPaused);
    }
}

#[tokio::test(start_paused = true)]
async fn skip_ends_the_item_and_the_next_one_airs() {
    let (_dir, rig) = start_at(at(5, 59, 55));
    rig.run_for(15).await;
    let (tx, rx) = oneshot::channel();
    rig.handle
        .commands
        .send(Command::Skip(By::user("op"), tx))
        .await
        .unwrap();
    assert_eq!(rx.await.unwrap().as_deref(), Ok("A"));
    rig.run_for(60).await;
    let rows = rig.stop().await;
    assert_eq!(
        by_bulletin(&rows, "a")[0].outcome,
        Some(Outcome::Interrupted)
    );
    assert_eq!(
        reason_of(by_bulletin(&rows, "a")[0]),
        &Reason::SkippedBy { by: By::user("op") }
    );
    assert_eq!(by_bulletin(&rows, "b")[0].outcome, Some(Outcome::Completed));
}

#[tokio::test(start_paused = true)]
async fn shutdown_closes_the_airing_row_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let rows = run_station(dir.path(), STATION, at(5, 59, 55), 30).await;
    let a = by_bulletin(&rows, "a");
    assert_eq!(a[0].outcome, Some(Outcome::Interrupted));
    assert_eq!(reason_of(a[0]), &Reason::DaemonStopped);
    assert!(by_bulletin(&rows, "b").is_empty(), "b was never started");
}

#[tokio::test(start_paused = true)]
async fn reload_drops_removed_items_and_keeps_what_aired() {
    let (dir, rig) = start_at(at(5, 59, 55));
    rig.run_for(10).await; // a airs, b queued
    let changed = STATION.replace(
        "id = \"b\"\ntitle = \"B\"\nfile = \"b.mp3\"\nat = [\"06:00\"]",
        "id = \"b\"\ntitle = \"B\"\nfile = \"b.mp3\"\nat = [\"07:00\"]",
    );
    assert_ne!(changed, STATION);
    rig.handle
        .commands
        .send(Command::Reload(Arc::new(station(dir.path(), &changed))))
        .await
        .unwrap();
    rig.run_for(2 * 3600).await;
    assert_eq!(rig.played(), ["a.mp3", "b.mp3"]);
    let starts: HashMap<_, _> = rig
        .fake
        .played()
        .into_iter()
        .map(|(p, t)| (p.to_string_lossy().into_owned(), t))
        .collect();
    assert_eq!(starts["b.mp3"], at(7, 0, 0));
    let rows = rig.stop().await;
    assert_eq!(rows.len(), 2, "{:?}", outcomes(&rows));
}

#[tokio::test(start_paused = true)]
async fn a_dequeued_occurrence_is_recorded_skipped_not_forgotten() {
    let (_dir, rig) = start_at(at(5, 59, 58));
    rig.run_for(5).await; // a airs, b waits in the queue
    let queued = rig.handle.status.borrow().queue.clone();
    let b = queued.iter().find(|q| q.bulletin == "b").expect("b queued");
    let (tx, rx) = oneshot::channel();
    rig.handle
        .commands
        .send(Command::Dequeue(b.id, tx))
        .await
        .unwrap();
    assert_eq!(rx.await.unwrap(), Ok(()));
    rig.run_for(120).await;
    assert_eq!(rig.played(), ["a.mp3"]);
    let rows = rig.stop().await;
    let b = by_bulletin(&rows, "b");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].outcome, Some(Outcome::Skipped));
    assert_eq!(reason_of(b[0]), &Reason::Dequeued);
}

#[tokio::test(start_paused = true)]
async fn refusals_name_what_was_not_there() {
    let (_dir, rig) = start_at(at(12, 0, 0));
    let nope = || Target::Bulletin("nope".into());
    let req = QueueRequest {
        target: nope(),
        priority: None,
        at: None,
        requested_by: None,
    };
    let queued = rig.ask(|tx| Command::Queue(req, tx)).await;
    assert_eq!(queued, Err(Refusal::UnknownBulletin("nope".into())));
    let req = EmergencyRequest {
        target: nope(),
        repeat: Some(Repetition {
            every: Duration::minutes(30),
            until: None,
        }),
        requested_by: None,
    };
    let emergency = rig.ask(|tx| Command::Emergency(req, tx)).await;
    assert_eq!(emergency, Err(Refusal::UnknownBulletin("nope".into())));
    assert_eq!(
        rig.ask(|tx| Command::Dequeue(999, tx)).await,
        Err(Refusal::NotInQueue(999))
    );
    assert_eq!(
        rig.ask(|tx| Command::Skip(By::token("op"), tx)).await,
        Err(Refusal::NothingAiring)
    );
    assert_eq!(
        rig.ask(|tx| Command::CancelEmergency(By::token("op"), tx))
            .await,
        Err(Refusal::NoEmergency)
    );
    assert!(rig.handle.status.borrow().emergency.is_none());
    let rows = rig.stop().await;
    assert!(rows.is_empty(), "{:?}", outcomes(&rows));
}

/// The province's emergency is the station's like any other: it cuts what
/// airs, is recorded as the province's (its occurrence names the
/// broadcast), and an operator stops it and its repeats here.
#[tokio::test(start_paused = true)]
async fn the_provinces_emergency_cuts_in_and_an_operator_stops_it_here() {
    let (_dir, rig) = start_at(at(5, 59, 55));
    rig.run_for(25).await; // a has aired 20 s
    let target = Target::File {
        file: "tinh/abc.mp3".into(),
        path: "/srv/loa/audio/tinh/abc.mp3".into(),
        seconds: 15.0,
        title: Some("Bão số 3".into()),
        tag: Some("b1".into()),
    };
    let req = EmergencyRequest {
        target,
        repeat: Some(Repetition {
            every: Duration::minutes(30),
            until: None,
        }),
        requested_by: Some("So TTTT".into()),
    };
    rig.ask(|tx| Command::Emergency(req, tx)).await.unwrap();
    rig.run_for(5).await;
    rig.ask(|tx| Command::CancelEmergency(By::token("op"), tx))
        .await
        .unwrap();
    assert!(rig.handle.status.borrow().emergency.is_none());
    rig.run_for(65 * 60).await;
    let rows = rig.stop().await;
    let a = by_bulletin(&rows, "a");
    assert_eq!(a[0].outcome, Some(Outcome::Interrupted));
    let storm: Vec<_> = rows
        .iter()
        .filter(|r| r.occurrence.contains("/province:b1@"))
        .collect();
    assert_eq!(storm.len(), 1, "no repeat: {:?}", outcomes(&rows));
    assert_eq!(storm[0].source, Source::Province);
    assert!(storm[0].occurrence.starts_with("emergency:"), "{storm:?}");
    assert_eq!(storm[0].outcome, Some(Outcome::Interrupted), "stopped here");
    assert_eq!(storm[0].requested_by.as_deref(), Some("So TTTT"));
}
