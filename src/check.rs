//! Checking a station before it airs: its file, its audio and its timing.
//!
//! `config` reads and validates the station file's text. This module goes
//! where config may not look: it probes every bulletin's audio file
//! (`crate::probe`) and warns about items that the schedule
//! (`crate::schedule`) never airs. Every command that puts a station on air
//! or shows what it will do loads the station here, so that all of them
//! report the same problems, at once, each with its location in the file.
//!
//! It sits above config, probe and schedule, and below the commands, the
//! daemon and the API. It plays nothing and writes nothing.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};

use crate::config::{self, item_label, AudioFiles, Draft, Priority, Source, Station, Timing};
use crate::diag::Reporter;
use crate::probe::{probe, AudioInfo, ProbeError};

pub use crate::config::Loaded;

/// What loading should do besides parsing and checking the text.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Check that audio files exist inside `audio_dir` and probe them.
    /// Commands that only read the ledger turn this off: a missing file must
    /// not stop officials from reading a report.
    pub audio: bool,
    /// "Now", for warnings about items that never occur from now on.
    pub now: DateTime<Utc>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            audio: true,
            now: Utc::now(),
        }
    }
}

/// Load and check a station file.
pub fn load(path: &Path, opts: LoadOptions) -> Loaded {
    finish(config::load(path, audio_files(opts)), opts)
}

/// As [`load`], also giving the text that was read (empty when the file
/// could not be read): what a reload keeps as the last good copy. The file
/// is read once, through the same reader and limits as `loa check`.
pub fn load_with_text(path: &Path, opts: LoadOptions) -> (String, Loaded) {
    let draft = config::load(path, audio_files(opts));
    let text = draft.source.text.clone();
    (text, finish(draft, opts))
}

/// Load and check station-file text; `path` locates it (relative paths in
/// the file are relative to its directory).
pub fn load_str(text: &str, path: &Path, opts: LoadOptions) -> Loaded {
    finish(config::load_str(text, path, audio_files(opts)), opts)
}

fn audio_files(opts: LoadOptions) -> AudioFiles {
    if opts.audio {
        AudioFiles::Resolve
    } else {
        AudioFiles::AsWritten
    }
}

/// Check what config built, even with errors elsewhere in the file: its
/// items' problems are reported in the same run.
fn finish(draft: Draft, opts: LoadOptions) -> Loaded {
    let Draft {
        mut station,
        diagnostics,
        source,
    } = draft;
    let mut r = source.reporter(diagnostics);
    if let Some(station) = &mut station {
        if opts.audio {
            probe_files(station, &source, &mut r);
            speech_engine_errors(station, &source, &mut r);
        }
        never_airs_warnings(station, &source, opts.now, &mut r);
        session_cap_warnings(station, &source, opts.now, &mut r);
    }
    Loaded::new(station, r.diags)
}

/// Probe every distinct audio file once, on a few threads: a station with
/// hundreds of files must still check in well under a second.
fn probe_files(station: &mut Station, source: &Source, r: &mut Reporter) {
    // A file that is not there was reported by config already.
    let mut paths: Vec<&Path> = station
        .bulletins
        .iter()
        .map(|b| b.path.as_path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths.dedup();
    let results = in_parallel(&paths, probe);
    let by_path: HashMap<&Path, &Result<AudioInfo, ProbeError>> =
        paths.iter().copied().zip(results.iter()).collect();
    let mut infos = Vec::with_capacity(station.bulletins.len());
    for b in &station.bulletins {
        match by_path.get(b.path.as_path()) {
            None => infos.push(None),
            Some(Ok(info)) => infos.push(Some(info.clone())),
            Some(Err(e)) => {
                r.at(source.file_span(&b.id))
                    .item(&item_label("bulletin", &b.id))
                    .key("file")
                    .audio()
                    .error(e.message.clone(), e.hint.clone());
                infos.push(None);
            }
        }
    }
    for (b, info) in station.bulletins.iter_mut().zip(infos) {
        b.audio = info;
    }
}

/// `work` on every file, on a few threads; results in the order of `paths`.
pub(crate) fn in_parallel<T: Send>(paths: &[&Path], work: impl Fn(&Path) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8)
        .min(paths.len().max(1));
    let chunk = paths.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| s.spawn(|| part.iter().map(|p| work(p)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a checking thread panicked"))
            .collect()
    })
}

