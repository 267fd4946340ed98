//! The province speaks to its stations: signed bulletins (`manifest`)
//! come down an MQTT broker, are checked against the publishers this
//! station trusts and the ids it already obeyed (`seen`), and are aired
//! through `crate::control` like an operator's order.

pub mod act;
pub mod cap;
pub mod decide;
pub mod inbox;
pub mod manifest;
pub mod mqtt;
pub mod presence;
pub mod publish;
pub mod seen;
pub mod station;

/// Topics, version 1. Bulletins go to the province, a district or one
/// station; audio is content addressed; each station acknowledges each
/// bulletin on its own retained topic, and keeps its presence retained at
/// `loa/v1/station/ID/state` (`presence`).
pub mod topic {
    pub const ALL: &str = "loa/v1/all/bulletin";

    pub fn district(d: &str) -> String {
        format!("loa/v1/district/{d}/bulletin")
    }

    pub fn station(id: &str) -> String {
        format!("loa/v1/station/{id}/bulletin")
    }

    pub fn audio(sha256: &str) -> String {
        format!("loa/v1/audio/{sha256}")
    }

    pub fn ack(station: &str, broadcast: &str) -> String {
        format!("loa/v1/ack/{station}/{broadcast}")
    }
}
