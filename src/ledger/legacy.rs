//! Reasons as ledgers before schema version 5 wrote them: English sentences.
//! The migration to version 5 reads each known sentence back into its
//! [`Reason`] (code and arguments); text it does not know is kept verbatim
//! as [`Reason::Free`]. This is the one place that reads English reasons,
//! and only old rows.

use rusqlite::{params, Transaction};

use crate::config::parse_duration;
use crate::reason::{By, Reason, Reasons, RelayDrop};

/// `1h 5m`, `10m`, `3m 20s`, `45s` (what the engine's `human` wrote) in
/// seconds: durations as the station file writes them, parted by spaces.
fn span(s: &str) -> Option<i64> {
    s.split(' ')
        .map(|part| parse_duration(part).map(i64::from))
        .sum()
}

fn by(s: &str) -> Option<By> {
    match s.split_once(' ')? {
        ("user", name) if !name.is_empty() => Some(By::user(name)),
        ("token", name) if !name.is_empty() => Some(By::token(name)),
        _ => None,
    }
}

/// `X s` → X.
fn secs(s: &str) -> Option<f64> {
    s.strip_suffix(" s")?.parse().ok()
}

/// `A late: WHY past its grace of B` for the line or the notice.
fn late(s: &str) -> Option<Reason> {
    let (late_s, rest) = s.split_once(" late: ")?;
    let (why, grace) = rest.split_once(" past its grace of ")?;
    let (late_seconds, grace_seconds) = (span(late_s)?, span(grace)?);
    match why {
        "the line was busy" => Some(Reason::LineBusy {
            late_seconds,
            grace_seconds,
        }),
        "the notice was still being read aloud (see [tts] timeout)" => {
            Some(Reason::NoticeNotReady {
                late_seconds,
                grace_seconds,
            })
        }
        _ => None,
    }
}

fn session_cap(s: &str) -> Option<Reason> {
    let rest = s.strip_prefix("Vượt giới hạn buổi phát thanh ")?;
    let (_, rest) = rest.split_once(" / session cap of ")?;
    let (cap, rest) = rest.split_once(" ([session] max_minutes) reached: programme \"")?;
    let (programme, rest) = rest.rsplit_once("\" had aired ")?;
    let (used, item) = rest.split_once(" and this item is ")?;
    Some(Reason::SessionCap {
        programme: programme.to_string(),
        cap_seconds: span(cap)? as f64,
        used_seconds: span(used)? as f64,
        item_seconds: span(item)? as f64,
    })
}

fn truncated(s: &str) -> Option<Reason> {
    let body = s.strip_suffix(": the file is truncated or damaged; upload it again")?;
    let (file, rest) = body.rsplit_once(" ended after ")?;
    let (aired, expected) = rest.split_once(" of its ")?;
    Some(Reason::Truncated {
        file: file.to_string(),
        aired_seconds: secs(aired)?,
        expected_seconds: secs(expected)?,
    })
}

