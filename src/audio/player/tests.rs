//! Tests of the player thread: outputs, pacing, fades, device failures,
//! deadlines, preparation off the thread.

use super::prepare::level_of;
use super::*;
use crate::audio::{testdata, FakeFailure, FakeSink, FakeStats, NullSink, WavSink};
use crate::media::faults::{copy_with_fault, Fault};
use std::time::SystemTime;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

#[test]
fn a_short_file_not_measured_yet_is_measured_while_prepared_a_long_one_later() {
    let dir = tempfile::tempdir().unwrap();
    let leveling = Leveling {
        target_lufs: -16.0,
        cache: crate::audio::loudness::cache(dir.path()),
    };
    let request = |name: &str, expected: Duration| {
        let path = dir.path().join(name);
        std::fs::copy(testdata("tone1s.wav"), &path).unwrap();
        Request {
            id: PlayId(1),
            path,
            expected,
            relay: None,
        }
    };
    let short = request("short.wav", Duration::from_secs(1));
    let measured = level_of(&leveling, &short).expect("measured at once");
    assert_eq!(leveling.cache.lookup(&short.path), Some(measured));
    // Too long to measure while preparing: as recorded now, queued for
    // the background thread.
    let long = request("long.wav", Duration::from_secs(3600));
    assert_eq!(level_of(&leveling, &long), None);
}

const TONE5: Duration = Duration::from_secs(5);
const TONE1: Duration = Duration::from_secs(1);

/// The player plays a whole 1 s tone (after whatever went wrong before).
fn plays_a_tone(player: &Player, rx: &mut UnboundedReceiver<Event>) {
    let id = player.play(testdata("tone1s.wav"), TONE1);
    assert_eq!(until_finished(rx, id).2, Outcome::Completed);
}

fn spawn(sink: impl Sink + 'static, options: PlayerOptions) -> (Player, UnboundedReceiver<Event>) {
    let (tx, rx) = unbounded_channel();
    (Player::spawn(Box::new(sink), options, tx).unwrap(), rx)
}

/// A player on a fake card (`realtime`: paced like a real one) that
/// vanishes after 1 s of audio, and the card's counters.
fn spawn_vanishing(realtime: bool) -> (Arc<FakeStats>, Player, UnboundedReceiver<Event>) {
    let fake = FakeSink::new(realtime).failing(FakeFailure::Vanish {
        after: Duration::from_secs(1),
    });
    let stats = fake.stats();
    let (player, rx) = spawn(fake, PlayerOptions::default());
    (stats, player, rx)
}

/// A paced fake card that stops taking audio `after` this much.
fn stalling(after: Duration) -> FakeSink {
    FakeSink::new(true).failing(FakeFailure::Stall { after })
}

