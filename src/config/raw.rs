//! The station file's shapes as written: every value keeps its span, so a
//! check can point at it. Sections and items are deserialized into these one
//! by one (see `deser`); `load` and its rooms check them.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use toml::Spanned;

pub(super) type S<T> = Spanned<T>;

/// The top-level sections and lists of items a station file may have.
pub(super) const SECTIONS: &[&str] = &[
    "station", "output", "quiet", "api", "report", "fleet", "upstream", "publish", "tts",
    "session", "campaign", "bulletin", "program", "relay", "monitor",
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReport {
    pub(super) authority: Option<S<String>>,
    pub(super) number_prefix: Option<S<String>>,
    pub(super) place: Option<S<String>>,
    pub(super) recipients: Option<S<Vec<S<String>>>>,
    pub(super) preparer_title: Option<S<String>>,
    pub(super) preparer_name: Option<S<String>>,
    pub(super) head_title: Option<S<String>>,
    pub(super) head_name: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStation {
    pub(super) name: S<String>,
    pub(super) timezone: Option<S<String>>,
    pub(super) audio_dir: Option<S<String>>,
    pub(super) data_dir: Option<S<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    pub(super) kind: Option<S<String>>,
    pub(super) device: Option<S<String>>,
    pub(super) path: Option<S<String>>,
    pub(super) pace: Option<S<String>>,
    pub(super) volume: Option<S<f64>>,
    pub(super) loudness: Option<S<bool>>,
    pub(super) loudness_lufs: Option<S<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQuiet {
    #[serde(default)]
    pub(super) hours: Vec<S<String>>,
}

/// `[tts]`: how typed notices are read aloud.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTts {
    pub(super) voice: Option<S<String>>,
    pub(super) command: Option<S<Vec<S<String>>>>,
    pub(super) timeout: Option<S<String>>,
    pub(super) cache_mb: Option<S<i64>>,
}

/// `[session]`: limits on a broadcasting session.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSession {
    pub(super) max_minutes: Option<S<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApi {
    pub(super) listen: Option<S<String>>,
    pub(super) max_upload_mb: Option<S<i64>>,
    pub(super) max_queue: Option<S<i64>>,
    pub(super) tls_cert: Option<S<String>>,
    pub(super) tls_key: Option<S<String>>,
    pub(super) behind_https_proxy: Option<S<bool>>,
    pub(super) session_idle: Option<S<String>>,
    #[serde(default)]
    pub(super) token: Vec<S<RawToken>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFleet {
    pub(super) station_id: Option<S<String>>,
    pub(super) postgres: Option<S<String>>,
    pub(super) district: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawToken {
    pub(super) name: S<String>,
    pub(super) role: S<String>,
    pub(super) sha256: S<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCampaign {
    pub(super) id: Option<S<String>>,
    pub(super) title: Option<S<String>>,
    pub(super) from: Option<S<toml::Value>>,
    pub(super) to: Option<S<toml::Value>>,
    pub(super) target_minutes: Option<S<f64>>,
}

/// Declares an item that airs at times of its own: its keys as written,
/// then the timing keys (`RawWhen`'s), which are listed only here. (Not a
/// `#[serde(flatten)]` field: flattening buffers values and loses spans.)
macro_rules! timed_item {
    ($(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty,)* }) => {
        $(#[$doc])*
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(super) struct $name {
            $(pub(super) $field: $ty,)*
            pub(super) at: Option<S<Vec<S<toml::Value>>>>,
            pub(super) days: Option<S<String>>,
            pub(super) cron: Option<S<String>>,
            pub(super) from: Option<S<toml::Value>>,
            pub(super) to: Option<S<toml::Value>>,
            pub(super) grace: Option<S<String>>,
            pub(super) enabled: Option<S<bool>>,
        }
    };
}

timed_item!(RawBulletin {
    id: Option<S<String>>,
    title: Option<S<String>>,
    file: Option<S<String>>,
    text: Option<S<String>>,
    text_file: Option<S<String>>,
    campaign: Option<S<String>>,
    priority: Option<S<String>>,
});

timed_item!(RawProgram {
    id: Option<S<String>>,
    title: Option<S<String>>,
    items: Option<S<Vec<S<String>>>>,
    priority: Option<S<String>>,
});

timed_item!(
    /// A `[[relay]]`: a live source (`url` or `input`) aired for `duration`,
    /// with the bulletin's timing keys.
    RawRelay {
        id: Option<S<String>>,
        title: Option<S<String>>,
        url: Option<S<String>>,
        input: Option<S<String>>,
        duration: Option<S<String>>,
        fallback: Option<S<String>>,
        silence_after: Option<S<String>>,
        silence_threshold_dbfs: Option<S<f64>>,
        campaign: Option<S<String>>,
        priority: Option<S<String>>,
    }
);

/// An `[[item]]`. Its required keys are `Option`s that the loader checks,
/// not serde: a missing key must not hide the item's other problems.
pub(super) trait RawItem: DeserializeOwned {
    /// The required keys left out, in the order they are declared.
    fn missing_keys(&self) -> Vec<&'static str>;
}

fn missing(keys: &[(&'static str, bool)]) -> Vec<&'static str> {
    keys.iter()
        .filter(|(_, written)| !written)
        .map(|(key, _)| *key)
        .collect()
}

impl RawItem for RawCampaign {
    fn missing_keys(&self) -> Vec<&'static str> {
        missing(&[("id", self.id.is_some()), ("title", self.title.is_some())])
    }
}

impl RawItem for RawBulletin {
    fn missing_keys(&self) -> Vec<&'static str> {
        missing(&[
            ("id", self.id.is_some()),
            ("title", self.title.is_some()),
            (
                "file",
                self.file.is_some() || self.text.is_some() || self.text_file.is_some(),
            ),
        ])
    }
}

impl RawItem for RawProgram {
    fn missing_keys(&self) -> Vec<&'static str> {
        missing(&[
            ("id", self.id.is_some()),
            ("title", self.title.is_some()),
            ("items", self.items.is_some()),
        ])
    }
}

impl RawItem for RawRelay {
    fn missing_keys(&self) -> Vec<&'static str> {
        missing(&[
            ("id", self.id.is_some()),
            ("title", self.title.is_some()),
            ("duration", self.duration.is_some()),
        ])
    }
}

/// Move the timing keys out of a `RawBulletin`, `RawProgram` or `RawRelay`.
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
pub(super) use take_when;

timed_item!(
    /// Keys shared by bulletins, programmes and relays: when they air.
    RawWhen {}
);

/// A TOML value written as a string or as a TOML date/time, as text.
pub(super) fn value_text(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Datetime(d) => Some(d.to_string()),
        _ => None,
    }
}

pub(super) fn value_display(v: &toml::Value) -> String {
    value_text(v).unwrap_or_else(|| v.to_string())
}
