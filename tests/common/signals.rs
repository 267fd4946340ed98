//! Test signals for the line monitor, as mono samples at `pulse::RATE`
//! (`pulse::wav` writes them): a speech-like programme (syllables of
//! varying pitch and loudness, pauses between words and sentences), pink
//! noise and a 50 Hz hum. Deterministic (a fixed xorshift), no tools.
//!
//! Tests use it as `#[path = "common/signals.rs"]`, benches as
//! `#[path = "../tests/common/signals.rs"]`.

#![allow(dead_code)]

use std::f64::consts::TAU;

const RATE: f64 = 44_100.0;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 1_000_000) as f64 / 1_000_000.0
    }
}

/// `seconds` of speech-like sound: syllables of 120-320 ms at 150-250 Hz
/// with harmonics up to 3 kHz, 0.15-0.6 of full scale, short gaps between
/// them and a longer pause every few syllables.
pub fn speech(seconds: f64, seed: u64) -> Vec<f64> {
    let n = (seconds * RATE) as usize;
    let mut rng = Rng(seed | 1);
    let mut out = Vec::with_capacity(n);
    let mut syllable = 0;
    while out.len() < n {
        let len = ((0.12 + 0.2 * rng.next()) * RATE) as usize;
        let pitch = 150.0 + 100.0 * rng.next();
        let level = 0.15 + 0.45 * rng.next();
        for i in 0..len {
            let t = i as f64 / RATE;
            // Rises and falls within the syllable.
            let env = (std::f64::consts::PI * i as f64 / len as f64).sin();
            let voice: f64 = (1..=12)
                .map(|h| (TAU * pitch * f64::from(h) * t).sin() / f64::from(h))
                .sum();
            out.push(level * env * voice * 0.5);
        }
        syllable += 1;
        let gap = if syllable % 5 == 0 {
            0.35
        } else {
            0.04 + 0.08 * rng.next()
        };
        out.extend(std::iter::repeat_n(0.0, (gap * RATE) as usize));
    }
    out.truncate(n);
    out
}

/// Root mean square of `x`.
pub fn rms(x: &[f64]) -> f64 {
    (x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// `seconds` of pink noise (Paul Kellet's filter) at RMS `level`.
pub fn pink(seconds: f64, level: f64, seed: u64) -> Vec<f64> {
    let mut rng = Rng(seed | 1);
    let mut b = [0.0f64; 7];
    let mut out: Vec<f64> = (0..(seconds * RATE) as usize)
        .map(|_| {
            let w = rng.next() * 2.0 - 1.0;
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.1538520;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let p = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
            b[6] = w * 0.115926;
            p
        })
        .collect();
    let k = level / rms(&out).max(1e-9);
    out.iter_mut().for_each(|v| *v *= k);
    out
}

/// `seconds` of a 50 Hz hum at RMS `level`.
pub fn hum(seconds: f64, level: f64) -> Vec<f64> {
    let peak = level * std::f64::consts::SQRT_2;
    (0..(seconds * RATE) as usize)
        .map(|i| peak * (TAU * 50.0 * i as f64 / RATE).sin())
        .collect()
}

/// `a + b`, as long as the longer.
pub fn mix(a: &[f64], b: &[f64]) -> Vec<f64> {
    (0..a.len().max(b.len()))
        .map(|i| a.get(i).unwrap_or(&0.0) + b.get(i).unwrap_or(&0.0))
        .collect()
}
