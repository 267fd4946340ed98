//! Which stations the publisher knows: each station keeps a retained
//! presence on its own topic (`loa/v1/station/ID/state`): its name,
//! district, version and `online`, and leaves the broker a last will that
//! says `online: false` when its link drops. The publisher reads them all
//! ([`super::publish::stations`]) to offer targets.

use chrono::{DateTime, Utc};
use rumqttc::{LastWill, QoS};
use serde::{Deserialize, Serialize};

/// Longest name or district kept from a presence (a station writes its
/// own; the publisher bounds what it shows).
const MAX_FIELD: usize = 200;

/// A station as it announces itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    pub station: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub online: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

pub fn topic(station: &str) -> String {
    format!("loa/v1/station/{station}/state")
}

/// The station's presence, as JSON: `at` is when it came online (`None`
/// for the will, whose time the broker chooses).
fn body(station: &str, name: &str, district: Option<&str>, at: Option<DateTime<Utc>>) -> Vec<u8> {
    let p = Presence {
        station: station.to_string(),
        name: Some(name.to_string()),
        district: district.map(str::to_string),
        version: Some(env!("CARGO_PKG_VERSION").to_string()),
        online: at.is_some(),
        at,
    };
    serde_json::to_vec(&p).unwrap_or_default()
}

/// The station's retained presence once connected.
pub fn online(station: &str, name: &str, district: Option<&str>) -> Vec<u8> {
    body(station, name, district, Some(Utc::now()))
}

/// The last will the broker publishes (retained) when the link drops.
pub fn will(station: &str, name: &str, district: Option<&str>) -> LastWill {
    let body = body(station, name, district, None);
    LastWill::new(topic(station), body, QoS::AtLeastOnce, true)
}

/// A presence read from `topic_name`, if it is one and names the station
/// whose topic it came on (a station can write only its own: the ACL).
pub fn read(topic_name: &str, payload: &[u8]) -> Option<Presence> {
    let id = topic_name
        .strip_prefix("loa/v1/station/")?
        .strip_suffix("/state")?;
    let mut p: Presence = serde_json::from_slice(payload).ok()?;
    if p.station != id {
        return None;
    }
    let cut = |s: &mut Option<String>| {
        if let Some(v) = s {
            if v.chars().count() > MAX_FIELD {
                *v = v.chars().take(MAX_FIELD).collect();
            }
        }
    };
    cut(&mut p.name);
    cut(&mut p.district);
    cut(&mut p.version);
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presence_is_read_only_on_its_own_topic() {
        let body = online("s1", "Xã Một", Some("bac"));
        let p = read(&topic("s1"), &body).unwrap();
        assert!(p.online && p.district.as_deref() == Some("bac"));
        assert!(read(&topic("s2"), &body).is_none(), "s1 speaking for s2");
        assert!(read("loa/v1/station/s1/bulletin", &body).is_none());
        let will = will("s1", "Xã Một", None);
        let gone = read(&topic("s1"), &will.message).unwrap();
        assert!(!gone.online);
    }
}
