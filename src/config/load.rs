//! Loading a station file: TOML text → `Station`, or every problem at once.
//!
//! The document is parsed once into a spanned tree; each section and each
//! item is then deserialized on its own, so a type error in one bulletin does
//! not hide the problems of the next. Semantic checks follow and point at the
//! offending value (`file:line:col`) and name the item and key.
//!
//! This file holds the entry points and the order of the work; the rest is
//! in rooms by topic: `raw` (the shapes as written), `deser` (tree → shapes,
//! serde's errors), `sections` (`[station]`, `[output]`, `[quiet]`,
//! `[api]`), `fleet` (`[fleet]`), `timing` (when an item airs), `items`
//! (campaigns, bulletins, programmes) and `warnings`.
//!
//! Nothing here plays, probes, schedules or writes: besides reading the file,
//! the only I/O is looking for `audio_dir`, the bulletins' files and
//! `[publish]`'s key and files, which callers may turn off ([`AudioFiles`]). Probing those files, and warnings
//! that need the schedule, are the `check` module's.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::monitor::RawMonitor;
use super::raw::{
    RawApi, RawBulletin, RawCampaign, RawFleet, RawOutput, RawProgram, RawQuiet, RawRelay,
    RawReport, RawSession, RawTts,
};
use super::*;
use crate::diag::{DiagnosticBuilder, Diagnostics, Reporter};

/// A station (when the file can run) and every diagnostic found.
#[derive(Debug)]
pub struct Loaded {
    /// `None` when an error makes the station file meaningless
    /// ([`crate::diag::Category::Station`]). Audio errors
    /// ([`crate::diag::Category::Audio`]) leave it
    /// here with the affected bulletins, which fail when due: `loa run`
    /// airs the rest, while `loa check` still fails on them.
    pub station: Option<Station>,
    pub diagnostics: Diagnostics,
}

impl Loaded {
    /// The outcome of loading: the diagnostics sorted top to bottom, and the
    /// station unless one of them is a station error.
    pub fn new(station: Option<Station>, mut diagnostics: Diagnostics) -> Loaded {
        diagnostics.sort();
        let station = if diagnostics.station_errors().next().is_some() {
            None
        } else {
            station
        };
        Loaded {
            station,
            diagnostics,
        }
    }
}

/// Whether the loader looks for `audio_dir` and the bulletins' files on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFiles {
    /// `audio_dir` must be a directory and every `file` a file inside it;
    /// `Bulletin::path` is the file's real path.
    Resolve,
    /// Paths are only checked as written; `Bulletin::path` is `file` as
    /// written. For commands that only read the ledger: a missing file must
    /// not stop officials from reading a report.
    AsWritten,
}

/// A station file as this module reads it, before anything above it (audio
/// probing, the schedule) has looked.
#[derive(Debug)]
pub struct Draft {
    /// The station as far as it could be built: items with errors are left
    /// out. `None` when the file could not be read or parsed, or its
    /// `[station]`, `[output]` or `[api]` could not be built.
    pub station: Option<Station>,
    pub diagnostics: Diagnostics,
    pub source: Source,
}

impl Draft {
    /// The station, if no error was found.
    pub fn finish(self) -> Loaded {
        Loaded::new(self.station, self.diagnostics)
    }
}

/// The station file's text and where its items were written, so that checks
/// made on the station can point into the file.
#[derive(Debug)]
pub struct Source {
    /// The file, as the caller named it.
    pub path: PathBuf,
    pub text: String,
    /// Where each item's id was written, keyed by its label.
    id_spans: HashMap<String, Range<usize>>,
    /// Where each accepted bulletin's `file` was written, keyed by its id.
    file_spans: HashMap<String, Range<usize>>,
}

impl Source {
    /// Report more diagnostics about this file, after `diagnostics`.
    pub fn reporter(&self, diagnostics: Diagnostics) -> Reporter<'_> {
        Reporter::resume(&self.path, &self.text, diagnostics)
    }

    /// Where the item labelled `label` (e.g. `bulletin "x"`) wrote its id.
    pub fn id_span(&self, label: &str) -> Option<Range<usize>> {
        self.id_spans.get(label).cloned()
    }

    /// Where bulletin `id` wrote its `file`.
    pub fn file_span(&self, id: &str) -> Option<Range<usize>> {
        self.file_spans.get(id).cloned()
    }
}

