//! Checks of `[tts]` (the engine that reads typed notices aloud), of a
//! bulletin's `text` / `text_file`, and of `[session]` (session caps).

use std::path::Path;

use super::load::Loader;
use super::raw::{RawBulletin, RawSession, RawTts, S};
use super::*;

const TTS: &str = "[tts]";
/// The longest `[tts] timeout`: a render that takes longer than this is
/// stuck, and an emergency typed in must reach the loudspeaker in seconds.
const MAX_TTS_TIMEOUT_SECONDS: u32 = 600;

/// What a bulletin airs, as its keys say.
pub(super) enum Content {
    /// `file`, as written.
    File(S<String>),
    /// `text`, or the contents of `text_file`.
    Text(String),
    /// `text_file` could not be read (an audio problem, reported): the
    /// bulletin stays and fails when due.
    Unreadable(String),
}

impl Loader<'_> {
    pub(super) fn tts(&mut self, t: RawTts) -> Option<Tts> {
        let mut ok = true;
        let voice = match &t.voice {
            None => "vi".to_string(),
            Some(v) if v.get_ref().trim().starts_with('-') => {
                self.at(v.span()).item(TTS).key("voice").error(
                    format!(
                        "the voice {:?} starts with `-`: the engine would read it as an option",
                        v.get_ref()
                    ),
                    "write the voice's name, e.g. \"vi\" (espeak-ng --voices=vi lists them)",
                );
                ok = false;
                String::new()
            }
            Some(v) if !v.get_ref().trim().is_empty() => v.get_ref().trim().to_string(),
            Some(v) => {
                self.at(v.span()).item(TTS).key("voice").error(
                    "the voice is empty",
                    "leave voice out for espeak-ng's Vietnamese voice, or write e.g. \"vi\"",
                );
                ok = false;
                String::new()
            }
        };
        let engine = match &t.command {
            None => TtsEngine::Espeak,
            Some(c) if c.get_ref().is_empty() || c.get_ref()[0].get_ref().trim().is_empty() => {
                self.at(c.span()).item(TTS).key("command").error(
                    "the command is empty",
                    "write the program and its arguments, e.g. command = [\"piper\", \"--model\", \"/opt/piper/vi.onnx\", \"--output_file\", \"{out}\"]",
                );
                ok = false;
                TtsEngine::Espeak
            }
            Some(c) => {
                let argv: Vec<String> = c.get_ref().iter().map(|a| a.get_ref().clone()).collect();
                if let Some(why) = tts_option_risk(&argv) {
                    self.at(c.span())
                        .item(TTS)
                        .key("command")
                        .error(why, TTS_OPTION_RISK_HINT);
                    ok = false;
                }
                if !argv.iter().any(|a| a.contains("{out}")) {
                    self.at(c.span()).item(TTS).key("command").error(
                        "the command has no {out} placeholder: loa cannot tell it where to write the WAV file",
                        "add the program's output option with \"{out}\", e.g. \"--output_file\", \"{out}\"",
                    );
                    ok = false;
                }
                TtsEngine::Command(argv)
            }
        };
        let timeout_seconds = self.checked(
            &t.timeout,
            (TTS, "timeout"),
            DEFAULT_TTS_TIMEOUT_SECONDS,
            |x| parse_duration(x).filter(|n| (1..=MAX_TTS_TIMEOUT_SECONDS).contains(n)),
            (
                "`{}` is not a timeout from 1s to 10m",
                "write e.g. timeout = \"30s\" (the default)",
            ),
        );
        ok &= timeout_seconds.is_some();
        let timeout_seconds = timeout_seconds.unwrap_or(DEFAULT_TTS_TIMEOUT_SECONDS);
        let cache_mb = self.checked(
            &t.cache_mb,
            (TTS, "cache_mb"),
            DEFAULT_TTS_CACHE_MB,
            |&n| (1..=i64::from(MAX_TTS_CACHE_MB)).contains(&n).then_some(n as u32),
            (
                "{} is out of range",
                format!(
                    "write the most data_dir/tts may hold, in MB, from 1 to {MAX_TTS_CACHE_MB} \
                     (default {DEFAULT_TTS_CACHE_MB}): past it, notices used longest ago are removed"
                ),
            ),
        );
        ok &= cache_mb.is_some();
        let cache_mb = cache_mb.unwrap_or(DEFAULT_TTS_CACHE_MB);
        ok.then_some(Tts {
            engine,
            voice,
            timeout_seconds,
            cache_mb,
        })
    }

    pub(super) fn session(&mut self, s: RawSession) -> Option<Session> {
        match &s.max_minutes {
            None => Some(Session::default()),
            Some(m) if m.get_ref().is_finite() && *m.get_ref() > 0.0 => Some(Session {
                max_minutes: Some(*m.get_ref()),
            }),
            Some(m) => {
                self.at(m.span()).item("[session]").key("max_minutes").error(
                    format!("{} is not a number of minutes", m.get_ref()),
                    "write the longest a session may air, e.g. max_minutes = 15 (Hà Nội's cap for urban wards)",
                );
                None
            }
        }
    }

    /// What bulletin `b` airs: exactly one of `file`, `text` and
    /// `text_file`. `None` (reported) when that is not so.
    pub(super) fn content(
        &mut self,
        b: &RawBulletin,
        label: &str,
        audio_dir: (&Path, bool),
    ) -> Option<Content> {
        let written: Vec<(&str, &S<String>)> = [
            ("file", &b.file),
            ("text", &b.text),
            ("text_file", &b.text_file),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .collect();
        match written.as_slice() {
            // Reported as a missing `file` already.
            [] => None,
            [("file", f)] => Some(Content::File((*f).clone())),
            [("text", t)] => self.notice_text(t.get_ref(), t.span(), label, "text"),
            [("text_file", f)] => {
                let path = self.audio_path(f, label, audio_dir, "text_file")?;
                if self.files == AudioFiles::AsWritten {
                    // Only the ledger is read: the text does not matter.
                    return Some(Content::Unreadable(f.get_ref().clone()));
                }
                match std::fs::read_to_string(&path) {
                    Ok(text) => self.notice_text(&text, f.span(), label, "text_file"),
                    Err(e) => {
                        self.at(f.span())
                            .item(label)
                            .key("text_file")
                            .audio()
                            .error(
                                format!("cannot read {} as UTF-8 text: {e}", path.display()),
                                "save the notice as a UTF-8 text file in audio_dir",
                            );
                        Some(Content::Unreadable(f.get_ref().clone()))
                    }
                }
            }
            [(first, _), (second, v), ..] => {
                self.at(v.span()).item(label).key(second).error(
                    format!("a bulletin airs one thing: it has both `{first}` and `{second}`"),
                    "keep `file` for a recording, or `text` / `text_file` for a notice read aloud",
                );
                None
            }
            [(other, _)] => unreachable!("unknown content key {other}"),
        }
    }

    fn notice_text(
        &mut self,
        text: &str,
        span: std::ops::Range<usize>,
        label: &str,
        key: &str,
    ) -> Option<Content> {
        let text = text.trim();
        let chars = text.chars().count();
        if text.is_empty() {
            self.at(span).item(label).key(key).error(
                "the notice is empty",
                "write the words to read aloud, e.g. text = \"Kính thưa bà con...\"",
            );
            None
        } else if chars > MAX_TTS_CHARS {
            self.at(span).item(label).key(key).error(
                format!("the notice is {chars} characters long, more than {MAX_TTS_CHARS}"),
                "split it into several bulletins, or record it",
            );
            None
        } else {
            Some(Content::Text(text.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_support::*;
    use crate::config::*;

    #[test]
    fn a_text_bulletin_is_cached_by_text_voice_and_engine() {
        let l = load_items(
            r#"
data_dir = "var"
[[bulletin]]
id = "a"
title = "A"
text = "Kính thưa bà con, 17:30 họp tổ dân phố."
[[bulletin]]
id = "b"
title = "B"
text = "Kính thưa bà con, 17:30 họp tổ dân phố."
"#,
        );
        assert!(!l.diagnostics.has_errors(), "{}", l.diagnostics);
        let s = l.station.unwrap();
        let (a, b) = (s.bulletin("a").unwrap(), s.bulletin("b").unwrap());
        assert_eq!(a.path, b.path, "the same text is rendered once");
        assert!(a.path.starts_with("/tmp/var/tts"), "{}", a.path.display());
        assert!(a.file.starts_with("tts/") && a.file.ends_with(".wav"));
        let mut other = s.tts.clone();
        other.voice = "vi+f3".into();
        assert_ne!(other.cache_name("x"), s.tts.cache_name("x"));
        other = s.tts.clone();
        other.engine = TtsEngine::Command(vec!["piper".into(), "{out}".into()]);
        assert_ne!(other.cache_name("x"), s.tts.cache_name("x"));
        assert_ne!(s.tts.cache_name("x"), s.tts.cache_name("y"));
    }

    #[test]
    fn tts_and_session_keys_are_checked() {
        let l = load_items(
            r#"
[tts]
command = ["piper", "--model", "vi.onnx"]
timeout = "forever"
[session]
max_minutes = -3
[[bulletin]]
id = "a"
title = "A"
file = "a.mp3"
text = "Hai thứ"
[[bulletin]]
id = "b"
title = "B"
text = "  "
"#,
        );
        says(&l, "[tts]", "command", "{out}");
        says(&l, "[tts]", "timeout", "forever");
        says(&l, "[session]", "max_minutes", "-3");
        says(&l, "bulletin \"a\"", "text", "both `file` and `text`");
        says(&l, "bulletin \"b\"", "text", "empty");
    }

    #[test]
    fn a_command_that_could_read_a_notice_as_an_option_is_refused() {
        for command in [
            r#"["espeak-ng", "-w", "{out}", "{text}"]"#,
            r#"["espeak-ng", "-w", "{out}", "-a{text}"]"#,
        ] {
            let l = load_text(&format!(
                "[station]\nname = \"X\"\n[tts]\ncommand = {command}\n"
            ));
            let d = find(&l, "[tts]", "command");
            assert!(d.message.contains("read as an option"), "{d:?}");
            assert!(d.hint.as_deref().unwrap().contains("{text_file}"), "{d:?}");
        }
        let l =
            load_text("[station]\nname = \"X\"\n[tts]\nvoice = \"-f/etc/passwd\"\ncache_mb = 0\n");
        says(&l, "[tts]", "voice", "starts with `-`");
        says(&l, "[tts]", "cache_mb", "out of range");
        // After `--`, or as a long option's value, the text is an operand.
        for command in [
            r#"["engine", "-w", "{out}", "--", "{text}"]"#,
            r#"["engine", "-w", "{out}", "--text={text}"]"#,
        ] {
            let l = load_text(&format!(
                "[station]\nname = \"X\"\n[tts]\ncommand = {command}\ncache_mb = 1\n"
            ));
            assert!(!l.diagnostics.has_errors(), "{}", l.diagnostics);
            assert_eq!(l.station.unwrap().tts.cache_mb, 1);
        }
    }

    #[test]
    fn good_tts_and_session_sections_load() {
        let l = load_items(
            r#"
[tts]
command = ["piper", "--model", "vi.onnx", "--output_file", "{out}"]
voice = "vais1000"
timeout = "45s"
[session]
max_minutes = 15
"#,
        );
        assert!(!l.diagnostics.has_errors(), "{}", l.diagnostics);
        let s = l.station.unwrap();
        assert_eq!(s.tts.timeout_seconds, 45);
        assert_eq!(s.tts.voice, "vais1000");
        assert!(matches!(&s.tts.engine, TtsEngine::Command(a) if a[0] == "piper"));
        assert_eq!(s.session.max_minutes, Some(15.0));
    }
}
