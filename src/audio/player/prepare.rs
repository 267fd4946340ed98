//! The preparer thread: opens the next file and decodes its first chunk
//! (and looks up its loudness) off the audio thread, which must never wait
//! for a slow SD card while it airs the item before.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use super::super::decode::FileDecoder;
use super::super::loudness::Level;
use super::super::relay::{ItemDecoder, RelayCue, RelaySource};
use super::{Command, Leveling, PlayId};

/// A file for the preparer to open.
pub(super) struct Request {
    pub(super) id: PlayId,
    pub(super) path: PathBuf,
    pub(super) expected: Duration,
    pub(super) relay: Option<Box<RelayCue>>,
}

/// What the preparer hands the audio thread.
pub(super) struct Opened {
    pub(super) request: Request,
    /// The decoder and its first chunk, or why the file cannot play.
    pub(super) file: Result<(ItemDecoder, Vec<f32>), String>,
    /// Its loudness, when measured (files only: a relay levels itself).
    pub(super) level: Option<Level>,
}

/// The preparer: opens each requested file and decodes its first chunk,
/// then hands both to the audio thread through its command channel.
/// Opening reads headers (an M4A's index may sit at the end of the file),
/// which on a slow SD card takes longer than the output's queue lasts; the
/// audio thread, busy airing the item before, must never wait for it. The
/// thread ends with the audio thread (its request channel closes).
/// It also looks up each file's loudness (a `stat`); see `level_of` for a
/// file not measured yet.
pub(super) fn spawn_preparer(
    results: mpsc::Sender<Command>,
    leveling: Option<Leveling>,
) -> std::io::Result<mpsc::Sender<Request>> {
    let (requests, rx) = mpsc::channel::<Request>();
    std::thread::Builder::new()
        .name("loa-prepare".into())
        .spawn(move || {
            while let Ok(mut request) = rx.recv() {
                // A newer request replaces older ones still waiting: the
                // audio thread already finished those as `Stopped`.
                while let Ok(newer) = rx.try_recv() {
                    request = newer;
                }
                let file = match &request.relay {
                    // Starts the relay's worker; the first chunk comes
                    // when it airs.
                    Some(cue) => RelaySource::start(cue)
                        .map(|r| (ItemDecoder::Relay(Box::new(r)), Vec::new())),
                    None => open_item(&request.path),
                };
                let level = match (&leveling, &file, &request.relay) {
                    (Some(l), Ok(_), None) => level_of(l, &request),
                    _ => None,
                };
                if results
                    .send(Command::Opened(Box::new(Opened {
                        request,
                        file,
                        level,
                    })))
                    .is_err()
                {
                    break;
                }
            }
        })?;
    Ok(requests)
}

/// A file not measured yet and at most this long is measured while it is
/// prepared (about 1 s of work on a 2-core board, inside the 3 s an item is
/// cued ahead); a longer one is measured in the background and airs as
/// recorded this once.
pub(super) const MEASURE_WHILE_PREPARING: Duration = Duration::from_secs(180);

/// The level `request`'s file airs with, when known or quick to know.
pub(super) fn level_of(leveling: &Leveling, request: &Request) -> Option<Level> {
    if let Some(level) = leveling.cache.lookup(&request.path) {
        return Some(level);
    }
    if request.expected.is_zero() || request.expected > MEASURE_WHILE_PREPARING {
        leveling.cache.measure_in_background([request.path.clone()]);
        return None;
    }
    leveling
        .cache
        .level(&request.path)
        .map_err(|e| tracing::warn!("airs as recorded: {e}"))
        .ok()
}

/// Open `path` and decode its first chunk.
fn open_item(path: &Path) -> Result<(ItemDecoder, Vec<f32>), String> {
    let mut decoder = FileDecoder::open(path)?;
    let first = match decoder.next_chunk() {
        Ok(Some(c)) => c.to_vec(),
        Ok(None) => return Err(format!("{} contains no audio", path.display())),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    Ok((ItemDecoder::File(decoder), first))
}
