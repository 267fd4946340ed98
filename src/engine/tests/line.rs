//! The line: programmes back to back, priorities, emergencies cutting in,
//! quiet hours, session caps, typed notices, a busy line.

use super::*;

#[tokio::test(start_paused = true)]
async fn programme_plays_back_to_back_then_scheduled_items_by_file_order() {
    let (_dir, rig) = start_at(at(5, 29, 50));
    rig.run_for(40 * 60).await;
    let played = rig.played();
    let starts: Vec<DateTime<Utc>> = rig.fake.played().iter().map(|p| p.1).collect();
    let rows = rig.stop().await;
    assert_eq!(
        played,
        ["jingle.mp3", "a.mp3", "jingle.mp3", "a.mp3", "b.mp3"],
        "{:?}",
        outcomes(&rows)
    );
    // On time, and back to back.
    assert_eq!(starts[0], at(5, 30, 0));
    assert_eq!(starts[1], at(5, 30, 5));
    assert_eq!(starts[2], at(5, 31, 5));
    assert_eq!(starts[3], at(6, 0, 0));
    assert_eq!(starts[4], at(6, 1, 0), "b waits for a, within its grace");
    assert!(rows.iter().all(|r| r.outcome == Some(Outcome::Completed)));
    let prog: Vec<_> = rows.iter().filter(|r| r.program.is_some()).collect();
    assert_eq!(prog.len(), 3);
    assert_eq!(
        prog[0].occurrence,
        "morning/jingle@2026-10-07T05:30:00.000+07:00"
    );
    assert_eq!(
        prog[2].occurrence,
        "morning/jingle#2@2026-10-07T05:30:00.000+07:00"
    );
    assert_eq!(
        rows[3].started_at.as_deref(),
        Some("2026-10-07T06:00:00.000+07:00")
    );
    assert_eq!(rows[3].aired_seconds, 60.0);
}