/// Largest station file read, by every path that reads one (`loa check`,
/// `loa run`, SIGHUP, `POST /api/v1/reload`, the last good copy): a
/// station with thousands of bulletins is a few hundred kilobytes.
pub const MAX_STATION_FILE: u64 = 16 * 1024 * 1024;

/// Why a station file could not be read: what happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub message: String,
    pub hint: &'static str,
    /// The file is not there at all (a last good copy not made yet).
    pub not_found: bool,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.hint)
    }
}

/// A station file's text, the one reader for every path that reads one: a
/// regular file (a FIFO would block, a device like `/dev/zero` never ends)
/// of at most [`MAX_STATION_FILE`] bytes, in UTF-8. It never blocks: the
/// file is opened with `O_NONBLOCK` and what was opened is checked
/// (`fstat`) before a byte is read, so a path swapped for a pipe between
/// the look and the open is refused too.
pub fn read_station_file(path: &Path) -> Result<String, Unreadable> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let hint = "check the path; pass another with --config PATH or set LOA_CONFIG";
    let failed = |e: std::io::Error| Unreadable {
        message: format!("cannot read the station file: {e}"),
        hint,
        not_found: e.kind() == std::io::ErrorKind::NotFound,
    };
    // A look first, so that a device is refused without being opened.
    not_regular(&std::fs::metadata(path).map_err(failed)?)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(failed)?;
    let meta = file.metadata().map_err(failed)?;
    not_regular(&meta)?;
    let too_large = || Unreadable {
        message: format!(
            "the station file is larger than {} MB",
            MAX_STATION_FILE / (1024 * 1024)
        ),
        hint: "is this really the station file? it describes bulletins, it does not hold audio",
        not_found: false,
    };
    if meta.len() > MAX_STATION_FILE {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(MAX_STATION_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(failed)?;
    if bytes.len() as u64 > MAX_STATION_FILE {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| Unreadable {
        message: format!(
            "the station file is not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        ),
        hint: "save it as UTF-8 (any editor can; Vietnamese text needs it)",
        not_found: false,
    })
}

/// Refuse what is not a regular file, naming what it is.
fn not_regular(meta: &std::fs::Metadata) -> Result<(), Unreadable> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a named pipe (FIFO)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a file"
    };
    Err(Unreadable {
        message: format!(
            "the station file is {what}, not a regular file; nothing was read from it"
        ),
        hint: "point --config PATH (or LOA_CONFIG) at the station's .toml file; a station file \
               made by a program must be written to a regular file (then renamed into place)",
        not_found: false,
    })
}

/// Read and check a station file.
pub fn load(path: &Path, files: AudioFiles) -> Draft {
    match read_station_file(path) {
        Ok(text) => load_str(&text, path, files),
        Err(e) => {
            let mut r = Reporter::new(path, "");
            r.whole_file().error(e.message, e.hint);
            Draft {
                station: None,
                diagnostics: r.diags,
                source: Source {
                    path: path.to_path_buf(),
                    text: String::new(),
                    id_spans: HashMap::new(),
                    file_spans: HashMap::new(),
                },
            }
        }
    }
}

/// Check station-file text; `path` locates it (relative paths in the file
/// are relative to its directory).
pub fn load_str(text: &str, path: &Path, files: AudioFiles) -> Draft {
    let abs = absolute(path);
    let mut loader = Loader {
        r: Reporter::new(path, text),
        base: abs.parent().map(Path::to_path_buf).unwrap_or_default(),
        files,
        file_spans: HashMap::new(),
        written_bulletin_ids: HashSet::new(),
        written_relay_ids: HashSet::new(),
        id_spans: HashMap::new(),
        suggested: 0,
    };
    let station = loader.run(text, abs);
    Draft {
        station,
        diagnostics: loader.r.diags,
        source: Source {
            path: path.to_path_buf(),
            text: text.to_string(),
            id_spans: loader.id_spans,
            file_spans: loader.file_spans,
        },
    }
}