/// Typed notices need the speech engine: without it each is an audio
/// error (it fails when due; the rest of the station airs).
fn speech_engine_errors(station: &Station, source: &Source, r: &mut Reporter) {
    if !station.bulletins.iter().any(|b| b.text.is_some()) {
        return;
    }
    let Some(problem) = crate::tts::engine_problem(&station.tts) else {
        return;
    };
    for b in station.bulletins.iter().filter(|b| b.text.is_some()) {
        let label = item_label("bulletin", &b.id);
        r.at(source.id_span(&label))
            .item(&label)
            .key("text")
            .audio()
            .error(problem.message.clone(), problem.hint.clone());
    }
}

/// How many days ahead `loa check` looks for sessions over their cap.
const SESSION_CHECK_DAYS: i64 = 366;

/// Programme occurrences (sessions) that plan more than `[session]
/// max_minutes`: one warning per programme, naming the first day, the
/// minutes over, and how many other days.
fn session_cap_warnings(station: &Station, source: &Source, now: DateTime<Utc>, r: &mut Reporter) {
    let Some(cap) = station.session.max_minutes else {
        return;
    };
    let cap_s = cap * 60.0;
    let to = now + Duration::days(SESSION_CHECK_DAYS);
    // Programme index → the days it goes over, with the planned seconds.
    let mut over: std::collections::BTreeMap<usize, Vec<(String, f64)>> = Default::default();
    for o in crate::schedule::schedule(station, now, to) {
        if o.kind == crate::schedule::ItemKind::Program
            && o.priority != Priority::Emergency
            && o.planned_seconds > cap_s + config::SESSION_TOLERANCE_SECONDS
        {
            let day = o.at.format("%a %Y-%m-%d %H:%M").to_string();
            over.entry(o.index)
                .or_default()
                .push((day, o.planned_seconds));
        }
    }
    for (index, days) in over {
        let p = &station.programs[index];
        let (first, planned) = &days[0];
        let worst = days.iter().map(|d| d.1).fold(0.0, f64::max);
        let more = match days.len() - 1 {
            0 => String::new(),
            n => format!(
                "; also on {n} more day{} in the coming year{}, up to {} over",
                if n == 1 { "" } else { "s" },
                match days.get(1..4) {
                    Some(next) if n > 3 => format!(
                        " ({}, …)",
                        next.iter()
                            .map(|d| d.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    _ => format!(
                        " ({})",
                        days[1..]
                            .iter()
                            .map(|d| d.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
                minutes(worst - cap_s)
            ),
        };
        let label = item_label("program", &p.id);
        r.at(source.id_span(&label)).item(&label).warn(
            format!(
                "Vượt giới hạn buổi phát thanh / the session on {first} plans {}, {} over the \
                 [session] cap of {}{more}; at air time the items past the cap are skipped",
                minutes(*planned),
                minutes(planned - cap_s),
                minutes(cap_s),
            ),
            "shorten the programme (fewer or shorter items), or move items to another session",
        );
    }
}

/// `17 min 30 s`: how a cap and its excess are read.
fn minutes(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match (s / 60, s % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// Scheduled items that never air: no occurrence in the coming year, or
/// every occurrence in quiet hours. (Unscheduled ones are config's to warn
/// about.)
fn never_airs_warnings(station: &Station, source: &Source, now: DateTime<Utc>, r: &mut Reporter) {
    let to = now + Duration::days(366);
    let bulletins = station
        .bulletins
        .iter()
        .filter(|b| b.enabled)
        .map(|b| ("bulletin", &b.id, &b.timing, b.window.as_ref(), b.priority));
    let programs = station
        .programs
        .iter()
        .filter(|p| p.enabled)
        .map(|p| ("program", &p.id, &p.timing, p.window.as_ref(), p.priority));
    let relays = station
        .relays
        .iter()
        .filter(|r| r.enabled)
        .map(|r| ("relay", &r.id, &r.timing, r.window.as_ref(), r.priority));
    for (kind, id, timing, window, priority) in bulletins.chain(programs).chain(relays) {
        if matches!(timing, Timing::Unscheduled) {
            continue;
        }
        let instants = crate::schedule::item_instants(station, timing, window, now, to);
        let problem = if instants.is_empty() {
            Some((
                "never occurs in the coming year",
                "check its from/to window (or its campaign's), `days` and `cron`",
            ))
        } else if priority != Priority::Emergency
            && instants.iter().all(|t| {
                station
                    .quiet
                    .contains(t.with_timezone(&station.timezone).time())
            })
        {
            Some((
                "every occurrence falls in quiet hours, so it never airs",
                "move its times out of [quiet] hours, or make it an emergency",
            ))
        } else {
            None
        };
        if let Some((message, help)) = problem {
            let label = item_label(kind, id);
            r.at(source.id_span(&label))
                .item(&label)
                .warn(message, help);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::with_station;

    fn load_text(text: &str) -> Loaded {
        let opts = LoadOptions {
            audio: false,
            now: Utc::now(),
        };
        load_str(text, Path::new("/tmp/station.toml"), opts)
    }

    /// A station over the committed test fixtures.
    fn with_files(files: &[&str]) -> Loaded {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio");
        let mut text = format!(
            "[station]\nname = \"X\"\naudio_dir = \"{}\"\n",
            fixtures.display()
        );
        for (i, f) in files.iter().enumerate() {
            text.push_str(&format!(
                "[[bulletin]]\nid = \"b{i}\"\ntitle = \"B\"\nfile = \"{f}\"\n"
            ));
        }
        load_str(
            &text,
            Path::new("/tmp/station.toml"),
            LoadOptions::default(),
        )
    }

    #[test]
    fn warns_when_a_session_plans_more_than_its_cap() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio");
        // Four 1-second files against a cap of 3 seconds, on Mondays only;
        // on Tuesdays the programme is short enough.
        let text = format!(
            r#"
[station]
name = "X"
audio_dir = "{}"
[session]
max_minutes = 0.05
[[bulletin]]
id = "a"
title = "A"
file = "wav-8k.wav"
[[bulletin]]
id = "b"
title = "B"
file = "wav-s16.wav"
[[program]]
id = "monday"
title = "M"
at = ["06:00"]
days = "mon"
items = ["a", "a", "a", "a"]
[[program]]
id = "tuesday"
title = "T"
at = ["06:00"]
days = "tue"
items = ["a", "b"]
"#,
            fixtures.display()
        );
        let now = "2026-10-01T00:00:00Z".parse().unwrap();
        let l = load_str(
            &text,
            Path::new("/tmp/station.toml"),
            LoadOptions { audio: true, now },
        );
        assert!(!l.diagnostics.has_errors(), "{}", l.diagnostics);
        let warned: Vec<_> = l.diagnostics.warnings().collect();
        assert_eq!(warned.len(), 1, "{}", l.diagnostics);
        let w = warned[0];
        assert_eq!(w.item.as_deref(), Some("program \"monday\""));
        // The first Monday, the seconds over, the cap.
        assert!(
            w.message
                .contains("Mon 2026-10-05 06:00 plans 4 s, 1 s over the [session] cap of 3 s"),
            "{}",
            w.message
        );
        assert!(w.message.contains("51 more days"), "{}", w.message);
    }

    #[test]
    fn warns_about_items_that_never_air() {
        let text = &with_station(
            r#"
[quiet]
hours = ["21:00-05:00"]
[[campaign]]
id = "empty"
title = "No bulletins"
[[bulletin]]
id = "night"
title = "N"
file = "n.mp3"
at = ["22:00", "04:30"]
[[bulletin]]
id = "past"
title = "P"
file = "p.mp3"
at = ["06:00"]
from = "2020-01-01"
to = "2020-12-31"
[[bulletin]]
id = "feb30"
title = "F"
file = "f.mp3"
cron = "0 6 30 2 *"
[[bulletin]]
id = "loose"
title = "L"
file = "l.mp3"
[[bulletin]]
id = "storm"
title = "S"
file = "s.mp3"
priority = "emergency"
at = ["23:00"]
"#,
        );
        let l = load_text(text);
        assert!(!l.diagnostics.has_errors(), "{}", l.diagnostics);
        let warned: Vec<&str> = l
            .diagnostics
            .warnings()
            .filter_map(|d| d.item.as_deref())
            .collect();
        assert_eq!(
            warned,
            [
                "campaign \"empty\"",
                "bulletin \"night\"",
                "bulletin \"past\"",
                "bulletin \"feb30\"",
                "bulletin \"loose\""
            ],
            "{}",
            l.diagnostics
        );
        assert!(l.station.is_some(), "warnings do not reject the station");
    }

    #[test]
    fn good_audio_is_probed_once_per_bulletin() {
        let l = with_files(&["mp3-cbr.mp3", "flac.flac", "mp3-cbr.mp3"]);
        let s = l.station.unwrap_or_else(|| panic!("{}", l.diagnostics));
        assert!(s.bulletins.iter().all(|b| b.seconds() > 0.5));
        assert_eq!(s.bulletins[2].audio, s.bulletins[0].audio);
    }

    #[test]
    fn audio_that_would_play_wrongly_is_refused_with_a_fix() {
        let bad = ["text.mp3", "truncated.m4a", "random.mp3", "truncated.mp3"];
        let l = with_files(&bad);
        let errors: Vec<_> = l.diagnostics.errors().collect();
        assert_eq!(errors.len(), bad.len(), "{}", l.diagnostics);
        for (i, e) in errors.iter().enumerate() {
            assert_eq!(
                e.item.as_deref(),
                Some(format!("bulletin \"b{i}\"").as_str())
            );
            assert_eq!(e.key.as_deref(), Some("file"));
            assert!(e.position.is_some());
            assert!(!e.hint.as_deref().unwrap_or("").is_empty(), "{e}");
        }
    }

    #[test]
    fn an_error_in_one_item_does_not_hide_the_audio_of_another() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio");
        let text = format!(
            "[station]\nname = \"X\"\naudio_dir = \"{}\"\n\
             [[bulletin]]\nid = \"a\"\ntitle = \"A\"\nfile = \"mp3-cbr.mp3\"\nat = [\"25:00\"]\n\
             [[bulletin]]\nid = \"b\"\ntitle = \"B\"\nfile = \"truncated.wav\"\n",
            fixtures.display()
        );
        let l = load_str(
            &text,
            Path::new("/tmp/station.toml"),
            LoadOptions::default(),
        );
        let found: Vec<(Option<&str>, Option<&str>)> = l
            .diagnostics
            .errors()
            .map(|d| (d.item.as_deref(), d.key.as_deref()))
            .collect();
        assert_eq!(
            found,
            [
                (Some("bulletin \"a\""), Some("at")),
                (Some("bulletin \"b\""), Some("file"))
            ],
            "{}",
            l.diagnostics
        );
        assert_eq!(
            l.diagnostics.errors().nth(1).unwrap().position,
            Some((12, 8))
        );
    }

    #[test]
    fn audio_problems_keep_the_station_and_its_items_station_errors_do_not() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio");
        let head = format!(
            "[station]\nname = \"X\"\naudio_dir = \"{}\"\n",
            fixtures.display()
        );
        let items = "[[bulletin]]\nid = \"gone\"\ntitle = \"G\"\nfile = \"da-xoa.mp3\"\n\
                     [[bulletin]]\nid = \"bad\"\ntitle = \"B\"\nfile = \"truncated.wav\"\n\
                     [[bulletin]]\nid = \"ok\"\ntitle = \"O\"\nfile = \"mp3-cbr.mp3\"\n\
                     [[program]]\nid = \"p\"\ntitle = \"P\"\nat = [\"06:00\"]\nitems = [\"gone\", \"ok\"]\n";
        let path = Path::new("/tmp/station.toml");
        let l = load_str(&format!("{head}{items}"), path, LoadOptions::default());
        let audio: Vec<_> = l
            .diagnostics
            .audio_errors()
            .filter_map(|d| d.item.clone())
            .collect();
        assert_eq!(
            audio,
            ["bulletin \"gone\"", "bulletin \"bad\""],
            "{}",
            l.diagnostics
        );
        assert_eq!(
            l.diagnostics.station_errors().count(),
            0,
            "{}",
            l.diagnostics
        );
        let s = l.station.unwrap_or_else(|| panic!("{}", l.diagnostics));
        let gone = s.bulletin("gone").unwrap();
        assert!(gone.audio.is_none());
        assert_eq!(
            gone.path,
            fixtures.canonicalize().unwrap().join("da-xoa.mp3")
        );
        assert_eq!(
            s.program("p").unwrap().items,
            [
                crate::config::ProgramItem::Bulletin(0),
                crate::config::ProgramItem::Bulletin(2)
            ]
        );

        let broken = format!("{head}{items}[[bulletin]]\nid = \"t\"\ntitle = \"T\"\nfile = \"mp3-cbr.mp3\"\nat = [\"25:00\"]\n");
        let l = load_str(&broken, path, LoadOptions::default());
        assert_eq!(
            l.diagnostics.station_errors().count(),
            1,
            "{}",
            l.diagnostics
        );
        assert!(l.station.is_none());
    }

    #[test]
    fn a_missing_audio_dir_keeps_the_station_every_item_fails() {
        let text = "[station]\nname = \"X\"\naudio_dir = \"/nonexistent/loa-audio\"\n\
                    [[bulletin]]\nid = \"a\"\ntitle = \"A\"\nfile = \"a.mp3\"\n";
        let l = load_str(text, Path::new("/tmp/station.toml"), LoadOptions::default());
        assert_eq!(l.diagnostics.errors().count(), 1, "{}", l.diagnostics);
        assert_eq!(l.diagnostics.audio_errors().count(), 1);
        let s = l.station.unwrap();
        assert_eq!(
            s.bulletins[0].path,
            Path::new("/nonexistent/loa-audio/a.mp3")
        );
    }
}
