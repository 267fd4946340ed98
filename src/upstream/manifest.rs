//! What the province sends, and whether a station obeys it: a JSON
//! manifest signed with Ed25519, inside an envelope that names the key.
//!
//! The signature covers the manifest's exact bytes (the envelope carries
//! them as a string), so no canonical JSON is needed and any change on the
//! way, one byte or a field added, fails verification. Every check that
//! can refuse a message is in [`verify`], a pure function of the message,
//! the trusted keys, the station, the instant and the ids already seen.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::config::upstream::{parse_key, usable_district};
use crate::token::hex;

/// Largest message accepted on a bulletin topic: a manifest with a long
/// text is a few kilobytes.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Longest life of a bulletin: beyond it a redelivery could no longer be
/// recognised once the id is pruned.
pub const MAX_LIFE_DAYS: i64 = 31;
/// How far ahead of the station's clock `issued` may be (clock skew).
const MAX_SKEW_MINUTES: i64 = 10;
/// Largest audio a bulletin may carry through the broker.
pub const MAX_AUDIO_BYTES: u64 = 16 * 1024 * 1024;
const MAX_TITLE_CHARS: usize = 200;
const MAX_ID_LEN: usize = 64;
const MAX_TIMES: usize = 24;
const MAX_STATIONS: usize = 2000;

/// The three levels of Thông tư 39/2020/TT-BTTTT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Normal,
    Priority,
    Emergency,
}

/// Audio carried by the broker at `loa/v1/audio/SHA256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioRef {
    /// 64 lowercase hex digits.
    pub sha256: String,
    pub size: u64,
    /// The file's extension (`mp3`, `wav`, `ogg`, …), how stations name it.
    pub ext: String,
}

/// When a normal bulletin airs: at `times` (the station's local time) on
/// `days` (ISO weekdays, 1 = Monday; all when empty) from `from` to `to`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub times: Vec<NaiveTime>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<u8>,
}

/// An emergency airs again every `every` (`"30m"`) until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    pub every: String,
    pub until: DateTime<Utc>,
}

/// A bulletin as the province signs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub publisher: String,
    pub issued: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub priority: Level,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioRef>,
    /// `all`, `district:NAME` or `station:ID[,ID…]`.
    pub targets: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Repeat>,
}

/// Who a bulletin is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    All,
    District(String),
    Stations(Vec<String>),
}

impl Targets {
    pub fn parse(s: &str) -> Result<Targets, String> {
        if s == "all" {
            return Ok(Targets::All);
        }
        if let Some(d) = s.strip_prefix("district:") {
            return if usable_district(d) {
                Ok(Targets::District(d.to_string()))
            } else {
                Err(format!(
                    "`{d}` is not a district name (letters, digits, -, _)"
                ))
            };
        }
        if let Some(ids) = s.strip_prefix("station:") {
            let ids: Vec<String> = ids.split(',').map(|i| i.trim().to_string()).collect();
            if ids.len() > MAX_STATIONS || ids.iter().any(|i| !usable_id(i)) {
                return Err(format!(
                    "`{s}` must name 1 to {MAX_STATIONS} station ids (letters, digits, -, _, .)"
                ));
            }
            return Ok(Targets::Stations(ids));
        }
        Err(format!(
            "`{s}` is not a target: write all, district:NAME or station:ID[,ID…]"
        ))
    }

    /// Whether the station `id` of `district` is among them.
    pub fn includes(&self, id: &str, district: Option<&str>) -> bool {
        match self {
            Targets::All => true,
            Targets::District(d) => district == Some(d.as_str()),
            Targets::Stations(ids) => ids.iter().any(|i| i == id),
        }
    }
}

fn usable_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The signed message: the manifest's bytes, the key and its signature.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub key: String,
    pub signature: String,
    pub manifest: String,
}

/// Why a message was not obeyed: each is an audit row and a log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the message is {0} bytes, more than {MAX_MESSAGE}")]
    Oversize(usize),
    #[error("the message is not a signed envelope ({0})")]
    Unsigned(String),
    #[error("signed by a key this station does not trust ({0})")]
    UnknownKey(String),
    #[error("the signature does not match the manifest: altered on the way or forged")]
    Altered,
    #[error("the manifest cannot be read: {0}")]
    Malformed(String),
    #[error("expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("bulletin {0} was already received")]
    AlreadySeen(String),
    #[error("bulletin is for {0}, not this station")]
    NotForUs(String),
}

impl Refusal {
    /// The stable code acknowledgements and audit rows carry.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Oversize(_) => "oversize",
            Refusal::Unsigned(_) => "unsigned",
            Refusal::UnknownKey(_) => "unknown_key",
            Refusal::Altered => "altered",
            Refusal::Malformed(_) => "malformed",
            Refusal::Expired(_) => "expired",
            Refusal::AlreadySeen(_) => "already_seen",
            Refusal::NotForUs(_) => "not_for_us",
        }
    }
}

/// The station a message is checked for.
pub struct Me<'a> {
    pub station_id: &'a str,
    pub district: Option<&'a str>,
    pub keys: &'a [[u8; 32]],
}

