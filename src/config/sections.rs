//! The station-wide sections: `[station]`, `[output]`, `[quiet]` and
//! `[api]`, read and checked.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;

use chrono_tz::Tz;

use toml::de::DeValue;
use toml::Spanned;

use super::load::Loader;
use super::raw::{RawApi, RawOutput, RawQuiet, RawStation, RawToken, S};
use super::*;

const OUTPUT: &str = "[output]";
/// The largest `[api] max_queue` accepted.
const MAX_MAX_QUEUE: i64 = 10_000;
const API: &str = "[api]";

impl Loader<'_> {
    /// The `[station]` section, which every station file needs.
    pub(super) fn station_table(&mut self, v: Option<Spanned<DeValue>>) -> Option<RawStation> {
        match v {
            Some(v) => self.table(v, "[station]"),
            None => {
                self.whole_file().error(
                    "the [station] section is missing",
                    "start the file with [station] and name = \"Đài truyền thanh ...\"",
                );
                None
            }
        }
    }

    pub(super) fn station_name(&mut self, st: &RawStation) -> String {
        let name = st.name.get_ref().trim().to_string();
        if name.is_empty() {
            self.at(st.name.span()).item("[station]").key("name").error(
                "the station name is empty",
                "write the name listeners know, e.g. \"Đài truyền thanh xã Thạch Hà\"",
            );
        }
        name
    }

    pub(super) fn timezone(&mut self, st: &RawStation) -> Tz {
        match &st.timezone {
            None => DEFAULT_TIMEZONE,
            Some(tz) => match tz.get_ref().parse::<Tz>() {
                Ok(t) => t,
                Err(_) => {
                    self.at(tz.span()).item("[station]").key("timezone").error(
                        format!("`{}` is not an IANA timezone name", tz.get_ref()),
                        "use e.g. \"Asia/Ho_Chi_Minh\" (the default)",
                    );
                    DEFAULT_TIMEZONE
                }
            },
        }
    }

    pub(super) fn data_dir(&self, st: &RawStation) -> PathBuf {
        match &st.data_dir {
            Some(d) => self.base.join(d.get_ref()),
            None => PathBuf::from(DEFAULT_DATA_DIR),
        }
    }

    /// `audio_dir` and whether it can be used. One that cannot (missing, not
    /// a folder) is an audio problem: the station still runs, its items
    /// fail when due.
    pub(super) fn audio_dir(&mut self, st: &RawStation) -> (PathBuf, bool) {
        let (dir, span) = match &st.audio_dir {
            Some(d) => (self.base.join(d.get_ref()), Some(d.span())),
            None => (self.base.clone(), None),
        };
        if self.files == AudioFiles::AsWritten {
            return (dir, true);
        }
        match dir.canonicalize() {
            Ok(d) if d.is_dir() => (d, true),
            Ok(d) => {
                self.at(span)
                    .item("[station]")
                    .key("audio_dir")
                    .audio()
                    .error(
                        format!("{} is not a directory", d.display()),
                        "point audio_dir at the folder that holds the bulletin files",
                    );
                (dir, false)
            }
            Err(e) => {
                self.at(span)
                    .item("[station]")
                    .key("audio_dir")
                    .audio()
                    .error(
                        format!("cannot open audio directory {}: {e}", dir.display()),
                        "create it, or fix audio_dir (relative to the station file)",
                    );
                (dir, false)
            }
        }
    }

    pub(super) fn output(&mut self, o: RawOutput) -> Option<Output> {
        let kind = o.kind.as_ref().map_or("device", |k| k.get_ref().as_str());
        let pace = match &o.pace {
            None => Pace::Realtime,
            Some(p) => match p.get_ref().as_str() {
                "realtime" => Pace::Realtime,
                "fast" => Pace::Fast,
                other => {
                    self.at(p.span()).item(OUTPUT).key("pace").error(
                        format!("unknown pace `{other}`"),
                        "write \"realtime\" (the default) or \"fast\" (tests)",
                    );
                    Pace::Realtime
                }
            },
        };
        let kind = match kind {
            "device" => OutputKind::Device {
                device: o
                    .device
                    .as_ref()
                    .map_or_else(|| "default".to_string(), |d| d.get_ref().clone()),
            },
            "wav" => match &o.path {
                Some(p) if !p.get_ref().is_empty() => OutputKind::Wav {
                    path: self.base.join(p.get_ref()),
                    pace,
                },
                _ => {
                    self.at(o.kind.as_ref().map(|k| k.span()))
                        .item(OUTPUT)
                        .key("path")
                        .error(
                            "kind = \"wav\" needs a path",
                            "add path = \"aired.wav\" (relative to the station file)",
                        );
                    return None;
                }
            },
            "null" => OutputKind::Null,
            other => {
                self.at(o.kind.as_ref().map(|k| k.span()))
                    .item(OUTPUT)
                    .key("kind")
                    .error(
                        format!("unknown output kind `{other}`"),
                        "write \"device\" (the sound card), \"wav\" (a recording) or \"null\"",
                    );
                return None;
            }
        };
        let volume = match &o.volume {
            None => 1.0,
            Some(v) if (0.0..=1.0).contains(v.get_ref()) => *v.get_ref() as f32,
            Some(v) => {
                self.at(v.span()).item(OUTPUT).key("volume").error(
                    format!("volume {} is out of range", v.get_ref()),
                    "write a number from 0.0 (silent) to 1.0 (full)",
                );
                return None;
            }
        };
        let loudness_lufs = match &o.loudness_lufs {
            None => Some(super::DEFAULT_LOUDNESS_LUFS),
            Some(v) if (-40.0..=-5.0).contains(v.get_ref()) => Some(*v.get_ref() as f32),
            Some(v) => {
                self.at(v.span()).item(OUTPUT).key("loudness_lufs").error(
                    format!("loudness_lufs {} is out of range", v.get_ref()),
                    "write a level from -40 to -5 LUFS; -16 suits speech on loudspeakers \
                     (or `loudness = false` to air files as recorded)",
                );
                return None;
            }
        };
        let loudness_lufs =
            loudness_lufs.filter(|_| o.loudness.as_ref().is_none_or(|l| *l.get_ref()));
        Some(Output {
            kind,
            volume,
            loudness_lufs,
        })
    }

    pub(super) fn quiet(&mut self, q: RawQuiet) -> QuietHours {
        let mut ranges = Vec::new();
        for h in &q.hours {
            let parsed = h.get_ref().split_once('-').and_then(|(a, b)| {
                Some((parse_time_of_day(a.trim())?, parse_time_of_day(b.trim())?))
            });
            match parsed {
                Some((start, end)) if start != end => ranges.push(QuietRange { start, end }),
                Some(_) => self.at(h.span()).item("[quiet]").key("hours").error(
                    format!("`{}` starts and ends at the same time", h.get_ref()),
                    "write a range like \"21:00-05:00\"",
                ),
                None => self.at(h.span()).item("[quiet]").key("hours").error(
                    format!("`{}` is not a time range", h.get_ref()),
                    "write \"HH:MM-HH:MM\", e.g. \"21:00-05:00\" (may wrap midnight)",
                ),
            }
        }
        QuietHours { ranges }
    }

    pub(super) fn api(&mut self, a: RawApi) -> Option<Api> {
        let listen = self.listen(&a.listen);
        let max_upload_mb = self.checked(
            &a.max_upload_mb,
            (API, "max_upload_mb"),
            50,
            |&n| (1..=4096).contains(&n).then_some(n as u64),
            (
                "{} is out of range",
                "write a size in megabytes from 1 to 4096 (default 50)",
            ),
        );
        let default_queue = crate::config::DEFAULT_MAX_QUEUE;
        let max_queue = self.checked(
            &a.max_queue,
            (API, "max_queue"),
            default_queue,
            |&n| (1..=MAX_MAX_QUEUE).contains(&n).then_some(n as usize),
            (
                "{} is out of range",
                format!(
                    "write how many items operators may queue, from 1 to {MAX_MAX_QUEUE} \
                     (default {default_queue})"
                ),
            ),
        );
        let tokens = self.tokens(&a.token);
        let web = self.web_settings(&a);
        Some(Api {
            listen: listen?,
            max_upload_mb: max_upload_mb?,
            max_queue: max_queue?,
            tokens: tokens?,
            web: web?,
        })
    }

    /// `tls_cert` and `tls_key` (both or neither; files relative to the
    /// station file, read when `loa run` starts), `behind_https_proxy`,
    /// `session_idle`.
    fn web_settings(&mut self, a: &RawApi) -> Option<WebSettings> {
        let mut ok = true;
        let tls = match (&a.tls_cert, &a.tls_key) {
            (None, None) => None,
            (Some(c), Some(k)) => Some(TlsFiles {
                cert: self.base.join(c.get_ref()),
                key: self.base.join(k.get_ref()),
            }),
            (Some(one), None) | (None, Some(one)) => {
                let (has, lacks) = if a.tls_cert.is_some() {
                    ("tls_cert", "tls_key")
                } else {
                    ("tls_key", "tls_cert")
                };
                self.at(one.span()).item(API).key(has).error(
                    format!("{has} is set but {lacks} is not"),
                    "give both tls_cert (the certificate chain, PEM) and tls_key (its private \
                     key, PEM), or neither to serve plain HTTP",
                );
                ok = false;
                None
            }
        };
        let idle = self.checked(
            &a.session_idle,
            (API, "session_idle"),
            DEFAULT_SESSION_IDLE.as_secs() as u32,
            |d| parse_duration(d).filter(|&s| s >= 60),
            (
                "`{}` is not a duration of a minute or more",
                "write e.g. \"12h\" (the default), \"30m\" or \"1h30m\"",
            ),
        );
        ok &= idle.is_some();
        let session_idle = idle.map_or(DEFAULT_SESSION_IDLE, |s| {
            std::time::Duration::from_secs(s.into())
        });
        ok.then_some(WebSettings {
            tls,
            behind_https_proxy: a.behind_https_proxy.as_ref().is_some_and(|b| *b.get_ref()),
            session_idle,
        })
    }

    fn listen(&mut self, l: &Option<S<String>>) -> Option<SocketAddr> {
        let Some(l) = l else {
            return Some(SocketAddr::from(([127, 0, 0, 1], 8077)));
        };
        let addr = l.get_ref().parse().ok();
        if addr.is_none() {
            self.at(l.span()).item(API).key("listen").error(
                format!("`{}` is not an address:port", l.get_ref()),
                "write e.g. \"127.0.0.1:8077\" (the default) or \"0.0.0.0:8077\" for the LAN",
            );
        }
        addr
    }

    /// The value at `key` of `item` as `read` takes it (`None`: not one to
    /// accept), `default` when not written; `None` after an error whose
    /// message is `message` with the value as written for `{}`, and `hint`.
    pub(super) fn checked<T: std::fmt::Display, N>(
        &mut self,
        v: &Option<S<T>>,
        (item, key): (&str, &str),
        default: N,
        read: impl FnOnce(&T) -> Option<N>,
        (message, hint): (&str, impl Into<String>),
    ) -> Option<N> {
        let Some(v) = v else {
            return Some(default);
        };
        let n = read(v.get_ref());
        if n.is_none() {
            let message = message.replace("{}", &v.get_ref().to_string());
            self.at(v.span()).item(item).key(key).error(message, hint);
        }
        n
    }

    /// The `[[api.token]]` entries, or `None` if any is wrong.
    fn tokens(&mut self, raw: &[S<RawToken>]) -> Option<Vec<ApiToken>> {
        let mut ok = true;
        let mut tokens = Vec::new();
        let mut names = HashSet::new();
        for t in raw {
            let t = t.get_ref();
            let label = format!("api.token \"{}\"", t.name.get_ref());
            if !names.insert(t.name.get_ref().clone()) || t.name.get_ref().is_empty() {
                self.at(t.name.span()).item(&label).key("name").error(
                    "token names must be non-empty and unique",
                    "the name appears in the audit log; give each token its own",
                );
                ok = false;
            }
            let role = match Role::parse(t.role.get_ref()) {
                Some(Role::Province) => {
                    self.at(t.role.span()).item(&label).key("role").error(
                        "the province role is for console users, not API tokens",
                        "give the token \"viewer\", \"operator\" or \"admin\"; province staff sign in \
                         to the console (`loa user add NAME --role province`)",
                    );
                    ok = false;
                    Role::Viewer
                }
                Some(r) => r,
                None => {
                    self.at(t.role.span()).item(&label).key("role").error(
                        format!("unknown role `{}`", t.role.get_ref()),
                        "write \"metrics\", \"viewer\", \"operator\" or \"admin\"",
                    );
                    ok = false;
                    Role::Viewer
                }
            };
            match parse_sha256(t.sha256.get_ref()) {
                Some(sha256) => tokens.push(ApiToken {
                    name: t.name.get_ref().clone(),
                    role,
                    sha256,
                }),
                None => {
                    self.at(t.sha256.span()).item(&label).key("sha256").error(
                        "not a SHA-256 hash (64 hexadecimal characters)",
                        "make a token with `loa token new NAME ROLE` and paste the lines it prints",
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(tokens)
    }
}

pub(super) use crate::hex::decode32 as parse_sha256;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::*;

    #[test]
    fn output_and_api() {
        let l = load_items(
            r#"
[output]
kind = "wav"
volume = 1.5
[api]
listen = "localhost"
max_queue = 0
[[api.token]]
name = "ops"
role = "boss"
sha256 = "abc"
"#,
        );
        says(&l, "[output]", "path", "needs a path");
        says(&l, "[api]", "listen", "address");
        let max_queue = find(&l, "[api]", "max_queue");
        assert!(max_queue.message.contains("out of range"), "{max_queue:?}");
        assert!(max_queue.hint.as_deref().unwrap().contains("default 200"));
        says(&l, "api.token \"ops\"", "role", "boss");
        assert!(find(&l, "api.token \"ops\"", "sha256")
            .hint
            .as_deref()
            .unwrap()
            .contains("loa token new"));
        let good = &with_station(
            r#"
[output]
kind = "wav"
path = "out/aired.wav"
pace = "fast"
[[api.token]]
name = "ops"
role = "operator"
sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
"#,
        );
        let s = load_text(good).station.unwrap();
        assert_eq!(
            s.output.kind,
            OutputKind::Wav {
                path: "/tmp/out/aired.wav".into(),
                pace: Pace::Fast
            }
        );
        assert_eq!(s.api.tokens[0].role, Role::Operator);
        assert_eq!(s.api.tokens[0].sha256[0], 0x9f);
        assert_eq!(s.api.max_queue, crate::config::DEFAULT_MAX_QUEUE);
        let bounded =
            load_text(&good.replace("[[api.token]]", "[api]\nmax_queue = 5\n[[api.token]]"));
        assert_eq!(bounded.station.unwrap().api.max_queue, 5);
        let province = load_text(&good.replace("\"operator\"", "\"province\""));
        let e = find(&province, "api.token \"ops\"", "role");
        assert!(e.message.contains("console users"), "{e:?}");
    }

    #[test]
    fn loudness_target_defaults_can_be_set_or_turned_off() {
        let with = |keys: &str| load_text(&format!("[station]\nname = \"X\"\n[output]\n{keys}\n"));
        let target = |keys: &str| with(keys).station.unwrap().output.loudness_lufs;
        assert_eq!(target(""), Some(crate::config::DEFAULT_LOUDNESS_LUFS));
        assert_eq!(target("loudness_lufs = -23"), Some(-23.0));
        assert_eq!(target("loudness = false\nloudness_lufs = -23"), None);
        assert_eq!(target("loudness = true"), Some(-16.0));
        let l = with("loudness_lufs = 3");
        let e = find(&l, "[output]", "loudness_lufs");
        assert!(e.message.contains("out of range"), "{e:?}");
        assert!(e.hint.as_deref().unwrap().contains("loudness = false"));
    }

    #[test]
    fn web_settings() {
        let base = "[station]\nname = \"X\"\n[api]\n";
        let s = load_text(base).station.unwrap();
        assert_eq!(s.api.web, WebSettings::default());
        assert_eq!(s.api.web.session_idle.as_secs(), 12 * 3600);
        let s = load_text(&format!(
            "{base}tls_cert = \"tls/cert.pem\"\ntls_key = \"tls/key.pem\"\n\
             behind_https_proxy = true\nsession_idle = \"30m\"\n"
        ))
        .station
        .unwrap();
        let tls = s.api.web.tls.unwrap();
        assert_eq!(
            tls.cert,
            PathBuf::from("/tmp/tls/cert.pem"),
            "beside the station file"
        );
        assert_eq!(tls.key, PathBuf::from("/tmp/tls/key.pem"));
        assert!(s.api.web.behind_https_proxy);
        assert_eq!(s.api.web.session_idle.as_secs(), 1800);

        let l = load_text(&format!(
            "{base}tls_cert = \"c.pem\"\nsession_idle = \"5s\"\n"
        ));
        assert!(l.station.is_none());
        let e = find(&l, "[api]", "tls_cert");
        assert!(e.message.contains("tls_key is not"), "{e:?}");
        let e = find(&l, "[api]", "session_idle");
        assert!(e.message.contains("a minute or more"), "{e:?}");
    }
}
