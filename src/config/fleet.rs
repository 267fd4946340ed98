//! `[fleet]`: how the station is known to its province, and where its
//! closed airtime rows are copied (`crate::fleet` does the copying).

use super::load::Loader;
use super::raw::{RawFleet, S};
use super::Fleet;

const FLEET: &str = "[fleet]";
/// Longest `station_id` accepted: it is a key in the province's database.
const MAX_ID_LEN: usize = 64;

impl Loader<'_> {
    pub(super) fn fleet(&mut self, f: RawFleet, station_name: &str) -> Option<Fleet> {
        // Both checked before giving up, so one error does not hide the other.
        let station_id = match &f.station_id {
            None => Some(slug(station_name)),
            Some(id) => self.station_id(id),
        };
        let postgres = match f.postgres {
            None => Some(None),
            Some(url) => {
                let text = url.get_ref().trim().to_string();
                // The string holds a password: never repeat it in a message.
                if let Err(e) = text.parse::<tokio_postgres::Config>() {
                    // tokio-postgres' parse errors name the option, not its value.
                    self.at(url.span()).item(FLEET).key("postgres").error(
                        format!("not a PostgreSQL connection string ({e})"),
                        "write e.g. \"host=db.tinh.gov.vn user=loa password=... dbname=loa sslmode=require\" \
                         or \"postgresql://loa:...@db.tinh.gov.vn/loa?sslmode=require\"",
                    );
                    None
                } else {
                    Some(Some(text))
                }
            }
        };
        let district = f.district.as_ref().map(|d| self.district(d));
        Some(Fleet {
            station_id: station_id?,
            district: district.map_or(Some(None), |d| d.map(Some))?,
            postgres: postgres?,
        })
    }

    fn station_id(&mut self, id: &S<String>) -> Option<String> {
        let v = id.get_ref().trim();
        let ok = !v.is_empty()
            && v.len() <= MAX_ID_LEN
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            self.at(id.span()).item(FLEET).key("station_id").error(
                format!("`{v}` is not a usable station id"),
                "write 1 to 64 letters, digits, `-`, `_` or `.`, stable for the station's life, \
                 e.g. the commune code \"31234\"",
            );
            return None;
        }
        Some(v.to_string())
    }
}

/// The station id when `[fleet] station_id` is not written: the station
/// name as a lowercase ASCII slug, tone marks dropped
/// (`Đài truyền thanh xã Thạch Hà` → `dai-truyen-thanh-xa-thach-ha`).
pub fn slug(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::new();
    for c in name.nfd() {
        let c = match c {
            'đ' | 'Đ' => 'd',
            c => c.to_ascii_lowercase(),
        };
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if unicode_normalization::char::is_combining_mark(c) {
            continue;
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out.truncate(MAX_ID_LEN);
    if out.is_empty() {
        "station".to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{find, load_text};

    #[test]
    fn slug_of_vietnamese_names() {
        assert_eq!(
            slug("Đài truyền thanh xã Thạch Hà"),
            "dai-truyen-thanh-xa-thach-ha"
        );
        assert_eq!(slug("  Phường 7, Quận 3 "), "phuong-7-quan-3");
        assert_eq!(slug("ỨNG HÒA"), "ung-hoa");
        assert_eq!(slug("…"), "station");
    }

    fn load(extra: &str) -> crate::config::Loaded {
        load_text(&format!(
            "[station]\nname = \"Đài xã Thạch Hà\"\n[output]\nkind = \"null\"\n{extra}"
        ))
    }

    #[test]
    fn fleet_defaults_and_values() {
        let s = load("").station.unwrap();
        assert_eq!(s.fleet.station_id, "dai-xa-thach-ha");
        assert_eq!(s.fleet.postgres, None);
        let s = load(
            "[fleet]\nstation_id = \"31234\"\npostgres = \"host=db user=loa sslmode=require\"\n",
        )
        .station
        .unwrap();
        assert_eq!(s.fleet.station_id, "31234");
        assert_eq!(
            s.fleet.postgres.as_deref(),
            Some("host=db user=loa sslmode=require")
        );
    }

    #[test]
    fn bad_fleet_values_are_clear_errors_without_the_password() {
        let l = load(
            "[fleet]\nstation_id = \"xã 1\"\npostgres = \"host=db password=bí-mật sslmode=nonsense\"\n",
        );
        let id = find(&l, FLEET, "station_id");
        assert!(id.hint.as_deref().unwrap().contains("commune code"), "{id}");
        let pg = find(&l, FLEET, "postgres");
        assert!(
            pg.message.contains("not a PostgreSQL connection string"),
            "{pg}"
        );
        assert!(!pg.message.contains("bí-mật"), "{pg}");
    }
}
