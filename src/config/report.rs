//! `[report]`, read and checked: what the printed report says about who
//! issues it, where, to whom, and who signs. Every value is one short line
//! of text (it goes on paper, into fixed places of the page).

use super::load::Loader;
use super::raw::{RawReport, S};
use super::ReportSigning;

const REPORT: &str = "[report]";
/// The longest value, in characters: one line of the printed heading.
pub(super) const MAX_REPORT_TEXT: usize = 120;
/// The most "Nơi nhận:" lines.
pub(super) const MAX_RECIPIENTS: usize = 20;

impl Loader<'_> {
    /// `[report]` with its defaults; a bad value is reported and left out.
    pub(super) fn report(&mut self, r: RawReport) -> ReportSigning {
        let d = ReportSigning::default();
        let recipients = r.recipients.and_then(|list| {
            if list.get_ref().len() > MAX_RECIPIENTS {
                self.at(list.span()).item(REPORT).key("recipients").error(
                    format!(
                        "{} recipients, more than {MAX_RECIPIENTS}",
                        list.get_ref().len()
                    ),
                    "list who receives the printed report, one line each, at most 20",
                );
                return None;
            }
            let lines: Vec<String> = list
                .into_inner()
                .into_iter()
                .filter_map(|l| self.report_text("recipients", Some(l)))
                .collect();
            Some(lines)
        });
        ReportSigning {
            authority: self.report_text("authority", r.authority),
            number_prefix: self.report_text("number_prefix", r.number_prefix),
            place: self.report_text("place", r.place),
            recipients,
            preparer_title: self.report_or("preparer_title", r.preparer_title, d.preparer_title),
            preparer_name: self.report_or("preparer_name", r.preparer_name, d.preparer_name),
            head_title: self.report_or("head_title", r.head_title, d.head_title),
            head_name: self.report_or("head_name", r.head_name, d.head_name),
        }
    }

    /// [`Self::report_text`], or `default`.
    fn report_or(&mut self, key: &str, v: Option<S<String>>, default: String) -> String {
        self.report_text(key, v).unwrap_or(default)
    }

    /// One line of `[report]`, trimmed; `None` when left out, empty or bad
    /// (too long, or with a control character such as a line break).
    fn report_text(&mut self, key: &str, v: Option<S<String>>) -> Option<String> {
        let v = v?;
        let text = v.get_ref().trim();
        let chars = text.chars().count();
        if chars > MAX_REPORT_TEXT {
            self.at(v.span()).item(REPORT).key(key).error(
                format!("the value is {chars} characters long, more than {MAX_REPORT_TEXT}"),
                "shorten it: it is one line of the printed report",
            );
            return None;
        }
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            self.at(v.span()).item(REPORT).key(key).error(
                format!("the value holds the control character {c:?}"),
                "write one line of plain text (for several recipients, a list: \
                 recipients = [\"- Như trên;\", \"- Lưu: VT.\"])",
            );
            return None;
        }
        (!text.is_empty()).then(|| text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_support::*;
    use crate::config::ReportSigning;

    const BASE: &str = "[station]\nname = \"Đài truyền thanh xã Thạch Hà\"\n\n";

    #[test]
    fn new_keys_are_read_and_default_to_blanks() {
        let l = load_text(BASE);
        assert_eq!(l.station.unwrap().report, ReportSigning::default());
        let l = load_text(&format!(
            "{BASE}[report]\nauthority = \" Ủy ban nhân dân xã Thạch Hà \"\nnumber_prefix = \"BC-ĐTT\"\n\
             place = \"Thạch Hà\"\nrecipients = [\"- UBND xã (b/c);\", \"- Lưu: VT.\"]\n"
        ));
        assert!(!l.diagnostics.has_errors(), "{}", l.diagnostics);
        let r = l.station.unwrap().report;
        assert_eq!(r.authority.as_deref(), Some("Ủy ban nhân dân xã Thạch Hà"));
        assert_eq!(r.number_prefix.as_deref(), Some("BC-ĐTT"));
        assert_eq!(r.place.as_deref(), Some("Thạch Hà"));
        assert_eq!(
            r.recipients.unwrap(),
            ["- UBND xã (b/c);".to_string(), "- Lưu: VT.".to_string()]
        );
        assert_eq!(r.head_title, "Thủ trưởng đơn vị");
        // Empty is the same as left out: dotted blanks on paper.
        let l = load_text(&format!("{BASE}[report]\nauthority = \"  \"\n"));
        assert!(!l.diagnostics.has_errors(), "{}", l.diagnostics);
        assert_eq!(l.station.unwrap().report.authority, None);
    }

    #[test]
    fn bad_values_are_errors_that_say_where_and_what_to_do() {
        let long = "x".repeat(121);
        for (line, key, says) in [
            (
                format!("authority = \"{long}\""),
                "authority",
                "121 characters",
            ),
            (
                "place = \"Thạch\\nHà\"".to_string(),
                "place",
                "control character",
            ),
            (
                "number_prefix = \"BC\\u0007\"".to_string(),
                "number_prefix",
                "control character",
            ),
            (
                format!("head_name = \"{long}\""),
                "head_name",
                "more than 120",
            ),
            (
                "recipients = [\"- Lưu: \\tVT.\"]".to_string(),
                "recipients",
                "control character",
            ),
            (
                format!("recipients = [{}]", vec!["\"- x;\""; 21].join(", ")),
                "recipients",
                "21 recipients",
            ),
        ] {
            let l = load_text(&format!("{BASE}[report]\n{line}\n"));
            let d = find(&l, "[report]", key);
            assert!(d.message.contains(says), "{line}: {d:?}");
            assert!(d.hint.as_deref().is_some_and(|h| !h.is_empty()), "{d:?}");
            assert!(l.diagnostics.has_errors(), "{line}");
        }
        // 120 characters are fine, Vietnamese letters counted as one each.
        let ok = "Ủ".repeat(120);
        let l = load_text(&format!("{BASE}[report]\nauthority = \"{ok}\"\n"));
        assert!(!l.diagnostics.has_errors(), "{}", l.diagnostics);
        // A recipient that is not text is the TOML reader's error.
        let l = load_text(&format!("{BASE}[report]\nrecipients = \"- Lưu: VT.\"\n"));
        assert!(l.diagnostics.has_errors());
    }
}
