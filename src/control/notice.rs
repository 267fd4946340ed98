//! Typed notices queued or aired as an emergency (through the API or the
//! console's forms): read aloud into `data_dir/tts` before the engine is
//! asked to air them.
//!
//! Every notice costs a render (a core for seconds) and a file (megabytes),
//! so what the station cannot air is refused before it is rendered: a
//! queued notice when the operators' queue is full (429, counting the
//! notices being rendered for it), any notice when the engine is busy with
//! [`crate::tts::MAX_RENDERS`] renders and others wait (503 `tts_busy`), or
//! when the cache is full of notices still waiting to air (507
//! `tts_cache_full`). A notice the engine refuses after all leaves no file.
//! The cache is kept under `[tts] cache_mb` by removing the notices used
//! longest ago that nothing holds (`crate::tts::cache`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{blocking, Control, Error, Result};
use crate::config::{Station, MAX_TTS_CHARS, TTS_DIR};
use crate::engine::{Command, InUse, Refusal, Target};
use crate::tts::cache;

/// How long a measure of the cache's size is reused by the status and
/// `/metrics`.
const MEASURE_AGE: Duration = Duration::from_secs(5);
/// How long the engine is given to say what it holds.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the API keeps about the notices it renders.
#[derive(Default)]
pub struct Notices {
    /// Notices being rendered for the queue, not yet queued, by ticket:
    /// they count against `[api] max_queue` for those that came after.
    reserved: Mutex<Tickets>,
    /// Cache files requests hold (being rendered or handed to the engine),
    /// and when the last hold of each ended.
    held: Mutex<HashMap<PathBuf, Held>>,
    evictions: AtomicU64,
    /// The cache's size and when it was measured.
    measured: Mutex<Option<(Instant, u64)>>,
}

#[derive(Default)]
struct Tickets {
    next: u64,
    out: BTreeSet<u64>,
}

#[derive(Default)]
struct Held {
    count: usize,
    released: Option<Instant>,
    /// Another request held it at the same time (it may have queued it).
    shared: bool,
}

impl Notices {
    fn reserve(&self) -> u64 {
        let mut t = self.reserved.lock().unwrap_or_else(|e| e.into_inner());
        t.next += 1;
        let n = t.next;
        t.out.insert(n);
        n
    }

    /// Reservations still out that were made before `ticket`.
    fn before(&self, ticket: u64) -> usize {
        let t = self.reserved.lock().unwrap_or_else(|e| e.into_inner());
        t.out.range(..ticket).count()
    }

    fn unreserve(&self, ticket: u64) {
        let mut t = self.reserved.lock().unwrap_or_else(|e| e.into_inner());
        t.out.remove(&ticket);
    }

    /// Notices removed from the cache since the daemon started.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// Bytes in the cache `dir`, measured at most [`MEASURE_AGE`] ago.
    pub fn cache_bytes(&self, dir: &Path) -> u64 {
        let mut m = self.measured.lock().unwrap_or_else(|e| e.into_inner());
        match *m {
            Some((at, bytes)) if at.elapsed() < MEASURE_AGE => bytes,
            _ => {
                let bytes = cache::bytes(dir);
                *m = Some((Instant::now(), bytes));
                bytes
            }
        }
    }

    fn hold(&self, path: &Path) {
        let mut h = self.held.lock().unwrap_or_else(|e| e.into_inner());
        // Holds released long ago protect nothing any more.
        h.retain(|_, v| v.count > 0 || v.released.is_some_and(|t| t.elapsed() < 10 * MEASURE_AGE));
        let v = h.entry(path.to_path_buf()).or_default();
        v.shared |= v.count > 0;
        v.count += 1;
    }

    /// Ends a hold: whether it was the file's only one (no other request
    /// held it meanwhile).
    fn release(&self, path: &Path) -> bool {
        let mut h = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let Some(v) = h.get_mut(path) else {
            return true;
        };
        v.count -= 1;
        v.released = Some(Instant::now());
        if v.count > 0 {
            return false;
        }
        !std::mem::take(&mut v.shared)
    }

