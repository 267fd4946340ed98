//! Why an airing did not complete, as data: a [`Reason`] has a stable
//! snake_case code and typed arguments, the ledger stores both (`reason_code`,
//! `reason_args`, `reason_more`), and one catalogue ([`catalogue`]) renders
//! every code in Vietnamese and in English. Nothing tells reasons apart by
//! their text; the English sentence is only a rendering.
//!
//! Several reasons can hold at once (a relay interrupted by an emergency
//! that also had drops and aired its fallback): [`Reasons`] is a main
//! reason and the details that follow it.
//!
//! The same catalogue names the audit log's actions ([`audit_action`]).

mod catalogue;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use catalogue::{audit_action, AUDIT_ACTIONS};

/// The language a reason is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// For operators and officials: the default everywhere people read.
    #[default]
    Vi,
    En,
}

/// Who did it: a web console user or an API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct By {
    pub kind: ByKind,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ByKind {
    User,
    Token,
}

impl By {
    pub fn user(name: impl Into<String>) -> By {
        By {
            kind: ByKind::User,
            name: name.into(),
        }
    }

    pub fn token(name: impl Into<String>) -> By {
        By {
            kind: ByKind::Token,
            name: name.into(),
        }
    }
}

/// `user NAME` or `token NAME`, as logs and the English text name them.
impl std::fmt::Display for By {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            ByKind::User => "user",
            ByKind::Token => "token",
        };
        write!(f, "{kind} {}", self.name)
    }
}

/// A drop of a relay's source: when (seconds into the slot), why (the
/// source's or the network's own words), how many times in a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayDrop {
    pub at: f64,
    pub why: String,
    pub times: u32,
}

/// One reason. Durations of lateness and grace are whole seconds; audio
/// lengths are seconds with decimals. Error texts from devices, decoders
/// and the speech engine are arguments, kept as they were said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(tag = "code", content = "args", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Reason {
    /// An operator skipped what aired.
    SkippedBy { by: By },
    /// An operator paused the station while it aired.
    PausedBy { by: By },
    /// An operator cancelled the emergency.
    EmergencyCancelledBy { by: By },
    /// An emergency cut in.
    InterruptedByEmergency { bulletin: String, title: String },
    /// Due while the station was paused.
    StationPaused,
    /// Due within quiet hours.
    QuietHours,
    /// An operator took it out of the queue.
    Dequeued,
    /// Waited for a busy line past its grace.
    LineBusy {
        late_seconds: i64,
        grace_seconds: i64,
    },
    /// A typed notice still being read aloud past its grace.
    NoticeNotReady {
        late_seconds: i64,
        grace_seconds: i64,
    },
    /// The station was off air at its time (first seen late at start-up or
    /// after a clock jump).
    OffAir {
        late_seconds: i64,
        grace_seconds: i64,
    },
    /// An operator's item kept in the ledger: the daemon restarted past its
    /// grace.
    DownAtItsTime {
        late_seconds: i64,
        grace_seconds: i64,
    },
    /// It would push its programme's session past the cap.
    SessionCap {
        programme: String,
        cap_seconds: f64,
        used_seconds: f64,
        item_seconds: f64,
    },
    /// The speech engine could not read a typed notice aloud.
    SpeechFailed { error: String },
    /// The audio file could not be opened or decoded.
    FileFailed { error: String },
    /// The file decoded to nothing.
    NoAudio,
    /// The file ended well short of its probed length.
    Truncated {
        file: String,
        aired_seconds: f64,
        expected_seconds: f64,
    },
    /// The sound card or output failed.
    DeviceFailed { error: String },
    /// The output took no audio for this long.
    OutputStalled { seconds: f64 },
    /// Still playing this long after it should have ended.
    OutputOverran { seconds: f64 },
    /// Stopped without the engine saying why.
    Stopped,
    /// The daemon stopped (asked to, or a crash or power cut found later).
    DaemonStopped,
    /// The audio output stopped reporting, so the engine stopped.
    OutputGone,
    /// A relay's source never gave audio.
    RelayNoSource,
    /// A relay's source dropped.
    RelayDrops { drops: Vec<RelayDrop> },
    /// A relay aired its fallback this long.
    RelayFallback { seconds: f64 },
    /// A relay aired silence this long.
    RelaySilence { seconds: f64 },
    /// loa itself failed (a thread it needs stopped): restart it.
    Internal { error: String },
    /// Text of an older loa that no code matches, kept verbatim.
    Free { text: String },
}

/// Codes of the reasons an operator takes an item off the air before it
/// started (taken out of the queue, an emergency cancelled). Reports count
/// such rows as cancelled (`đã huỷ`), never against the station: not as
/// missed, skipped or failed.
pub const OPERATOR_CANCEL_CODES: [&str; 2] = ["dequeued", "emergency_cancelled_by"];

