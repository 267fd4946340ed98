//! The station file: typed, validated description of one station.
//!
//! This module owns the shape of a station once it has been loaded and
//! checked (`Station` and friends) and the loader that turns a TOML file into
//! it (`load`), reporting every problem at once with its location.
//! It must not touch the clock, the ledger or the audio device: everything
//! here is a pure description that the schedule, the engine and the API read.

mod audio_info;
mod deser;
mod fleet;
mod items;
mod load;
mod monitor;
mod raw;
mod report;
mod sections;
mod speech;
#[cfg(test)]
pub(crate) mod test_support;
mod timing;
mod tts_command;
pub mod upstream;
mod warnings;

pub use audio_info::AudioInfo;
pub(crate) use load::item_label;
pub use load::{
    data_dir_of, load, load_str, read_station_file, AudioFiles, Draft, Loaded, Source, Unreadable,
    MAX_STATION_FILE,
};
pub use monitor::{Monitor, DEFAULT_SILENCE_ALARM};
pub use tts_command::{tts_option_risk, TTS_OPTION_RISK_HINT, TTS_PLACEHOLDERS};

use std::path::PathBuf;

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;

use crate::crontab::CronSpec;

/// Default timezone of a station: Vietnam has no DST.
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Asia::Ho_Chi_Minh;
/// Where the ledger lives when the station file does not say.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/loa";
/// How late an occurrence may still start, when the station file says nothing.
pub const DEFAULT_GRACE_SECONDS: u32 = 600;
/// `[api] max_queue` when not given: far more than a commune's operators
/// queue in a day, small enough that the queue stays cheap to look at.
pub const DEFAULT_MAX_QUEUE: usize = 200;

/// A whole, validated station.
#[derive(Debug, Clone)]
pub struct Station {
    /// The station file this was loaded from (absolute).
    pub path: PathBuf,
    pub name: String,
    pub timezone: Tz,
    /// Where bulletin files live: absolute; canonical when loaded with
    /// `AudioFiles::Resolve`.
    pub audio_dir: PathBuf,
    /// Where the ledger lives (absolute; may not exist yet).
    pub data_dir: PathBuf,
    pub output: Output,
    pub quiet: QuietHours,
    pub api: Api,
    pub fleet: Fleet,
    /// `[upstream]`: the province's broker and trusted publishers.
    pub upstream: Option<upstream::Upstream>,
    /// `[publish]`: this host sends bulletins (the province's central host).
    pub publish: Option<upstream::Publish>,
    /// How typed notices (`text` bulletins, API `text`) are read aloud.
    pub tts: Tts,
    pub session: Session,
    /// `[report]`: who signs the printed report.
    pub report: ReportSigning,
    pub campaigns: Vec<Campaign>,
    pub bulletins: Vec<Bulletin>,
    pub programs: Vec<Program>,
    pub relays: Vec<Relay>,
    /// `[monitor]`: the capture device listening to the loudspeaker line.
    pub monitor: Option<Monitor>,
}

impl Station {
    pub fn bulletin(&self, id: &str) -> Option<&Bulletin> {
        self.bulletins.iter().find(|b| b.id == id)
    }
    pub fn program(&self, id: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.id == id)
    }
    pub fn relay(&self, id: &str) -> Option<&Relay> {
        self.relays.iter().find(|r| r.id == id)
    }
    /// A programme item, whichever kind it is.
    pub fn item_info(&self, item: ProgramItem) -> ItemInfo<'_> {
        match item {
            ProgramItem::Bulletin(i) => {
                let b = &self.bulletins[i];
                ItemInfo {
                    id: &b.id,
                    title: &b.title,
                    campaign: b.campaign.as_deref(),
                    seconds: b.seconds(),
                    enabled: b.enabled,
                    window: b.window.as_ref(),
                }
            }
            ProgramItem::Relay(i) => {
                let r = &self.relays[i];
                ItemInfo {
                    id: &r.id,
                    title: &r.title,
                    campaign: r.campaign.as_deref(),
                    seconds: f64::from(r.seconds),
                    enabled: r.enabled,
                    window: r.window.as_ref(),
                }
            }
        }
    }
    pub fn campaign(&self, id: &str) -> Option<&Campaign> {
        self.campaigns.iter().find(|c| c.id == id)
    }
    /// Path of the ledger database.
    pub fn ledger_path(&self) -> PathBuf {
        self.data_dir.join("airtime.db")
    }

    /// Where `text`, read aloud by this station's engine and voice, is
    /// cached (see [`Tts::cache_name`]).
    pub fn tts_path(&self, text: &str) -> PathBuf {
        self.data_dir.join(TTS_DIR).join(self.tts.cache_name(text))
    }
}

