//! The frame of a printed report: the page laid out as a Vietnamese
//! administrative document (Nghị định 30/2020/NĐ-CP, Phụ lục I). Top left
//! the issuing body (`[report] authority`, then the station in bold over a
//! short rule) and its number (`Số: …/[report] number_prefix`); top right the
//! national heading over a short rule, then the place and date line; the
//! title; and at the end "Nơi nhận:" and the signature blocks, which the
//! print stylesheet keeps on the page that ends the table before them.
//! The page numbers ("Trang i/n") are the stylesheet's `@page` margin boxes,
//! so the operator's own browser prints them.
//!
//! What `[report]` leaves out prints as dotted blanks to fill by hand. The
//! date is always dotted blanks: a document's date is the day it is signed
//! and numbered (the clerk fills both together), not the day it was printed
//! (which the line "Lập lúc …" under the title keeps).
//!
//! The national heading and motto stay Vietnamese in the English view: they
//! are the form of the document.

use maud::{html, Markup};

use crate::config::{ReportSigning, Station};
use crate::web::i18n::{t, Lang};

/// What a clerk fills by hand.
const BLANK: &str = "……………";
/// A longer blank, for a missing name of the body above the station.
const LONG_BLANK: &str = "………………………………";
/// A day, a month or a year on the date line.
const DATE_BLANK: &str = "……";

/// The heading: issuing body and number, national heading and date line,
/// then the title and the lines under it (`sub`: the period, etc.).
pub(super) fn head(lang: Lang, station: &Station, title: &str, sub: Markup) -> Markup {
    let r = &station.report;
    let number = html! {
        (t(lang, "Số: ", "No.: ")) (BLANK)
        @if let Some(p) = &r.number_prefix { "/" (p) }
    };
    let place = r.place.as_deref().unwrap_or(BLANK);
    html! {
        header class="paper-head" {
            div class="issuer" {
                p class="authority" { (r.authority.as_deref().map_or(LONG_BLANK.to_string(), str::to_uppercase)) }
                p class="body" { (station.name.to_uppercase()) }
            }
            div class="nation" {
                p class="state" { "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" }
                p class="motto" { span { "Độc lập - Tự do - Hạnh phúc" } }
            }
            p class="number" { (number) }
            p class="date-line" {
                (place) ", "
                @match lang {
                    Lang::En => { "date " (DATE_BLANK) "/" (DATE_BLANK) "/" (DATE_BLANK) }
                    _ => { "ngày " (DATE_BLANK) " tháng " (DATE_BLANK) " năm " (DATE_BLANK) }
                }
            }
        }
        div class="paper-title" {
            h2 class="doc-title" { (title) }
            (sub)
        }
    }
}

/// The end: "Nơi nhận:" and the two signature blocks, in one block that is
/// never split from the end of what comes before it (see the print CSS).
pub(super) fn foot(lang: Lang, station: &Station) -> Markup {
    let r = &station.report;
    let d = ReportSigning::default();
    // The defaults are Vietnamese words loa chose; a station's own are kept.
    let own = |v: &str, default: &str, en: &'static str| -> String {
        if v == default && lang == Lang::En {
            en.to_string()
        } else {
            v.to_string()
        }
    };
    let recipients: Vec<String> = match &r.recipients {
        Some(list) => list.clone(),
        None => vec![
            format!("- {BLANK};"),
            t(lang, "- Lưu: VT.", "- File: Records.").to_string(),
        ],
    };
    html! {
        footer class="paper-end" {
            div class="recipients" {
                // `recipients = []`: none, and no heading for them.
                @if !recipients.is_empty() {
                    p class="to" { (t(lang, "Nơi nhận:", "Recipients:")) }
                    @for line in &recipients { p { (line) } }
                }
            }
            (sign(
                &own(&r.preparer_title, &d.preparer_title, "Prepared by"),
                t(lang, "(Ký, ghi rõ họ tên)", "(Signature and full name)"),
                &r.preparer_name,
            ))
            (sign(
                &own(&r.head_title, &d.head_title, "Head of the unit"),
                t(lang, "(Ký, ghi rõ họ tên, đóng dấu)", "(Signature, full name and seal)"),
                &r.head_name,
            ))
        }
    }
}

fn sign(title: &str, hint: &str, name: &str) -> Markup {
    html! {
        div class="sign" {
            p class="sign-title" { (title.to_uppercase()) }
            p class="sign-hint" { (hint) }
            p class="sign-name" { (name) }
        }
    }
}

/// The heading of what follows the signatures: an annex, on its own pages.
pub(super) fn annex(lang: Lang, of: &str) -> Markup {
    html! {
        div class="annex-head" {
            h2 { (t(lang, "PHỤ LỤC", "ANNEX")) }
            p { (t(lang, "Kèm theo ", "Attached to the ")) (of) }
        }
    }
}
