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

#[test]
fn a_stream_that_fails_before_its_first_sample_is_built_again_and_the_item_airs() {
    let card = FakeCard::scripted(&[Script::FailsAtOnce(cpal::ErrorKind::BackendError)]);
    let (aired, outcome) = air(&card, Duration::from_millis(300));
    assert_eq!(outcome, Outcome::Completed);
    assert!((aired - 1.0).abs() < 0.01, "{aired}");
    assert_eq!(card.built.load(Ordering::Relaxed), 2);
}

#[test]
fn a_transient_error_mid_item_rebuilds_and_the_item_goes_on() {
    let card = FakeCard::scripted(&[Script::FailsAfter(
        Duration::from_millis(400),
        cpal::ErrorKind::BackendError,
    )]);
    let (aired, outcome) = air(&card, Duration::ZERO);
    assert_eq!(outcome, Outcome::Completed);
    assert!((aired - 1.0).abs() < 0.01, "{aired}");
    assert_eq!(card.built.load(Ordering::Relaxed), 2);
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