/// The folder of `data_dir` where typed notices are cached as WAV files.
pub const TTS_DIR: &str = "tts";
/// `[tts] timeout` when not given: espeak-ng reads a notice in well under a
/// second; a neural voice on a small board takes a few.
pub const DEFAULT_TTS_TIMEOUT_SECONDS: u32 = 30;
/// `[tts] cache_mb` when not given.
pub const DEFAULT_TTS_CACHE_MB: u32 = 200;
/// The largest `[tts] cache_mb` accepted (100 GB).
pub const MAX_TTS_CACHE_MB: u32 = 100_000;
/// Longest typed notice, in characters: a few minutes of speech.
pub const MAX_TTS_CHARS: usize = 5000;
/// Bumped when what is fed to the engine for the same text changes (the
/// Vietnamese reading of numbers), so stale renders are not reused.
const TTS_CACHE_VERSION: u32 = 1;

/// `[tts]`: the engine that reads typed notices aloud.
#[derive(Debug, Clone, PartialEq)]
pub struct Tts {
    pub engine: TtsEngine,
    /// The voice: espeak-ng's `-v` (default `vi`), or `{voice}` in a command.
    pub voice: String,
    /// A render that takes longer is killed and fails.
    pub timeout_seconds: u32,
    /// The most `data_dir/tts` holds, in MB (10^6 bytes): past it, the
    /// notices used longest ago and no longer queued are removed.
    pub cache_mb: u32,
}

impl Default for Tts {
    fn default() -> Self {
        Tts {
            engine: TtsEngine::Espeak,
            voice: "vi".to_string(),
            timeout_seconds: DEFAULT_TTS_TIMEOUT_SECONDS,
            cache_mb: DEFAULT_TTS_CACHE_MB,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum TtsEngine {
    /// Debian's `espeak-ng` command: `espeak-ng -v VOICE -w OUT.wav`.
    Espeak,
    /// Any program that writes a WAV file; its arguments may hold the
    /// placeholders `{text}`, `{text_file}`, `{out}` and `{voice}` (see
    /// README, "Typed notices read aloud"). Without `{text}` or
    /// `{text_file}` the text goes to its standard input. A `{text}` that
    /// could start an option is refused at load (`tts::argv`).
    Command(Vec<String>),
}

impl Tts {
    /// `cache_mb` in bytes.
    pub fn cache_bytes(&self) -> u64 {
        u64::from(self.cache_mb) * 1_000_000
    }

    /// The cache file name of `text` read by this engine and voice: a hash
    /// of all three, so changing any renders again.
    pub fn cache_name(&self, text: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(TTS_CACHE_VERSION.to_le_bytes());
        match &self.engine {
            TtsEngine::Espeak => h.update(b"espeak-ng\0"),
            TtsEngine::Command(argv) => {
                for a in argv {
                    h.update(a.as_bytes());
                    h.update(b"\0");
                }
            }
        }
        h.update(self.voice.as_bytes());
        h.update(b"\0");
        h.update(text.as_bytes());
        let digest = h.finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{hex}.wav")
    }
}

/// Slack before a session counts as over its cap: decoders' durations of
/// one file differ by a few milliseconds.
pub const SESSION_TOLERANCE_SECONDS: f64 = 0.5;

/// `[session]`: limits on a broadcasting session. A session is one
/// occurrence of a programme (buổi phát thanh): its items back to back.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Session {
    /// The longest a session may air, in minutes (e.g. Hà Nội: 15 in urban
    /// wards, 45 in rural communes); `None`: no cap.
    pub max_minutes: Option<f64>,
}

/// `ALL` (every value, in declaration order: for roles and priorities,
/// lowest first), `as_str`, `parse` and `Display` for an enum of plain
/// words: each variant with the word the station file, the ledger, the API
/// and the audit log use for it. A macro because it writes impls.
macro_rules! words {
    ($ty:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: [$ty; [$($word),+].len()] = [$($ty::$variant),+];

            /// The word for this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $word),+
                }
            }

            /// The value `s` names, if any.
            pub fn parse(s: &str) -> Option<$ty> {
                $ty::ALL.into_iter().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use words;

/// Bulletin levels of Thông tư 39/2020/TT-BTTTT. Ordered: `Emergency` is
/// the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    #[default]
    Normal,
    Priority,
    Emergency,
}

words!(Priority {
    Normal => "normal",
    Priority => "priority",
    Emergency => "emergency",
});

/// Where audio goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub kind: OutputKind,
    /// 0.0..=1.0
    pub volume: f32,
    /// The EBU R128 integrated loudness every file airs at (`[output]
    /// loudness_lufs`, default [`DEFAULT_LOUDNESS_LUFS`]); `None` when
    /// `loudness = false`: files air at their recorded level.
    pub loudness_lufs: Option<f32>,
}

/// `[output] loudness_lufs` when not given: EBU R128 / AES streaming
/// practice for speech on small loudspeakers.
pub const DEFAULT_LOUDNESS_LUFS: f32 = -16.0;

#[derive(Debug, Clone, PartialEq)]
pub enum OutputKind {
    /// The real sound card: `"default"` or an ALSA/cpal device name.
    Device { device: String },
    /// A WAV recorder of exactly what aired (absolute path).
    Wav { path: PathBuf, pace: Pace },
    /// A paced sink that discards samples.
    Null,
}

/// How fast a non-device output consumes samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pace {
    #[default]
    Realtime,
    Fast,
}