#[tokio::test(start_paused = true)]
async fn an_item_past_the_session_cap_is_skipped_unless_an_emergency() {
    let dir = tempfile::tempdir().unwrap();
    // A one-minute cap: the morning programme (jingle 5 s, a 60 s, jingle
    // 5 s) cannot air `a`; the jingle after it still fits. An emergency
    // programme of the same items is never held back.
    let text = STATION.replace("[quiet]", "[session]\nmax_minutes = 1\n[quiet]")
        + "[[program]]\nid = \"storm-prog\"\ntitle = \"Storm\"\nat = [\"07:00\"]\n\
           priority = \"emergency\"\nitems = [\"jingle\", \"a\", \"jingle\"]\n";
    let rig = start(station(dir.path(), &text), TestClock::new(at(5, 29, 50)));
    rig.run_for(100 * 60).await;
    let played = rig.played();
    let rows = rig.stop().await;
    let morning: Vec<_> = rows
        .iter()
        .filter(|r| r.program.as_deref() == Some("morning"))
        .collect();
    let got: Vec<_> = morning
        .iter()
        .map(|r| (r.bulletin.as_str(), r.outcome))
        .collect();
    assert_eq!(
        got,
        [
            ("jingle", Some(Outcome::Completed)),
            ("a", Some(Outcome::Skipped)),
            ("jingle", Some(Outcome::Completed)),
        ],
        "{:?}",
        outcomes(&rows)
    );
    assert_eq!(
        reason_of(morning[1]),
        &Reason::SessionCap {
            programme: "morning".into(),
            cap_seconds: 60.0,
            used_seconds: 5.0,
            item_seconds: 60.0
        }
    );
    // The emergency programme aired whole; the standalone a and b too.
    let storm: Vec<_> = rows
        .iter()
        .filter(|r| r.program.as_deref() == Some("storm-prog"))
        .collect();
    assert_eq!(storm.len(), 3);
    assert!(storm.iter().all(|r| r.outcome == Some(Outcome::Completed)));
    assert_eq!(played.iter().filter(|p| *p == "a.mp3").count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_typed_notice_waits_for_its_audio_and_a_failed_one_is_recorded_failed() {
    let dir = tempfile::tempdir().unwrap();
    let text = STATION.to_string()
        + "[[bulletin]]\nid = \"hop\"\ntitle = \"Họp\"\ntext = \"Họp lúc 17:30\"\nat = [\"06:00\"]\n\
           [[bulletin]]\nid = \"treo\"\ntitle = \"Treo\"\ntext = \"Không đọc được\"\nat = [\"06:00\"]\n";
    let mut s = station(dir.path(), &text);
    // Not read aloud yet, as at the daemon's start.
    for b in s.bulletins.iter_mut().filter(|b| b.text.is_some()) {
        b.audio = None;
    }
    let rig = start(s.clone(), TestClock::new(at(5, 59, 50)));
    // a (60 s) and b (30 s) air; the notices wait.
    rig.run_for(3 * 60).await;
    assert_eq!(rig.played(), ["a.mp3", "b.mp3"]);
    // The background render ends: one read aloud, one failed.
    for b in s.bulletins.iter_mut() {
        match b.id.as_str() {
            "hop" => {
                b.audio = Some(AudioInfo {
                    seconds: 7.0,
                    ..AudioInfo::test_default()
                })
            }
            "treo" => b.tts_error = Some("the speech engine `x` did not finish within 30s".into()),
            _ => {}
        }
    }
    rig.handle
        .commands
        .send(Command::Reload(Arc::new(s)))
        .await
        .unwrap();
    rig.run_for(60).await;
    let played = rig.played();
    let rows = rig.stop().await;
    assert_eq!(played.len(), 3, "{played:?}");
    assert!(played[2].ends_with(".wav"), "{played:?}");
    let hop = by_bulletin(&rows, "hop");
    assert_eq!(hop[0].outcome, Some(Outcome::Completed));
    assert_eq!(hop[0].aired_seconds, 7.0);
    let treo = by_bulletin(&rows, "treo");
    assert_eq!(treo[0].outcome, Some(Outcome::Failed));
    assert_eq!(
        reason_of(treo[0]),
        &Reason::SpeechFailed {
            error: "the speech engine `x` did not finish within 30s".into()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_notice_never_read_aloud_within_its_grace_is_missed_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let text = STATION.to_string()
        + "[[bulletin]]\nid = \"hop\"\ntitle = \"Họp\"\ntext = \"Họp\"\nat = [\"07:00\"]\ngrace = \"1m\"\n";
    let mut s = station(dir.path(), &text);
    s.bulletins.last_mut().unwrap().audio = None;
    let rig = start(s, TestClock::new(at(6, 59, 0)));
    rig.run_for(3 * 60).await;
    let rows = rig.stop().await;
    let hop = by_bulletin(&rows, "hop");
    assert_eq!(hop[0].outcome, Some(Outcome::Missed));
    assert!(
        matches!(
            reason_of(hop[0]),
            Reason::NoticeNotReady {
                grace_seconds: 60,
                ..
            }
        ),
        "{:?}",
        hop[0].reason
    );
}

#[tokio::test(start_paused = true)]
async fn line_busy_past_grace_is_missed() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = station(dir.path(), STATION);
    // a lasts 3 minutes; b's grace is 2 minutes.
    s.bulletins[0].audio.as_mut().unwrap().seconds = 180.0;
    let rig = start(s, TestClock::new(at(5, 59, 0)));
    rig.run_for(10 * 60).await;
    let rows = rig.stop().await;
    let b = by_bulletin(&rows, "b");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].outcome, Some(Outcome::Missed));
    assert!(
        matches!(reason_of(b[0]), Reason::LineBusy { .. }),
        "{:?}",
        b[0].reason
    );
    assert!(b[0].started_at.is_none());
}

#[tokio::test(start_paused = true)]
async fn priority_goes_first_but_does_not_interrupt() {
    let (_dir, rig) = start_at(at(5, 59, 55));
    rig.run_for(10).await; // a airs from 06:00, b waits
    let req = QueueRequest {
        target: Target::Bulletin("pri".into()),
        priority: None,
        at: None,
        requested_by: Some("van-hoa".into()),
    };
    let view = rig.ask(|tx| Command::Queue(req, tx)).await.unwrap();
    assert_eq!(view.priority, Priority::Priority);
    rig.run_for(5 * 60).await;
    assert_eq!(rig.played(), ["a.mp3", "pri.mp3", "b.mp3"]);
    let rows = rig.stop().await;
    let pri = by_bulletin(&rows, "pri");
    assert_eq!(pri[0].requested_by.as_deref(), Some("van-hoa"));
    assert_eq!(pri[0].source, Source::Operator);
    assert!(rows.iter().all(|r| r.outcome == Some(Outcome::Completed)));
}

#[tokio::test(start_paused = true)]
async fn emergency_interrupts_and_the_interrupted_item_is_not_replayed() {
    let (_dir, rig) = start_at(at(5, 59, 55));
    rig.run_for(25).await; // a has aired 20 s
    rig.ask(|tx| Command::Emergency(storm_until(at(7, 0, 0)), tx))
        .await
        .unwrap();
    rig.run_for(70 * 60).await;
    let rows = rig.stop().await;
    let a = by_bulletin(&rows, "a");
    assert_eq!(a.len(), 1, "not replayed: {:?}", outcomes(&rows));
    assert_eq!(a[0].outcome, Some(Outcome::Interrupted));
    assert_eq!(
        reason_of(a[0]),
        &Reason::InterruptedByEmergency {
            bulletin: "storm".into(),
            title: "Storm".into()
        }
    );
    assert!(
        (a[0].aired_seconds - 20.0).abs() < 1.0,
        "{}",
        a[0].aired_seconds
    );
    let storms = by_bulletin(&rows, "storm");
    // At once, then every 30 minutes until 07:00: 06:00:20, 06:30:20.
    assert_eq!(storms.len(), 2, "{:?}", outcomes(&rows));
    assert!(storms.iter().all(|r| r.outcome == Some(Outcome::Completed)));
    assert_eq!(storms[0].source, Source::Emergency);
    // b waited behind the emergency and still aired within its grace.
    assert_eq!(by_bulletin(&rows, "b")[0].outcome, Some(Outcome::Completed));
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_emergency_cuts_in_so_its_first_sample_is_on_its_instant() {
    let dir = tempfile::tempdir().unwrap();
    let text = storm_at("06:00:30");
    let rig = start(station(dir.path(), &text), TestClock::new(at(5, 59, 55)));
    // Stopping takes the real player's longest fade.
    rig.fake.set_fade(crate::audio::MAX_FADE);
    rig.run_for(60).await;
    let rows = rig.stop().await;
    let storm = by_bulletin(&rows, "storm");
    let a = by_bulletin(&rows, "a");
    let instant = at(6, 0, 30);
    // Cut early enough that the fade has ended at the instant, and the
    // emergency's first sample is on it (the fake starts cues exactly).
    let started = parse(storm[0].started_at.as_deref().unwrap());
    assert_eq!(started, instant, "{:?}", outcomes(&rows));
    assert_eq!(a[0].outcome, Some(Outcome::Interrupted));
    let cut = parse(a[0].ended_at.as_deref().unwrap());
    assert!(
        cut <= instant && instant - cut <= Duration::seconds(1),
        "a was cut at {cut}, the emergency is at {instant}"
    );
}

#[tokio::test(start_paused = true)]
async fn emergency_ignores_quiet_hours_normal_items_are_skipped_there() {
    let (_dir, rig) = start_at(at(22, 0, 0));
    for (target, prio) in [("a", None), ("storm", None)] {
        let req = QueueRequest {
            target: Target::Bulletin(target.into()),
            priority: prio,
            at: None,
            requested_by: Some("op".into()),
        };
        rig.ask(|tx| Command::Queue(req, tx)).await.unwrap();
    }
    rig.run_for(60).await;
    let rows = rig.stop().await;
    assert_eq!(
        by_bulletin(&rows, "storm")[0].outcome,
        Some(Outcome::Completed)
    );
    let a = by_bulletin(&rows, "a");
    assert_eq!(a[0].outcome, Some(Outcome::Skipped));
    assert_eq!(reason_of(a[0]), &Reason::QuietHours);
}
