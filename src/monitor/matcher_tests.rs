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

#[test]
fn a_player_that_fell_behind_is_heard_for_every_frame_it_sent() {
    // 50 frames aired; the player fell behind twice (silence aired where
    // nothing was sent), so they went out over 56 frames.
    let sent = programme(50, 11);
    let start = 2_000_000;
    let stamped: Vec<(i64, f32)> = sent
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let i = i as i64;
            let late = if i >= 30 {
                6
            } else if i >= 10 {
                3
            } else {
                0
            };
            (start + i + late, *l)
        })
        .collect();
    let delay = 4;
    let mut m = Matcher::new(100);
    for f in start - 50..start + 56 + LAG + 20 {
        if let Some((_, l)) = stamped.iter().find(|(at, _)| *at == f) {
            m.sent(f, *l);
        }
        let line = stamped
            .iter()
            .find(|(at, _)| *at == f - delay)
            .map_or(0.0, |(_, l)| *l);
        m.captured(f, line + 0.001);
    }
    let (heard, last) = m.heard_of(start, 50);
    assert!(last, "every verdict is in");
    // Counted over the nominal 50 frames (as before), the 6 frames never
    // sent and the 6 that went out past the nominal end were lost.
    assert!(m.heard(start, start + 50) <= 44);
    assert!(heard >= 48, "heard {heard} of 50 sent");
}

#[test]
fn frames_decided_before_the_delay_was_found_are_decided_again_with_it() {
    // The first item is a steady tone: its envelope is flat, so no delay
    // can be found on it, and its frames are decided with lag 0 after the
    // wait: the line, 1.2 s late, is silent at lag 0 for its first frames.
    let delay = 12;
    let tone = [0.1f32; 50];
    let speech = programme(100, 5);
    let (first, second) = (3_000_000, 3_000_150);
    let mut m = Matcher::new(1000);
    let sent_at = |f: i64| {
        if (first..first + 50).contains(&f) {
            Some(tone[(f - first) as usize])
        } else if (second..second + 100).contains(&f) {
            Some(speech[(f - second) as usize])
        } else {
            None
        }
    };
    for f in first - 50..second {
        if let Some(l) = sent_at(f) {
            m.sent(f, l);
        }
        m.captured(f, sent_at(f - delay).unwrap_or(0.0));
    }
    let (heard, last) = m.heard_of(first, 50);
    assert!(!last, "frames decided without the delay are not final yet");
    assert!(
        heard <= 40,
        "heard {heard}: the tone's start is not heard at lag 0"
    );
    // The second item, speech, gives the delay: the tone's frames are
    // decided again with it.
    for f in second..second + 100 + LAG {
        if let Some(l) = sent_at(f) {
            m.sent(f, l);
        }
        m.captured(f, sent_at(f - delay).unwrap_or(0.0));
    }
    assert_eq!(m.delay(), delay);
    assert_eq!(m.heard_of(first, 50), (50, true));
    let (heard, last) = m.heard_of(second, 100);
    assert!(last && heard >= 98, "heard {heard} of the speech");
}

#[test]
fn a_line_whose_delay_moves_mid_item_is_heard_on_both_sides_of_the_move() {
    // 300 ms late, then 600 ms from frame 150 on (the player fell behind
    // after the frames it had stamped went out; a resynced transmitter),
    // with noise: the frames whose window straddles the move follow on
    // one side of it only. Without looking at the halves, 294 here.
    let sent = programme(300, 21);
    let start = 4_000_000;
    let mut m = Matcher::new(100);
    let mut x = 12345u64;
    for f in start - 50..start + 300 + LAG + 20 {
        if let Some(l) = sent.get((f - start) as usize).filter(|_| f >= start) {
            m.sent(f, *l);
        }
        let delay = if f - start < 153 { 3 } else { 6 };
        let back = f - delay;
        let line = (back >= start && back < start + 300).then(|| sent[(back - start) as usize]);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let noise = (x % 1000) as f32 / 1000.0 * 0.1;
        m.captured(f, 0.5 * line.unwrap_or(0.0) + noise);
    }
    let (heard, last) = m.heard_of(start, 300);
    assert!(last);
    assert!(heard >= 298, "heard {heard} of 300");
}

#[test]
fn frames_decided_at_a_delay_a_later_search_betters_are_decided_again() {
    // The station's first item, from a player that fell behind at its start:
    // its first 4 s reach the line 1.9 s after their stamps, the rest
    // 200 ms after. The first search, on those 4 s, finds 1.9 s; the frames
    // decided at it after the line caught up are decided again once a
    // later search finds 200 ms.
    let sent = programme(200, 41);
    let start = 6_000_000;
    let mut m = Matcher::new(1000);
    let sent_at = |f: i64| {
        (start..start + 200)
            .contains(&f)
            .then(|| sent[(f - start) as usize])
    };
    for f in start - 50..start + 200 + LAG + 40 {
        if let Some(l) = sent_at(f) {
            m.sent(f, l);
        }
        let line = [19, 2]
            .iter()
            .filter_map(|d| sent_at(f - d).filter(|_| (f - d < start + 40) == (*d == 19)))
            .fold(0.0, f32::max);
        m.captured(f, line);
    }
    assert_eq!(m.delay(), 2);
    let (heard, last) = m.heard_of(start, 200);
    assert!(last && heard >= 190, "heard {heard} of 200");
}

#[test]
fn frames_sent_just_before_the_capture_starts_are_judged_and_withdrawn_ones_are_not() {
    let sent = programme(100, 13);
    let (start, delay) = (7_000_000, 2);
    let sent_at = |f: i64| {
        (start..start + 100)
            .contains(&f)
            .then(|| sent[(f - start) as usize])
    };
    let air = |m: &mut Matcher, capture_from: i64| {
        for f in start - 60..start + 100 + LAG + 40 {
            if let Some(l) = sent_at(f) {
                m.sent(f, l);
            }
            if f >= capture_from {
                m.captured(f, sent_at(f - delay).map_or(0.0005, |l| l + 0.0005));
            }
        }
        m.heard_of(start - 30, 100)
    };
    // A capture that, as a sound server's does, delivers its first frame
    // only once the line carries the programme.
    let mut m = Matcher::new(1000);
    let (heard, last) = air(&mut m, start + delay + 2);
    assert!(last && heard >= 98, "heard {heard} of 100");
    // The tap stamped the item's first frames 3 s early, then withdrew
    // them (the output started late) and sent them again at their place.
    let mut m = Matcher::new(1000);
    for (i, l) in sent[..5].iter().enumerate() {
        m.sent(start - 30 + i as i64, *l);
    }
    for i in 0..5 {
        m.withdrawn(start - 30 + i);
    }
    let (heard, last) = air(&mut m, start - 60);
    assert!(last && heard >= 98, "heard {heard} of 100");
}