/// `[report]`: how the printed report (the web console's `/bao-cao`) is
/// laid out as an administrative document (Nghị định 30/2020/NĐ-CP): the
/// body it is issued under, its number, the place on the date line, who
/// receives it, and the two signature blocks (the person who drew it up and
/// the head of the unit, each with a title and a name). A value left out
/// prints as dotted blanks to fill by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSigning {
    /// The issuing body's parent, e.g. "Ủy ban nhân dân xã Thạch Hà"
    /// (printed upper case above the station's name).
    pub authority: Option<String>,
    /// The number's suffix, e.g. "BC-ĐTT" for "Số: …/BC-ĐTT".
    pub number_prefix: Option<String>,
    /// The place on the date line, e.g. "Thạch Hà".
    pub place: Option<String>,
    /// The "Nơi nhận:" lines, as printed; `None` prints a default.
    pub recipients: Option<Vec<String>>,
    pub preparer_title: String,
    pub preparer_name: String,
    pub head_title: String,
    pub head_name: String,
}

impl Default for ReportSigning {
    fn default() -> Self {
        ReportSigning {
            authority: None,
            number_prefix: None,
            place: None,
            recipients: None,
            preparer_title: "Người lập biểu".into(),
            preparer_name: String::new(),
            head_title: "Thủ trưởng đơn vị".into(),
            head_name: String::new(),
        }
    }
}

/// Local time ranges in which non-emergency items never air.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuietHours {
    pub ranges: Vec<QuietRange>,
}

/// `start..end` in local time; wraps midnight when `end <= start`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuietRange {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietRange {
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

impl QuietHours {
    pub fn contains(&self, t: NaiveTime) -> bool {
        self.ranges.iter().any(|r| r.contains(t))
    }
}

/// HTTP API settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    pub listen: std::net::SocketAddr,
    pub max_upload_mb: u64,
    /// How many items operators may have waiting in the queue at once.
    pub max_queue: usize,
    pub tokens: Vec<ApiToken>,
    /// The web console's sign-in and transport settings.
    pub web: WebSettings,
}

/// `[api] tls_cert`, `tls_key`, `behind_https_proxy`, `session_idle`.
#[derive(Debug, Clone, PartialEq)]
pub struct WebSettings {
    /// Serve HTTPS directly with this certificate chain and key (PEM).
    pub tls: Option<TlsFiles>,
    /// A reverse proxy on this machine serves HTTPS in front: session
    /// cookies get the Secure flag.
    pub behind_https_proxy: bool,
    /// A session unused this long ends.
    pub session_idle: std::time::Duration,
}

