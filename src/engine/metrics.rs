//! Counters the engine keeps for `/metrics` (Prometheus text format).
//!
//! Counted in memory since the daemon started, as Prometheus expects of
//! counters; the ledger stays the record of what aired.

use std::collections::BTreeMap;
use std::fmt::{Display, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::{OutputState, Status};
use crate::config::Priority;
use crate::ledger::{Airing, Outcome};

/// Upper bounds (seconds) of the lateness histogram buckets: how long after
/// its scheduled instant an item's first sample went out.
pub const LATENESS_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 600.0,
];

#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
    /// Ledger writes waiting for the disk (the recorder's backlog).
    ledger_waiting: Arc<AtomicUsize>,
}

#[derive(Debug, Default, Clone)]
struct Counters {
    outcomes: BTreeMap<&'static str, u64>,
    /// Seconds aired by (campaign, source).
    seconds_aired: BTreeMap<(String, &'static str), f64>,
    lateness: [u64; LATENESS_BUCKETS.len()],
    lateness_count: u64,
    lateness_sum: f64,
    /// When the last item that aired sent its first sample.
    last_aired: Option<DateTime<Utc>>,
    /// Times the output went into its failed state.
    output_failures: u64,
    output_failed: bool,
    /// Since when the emergency in force has been.
    emergency_since: Option<DateTime<Utc>>,
}

impl Metrics {
    /// Counters for an engine whose recorder counts its waiting writes in
    /// `ledger_waiting`.
    pub(super) fn new(ledger_waiting: Arc<AtomicUsize>) -> Metrics {
        Metrics {
            inner: Mutex::default(),
            ledger_waiting,
        }
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn outcome(&self, outcome: Outcome, airing: &Airing, aired_seconds: f64) {
        let mut c = self.counters();
        *c.outcomes.entry(outcome.as_str()).or_default() += 1;
        if aired_seconds > 0.0 {
            let campaign = airing.campaign.clone().unwrap_or_default();
            *c.seconds_aired
                .entry((campaign, airing.source.as_str()))
                .or_default() += aired_seconds;
        }
    }

    /// An item's first sample went out at `at`, `seconds` after its instant.
    pub(super) fn started(&self, at: DateTime<Utc>, seconds: f64) {
        let seconds = seconds.max(0.0);
        let mut c = self.counters();
        for (i, bound) in LATENESS_BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                c.lateness[i] += 1;
            }
        }
        c.lateness_count += 1;
        c.lateness_sum += seconds;
        c.last_aired = c.last_aired.max(Some(at));
    }

    /// What the ledger says aired last before this run (`Resume`), so a
    /// restart does not look like a station that never aired.
    pub(super) fn seed_last_aired(&self, at: Option<DateTime<Utc>>) {
        let mut c = self.counters();
        c.last_aired = c.last_aired.max(at);
    }

    /// Follow the published status: count the output's failures and note
    /// when an emergency came into force.
    pub(super) fn observe(&self, status: &Status, now: DateTime<Utc>) {
        let mut c = self.counters();
        let failed = matches!(status.output, OutputState::Failed { .. });
        if failed && !c.output_failed {
            c.output_failures += 1;
        }
        c.output_failed = failed;
        c.emergency_since = match &status.emergency {
            // A repeating one knows, across restarts.
            Some(e) => Some(e.since),
            // An emergency that airs once: since this run saw it.
            None if emergency_active(status) => Some(c.emergency_since.unwrap_or(now)),
            None => None,
        };
    }