    /// Whether `path` is held now, or its hold ended after `since` (so the
    /// engine's list of files taken at `since` may not show it yet).
    fn protects(&self, path: &Path, since: Instant) -> bool {
        let h = self.held.lock().unwrap_or_else(|e| e.into_inner());
        h.get(path)
            .is_some_and(|v| v.count > 0 || v.released.is_some_and(|t| t >= since))
    }

    fn swept(&self, s: &cache::Sweep) {
        self.evictions
            .fetch_add(s.evicted.len() as u64, Ordering::Relaxed);
        *self.measured.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), s.bytes));
    }
}

/// Why a notice is wanted: a queued one counts against `[api] max_queue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Queue,
    Emergency,
    /// Heard by the operator before it airs (`Control::listen`).
    Listen,
}

/// A notice's cache file, held from before its render until the engine
/// has answered: the cache never removes it meanwhile, and
/// [`Hold::settle`] removes it again when the engine refused a notice this
/// request rendered.
pub struct Hold {
    notices: Arc<Notices>,
    path: PathBuf,
    /// Rendered by this request (not found in the cache).
    fresh: bool,
    /// Its reservation of a place in the queue.
    ticket: Option<u64>,
    /// Counted in `held`.
    held: bool,
    settled: bool,
}

impl Hold {
    /// The engine answered: `taken` when it took the notice.
    pub fn settle(mut self, taken: bool) {
        self.settled = true;
        self.end(taken);
    }

