//! Checks of the items: campaigns, bulletins and programmes, their ids,
//! their references to each other and the bulletins' files.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use super::deser::closest;
use super::load::{AudioFiles, Loader};
use super::raw::{take_when, RawBulletin, RawCampaign, RawProgram, RawRelay, RawWhen, S};
use super::speech::Content;
use super::*;

/// The checked keys bulletins and programmes share.
struct Common {
    priority: Priority,
    timing: Timing,
    window: Option<Window>,
    grace_seconds: u32,
    enabled: bool,
}

/// Items by id, found in constant time: a station file may hold 100,000
/// bulletins, and a lookup by scanning for each reference made loading
/// grow with the square of that.
struct ById<'a, T> {
    items: &'a [T],
    index: HashMap<&'a str, usize>,
}

impl<'a, T> ById<'a, T> {
    fn new(items: &'a [T], id: fn(&'a T) -> &'a str) -> Self {
        let mut index = HashMap::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            index.entry(id(item)).or_insert(i);
        }
        ById { items, index }
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }
}

/// How many unknown names get a "did you mean" (each compares the name
/// with every known id): past that, a file full of broken references
/// gets a plain hint, and loading stays linear.
const SUGGESTIONS: usize = 64;

impl Loader<'_> {
    /// Whether an unknown name may still get a "did you mean" (see
    /// [`SUGGESTIONS`]).
    fn suggest(&mut self) -> bool {
        self.suggested += 1;
        self.suggested <= SUGGESTIONS
    }

    /// The known id closest to `name`, while suggestions last.
    fn did_you_mean<'k>(
        &mut self,
        name: &str,
        known: impl FnOnce() -> Vec<&'k str>,
    ) -> Option<&'k str> {
        if self.suggest() {
            closest(name, &known())
        } else {
            None
        }
    }

    pub(super) fn campaigns(&mut self, raw: Vec<(String, RawCampaign)>) -> Vec<Campaign> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (label, c) in raw {
            let mut ok = c.id.is_some();
            if let Some(id) = &c.id {
                ok &= self.check_id(id, &label);
                if !seen.insert(id.get_ref().clone()) {
                    self.at(id.span()).item(&label).key("id").error(
                        format!("duplicate campaign id `{}`", id.get_ref()),
                        "give each campaign its own id",
                    );
                    ok = false;
                }
            }
            let window = self.window(&label, &c.from, &c.to);
            let target = match &c.target_minutes {
                Some(t) if !(t.get_ref().is_finite() && *t.get_ref() >= 0.0) => {
                    self.at(t.span()).item(&label).key("target_minutes").error(
                        format!("{} is not a number of minutes", t.get_ref()),
                        "write a positive number, e.g. target_minutes = 300",
                    );
                    ok = false;
                    None
                }
                t => t.as_ref().map(|t| *t.get_ref()),
            };
            if let (true, Ok(window), Some(id), Some(title)) = (ok, window, c.id, c.title) {
                out.push(Campaign {
                    id: id.into_inner(),
                    title: title.into_inner(),
                    window,
                    target_minutes: target,
                });
            }
        }
        out
    }

    /// Ids name items in URLs, logs and the ledger's occurrence keys.
    fn check_id(&mut self, id: &S<String>, label: &str) -> bool {
        self.id_spans
            .entry(label.to_string())
            .or_insert_with(|| id.span());
        let s = id.get_ref();
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            self.at(id.span())
                .item(label)
                .key("id")
                .error(
                    format!("`{s}` is not a valid id"),
                    "use 1–64 plain letters, digits, '-', '_' or '.', without accents, e.g. \"cds-thong-diep\"",
                );
        }
        ok
    }

    /// Ids of bulletins and programmes share one namespace: occurrence keys
    /// in the ledger are built from them.
    fn unique_item_id<'k>(
        &mut self,
        id: &S<String>,
        label: &str,
        kind: &'k str,
        ids: &mut HashMap<String, (&'k str, Range<usize>)>,
    ) -> bool {
        if let Some((other, span)) = ids.get(id.get_ref()) {
            let (line, _) = self.r.line_col(span.start);
            self.at(id.span()).item(label).key("id").error(
                format!(
                    "duplicate id `{}`: a {other} on line {line} already has it",
                    id.get_ref()
                ),
                "bulletins and programmes need ids of their own",
            );
            return false;
        }
        ids.insert(id.get_ref().clone(), (kind, id.span()));
        true
    }

    /// What bulletins and programmes share: id, priority, timing, window.
    /// The values when all of it is valid.
    fn common(
        &mut self,
        kind: &'static str,
        label: &str,
        id: Option<&S<String>>,
        priority: &Option<S<String>>,
        w: RawWhen,
        ids: &mut HashMap<String, (&'static str, Range<usize>)>,
    ) -> Option<Common> {
        let mut ok = id.is_some();
        if let Some(id) = id {
            ok &= self.check_id(id, label);
            ok &= self.unique_item_id(id, label, kind, ids);
        }
        let priority = self.priority(priority, label);
        let when = self.when(&w, label);
        let window = self.window(label, &w.from, &w.to);
        match (priority, when, window, ok) {
            (Some(priority), Some((timing, grace_seconds)), Ok(window), true) => Some(Common {
                priority,
                timing,
                window,
                grace_seconds,
                enabled: w.enabled.is_none_or(|e| *e.get_ref()),
            }),
            _ => None,
        }
    }

    pub(super) fn bulletins(
        &mut self,
        raw: Vec<(String, RawBulletin)>,
        campaigns: &[Campaign],
        audio_dir: (&Path, bool),
        (tts, data_dir): (&Tts, &Path),
        ids: &mut HashMap<String, (&'static str, Range<usize>)>,
    ) -> Vec<Bulletin> {
        self.written_bulletin_ids = raw
            .iter()
            .filter_map(|(_, b)| b.id.as_ref().map(|id| id.get_ref().clone()))
            .collect();
        let campaigns = ById::new(campaigns, |c| c.id.as_str());
        let mut out = Vec::new();
        for (label, b) in raw {
            let content = self.content(&b, &label, audio_dir);
            let common = self.common(
                "bulletin",
                &label,
                b.id.as_ref(),
                &b.priority,
                take_when!(b),
                ids,
            );
            let campaign = self.campaign_of(&b.campaign, &label, &campaigns);
            let content = match content {
                Some(Content::File(f)) => {
                    let path = self.audio_path(&f, &label, audio_dir, "file");
                    if self.files == AudioFiles::Resolve && path.is_none() {
                        continue;
                    }
                    Some((
                        f.get_ref().clone(),
                        path.unwrap_or_default(),
                        None,
                        Some(f.span()),
                    ))
                }
                Some(Content::Text(text)) => {
                    let name = tts.cache_name(&text);
                    Some((
                        format!("{TTS_DIR}/{name}"),
                        data_dir.join(TTS_DIR).join(name),
                        Some(text),
                        None,
                    ))
                }
                Some(Content::Unreadable(f)) => Some((f, PathBuf::new(), None, None)),
                None => None,
            };
            let (Some(c), Ok(campaign), Some(id), Some(title), Some((file, path, text, span))) =
                (common, campaign, b.id, b.title, content)
            else {
                continue;
            };
            // Remember where `file` was written, for problems in the file.
            if let Some(span) = span {
                self.file_spans.insert(id.get_ref().clone(), span);
            }
            out.push(Bulletin {
                id: id.into_inner(),
                title: title.into_inner(),
                file,
                text,
                tts_error: None,
                path,
                campaign: campaign.map(|c| c.id.clone()),
                priority: c.priority,
                timing: c.timing,
                window: c.window.or_else(|| campaign.and_then(|c| c.window)),
                grace_seconds: c.grace_seconds,
                enabled: c.enabled,
                audio: None,
            });
        }
        out
    }

    /// `[[relay]]` items: the bulletin's keys (through `common`), a source,
    /// a duration, and what airs while the source is down.
    pub(super) fn relays(
        &mut self,
        raw: Vec<(String, RawRelay)>,
        campaigns: &[Campaign],
        bulletins: &[Bulletin],
        ids: &mut HashMap<String, (&'static str, Range<usize>)>,
    ) -> Vec<Relay> {
        self.written_relay_ids = raw
            .iter()
            .filter_map(|(_, r)| r.id.as_ref().map(|id| id.get_ref().clone()))
            .collect();
        let campaigns = ById::new(campaigns, |c| c.id.as_str());
        let bulletins = ById::new(bulletins, |b| b.id.as_str());
        let mut out = Vec::new();
        for (label, r) in raw {
            let common = self.common(
                "relay",
                &label,
                r.id.as_ref(),
                &r.priority,
                take_when!(r),
                ids,
            );
            let campaign = self.campaign_of(&r.campaign, &label, &campaigns);
            let source = self.relay_source(&r.url, &r.input, &label);
            let seconds = r.duration.as_ref().and_then(|d| {
                let s = self.duration(d, &label, "duration")?;
                if s == 0 {
                    self.at(d.span()).item(&label).key("duration").error(
                        "a relay of 0 seconds airs nothing",
                        "write how long it airs, e.g. duration = \"30m\"",
                    );
                    return None;
                }
                Some(s)
            });
            let silence_after = match &r.silence_after {
                None => Some(DEFAULT_SILENCE_AFTER),
                Some(v) => self.duration(v, &label, "silence_after"),
            };
            let threshold =
                match &r.silence_threshold_dbfs {
                    None => Some(DEFAULT_SILENCE_DBFS),
                    Some(t) if t.get_ref().is_finite() && (-120.0..=0.0).contains(t.get_ref()) => {
                        Some(*t.get_ref())
                    }
                    Some(t) => {
                        self.at(t.span()).item(&label).key("silence_threshold_dbfs").error(
                        format!("{} is not a level in dBFS", t.get_ref()),
                        "write a level between -120 and 0, e.g. silence_threshold_dbfs = -50",
                    );
                        None
                    }
                };
            let fallback = match &r.fallback {
                None => Some(None),
                Some(f) => match bulletins.position(f.get_ref()) {
                    Some(i) => Some(Some(i)),
                    None if self.written_bulletin_ids.contains(f.get_ref()) => None,
                    None => {
                        let known = || bulletins.items.iter().map(|b| b.id.as_str()).collect();
                        let hint = match self.did_you_mean(f.get_ref(), known) {
                            Some(s) => format!("did you mean \"{s}\"?"),
                            None => {
                                "name a [[bulletin]] id, or leave it out to air silence".to_string()
                            }
                        };
                        self.at(f.span())
                            .item(&label)
                            .key("fallback")
                            .error(format!("no bulletin with id `{}`", f.get_ref()), hint);
                        None
                    }
                },
            };
            // A relay waits its turn: only emergencies cut in.
            let priority_ok = match (&common, &r.priority) {
                (Some(c), Some(p)) if c.priority == Priority::Emergency => {
                    self.at(p.span()).item(&label).key("priority").error(
                        "a relay cannot be an emergency: it never cuts in",
                        "use priority = \"priority\" or \"normal\"; put emergencies in a [[bulletin]]",
                    );
                    false
                }
                _ => true,
            };
            let (
                Some(c),
                Ok(campaign),
                Some(source),
                Some(seconds),
                Some(silence_after),
                Some(threshold),
                Some(fallback),
                true,
                Some(id),
                Some(title),
            ) = (
                common,
                campaign,
                source,
                seconds,
                silence_after,
                threshold,
                fallback,
                priority_ok,
                r.id,
                r.title,
            )
            else {
                continue;
            };
            out.push(Relay {
                id: id.into_inner(),
                title: title.into_inner(),
                source,
                seconds,
                fallback,
                silence_after,
                silence_threshold_dbfs: threshold,
                campaign: campaign.map(|c| c.id.clone()),
                priority: c.priority,
                timing: c.timing,
                window: c.window.or_else(|| campaign.and_then(|c| c.window)),
                grace_seconds: c.grace_seconds,
                enabled: c.enabled,
            });
        }
        out
    }

    /// Exactly one of `url` (http/https) and `input` (a capture device).
    fn relay_source(
        &mut self,
        url: &Option<S<String>>,
        input: &Option<S<String>>,
        label: &str,
    ) -> Option<RelaySource> {
        match (url, input) {
            (Some(u), Some(_)) => {
                self.at(u.span()).item(label).key("url").error(
                    "both `url` and `input` are set",
                    "keep one: `url` for a stream, `input` for a receiver on line-in",
                );
                None
            }
            (None, None) => {
                self.at(self.id_spans.get(label).cloned())
                    .item(label)
                    .error(
                        "a relay needs a source",
                        "add url = \"http://…\" for a stream, or input = \"default\" (or \"hw:1,0\") for line-in",
                    );
                None
            }
            (Some(u), None) => {
                let lower = u.get_ref().to_ascii_lowercase();
                let host = lower
                    .strip_prefix("http://")
                    .or_else(|| lower.strip_prefix("https://"));
                if host.is_none_or(|h| h.is_empty() || h.starts_with('/')) {
                    self.at(u.span()).item(label).key("url").error(
                        format!("`{}` is not an http:// or https:// address", u.get_ref()),
                        "write the stream's address, e.g. \"https://stream.example.vn/vov1.mp3\"",
                    );
                    return None;
                }
                Some(RelaySource::Url(u.get_ref().clone()))
            }
            (None, Some(d)) => {
                if d.get_ref().trim().is_empty() {
                    self.at(d.span()).item(label).key("input").error(
                        "`input` is empty",
                        "name the capture device, e.g. \"default\" or \"hw:1,0\" (see `arecord -L`)",
                    );
                    return None;
                }
                Some(RelaySource::Input(d.get_ref().clone()))
            }
        }
    }

    /// The campaign a bulletin names, if any; `Err` when there is no such
    /// campaign.
    fn campaign_of<'c>(
        &mut self,
        name: &Option<S<String>>,
        label: &str,
        campaigns: &ById<'c, Campaign>,
    ) -> Result<Option<&'c Campaign>, ()> {
        let Some(c) = name else { return Ok(None) };
        if let Some(i) = campaigns.position(c.get_ref()) {
            return Ok(Some(&campaigns.items[i]));
        }
        let hint = if campaigns.items.is_empty() {
            "declare it in a [[campaign]] section".to_string()
        } else if self.suggest() {
            let known: Vec<&str> = campaigns.items.iter().map(|c| c.id.as_str()).collect();
            match closest(c.get_ref(), &known) {
                Some(s) => format!("did you mean \"{s}\"?"),
                None if known.len() <= 20 => format!("known campaigns: {}", known.join(", ")),
                None => "name a campaign declared in a [[campaign]] section".to_string(),
            }
        } else {
            "name a campaign declared in a [[campaign]] section".to_string()
        };
        self.at(c.span())
            .item(label)
            .key("campaign")
            .error(format!("no campaign with id `{}`", c.get_ref()), hint);
        Err(())
    }

    /// Resolve `file` inside `audio_dir` (and whether it can be used);
    /// nothing outside it may air. A file that is missing (or a folder, or
    /// in an unusable `audio_dir`) is an audio problem: its path is kept, so
    /// the item is recorded `failed` with the reason when it comes due.
    pub(super) fn audio_path(
        &mut self,
        file: &S<String>,
        label: &str,
        (dir, usable): (&Path, bool),
        key: &str,
    ) -> Option<PathBuf> {
        let rel = Path::new(file.get_ref());
        let escapes = file.get_ref().is_empty()
            || rel.is_absolute()
            || rel
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        if escapes {
            self.at(file.span())
                .item(label)
                .key(key)
                .error(
                    format!("`{}` is not a path inside audio_dir", file.get_ref()),
                    "write a path relative to audio_dir, without `..` or a leading `/`, e.g. \"cds/thong-diep.mp3\"",
                );
            return None;
        }
        if self.files == AudioFiles::AsWritten {
            return Some(rel.to_path_buf());
        }
        let joined = dir.join(rel);
        if !usable {
            // `audio_dir` was reported; the file cannot be looked for.
            return Some(joined);
        }
        match joined.canonicalize() {
            Ok(real) if !real.starts_with(dir) => {
                self.at(file.span()).item(label).key(key).error(
                    format!(
                        "`{}` is a link to {}, outside audio_dir {}",
                        file.get_ref(),
                        real.display(),
                        dir.display()
                    ),
                    "copy the file into audio_dir instead of linking to it",
                );
                None
            }
            Ok(real) if !real.is_file() => {
                self.at(file.span()).item(label).key(key).audio().error(
                    format!("{} is not a file", joined.display()),
                    "name an audio file, not a folder",
                );
                Some(joined)
            }
            Ok(real) => Some(real),
            Err(e) => {
                self.at(file.span()).item(label).key(key).audio().error(
                    format!("cannot open {}: {e}", joined.display()),
                    format!(
                        "put the file there, or fix the path (relative to audio_dir {})",
                        dir.display()
                    ),
                );
                Some(joined)
            }
        }
    }

    pub(super) fn programs(
        &mut self,
        raw: Vec<(String, RawProgram)>,
        bulletins: &[Bulletin],
        relays: &[Relay],
        ids: &mut HashMap<String, (&'static str, Range<usize>)>,
    ) -> Vec<Program> {
        let bulletins = ById::new(bulletins, |b| b.id.as_str());
        let relays = ById::new(relays, |r| r.id.as_str());
        let mut out = Vec::new();
        for (label, p) in raw {
            let common = self.common(
                "program",
                &label,
                p.id.as_ref(),
                &p.priority,
                take_when!(p),
                ids,
            );
            let items = p
                .items
                .as_ref()
                .and_then(|items| self.programme_items(items, &label, &bulletins, &relays));
            let (Some(c), Some(items), Some(id), Some(title)) = (common, items, p.id, p.title)
            else {
                continue;
            };
            out.push(Program {
                id: id.into_inner(),
                title: title.into_inner(),
                priority: c.priority,
                timing: c.timing,
                window: c.window,
                grace_seconds: c.grace_seconds,
                enabled: c.enabled,
                items,
            });
        }
        out
    }

    /// A programme's `items`: bulletins and relays, in playing order.
    fn programme_items(
        &mut self,
        items: &S<Vec<S<String>>>,
        label: &str,
        bulletins: &ById<Bulletin>,
        relays: &ById<Relay>,
    ) -> Option<Vec<ProgramItem>> {
        let mut ok = true;
        let mut out = Vec::new();
        if items.get_ref().is_empty() {
            self.at(items.span()).item(label).key("items").error(
                "a programme needs at least one item",
                "list bulletin ids in playing order, e.g. items = [\"nhac-hieu\", \"ket-thuc\"]",
            );
            ok = false;
        }
        for item in items.get_ref() {
            let id = item.get_ref();
            let found = (bulletins.position(id).map(ProgramItem::Bulletin))
                .or_else(|| relays.position(id).map(ProgramItem::Relay));
            match found {
                Some(i) => out.push(i),
                None if self.written_bulletin_ids.contains(id)
                    || self.written_relay_ids.contains(id) =>
                {
                    ok = false
                }
                None => {
                    let known = || {
                        (bulletins.items.iter().map(|b| b.id.as_str()))
                            .chain(relays.items.iter().map(|r| r.id.as_str()))
                            .collect()
                    };
                    let hint = match self.did_you_mean(id, known) {
                        Some(s) => format!("did you mean \"{s}\"?"),
                        None => "items are ids of [[bulletin]] or [[relay]] entries".to_string(),
                    };
                    self.at(item.span())
                        .item(label)
                        .key("items")
                        .error(format!("no bulletin or relay with id `{id}`"), hint);
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::*;

    #[test]
    fn ids_are_plain_and_shared_between_bulletins_and_programmes() {
        let l = load_items(
            r#"
[[bulletin]]
id = "thông báo"
title = "B"
file = "b.mp3"
[[bulletin]]
id = "x"
title = "X"
file = "x.mp3"
[[program]]
id = "x"
title = "P"
items = ["x"]
"#,
        );
        says(&l, "bulletin \"thông báo\"", "id", "not a valid id");
        let dup = find(&l, "program \"x\"", "id");
        assert!(
            dup.message.contains("bulletin on line 9"),
            "{}",
            dup.message
        );
    }

    #[test]
    fn relays_take_the_bulletin_keys_a_source_and_a_duration() {
        let l = load_items(
            r#"
[[campaign]]
id = "c"
title = "C"
from = "2026-10-01"
to = "2026-10-31"
[[bulletin]]
id = "cho"
title = "Chờ"
file = "cho.mp3"
[[relay]]
id = "vov1"
title = "VOV1"
url = "https://stream.example.vn/vov1.mp3"
duration = "30m"
fallback = "cho"
campaign = "c"
priority = "priority"
at = ["06:00", "18:00"]
days = "mon-sat"
grace = "1m"
[[relay]]
id = "fm"
title = "FM"
input = "hw:1,0"
duration = "15m"
silence_after = "20s"
silence_threshold_dbfs = -45.5
cron = "30 11 * * 1-5"
enabled = false
"#,
        );
        assert!(!l.diagnostics.has_errors(), "{}", l.diagnostics);
        // A relay's fallback is not "a bulletin that airs only when queued".
        assert!(l.diagnostics.items.is_empty(), "{}", l.diagnostics);
        let s = l.station.unwrap();
        let r = s.relay("vov1").unwrap();
        assert_eq!(
            r.source,
            RelaySource::Url("https://stream.example.vn/vov1.mp3".into())
        );
        assert_eq!(
            (r.seconds, r.fallback, r.grace_seconds),
            (1800, Some(0), 60)
        );
        assert_eq!(r.priority, Priority::Priority);
        assert_eq!(r.campaign.as_deref(), Some("c"));
        assert!(r.window.is_some(), "the campaign's window is inherited");
        assert_eq!(r.silence_after, DEFAULT_SILENCE_AFTER);
        assert!(matches!(r.timing, Timing::At { .. }));
        let fm = s.relay("fm").unwrap();
        assert_eq!(fm.source, RelaySource::Input("hw:1,0".into()));
        assert_eq!((fm.silence_after, fm.silence_threshold_dbfs), (20, -45.5));
        assert!(matches!(fm.timing, Timing::Cron(_)) && !fm.enabled);
    }

    #[test]
    fn relay_mistakes_are_located_and_explained() {
        let l = load_items(
            r#"
[[bulletin]]
id = "cho"
title = "Chờ"
file = "cho.mp3"
[[relay]]
id = "a"
title = "A"
url = "ftp://x/y.mp3"
duration = "0s"
fallback = "cha"
priority = "emergency"
[[relay]]
id = "b"
title = "B"
url = "http://x/y.mp3"
input = "default"
duration = "soon"
silence_threshold_dbfs = 6
[[relay]]
id = "c"
title = "C"
duration = "5m"
[[relay]]
id = "cho"
title = "D"
input = "default"
"#,
        );
        says(&l, "relay \"a\"", "url", "http://");
        says(&l, "relay \"a\"", "duration", "0 seconds");
        assert!(find(&l, "relay \"a\"", "fallback")
            .hint
            .as_deref()
            .unwrap()
            .contains("\"cho\""));
        says(&l, "relay \"a\"", "priority", "never cuts in");
        says(&l, "relay \"b\"", "url", "both");
        says(&l, "relay \"b\"", "duration", "not a duration");
        says(&l, "relay \"b\"", "silence_threshold_dbfs", "dBFS");
        let c = errors(&l)
            .into_iter()
            .find(|d| d.item.as_deref() == Some("relay \"c\"") && d.key.is_none())
            .expect("a relay without a source");
        assert!(c.message.contains("needs a source"), "{c}");
        // Ids are shared with bulletins; `duration` is required.
        says(&l, "relay \"cho\"", "id", "duplicate");
        assert!(l.diagnostics.to_string().contains("duration"));
        for e in errors(&l) {
            assert!(e.position.is_some(), "{e}");
            assert!(e.hint.is_some(), "{e}");
        }
    }

    #[test]
    fn files_must_stay_inside_audio_dir() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("audio");
        std::fs::create_dir(&audio).unwrap();
        let secret = dir.path().join("secret.mp3");
        std::fs::write(&secret, b"x").unwrap();
        std::os::unix::fs::symlink(&secret, audio.join("link.mp3")).unwrap();
        let text = &with_station(
            r#"
audio_dir = "audio"
[[bulletin]]
id = "a"
title = "A"
file = "link.mp3"
[[bulletin]]
id = "b"
title = "B"
file = "/etc/passwd"
[[bulletin]]
id = "c"
title = "C"
file = "missing.mp3"
"#,
        );
        let path = dir.path().join("station.toml");
        let l = load_str(text, &path, AudioFiles::Resolve).finish();
        says(&l, "bulletin \"a\"", "file", "outside audio_dir");
        says(&l, "bulletin \"b\"", "file", "inside audio_dir");
        let missing = find(&l, "bulletin \"c\"", "file");
        assert!(
            missing.message.contains("cannot open"),
            "{}",
            missing.message
        );
        assert_eq!(missing.position, Some((16, 8)));
    }
}
