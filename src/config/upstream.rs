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

/// How to reach the province's broker: where it is and this side's login
/// (a station's `[upstream]`, the central host's `[publish]`, `loa
/// publish`'s flags).
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    pub broker: Broker,
    pub username: Option<String>,
    /// Read when connecting, never kept in the station file.
    pub password_file: Option<PathBuf>,
    /// A private CA's certificate (PEM) for `mqtts://`; else the system's.
    pub ca_file: Option<PathBuf>,
}

/// `[upstream]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    pub login: Login,
    /// Ed25519 public keys of the publishers this station obeys.
    pub keys: Vec<[u8; 32]>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPublish {
    broker: S<String>,
    username: Option<S<String>>,
    password_file: Option<S<String>>,
    key: S<String>,
    ca_file: Option<S<String>>,
    publisher: Option<S<String>>,
}

/// `[publish]`, checked: this host (the province's central host) sends
/// bulletins from the console's *Gửi bản tin* page.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    pub login: Login,
    /// The publisher's private key (`loa publish keygen`, mode 0600).
    pub key: PathBuf,
    /// The name stations' ledgers record as who asked; default the
    /// station's name.
    pub publisher: Option<String>,
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
    /// The broker and login a section gives (`None`: the broker is not
    /// usable, said).
    fn login(
        &mut self,
        section: &'static str,
        broker: &S<String>,
        username: Option<S<String>>,
        (password_file, ca_file): (Option<S<String>>, Option<S<String>>),
    ) -> Option<Login> {
        let parsed = match Broker::parse(broker.get_ref().trim()) {
            Ok(b) => b,
            Err(e) => {
                self.at(broker.span()).item(section).key("broker").error(
                    e,
                    "write e.g. \"mqtts://mqtt.tinh.gov.vn\" (TLS, port 8883) or \"mqtt://10.0.0.5:1883\"",
                );
                return None;
            }
        };
        let path = |p: S<String>| self.base.join(p.get_ref().trim());
        Some(Login {
            broker: parsed,
            username: username.map(|n| n.get_ref().trim().to_string()),
            password_file: password_file.map(path),
            ca_file: ca_file.map(path),
        })
    }

    pub(super) fn upstream(&mut self, u: RawUpstream) -> Option<Upstream> {
        let login = self.login(
            UPSTREAM,
            &u.broker,
            u.username,
            (u.password_file, u.ca_file),
        );
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
        Some(Upstream {
            login: login?,
            keys: keys_ok.then_some(keys)?,
        })
    }

    pub(super) fn publish(&mut self, p: RawPublish) -> Option<Publish> {
        const PUBLISH: &str = "[publish]";
        let key = self.base.join(p.key.get_ref().trim());
        // Files are looked at only when the station's files are (`loa run`,
        // `loa check`): a report never needs the key.
        let look = self.files == super::load::AudioFiles::Resolve;
        let key_ok = match crate::signing::read(&key) {
            _ if !look => true,
            Ok(_) => true,
            Err(e) => {
                let e = format!("{e:#}");
                let help = if e.contains("chmod 600") {
                    "only the user loa runs as may read the key: it signs for the whole province"
                } else {
                    "make one with `loa publish keygen --out FILE` (mode 0600, readable by loa only)"
                };
                self.at(p.key.span())
                    .item(PUBLISH)
                    .key("key")
                    .error(e, help);
                false
            }
        };
        let mut files_ok = true;
        for (name, f) in [("password_file", &p.password_file), ("ca_file", &p.ca_file)] {
            if let Some(f) = f.as_ref().filter(|_| look) {
                if !self.base.join(f.get_ref().trim()).is_file() {
                    self.at(f.span()).item(PUBLISH).key(name).error(
                        format!("`{}` is not a readable file", f.get_ref().trim()),
                        "give the path of the file (relative to the station file)",
                    );
                    files_ok = false;
                }
            }
        }
        let publisher = p.publisher.as_ref().map(|n| n.get_ref().trim().to_string());
        if publisher
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.chars().count() > 100)
        {
            let span = p.publisher.as_ref().map(|n| n.span());
            self.at(span).item(PUBLISH).key("publisher").error(
                "the publisher's name must be 1 to 100 characters",
                "write the name stations' ledgers show, e.g. \"Sở TT&TT Hà Tĩnh\"",
            );
            files_ok = false;
        }
        let login = self.login(PUBLISH, &p.broker, p.username, (p.password_file, p.ca_file));
        (key_ok && files_ok).then_some(())?;
        Some(Publish {
            login: login?,
            key,
            publisher,
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
        assert!(u.login.password_file.unwrap().ends_with("pw"));
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

    fn load_resolving(extra: &str) -> crate::config::Loaded {
        let text = format!("[station]\nname = \"Đài xã\"\n[output]\nkind = \"null\"\n{extra}");
        let path = std::env::temp_dir().join("station.toml");
        crate::config::load_str(&text, &path, crate::config::AudioFiles::Resolve).finish()
    }

    #[test]
    fn publish_section_is_checked() {
        let load = load_resolving;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("tinh.key");
        crate::signing::keygen(&key).unwrap();
        let section = |key: &std::path::Path, more: &str| {
            format!(
                "[publish]\nbroker = \"mqtt://127.0.0.1:1884\"\nusername = \"tinh\"\nkey = \"{}\"\n{more}",
                key.display()
            )
        };
        let s = load(&section(&key, "publisher = \"Sở TT&TT\"\n"))
            .station
            .unwrap();
        let p = s.publish.unwrap();
        assert_eq!(
            (p.login.broker.port, p.key.as_path()),
            (1884, key.as_path())
        );
        assert_eq!(p.publisher.as_deref(), Some("Sở TT&TT"));
        assert!(
            load("").station.unwrap().publish.is_none(),
            "nothing required"
        );

        let l = load(&section(&dir.path().join("none.key"), ""));
        assert!(find(&l, "[publish]", "key")
            .message
            .contains("cannot read the key"));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let l = load(&section(&key, ""));
        assert!(find(&l, "[publish]", "key").message.contains("chmod 600"));
        let l = load(&section(
            &key,
            "ca_file = \"/nonexistent/ca.pem\"\nbroker2 = 1\n",
        ));
        assert!(l.station.is_none());
        let l = load(
            "[publish]\nbroker = \"http://x\"\nkey = \"k\"\nca_file = \"/nonexistent/ca.pem\"\n",
        );
        assert!(find(&l, "[publish]", "broker").message.contains("mqtt://"));
        assert!(find(&l, "[publish]", "ca_file")
            .message
            .contains("not a readable file"));
    }
}
