//! Filling a `[tts] command`'s placeholders for one render, so that a
//! notice's text never becomes an option of the engine (which arguments
//! could let it is `config::tts_option_risk`, checked at load).

use std::path::Path;

use crate::config::{tts_option_risk as option_risk, TTS_PLACEHOLDERS as PLACEHOLDERS};

/// The values of the placeholders for one render.
pub struct Values<'a> {
    pub text: &'a str,
    pub text_file: &'a Path,
    pub out: &'a Path,
    pub voice: &'a str,
}

/// `argv` with its placeholders filled in one pass (a value that holds
/// `{text}` is not filled again), or why it is refused: an argument that
/// would start with `-` because of a placeholder's value (other than
/// `{text}` after `--`, which the engine reads as an operand).
pub fn fill(argv: &[String], v: &Values) -> Result<Vec<String>, String> {
    if let Some(why) = option_risk(argv) {
        return Err(why);
    }
    let mut out = Vec::with_capacity(argv.len());
    let mut after_dashes = false;
    for (i, a) in argv.iter().enumerate() {
        let mut filled = String::with_capacity(a.len());
        let mut rest = a.as_str();
        let mut leading: Option<&str> = None;
        while let Some(at) = rest.find('{') {
            filled.push_str(&rest[..at]);
            let tail = &rest[at..];
            let Some(p) = PLACEHOLDERS.iter().find(|p| tail.starts_with(**p)) else {
                filled.push('{');
                rest = &tail[1..];
                continue;
            };
            if filled.is_empty() {
                leading = Some(p);
            }
            let value = match *p {
                "{text}" => v.text.to_string(),
                "{text_file}" => v.text_file.display().to_string(),
                "{out}" => v.out.display().to_string(),
                _ => v.voice.to_string(),
            };
            filled.push_str(&value);
            rest = &tail[p.len()..];
        }
        filled.push_str(rest);
        if let Some(p) = leading {
            let operand = p == "{text}" && after_dashes;
            if filled.starts_with('-') && !operand {
                return Err(format!(
                    "argument {} would start with `-` because of {p} ({filled:?}): the engine \
                     would read it as an option",
                    i + 1
                ));
            }
        }
        after_dashes |= i > 0 && a == "--";
        out.push(filled);
    }
    Ok(out)
}

/// An engine's command line as a station file gives it, for tests.
#[cfg(test)]
pub(crate) fn argv(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_once_and_never_start_an_option() {
        let v = Values {
            text: "-f/etc/passwd {out}",
            text_file: Path::new("/d/t.txt"),
            out: Path::new("/d/o.wav"),
            voice: "{text}",
        };
        let a = fill(
            &argv(&["e", "-v", "{voice}", "{out}", "--", "{text}", "{"]),
            &v,
        )
        .unwrap();
        assert_eq!(
            a,
            argv(&[
                "e",
                "-v",
                "{text}",
                "/d/o.wav",
                "--",
                "-f/etc/passwd {out}",
                "{"
            ])
        );
        let v = Values {
            voice: "-fvoice",
            ..v
        };
        let e = fill(&argv(&["e", "{voice}", "{out}"]), &v).unwrap_err();
        assert!(e.contains("{voice}"), "{e}");
        let e = fill(&argv(&["e", "{out}", "{text}"]), &v).unwrap_err();
        assert!(e.contains("option"), "{e}");
    }
}
