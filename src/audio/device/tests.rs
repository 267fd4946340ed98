//! Tests of the sound-card sink: real-time silence and the real ALSA path
//! through a file PCM.

use super::*;
use crate::audio::{testdata, Event, Outcome, Player, PlayerOptions};

/// A device that does not pace: once callbacks have run more than the
/// card's buffer ahead of the wall clock, silent ones are slowed to it
/// (a lower bound, which a busy machine only makes longer).
#[test]
fn silence_on_a_device_that_does_not_pace_goes_out_in_real_time() {
    let format = Format {
        rate: 1000,
        channels: 1,
    };
    let mut feed = Feed::new(Arc::new(Shared::new(format)), format);
    let t0 = Instant::now();
    for _ in 0..10 {
        feed.pace(100, Fed::Samples);
    }
    for _ in 0..10 {
        feed.pace(100, Fed::Silence);
    }
    // 2 s asked in all; up to two periods and the slack may run ahead.
    let floor = Duration::from_secs(2) - PERIOD * 2 - UNPACED_SLACK;
    assert!(t0.elapsed() >= floor, "{:?} for 2 s of audio", t0.elapsed());
}

/// The whole ALSA path without a sound card: a PCM of `type file` over
/// the `null` PCM, defined in the `.asoundrc` of a temporary `HOME`,
/// captures what cpal wrote. (Not for timing: `null` does not pace.)
/// ALSA reads `HOME` from the environment, and setting it in a running,
/// multi-threaded test process is unsound, so the test runs itself again
/// as a child process with `HOME` set from the start.
#[test]
fn real_alsa_path_through_a_file_pcm() {
    const CHILD: &str = "LOA_ALSA_TEST_CAPTURE";
    let Some(raw) = std::env::var_os(CHILD).map(std::path::PathBuf::from) else {
        let home = tempfile::tempdir().unwrap();
        let raw = home.path().join("captured.raw");
        std::fs::write(
                home.path().join(".asoundrc"),
                format!(
                    "pcm.loa_capture {{\n type file\n slave.pcm \"null\"\n file \"{}\"\n format \"raw\"\n}}\n",
                    raw.display()
                ),
            )
            .unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "audio::device::tests::real_alsa_path_through_a_file_pcm",
                "--nocapture",
            ])
            .env("HOME", home.path())
            .env(CHILD, &raw)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the ALSA child failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The child ran the test, not nothing.
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        return;
    };

    // A card that does not exist: the error says how to choose one.
    let err = DeviceSink::new("loa-no-such-card")
        .open(Format {
            rate: 8000,
            channels: 1,
        })
        .unwrap_err();
    assert!(err.message.contains("aplay -L"), "{err}");
    assert!(err.message.contains("kind = \"wav\""), "{err}");

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let player = Player::spawn(
        Box::new(DeviceSink::new("loa_capture")),
        PlayerOptions::default(),
        tx,
    )
    .unwrap();
    let id = player.play(testdata("tone1s.wav"), Duration::from_secs(1));
    let (aired, outcome) = finished(&mut rx, id);
    assert_eq!(outcome, Outcome::Completed);
    assert!((aired - 1.0).abs() < 0.01, "{aired}");
    drop(player); // closes the stream, flushing the capture file
    let bytes = std::fs::read(&raw).unwrap();
    // At least a second of 8-bit mono; the tone is not all silence.
    assert!(bytes.len() >= 8000, "{}", bytes.len());
    assert!(bytes.iter().filter(|&&b| b != 0 && b != 0x80).count() > 1000);
}

/// Wait (at most 20 s) for item `id`'s `Finished`: its seconds and outcome.
pub(super) fn finished(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    id: crate::audio::PlayId,
) -> (f64, Outcome) {
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        match rx.try_recv() {
            Ok(Event::Finished {
                id: i,
                aired_seconds,
                end: outcome,
            }) if i == id => return (aired_seconds, outcome),
            Ok(_) => {}
            Err(_) => {
                assert!(Instant::now() < give_up, "no Finished");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}
