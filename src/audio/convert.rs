//! Gain and format conversion of decoded chunks, in place or into one
//! reused buffer.
//!
//! The common case (the output takes the file's own format) does no
//! conversion at all: only the gain multiply, skipped at unity. Channel
//! mapping and rate conversion happen only when an output is already open
//! at another format (a WAV file started by an earlier item, a sound card
//! in the middle of a programme). Rate conversion is linear interpolation:
//! plenty for speech bulletins on a loudspeaker line, cheap, and it keeps
//! its position across chunks so there are no clicks at packet edges.

use super::sink::Format;

/// Multiply `samples` by a gain ramping linearly from `from` to `to`
/// across the chunk (a constant gain when equal; nothing at unity).
pub fn apply_gain(samples: &mut [f32], channels: usize, from: f32, to: f32) {
    if from == to {
        if from != 1.0 {
            samples.iter_mut().for_each(|s| *s *= from);
        }
        return;
    }
    let frames = samples.len() / channels.max(1);
    let step = (to - from) / frames.max(1) as f32;
    for (i, frame) in samples.chunks_exact_mut(channels.max(1)).enumerate() {
        let g = from + step * i as f32;
        frame.iter_mut().for_each(|s| *s *= g);
    }
}

/// Converts chunks from one format to another.
pub struct Converter {
    from: Format,
    to: Format,
    /// Position of the next output frame, in input frames, relative to the
    /// start of the current input chunk (may be negative: between `last`
    /// and the chunk's first frame).
    pos: f64,
    /// The last input frame of the previous chunk, already channel-mapped.
    last: Vec<f32>,
    mapped: Vec<f32>,
    out: Vec<f32>,
}

impl Converter {
    pub fn new(from: Format, to: Format) -> Converter {
        Converter {
            from,
            to,
            pos: 0.0,
            last: Vec::new(),
            mapped: Vec::new(),
            out: Vec::new(),
        }
    }

    pub fn is_identity(&self) -> bool {
        self.from == self.to
    }

    /// Convert one chunk. The result stays valid until the next call.
    pub fn convert<'a>(&'a mut self, input: &'a [f32]) -> &'a [f32] {
        if self.is_identity() {
            return input;
        }
        let (ci, co) = (self.from.channels as usize, self.to.channels as usize);
        // Channels first, so rate conversion works on the output layout.
        let mapped: &[f32] = if ci == co {
            input
        } else {
            self.mapped.clear();
            for frame in input.chunks_exact(ci) {
                if ci == 1 {
                    self.mapped.extend(std::iter::repeat_n(frame[0], co));
                } else if co == 1 {
                    self.mapped.push(frame.iter().sum::<f32>() / ci as f32);
                } else {
                    for c in 0..co {
                        self.mapped.push(frame.get(c).copied().unwrap_or(0.0));
                    }
                }
            }
            &self.mapped
        };
        if self.from.rate == self.to.rate {
            if ci == co {
                return input;
            }
            return &self.mapped;
        }
        let frames = mapped.len() / co;
        let step = f64::from(self.from.rate) / f64::from(self.to.rate);
        if self.last.is_empty() {
            // First chunk: start exactly on its first frame.
            self.last = mapped[..co.min(mapped.len())].to_vec();
            self.pos = 0.0;
        }
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        // Frame index -1 is `last`; 0..frames are this chunk.
        while frames > 0 && self.pos < (frames as f64) - 1.0 {
            let i = self.pos.floor();
            let t = (self.pos - i) as f32;
            let i = i as isize;
            for c in 0..co {
                let a = if i < 0 {
                    self.last[c]
                } else {
                    mapped[i as usize * co + c]
                };
                let b = mapped[(i + 1).max(0) as usize * co + c];
                out.push(a + (b - a) * t);
            }
            self.pos += step;
        }
        if frames > 0 {
            self.last.clear();
            self.last
                .extend_from_slice(&mapped[(frames - 1) * co..frames * co]);
            self.pos -= frames as f64;
        }
        self.out = out;
        &self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gain_ramps_and_unity_is_untouched() {
        let mut s = vec![1.0f32; 8];
        apply_gain(&mut s, 2, 1.0, 1.0);
        assert_eq!(s, vec![1.0; 8]);
        apply_gain(&mut s, 2, 1.0, 0.0);
        assert_eq!(s[0], 1.0);
        assert_eq!(s[1], 1.0);
        assert!(s[6] < 0.3 && s[6] > 0.0);
        let mut v = vec![0.5f32; 4];
        apply_gain(&mut v, 1, 0.5, 0.5);
        assert_eq!(v, vec![0.25; 4]);
    }

    #[test]
    fn mono_to_stereo_duplicates() {
        let mut c = Converter::new(
            Format {
                rate: 8000,
                channels: 1,
            },
            Format {
                rate: 8000,
                channels: 2,
            },
        );
        assert_eq!(c.convert(&[0.1, 0.2]), &[0.1, 0.1, 0.2, 0.2]);
    }

    #[test]
    fn resampling_keeps_duration_across_chunks() {
        let from = Format {
            rate: 8000,
            channels: 1,
        };
        let to = Format {
            rate: 48000,
            channels: 1,
        };
        let mut c = Converter::new(from, to);
        let chunk: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let mut total = 0;
        for _ in 0..8 {
            total += c.convert(&chunk).len();
        }
        // One second in, one second out (within a frame of rounding).
        assert!((total as i64 - 48000).abs() <= 6, "{total}");
        let mut down = Converter::new(to, from);
        let chunk = vec![0.0f32; 4800];
        let n: usize = (0..10).map(|_| down.convert(&chunk).len()).sum();
        assert!((n as i64 - 8000).abs() <= 2, "{n}");
    }
}