pub use crate::signing::key_text;

/// Sign `m` with `key`: the message to publish.
pub fn sign(m: &Manifest, key: &SigningKey) -> Vec<u8> {
    let manifest = serde_json::to_string(m).expect("a manifest serializes");
    let signature = key.sign(manifest.as_bytes());
    let env = Envelope {
        key: key_text(&key.verifying_key()),
        signature: hex(&signature.to_bytes()),
        manifest,
    };
    serde_json::to_vec(&env).expect("an envelope serializes")
}

/// Check a message as it came off the broker: the manifest to act on, or
/// why not. `seen` says whether an id was already obeyed.
pub fn verify(
    msg: &[u8],
    me: &Me,
    now: DateTime<Utc>,
    seen: impl Fn(&str) -> bool,
) -> Result<Manifest, Refusal> {
    if msg.len() > MAX_MESSAGE {
        return Err(Refusal::Oversize(msg.len()));
    }
    let env: Envelope =
        serde_json::from_slice(msg).map_err(|e| Refusal::Unsigned(e.to_string()))?;
    let key = parse_key(&env.key)
        .filter(|k| me.keys.contains(k))
        .ok_or_else(|| Refusal::UnknownKey(env.key.chars().take(80).collect()))?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| Refusal::UnknownKey(env.key.clone()))?;
    let sig = sig_bytes(&env.signature).ok_or_else(|| Refusal::Unsigned("no signature".into()))?;
    key.verify_strict(env.manifest.as_bytes(), &Signature::from_bytes(&sig))
        .map_err(|_| Refusal::Altered)?;
    let m: Manifest =
        serde_json::from_str(&env.manifest).map_err(|e| Refusal::Malformed(e.to_string()))?;
    check(&m, now).map_err(Refusal::Malformed)?;
    if now >= m.expires {
        return Err(Refusal::Expired(m.expires));
    }
    if seen(&m.id) {
        return Err(Refusal::AlreadySeen(m.id));
    }
    let targets = Targets::parse(&m.targets).map_err(Refusal::Malformed)?;
    if !targets.includes(me.station_id, me.district) {
        return Err(Refusal::NotForUs(m.targets.chars().take(80).collect()));
    }
    Ok(m)
}

fn sig_bytes(s: &str) -> Option<[u8; 64]> {
    if s.len() != 128 {
        return None;
    }
    let mut out = [0u8; 64];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The bounds of a manifest, whoever signed it.
pub fn check(m: &Manifest, now: DateTime<Utc>) -> Result<(), String> {
    if !usable_id(&m.id) {
        return Err("id must be 1 to 64 letters, digits, -, _ or .".into());
    }
    if m.publisher.trim().is_empty()
        || m.publisher.chars().count() > MAX_ID_LEN
        || m.publisher.chars().any(char::is_control)
    {
        return Err("publisher must be 1 to 64 characters, one line".into());
    }
    if m.title.chars().count() > MAX_TITLE_CHARS || m.title.chars().any(char::is_control) {
        return Err(format!(
            "title must be at most {MAX_TITLE_CHARS} characters, one line"
        ));
    }
    if m.issued > now + chrono::Duration::minutes(MAX_SKEW_MINUTES) {
        return Err("issued in the future (check the publisher's clock)".into());
    }
    if m.expires <= m.issued || m.expires - m.issued > chrono::Duration::days(MAX_LIFE_DAYS) {
        return Err(format!(
            "expires must be after issued, within {MAX_LIFE_DAYS} days"
        ));
    }
    match (&m.text, &m.audio) {
        (Some(t), None)
            if !t.trim().is_empty() && t.chars().count() <= crate::config::MAX_TTS_CHARS => {}
        (None, Some(a)) => {
            let hex_ok = a.sha256.len() == 64
                && a.sha256
                    .bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
            let ext_ok = !a.ext.is_empty()
                && a.ext.len() <= 5
                && a.ext
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            if !hex_ok || !ext_ok || a.size == 0 || a.size > MAX_AUDIO_BYTES {
                return Err(format!(
                    "audio must be a sha256 (64 lowercase hex), an extension and 1 to {MAX_AUDIO_BYTES} bytes"
                ));
            }
        }
        _ => return Err("exactly one of text (1 to 5000 characters) and audio".into()),
    }
    if let Some(s) = &m.schedule {
        if s.times.len() > MAX_TIMES || s.days.iter().any(|d| !(1..=7).contains(d)) {
            return Err(format!(
                "schedule: at most {MAX_TIMES} times, days 1 (Monday) to 7"
            ));
        }
        if let (Some(f), Some(t)) = (s.from, s.to) {
            if t < f {
                return Err("schedule: to is before from".into());
            }
        }
    }
    if let Some(r) = &m.repeat {
        if crate::config::parse_duration(&r.every).is_none() || r.until > m.expires {
            return Err("repeat: every must be a duration (30m) and until before expires".into());
        }
    }
    Targets::parse(&m.targets).map(|_| ())
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
