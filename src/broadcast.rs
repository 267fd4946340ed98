//! The province's broadcast ids (`crate::upstream`): the form an id may
//! take, and how an occurrence names the broadcast it aired. Plain text
//! rules, here at the bottom so the ledger's shipper and the control layer
//! can read them without depending on the MQTT link.

/// Whether `id` may be a broadcast's id and name a file here: letters,
/// digits, `-`, `_`, `.`, at most 64, never a hidden or relative name.
pub fn usable_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The province's broadcast an occurrence aired, when it names one
/// (`operator:7/province:ID@…`, `emergency:12/province:ID@…`).
pub fn broadcast_of(occurrence: &str) -> Option<&str> {
    let (item, _) = occurrence.rsplit_once('@')?;
    let (head, id) = item.split_once("/province:")?;
    (!head.contains('/') && !id.is_empty() && !id.contains('/')).then_some(id)
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
