//! `[upstream]`: the province's MQTT broker this station listens to for
//! signed bulletins (`crate::upstream` does the listening), and the keys
//! of the publishers it trusts. Nothing is required of a station without
//! the section.

use std::path::PathBuf;

use serde::Deserialize;

use super::load::Loader;
use super::raw::S;

const UPSTREAM: &str = "[upstream]";
/// Most publisher keys a station trusts: a province has a handful.
const MAX_KEYS: usize = 32;
/// Longest district name: it is one MQTT topic level.
const MAX_DISTRICT_LEN: usize = 64;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpstream {
    broker: S<String>,
    username: Option<S<String>>,
    password_file: Option<S<String>>,
    ca_file: Option<S<String>>,
    #[serde(default)]
    keys: Vec<S<String>>,
}

/// `[upstream]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    pub broker: Broker,
    pub username: Option<String>,
    /// Read when connecting, never kept in the station file.
    pub password_file: Option<PathBuf>,
    /// A private CA's certificate (PEM) for `mqtts://`; else the system's.
    pub ca_file: Option<PathBuf>,
    /// Ed25519 public keys of the publishers this station obeys.
    pub keys: Vec<[u8; 32]>,
}

/// `mqtt://host[:port]` or `mqtts://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl Broker {
    /// A broker URL: `mqtt://HOST[:PORT]` (1883) or `mqtts://HOST[:PORT]` (8883).
    pub fn parse(url: &str) -> Result<Broker, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err(format!("`{url}` is not an mqtt:// or mqtts:// URL"));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
                Ok(p) if p > 0 => (h, p),
                _ => return Err(format!("`{p}` in `{url}` is not a port")),
            },
            _ => (rest, if tls { 8883 } else { 1883 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(['/', '@', '?', '#']) {
            return Err(format!(
                "`{url}` has no usable host (no user, path or query)"
            ));
        }
        Ok(Broker {
            tls,
            host: host.to_string(),
            port,
        })
    }
}

/// A publisher's public key as stations write it: `ed25519:` and 64 hex
/// digits (what `loa publish keygen` prints).
pub fn parse_key(s: &str) -> Option<[u8; 32]> {
    parse_hex32(s.trim().strip_prefix("ed25519:")?)
}

/// 32 bytes written as 64 hex digits.
pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    super::sections::parse_sha256(s)
}

/// A district name as topics carry it: 1 to 64 letters, digits, `-`, `_`.
pub fn usable_district(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= MAX_DISTRICT_LEN
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

impl Loader<'_> {
    pub(super) fn upstream(&mut self, u: RawUpstream) -> Option<Upstream> {
        let broker = match Broker::parse(u.broker.get_ref().trim()) {
            Ok(b) => Some(b),
            Err(e) => {
                self.at(u.broker.span()).item(UPSTREAM).key("broker").error(
                    e,
                    "write e.g. \"mqtts://mqtt.tinh.gov.vn\" (TLS, port 8883) or \"mqtt://10.0.0.5:1883\"",
                );
                None
            }
        };
        let mut keys = Vec::new();
        let mut keys_ok = true;
        if u.keys.is_empty() {
            self.at(u.broker.span()).item(UPSTREAM).key("keys").error(
                "no publisher key: every bulletin would be refused",
                "paste the `ed25519:…` line `loa publish keygen` printed at the province",
            );
            keys_ok = false;
        }
        if u.keys.len() > MAX_KEYS {
            self.at(u.keys[MAX_KEYS].span())
                .item(UPSTREAM)
                .key("keys")
                .error(
                    format!("more than {MAX_KEYS} publisher keys"),
                    "keep the keys of the publishers the province uses now",
                );
            keys_ok = false;
        }
        for k in u.keys.iter().take(MAX_KEYS) {
            match parse_key(k.get_ref()) {
                Some(key) => keys.push(key),
                None => {
                    self.at(k.span()).item(UPSTREAM).key("keys").error(
                        format!("`{}` is not a publisher key", k.get_ref().trim()),
                        "write `ed25519:` and 64 hex digits, as `loa publish keygen` prints it",
                    );
                    keys_ok = false;
                }
            }
        }
        let password_file = u.password_file.map(|p| self.base.join(p.get_ref().trim()));
        let ca_file = u.ca_file.map(|p| self.base.join(p.get_ref().trim()));
        Some(Upstream {
            broker: broker?,
            username: u.username.map(|n| n.get_ref().trim().to_string()),
            password_file,
            ca_file,
            keys: keys_ok.then_some(keys)?,
        })
    }

    pub(super) fn district(&mut self, d: &S<String>) -> Option<String> {
        let v = d.get_ref().trim();
        if !usable_district(v) {
            self.at(d.span()).item("[fleet]").key("district").error(
                format!("`{v}` is not a usable district name"),
                "write 1 to 64 letters, digits, `-` or `_` as the province names it in topics, e.g. \"thach-ha\"",
            );
            return None;
        }
        Some(v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{find, load_text};

    const KEY: &str = "ed25519:0000000000000000000000000000000000000000000000000000000000000001";

    fn load(extra: &str) -> crate::config::Loaded {
        load_text(&format!(
            "[station]\nname = \"Đài xã\"\n[output]\nkind = \"null\"\n{extra}"
        ))
    }

    #[test]
    fn broker_urls() {
        let b = Broker::parse("mqtts://mqtt.tinh.gov.vn").unwrap();
        assert_eq!(
            (b.tls, b.host.as_str(), b.port),
            (true, "mqtt.tinh.gov.vn", 8883)
        );
        let b = Broker::parse("mqtt://127.0.0.1:1884").unwrap();
        assert_eq!((b.tls, b.host.as_str(), b.port), (false, "127.0.0.1", 1884));
        assert!(Broker::parse("http://x").is_err());
        assert!(Broker::parse("mqtt://u:p@x").is_err());
        assert!(Broker::parse("mqtt://x:0").is_err());
    }

    #[test]
    fn upstream_and_district_read() {
        let s = load(&format!(
            "[fleet]\nstation_id = \"s1\"\ndistrict = \"thach-ha\"\n[upstream]\nbroker = \"mqtt://127.0.0.1:1884\"\nusername = \"s1\"\npassword_file = \"pw\"\nkeys = [\"{KEY}\"]\n"
        ))
        .station
        .unwrap();
        assert_eq!(s.fleet.district.as_deref(), Some("thach-ha"));
        let u = s.upstream.unwrap();
        assert_eq!(u.keys.len(), 1);
        assert_eq!(u.keys[0][31], 1);
        assert!(u.password_file.unwrap().ends_with("pw"));
        assert!(load("").station.unwrap().upstream.is_none());
    }

    #[test]
    fn bad_upstream_values_are_clear_errors() {
        let l = load("[upstream]\nbroker = \"http://x\"\nkeys = [\"ed25519:zz\"]\n[fleet]\ndistrict = \"a/b\"\n");
        assert!(find(&l, UPSTREAM, "broker").message.contains("mqtt://"));
        assert!(find(&l, UPSTREAM, "keys")
            .message
            .contains("not a publisher key"));
        assert!(find(&l, "[fleet]", "district").message.contains("district"));
        let l = load("[upstream]\nbroker = \"mqtt://x\"\n");
        assert!(find(&l, UPSTREAM, "keys")
            .message
            .contains("no publisher key"));
    }
}