/// Where a station file keeps its data, read as leniently as possible from
/// text that may not load: `[station] data_dir` from the parsed document,
/// else from its line when the TOML is broken elsewhere, else the default.
/// `loa run` looks for the last good station file there.
pub fn data_dir_of(text: &str, path: &Path) -> PathBuf {
    let base = absolute(path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let written = match text.parse::<toml::Table>() {
        Ok(doc) => doc
            .get("station")
            .and_then(|s| s.get("data_dir"))
            .and_then(|d| d.as_str())
            .map(str::to_string),
        Err(_) => data_dir_line(text),
    };
    written.map_or_else(|| PathBuf::from(DEFAULT_DATA_DIR), |d| base.join(d))
}

/// `data_dir = "…"` (or `'…'`) on its own line in `[station]`, for a file
/// whose TOML does not parse.
fn data_dir_line(text: &str) -> Option<String> {
    let mut in_station = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_station = line.trim_start_matches('[').trim_end_matches(']').trim() == "station";
            continue;
        }
        let Some(rest) = line.strip_prefix("data_dir") else {
            continue;
        };
        let Some(value) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        if !in_station {
            continue;
        }
        let value = value.trim();
        for q in ['"', '\''] {
            if let Some(inner) = value.strip_prefix(q).and_then(|v| v.split(q).next()) {
                if !inner.contains('\\') && value[1..].contains(q) {
                    return Some(inner.to_string());
                }
            }
        }
    }
    None
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Checks one station file; its methods are in the rooms named above.
pub(super) struct Loader<'a> {
    pub(super) r: Reporter<'a>,
    pub(super) base: PathBuf,
    pub(super) files: AudioFiles,
    /// Where each accepted bulletin's `file` was written, keyed by its id,
    /// so problems found in the file point at it.
    pub(super) file_spans: HashMap<String, Range<usize>>,
    /// Every bulletin id written, valid or not: a programme naming a broken
    /// bulletin must not also be told the bulletin does not exist.
    pub(super) written_bulletin_ids: HashSet<String>,
    /// Every relay id written, valid or not (the same, for relays).
    pub(super) written_relay_ids: HashSet<String>,
    /// Where each item's id was written, keyed by its label, so warnings
    /// about a whole item point at it.
    pub(super) id_spans: HashMap<String, Range<usize>>,
    /// How many "did you mean" suggestions were asked for (they are
    /// bounded: see `items`).
    pub(super) suggested: usize,
}

/// The item a diagnostic is about, e.g. `bulletin "cds-thong-diep"`.
pub(crate) fn item_label(kind: &str, id: &str) -> String {
    format!("{kind} \"{id}\"")
}

impl<'a> Loader<'a> {
    /// A diagnostic about what is written at `span`.
    pub(super) fn at(
        &mut self,
        span: impl Into<Option<Range<usize>>>,
    ) -> DiagnosticBuilder<'_, 'a> {
        self.r.at(span)
    }

    /// A diagnostic about the file as a whole.
    pub(super) fn whole_file(&mut self) -> DiagnosticBuilder<'_, 'a> {
        self.r.whole_file()
    }

