use super::*;

/// One of each reason, with arguments.
pub(crate) fn one_of_each() -> Vec<Reason> {
    vec![
        Reason::SkippedBy {
            by: By::user("lan"),
        },
        Reason::PausedBy {
            by: By::token("van-hanh"),
        },
        Reason::EmergencyCancelledBy {
            by: By::user("binh"),
        },
        Reason::InterruptedByEmergency {
            bulletin: "bao-lu".into(),
            title: "Báo lũ khẩn".into(),
        },
        Reason::StationPaused,
        Reason::QuietHours,
        Reason::Dequeued,
        Reason::LineBusy {
            late_seconds: 200,
            grace_seconds: 120,
        },
        Reason::NoticeNotReady {
            late_seconds: 200,
            grace_seconds: 120,
        },
        Reason::OffAir {
            late_seconds: 3900,
            grace_seconds: 600,
        },
        Reason::DownAtItsTime {
            late_seconds: 3600,
            grace_seconds: 600,
        },
        Reason::SessionCap {
            programme: "sang".into(),
            cap_seconds: 1800.0,
            used_seconds: 1700.0,
            item_seconds: 240.0,
        },
        Reason::SpeechFailed {
            error: "espeak-ng: exit status 1".into(),
        },
        Reason::FileFailed {
            error: "a.mp3: end of stream".into(),
        },
        Reason::NoAudio,
        Reason::Truncated {
            file: "a.mp3".into(),
            aired_seconds: 3.5,
            expected_seconds: 60.0,
        },
        Reason::DeviceFailed {
            error: "DeviceNotAvailable".into(),
        },
        Reason::OutputStalled { seconds: 3.0 },
        Reason::OutputOverran { seconds: 5.0 },
        Reason::Stopped,
        Reason::DaemonStopped,
        Reason::OutputGone,
        Reason::RelayNoSource,
        Reason::relay_drops(&[(12.0, "connection reset", 3)]),
        Reason::RelayFallback { seconds: 30.0 },
        Reason::RelaySilence { seconds: 2.0 },
        Reason::Internal {
            error: "the thread that opens audio files has stopped".into(),
        },
        Reason::Free {
            text: "an old reason".into(),
        },
    ]
}

/// English words that must not appear in the Vietnamese text.
const DENY: &[&str] = &[
    "the",
    "by",
    "of",
    "and",
    "emergency",
    "station",
    "paused",
    "late",
    "grace",
    "skipped",
    "relay",
    "file",
    "audio",
    "output",
    "daemon",
    "stopped",
    "session",
    "quiet",
    "hours",
    "drop",
    "drops",
    "fallback",
    "silence",
    "notice",
    "tts",
    "api",
    "seconds",
    "s",
    "card",
    "queue",
    "user",
    "token",
    "failed",
    "error",
    "upload",
    "reload",
];

/// The words of `text` outside its arguments.
fn words_outside(text: &str, args: &[String]) -> Vec<String> {
    let mut t = text.to_string();
    for a in args {
        t = t.replace(a.as_str(), " ");
    }
    t.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn string_args(r: &Reason) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(m) => m.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&serde_json::Value::Object(r.args()), &mut out);
    // Longest first, so a name is not cut by a shorter one inside it.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

#[test]
fn every_code_is_covered_once_and_snake_case() {
    let all = one_of_each();
    let codes: std::collections::BTreeSet<&str> = all.iter().map(Reason::code).collect();
    assert_eq!(codes.len(), all.len(), "a code repeats");
    assert_eq!(codes.len(), 28, "a reason was added: add it to one_of_each");
    for c in codes {
        assert!(
            c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
            "{c}"
        );
    }
}

#[test]
fn every_code_reads_in_both_languages() {
    for r in one_of_each() {
        let (vi, en) = (r.text(Lang::Vi), r.text(Lang::En));
        assert!(!vi.trim().is_empty() && !en.trim().is_empty(), "{r:?}");
        if !matches!(r, Reason::Free { .. }) {
            assert_ne!(vi, en, "{} has no Vietnamese", r.code());
        }
        assert_eq!(r.to_string(), en);
    }
}

#[test]
fn vietnamese_holds_no_english_outside_the_arguments() {
    for r in one_of_each()
        .iter()
        .filter(|r| !matches!(r, Reason::Free { .. }))
    {
        let vi = r.text(Lang::Vi);
        assert!(!vi.contains('['), "a configuration key in {vi}");
        assert!(!vi.contains("/api"), "an API path in {vi}");
        for w in words_outside(&vi, &string_args(r)) {
            assert!(
                !DENY.contains(&w.as_str()),
                "{}: English word {w:?} in {vi:?}",
                r.code()
            );
        }
    }
}

#[test]
fn stored_parts_give_the_same_reason_back() {
    for r in one_of_each() {
        let back = Reason::from_parts(r.code(), &r.args());
        assert_eq!(back.as_ref(), Some(&r), "{}", r.code());
    }
    let two = Reasons {
        main: Reason::DeviceFailed { error: "x".into() },
        more: vec![Reason::RelayNoSource, Reason::RelaySilence { seconds: 1.5 }],
    };
    let back = Reasons::from_columns(
        two.main.code(),
        Some(&two.args_json()),
        two.more_json().as_deref(),
        None,
    );
    assert_eq!(back, two);
}

#[test]
fn an_unknown_code_is_kept_as_free_text() {
    let r = Reasons::from_columns("from_the_future", Some("{}"), None, Some("why, in English"));
    assert_eq!(
        r.main,
        Reason::Free {
            text: "why, in English".into()
        }
    );
    let r = Reasons::from_columns("quiet_hours", Some("{\"bad\":1}"), None, None);
    assert_eq!(r.main, Reason::QuietHours, "extra arguments are ignored");
}

#[test]
fn durations_read_in_each_language() {
    let r = Reason::LineBusy {
        late_seconds: 200,
        grace_seconds: 3900,
    };
    assert_eq!(
        r.text(Lang::Vi),
        "trễ 3 phút 20 giây: đường phát bận quá thời gian chờ 1 giờ 5 phút"
    );
    assert_eq!(
        r.text(Lang::En),
        "3m 20s late: the line was busy past its grace of 1h 5m"
    );
}

#[test]
fn audit_actions_read_in_both_languages() {
    for (code, vi, en) in AUDIT_ACTIONS {
        assert_eq!(audit_action(Lang::Vi, code), *vi);
        assert_eq!(audit_action(Lang::En, code), *en);
        assert_ne!(vi, en);
        for w in words_outside(vi, &[]) {
            assert!(!DENY.contains(&w.as_str()), "{code}: {w:?} in {vi:?}");
        }
    }
    assert_eq!(audit_action(Lang::Vi, "new thing"), "new thing");
}

#[test]
fn reason_fields_flatten_into_a_status_object() {
    let r = ReasonFields(Reason::OutputStalled { seconds: 3.0 });
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        serde_json::json!({
            "reason": "the output took no audio for 3.0 s (sound card stuck or gone?)",
            "reason_code": "output_stalled",
            "reason_args": { "seconds": 3.0 },
        })
    );
}