/// Events up to and including `id`'s `Finished`; panics after 20 s so
/// a hanging player fails the test instead of hanging it.
fn until_finished(rx: &mut UnboundedReceiver<Event>, id: PlayId) -> (Vec<Event>, f64, Outcome) {
    let give_up = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(e) => {
                if let Event::Finished {
                    id: i,
                    aired_seconds,
                    end: outcome,
                } = &e
                {
                    if *i == id {
                        let (a, o) = (*aired_seconds, outcome.clone());
                        seen.push(e);
                        return (seen, a, o);
                    }
                }
                seen.push(e);
            }
            Err(_) => {
                assert!(Instant::now() < give_up, "no Finished for {id:?}: {seen:?}");
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

#[test]
fn wav_output_records_what_aired_and_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aired.wav");
    let (player, mut rx) = spawn(WavSink::new(&path, false), PlayerOptions::default());
    let id = player.play(testdata("tone5s.mp3"), TONE5);
    let (events, aired, outcome) = until_finished(&mut rx, id);
    assert_eq!(outcome, Outcome::Completed);
    assert!((aired - 5.0).abs() < 0.1, "{aired}");
    assert!(matches!(events[0], Event::Started { .. }), "{events:?}");
    let progress = events
        .iter()
        .filter(|e| matches!(e, Event::Progress { .. }))
        .count();
    assert!((4..=5).contains(&progress), "{events:?}");
    let (format, frames) = crate::audio::read_wav_info(&path).unwrap();
    assert_eq!(
        format,
        Format {
            rate: 22050,
            channels: 1
        }
    );
    assert!((format.seconds(frames) - 5.0).abs() < 0.1);

    // The next item (8 kHz) is converted into the file's format.
    let id = player.play(testdata("tone1s.wav"), TONE1);
    let (_, aired, outcome) = until_finished(&mut rx, id);
    assert_eq!(outcome, Outcome::Completed);
    assert!((aired - 1.0).abs() < 0.01, "{aired}");
    let (_, total) = crate::audio::read_wav_info(&path).unwrap();
    assert!((format.seconds(total) - 6.0).abs() < 0.1);
}

#[test]
fn realtime_pace_takes_the_audio_duration_and_fast_does_not() {
    let timed = |realtime| {
        let (player, mut rx) = spawn(NullSink::new(realtime), PlayerOptions::default());
        let t = Instant::now();
        let id = player.play(testdata("tone1s.wav"), TONE1);
        let (_, aired, outcome) = until_finished(&mut rx, id);
        assert_eq!(outcome, Outcome::Completed);
        assert!((aired - 1.0).abs() < 0.01);
        t.elapsed()
    };
    // Paced: never faster than the audio, a lower bound no busy machine
    // breaks. Fast: five seconds of audio in less than five seconds,
    // which pacing could never do; the margin is two orders of magnitude.
    let real = timed(true);
    assert!(real >= Duration::from_millis(990), "{real:?}");
    let (player, mut rx) = spawn(NullSink::new(false), PlayerOptions::default());
    let t = Instant::now();
    let id = player.play(testdata("tone5s.mp3"), TONE5);
    let (_, aired, outcome) = until_finished(&mut rx, id);
    assert_eq!(outcome, Outcome::Completed);
    assert!((aired - 5.0).abs() < 0.1, "{aired}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "fast was paced: {:?}",
        t.elapsed()
    );
}

#[test]
fn stop_fades_out_within_half_a_second_of_audio() {
    let fake = FakeSink::new(true);
    let (player, mut rx) = spawn(fake, PlayerOptions::default());
    let id = player.play(testdata("tone5s.mp3"), TONE5);
    // Wait for a second of airtime, then stop with a long fade.
    let mut at_stop = 0.0;
    while at_stop < 1.0 {
        if let Some(Event::Progress { aired_seconds, .. }) = rx.blocking_recv() {
            at_stop = aired_seconds;
        }
    }
    player.stop(Duration::from_secs(3));
    let (_, aired, outcome) = until_finished(&mut rx, id);
    assert_eq!(outcome, Outcome::Stopped);
    assert!(aired < 4.0, "{aired}");
    // Measured in audio, not wall clock: the fade is capped at 0.5 s
    // (plus the packet in flight when the stop arrived).
    assert!(aired - at_stop <= 0.5 + 0.1, "{at_stop} -> {aired}");
}

#[test]
fn vanished_device_fails_the_item_and_the_next_play_reopens() {
    let (stats, player, mut rx) = spawn_vanishing(false);
    let id = player.play(testdata("tone5s.mp3"), TONE5);
    let (_, aired, outcome) = until_finished(&mut rx, id);
    let Outcome::Failed(why) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        matches!(&why, Reason::DeviceFailed { error } if error.contains("not available")),
        "{why:?}"
    );
    assert!((1.0..1.2).contains(&aired), "{aired}");
    assert!(matches!(player.state(), OutputState::Failed { .. }));

    let id = player.play(testdata("tone1s.wav"), TONE1);
    let (_, _, outcome) = until_finished(&mut rx, id);
    assert_eq!(outcome, Outcome::Completed);
    assert_eq!(stats.opens.load(Ordering::Relaxed), 2);
    assert!(matches!(player.state(), OutputState::Open { .. }));
}