    fn run(&mut self, text: &str, abs: PathBuf) -> Option<Station> {
        let mut sections = self.sections(text)?;
        let station = self.station_table(sections.remove("station"));
        let output = self.optional_table::<RawOutput>(sections.remove("output"), "[output]");
        let quiet = self.optional_table::<RawQuiet>(sections.remove("quiet"), "[quiet]");
        let api = self.optional_table::<RawApi>(sections.remove("api"), "[api]");
        let fleet = self.optional_table::<RawFleet>(sections.remove("fleet"), "[fleet]");
        let upstream = sections
            .remove("upstream")
            .map(|v| self.table::<super::upstream::RawUpstream>(v, "[upstream]"));
        let publish = sections
            .remove("publish")
            .map(|v| self.table::<super::upstream::RawPublish>(v, "[publish]"));
        let tts = self.optional_table::<RawTts>(sections.remove("tts"), "[tts]");
        let session = self.optional_table::<RawSession>(sections.remove("session"), "[session]");
        let report = self.optional_table::<RawReport>(sections.remove("report"), "[report]");
        let campaigns = self.array::<RawCampaign>(sections.remove("campaign"), "campaign");
        let bulletins = self.array::<RawBulletin>(sections.remove("bulletin"), "bulletin");
        let programs = self.array::<RawProgram>(sections.remove("program"), "program");
        let relays = self.array::<RawRelay>(sections.remove("relay"), "relay");
        let monitor = self.optional_table::<RawMonitor>(sections.remove("monitor"), "[monitor]");

        let st = station?;
        let name = self.station_name(&st);
        let timezone = self.timezone(&st);
        let (audio_dir, audio_dir_usable) = self.audio_dir(&st);
        let data_dir = self.data_dir(&st);
        let output = output.and_then(|o| self.output(o));
        let quiet = quiet.map(|q| self.quiet(q)).unwrap_or_default();
        let api = api.and_then(|a| self.api(a));
        let fleet = fleet.and_then(|f| self.fleet(f, &name));
        let upstream = upstream.map(|u| u.and_then(|u| self.upstream(u)));
        let publish = publish.map(|p| p.and_then(|p| self.publish(p)));
        let tts = tts.and_then(|t| self.tts(t));
        let session = session.and_then(|s| self.session(s));
        let monitor = monitor.and_then(|m| self.monitor(m));
        // A broken [tts] is reported; the bulletins are checked against the
        // default engine meanwhile.
        let tts_or_default = tts.clone().unwrap_or_default();

        let campaigns = self.campaigns(campaigns);
        let mut ids: HashMap<String, (&str, Range<usize>)> = HashMap::new();
        let bulletins = self.bulletins(
            bulletins,
            &campaigns,
            (&audio_dir, audio_dir_usable),
            (&tts_or_default, &data_dir),
            &mut ids,
        );
        let relays = self.relays(relays, &campaigns, &bulletins, &mut ids);
        let programs = self.programs(programs, &bulletins, &relays, &mut ids);

        let station = Station {
            path: abs,
            name,
            timezone,
            audio_dir,
            data_dir,
            output: output?,
            quiet,
            api: api?,
            fleet: fleet?,
            upstream: upstream.map_or(Some(None), |u| u.map(Some))?,
            publish: publish.map_or(Some(None), |p| p.map(Some))?,
            tts: tts?,
            session: session?,
            report: report.map(|r| self.report(r)).unwrap_or_default(),
            campaigns,
            bulletins,
            programs,
            relays,
            monitor: monitor?,
        };
        self.warnings(&station);
        Some(station)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::*;

    /// A station file every loader test starts from.
    const GOOD: &str = include_str!("testdata/good-station.toml");

    #[test]
    fn accepts_a_good_station() {
        let l = load_text(GOOD);
        assert!(!l.diagnostics.has_errors(), "{}", l.diagnostics);
        let s = l.station.unwrap();
        assert_eq!(s.timezone, DEFAULT_TIMEZONE);
        assert_eq!(s.data_dir, Path::new("/tmp/var"));
        let b = s.bulletin("cds-thong-diep").unwrap();
        assert_eq!(b.grace_seconds, 300);
        // The campaign's window is inherited.
        let w = b.window.unwrap();
        assert_eq!(
            w.from,
            DateSpec::Fixed(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap())
        );
        match &b.timing {
            Timing::At { times, days } => {
                assert_eq!(times.len(), 2);
                assert_eq!(*days, parse_days("mon-sat").unwrap());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            s.program("buoi-sang").unwrap().items,
            [ProgramItem::Bulletin(1), ProgramItem::Bulletin(0)]
        );
        assert!(matches!(
            s.bulletin("nhac-hieu").unwrap().timing,
            Timing::Unscheduled
        ));
        assert_eq!(s.api.listen.to_string(), "127.0.0.1:8077");
        assert_eq!(
            s.output.kind,
            OutputKind::Device {
                device: "default".into()
            }
        );
    }

    #[test]
    fn report_signatures_default_and_are_read() {
        let s = load_text(GOOD).station.unwrap();
        assert_eq!(s.report, ReportSigning::default());
        assert_eq!(s.report.head_title, "Thủ trưởng đơn vị");
        let text = GOOD.replacen(
            "[station]",
            "[report]\nhead_title = \"Chủ tịch UBND xã\"\nhead_name = \"Trần Văn Hùng\"\n\n[station]",
            1,
        );
        let l = load_text(&text);
        assert!(!l.diagnostics.has_errors(), "{}", l.diagnostics);
        let r = l.station.unwrap().report;
        assert_eq!(
            (
                r.preparer_title.as_str(),
                r.head_title.as_str(),
                r.head_name.as_str()
            ),
            ("Người lập biểu", "Chủ tịch UBND xã", "Trần Văn Hùng")
        );
        let bad = GOOD.replacen("[station]", "[report]\nsigner = \"x\"\n\n[station]", 1);
        let l = load_text(&bad);
        assert!(l.diagnostics.has_errors());
        assert!(
            l.diagnostics.to_string().contains("signer"),
            "{}",
            l.diagnostics
        );
    }

    #[test]
    fn reports_every_problem_at_once_with_locations() {
        let l = load_items(
            r#"
timezone = "Asia/Hanoi_City"

[[campaign]]
id = "c"
title = "C"
from = "2026-10-31"
to = "2026-10-01"

[[bulletin]]
id = "a"
title = "A"
file = "a.mp3"
at = ["25:00"]
campaign = "nope"

[[bulletin]]
id = "a"
title = "A again"
file = "../outside.mp3"
at = ["06:00"]
cron = "0 6 * * *"

[[program]]
id = "p"
title = "P"
items = ["a", "ghost"]
"#,
        );
        assert!(l.station.is_none());
        let tz = find(&l, "[station]", "timezone");
        assert_eq!(tz.position, Some((4, 12)));
        says(&l, "campaign \"c\"", "from", "after");
        let at = find(&l, "bulletin \"a\"", "at");
        assert!(at.message.contains("25:00"), "{}", at.message);
        assert_eq!(at.position, Some((16, 7)));
        says(&l, "bulletin \"a\"", "campaign", "nope");
        says(&l, "bulletin \"a\"", "id", "duplicate");
        says(&l, "bulletin \"a\"", "file", "inside audio_dir");
        says(&l, "bulletin \"a\"", "cron", "both");
        says(&l, "program \"p\"", "items", "ghost");
        // Every error has a position and a hint.
        for e in errors(&l) {
            assert!(e.position.is_some(), "{e}");
            assert!(e.hint.is_some(), "{e}");
        }
    }

    #[test]
    fn syntax_errors_are_located() {
        let l = load_text("[station]\nname = \"X\nfoo = 1\n");
        let e = errors(&l);
        assert!(!e.is_empty());
        assert_eq!(e[0].position.unwrap().0, 2, "{}", l.diagnostics);
        assert!(e[0].message.starts_with("TOML syntax"));
    }

    #[test]
    fn missing_station_section() {
        let l = load_text("[output]\nkind = \"null\"\n");
        assert!(errors(&l)[0].message.contains("[station]"));
    }

    #[test]
    fn data_dir_is_found_even_in_a_file_that_does_not_parse() {
        let p = Path::new("/srv/loa/station.toml");
        let good = "[station]\nname = \"X\"\ndata_dir = \"../var\"\n";
        assert_eq!(data_dir_of(good, p), Path::new("/srv/loa/../var"));
        let broken = format!("{good}[[bulletin]\nid = \"x");
        assert_eq!(data_dir_of(&broken, p), Path::new("/srv/loa/../var"));
        let elsewhere = "[output]\ndata_dir = 'no'\n[station]\ndata_dir = '/d'\n[[x]\n";
        assert_eq!(data_dir_of(elsewhere, p), Path::new("/d"));
        assert_eq!(data_dir_of("[station\n", p), Path::new(DEFAULT_DATA_DIR));
        assert_eq!(data_dir_of("", p), Path::new(DEFAULT_DATA_DIR));
    }

    #[test]
    fn unreadable_file_says_how_to_point_elsewhere() {
        let l = load(
            Path::new("/nonexistent/station.toml"),
            AudioFiles::AsWritten,
        )
        .finish();
        let e = errors(&l);
        assert!(e[0].hint.as_deref().unwrap().contains("--config"));
    }
}