    /// The Prometheus text exposition, with the engine's current status.
    pub fn render(&self, status: &Status) -> String {
        let c = self.counters().clone();
        let mut out = String::new();
        let o = &mut out;
        family(
            o,
            "loa_items_total",
            "counter",
            "Items that ended, by outcome, since the daemon started.",
        );
        for oc in Outcome::ALL {
            let n = c.outcomes.get(oc.as_str()).copied().unwrap_or(0);
            let _ = writeln!(o, "loa_items_total{{outcome=\"{}\"}} {n}", oc.as_str());
        }
        family(o, "loa_aired_seconds_total", "counter",
            "Seconds of audio aired, by campaign (\"\" = none) and source, since the daemon started.");
        for ((campaign, source), secs) in &c.seconds_aired {
            let _ = writeln!(
                o,
                "loa_aired_seconds_total{{campaign=\"{}\",source=\"{source}\"}} {secs:.3}",
                escape(campaign)
            );
        }
        family(
            o,
            "loa_lateness_seconds",
            "histogram",
            "How late items started after their scheduled instant.",
        );
        for (i, bound) in LATENESS_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                o,
                "loa_lateness_seconds_bucket{{le=\"{bound}\"}} {}",
                c.lateness[i]
            );
        }
        let _ = writeln!(
            o,
            "loa_lateness_seconds_bucket{{le=\"+Inf\"}} {}",
            c.lateness_count
        );
        let _ = writeln!(o, "loa_lateness_seconds_sum {:.6}", c.lateness_sum);
        let _ = writeln!(o, "loa_lateness_seconds_count {}", c.lateness_count);
        sample(
            o,
            "loa_last_aired_timestamp_seconds",
            "gauge",
            "When the last item that aired started (Unix time; 0: nothing in the ledger).",
            unix(c.last_aired),
        );
        family(
            o,
            "loa_output_state",
            "gauge",
            "Audio output state (1 for the current one).",
        );
        let current = match status.output {
            OutputState::Open => "open",
            OutputState::Idle => "idle",
            OutputState::Failed { .. } => "failed",
        };
        for s in ["open", "idle", "failed"] {
            let _ = writeln!(
                o,
                "loa_output_state{{state=\"{s}\"}} {}",
                u8::from(s == current)
            );
        }
        sample(
            o,
            "loa_output_failures_total",
            "counter",
            "Times the audio output failed (device missing or broken) since the daemon started.",
            c.output_failures,
        );
        sample(
            o,
            "loa_queue_length",
            "gauge",
            "Items waiting for the line.",
            status.queue_length,
        );
        sample(
            o,
            "loa_airing",
            "gauge",
            "1 while an item airs.",
            u8::from(status.airing.is_some()),
        );
        sample(
            o,
            "loa_paused",
            "gauge",
            "1 while the station is paused.",
            u8::from(status.paused),
        );
        sample(
            o,
            "loa_emergency_active",
            "gauge",
            "1 while a repeating emergency is in force or an emergency airs.",
            u8::from(emergency_active(status)),
        );
        if let Some(since) = c.emergency_since {
            sample(o, "loa_emergency_since_timestamp_seconds", "gauge", "Since when an emergency has been in force (Unix time; a repeating one's start survives restarts).", unix(Some(since)));
        }
        if let Some(line) = status.line {
            sample(o, "loa_line_silent", "gauge", "1 while the loudspeaker line is silent though an item airs ([monitor] silence_alarm and more).", u8::from(line.silent));
            sample(
                o,
                "loa_line_foreign",
                "gauge",
                "1 while the loudspeaker line carries sound though nothing airs (30 s and more).",
                u8::from(line.foreign),
            );
        }
        sample(o, "loa_clock_suspect", "gauge", "1 while the wall clock is behind the ledger (no real-time clock, NTP not synced): scheduled items wait.", u8::from(status.clock_suspect));
        sample(
            o,
            "loa_ledger_writes_waiting",
            "gauge",
            "Ledger writes waiting for the disk (full or failing); they land once it recovers.",
            self.ledger_waiting.load(Ordering::Relaxed),
        );
        out
    }
}

fn emergency_active(status: &Status) -> bool {
    status.emergency.is_some()
        || status
            .airing
            .as_ref()
            .is_some_and(|a| a.priority == Priority::Emergency)
}

/// An instant as Prometheus timestamps are: Unix seconds, 0 for none.
fn unix(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "0".into(),
        |t| format!("{:.3}", t.timestamp_millis() as f64 / 1e3),
    )
}