/// Default `[api] session_idle`: a working day and an evening.
pub const DEFAULT_SESSION_IDLE: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            tls: None,
            behind_https_proxy: false,
            session_idle: DEFAULT_SESSION_IDLE,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `[fleet]`: the station among its province's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fleet {
    /// Stable id of the station in the province, e.g. the commune code: the
    /// `station` label of `loa_station_info` in Prometheus and the station
    /// of its rows in the province's database. When the file does not say,
    /// the station name as a lowercase ASCII slug (see `fleet::slug`).
    pub station_id: String,
    /// Connection string of the province's PostgreSQL, where closed
    /// airtime rows are copied; `None`: the station keeps them to itself.
    pub postgres: Option<String>,
    /// The district the station belongs to, as the province's bulletin
    /// topics name it (`[fleet] district`).
    pub district: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads `/metrics` only: the token a province's Prometheus holds.
    Metrics,
    Viewer,
    /// *Cán bộ tỉnh*: a console account on the province's central host
    /// that reads like a viewer and may send bulletins to the stations
    /// (`/gui-ban-tin`; an admin may too). It cannot queue, skip or air at
    /// this host. Console users only: never an API token.
    Province,
    Operator,
    Admin,
}

words!(Role {
    Metrics => "metrics",
    Viewer => "viewer",
    Province => "province",
    Operator => "operator",
    Admin => "admin",
});

#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    pub name: String,
    pub role: Role,
    /// SHA-256 of the token, 32 bytes.
    pub sha256: [u8; 32],
}

/// One end of a date window: a fixed date, or a day of every year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateSpec {
    Fixed(NaiveDate),
    /// `MM-DD`, every year.
    Annual {
        month: u32,
        day: u32,
    },
}

impl std::fmt::Display for DateSpec {
    /// As the station file writes it: `YYYY-MM-DD` or `MM-DD`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DateSpec::Fixed(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            DateSpec::Annual { month, day } => write!(f, "{month:02}-{day:02}"),
        }
    }
}

impl Window {
    /// Its ends as the station file writes them; `None` for an open end.
    pub fn ends(&self) -> (Option<String>, Option<String>) {
        let side = |d: DateSpec, open: NaiveDate| match d {
            DateSpec::Fixed(x) if x == open => None,
            d => Some(d.to_string()),
        };
        (
            side(self.from, NaiveDate::MIN),
            side(self.to, NaiveDate::MAX),
        )
    }

    /// A window from its ends as [`Window::ends`] gives them; `None` when
    /// both are open or one cannot be read.
    pub fn from_ends(from: Option<&str>, to: Option<&str>) -> Option<Window> {
        let from = match from {
            Some(x) => parse_date_spec(x)?,
            None => DateSpec::Fixed(NaiveDate::MIN),
        };
        let to = match to {
            Some(x) => parse_date_spec(x)?,
            None => DateSpec::Fixed(NaiveDate::MAX),
        };
        let open = DateSpec::Fixed(NaiveDate::MIN);
        (from != open || to != DateSpec::Fixed(NaiveDate::MAX)).then_some(Window { from, to })
    }
}

/// An inclusive window of dates. Both ends are of the same kind; an annual
/// window whose `to` comes before its `from` wraps the new year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateSpec,
    pub to: DateSpec,
}

impl Window {
    pub fn contains(&self, d: NaiveDate) -> bool {
        use chrono::Datelike;
        match (self.from, self.to) {
            (DateSpec::Fixed(a), DateSpec::Fixed(b)) => a <= d && d <= b,
            (DateSpec::Annual { month: fm, day: fd }, DateSpec::Annual { month: tm, day: td }) => {
                let x = (d.month(), d.day());
                let (a, b) = ((fm, fd), (tm, td));
                if a <= b {
                    a <= x && x <= b
                } else {
                    x >= a || x <= b
                }
            }
            // The loader never builds a mixed window.
            _ => false,
        }
    }
}

/// A set of weekdays, bit `n` = `Weekday::num_days_from_monday() == n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DaySet(pub u8);