#[test]
fn an_item_prepared_before_the_output_failed_opens_it_again() {
    // Paced, so the second item is prepared (on the open output) while
    // the first still plays; then the output fails under the first.
    let (stats, player, mut rx) = spawn_vanishing(true);
    let first = player.play(testdata("tone5s.mp3"), TONE5);
    while !matches!(rx.blocking_recv(), Some(Event::Started { .. })) {}
    let second = player.prepare(testdata("tone1s.wav"), TONE1);
    let (_, _, outcome) = until_finished(&mut rx, first);
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    player.start_at(second, Instant::now());
    let (_, _, outcome) = until_finished(&mut rx, second);
    assert_eq!(outcome, Outcome::Completed);
    assert_eq!(stats.opens.load(Ordering::Relaxed), 2);
}

#[test]
fn stuck_device_is_caught_by_the_deadline() {
    let options = PlayerOptions {
        deadline_margin: Duration::from_millis(300),
        stall_timeout: Duration::from_secs(60),
        ..PlayerOptions::default()
    };
    let (player, mut rx) = spawn(stalling(Duration::from_millis(300)), options);
    let id = player.play(testdata("tone1s.wav"), TONE1);
    let (_, aired, outcome) = until_finished(&mut rx, id);
    let Outcome::Failed(why) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(matches!(why, Reason::OutputOverran { .. }), "{why:?}");
    assert!(aired < 0.5, "{aired}");
    assert!(player.ping(Duration::from_secs(1)));
}

#[test]
fn stuck_device_is_caught_by_the_stall_watchdog() {
    let options = PlayerOptions {
        stall_timeout: Duration::from_millis(200),
        ..PlayerOptions::default()
    };
    let (player, mut rx) = spawn(stalling(Duration::from_millis(200)), options);
    // Unknown length: only the watchdog can end it.
    let id = player.play(testdata("tone5s.mp3"), Duration::ZERO);
    let (_, _, outcome) = until_finished(&mut rx, id);
    assert!(
        matches!(&outcome, Outcome::Failed(Reason::OutputStalled { .. })),
        "{outcome:?}"
    );
}

#[test]
fn truncated_and_garbage_files_fail() {
    let (player, mut rx) = spawn(FakeSink::new(false), PlayerOptions::default());
    let id = player.play(testdata("truncated.mp3"), TONE5);
    let (_, aired, outcome) = until_finished(&mut rx, id);
    assert!(
        matches!(&outcome, Outcome::Failed(Reason::Truncated { .. })),
        "{outcome:?}"
    );
    assert!(aired > 1.0 && aired < 4.0, "{aired}");

    let id = player.play(testdata("random.mp3"), Duration::from_secs(1));
    let (_, aired, outcome) = until_finished(&mut rx, id);
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    assert!(aired < 0.5);

    let id = player.play(testdata("no-such-file.mp3"), TONE1);
    let (_, _, outcome) = until_finished(&mut rx, id);
    assert!(
        matches!(&outcome, Outcome::Failed(Reason::FileFailed { error }) if error.contains("cannot open")),
        "{outcome:?}"
    );

    // And the player still plays.
    plays_a_tone(&player, &mut rx);
}

#[test]
fn a_panic_while_decoding_fails_the_item_and_the_thread_goes_on() {
    // A file that passed its check, then was changed into one that
    // makes the audio library panic in the middle.
    let src = testdata("tone5s.mp3");
    let (_dir, broken) = copy_with_fault(&src, "changed.mp3", Fault::PanicAfterPackets(40));
    let (player, mut rx) = spawn(FakeSink::new(false), PlayerOptions::default());
    let id = player.play(&broken, TONE5);
    let (_, aired, outcome) = until_finished(&mut rx, id);
    assert!(
        matches!(&outcome, Outcome::Failed(Reason::FileFailed { error }) if error.contains("changed.mp3") && error.contains("failed while decoding")),
        "{outcome:?}"
    );
    assert!(aired > 0.5 && aired < 4.0, "{aired}");
    assert!(player.ping(Duration::from_secs(1)), "the audio thread died");
    plays_a_tone(&player, &mut rx);
}

