//! The `null` output: takes samples at the pace of a sound card and
//! discards them. For stations without a loudspeaker line yet (training,
//! trying a schedule) where airtime must still be counted honestly.

use std::time::Instant;

use super::sink::{paced_sink_methods, Format, Pacer, Sink, SinkError};

pub struct NullSink {
    pacer: Pacer,
    format: Option<Format>,
}

impl NullSink {
    pub fn new(realtime: bool) -> NullSink {
        NullSink {
            pacer: Pacer::new(realtime),
            format: None,
        }
    }
}

impl Sink for NullSink {
    fn open(&mut self, wanted: Format) -> Result<Format, SinkError> {
        // Nothing holds a format across items: take each file as it is.
        self.format = Some(wanted);
        Ok(wanted)
    }

    fn begin(&mut self, at: Instant) {
        self.pacer.begin(at, self.format.map_or(1, |f| f.rate));
    }

    fn write(&mut self, samples: &[f32]) -> Result<usize, SinkError> {
        let channels = self.format.map_or(1, |f| f.channels as usize);
        if !self.pacer.ready() {
            return Ok(0);
        }
        self.pacer.handed((samples.len() / channels) as u64);
        Ok(samples.len() / channels * channels)
    }

    paced_sink_methods!();

    fn end(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn close(&mut self) {
        self.format = None;
    }

    fn is_open(&self) -> bool {
        self.format.is_some()
    }
}