    fn end(&mut self, taken: bool) {
        let n = &self.notices;
        if let Some(t) = self.ticket.take() {
            n.unreserve(t);
        }
        if !self.held {
            return;
        }
        self.held = false;
        let sole = n.release(&self.path);
        if !taken && self.fresh && sole {
            let _ = std::fs::remove_file(&self.path);
            *n.measured.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if !self.settled {
            // The request ended early (a refusal before the engine was
            // asked, or the client went away): nothing holds the file.
            self.end(false);
        }
    }
}

async fn in_use(s: &Control) -> Result<InUse> {
    let (tx, rx) = oneshot::channel();
    match tokio::time::timeout(ENGINE_TIMEOUT, s.handle.commands.send(Command::InUse(tx))).await {
        Ok(Ok(())) => {}
        _ => return Err(Error::EngineGone),
    }
    match tokio::time::timeout(ENGINE_TIMEOUT, rx).await {
        Ok(Ok(v)) => Ok(v),
        _ => Err(Error::EngineGone),
    }
}

impl Control {
    /// A typed notice read aloud for the operator to hear before it airs:
    /// its WAV bytes. The render stays in the cache, so queuing the same
    /// words next airs them without reading them again; it costs what
    /// queuing one costs (refused when the speech engine is busy or the
    /// cache is full of notices waiting to air).
    pub async fn listen(&self, text: String) -> Result<Vec<u8>> {
        let station = self.current.get();
        let (target, hold) = notice(self, &station, text, Purpose::Listen).await?;
        let Target::File { path, .. } = target else {
            return Err(Error::Internal("a notice is a file".into()));
        };
        let read = path.clone();
        let bytes = blocking(move || {
            std::fs::read(&read).map_err(|e| Error::Internal(format!("{}: {e}", read.display())))
        })
        .await;
        hold.settle(bytes.is_ok());
        bytes
    }
}

/// How a typed notice is named in the status, the queue and the ledger:
/// its first words.
fn notice_title(text: &str) -> String {
    const MAX: usize = 60;
    let words: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.chars().count() <= MAX {
        words
    } else {
        format!("{}…", words.chars().take(MAX).collect::<String>())
    }
}

fn cache_full(bytes: u64, station: &Station) -> Error {
    Error::NoticeStoreFull {
        mb: bytes as f64 / 1e6,
        cap_mb: u64::from(station.tts.cache_mb),
    }
}

/// A typed notice, read aloud by the station's speech engine into its
/// cache (at once when cached), as a file to air, with its hold: settle
/// it with the engine's answer.
pub(super) async fn notice(
    s: &Control,
    station: &Arc<Station>,
    text: String,
    purpose: Purpose,
) -> Result<(Target, Hold)> {
    let text = text.trim().to_string();
    let chars = text.chars().count();
    if text.is_empty() || chars > MAX_TTS_CHARS {
        return Err(Error::BadText {
            chars,
            max: MAX_TTS_CHARS,
        });
    }
    let path = station.tts_path(&text);
    let mut hold = Hold {
        notices: Arc::clone(&s.notices),
        path: path.clone(),
        fresh: false,
        ticket: None,
        held: false,
        settled: false,
    };
    if purpose == Purpose::Queue {
        // Taken before the engine is asked how full the queue is: two
        // notices sent at once never both take the last place.
        hold.ticket = Some(s.notices.reserve());
    }
    let since = Instant::now();
    let used = in_use(s).await?;
    if let Some(ticket) = hold.ticket {
        // What waits, and the notices sent before this one and still being
        // read aloud for the queue: the truth before the render, not after.
        let before = s.notices.before(ticket);
        if used.operator_queued + before >= used.max_queue {
            return Err(Error::Refused(Refusal::QueueFull(used.max_queue)));
        }
    }
    s.notices.hold(&path);
    hold.held = true;
    let title = notice_title(&text);
    let (notices, current, station) =
        (Arc::clone(&s.notices), s.current.get(), Arc::clone(station));
    let data_dir = station.data_dir.clone();
    let (seconds, fresh) =
        blocking(move || render(&notices, &current, &station, &text, &used, since)).await?;
    hold.fresh = fresh;
    let file = path
        .strip_prefix(&data_dir)
        .unwrap_or(&path)
        .display()
        .to_string();
    let target = Target::File {
        file,
        path,
        seconds,
        title: Some(title),
        tag: None,
    };
    Ok((target, hold))
}

/// The notice's audio: from the cache (marked used), or read aloud now
/// with the cache kept under its cap. Its length, and whether it was
/// rendered here.
fn render(
    notices: &Notices,
    current: &Station,
    station: &Station,
    text: &str,
    used: &InUse,
    since: Instant,
) -> Result<(f64, bool)> {
    let path = station.tts_path(text);
    if let Ok(info) = crate::probe::probe(&path) {
        cache::touch(&path);
        return Ok((info.seconds, false));
    }
    let dir = station.data_dir.join(TTS_DIR);
    let cap = station.tts.cache_bytes();
    // The station file's notices (as loaded now, and as this request saw
    // it) are rendered ahead for their time.
    let scheduled: HashSet<&Path> = current
        .bulletins
        .iter()
        .chain(&station.bulletins)
        .filter(|b| b.text.is_some())
        .map(|b| b.path.as_path())
        .collect();
    let keep =
        |p: &Path| used.files.contains(p) || scheduled.contains(p) || notices.protects(p, since);
    // Room first: a render the cache cannot keep is not started.
    let before = cache::sweep(&dir, cap, keep);
    notices.swept(&before);
    if before.bytes >= cap {
        return Err(cache_full(before.bytes, station));
    }
    let info =
        crate::tts::render(&station.tts, text, &path, crate::tts::Wait::Request).map_err(|e| {
            if e.busy {
                Error::SpeechBusy(e.to_string())
            } else {
                Error::SpeechFailed(e.to_string())
            }
        })?;
    let after = cache::sweep(&dir, cap, keep);
    notices.swept(&after);
    if after.bytes > cap {
        // Only what waits to air is left, and this notice does not fit.
        let _ = std::fs::remove_file(&path);
        return Err(cache_full(after.bytes, station));
    }
    Ok((info.seconds, true))
}