impl DaySet {
    pub const ALL: DaySet = DaySet(0b111_1111);
    pub fn contains(self, d: Weekday) -> bool {
        self.0 & (1 << d.num_days_from_monday()) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// When an item airs.
#[derive(Debug, Clone)]
pub enum Timing {
    /// Only as part of a programme, or when an operator queues it.
    Unscheduled,
    /// Fixed local times on some weekdays.
    At { times: Vec<NaiveTime>, days: DaySet },
    /// A crontab(5) line.
    Cron(CronSpec),
}

#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: String,
    pub title: String,
    pub window: Option<Window>,
    pub target_minutes: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Bulletin {
    pub id: String,
    pub title: String,
    /// Path relative to `audio_dir`, as written in the station file; for a
    /// typed notice, its cache file relative to `data_dir` (`tts/….wav`).
    pub file: String,
    /// A typed notice (`text`, or the contents of `text_file`): read aloud
    /// into `path` by the `tts` module, then aired like a file.
    pub text: Option<String>,
    /// Why the notice could not be read aloud, once the daemon tried: it
    /// is recorded `failed` with this reason when due.
    pub tts_error: Option<String>,
    /// The audio file's real, absolute path when loaded with
    /// `AudioFiles::Resolve`; `file` as written otherwise.
    pub path: PathBuf,
    pub campaign: Option<String>,
    pub priority: Priority,
    pub timing: Timing,
    /// The item's own window, else its campaign's.
    pub window: Option<Window>,
    pub grace_seconds: u32,
    pub enabled: bool,
    /// What probing the file found; `None` until the `check` module probes
    /// it, so only when loading without probing.
    pub audio: Option<AudioInfo>,
}

impl Bulletin {
    /// Planned airtime in seconds (0 when unknown).
    pub fn seconds(&self) -> f64 {
        self.audio.as_ref().map_or(0.0, |a| a.seconds)
    }
}

/// A session: bulletins played back to back.
#[derive(Debug, Clone)]
pub struct Program {
    pub id: String,
    pub title: String,
    pub priority: Priority,
    pub timing: Timing,
    pub window: Option<Window>,
    pub grace_seconds: u32,
    pub enabled: bool,
    /// Its bulletins and relays, in playing order.
    pub items: Vec<ProgramItem>,
}

/// One item of a programme: an index into `Station::bulletins` or
/// `Station::relays`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProgramItem {
    Bulletin(usize),
    Relay(usize),
}

/// What a programme needs to know of one of its items, whichever kind.
#[derive(Debug, Clone, Copy)]
pub struct ItemInfo<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub campaign: Option<&'a str>,
    /// Planned airtime (a bulletin's audio, a relay's duration).
    pub seconds: f64,
    pub enabled: bool,
    pub window: Option<&'a Window>,
}

/// `silence_after` when a relay does not say: this long below the threshold
/// counts as a dropped source.
pub const DEFAULT_SILENCE_AFTER: u32 = 10;
/// `silence_threshold_dbfs` when a relay does not say: below this peak
/// level a relay is silent (a receiver's hiss sits well above -60 dBFS).
pub const DEFAULT_SILENCE_DBFS: f64 = -50.0;

/// A relay (tiếp âm): a live programme taken from a stream or a line-in
/// and aired for a fixed duration.
#[derive(Debug, Clone)]
pub struct Relay {
    pub id: String,
    pub title: String,
    pub source: RelaySource,
    /// How long it airs, in seconds.
    pub seconds: u32,
    /// The bulletin (index into `Station::bulletins`) aired while the source
    /// is down; silence when `None`.
    pub fallback: Option<usize>,
    /// Silence longer than this (seconds) counts as a drop.
    pub silence_after: u32,
    pub silence_threshold_dbfs: f64,
    pub campaign: Option<String>,
    pub priority: Priority,
    pub timing: Timing,
    pub window: Option<Window>,
    pub grace_seconds: u32,
    pub enabled: bool,
}

/// Where a relay's audio comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum RelaySource {
    /// An HTTP or HTTPS stream (Icecast/Shoutcast MP3 or AAC) or file.
    Url(String),
    /// A capture device (`default`, `hw:1,0`): a receiver on line-in.
    Input(String),
}

impl RelaySource {
    /// As the ledger's `file` column and the plan show it.
    pub fn describe(&self) -> String {
        match self {
            RelaySource::Url(u) => u.clone(),
            RelaySource::Input(d) => format!("input:{d}"),
        }
    }
}

/// Parse a date bound: `YYYY-MM-DD` or `MM-DD`.
pub fn parse_date_spec(s: &str) -> Option<DateSpec> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if s.len() == 10 {
            return Some(DateSpec::Fixed(d));
        }
    }
    let (m, d) = s.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (month, day): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    // 2024 is a leap year, so 02-29 is accepted.
    NaiveDate::from_ymd_opt(2024, month, day)?;
    Some(DateSpec::Annual { month, day })
}

/// Parse a local time of day: `HH:MM` or `HH:MM:SS`, 00:00 to 23:59:59.
/// A leap second (`23:59:60`) is refused, as the API refuses it in an
/// instant: chrono takes it as a second 59 that lasts two, so it would air
/// at 23:59:59 — not what anyone wrote.
pub fn parse_time_of_day(s: &str) -> Option<NaiveTime> {
    use chrono::Timelike;
    let fmt = match s.len() {
        5 => "%H:%M",
        8 => "%H:%M:%S",
        _ => return None,
    };
    NaiveTime::parse_from_str(s, fmt)
        .ok()
        .filter(|t| t.nanosecond() < 1_000_000_000)
}