/// One sentence (no relay details).
fn one(s: &str) -> Option<Reason> {
    let fixed = match s {
        "station paused" => Some(Reason::StationPaused),
        "quiet hours" => Some(Reason::QuietHours),
        "removed from the queue by an operator" => Some(Reason::Dequeued),
        "stopped" => Some(Reason::Stopped),
        "daemon stopped" => Some(Reason::DaemonStopped),
        "the audio output stopped reporting; engine stopped" => Some(Reason::OutputGone),
        "nothing was played: the file holds no audio" => Some(Reason::NoAudio),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    if let Some(b) = s.strip_prefix("skipped by ") {
        return Some(Reason::SkippedBy { by: by(b)? });
    }
    if let Some(b) = s.strip_prefix("station paused by ") {
        return Some(Reason::PausedBy { by: by(b)? });
    }
    if let Some(b) = s.strip_prefix("emergency cancelled by ") {
        return Some(Reason::EmergencyCancelledBy { by: by(b)? });
    }
    if let Some(rest) = s.strip_prefix("interrupted by emergency \"") {
        let (bulletin, rest) = rest.split_once("\" (")?;
        let title = rest.strip_suffix(')')?;
        return Some(Reason::InterruptedByEmergency {
            bulletin: bulletin.to_string(),
            title: title.to_string(),
        });
    }
    if let Some(rest) =
        s.strip_prefix("station off air at its time (daemon stopped or clock jumped); first seen ")
    {
        let (l, g) = rest.split_once(" late, grace ")?;
        return Some(Reason::OffAir {
            late_seconds: span(l)?,
            grace_seconds: span(g)?,
        });
    }
    if let Some(rest) = s.strip_prefix("the daemon was down at its time; it restarted ") {
        let (l, g) = rest.split_once(" late, past its grace of ")?;
        return Some(Reason::DownAtItsTime {
            late_seconds: span(l)?,
            grace_seconds: span(g)?,
        });
    }
    if let Some(e) =
        s.strip_prefix("Không đọc được thông báo / the notice could not be read aloud: ")
    {
        return Some(Reason::SpeechFailed {
            error: e.to_string(),
        });
    }
    if let Some(rest) = s.strip_prefix("the output took no audio for ") {
        let x = rest.strip_suffix(" (sound card stuck or gone?)")?;
        return Some(Reason::OutputStalled { seconds: secs(x)? });
    }
    if let Some(rest) = s.strip_prefix("still playing ") {
        let x =
            rest.strip_suffix(" after it should have ended (the output is too slow or stuck)")?;
        return Some(Reason::OutputOverran { seconds: secs(x)? });
    }
    late(s).or_else(|| session_cap(s)).or_else(|| truncated(s))
}

/// `at 12 s, WHY (3 times)`.
fn drop_note(s: &str) -> Option<RelayDrop> {
    let rest = s.strip_prefix("at ")?;
    let (at, rest) = rest.split_once(" s, ")?;
    let (why, times) = match rest.rsplit_once(" (") {
        Some((why, t)) if t.ends_with(" times)") => (why, t.strip_suffix(" times)")?.parse().ok()?),
        _ => (rest, 1),
    };
    Some(RelayDrop {
        at: at.parse().ok()?,
        why: why.to_string(),
        times,
    })
}

/// A relay report: `relay: [N drop(s): NOTES][; fallback aired X s][; silence Y s]`.
fn relay_report(s: &str) -> Option<Vec<Reason>> {
    let mut rest = s.strip_prefix("relay: ")?;
    let mut tail = Vec::new();
    if let Some((head, x)) = rest
        .rsplit_once("silence ")
        .filter(|(h, _)| h.is_empty() || h.ends_with("; "))
    {
        tail.push(Reason::RelaySilence { seconds: secs(x)? });
        rest = head.strip_suffix("; ").unwrap_or(head);
    }
    if let Some((head, x)) = rest
        .rsplit_once("fallback aired ")
        .filter(|(h, _)| h.is_empty() || h.ends_with("; "))
    {
        tail.push(Reason::RelayFallback { seconds: secs(x)? });
        rest = head.strip_suffix("; ").unwrap_or(head);
    }
    let mut out = Vec::new();
    if !rest.is_empty() {
        let (n, notes) = rest.split_once(" drop(s): ")?;
        let n: usize = n.parse().ok()?;
        // Notes are joined by "; " and each starts "at N s, ".
        let mut drops = Vec::new();
        let mut cur = String::new();
        for piece in notes.split("; ") {
            if drop_note(piece).is_some() && !cur.is_empty() {
                drops.push(drop_note(&cur)?);
                cur.clear();
            }
            if !cur.is_empty() {
                cur.push_str("; ");
            }
            cur.push_str(piece);
        }
        drops.push(drop_note(&cur)?);
        if drops.len() != n {
            return None;
        }
        out.push(Reason::RelayDrops { drops });
    }
    tail.reverse();
    out.extend(tail);
    Some(out)
}

/// An old row's reason text as reasons: known sentences (and a relay's
/// details after them) become codes; anything else is free text, whole.
pub fn parse(text: &str) -> Reasons {
    parse_known(text).unwrap_or_else(|| {
        Reasons::from(Reason::Free {
            text: text.to_string(),
        })
    })
}

fn parse_known(text: &str) -> Option<Reasons> {
    relay_row(text).or_else(|| one(text).map(Reasons::from))
}

fn relay_row(text: &str) -> Option<Reasons> {
    // Relay rows: the player's reason, then "relay: no audio came from the
    // source", then the relay's report, joined by "; ".
    const NO_SOURCE: &str = "relay: no audio came from the source";
    let (head, relay) = match text.find("relay: ") {
        Some(0) => ("", text),
        Some(i) if text[..i].ends_with("; ") => (&text[..i - 2], &text[i..]),
        _ => return None,
    };
    let mut list = Vec::new();
    if !head.is_empty() {
        list.push(one(head)?);
    }
    let report = if let Some(rest) = relay.strip_prefix(NO_SOURCE) {
        list.push(Reason::RelayNoSource);
        rest.strip_prefix("; ").unwrap_or(rest)
    } else {
        relay
    };
    if !report.is_empty() {
        list.extend(relay_report(report)?);
    }
    Reasons::from_list(list)
}

/// The migration's step in Rust: every row with a reason and no code gets
/// its code and arguments (inside the migration's transaction).
pub(super) fn convert(tx: &Transaction) -> rusqlite::Result<()> {
    let rows: Vec<(i64, String)> = {
        let mut stmt = tx.prepare(
            "SELECT id, reason FROM airtime WHERE reason IS NOT NULL AND reason_code IS NULL",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        rows
    };
    let mut update = tx.prepare(
        "UPDATE airtime SET reason_code = ?2, reason_args = ?3, reason_more = ?4 WHERE id = ?1",
    )?;
    for (id, text) in rows {
        let r = parse(&text);
        update.execute(params![id, r.main.code(), r.args_json(), r.more_json()])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Lang;

    /// Every known sentence today's engine writes reads back to a reason
    /// whose English rendering is the same sentence.
    #[test]
    fn known_sentences_read_back_and_render_the_same() {
        let known = [
            "skipped by user lan",
            "skipped by token van-hanh",
            "station paused by user lan",
            "emergency cancelled by token x",
            "interrupted by emergency \"bao-lu\" (Báo lũ (khẩn))",
            "station paused",
            "quiet hours",
            "removed from the queue by an operator",
            "stopped",
            "daemon stopped",
            "the audio output stopped reporting; engine stopped",
            "nothing was played: the file holds no audio",
            "3m 20s late: the line was busy past its grace of 2m",
            "1h 5m late: the notice was still being read aloud (see [tts] timeout) past its grace of 10m",
            "station off air at its time (daemon stopped or clock jumped); first seen 1h late, grace 10m",
            "the daemon was down at its time; it restarted 45s late, past its grace of 30s",
            "the output took no audio for 3.0 s (sound card stuck or gone?)",
            "still playing 5.0 s after it should have ended (the output is too slow or stuck)",
            "a/b.mp3 ended after 3.5 s of its 60.0 s: the file is truncated or damaged; upload it again",
            "relay: no audio came from the source",
            "relay: fallback aired 6.0 s",
            "relay: 1 drop(s): at 4 s, reset (2 times)",
        ];
        for text in known {
            let r = parse(text);
            assert!(
                r.iter().all(|x| !matches!(x, Reason::Free { .. })),
                "{text:?} → {r:?}"
            );
            assert_eq!(r.text(Lang::En), text, "{r:?}");
        }
        let r = parse("3m 20s late: the line was busy past its grace of 2m");
        assert_eq!(
            r.main,
            Reason::LineBusy {
                late_seconds: 200,
                grace_seconds: 120
            }
        );
    }

    #[test]
    fn a_relay_row_reads_back_as_its_reason_and_details() {
        let r = parse(
            "relay: no audio came from the source; relay: 2 drop(s): at 0 s, HTTP 503; x; \
             at 12 s, the stream ended (3 times); fallback aired 6.0 s; silence 1.5 s",
        );
        assert_eq!(r.main, Reason::RelayNoSource);
        assert_eq!(
            r.more,
            vec![
                Reason::relay_drops(&[(0.0, "HTTP 503; x", 1), (12.0, "the stream ended", 3)]),
                Reason::RelayFallback { seconds: 6.0 },
                Reason::RelaySilence { seconds: 1.5 },
            ]
        );
        let r = parse("skipped by user lan; relay: 1 drop(s): at 4 s, reset");
        assert_eq!(
            r.main,
            Reason::SkippedBy {
                by: By::user("lan")
            }
        );
        assert_eq!(r.more, vec![Reason::relay_drops(&[(4.0, "reset", 1)])]);
        let r = parse("interrupted by emergency \"b\" (t); relay: silence 2.0 s");
        assert_eq!(r.main.code(), "interrupted_by_emergency");
        assert_eq!(r.more, vec![Reason::RelaySilence { seconds: 2.0 }]);
    }

    #[test]
    fn old_bilingual_sentences_read_back() {
        let r = parse(
            "Không đọc được thông báo / the notice could not be read aloud: espeak-ng: exit 1",
        );
        assert_eq!(
            r.main,
            Reason::SpeechFailed {
                error: "espeak-ng: exit 1".into()
            }
        );
        let r = parse(
            "Vượt giới hạn buổi phát thanh 30m / session cap of 30m ([session] max_minutes) \
             reached: programme \"sang\" had aired 28m 20s and this item is 4m",
        );
        assert_eq!(
            r.main,
            Reason::SessionCap {
                programme: "sang".into(),
                cap_seconds: 1800.0,
                used_seconds: 1700.0,
                item_seconds: 240.0
            }
        );
    }

    /// A version 4 ledger (today's schema before this one, made as the
    /// migrations made it) holding the English sentences of a real run:
    /// opened, each row gets its code and arguments, rendered in Vietnamese;
    /// unknown text stays, whole; the English column is left as it was.
    #[test]
    fn a_version_4_ledger_migrates_its_sentences_into_codes() {
        use crate::ledger::test_util::{fresh, TZ};
        use crate::ledger::{Filter, Ledger, APPLICATION_ID};
        let (_dir, path) = fresh();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let old = [
            (
                1,
                "interrupted",
                Some("interrupted by emergency \"bao-lu\" (Báo lũ)"),
            ),
            (2, "skipped", Some("quiet hours")),
            (3, "interrupted", Some("skipped by user lan")),
            (
                4,
                "missed",
                Some("3m 20s late: the line was busy past its grace of 2m"),
            ),
            (5, "failed", Some("a.mp3: end of stream")),
            (
                6,
                "failed",
                Some("relay: no audio came from the source; relay: fallback aired 6.0 s"),
            ),
            (7, "completed", None),
        ];
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            for m in &super::super::schema::MIGRATIONS[..4] {
                c.execute_batch(m).unwrap();
            }
            c.pragma_update(None, "user_version", 4).unwrap();
            c.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            for (id, outcome, reason) in old {
                c.execute(
                    "INSERT INTO airtime (id, occurrence, bulletin, title, priority, source, file,
                       scheduled_at, planned_seconds, aired_seconds, outcome, reason, scheduled_ms)
                     VALUES (?1, 'b@x', 'b', 'B', 'normal', 'schedule', 'b.mp3',
                       '2026-10-07T06:00:00.000+07:00', 60, 0, ?2, ?3, ?1)",
                    params![id, outcome, reason],
                )
                .unwrap();
            }
        }
        let ledger = Ledger::open(&path, TZ).unwrap();
        let rows = ledger.rows(&Filter::default()).unwrap();
        let main: Vec<Option<&Reason>> = rows
            .iter()
            .map(|r| r.reason.as_ref().map(|r| &r.main))
            .collect();
        assert_eq!(
            main,
            [
                Some(&Reason::InterruptedByEmergency {
                    bulletin: "bao-lu".into(),
                    title: "Báo lũ".into()
                }),
                Some(&Reason::QuietHours),
                Some(&Reason::SkippedBy {
                    by: By::user("lan")
                }),
                Some(&Reason::LineBusy {
                    late_seconds: 200,
                    grace_seconds: 120
                }),
                Some(&Reason::Free {
                    text: "a.mp3: end of stream".into()
                }),
                Some(&Reason::RelayNoSource),
                None,
            ]
        );
        assert_eq!(
            rows[5].reason.as_ref().unwrap().more,
            [Reason::RelayFallback { seconds: 6.0 }]
        );
        let vi: Vec<String> = rows
            .iter()
            .map(|r| {
                r.reason
                    .as_ref()
                    .map(|r| r.text(Lang::Vi))
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(vi[0], "bị ngắt để phát tin khẩn cấp «Báo lũ»");
        assert_eq!(vi[2], "người dùng lan đã bỏ qua");
        assert_eq!(vi[4], "a.mp3: end of stream", "unknown text, verbatim");
        // In the file: the codes, and the English text as it was.
        let c = rusqlite::Connection::open(&path).unwrap();
        let stored: Vec<(Option<String>, Option<String>, Option<String>)> = c
            .prepare("SELECT reason_code, reason_args, reason FROM airtime ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            stored[0],
            (
                Some("interrupted_by_emergency".into()),
                Some(r#"{"bulletin":"bao-lu","title":"Báo lũ"}"#.into()),
                Some("interrupted by emergency \"bao-lu\" (Báo lũ)".into())
            )
        );
        assert_eq!(stored[4].0.as_deref(), Some("free"));
        assert_eq!(stored[6], (None, None, None));
    }

    #[test]
    fn unknown_text_is_kept_whole() {
        for text in [
            "a/b.mp3: end of stream",
            "late",
            "skipped by someone",
            "relay: something new",
            "x; relay: silence 2.0 s",
        ] {
            let r = parse(text);
            assert_eq!(
                r,
                Reasons::from(Reason::Free {
                    text: text.to_string()
                }),
                "{text}"
            );
        }
    }
}
