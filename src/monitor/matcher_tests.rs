use super::*;

/// A speech-like envelope: syllables of varying loudness, short pauses.
fn programme(frames: usize, seed: u64) -> Vec<f32> {
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 1000) as f32 / 1000.0
    };
    (0..frames)
        .map(|i| {
            if i % 23 > 19 {
                0.0005
            } else {
                0.02 + 0.2 * next()
            }
        })
        .collect()
}

/// Air `sent` from frame `start`; the line carries `line(frame, sent
/// level at frame - delay)`. Returns heard frames among the sent ones.
fn run(
    m: &mut Matcher,
    start: i64,
    sent: &[f32],
    delay: i64,
    line: impl Fn(i64, Option<f32>) -> f32,
) -> u64 {
    let end = start + sent.len() as i64;
    for f in start - 50..end + LAG + 10 {
        if let Some(l) = sent.get((f - start) as usize).filter(|_| f >= start) {
            m.sent(f, *l);
        }
        let back = f - delay;
        let s = (back >= start && back < end).then(|| sent[(back - start) as usize]);
        m.captured(f, line(f, s));
    }
    m.heard(start, end)
}

fn noise(f: i64) -> f32 {
    0.002 * ((f * 7919 % 13) as f32 / 13.0)
}

#[test]
fn a_good_line_is_heard_with_delay_noise_and_gain() {
    let sent = programme(300, 7);
    for delay in [0, 3, 12, 20] {
        let mut m = Matcher::new(100);
        let heard = run(&mut m, 1_000_000, &sent, delay, |f, s| {
            // Half the level, and noise 20 dB below the programme.
            0.5 * s.unwrap_or(0.0) + 0.01 + 0.3 * noise(f) * 5.0
        });
        assert!(heard >= 294, "delay {delay}: heard {heard} of 300");
        assert_eq!(m.delay(), delay);
        assert_eq!(m.state(), LineState::default());
    }
}

#[test]
fn a_dead_line_or_another_programme_is_not_heard() {
    let sent = programme(300, 7);
    let other = programme(600, 99);
    let mut m = Matcher::new(100);
    let heard = run(&mut m, 5000, &sent, 0, |f, _| noise(f) * 0.1);
    assert_eq!(heard, 0);
    let mut m = Matcher::new(100);
    let heard = run(&mut m, 5000, &sent, 0, |f, _| other[(f - 4900) as usize]);
    assert!(heard < 30, "heard {heard} of 300 from another programme");
}

#[test]
fn silence_while_airing_raises_the_alarm_after_its_time_and_sound_clears_it() {
    let sent = programme(400, 3);
    let mut m = Matcher::new(20);
    let start = 10_000;
    let mut raised = None;
    for f in start..start + 400 {
        m.sent(f, sent[(f - start) as usize]);
        // The amplifier goes off at frame 100.
        let line = if f - start < 100 {
            sent[(f - start) as usize]
        } else {
            0.0
        };
        m.captured(f, line);
        if m.state().silent && raised.is_none() {
            raised = Some(f - start);
        }
    }
    // 2 s of silence (20 frames: 100 to 119) while the programme sounds
    // (its pauses within the last 2 s count: the line may lag that much).
    let raised = raised.expect("the alarm rose");
    assert_eq!(raised, 119);
    m.captured(start + 400, 0.1);
    assert!(!m.state().silent);
}

#[test]
fn sound_while_nothing_airs_for_30_s_is_foreign_until_the_line_is_quiet() {
    let mut m = Matcher::new(100);
    // Speech: a second of sound, half a second of pause.
    let speech = |f: i64| if f % 15 < 10 { 0.05 } else { 0.0 };
    for f in 0..FOREIGN_FRAMES as i64 - 1 {
        m.captured(f, speech(f));
    }
    assert!(!m.state().foreign);
    m.captured(FOREIGN_FRAMES as i64, 0.05);
    assert!(m.state().foreign);
    let quiet = FOREIGN_FRAMES as i64 + 1;
    for f in quiet..quiet + QUIET_FRAMES as i64 - 1 {
        m.captured(f, 0.0);
    }
    assert!(m.state().foreign, "a pause is not the end");
    m.captured(quiet + QUIET_FRAMES as i64, 0.0);
    assert!(!m.state().foreign);
}

#[test]
fn a_clock_jump_starts_over_without_deciding_the_gap() {
    let mut m = Matcher::new(100);
    m.captured(0, 0.0);
    m.captured(10_000_000, 0.0);
    assert_eq!(m.decided(), Some(10_000_000));
    m.captured(10, 0.0);
    assert_eq!(m.decided(), Some(10));
}
