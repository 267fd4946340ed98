//! A relay's line-in source: a capture device (an FM or VOV receiver
//! plugged into the sound card), through cpal.

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};

use rodio::cpal;
use rodio::cpal::traits::DeviceTrait;

use super::{Connection, STALL};
use crate::audio::device::{capture_stream, find_device, Way};
use crate::audio::sink::Format;

/// Captured chunks waiting for the worker; more are dropped (the worker
/// only falls behind when the buffer is full and the relay not airing).
const QUEUE: usize = 64;

pub(super) struct Capture {
    /// Kept alive: dropping it stops the capture.
    _stream: cpal::Stream,
    rx: Receiver<Result<Vec<f32>, String>>,
    format: Format,
    chunk: Vec<f32>,
}

/// Open capture device `name` and start capturing.
pub(super) fn open(name: &str) -> Result<Capture, String> {
    let device = find_device(name, Way::Capture)?;
    let config = device
        .default_input_config()
        .map_err(|e| format!("capture device `{name}`: {e}"))?;
    let format = Format {
        rate: config.sample_rate(),
        channels: config.channels(),
    };
    let (tx, rx) = sync_channel::<Result<Vec<f32>, String>>(QUEUE);
    let err_tx = tx.clone();
    let on_error = move |e: cpal::Error| {
        let _ = err_tx.try_send(Err(format!("capture failed: {e}")));
    };
    let stream = capture_stream(
        name,
        &device,
        &config,
        move |data| {
            let _ = tx.try_send(Ok(data.to_vec()));
        },
        on_error,
    )?;
    Ok(Capture {
        _stream: stream,
        rx,
        format,
        chunk: Vec::new(),
    })
}

impl Connection for Capture {
    fn format(&self) -> Format {
        self.format
    }

    fn next_chunk(&mut self) -> Result<&[f32], String> {
        match self.rx.recv_timeout(STALL) {
            Ok(Ok(c)) => {
                self.chunk = c;
                Ok(&self.chunk)
            }
            Ok(Err(why)) => Err(why),
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "the capture device sent nothing for {} s",
                STALL.as_secs()
            )),
            Err(RecvTimeoutError::Disconnected) => Err("the capture stopped".to_string()),
        }
    }
}
