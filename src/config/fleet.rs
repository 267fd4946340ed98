//! `[fleet]`: how a province's fleet (its Prometheus, its PostgreSQL)
//! knows this station.
//!
//! `station_id` is the station's stable id across the province, e.g. the
//! commune code (`"xa-thach-ha"`, `"28384"`): the `station` label of
//! `loa_station_info` and what every central row carries. It must not change
//! when the station is renamed, so a province should write it. When the file
//! does not say, it is derived from `[station] name`: lower-case ASCII,
//! Vietnamese letters without their marks, every other run of characters a
//! `-` (`"Đài truyền thanh xã Thạch Hà"` → `"dai-truyen-thanh-xa-thach-ha"`).

use super::load::Loader;
use super::raw::RawFleet;
use super::Fleet;

const FLEET: &str = "[fleet]";
/// The longest `station_id` accepted: a label value and a database key.
const MAX_ID: usize = 64;

impl Loader<'_> {
    /// The `[fleet]` section (all of it optional), given the station's name.
    pub(super) fn fleet(&mut self, f: RawFleet, name: &str) -> Option<Fleet> {
        let Some(id) = f.station_id else {
            return Some(Fleet {
                station_id: slug(name),
            });
        };
        let v = id.get_ref().trim();
        if v.is_empty() || v.len() > MAX_ID || !v.chars().all(id_char) {
            self.at(id.span()).item(FLEET).key("station_id").error(
                format!("`{}` is not a usable station id", id.get_ref()),
                format!(
                    "write 1 to {MAX_ID} of a-z, A-Z, 0-9, `-`, `_`, `.`, e.g. the commune \
                     code: station_id = \"xa-thach-ha\""
                ),
            );
            return None;
        }
        Some(Fleet {
            station_id: v.to_string(),
        })
    }
}

fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Vietnamese vowels with their marks, by the ASCII letter they fold to.
/// A table rather than Unicode decomposition: it is the whole alphabet,
/// and `đ` (which decomposes to nothing) is in it.
const FOLD: [(char, &str); 7] = [
    ('a', "àáảãạăằắẳẵặâầấẩẫậ"),
    ('e', "èéẻẽẹêềếểễệ"),
    ('i', "ìíỉĩị"),
    ('o', "òóỏõọôồốổỗộơờớởỡợ"),
    ('u', "ùúủũụưừứửữự"),
    ('y', "ỳýỷỹỵ"),
    ('d', "đ"),
];

/// The default `station_id` of a station called `name` (see the module).
fn slug(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_alphanumeric() {
            Some(c)
        } else {
            FOLD.iter().find(|(_, s)| s.contains(c)).map(|(a, _)| *a)
        };
        match c {
            Some(c) => {
                if dash && !out.is_empty() {
                    out.push('-');
                }
                dash = false;
                out.push(c);
            }
            None => dash = true,
        }
    }
    out.truncate(MAX_ID);
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "station".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::*;

    #[test]
    fn slug_folds_vietnamese_names() {
        assert_eq!(
            slug("Đài truyền thanh xã Thạch Hà"),
            "dai-truyen-thanh-xa-thach-ha"
        );
        assert_eq!(
            slug("  Phường Ngọc Thụy (Long Biên) "),
            "phuong-ngoc-thuy-long-bien"
        );
        assert_eq!(slug("Xã Ữ Ỵ Ở 2"), "xa-u-y-o-2");
        assert_eq!(slug("!!!"), "station");
        assert!(slug(&"Đ".repeat(100)).len() <= MAX_ID);
    }

    const BASE: &str = "[station]\nname = \"Đài truyền thanh xã Thạch Hà\"\n";

    #[test]
    fn station_id_is_written_or_derived() {
        let l = load_text(BASE);
        assert_eq!(
            l.station.unwrap().fleet.station_id,
            "dai-truyen-thanh-xa-thach-ha"
        );
        let l = load_text(&format!("{BASE}[fleet]\nstation_id = \"28384\"\n"));
        assert_eq!(l.station.unwrap().fleet.station_id, "28384");
    }

    #[test]
    fn bad_station_ids_are_errors() {
        for bad in ["", "xã thạch hà", "a/b", &"x".repeat(65)] {
            let l = load_text(&format!("{BASE}[fleet]\nstation_id = \"{bad}\"\n"));
            assert!(l.station.is_none(), "{bad:?} accepted");
            let d = find(&l, "[fleet]", "station_id");
            assert!(d.message.contains("station id"), "{}", d.message);
        }
        let l = load_text(&format!("{BASE}[fleet]\nstation = \"x\"\n"));
        assert!(l.station.is_none(), "unknown keys are errors");
    }
}