#[test]
fn a_slow_file_is_prepared_off_the_audio_thread() {
    let src = testdata("tone1s.wav");
    let (_dir, slow) = copy_with_fault(&src, "slow.wav", Fault::SlowOpen(Duration::from_secs(4)));
    let (player, mut rx) = spawn(FakeSink::new(true), PlayerOptions::default());
    let playing = player.play(testdata("tone1s.wav"), TONE1);
    while !matches!(rx.blocking_recv(), Some(Event::Started { .. })) {}
    // Prepared mid-item, as a programme's next item is: the audio
    // thread goes on answering (and so moving samples) meanwhile. The
    // ping's wait is generous for a busy machine and still well short
    // of the open's 4 s, which a blocked thread would wait out.
    let next = player.prepare(&slow, TONE1);
    assert!(player.ping(Duration::from_secs(2)), "audio thread blocked");
    let (_, aired, outcome) = until_finished(&mut rx, playing);
    assert_eq!(outcome, Outcome::Completed);
    assert!((aired - 1.0).abs() < 0.01, "{aired}");
    // Started before its file is open, it airs once it is.
    player.start_at(next, Instant::now());
    let (events, _, outcome) = until_finished(&mut rx, next);
    assert_eq!(outcome, Outcome::Completed, "{events:?}");
    assert!(matches!(events[0], Event::Started { .. }), "{events:?}");
}

#[test]
fn start_at_is_never_early_and_reports_the_first_sample() {
    let (player, mut rx) = spawn(FakeSink::new(false), PlayerOptions::default());
    let id = player.prepare(testdata("tone1s.wav"), TONE1);
    let lead = Duration::from_millis(150);
    let (due, due_wall) = (Instant::now() + lead, SystemTime::now() + lead);
    player.start_at(id, due);
    let (events, _, outcome) = until_finished(&mut rx, id);
    assert_eq!(outcome, Outcome::Completed);
    let Some(Event::Started { at, .. }) = events.first() else {
        panic!("{events:?}")
    };
    let early = DateTime::<Utc>::from(due_wall) - *at;
    // Wall-clock and monotonic readings differ by microseconds.
    assert!(early.num_milliseconds() < 1, "started {early} early");
}

#[test]
fn volume_scales_what_airs_and_conversion_keeps_duration() {
    let energy = |volume| {
        let fake = FakeSink::new(false).fixed_format(Format {
            rate: 48000,
            channels: 2,
        });
        let stats = fake.stats();
        let options = PlayerOptions {
            volume,
            ..PlayerOptions::default()
        };
        let (player, mut rx) = spawn(fake, options);
        let id = player.play(testdata("tone1s.wav"), TONE1);
        let (_, aired, outcome) = until_finished(&mut rx, id);
        assert_eq!(outcome, Outcome::Completed);
        assert!((aired - 1.0).abs() < 0.01, "{aired}");
        let e = *stats.energy.lock().unwrap();
        e
    };
    let ratio = energy(0.5) / energy(1.0);
    assert!((ratio - 0.5).abs() < 0.01, "{ratio}");
}

#[test]
fn output_is_released_when_idle_and_ping_answers() {
    let options = PlayerOptions {
        idle_close: Duration::from_millis(100),
        ..PlayerOptions::default()
    };
    let (player, mut rx) = spawn(FakeSink::new(false), options);
    assert!(player.ping(Duration::from_secs(1)));
    assert_eq!(player.state(), OutputState::Idle);
    let id = player.play(testdata("tone1s.wav"), TONE1);
    let (events, _, _) = until_finished(&mut rx, id);
    // It was open while the item played (not read after Finished, when
    // a busy machine may already have passed the 100 ms idle close).
    assert!(
        matches!(events.first(), Some(Event::Started { .. })),
        "{events:?}"
    );
    let give_up = Instant::now() + Duration::from_secs(5);
    while player.state() != OutputState::Idle {
        assert!(Instant::now() < give_up, "output never released");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_new_prepare_or_stop_drops_the_prepared_item() {
    let (player, mut rx) = spawn(FakeSink::new(false), PlayerOptions::default());
    let a = player.prepare(testdata("tone1s.wav"), TONE1);
    let b = player.prepare(testdata("tone1s.wav"), TONE1);
    assert_eq!(until_finished(&mut rx, a).2, Outcome::Stopped);
    player.stop(Duration::ZERO);
    assert_eq!(until_finished(&mut rx, b).2, Outcome::Stopped);
    // Starting a dropped item does nothing.
    player.start_at(a, Instant::now());
    assert!(player.ping(Duration::from_secs(1)));
    assert!(rx.try_recv().is_err());
}