/// A metric family's `# HELP` and `# TYPE` lines.
pub(crate) fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A metric without labels: its `# HELP` and `# TYPE` lines, then its one
/// sample.
pub(crate) fn sample(out: &mut String, name: &str, kind: &str, help: &str, value: impl Display) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// Escape a Prometheus label value.
pub(crate) fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::test_util::{airing, at};
    use crate::ledger::Source;

    #[test]
    fn renders_counters_histogram_and_gauges() {
        let waiting = Arc::new(AtomicUsize::new(3));
        let m = Metrics::new(Arc::clone(&waiting));
        let cds = airing("a", Some("cds-2026"), at(6, 0));
        m.outcome(Outcome::Completed, &cds, 60.0);
        let mut by_hand = cds.clone();
        by_hand.source = Source::Operator;
        m.outcome(Outcome::Completed, &by_hand, 30.0);
        m.outcome(Outcome::Missed, &airing("b", None, at(7, 0)), 0.0);
        let text = m.render(&Status::idle());
        assert!(
            text.contains("loa_last_aired_timestamp_seconds 0\n"),
            "{text}"
        );
        m.started(at(6, 0), 0.002);
        m.started(at(5, 0), 120.0);
        m.seed_last_aired(Some(at(4, 0)));
        let text = m.render(&Status::idle());
        assert!(text.contains("loa_items_total{outcome=\"completed\"} 2"));
        assert!(text.contains("loa_items_total{outcome=\"missed\"} 1"));
        assert!(text.contains("loa_items_total{outcome=\"failed\"} 0"));
        assert!(text
            .contains("loa_aired_seconds_total{campaign=\"cds-2026\",source=\"schedule\"} 60.000"));
        assert!(text
            .contains("loa_aired_seconds_total{campaign=\"cds-2026\",source=\"operator\"} 30.000"));
        assert!(text.contains("loa_lateness_seconds_bucket{le=\"0.001\"} 0"));
        assert!(text.contains("loa_lateness_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("loa_lateness_seconds_bucket{le=\"300\"} 2"));
        assert!(text.contains("loa_lateness_seconds_count 2"));
        let last = at(6, 0).timestamp();
        assert!(text.contains(&format!("loa_last_aired_timestamp_seconds {last}.000")));
        assert!(text.contains("loa_output_state{state=\"idle\"} 1"));
        assert!(text.contains("loa_queue_length 0"));
        assert!(text.contains("loa_ledger_writes_waiting 3"));
        assert!(text.contains("loa_emergency_active 0"));
        assert!(!text.contains("loa_emergency_since_timestamp_seconds"));
        assert!(text.contains("loa_clock_suspect 0"));
    }

    #[test]
    fn counts_output_failures_and_emergency_time() {
        let m = Metrics::default();
        let mut s = Status::idle();
        let failed = OutputState::Failed {
            reason: crate::reason::Reason::DeviceFailed {
                error: "no card".into(),
            }
            .into(),
        };
        for (output, now) in [
            (failed.clone(), at(6, 0)),
            (failed.clone(), at(6, 1)),
            (OutputState::Idle, at(6, 2)),
            (failed, at(6, 3)),
        ] {
            s.output = output;
            m.observe(&s, now);
        }
        assert!(m.render(&s).contains("loa_output_failures_total 2\n"));
        s.emergency = Some(super::super::status::EmergencyView {
            bulletin: "bao".into(),
            title: "Bão".into(),
            repeat_every: chrono::Duration::minutes(30),
            until: None,
            next_at: at(7, 0),
            since: at(5, 10),
        });
        m.observe(&s, at(6, 10));
        m.observe(&s, at(6, 40));
        let text = m.render(&s);
        assert!(text.contains("loa_emergency_active 1"));
        let since = at(5, 10).timestamp();
        assert!(text.contains(&format!(
            "loa_emergency_since_timestamp_seconds {since}.000"
        )));
        s.emergency = None;
        m.observe(&s, at(6, 50));
        assert!(!m.render(&s).contains("loa_emergency_since"));
        // A one-off emergency airing: in force since this run saw it.
        s.airing = Some(super::super::status::AiringView {
            occurrence: "bao@x".into(),
            bulletin: "bao".into(),
            title: "Bão".into(),
            program: None,
            priority: Priority::Emergency,
            source: crate::ledger::Source::Emergency,
            started_at: at(7, 0),
            position_seconds: 0.0,
            duration_seconds: 60.0,
        });
        m.observe(&s, at(7, 0));
        m.observe(&s, at(7, 1));
        let since = at(7, 0).timestamp();
        assert!(m.render(&s).contains(&format!(
            "loa_emergency_since_timestamp_seconds {since}.000"
        )));
        s.airing = None;
        m.observe(&s, at(7, 2));
        let text = m.render(&s);
        assert!(text.contains("loa_emergency_active 0"));
        assert!(!text.contains("loa_emergency_since"));
    }
}
