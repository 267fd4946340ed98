//! A fake sound card for the tests: a cpal-like backend that paces, fails to
//! build, or reports errors on demand.

use super::*;
use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::thread::JoinHandle;

/// What the next stream built does.
#[derive(Clone, Copy)]
pub enum Script {
    Works,
    /// Reports `kind` when it starts, before its first sample, and
    /// then takes nothing (the pulse plugin's EIO).
    FailsAtOnce(cpal::ErrorKind),
    /// Plays this long, then reports `kind` and takes nothing more.
    FailsAfter(Duration, cpal::ErrorKind),
}

#[derive(Clone, Default)]
pub struct FakeCard {
    pub script: Arc<Mutex<VecDeque<Script>>>,
    pub built: Arc<AtomicUsize>,
}

impl FakeCard {
    pub fn scripted(s: &[Script]) -> FakeCard {
        let card = FakeCard::default();
        card.script.lock().unwrap().extend(s.iter().copied());
        card
    }
}

impl Backend for FakeCard {
    fn format(&self, _name: &str, wanted: Format) -> Result<Format, String> {
        Ok(wanted)
    }

    fn build(&self, _name: &str, format: Format, shared: Arc<Shared>, on_error: ErrorFn) -> Built {
        self.built.fetch_add(1, Ordering::Relaxed);
        let script = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Script::Works);
        Ok(Box::new(FakeStream {
            inner: Mutex::new(Some((Feed::new(shared, format), on_error, script, format))),
            thread: Mutex::new(None),
            run: Arc::new(AtomicBool::new(false)),
            gone: Arc::new(AtomicBool::new(false)),
        }))
    }
}

type Parts = (Feed, ErrorFn, Script, Format);

struct FakeStream {
    inner: Mutex<Option<Parts>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    run: Arc<AtomicBool>,
    gone: Arc<AtomicBool>,
}

impl CardStream for FakeStream {
    fn play(&self) -> Result<(), String> {
        self.run.store(true, Ordering::Release);
        let Some((mut feed, mut on_error, script, format)) = self.inner.lock().unwrap().take()
        else {
            return Ok(());
        };
        let (run, gone) = (self.run.clone(), self.gone.clone());
        let thread = std::thread::spawn(move || {
            let tick = Duration::from_millis(10);
            let frames = (format.rate / 100) as usize;
            let mut buf = vec![0.0f32; frames * format.channels as usize];
            let started = Instant::now();
            let mut next = started;
            let fail_at = match script {
                Script::Works => None,
                Script::FailsAtOnce(kind) => Some((Duration::ZERO, kind)),
                Script::FailsAfter(d, kind) => Some((d, kind)),
            };
            while !gone.load(Ordering::Acquire) {
                if let Some((after, kind)) = fail_at {
                    if started.elapsed() >= after {
                        on_error(match kind {
                            cpal::ErrorKind::BackendError => {
                                cpal::Error::with_message(kind, "Input/output error")
                            }
                            kind => kind.into(),
                        });
                        return;
                    }
                }
                if run.load(Ordering::Acquire) {
                    buf.fill(0.0);
                    feed.fill(&mut buf, Duration::ZERO);
                }
                next += tick;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        });
        *self.thread.lock().unwrap() = Some(thread);
        Ok(())
    }

    fn pause(&self) -> Result<(), String> {
        self.run.store(false, Ordering::Release);
        Ok(())
    }
}

impl Drop for FakeStream {
    fn drop(&mut self) {
        self.gone.store(true, Ordering::Release);
        if let Some(t) = self.thread.lock().unwrap().take() {
            let _ = t.join();
        }
    }
}
