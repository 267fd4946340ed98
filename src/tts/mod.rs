//! Typed notices read aloud: text → the station's speech engine → a WAV
//! file in `data_dir/tts`, cached by text, voice and engine
//! (`config::Tts::cache_name`), then aired like any other file.
//!
//! The default engine is Debian's `espeak-ng` with its Vietnamese voice; a
//! `[tts] command` runs any program that writes WAV (a neural voice such
//! as Piper). Before the engine sees the text, numbers, dates and times
//! are written out the Vietnamese way ([`normalize`]). A render has a
//! timeout: an engine that hangs is killed and the render fails with a
//! reason, so the station goes on.
//!
//! This module runs programs and writes the cache; it knows nothing of the
//! engine, the ledger or HTTP: the daemon renders ahead in the background,
//! the API renders on demand, `loa say` renders for a preview.

pub mod argv;
pub mod cache;
mod gate;
pub mod normalize;

pub use gate::{Wait, MAX_RENDERS};

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::{AudioInfo, Station, Tts, TtsEngine};

/// The Debian package of the default engine.
pub const ESPEAK_PACKAGE: &str = "espeak-ng";
/// The most of an engine's error output kept for the reason.
const MAX_STDERR: usize = 2000;

/// Why a notice could not be read aloud: what happened, and what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} ({hint})")]
pub struct TtsError {
    pub message: String,
    pub hint: String,
    /// Not rendered because [`MAX_RENDERS`] renders ran and the wait for
    /// one to end was over: try again shortly.
    pub busy: bool,
}

fn err(message: impl Into<String>, hint: impl Into<String>) -> TtsError {
    TtsError {
        message: message.into(),
        hint: hint.into(),
        busy: false,
    }
}

/// Every render of this process goes through it.
static RENDERS: gate::Gate = gate::Gate::new();

/// The program the engine runs.
fn program(tts: &Tts) -> &str {
    match &tts.engine {
        TtsEngine::Espeak => "espeak-ng",
        TtsEngine::Command(argv) => &argv[0],
    }
}

/// Where `name` is found: itself when it has a `/`, else on `PATH`.
fn find_program(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return runnable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| runnable(p))
}

/// Why the station's engine cannot run, if it cannot: `loa check` reports
/// it with the package to install.
pub fn engine_problem(tts: &Tts) -> Option<TtsError> {
    let name = program(tts);
    if find_program(name).is_some() {
        return None;
    }
    Some(match tts.engine {
        TtsEngine::Espeak => err(
            "the speech engine espeak-ng is not installed: typed notices cannot be read aloud",
            format!("install it: sudo apt install {ESPEAK_PACKAGE}"),
        ),
        TtsEngine::Command(_) => err(
            format!("the speech engine `{name}` ([tts] command) is not found or not executable"),
            "install it, or give its full path in [tts] command",
        ),
    })
}

/// Read `text` aloud into the WAV file `out` (replaced whole, never left
/// half-written), and what it holds. At most [`MAX_RENDERS`] renders run
/// at once; this one waits as `wait` says.
pub fn render(tts: &Tts, text: &str, out: &Path, wait: Wait) -> Result<AudioInfo, TtsError> {
    let Some(_slot) = RENDERS.acquire(wait) else {
        return Err(TtsError {
            busy: true,
            ..err(
                format!(
                    "the speech engine is busy: {MAX_RENDERS} notices are being read aloud and \
                     others wait"
                ),
                "try again in a minute",
            )
        });
    };
    // Absolute: a path given as `-x.wav` must not read as an option.
    let out = &std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
    let dir = out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| {
        err(
            format!("cannot create {}: {e}", dir.display()),
            "check that data_dir is writable by the loa user",
        )
    })?;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let stem = format!(
        ".render-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let tmp = dir.join(format!("{stem}.wav"));
    let text_file = dir.join(format!("{stem}.txt"));
    let r = run_engine(tts, &normalize::normalize(text), &tmp, &text_file).and_then(|()| {
        let info = crate::probe::probe(&tmp).map_err(|e| {
            err(
                format!(
                    "the speech engine `{}` wrote no playable WAV: {}",
                    program(tts),
                    e.message
                ),
                "check that it writes a WAV file where {out} says",
            )
        })?;
        std::fs::rename(&tmp, out).map_err(|e| {
            err(
                format!("cannot keep {}: {e}", out.display()),
                "check data_dir",
            )
        })?;
        Ok(info)
    });
    let _ = std::fs::remove_file(&tmp);
    let _ = std::fs::remove_file(&text_file);
    r
}