/// Parse a duration like `30s`, `10m`, `1h`, `1h30m` into seconds.
pub fn parse_duration(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut saw_unit = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
        } else {
            let n: u64 = num.parse().ok()?;
            num.clear();
            total += n * match c {
                'h' => 3600,
                'm' => 60,
                's' => 1,
                _ => return None,
            };
            saw_unit = true;
        }
    }
    if !num.is_empty() || !saw_unit {
        return None;
    }
    u32::try_from(total).ok()
}

/// Parse the `days` key.
pub fn parse_days(s: &str) -> Option<DaySet> {
    let s = s.trim().to_ascii_lowercase();
    let named = match s.as_str() {
        "daily" | "every day" | "all" => Some(DaySet::ALL),
        "weekdays" => Some(DaySet(0b001_1111)),
        "weekends" => Some(DaySet(0b110_0000)),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let day = |t: &str| -> Option<u32> {
        Some(match t.trim() {
            "mon" | "monday" => 0,
            "tue" | "tuesday" => 1,
            "wed" | "wednesday" => 2,
            "thu" | "thursday" => 3,
            "fri" | "friday" => 4,
            "sat" | "saturday" => 5,
            "sun" | "sunday" => 6,
            _ => return None,
        })
    };
    let mut set = 0u8;
    for part in s.split(',') {
        if let Some((a, b)) = part.split_once('-') {
            let (a, b) = (day(a)?, day(b)?);
            // A range may wrap the week: "sat-mon".
            let mut i = a;
            loop {
                set |= 1 << i;
                if i == b {
                    break;
                }
                i = (i + 1) % 7;
            }
        } else {
            set |= 1 << day(part)?;
        }
    }
    (set != 0).then_some(DaySet(set))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days() {
        assert_eq!(parse_days("mon-sat"), Some(DaySet(0b011_1111)));
        assert_eq!(parse_days("daily"), Some(DaySet::ALL));
        assert_eq!(parse_days("mon,wed,fri"), Some(DaySet(0b001_0101)));
        assert_eq!(parse_days("sat-mon"), Some(DaySet(0b110_0001)));
        assert_eq!(parse_days("funday"), None);
        assert_eq!(parse_days(""), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(30));
        assert_eq!(parse_duration("10m"), Some(600));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5x"), None);
    }

    #[test]
    fn times_and_dates() {
        assert!(parse_time_of_day("25:00").is_none());
        assert!(parse_time_of_day("6:15").is_none());
        assert!(parse_time_of_day("23:59:60").is_none(), "a leap second");
        assert!(parse_time_of_day("12:00:60").is_none());
        assert!(parse_time_of_day("23:60").is_none());
        assert!(parse_time_of_day("23:59:59").is_some());
        assert_eq!(
            parse_time_of_day("17:15:30"),
            NaiveTime::from_hms_opt(17, 15, 30)
        );
        assert_eq!(
            parse_date_spec("12-15"),
            Some(DateSpec::Annual { month: 12, day: 15 })
        );
        assert!(parse_date_spec("02-30").is_none());
        assert!(parse_date_spec("2026-02-30").is_none());
    }

    #[test]
    fn annual_window_wraps() {
        let w = Window {
            from: DateSpec::Annual { month: 12, day: 15 },
            to: DateSpec::Annual { month: 1, day: 15 },
        };
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert!(w.contains(d(12, 31)));
        assert!(w.contains(d(1, 15)));
        assert!(!w.contains(d(1, 16)));
        assert!(!w.contains(d(12, 14)));
    }

    #[test]
    fn quiet_range_wraps_midnight() {
        let r = QuietRange {
            start: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(5, 0, 0).unwrap(),
        };
        assert!(r.contains(NaiveTime::from_hms_opt(23, 0, 0).unwrap()));
        assert!(r.contains(NaiveTime::from_hms_opt(4, 59, 59).unwrap()));
        assert!(!r.contains(NaiveTime::from_hms_opt(5, 0, 0).unwrap()));
        assert!(!r.contains(NaiveTime::from_hms_opt(20, 59, 0).unwrap()));
    }
}
