//! Loading a station file: TOML text → `Station`, or every problem at once.
//!
//! The document is parsed once into a spanned tree; each section and each
//! item is then deserialized on its own, so a type error in one bulletin does
//! not hide the problems of the next. Semantic checks follow and point at the
//! offending value (`file:line:col`) and name the item and key.
//!
//! Nothing here plays, probes, schedules or writes: besides reading the file,
//! the only I/O is looking for `audio_dir` and the bulletins' files, which
//! callers may turn off ([`AudioFiles`]). Probing those files, and warnings
//! that need the schedule, are the `check` module's.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use chrono::NaiveDate;
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::*;
use crate::diag::{DiagnosticBuilder, Diagnostics, Reporter, Severity};

/// A station (when there were no errors) and every diagnostic found.
#[derive(Debug)]
pub struct Loaded {
    pub station: Option<Station>,
    pub diagnostics: Diagnostics,
}

impl Loaded {
    /// The outcome of loading: the diagnostics sorted top to bottom, and the
    /// station only if none of them is an error.
    pub fn new(station: Option<Station>, mut diagnostics: Diagnostics) -> Loaded {
        diagnostics.sort();
        let station = if diagnostics.has_errors() {
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

    /// Where the item labelled `label` (see [`item_label`]) wrote its id.
    pub fn id_span(&self, label: &str) -> Option<Range<usize>> {
        self.id_spans.get(label).cloned()
    }

    /// Where bulletin `id` wrote its `file`.
    pub fn file_span(&self, id: &str) -> Option<Range<usize>> {
        self.file_spans.get(id).cloned()
    }
}

/// Read and check a station file.
pub fn load(path: &Path, files: AudioFiles) -> Draft {
    match std::fs::read_to_string(path) {
        Ok(text) => load_str(&text, path, files),
        Err(e) => {
            let mut r = Reporter::new(path, "");
            r.whole_file().error(
                format!("cannot read the station file: {e}"),
                "check the path; pass another with --config PATH or set LOA_CONFIG",
            );
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
        id_spans: HashMap::new(),
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

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

// ---------------------------------------------------------------------------
// The raw shapes, as written. Every value keeps its span.

type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStation {
    name: S<String>,
    timezone: Option<S<String>>,
    audio_dir: Option<S<String>>,
    data_dir: Option<S<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    kind: Option<S<String>>,
    device: Option<S<String>>,
    path: Option<S<String>>,
    pace: Option<S<String>>,
    volume: Option<S<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawQuiet {
    #[serde(default)]
    hours: Vec<S<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawApi {
    listen: Option<S<String>>,
    max_upload_mb: Option<S<i64>>,
    #[serde(default)]
    token: Vec<S<RawToken>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: S<String>,
    role: S<String>,
    sha256: S<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCampaign {
    id: S<String>,
    title: S<String>,
    from: Option<S<toml::Value>>,
    to: Option<S<toml::Value>>,
    target_minutes: Option<S<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBulletin {
    id: S<String>,
    title: S<String>,
    file: S<String>,
    campaign: Option<S<String>>,
    priority: Option<S<String>>,
    at: Option<S<Vec<S<toml::Value>>>>,
    days: Option<S<String>>,
    cron: Option<S<String>>,
    from: Option<S<toml::Value>>,
    to: Option<S<toml::Value>>,
    grace: Option<S<String>>,
    enabled: Option<S<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProgram {
    id: S<String>,
    title: S<String>,
    items: S<Vec<S<String>>>,
    priority: Option<S<String>>,
    at: Option<S<Vec<S<toml::Value>>>>,
    days: Option<S<String>>,
    cron: Option<S<String>>,
    from: Option<S<toml::Value>>,
    to: Option<S<toml::Value>>,
    grace: Option<S<String>>,
    enabled: Option<S<bool>>,
}

/// Move the timing keys out of a `RawBulletin` or `RawProgram`.
macro_rules! take_when {
    ($item:expr) => {
        RawWhen {
            at: $item.at,
            days: $item.days,
            cron: $item.cron,
            from: $item.from,
            to: $item.to,
            grace: $item.grace,
            enabled: $item.enabled,
        }
    };
}

/// Keys shared by bulletins and programmes: when they air. (Not a
/// `#[serde(flatten)]` field: flattening buffers values and loses spans.)
struct RawWhen {
    at: Option<S<Vec<S<toml::Value>>>>,
    days: Option<S<String>>,
    cron: Option<S<String>>,
    from: Option<S<toml::Value>>,
    to: Option<S<toml::Value>>,
    grace: Option<S<String>>,
    enabled: Option<S<bool>>,
}

const SECTIONS: &[&str] = &[
    "station", "output", "quiet", "api", "campaign", "bulletin", "program",
];

// ---------------------------------------------------------------------------

/// The checked keys bulletins and programmes share.
struct Common {
    priority: Priority,
    timing: Timing,
    window: Option<Window>,
    grace_seconds: u32,
    enabled: bool,
}

struct Loader<'a> {
    r: Reporter<'a>,
    base: PathBuf,
    files: AudioFiles,
    /// Where each accepted bulletin's `file` was written, keyed by its id,
    /// so problems found in the file point at it.
    file_spans: HashMap<String, Range<usize>>,
    /// Every bulletin id written, valid or not: a programme naming a broken
    /// bulletin must not also be told the bulletin does not exist.
    written_bulletin_ids: HashSet<String>,
    /// Where each item's id was written, keyed by its label, so warnings
    /// about a whole item point at it.
    id_spans: HashMap<String, Range<usize>>,
}

/// The item a diagnostic is about, e.g. `bulletin "cds-thong-diep"`.
pub(crate) fn item_label(kind: &str, id: &str) -> String {
    format!("{kind} \"{id}\"")
}

impl<'a> Loader<'a> {
    /// A diagnostic about what is written at `span`.
    fn at(&mut self, span: impl Into<Option<Range<usize>>>) -> DiagnosticBuilder<'_, 'a> {
        self.r.at(span)
    }

    /// A diagnostic about the file as a whole.
    fn whole_file(&mut self) -> DiagnosticBuilder<'_, 'a> {
        self.r.whole_file()
    }

    /// A warning about a whole item, pointing at its id.
    fn warn_item(&mut self, label: &str, msg: impl Into<String>, help: impl Into<String>) {
        let span = self.id_spans.get(label).cloned();
        self.at(span).item(label).warn(msg, help);
    }

    fn run(&mut self, text: &str, abs: PathBuf) -> Option<Station> {
        let (root, errors) = DeTable::parse_recoverable(text);
        if !errors.is_empty() {
            for e in errors {
                self.at(e.span()).error(
                    format!("TOML syntax: {}", e.message().trim_end()),
                    "fix the TOML syntax here; strings need \"double quotes\"",
                );
            }
            return None;
        }
        let root = root.into_inner();

        let mut sections: HashMap<&str, Spanned<DeValue>> = HashMap::new();
        for (key, value) in root {
            let name = key.get_ref().as_ref();
            if let Some(known) = SECTIONS.iter().find(|s| **s == name) {
                sections.insert(known, value);
            } else {
                let hint = match closest(name, SECTIONS) {
                    Some(s) => format!(
                        "did you mean [{s}]? Known sections: {}",
                        SECTIONS.join(", ")
                    ),
                    None => format!("known sections: {}", SECTIONS.join(", ")),
                };
                self.at(key.span())
                    .error(format!("unknown section or key `{name}`"), hint);
            }
        }

        let station_sec = match sections.remove("station") {
            Some(v) => self.table::<RawStation>(v, "[station]"),
            None => {
                self.whole_file().error(
                    "the [station] section is missing",
                    "start the file with [station] and name = \"Đài truyền thanh ...\"",
                );
                None
            }
        };
        let output = sections
            .remove("output")
            .map(|v| self.table::<RawOutput>(v, "[output]"))
            .unwrap_or_else(|| Some(RawOutput::default()));
        let quiet = sections
            .remove("quiet")
            .map(|v| self.table::<RawQuiet>(v, "[quiet]"))
            .unwrap_or_else(|| Some(RawQuiet::default()));
        let api = sections
            .remove("api")
            .map(|v| self.table::<RawApi>(v, "[api]"))
            .unwrap_or_else(|| Some(RawApi::default()));
        let campaigns: Vec<RawCampaign> = self.array(sections.remove("campaign"), "campaign");
        let bulletins: Vec<RawBulletin> = self.array(sections.remove("bulletin"), "bulletin");
        let programs: Vec<RawProgram> = self.array(sections.remove("program"), "program");

        let st = station_sec?;
        let name = st.name.get_ref().trim().to_string();
        if name.is_empty() {
            self.at(st.name.span()).item("[station]").key("name").error(
                "the station name is empty",
                "write the name listeners know, e.g. \"Đài truyền thanh xã Thạch Hà\"",
            );
        }
        let timezone = match &st.timezone {
            None => DEFAULT_TIMEZONE,
            Some(tz) => match tz.get_ref().parse::<chrono_tz::Tz>() {
                Ok(t) => t,
                Err(_) => {
                    self.at(tz.span()).item("[station]").key("timezone").error(
                        format!("`{}` is not an IANA timezone name", tz.get_ref()),
                        "use e.g. \"Asia/Ho_Chi_Minh\" (the default)",
                    );
                    DEFAULT_TIMEZONE
                }
            },
        };
        let audio_dir = self.audio_dir(&st);
        let data_dir = match &st.data_dir {
            Some(d) => self.base.join(d.get_ref()),
            None => PathBuf::from("/var/lib/loa"),
        };
        let output = output.and_then(|o| self.output(o));
        let quiet = quiet.map(|q| self.quiet(q)).unwrap_or_default();
        let api = api.and_then(|a| self.api(a));

        let campaigns = self.campaigns(campaigns);
        let mut ids: HashMap<String, (&str, Range<usize>)> = HashMap::new();
        let bulletins = self.bulletins(bulletins, &campaigns, audio_dir.as_deref(), &mut ids);
        let programs = self.programs(programs, &bulletins, &mut ids);

        let station = Station {
            path: abs,
            name,
            timezone,
            audio_dir: audio_dir.unwrap_or_default(),
            data_dir,
            output: output?,
            quiet,
            api: api?,
            campaigns,
            bulletins,
            programs,
        };
        self.warnings(&station);
        Some(station)
    }

    /// Deserialize one table section on its own.
    fn table<T: DeserializeOwned>(&mut self, v: Spanned<DeValue>, what: &str) -> Option<T> {
        let span = v.span();
        match v.into_inner() {
            DeValue::Table(t) => self.deser(Spanned::new(span, t), what),
            other => {
                self.at(span).error(
                    format!("{what} must be a table, not a {}", other.type_str()),
                    format!("write it as a {what} header followed by its keys"),
                );
                None
            }
        }
    }

    fn deser<T: DeserializeOwned>(&mut self, t: Spanned<DeTable>, what: &str) -> Option<T> {
        let whole = t.span();
        match T::deserialize(t.into_deserializer()) {
            Ok(v) => Some(v),
            Err(e) => {
                let msg = e.message().trim_end().to_string();
                let hint = type_hint(&msg);
                self.at(e.span().unwrap_or(whole))
                    .item(what)
                    .report(Severity::Error, msg, hint);
                None
            }
        }
    }

    /// Deserialize every `[[kind]]` entry on its own.
    fn array<T: DeserializeOwned>(&mut self, v: Option<Spanned<DeValue>>, kind: &str) -> Vec<T> {
        let Some(v) = v else { return Vec::new() };
        let span = v.span();
        let DeValue::Array(items) = v.into_inner() else {
            self.at(span).error(
                format!("`{kind}` must be a list of [[{kind}]] tables"),
                format!("write each one under its own [[{kind}]] header"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let ispan = item.span();
            let DeValue::Table(t) = item.into_inner() else {
                self.at(ispan).error(
                    format!("{kind} #{} must be a table", i + 1),
                    format!("write each one under its own [[{kind}]] header"),
                );
                continue;
            };
            let label = match t.get("id").map(|v| v.get_ref()) {
                Some(DeValue::String(id)) => item_label(kind, id),
                _ => format!("{kind} #{}", i + 1),
            };
            if let Some(v) = self.deser::<T>(Spanned::new(ispan, t), &label) {
                out.push(v);
            }
        }
        out
    }

    fn audio_dir(&mut self, st: &RawStation) -> Option<PathBuf> {
        let (dir, span) = match &st.audio_dir {
            Some(d) => (self.base.join(d.get_ref()), Some(d.span())),
            None => (self.base.clone(), None),
        };
        if self.files == AudioFiles::AsWritten {
            return Some(dir);
        }
        match dir.canonicalize() {
            Ok(d) if d.is_dir() => Some(d),
            Ok(d) => {
                self.at(span).item("[station]").key("audio_dir").error(
                    format!("{} is not a directory", d.display()),
                    "point audio_dir at the folder that holds the bulletin files",
                );
                None
            }
            Err(e) => {
                self.at(span).item("[station]").key("audio_dir").error(
                    format!("cannot open audio directory {}: {e}", dir.display()),
                    "create it, or fix audio_dir (relative to the station file)",
                );
                None
            }
        }
    }

    fn output(&mut self, o: RawOutput) -> Option<Output> {
        const ITEM: &str = "[output]";
        let kind = o.kind.as_ref().map_or("device", |k| k.get_ref().as_str());
        let pace = match &o.pace {
            None => Pace::Realtime,
            Some(p) => match p.get_ref().as_str() {
                "realtime" => Pace::Realtime,
                "fast" => Pace::Fast,
                other => {
                    self.at(p.span()).item(ITEM).key("pace").error(
                        format!("unknown pace `{other}`"),
                        "write \"realtime\" (the default) or \"fast\" (tests)",
                    );
                    Pace::Realtime
                }
            },
        };
        let kind = match kind {
            "device" => OutputKind::Device {
                device: o
                    .device
                    .as_ref()
                    .map_or_else(|| "default".to_string(), |d| d.get_ref().clone()),
            },
            "wav" => match &o.path {
                Some(p) if !p.get_ref().is_empty() => OutputKind::Wav {
                    path: self.base.join(p.get_ref()),
                    pace,
                },
                _ => {
                    self.at(o.kind.as_ref().map(|k| k.span()))
                        .item(ITEM)
                        .key("path")
                        .error(
                            "kind = \"wav\" needs a path",
                            "add path = \"aired.wav\" (relative to the station file)",
                        );
                    return None;
                }
            },
            "null" => OutputKind::Null,
            other => {
                self.at(o.kind.as_ref().map(|k| k.span()))
                    .item(ITEM)
                    .key("kind")
                    .error(
                        format!("unknown output kind `{other}`"),
                        "write \"device\" (the sound card), \"wav\" (a recording) or \"null\"",
                    );
                return None;
            }
        };
        let volume = match &o.volume {
            None => 1.0,
            Some(v) if (0.0..=1.0).contains(v.get_ref()) => *v.get_ref() as f32,
            Some(v) => {
                self.at(v.span()).item(ITEM).key("volume").error(
                    format!("volume {} is out of range", v.get_ref()),
                    "write a number from 0.0 (silent) to 1.0 (full)",
                );
                return None;
            }
        };
        Some(Output { kind, volume })
    }

    fn quiet(&mut self, q: RawQuiet) -> QuietHours {
        let mut ranges = Vec::new();
        for h in &q.hours {
            let parsed = h.get_ref().split_once('-').and_then(|(a, b)| {
                Some((parse_time_of_day(a.trim())?, parse_time_of_day(b.trim())?))
            });
            match parsed {
                Some((start, end)) if start != end => ranges.push(QuietRange { start, end }),
                Some(_) => self.at(h.span()).item("[quiet]").key("hours").error(
                    format!("`{}` starts and ends at the same time", h.get_ref()),
                    "write a range like \"21:00-05:00\"",
                ),
                None => self.at(h.span()).item("[quiet]").key("hours").error(
                    format!("`{}` is not a time range", h.get_ref()),
                    "write \"HH:MM-HH:MM\", e.g. \"21:00-05:00\" (may wrap midnight)",
                ),
            }
        }
        QuietHours { ranges }
    }

    fn api(&mut self, a: RawApi) -> Option<Api> {
        const ITEM: &str = "[api]";
        let mut ok = true;
        let listen = match &a.listen {
            None => std::net::SocketAddr::from(([127, 0, 0, 1], 8077)),
            Some(l) => match l.get_ref().parse() {
                Ok(addr) => addr,
                Err(_) => {
                    self.at(l.span())
                        .item(ITEM)
                        .key("listen")
                        .error(
                            format!("`{}` is not an address:port", l.get_ref()),
                            "write e.g. \"127.0.0.1:8077\" (the default) or \"0.0.0.0:8077\" for the LAN",
                        );
                    ok = false;
                    std::net::SocketAddr::from(([127, 0, 0, 1], 8077))
                }
            },
        };
        let max_upload_mb = match &a.max_upload_mb {
            None => 50,
            Some(m) if *m.get_ref() > 0 && *m.get_ref() <= 4096 => *m.get_ref() as u64,
            Some(m) => {
                self.at(m.span()).item(ITEM).key("max_upload_mb").error(
                    format!("{} is out of range", m.get_ref()),
                    "write a size in megabytes from 1 to 4096 (default 50)",
                );
                ok = false;
                50
            }
        };
        let mut tokens = Vec::new();
        let mut names = HashSet::new();
        for t in &a.token {
            let t = t.get_ref();
            let label = format!("api.token \"{}\"", t.name.get_ref());
            if !names.insert(t.name.get_ref().clone()) || t.name.get_ref().is_empty() {
                self.at(t.name.span()).item(&label).key("name").error(
                    "token names must be non-empty and unique",
                    "the name appears in the audit log; give each token its own",
                );
                ok = false;
            }
            let role = match t.role.get_ref().as_str() {
                "viewer" => Role::Viewer,
                "operator" => Role::Operator,
                "admin" => Role::Admin,
                other => {
                    self.at(t.role.span()).item(&label).key("role").error(
                        format!("unknown role `{other}`"),
                        "write \"viewer\", \"operator\" or \"admin\"",
                    );
                    ok = false;
                    Role::Viewer
                }
            };
            match parse_sha256(t.sha256.get_ref()) {
                Some(sha256) => tokens.push(ApiToken {
                    name: t.name.get_ref().clone(),
                    role,
                    sha256,
                }),
                None => {
                    self.at(t.sha256.span()).item(&label).key("sha256").error(
                        "not a SHA-256 hash (64 hexadecimal characters)",
                        "make a token with `loa token new NAME ROLE` and paste the lines it prints",
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(Api {
            listen,
            max_upload_mb,
            tokens,
        })
    }

    fn window(
        &mut self,
        label: &str,
        from: &Option<S<toml::Value>>,
        to: &Option<S<toml::Value>>,
    ) -> Result<Option<Window>, ()> {
        let parse = |this: &mut Self, v: &Option<S<toml::Value>>, key: &str| match v {
            None => Ok(None),
            Some(v) => match value_text(v.get_ref()).as_deref().and_then(parse_date_spec) {
                Some(d) => Ok(Some((d, v.span()))),
                None => {
                    this.at(v.span()).item(label).key(key).error(
                        format!("`{}` is not a date", value_display(v.get_ref())),
                        "write \"YYYY-MM-DD\" for one date or \"MM-DD\" for that day every year",
                    );
                    Err(())
                }
            },
        };
        let from = parse(self, from, "from")?;
        let to = parse(self, to, "to")?;
        let fixed_min = DateSpec::Fixed(NaiveDate::MIN);
        let fixed_max = DateSpec::Fixed(NaiveDate::MAX);
        match (from, to) {
            (None, None) => Ok(None),
            (Some((f @ DateSpec::Fixed(_), _)), None) => Ok(Some(Window {
                from: f,
                to: fixed_max,
            })),
            (None, Some((t @ DateSpec::Fixed(_), _))) => Ok(Some(Window {
                from: fixed_min,
                to: t,
            })),
            (Some((DateSpec::Annual { .. }, span)), None)
            | (None, Some((DateSpec::Annual { .. }, span))) => {
                self.at(span).item(label).error(
                    "a yearly window (MM-DD) needs both `from` and `to`",
                    "add the other end, e.g. from = \"12-15\" and to = \"01-15\"",
                );
                Err(())
            }
            (Some((f, fspan)), Some((t, _))) => match (f, t) {
                (DateSpec::Fixed(a), DateSpec::Fixed(b)) if a > b => {
                    self.at(fspan).item(label).key("from").error(
                        format!("`from` {a} is after `to` {b}"),
                        "swap them; both dates are inclusive",
                    );
                    Err(())
                }
                (DateSpec::Fixed(_), DateSpec::Fixed(_))
                | (DateSpec::Annual { .. }, DateSpec::Annual { .. }) => {
                    Ok(Some(Window { from: f, to: t }))
                }
                _ => {
                    self.at(fspan).item(label).key("from").error(
                        "`from` and `to` mix a full date with a yearly MM-DD date",
                        "write both as YYYY-MM-DD, or both as MM-DD for every year",
                    );
                    Err(())
                }
            },
        }
    }

    fn campaigns(&mut self, raw: Vec<RawCampaign>) -> Vec<Campaign> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for c in raw {
            let id = c.id.get_ref().clone();
            let label = item_label("campaign", &id);
            let mut ok = self.check_id(&c.id, &label);
            if !seen.insert(id.clone()) {
                self.at(c.id.span()).item(&label).key("id").error(
                    format!("duplicate campaign id `{id}`"),
                    "give each campaign its own id",
                );
                ok = false;
            }
            let window = self.window(&label, &c.from, &c.to);
            let target = match &c.target_minutes {
                Some(t) if !(t.get_ref().is_finite() && *t.get_ref() >= 0.0) => {
                    self.at(t.span()).item(&label).key("target_minutes").error(
                        format!("{} is not a number of minutes", t.get_ref()),
                        "write a positive number, e.g. target_minutes = 300",
                    );
                    ok = false;
                    None
                }
                t => t.as_ref().map(|t| *t.get_ref()),
            };
            if let (true, Ok(window)) = (ok, window) {
                out.push(Campaign {
                    id,
                    title: c.title.into_inner(),
                    window,
                    target_minutes: target,
                });
            }
        }
        out
    }

    /// Ids name items in URLs, logs and the ledger's occurrence keys.
    fn check_id(&mut self, id: &S<String>, label: &str) -> bool {
        self.id_spans
            .entry(label.to_string())
            .or_insert_with(|| id.span());
        let s = id.get_ref();
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            self.at(id.span())
                .item(label)
                .key("id")
                .error(
                    format!("`{s}` is not a valid id"),
                    "use 1–64 plain letters, digits, '-', '_' or '.', without accents, e.g. \"cds-thong-diep\"",
                );
        }
        ok
    }

    /// Ids of bulletins and programmes share one namespace: occurrence keys
    /// in the ledger are built from them.
    fn unique_item_id<'k>(
        &mut self,
        id: &S<String>,
        label: &str,
        kind: &'k str,
        ids: &mut HashMap<String, (&'k str, Range<usize>)>,
    ) -> bool {
        if let Some((other, span)) = ids.get(id.get_ref()) {
            let (line, _) = crate::diag::line_col(self.r.text, span.start);
            self.at(id.span()).item(label).key("id").error(
                format!(
                    "duplicate id `{}`: a {other} on line {line} already has it",
                    id.get_ref()
                ),
                "bulletins and programmes need ids of their own",
            );
            return false;
        }
        ids.insert(id.get_ref().clone(), (kind, id.span()));
        true
    }

    fn priority(&mut self, p: &Option<S<String>>, label: &str) -> Option<Priority> {
        match p {
            None => Some(Priority::Normal),
            Some(p) => {
                let v = Priority::parse(p.get_ref());
                if v.is_none() {
                    self.at(p.span())
                        .item(label)
                        .key("priority")
                        .error(
                            format!("unknown priority `{}`", p.get_ref()),
                            "write \"normal\", \"priority\" or \"emergency\" (Thông tư 39/2020/TT-BTTTT levels)",
                        );
                }
                v
            }
        }
    }

    /// `at`/`days`/`cron`, `grace`; the window is done by the caller.
    fn when(&mut self, w: &RawWhen, label: &str) -> Option<(Timing, u32)> {
        let mut ok = true;
        if let (Some(at), Some(cron)) = (&w.at, &w.cron) {
            let _ = at;
            self.at(cron.span()).item(label).key("cron").error(
                "both `at` and `cron` are set",
                "keep one: `at` + `days` for fixed times, or `cron` for a crontab(5) line",
            );
            ok = false;
        }
        if let (Some(days), Some(_)) = (&w.days, &w.cron) {
            self.at(days.span()).item(label).key("days").error(
                "`days` does not go with `cron`",
                "put the days in the crontab line's 5th field, e.g. \"15 6 * * 1-6\"",
            );
            ok = false;
        }
        if let (Some(days), None, None) = (&w.days, &w.at, &w.cron) {
            self.at(days.span()).item(label).key("days").error(
                "`days` without `at`",
                "add the times, e.g. at = [\"06:15\", \"17:15\"]",
            );
            ok = false;
        }
        let days = match &w.days {
            None => DaySet::ALL,
            Some(d) => parse_days(d.get_ref()).unwrap_or_else(|| {
                self.at(d.span())
                    .item(label)
                    .key("days")
                    .error(
                        format!("`{}` is not a set of days", d.get_ref()),
                        "write daily, weekdays, weekends, mon-fri, mon-sat or a list like \"mon,wed,fri\"",
                    );
                ok = false;
                DaySet::ALL
            }),
        };
        // Parse `cron` even when `at` is also set, so its own mistakes are
        // reported in the same run.
        let cron = match &w.cron {
            None => None,
            Some(c) => match crate::crontab::CronSpec::parse(c.get_ref()) {
                Ok(spec) => Some(spec),
                Err(e) => {
                    self.at(c.span())
                        .item(label)
                        .key("cron")
                        .error(
                            e,
                            "crontab(5) has five fields: minute hour day-of-month month day-of-week; see `man 5 crontab`",
                        );
                    ok = false;
                    None
                }
            },
        };
        let timing = if let Some(at) = &w.at {
            let mut times = Vec::new();
            for t in at.get_ref() {
                match value_text(t.get_ref())
                    .as_deref()
                    .and_then(parse_time_of_day)
                {
                    Some(time) => times.push(time),
                    None => {
                        self.at(t.span())
                            .item(label)
                            .key("at")
                            .error(
                                format!("`{}` is not a time of day", value_display(t.get_ref())),
                                "write \"HH:MM\" or \"HH:MM:SS\" from 00:00 to 23:59:59, e.g. \"06:15\"",
                            );
                        ok = false;
                    }
                }
            }
            if at.get_ref().is_empty() {
                self.at(at.span()).item(label).key("at").error(
                    "`at` is an empty list",
                    "list the times, e.g. at = [\"06:15\"], or remove the key",
                );
                ok = false;
            }
            times.sort();
            times.dedup();
            Timing::At { times, days }
        } else if let Some(spec) = cron {
            Timing::Cron(spec)
        } else {
            Timing::Unscheduled
        };
        let grace = match &w.grace {
            None => DEFAULT_GRACE_SECONDS,
            Some(g) => parse_duration(g.get_ref()).unwrap_or_else(|| {
                self.at(g.span()).item(label).key("grace").error(
                    format!("`{}` is not a duration", g.get_ref()),
                    "write e.g. \"30s\", \"10m\" or \"1h\"",
                );
                ok = false;
                DEFAULT_GRACE_SECONDS
            }),
        };
        ok.then_some((timing, grace))
    }

    /// What bulletins and programmes share: id, priority, timing, window.
    /// Returns the item's label and, when all of it is valid, the values.
    fn common(
        &mut self,
        kind: &'static str,
        id: &S<String>,
        priority: &Option<S<String>>,
        w: RawWhen,
        ids: &mut HashMap<String, (&'static str, Range<usize>)>,
    ) -> (String, Option<Common>) {
        let label = item_label(kind, id.get_ref());
        let mut ok = self.check_id(id, &label);
        ok &= self.unique_item_id(id, &label, kind, ids);
        let priority = self.priority(priority, &label);
        let when = self.when(&w, &label);
        let window = self.window(&label, &w.from, &w.to);
        let common = match (priority, when, window, ok) {
            (Some(priority), Some((timing, grace_seconds)), Ok(window), true) => Some(Common {
                priority,
                timing,
                window,
                grace_seconds,
                enabled: w.enabled.is_none_or(|e| *e.get_ref()),
            }),
            _ => None,
        };
        (label, common)
    }

    fn bulletins(
        &mut self,
        raw: Vec<RawBulletin>,
        campaigns: &[Campaign],
        audio_dir: Option<&Path>,
        ids: &mut HashMap<String, (&'static str, Range<usize>)>,
    ) -> Vec<Bulletin> {
        self.written_bulletin_ids = raw.iter().map(|b| b.id.get_ref().clone()).collect();
        let mut out = Vec::new();
        for b in raw {
            let (label, common) = self.common("bulletin", &b.id, &b.priority, take_when!(b), ids);
            let mut ok = true;
            let campaign = match &b.campaign {
                None => None,
                Some(c) => match campaigns.iter().find(|x| &x.id == c.get_ref()) {
                    Some(found) => Some(found),
                    None => {
                        let known: Vec<&str> = campaigns.iter().map(|c| c.id.as_str()).collect();
                        let hint = match closest(c.get_ref(), &known) {
                            Some(s) => format!("did you mean \"{s}\"?"),
                            None if known.is_empty() => {
                                "declare it in a [[campaign]] section".to_string()
                            }
                            None => format!("known campaigns: {}", known.join(", ")),
                        };
                        self.at(c.span())
                            .item(&label)
                            .key("campaign")
                            .error(format!("no campaign with id `{}`", c.get_ref()), hint);
                        ok = false;
                        None
                    }
                },
            };
            let path = self.audio_path(&b.file, &label, audio_dir);
            let (Some(c), true) = (common, ok) else {
                continue;
            };
            if self.files == AudioFiles::Resolve && path.is_none() {
                continue;
            }
            out.push(Bulletin {
                id: b.id.get_ref().clone(),
                title: b.title.into_inner(),
                file: b.file.get_ref().clone(),
                path: path.unwrap_or_default(),
                campaign: campaign.map(|c| c.id.clone()),
                priority: c.priority,
                timing: c.timing,
                window: c.window.or_else(|| campaign.and_then(|c| c.window)),
                grace_seconds: c.grace_seconds,
                enabled: c.enabled,
                audio: None,
            });
            // Remember where `file` was written, for problems in the file.
            self.file_spans
                .insert(b.id.get_ref().clone(), b.file.span());
        }
        out
    }

    /// Resolve `file` inside `audio_dir`; nothing outside it may air.
    fn audio_path(
        &mut self,
        file: &S<String>,
        label: &str,
        audio_dir: Option<&Path>,
    ) -> Option<PathBuf> {
        let rel = Path::new(file.get_ref());
        let escapes = file.get_ref().is_empty()
            || rel.is_absolute()
            || rel
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        if escapes {
            self.at(file.span())
                .item(label)
                .key("file")
                .error(
                    format!("`{}` is not a path inside audio_dir", file.get_ref()),
                    "write a path relative to audio_dir, without `..` or a leading `/`, e.g. \"cds/thong-diep.mp3\"",
                );
            return None;
        }
        if self.files == AudioFiles::AsWritten {
            return Some(rel.to_path_buf());
        }
        let dir = audio_dir?;
        let joined = dir.join(rel);
        match joined.canonicalize() {
            Ok(real) if !real.starts_with(dir) => {
                self.at(file.span()).item(label).key("file").error(
                    format!(
                        "`{}` is a link to {}, outside audio_dir {}",
                        file.get_ref(),
                        real.display(),
                        dir.display()
                    ),
                    "copy the file into audio_dir instead of linking to it",
                );
                None
            }
            Ok(real) if !real.is_file() => {
                self.at(file.span()).item(label).key("file").error(
                    format!("{} is not a file", joined.display()),
                    "name an audio file, not a folder",
                );
                None
            }
            Ok(real) => Some(real),
            Err(e) => {
                self.at(file.span()).item(label).key("file").error(
                    format!("cannot open {}: {e}", joined.display()),
                    format!(
                        "put the file there, or fix the path (relative to audio_dir {})",
                        dir.display()
                    ),
                );
                None
            }
        }
    }

    fn programs(
        &mut self,
        raw: Vec<RawProgram>,
        bulletins: &[Bulletin],
        ids: &mut HashMap<String, (&'static str, Range<usize>)>,
    ) -> Vec<Program> {
        let mut out = Vec::new();
        for p in raw {
            let (label, common) = self.common("program", &p.id, &p.priority, take_when!(p), ids);
            let mut ok = true;
            let mut items = Vec::new();
            if p.items.get_ref().is_empty() {
                self.at(p.items.span())
                    .item(&label)
                    .key("items")
                    .error(
                        "a programme needs at least one item",
                        "list bulletin ids in playing order, e.g. items = [\"nhac-hieu\", \"ket-thuc\"]",
                    );
                ok = false;
            }
            for item in p.items.get_ref() {
                match bulletins.iter().position(|b| &b.id == item.get_ref()) {
                    Some(i) => items.push(i),
                    None if self.written_bulletin_ids.contains(item.get_ref()) => ok = false,
                    None => {
                        let known: Vec<&str> = bulletins.iter().map(|b| b.id.as_str()).collect();
                        let hint = match closest(item.get_ref(), &known) {
                            Some(s) => format!("did you mean \"{s}\"?"),
                            None => "items are ids of [[bulletin]] entries".to_string(),
                        };
                        self.at(item.span())
                            .item(&label)
                            .key("items")
                            .error(format!("no bulletin with id `{}`", item.get_ref()), hint);
                        ok = false;
                    }
                }
            }
            let (Some(c), true) = (common, ok) else {
                continue;
            };
            out.push(Program {
                id: p.id.get_ref().clone(),
                title: p.title.into_inner(),
                priority: c.priority,
                timing: c.timing,
                window: c.window,
                grace_seconds: c.grace_seconds,
                enabled: c.enabled,
                items,
            });
        }
        out
    }

    fn warnings(&mut self, station: &Station) {
        self.unscheduled_warnings(station);
        for c in &station.campaigns {
            if !station
                .bulletins
                .iter()
                .any(|b| b.campaign.as_deref() == Some(&c.id))
            {
                self.warn_item(
                    &item_label("campaign", &c.id),
                    "no bulletin belongs to this campaign",
                    "set campaign = \"".to_string() + &c.id + "\" on its bulletins, or remove it",
                );
            }
        }
    }
}

impl Loader<'_> {
    /// Bulletins that air only when an operator queues them: no `at` or
    /// `cron`, in no programme, and not emergencies.
    fn unscheduled_warnings(&mut self, station: &Station) {
        let in_programme: HashSet<usize> = station
            .programs
            .iter()
            .flat_map(|p| p.items.iter().copied())
            .collect();
        for (i, b) in station.bulletins.iter().enumerate() {
            if b.enabled
                && matches!(b.timing, Timing::Unscheduled)
                && !in_programme.contains(&i)
                && b.priority != Priority::Emergency
            {
                self.warn_item(
                    &item_label("bulletin", &b.id),
                    "has no `at` or `cron` and is in no programme: it airs only when an operator queues it",
                    "add at = [\"HH:MM\"] or put it in a programme's items",
                );
            }
        }
    }
}

/// A TOML value written as a string or as a TOML date/time, as text.
fn value_text(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Datetime(d) => Some(d.to_string()),
        _ => None,
    }
}

fn value_display(v: &toml::Value) -> String {
    value_text(v).unwrap_or_else(|| v.to_string())
}

fn parse_sha256(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A hint for serde's type errors, which name Rust types.
fn type_hint(msg: &str) -> Option<String> {
    // "unknown field `tittle`, expected one of `id`, `title`, ..."
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        return Some(match closest(name, &known) {
            Some(k) => format!("did you mean `{k}`? Otherwise remove the key"),
            None => {
                "remove the key or fix its spelling; see README for the keys of each section".into()
            }
        });
    }
    if msg.contains("unknown field") {
        Some("remove the key or fix its spelling; see README for the keys of each section".into())
    } else if msg.contains("missing field") {
        Some("add the key; see README for the keys of each section".into())
    } else if msg.contains("expected a sequence") {
        Some("write a list in brackets, e.g. at = [\"06:15\"]".into())
    } else if msg.contains("invalid type") {
        Some("check the value's type: text needs \"quotes\", numbers and true/false do not".into())
    } else {
        None
    }
}

/// The known name closest to `s`, if it is a plausible typo.
fn closest<'k>(s: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(s, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) || k.starts_with(s) || s.starts_with(k))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostic;

    fn load_text(text: &str) -> Loaded {
        load_str(text, Path::new("/tmp/station.toml"), AudioFiles::AsWritten).finish()
    }

    fn errors(l: &Loaded) -> Vec<&Diagnostic> {
        l.diagnostics.errors().collect()
    }

    /// The error about `key` of `item`, or a panic listing what there was.
    fn find<'a>(l: &'a Loaded, item: &str, key: &str) -> &'a Diagnostic {
        l.diagnostics
            .items
            .iter()
            .find(|d| d.item.as_deref() == Some(item) && d.key.as_deref() == Some(key))
            .unwrap_or_else(|| panic!("no diagnostic for {item} {key}:\n{}", l.diagnostics))
    }

    const GOOD: &str = r#"
[station]
name = "Đài truyền thanh xã Thạch Hà"
data_dir = "var"

[quiet]
hours = ["21:00-05:00"]

[[campaign]]
id = "cds-2026"
title = "Ngày Chuyển đổi số quốc gia 10/10/2026"
from = "2026-10-01"
to = "2026-10-31"
target_minutes = 300

[[bulletin]]
id = "cds-thong-diep"
title = "Chuyển đổi số"
file = "cds/thong-diep.mp3"
campaign = "cds-2026"
at = ["06:15", "17:15:30"]
days = "mon-sat"
grace = "5m"

[[bulletin]]
id = "nhac-hieu"
title = "Nhạc hiệu"
file = "nhac-hieu.mp3"

[[program]]
id = "buoi-sang"
title = "Buổi sáng"
at = ["05:30"]
days = "mon-sat"
items = ["nhac-hieu", "cds-thong-diep"]
"#;

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
        assert_eq!(s.program("buoi-sang").unwrap().items, vec![1, 0]);
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
    fn reports_every_problem_at_once_with_locations() {
        let text = r#"
[station]
name = "X"
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
"#;
        let l = load_text(text);
        assert!(l.station.is_none());
        let tz = find(&l, "[station]", "timezone");
        assert_eq!(tz.position, Some((4, 12)));
        assert!(find(&l, "campaign \"c\"", "from").message.contains("after"));
        let at = find(&l, "bulletin \"a\"", "at");
        assert!(at.message.contains("25:00"), "{}", at.message);
        assert_eq!(at.position, Some((16, 7)));
        assert!(find(&l, "bulletin \"a\"", "campaign")
            .message
            .contains("nope"));
        assert!(find(&l, "bulletin \"a\"", "id")
            .message
            .contains("duplicate"));
        assert!(find(&l, "bulletin \"a\"", "file")
            .message
            .contains("inside audio_dir"));
        assert!(find(&l, "bulletin \"a\"", "cron").message.contains("both"));
        assert!(find(&l, "program \"p\"", "items").message.contains("ghost"));
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
    fn a_type_error_does_not_hide_the_next_items_problems() {
        let text = r#"
[station]
name = "X"

[[bulletin]]
id = "a"
title = "A"
file = "a.mp3"
at = "06:00"

[[bulletin]]
id = "b"
title = "B"
file = "b.mp3"
grace = "soon"
"#;
        let l = load_text(text);
        let e = errors(&l);
        assert_eq!(e.len(), 2, "{}", l.diagnostics);
        assert_eq!(e[0].position.unwrap().0, 9);
        assert!(e[0].hint.as_deref().unwrap().contains("list"));
        assert_eq!(find(&l, "bulletin \"b\"", "grace").position.unwrap().0, 15);
    }

    #[test]
    fn unknown_keys_and_sections_get_suggestions() {
        let text = r#"
[station]
name = "X"

[[bulletins]]
id = "a"

[[bulletin]]
id = "b"
title = "B"
file = "b.mp3"
tittle = "typo"
"#;
        let l = load_text(text);
        let e = errors(&l);
        assert_eq!(e.len(), 2, "{}", l.diagnostics);
        assert!(
            e[0].hint.as_deref().unwrap().contains("[bulletin]"),
            "{}",
            e[0]
        );
        assert_eq!(e[1].position.unwrap().0, 12);
        assert!(e[1].message.contains("tittle"));
        assert!(
            e[1].hint.as_deref().unwrap().contains("`title`"),
            "{}",
            e[1]
        );
    }

    #[test]
    fn missing_station_section() {
        let l = load_text("[output]\nkind = \"null\"\n");
        assert!(errors(&l)[0].message.contains("[station]"));
    }

    #[test]
    fn windows() {
        let base =
            "[station]\nname = \"X\"\n[[bulletin]]\nid = \"a\"\ntitle = \"A\"\nfile = \"a.mp3\"\n";
        let l = load_text(&format!("{base}from = \"12-15\"\nto = \"01-15\"\n"));
        let w = l.station.unwrap().bulletins[0].window.unwrap();
        assert!(w.contains(NaiveDate::from_ymd_opt(2027, 1, 2).unwrap()));
        let l = load_text(&format!("{base}from = \"12-15\"\n"));
        assert!(errors(&l)[0].message.contains("both"));
        let l = load_text(&format!("{base}from = \"12-15\"\nto = \"2027-01-15\"\n"));
        assert!(errors(&l)[0].message.contains("mix"));
        let l = load_text(&format!("{base}from = \"2026-13-01\"\n"));
        assert!(errors(&l)[0].message.contains("not a date"));
        // Open-ended fixed window; an unquoted TOML date works too.
        let l = load_text(&format!("{base}from = 2026-10-07\n"));
        let w = l.station.unwrap().bulletins[0].window.unwrap();
        assert!(!w.contains(NaiveDate::from_ymd_opt(2026, 10, 6).unwrap()));
        assert!(w.contains(NaiveDate::from_ymd_opt(2099, 1, 1).unwrap()));
    }

    #[test]
    fn output_and_api() {
        let text = r#"
[station]
name = "X"
[output]
kind = "wav"
volume = 1.5
[api]
listen = "localhost"
[[api.token]]
name = "ops"
role = "boss"
sha256 = "abc"
"#;
        let l = load_text(text);
        assert!(find(&l, "[output]", "path")
            .message
            .contains("needs a path"));
        assert!(find(&l, "[api]", "listen").message.contains("address"));
        assert!(find(&l, "api.token \"ops\"", "role")
            .message
            .contains("boss"));
        assert!(find(&l, "api.token \"ops\"", "sha256")
            .hint
            .as_deref()
            .unwrap()
            .contains("loa token new"));
        let good = r#"
[station]
name = "X"
[output]
kind = "wav"
path = "out/aired.wav"
pace = "fast"
[[api.token]]
name = "ops"
role = "operator"
sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
"#;
        let s = load_text(good).station.unwrap();
        assert_eq!(
            s.output.kind,
            OutputKind::Wav {
                path: "/tmp/out/aired.wav".into(),
                pace: Pace::Fast
            }
        );
        assert_eq!(s.api.tokens[0].role, Role::Operator);
        assert_eq!(s.api.tokens[0].sha256[0], 0x9f);
    }

    #[test]
    fn ids_are_plain_and_shared_between_bulletins_and_programmes() {
        let text = r#"
[station]
name = "X"
[[bulletin]]
id = "thông báo"
title = "B"
file = "b.mp3"
[[bulletin]]
id = "x"
title = "X"
file = "x.mp3"
[[program]]
id = "x"
title = "P"
items = ["x"]
"#;
        let l = load_text(text);
        assert!(find(&l, "bulletin \"thông báo\"", "id")
            .message
            .contains("not a valid id"));
        let dup = find(&l, "program \"x\"", "id");
        assert!(
            dup.message.contains("bulletin on line 9"),
            "{}",
            dup.message
        );
    }

    #[test]
    fn files_must_stay_inside_audio_dir() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("audio");
        std::fs::create_dir(&audio).unwrap();
        let secret = dir.path().join("secret.mp3");
        std::fs::write(&secret, b"x").unwrap();
        std::os::unix::fs::symlink(&secret, audio.join("link.mp3")).unwrap();
        let text = r#"
[station]
name = "X"
audio_dir = "audio"
[[bulletin]]
id = "a"
title = "A"
file = "link.mp3"
[[bulletin]]
id = "b"
title = "B"
file = "/etc/passwd"
[[bulletin]]
id = "c"
title = "C"
file = "missing.mp3"
"#;
        let path = dir.path().join("station.toml");
        let l = load_str(text, &path, AudioFiles::Resolve).finish();
        assert!(find(&l, "bulletin \"a\"", "file")
            .message
            .contains("outside audio_dir"));
        assert!(find(&l, "bulletin \"b\"", "file")
            .message
            .contains("inside audio_dir"));
        let missing = find(&l, "bulletin \"c\"", "file");
        assert!(
            missing.message.contains("cannot open"),
            "{}",
            missing.message
        );
        assert_eq!(missing.position, Some((16, 8)));
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
