//! OASIS CAP 1.2 (Common Alerting Protocol), the format disaster agencies
//! publish, read into a bulletin: `headline` becomes the title,
//! `description` and `instruction` the words read aloud, `expires` the
//! expiry; urgency Immediate with severity Extreme or Severe is an
//! emergency, anything else a priority bulletin. Of several `info` blocks
//! the first in Vietnamese is read, else the first.

use chrono::{DateTime, Utc};

use super::manifest::Level;
use crate::config::MAX_TTS_CHARS;

const CAP_1_2: &str = "urn:oasis:names:tc:emergency:cap:1.2";
/// Largest alert read.
pub const MAX_CAP_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub identifier: String,
    pub title: String,
    pub text: String,
    pub expires: Option<DateTime<Utc>>,
    pub level: Level,
}

/// Read a CAP 1.2 alert.
pub fn parse(xml: &str) -> Result<Alert, String> {
    if xml.len() > MAX_CAP_BYTES {
        return Err(format!("the alert is larger than {MAX_CAP_BYTES} bytes"));
    }
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("not XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "alert" || root.tag_name().namespace() != Some(CAP_1_2) {
        return Err(format!(
            "not a CAP 1.2 alert (the root must be <alert xmlns=\"{CAP_1_2}\">)"
        ));
    }
    let child = |n: roxmltree::Node, name: &str| {
        n.children()
            .find(|c| c.is_element() && c.tag_name().name() == name)
            .and_then(|c| c.text())
            .map(squeeze)
    };
    if child(root, "msgType").as_deref() == Some("Cancel") {
        return Err("a Cancel alert has nothing to read aloud".into());
    }
    let infos: Vec<_> = root
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "info")
        .collect();
    let info = infos
        .iter()
        .find(|i| child(**i, "language").is_some_and(|l| l.to_ascii_lowercase().starts_with("vi")))
        .or(infos.first())
        .ok_or("the alert has no <info>")?;
    let words: Vec<String> = ["description", "instruction"]
        .iter()
        .filter_map(|n| child(*info, n))
        .filter(|t| !t.is_empty())
        .collect();
    let text = words.join(" ");
    if text.is_empty() {
        return Err("the alert has no description or instruction to read aloud".into());
    }
    if text.chars().count() > MAX_TTS_CHARS {
        return Err(format!(
            "description and instruction are longer than {MAX_TTS_CHARS} characters"
        ));
    }
    let expires = match child(*info, "expires") {
        None => None,
        Some(e) => Some(
            DateTime::parse_from_rfc3339(&e)
                .map_err(|_| format!("expires `{e}` is not a date and time"))?
                .with_timezone(&Utc),
        ),
    };
    let urgency = child(*info, "urgency").unwrap_or_default();
    let severity = child(*info, "severity").unwrap_or_default();
    let level = if urgency == "Immediate" && matches!(severity.as_str(), "Extreme" | "Severe") {
        Level::Emergency
    } else {
        Level::Priority
    };
    let title = child(*info, "headline")
        .or_else(|| child(*info, "event"))
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    Ok(Alert {
        identifier: child(root, "identifier").unwrap_or_default(),
        title,
        text,
        expires,
        level,
    })
}

/// Whitespace runs (the XML's line breaks and indentation) as one space.
fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Alert {
        let path = format!("{}/tests/fixtures/cap/{name}", env!("CARGO_MANIFEST_DIR"));
        parse(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_specifications_examples() {
        let a = fixture("a1-homeland-security.xml");
        assert_eq!(a.title, "Homeland Security Sets Code ORANGE");
        assert_eq!(a.level, Level::Emergency, "Immediate + Severe");
        assert!(a.text.starts_with("The Department of Homeland Security has elevated the Homeland Security Advisory System"));
        assert!(
            a.text.ends_with("in accordance with their existing plans."),
            "instruction follows"
        );
        assert_eq!(a.expires, None);

        let a = fixture("a2-severe-thunderstorm.xml");
        assert_eq!(a.title, "SEVERE THUNDERSTORM WARNING");
        assert_eq!(a.level, Level::Emergency);
        assert!(a
            .text
            .ends_with("TAKE COVER IN A SUBSTANTIAL SHELTER UNTIL THE STORM PASSES."));
        assert_eq!(
            a.expires,
            Some(
                DateTime::parse_from_rfc3339("2003-06-17T23:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc)
            )
        );

        let a = fixture("a3-earthquake.xml");
        assert_eq!(a.title, "EQ 3.4 Imperial County CA");
        assert_eq!(a.level, Level::Priority, "Past + Minor");

        let a = fixture("a4-amber-alert.xml");
        assert_eq!(
            a.title, "Amber Alert in Los Angeles County",
            "the first info"
        );
        assert_eq!(a.level, Level::Emergency);
    }

    #[test]
    fn vietnamese_info_is_preferred_and_bad_alerts_are_refused() {
        let xml = format!(
            r#"<alert xmlns="{CAP_1_2}"><identifier>x</identifier><msgType>Alert</msgType>
            <info><language>en</language><urgency>Expected</urgency><severity>Severe</severity>
            <headline>Storm</headline><description>Storm coming</description></info>
            <info><language>vi-VN</language><urgency>Expected</urgency><severity>Severe</severity>
            <headline>Bão số 3</headline><description>Bão  số 3
              đang vào bờ.</description></info></alert>"#
        );
        let a = parse(&xml).unwrap();
        assert_eq!(
            (a.title.as_str(), a.text.as_str()),
            ("Bão số 3", "Bão số 3 đang vào bờ.")
        );
        assert_eq!(a.level, Level::Priority, "Expected is not Immediate");
        assert!(parse("<alert/>").unwrap_err().contains("CAP 1.2"));
        assert!(parse("not xml").unwrap_err().contains("not XML"));
        let cancel = format!(r#"<alert xmlns="{CAP_1_2}"><msgType>Cancel</msgType></alert>"#);
        assert!(parse(&cancel).unwrap_err().contains("Cancel"));
    }
}
