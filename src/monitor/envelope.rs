//! 100 ms loudness envelopes of band-limited audio: what the monitor
//! compares. The band (about 250 Hz to 3.5 kHz, second-order filters at
//! both ends) keeps speech and drops what a line adds below and above it:
//! mains hum (50 Hz and its first harmonics) and an amplifier's bass and
//! treble settings. Everything here is allocation-free per sample, so it
//! can run on the audio thread and in the capture callback.

/// Length of one envelope frame.
pub const FRAME_MS: i64 = 100;
const LOW_HZ: f32 = 250.0;
const HIGH_HZ: f32 = 3500.0;
/// What the mono signal is averaged down to before filtering (at least).
const DECIMATED_HZ: u32 = 11_025;

/// A second-order section (RBJ cookbook), direct form I.
#[derive(Debug, Clone, Copy)]
struct Biquad {
    b: [f32; 3],
    a: [f32; 2],
    x: [f32; 2],
    y: [f32; 2],
}

impl Biquad {
    fn new(rate: u32, hz: f32, high_pass: bool) -> Biquad {
        let rate = rate.max(1) as f32;
        // A cut-off above Nyquist (8 kHz audio) leaves the band open.
        let hz = hz.min(rate * 0.45);
        let w = std::f32::consts::TAU * hz / rate;
        let (sin, cos) = w.sin_cos();
        let alpha = sin / (2.0 * std::f32::consts::FRAC_1_SQRT_2);
        let a0 = 1.0 + alpha;
        let (b0, b1) = if high_pass {
            ((1.0 + cos) / 2.0, -(1.0 + cos))
        } else {
            ((1.0 - cos) / 2.0, 1.0 - cos)
        };
        Biquad {
            b: [b0 / a0, b1 / a0, b0 / a0],
            a: [-2.0 * cos / a0, (1.0 - alpha) / a0],
            x: [0.0; 2],
            y: [0.0; 2],
        }
    }

    fn run(&mut self, x: f32) -> f32 {
        let y = self.b[0] * x + self.b[1] * self.x[0] + self.b[2] * self.x[1]
            - self.a[0] * self.y[0]
            - self.a[1] * self.y[1];
        self.x = [x, self.x[0]];
        // Flush denormals: a silent line must not slow the filter down.
        let y = if y.abs() < 1e-20 { 0.0 } else { y };
        self.y = [y, self.y[0]];
        y
    }
}

/// Turns interleaved samples into one band-limited RMS level per
/// `FRAME_MS` (channels mixed to mono). The mono signal is first averaged
/// over `decim` samples (to about 11 kHz: the band ends at 3.5 kHz), so
/// the filters run at a quarter of 44.1 or 48 kHz: the monitor's CPU is
/// most of it the filters.
#[derive(Debug, Clone)]
pub struct Envelope {
    channels: usize,
    frame_len: u32,
    high_pass: Biquad,
    low_pass: Biquad,
    sum: f32,
    n: u32,
    /// Channel of the next sample (a chunk may end inside a frame).
    ch: usize,
    mix: f32,
    decim: u32,
    /// Mono samples summed towards the next decimated one.
    k: u32,
    acc: f32,
}

impl Envelope {
    pub fn new(rate: u32, channels: u16) -> Envelope {
        let decim = (rate / DECIMATED_HZ).max(1);
        let rate = (rate / decim).max(1);
        Envelope {
            channels: usize::from(channels.max(1)),
            frame_len: (i64::from(rate) * FRAME_MS / 1000).max(1) as u32,
            high_pass: Biquad::new(rate, LOW_HZ, true),
            low_pass: Biquad::new(rate, HIGH_HZ, false),
            sum: 0.0,
            n: 0,
            ch: 0,
            mix: 0.0,
            decim,
            k: 0,
            acc: 0.0,
        }
    }

    /// Start a new frame (the next item): what is half-summed is dropped,
    /// the filters keep their state.
    pub fn restart(&mut self) {
        self.sum = 0.0;
        self.n = 0;
        self.ch = 0;
        self.mix = 0.0;
        self.k = 0;
        self.acc = 0.0;
    }

    /// Feed samples; `done` gets each finished frame's RMS level.
    pub fn feed(&mut self, samples: impl IntoIterator<Item = f32>, mut done: impl FnMut(f32)) {
        let inv = 1.0 / (self.channels as f32 * self.decim as f32);
        for s in samples {
            self.mix += if s.is_finite() { s } else { 0.0 };
            self.ch += 1;
            if self.ch < self.channels {
                continue;
            }
            self.ch = 0;
            self.acc += self.mix;
            self.mix = 0.0;
            self.k += 1;
            if self.k < self.decim {
                continue;
            }
            self.k = 0;
            let x = self.low_pass.run(self.high_pass.run(self.acc * inv));
            self.acc = 0.0;
            self.sum += x * x;
            self.n += 1;
            if self.n == self.frame_len {
                done((self.sum / self.n as f32).sqrt());
                self.sum = 0.0;
                self.n = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, seconds: f32, amp: f32) -> Vec<f32> {
        (0..(rate as f32 * seconds) as usize)
            .map(|i| amp * (std::f32::consts::TAU * hz * i as f32 / rate as f32).sin())
            .collect()
    }

    fn levels(rate: u32, samples: &[f32]) -> Vec<f32> {
        let mut e = Envelope::new(rate, 1);
        let mut out = Vec::new();
        e.feed(samples.iter().copied(), |l| out.push(l));
        out
    }

    #[test]
    fn speech_band_passes_and_hum_does_not() {
        let rate = 44100;
        let voice = levels(rate, &sine(rate, 1000.0, 1.0, 0.5));
        let hum = levels(rate, &sine(rate, 50.0, 1.0, 0.5));
        assert_eq!(voice.len(), 10);
        // 0.5 peak is 0.354 RMS; the band passes 1 kHz nearly whole.
        assert!(voice[5] > 0.3, "{voice:?}");
        // 50 Hz two octaves and more below the band: under a twentieth.
        assert!(hum[5] < 0.354 / 20.0, "{hum:?}");
    }

    #[test]
    fn stereo_is_mixed_and_frames_span_chunks() {
        let rate = 8000;
        let mono = sine(rate, 800.0, 0.35, 0.5);
        let stereo: Vec<f32> = mono.iter().flat_map(|&s| [s, s]).collect();
        let mut e = Envelope::new(rate, 2);
        let mut out = Vec::new();
        for chunk in stereo.chunks(333) {
            e.feed(chunk.iter().copied(), |l| out.push(l));
        }
        assert_eq!(out, levels(rate, &mono));
        assert_eq!(out.len(), 3);
    }
}
