//! `[monitor]`: the capture device that listens to the station's own
//! loudspeaker line (`crate::monitor` does the listening). Optional: a
//! station without it records `heard_seconds` as null and raises no line
//! alarm.

use std::time::Duration;

use serde::Deserialize;

use super::load::Loader;
use super::raw::S;

const MONITOR: &str = "[monitor]";
/// `silence_alarm` when not written.
pub const DEFAULT_SILENCE_ALARM: Duration = Duration::from_secs(10);
/// Bounds of `silence_alarm`: shorter would alarm on a pause in speech,
/// longer would let a whole bulletin go unheard unreported.
const MIN_ALARM_S: f64 = 1.0;
const MAX_ALARM_S: f64 = 600.0;
/// Longest device name accepted (ALSA names are short).
const MAX_NAME: usize = 200;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMonitor {
    pub(super) input: Option<S<String>>,
    pub(super) silence_alarm: Option<S<f64>>,
}

/// `[monitor]` as loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    /// The capture device: `default` or an ALSA name (`arecord -L`), named
    /// like `[output] device`.
    pub input: String,
    /// How long the line may stay silent while an item airs before the
    /// alarm.
    pub silence_alarm: Duration,
}

impl Loader<'_> {
    /// `None` inside `Some`: no monitor. Outer `None`: reported errors.
    pub(super) fn monitor(&mut self, m: RawMonitor) -> Option<Option<Monitor>> {
        let silence_alarm = match &m.silence_alarm {
            None => Some(DEFAULT_SILENCE_ALARM),
            Some(s) if (MIN_ALARM_S..=MAX_ALARM_S).contains(s.get_ref()) => {
                Some(Duration::from_secs_f64(*s.get_ref()))
            }
            Some(s) => {
                self.at(s.span()).item(MONITOR).key("silence_alarm").error(
                    format!("{} is not a number of seconds from 1 to 600", s.get_ref()),
                    "write how long the line may be silent while an item airs, e.g. silence_alarm = 10",
                );
                None
            }
        };
        let input = match &m.input {
            None if m.silence_alarm.is_none() => return Some(None),
            None => {
                self.whole_file().error(
                    "[monitor] has no input",
                    "name the capture device wired to the loudspeaker line, e.g. input = \"hw:1,0\" \
                     (see `arecord -L`), or remove [monitor]",
                );
                None
            }
            Some(i) => {
                let v = i.get_ref().trim();
                if v.is_empty() || v.len() > MAX_NAME || v.chars().any(char::is_control) {
                    self.at(i.span()).item(MONITOR).key("input").error(
                        "not a capture device name",
                        "write `default` or an ALSA name from `arecord -L`, e.g. input = \"hw:1,0\"",
                    );
                    None
                } else {
                    Some(v.to_string())
                }
            }
        };
        Some(Some(Monitor {
            input: input?,
            silence_alarm: silence_alarm?,
        }))
    }
}
