//! Checks of the items: campaigns, bulletins and programmes, their ids,
//! their references to each other and the bulletins' files.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use super::deser::closest;
use super::load::{AudioFiles, Loader};
use super::raw::{take_when, RawBulletin, RawCampaign, RawProgram, RawWhen, S};
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
    pub(super) fn campaigns(&mut self, raw: Vec<RawCampaign>) -> Vec<Campaign> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for c in raw {
            let id = c.id.get_ref().clone();
            let label = item_label("campaign", &id);
            let mut ok = self.check_id(&c.id, &label);
            if !seen.insert(id.clone()) {
                self.at(c.id.span()).item(&label).key("id").error(
                    format!("duplicate campaign id `{id}`"),
                    "give each campaign its own id",
                );
                ok = false;
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
            if let (true, Ok(window)) = (ok, window) {
                out.push(Campaign {
                    id,
                    title: c.title.into_inner(),
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
    /// Returns the item's label and, when all of it is valid, the values.
    fn common(
        &mut self,
        kind: &'static str,
        id: &S<String>,
        priority: &Option<S<String>>,
        w: RawWhen,
        ids: &mut HashMap<String, (&'static str, Range<usize>)>,
    ) -> (String, Option<Common>) {
        let label = item_label(kind, id.get_ref());
        let mut ok = self.check_id(id, &label);
        ok &= self.unique_item_id(id, &label, kind, ids);
        let priority = self.priority(priority, &label);
        let when = self.when(&w, &label);
        let window = self.window(&label, &w.from, &w.to);
        let common = match (priority, when, window, ok) {
            (Some(priority), Some((timing, grace_seconds)), Ok(window), true) => Some(Common {
                priority,
                timing,
                window,
                grace_seconds,
                enabled: w.enabled.is_none_or(|e| *e.get_ref()),
            }),
            _ => None,
        };
        (label, common)
    }

    pub(super) fn bulletins(
        &mut self,
        raw: Vec<RawBulletin>,
        campaigns: &[Campaign],
        audio_dir: Option<&Path>,
        ids: &mut HashMap<String, (&'static str, Range<usize>)>,
    ) -> Vec<Bulletin> {
        self.written_bulletin_ids = raw.iter().map(|b| b.id.get_ref().clone()).collect();
        let mut out = Vec::new();
        for b in raw {
            let (label, common) = self.common("bulletin", &b.id, &b.priority, take_when!(b), ids);
            let mut ok = true;
            let campaign = match &b.campaign {
                None => None,
                Some(c) => match campaigns.iter().find(|x| &x.id == c.get_ref()) {
                    Some(found) => Some(found),
                    None => {
                        let known: Vec<&str> = campaigns.iter().map(|c| c.id.as_str()).collect();
                        let hint = match closest(c.get_ref(), &known) {
                            Some(s) => format!("did you mean \"{s}\"?"),
                            None if known.is_empty() => {
                                "declare it in a [[campaign]] section".to_string()
                            }
                            None => format!("known campaigns: {}", known.join(", ")),
                        };
                        self.at(c.span())
                            .item(&label)
                            .key("campaign")
                            .error(format!("no campaign with id `{}`", c.get_ref()), hint);
                        ok = false;
                        None
                    }
                },
            };
            let path = self.audio_path(&b.file, &label, audio_dir);
            let (Some(c), true) = (common, ok) else {
                continue;
            };
            if self.files == AudioFiles::Resolve && path.is_none() {
                continue;
            }
            out.push(Bulletin {
                id: b.id.get_ref().clone(),
                title: b.title.into_inner(),
                file: b.file.get_ref().clone(),
                path: path.unwrap_or_default(),
                campaign: campaign.map(|c| c.id.clone()),
                priority: c.priority,
                timing: c.timing,
                window: c.window.or_else(|| campaign.and_then(|c| c.window)),
                grace_seconds: c.grace_seconds,
                enabled: c.enabled,
                audio: None,
            });
            // Remember where `file` was written, for problems in the file.
            self.file_spans
                .insert(b.id.get_ref().clone(), b.file.span());
        }
        out
    }

    /// Resolve `file` inside `audio_dir`; nothing outside it may air.
    fn audio_path(
        &mut self,
        file: &S<String>,
        label: &str,
        audio_dir: Option<&Path>,
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
                .key("file")
                .error(
                    format!("`{}` is not a path inside audio_dir", file.get_ref()),
                    "write a path relative to audio_dir, without `..` or a leading `/`, e.g. \"cds/thong-diep.mp3\"",
                );
            return None;
        }
        if self.files == AudioFiles::AsWritten {
            return Some(rel.to_path_buf());
        }
        let dir = audio_dir?;
        let joined = dir.join(rel);
        match joined.canonicalize() {
            Ok(real) if !real.starts_with(dir) => {
                self.at(file.span()).item(label).key("file").error(
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
                self.at(file.span()).item(label).key("file").error(
                    format!("{} is not a file", joined.display()),
                    "name an audio file, not a folder",
                );
                None
            }
            Ok(real) => Some(real),
            Err(e) => {
                self.at(file.span()).item(label).key("file").error(
                    format!("cannot open {}: {e}", joined.display()),
                    format!(
                        "put the file there, or fix the path (relative to audio_dir {})",
                        dir.display()
                    ),
                );
                None
            }
        }
    }

    pub(super) fn programs(
        &mut self,
        raw: Vec<RawProgram>,
        bulletins: &[Bulletin],
        ids: &mut HashMap<String, (&'static str, Range<usize>)>,
    ) -> Vec<Program> {
        let mut out = Vec::new();
        for p in raw {
            let (label, common) = self.common("program", &p.id, &p.priority, take_when!(p), ids);
            let mut ok = true;
            let mut items = Vec::new();
            if p.items.get_ref().is_empty() {
                self.at(p.items.span())
                    .item(&label)
                    .key("items")
                    .error(
                        "a programme needs at least one item",
                        "list bulletin ids in playing order, e.g. items = [\"nhac-hieu\", \"ket-thuc\"]",
                    );
                ok = false;
            }
            for item in p.items.get_ref() {
                match bulletins.iter().position(|b| &b.id == item.get_ref()) {
                    Some(i) => items.push(i),
                    None if self.written_bulletin_ids.contains(item.get_ref()) => ok = false,
                    None => {
                        let known: Vec<&str> = bulletins.iter().map(|b| b.id.as_str()).collect();
                        let hint = match closest(item.get_ref(), &known) {
                            Some(s) => format!("did you mean \"{s}\"?"),
                            None => "items are ids of [[bulletin]] entries".to_string(),
                        };
                        self.at(item.span())
                            .item(&label)
                            .key("items")
                            .error(format!("no bulletin with id `{}`", item.get_ref()), hint);
                        ok = false;
                    }
                }
            }
            let (Some(c), true) = (common, ok) else {
                continue;
            };
            out.push(Program {
                id: p.id.get_ref().clone(),
                title: p.title.into_inner(),
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
