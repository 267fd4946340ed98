//! A slow automatic gain for relays: it brings a source toward the
//! station's loudness target without pumping.
//!
//! Loudness is estimated over the last 3 s (EBU R128's short-term window)
//! as -0.691 + 10·log10 of the summed channel mean squares — R128's formula
//! without its K-weighting filter, which is close enough for speech and
//! costs one multiply-add per sample. The gain moves toward `target -
//! loudness` by at most 1 dB per second, within ±12 dB, and holds while
//! the source is quieter than -60 LUFS (a pause is not boosted).

use std::collections::VecDeque;

use crate::audio::convert::apply_gain;
use crate::audio::sink::Format;

const WINDOW_SECONDS: f64 = 3.0;
const SLEW_DB_PER_SECOND: f64 = 1.0;
const MAX_GAIN_DB: f64 = 12.0;
const GATE_LUFS: f64 = -60.0;

pub(super) struct Agc {
    target: f64,
    format: Format,
    gain_db: f64,
    /// (frames, sum of squares) of the chunks in the window.
    window: VecDeque<(u64, f64)>,
    frames: u64,
    sum: f64,
}

fn linear(db: f64) -> f32 {
    10f64.powf(db / 20.0) as f32
}

impl Agc {
    pub(super) fn new(target_lufs: f64, format: Format) -> Agc {
        Agc {
            target: target_lufs,
            format,
            gain_db: 0.0,
            window: VecDeque::new(),
            frames: 0,
            sum: 0.0,
        }
    }

    /// The gain applied now, in dB.
    #[cfg(test)]
    pub(super) fn gain_db(&self) -> f64 {
        self.gain_db
    }

    /// Level one chunk of interleaved samples in place.
    pub(super) fn process(&mut self, samples: &mut [f32]) {
        let ch = usize::from(self.format.channels.max(1));
        let frames = (samples.len() / ch) as u64;
        if frames == 0 {
            return;
        }
        let sq: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        self.window.push_back((frames, sq));
        self.frames += frames;
        self.sum += sq;
        let limit = (WINDOW_SECONDS * f64::from(self.format.rate)) as u64;
        while self.frames > limit {
            let Some((f, s)) = self.window.pop_front() else {
                break;
            };
            self.frames -= f;
            self.sum = (self.sum - s).max(0.0);
        }
        // Summed over channels: the sum of squares over frames.
        let mean_square = self.sum / self.frames.max(1) as f64;
        let loudness = -0.691 + 10.0 * mean_square.max(1e-12).log10();
        let wanted = if loudness < GATE_LUFS {
            self.gain_db
        } else {
            (self.target - loudness).clamp(-MAX_GAIN_DB, MAX_GAIN_DB)
        };
        let step = SLEW_DB_PER_SECOND * self.format.seconds(frames);
        let next = self.gain_db + (wanted - self.gain_db).clamp(-step, step);
        apply_gain(samples, ch, linear(self.gain_db), linear(next));
        self.gain_db = next;
        if self.gain_db > 0.0 {
            samples.iter_mut().for_each(|s| *s = s.clamp(-1.0, 1.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Format = Format {
        rate: 44100,
        channels: 2,
    };

    /// `seconds` of a stereo sine at `amp`, in chunks, through `agc`.
    fn run(agc: &mut Agc, amp: f32, seconds: f64) {
        let chunk = 2048;
        let n = (seconds * 44100.0) as usize / chunk;
        for k in 0..n {
            let mut buf: Vec<f32> = (0..chunk)
                .flat_map(|i| {
                    let t = (k * chunk + i) as f32 / 44100.0;
                    let v = amp * (t * 440.0 * std::f32::consts::TAU).sin();
                    [v, v]
                })
                .collect();
            agc.process(&mut buf);
        }
    }

    #[test]
    fn a_quiet_source_is_raised_slowly_and_a_loud_one_lowered() {
        // A stereo sine at 0.02 is about -34.7 LUFS by this meter.
        let mut agc = Agc::new(-16.0, F);
        run(&mut agc, 0.02, 5.0);
        let g = agc.gain_db();
        assert!((4.0..=5.1).contains(&g), "at most 1 dB/s: {g}");
        run(&mut agc, 0.02, 20.0);
        assert!((agc.gain_db() - 12.0).abs() < 0.01, "capped at +12 dB");
        // Full scale (-0.7 LUFS): lowered, toward -12 dB.
        let mut agc = Agc::new(-16.0, F);
        run(&mut agc, 1.0, 20.0);
        assert!((agc.gain_db() + 12.0).abs() < 0.01, "{}", agc.gain_db());
        // At the target: left alone.
        let mut agc = Agc::new(-16.0, F);
        run(&mut agc, 0.172, 10.0);
        assert!(agc.gain_db().abs() < 0.5, "{}", agc.gain_db());
    }

    #[test]
    fn silence_is_not_boosted() {
        let mut agc = Agc::new(-16.0, F);
        run(&mut agc, 0.0, 10.0);
        assert_eq!(agc.gain_db(), 0.0);
    }
}
