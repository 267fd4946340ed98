//! The province speaks to its stations: signed bulletins (`manifest`)
//! come down an MQTT broker, are checked against the publishers this
//! station trusts and the ids it already obeyed (`seen`), and are aired
//! through `crate::control` like an operator's order.

pub mod act;
pub mod cap;
pub mod decide;
pub mod inbox;
pub mod keys;
pub mod manifest;
pub mod mqtt;
pub mod presence;
pub mod publish;
pub mod seen;
pub mod station;

/// The province's broadcast an occurrence aired, when it names one
/// (`operator:7/province:ID@…`, `emergency:12/province:ID@…`).
pub fn broadcast_of(occurrence: &str) -> Option<&str> {
    let (item, _) = occurrence.rsplit_once('@')?;
    let (head, id) = item.split_once("/province:")?;
    (!head.contains('/') && !id.is_empty() && !id.contains('/')).then_some(id)
}

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

#[cfg(test)]
mod tests {
    #[test]
    fn the_broadcast_is_read_from_the_occurrence() {
        let of = super::broadcast_of;
        assert_eq!(
            of("emergency:12/province:b2026-1@2026-12-06T10:15:00.000+07:00"),
            Some("b2026-1")
        );
        assert_eq!(
            of("operator:7/tinh/abc.mp3@2026-12-06T10:15:00.000+07:00"),
            None
        );
        assert_eq!(of("sang/tin@2026-12-06T06:00:00.000+07:00"), None);
        assert_eq!(of("no-instant"), None);
    }
}
