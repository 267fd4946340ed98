//! Tests of the sink's recovery: streams rebuilt after transient errors, a
//! card that is gone, bounded rebuilds.

use super::fake_card::{FakeCard, Script};
use super::tests::finished;
use super::*;
use crate::audio::{testdata, Outcome, Player, PlayerOptions};

fn air(card: &FakeCard, lead: Duration) -> (f64, Outcome) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink = DeviceSink::with_backend("fake", Box::new(card.clone()));
    let player = Player::spawn(Box::new(sink), PlayerOptions::default(), tx).unwrap();
    let id = player.prepare(testdata("tone1s.wav"), Duration::from_secs(1));
    player.start_at(id, Instant::now() + lead);
    finished(&mut rx, id)
}

/// `script`'s failure costs one stream: the item airs whole (1 s) on the
/// second.
fn airs_whole_on_a_second_stream(script: Script, lead: Duration) {
    let card = FakeCard::scripted(&[script]);
    let (aired, outcome) = air(&card, lead);
    assert_eq!(outcome, Outcome::Completed);
    assert!((aired - 1.0).abs() < 0.01, "{aired}");
    assert_eq!(card.built.load(Ordering::Relaxed), 2);
}

#[test]
fn a_stream_that_fails_before_its_first_sample_is_built_again_and_the_item_airs() {
    let fails = Script::FailsAtOnce(cpal::ErrorKind::BackendError);
    airs_whole_on_a_second_stream(fails, Duration::from_millis(300));
}

#[test]
fn a_transient_error_mid_item_rebuilds_and_the_item_goes_on() {
    let fails = Script::FailsAfter(Duration::from_millis(400), cpal::ErrorKind::BackendError);
    airs_whole_on_a_second_stream(fails, Duration::ZERO);
}

#[test]
fn a_card_that_is_gone_still_fails_the_item() {
    let card = FakeCard::scripted(&[Script::FailsAfter(
        Duration::from_millis(300),
        cpal::ErrorKind::DeviceNotAvailable,
    )]);
    let (aired, outcome) = air(&card, Duration::ZERO);
    let Outcome::Failed(why) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        matches!(&why, crate::reason::Reason::DeviceFailed { error } if error.contains("not available")),
        "{why:?}"
    );
    assert!(aired < 0.5, "{aired}");
    assert_eq!(card.built.load(Ordering::Relaxed), 1);
}

#[test]
fn rebuilds_are_bounded() {
    let fails = Script::FailsAtOnce(cpal::ErrorKind::BackendError);
    let card = FakeCard::scripted(&[fails; 10]);
    let (_, outcome) = air(&card, Duration::ZERO);
    assert!(
        matches!(&outcome, Outcome::Failed(crate::reason::Reason::DeviceFailed { error }) if error.contains("built again")),
        "{outcome:?}"
    );
    assert_eq!(
        card.built.load(Ordering::Relaxed),
        1 + MAX_REBUILDS as usize
    );
}
