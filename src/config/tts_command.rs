//! Which arguments of a `[tts] command` could let a notice's text be read
//! as an option of the engine.
//!
//! A notice is typed by an operator; the engine is a program with options
//! such as espeak-ng's `-f FILE` (read a file aloud). A notice
//! `-f/etc/loa/station.toml` passed as a whole argument would read the
//! station file, tokens and passwords included, on air. So the text only
//! ever reaches the engine through a file (`{text_file}`), its standard
//! input, or an argument that cannot start an option: after `--`, as the
//! value of a long option (`--text={text}`), or behind other characters.
//! `tts::argv` fills the placeholders and checks again.

/// The placeholders a command may hold.
pub const TTS_PLACEHOLDERS: [&str; 4] = ["{text_file}", "{text}", "{out}", "{voice}"];

/// Why `argv` could let a notice be read as an option of the engine (what
/// is wrong and what to write instead), if it could.
pub fn tts_option_risk(argv: &[String]) -> Option<String> {
    if let Some(p) = argv
        .first()
        .and_then(|a| TTS_PLACEHOLDERS.iter().find(|p| a.contains(**p)))
    {
        return Some(format!(
            "the program (the first word) holds the placeholder {p}: write the program's name or path"
        ));
    }
    for (i, a) in argv.iter().enumerate().skip(1) {
        let Some(at) = a.find("{text}") else { continue };
        let prefix = &a[..at];
        let after_dashes = argv[1..i].iter().any(|x| x == "--");
        let safe = if prefix.is_empty() {
            after_dashes
        } else if prefix.starts_with('-') {
            // `--name=`: the rest of the argument is the option's value,
            // whatever it starts with. `-x{text}` is not safe: when `-x`
            // takes no value, the text's letters are read as more options.
            prefix.starts_with("--") && prefix.ends_with('=') && prefix.len() > 3
        } else {
            true
        };
        if !safe {
            return Some(format!(
                "argument {} ({a:?}) lets a notice be read as an option of the engine: a notice \
                 such as \"-f/etc/loa/station.toml\" would make espeak-ng read that file on air",
                i + 1
            ));
        }
    }
    None
}

/// What to write instead of an option-prone command.
pub const TTS_OPTION_RISK_HINT: &str = "give the engine the text through a file or its standard \
     input: use \"{text_file}\" (e.g. \"-f\", \"{text_file}\"), or leave {text} out and the text \
     goes to its standard input; if the engine takes the text only as an argument, put \"--\" \
     before \"{text}\" (e.g. [\"engine\", \"-w\", \"{out}\", \"--\", \"{text}\"]) or write it as \
     \"--text={text}\"";

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn text_that_could_start_an_option_is_refused() {
        for bad in [
            &["espeak-ng", "{text}", "-w", "{out}"][..],
            &["espeak-ng", "-w", "{out}", "{text}."],
            &["engine", "-t{text}", "{out}"],
            &["engine", "-{text}", "{out}"],
            &["engine", "--{text}", "{out}"],
            &["engine", "--text{text}", "{out}"],
            &["{text}", "{out}"],
            // `--` only counts before the text.
            &["engine", "{text}", "--", "{out}"],
        ] {
            assert!(tts_option_risk(&argv(bad)).is_some(), "{bad:?} passed");
        }
        for good in [
            &["piper", "--output_file", "{out}"][..],
            &["espeak-ng", "-w", "{out}", "-f", "{text_file}"],
            &["engine", "-w", "{out}", "--", "{text}"],
            &["engine", "--text={text}", "{out}"],
            &["engine", "say:{text}", "{out}"],
        ] {
            assert_eq!(tts_option_risk(&argv(good)), None, "{good:?} refused");
        }
    }
}