impl Reason {
    /// `RelayDrops` of `(at, why, times)` drops: what tests expect.
    #[cfg(test)]
    pub(crate) fn relay_drops(drops: &[(f64, &str, u32)]) -> Reason {
        let drops = drops.iter().map(|&(at, why, times)| RelayDrop {
            at,
            why: why.into(),
            times,
        });
        Reason::RelayDrops {
            drops: drops.collect(),
        }
    }

    /// The stable code, as stored in `reason_code` and given by the API.
    pub fn code(&self) -> &'static str {
        // The variant's name in snake_case, as serde writes it.
        self.into()
    }

    /// The arguments as a JSON object (`{}` when it has none).
    pub fn args(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut m)) => match m.remove("args") {
                Some(Value::Object(a)) => a,
                _ => Map::new(),
            },
            _ => Map::new(),
        }
    }

    /// A reason from its code and arguments, as stored; `None` when the
    /// code is unknown or the arguments do not fit it.
    pub fn from_parts(code: &str, args: &Map<String, Value>) -> Option<Reason> {
        let mut v = Map::new();
        v.insert("code".into(), Value::String(code.to_string()));
        if !args.is_empty() {
            v.insert("args".into(), Value::Object(args.clone()));
        }
        serde_json::from_value(Value::Object(v.clone()))
            .ok()
            .or_else(|| {
                // A reason without arguments, stored with some.
                v.remove("args")?;
                serde_json::from_value(Value::Object(v)).ok()
            })
    }

    /// The reason in `lang`, from the catalogue.
    pub fn text(&self, lang: Lang) -> String {
        catalogue::render(self, lang)
    }
}

/// English, as logs and old tools read it.
impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(Lang::En))
    }
}

/// A main reason and the details that follow it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reasons {
    pub main: Reason,
    pub more: Vec<Reason>,
}

impl From<Reason> for Reasons {
    fn from(main: Reason) -> Reasons {
        Reasons {
            main,
            more: Vec::new(),
        }
    }
}

impl Reasons {
    /// The first of `list` as the main reason, the rest as details; `None`
    /// for an empty list.
    pub fn from_list(list: Vec<Reason>) -> Option<Reasons> {
        let mut it = list.into_iter();
        let main = it.next()?;
        Some(Reasons {
            main,
            more: it.collect(),
        })
    }

    /// An operator took the item off (its main reason is one of
    /// [`OPERATOR_CANCEL_CODES`]).
    pub fn is_operator_cancel(&self) -> bool {
        OPERATOR_CANCEL_CODES.contains(&self.main.code())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Reason> {
        std::iter::once(&self.main).chain(&self.more)
    }

    /// Every reason in `lang`, joined by `; `.
    pub fn text(&self, lang: Lang) -> String {
        self.iter()
            .map(|r| r.text(lang))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// `reason_args`: the main reason's arguments, JSON.
    pub fn args_json(&self) -> String {
        Value::Object(self.main.args()).to_string()
    }

    /// `reason_more`: the details as `[{"code", "args"}]`, JSON; `None`
    /// when there are none.
    pub fn more_json(&self) -> Option<String> {
        (!self.more.is_empty())
            .then(|| serde_json::to_string(&self.more).expect("reasons serialize to JSON"))
    }

    /// From the stored columns. A code this loa does not know, or
    /// arguments that do not fit, are kept as free text (the English text
    /// column when there is one), never lost.
    pub fn from_columns(
        code: &str,
        args: Option<&str>,
        more: Option<&str>,
        text: Option<&str>,
    ) -> Reasons {
        let args: Map<String, Value> = args
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_default();
        let main = Reason::from_parts(code, &args).unwrap_or_else(|| Reason::Free {
            text: text.map_or_else(|| code.to_string(), str::to_string),
        });
        let more: Vec<Reason> = more
            .and_then(|m| serde_json::from_str::<Vec<Value>>(m).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|v| {
                serde_json::from_value(v.clone()).unwrap_or_else(|_| Reason::Free {
                    text: v.to_string(),
                })
            })
            .collect();
        Reasons { main, more }
    }
}

/// English, as logs and old tools read it.
impl std::fmt::Display for Reasons {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(Lang::En))
    }
}

/// A reason as the API and JSON listings give it: code, arguments, text.
#[derive(Debug, Clone, Serialize)]
pub struct ReasonJson {
    pub code: &'static str,
    pub args: Map<String, Value>,
    pub text: String,
}

impl ReasonJson {
    pub fn of(r: &Reason, lang: Lang) -> ReasonJson {
        ReasonJson {
            code: r.code(),
            args: r.args(),
            text: r.text(lang),
        }
    }
}

/// A reason as fields of a JSON object it is flattened into: `reason`
/// (English, as before), `reason_code` and `reason_args`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReasonFields(pub Reason);

impl From<Reason> for ReasonFields {
    fn from(r: Reason) -> Self {
        ReasonFields(r)
    }
}

impl Serialize for ReasonFields {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("reason", &self.0.text(Lang::En))?;
        m.serialize_entry("reason_code", self.0.code())?;
        m.serialize_entry("reason_args", &self.0.args())?;
        m.end()
    }
}

#[cfg(test)]
mod tests;
