//! Checks of the items: campaigns, bulletins and programmes, their ids,
//! their references to each other and the bulletins' files.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use super::deser::closest;
use super::load::{AudioFiles, Loader};
use super::raw::{take_when, RawBulletin, RawCampaign, RawProgram, RawWhen, S};
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

impl Loader<'_> {
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
            let (line, _) = crate::diag::line_col(self.r.text, span.start);
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
            let campaign = self.campaign_of(&b.campaign, &label, campaigns);
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

    /// The campaign a bulletin names, if any; `Err` when there is no such
    /// campaign.
    fn campaign_of<'c>(
        &mut self,
        name: &Option<S<String>>,
        label: &str,
        campaigns: &'c [Campaign],
    ) -> Result<Option<&'c Campaign>, ()> {
        let Some(c) = name else { return Ok(None) };
        if let Some(found) = campaigns.iter().find(|x| &x.id == c.get_ref()) {
            return Ok(Some(found));
        }
        let known: Vec<&str> = campaigns.iter().map(|c| c.id.as_str()).collect();
        let hint = match closest(c.get_ref(), &known) {
            Some(s) => format!("did you mean \"{s}\"?"),
            None if known.is_empty() => "declare it in a [[campaign]] section".to_string(),
            None => format!("known campaigns: {}", known.join(", ")),
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
        ids: &mut HashMap<String, (&'static str, Range<usize>)>,
    ) -> Vec<Program> {
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
                .and_then(|items| self.programme_items(items, &label, bulletins));
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

    /// A programme's `items`: indexes into `bulletins`, in playing order.
    fn programme_items(
        &mut self,
        items: &S<Vec<S<String>>>,
        label: &str,
        bulletins: &[Bulletin],
    ) -> Option<Vec<usize>> {
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
            match bulletins.iter().position(|b| &b.id == item.get_ref()) {
                Some(i) => out.push(i),
                None if self.written_bulletin_ids.contains(item.get_ref()) => ok = false,
                None => {
                    let known: Vec<&str> = bulletins.iter().map(|b| b.id.as_str()).collect();
                    let hint = match closest(item.get_ref(), &known) {
                        Some(s) => format!("did you mean \"{s}\"?"),
                        None => "items are ids of [[bulletin]] entries".to_string(),
                    };
                    self.at(item.span())
                        .item(label)
                        .key("items")
                        .error(format!("no bulletin with id `{}`", item.get_ref()), hint);
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
        let text = r#"
[station]
name = "X"
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
"#;
        let l = load_text(text);
        assert!(find(&l, "bulletin \"thông báo\"", "id")
            .message
            .contains("not a valid id"));
        let dup = find(&l, "program \"x\"", "id");
        assert!(
            dup.message.contains("bulletin on line 9"),
            "{}",
            dup.message
        );
    }

    #[test]
    fn files_must_stay_inside_audio_dir() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("audio");
        std::fs::create_dir(&audio).unwrap();
        let secret = dir.path().join("secret.mp3");
        std::fs::write(&secret, b"x").unwrap();
        std::os::unix::fs::symlink(&secret, audio.join("link.mp3")).unwrap();
        let text = r#"
[station]
name = "X"
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
"#;
        let path = dir.path().join("station.toml");
        let l = load_str(text, &path, AudioFiles::Resolve).finish();
        assert!(find(&l, "bulletin \"a\"", "file")
            .message
            .contains("outside audio_dir"));
        assert!(find(&l, "bulletin \"b\"", "file")
            .message
            .contains("inside audio_dir"));
        let missing = find(&l, "bulletin \"c\"", "file");
        assert!(
            missing.message.contains("cannot open"),
            "{}",
            missing.message
        );
        assert_eq!(missing.position, Some((16, 8)));
    }
}