/// Run the engine once, killing it at the timeout.
fn run_engine(tts: &Tts, text: &str, out: &Path, text_file: &Path) -> Result<(), TtsError> {
    let name = program(tts);
    let (argv, stdin_text) = match &tts.engine {
        TtsEngine::Espeak => (
            vec![
                "espeak-ng".to_string(),
                "-v".into(),
                tts.voice.clone(),
                "-w".into(),
                out.display().to_string(),
                "--stdin".into(),
            ],
            true,
        ),
        TtsEngine::Command(argv) => {
            let wants_file = argv.iter().any(|a| a.contains("{text_file}"));
            let takes_text = wants_file || argv.iter().any(|a| a.contains("{text}"));
            let values = argv::Values {
                text,
                text_file,
                out,
                voice: &tts.voice,
            };
            let filled = argv::fill(argv, &values).map_err(|why| {
                err(
                    format!("[tts] command refused: {why}"),
                    crate::config::TTS_OPTION_RISK_HINT,
                )
            })?;
            if wants_file {
                write_private(text_file, text)?;
            }
            (filled, !takes_text)
        }
    };
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(if stdin_text {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match engine_problem(tts) {
            Some(p) => p,
            None => err(
                format!("cannot start the speech engine `{name}`: {e}"),
                "check [tts] command",
            ),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let text = text.to_string();
        // A thread: an engine that does not read its input must not block
        // the timeout.
        std::thread::spawn(move || {
            let _ = stdin.write_all(text.as_bytes());
        });
    }
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = e.read_to_end(&mut buf);
            buf
        })
    });
    let timeout = Duration::from_secs(u64::from(tts.timeout_seconds));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(err(
                    format!(
                        "the speech engine `{name}` did not finish within {}s and was stopped",
                        tts.timeout_seconds
                    ),
                    "check the engine by hand (loa say \"...\"), or raise [tts] timeout",
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(err(format!("waiting for `{name}`: {e}"), "see the log")),
        }
    };
    if status.success() {
        return Ok(());
    }
    // The engine exited: its error output is complete.
    let said = stderr
        .and_then(|h| h.join().ok())
        .map(|b| {
            let s = String::from_utf8_lossy(&b).trim().to_string();
            s.chars().take(MAX_STDERR).collect::<String>()
        })
        .unwrap_or_default();
    Err(err(
        format!(
            "the speech engine `{name}` failed ({status}){}",
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        ),
        match tts.engine {
            TtsEngine::Espeak => {
                "check the voice ([tts] voice, e.g. \"vi\"): espeak-ng --voices=vi lists them"
            }
            TtsEngine::Command(_) => "run the command by hand to see why",
        },
    ))
}

/// Write `text` to a new file only loa's user can read.
fn write_private(path: &Path, text: &str) -> Result<(), TtsError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| {
            err(
                format!("cannot write {}: {e}", path.display()),
                "check data_dir",
            )
        })
}

/// Whether `b` is a typed notice without playable audio yet: its cache is
/// missing, or did not probe (a damaged file is read aloud again).
pub fn needs_render(b: &crate::config::Bulletin) -> bool {
    b.text.is_some() && b.audio.is_none()
}

/// Render every typed bulletin of `station` whose cache is missing, a few
/// at a time: what the daemon does in the background at start and after a
/// reload, so that scheduled notices are ready when due. Each bulletin
/// file rendered or failed (cache hits are left out); bulletins with the
/// same text share one file.
pub fn render_missing(station: &Station) -> Vec<(PathBuf, Result<AudioInfo, TtsError>)> {
    let mut todo: Vec<(&str, &Path)> = station
        .bulletins
        .iter()
        .filter(|b| needs_render(b))
        .filter_map(|b| Some((b.text.as_deref()?, b.path.as_path())))
        .collect();
    todo.sort_by_key(|(_, p)| *p);
    todo.dedup_by_key(|(_, p)| *p);
    let mut out = Vec::new();
    // Two at a time: a small board has few cores, and the station airs.
    for chunk in todo.chunks(2) {
        std::thread::scope(|s| {
            let hs: Vec<_> = chunk
                .iter()
                .map(|(text, path)| {
                    s.spawn(move || {
                        let r = render(&station.tts, text, path, Wait::Background);
                        (path.to_path_buf(), r)
                    })
                })
                .collect();
            out.extend(hs.into_iter().filter_map(|h| h.join().ok()));
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(argv: &[&str], timeout_seconds: u32) -> Tts {
        Tts {
            engine: TtsEngine::Command(argv.iter().map(|s| s.to_string()).collect()),
            voice: "vi".into(),
            timeout_seconds,
            cache_mb: crate::config::DEFAULT_TTS_CACHE_MB,
        }
    }

    #[test]
    fn espeak_reads_vietnamese_into_a_wav() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("tts/a.wav");
        let tts = Tts::default();
        assert!(
            engine_problem(&tts).is_none(),
            "espeak-ng is missing: make test-deps installs it"
        );
        let info = render(
            &tts,
            "Kính thưa bà con, lúc 17:30 ngày 10/10 họp tổ dân phố.",
            &out,
            Wait::Request,
        )
        .unwrap();
        // About a dozen words: a few seconds of speech.
        assert!(
            (2.0..20.0).contains(&info.seconds),
            "{} s of speech",
            info.seconds
        );
        // Nothing half-written is left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("tts"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.wav")]);
    }

    /// Why the engine `argv` (with `timeout` seconds) did not read "x"
    /// aloud into `out`.
    fn refused(argv: &[&str], timeout: u32, out: &Path) -> TtsError {
        render(&command(argv, timeout), "x", out, Wait::Request).unwrap_err()
    }

    #[test]
    fn a_missing_engine_names_what_to_install() {
        let p = engine_problem(&command(&["/nonexistent/piper", "{out}"], 5)).unwrap();
        assert!(p.message.contains("/nonexistent/piper"), "{p}");
        let dir = tempfile::tempdir().unwrap();
        let e = refused(
            &["/nonexistent/piper", "{out}"],
            5,
            &dir.path().join("x.wav"),
        );
        assert!(e.message.contains("not found"), "{e}");
    }

    #[test]
    fn a_hanging_engine_is_killed_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let e = refused(
            &["sh", "-c", "exec sleep 60", "{out}"],
            1,
            &dir.path().join("x.wav"),
        );
        assert!(e.message.contains("did not finish within 1s"), "{e}");
        // Killed, not waited for: far less than the 60 s it would sleep.
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn a_failing_engine_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let e = refused(
            &["sh", "-c", "echo no model >&2; exit 3", "{out}"],
            5,
            &dir.path().join("x.wav"),
        );
        assert!(e.message.contains("no model"), "{e}");
        let e = refused(
            &["sh", "-c", "echo not a wav > \"$0\"", "{out}"],
            5,
            &dir.path().join("y.wav"),
        );
        assert!(e.message.contains("no playable WAV"), "{e}");
    }

    #[test]
    fn placeholders_are_filled_and_the_text_normalized() {
        let dir = tempfile::tempdir().unwrap();
        let seen = dir.path().join("seen.txt");
        // The "engine" keeps what it was given and borrows espeak-ng's voice.
        let script = format!(
            "{{ cat \"$1\"; echo; echo \"$2\"; }} > {seen}; espeak-ng -v vi -w \"$0\" -f \"$1\"",
            seen = seen.display()
        );
        let tts = command(
            &["sh", "-c", &script, "{out}", "{text_file}", "{voice}"],
            30,
        );
        render(
            &tts,
            "họp lúc 17:30",
            &dir.path().join("x.wav"),
            Wait::Request,
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&seen).unwrap(),
            "họp lúc mười bảy giờ ba mươi\nvi\n"
        );
    }
}
