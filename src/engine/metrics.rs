//! Counters the engine keeps for `/metrics` (Prometheus text format).
//!
//! Counted in memory since the daemon started, as Prometheus expects of
//! counters; the ledger stays the record of what aired.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use super::{OutputState, Status};
use crate::ledger::Outcome;

/// Upper bounds (seconds) of the lateness histogram buckets: how long after
/// its scheduled instant an item's first sample went out.
pub const LATENESS_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 600.0,
];

#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
}

#[derive(Debug, Default, Clone)]
struct Counters {
    outcomes: BTreeMap<&'static str, u64>,
    seconds_by_campaign: BTreeMap<String, f64>,
    lateness: [u64; LATENESS_BUCKETS.len()],
    lateness_count: u64,
    lateness_sum: f64,
}

impl Metrics {
    pub(super) fn outcome(&self, outcome: Outcome, campaign: Option<&str>, aired_seconds: f64) {
        let mut c = self.inner.lock().expect("metrics lock");
        *c.outcomes.entry(outcome.as_str()).or_default() += 1;
        if aired_seconds > 0.0 {
            *c.seconds_by_campaign
                .entry(campaign.unwrap_or("").to_string())
                .or_default() += aired_seconds;
        }
    }

    pub(super) fn lateness(&self, seconds: f64) {
        let seconds = seconds.max(0.0);
        let mut c = self.inner.lock().expect("metrics lock");
        for (i, bound) in LATENESS_BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                c.lateness[i] += 1;
            }
        }
        c.lateness_count += 1;
        c.lateness_sum += seconds;
    }

    /// The Prometheus text exposition, with the engine's current status.
    pub fn render(&self, status: &Status) -> String {
        let c = self.inner.lock().expect("metrics lock").clone();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP loa_items_total Items that ended, by outcome, since the daemon started."
        );
        let _ = writeln!(out, "# TYPE loa_items_total counter");
        for o in Outcome::ALL {
            let n = c.outcomes.get(o.as_str()).copied().unwrap_or(0);
            let _ = writeln!(out, "loa_items_total{{outcome=\"{}\"}} {n}", o.as_str());
        }
        let _ = writeln!(
            out,
            "# HELP loa_aired_seconds_total Seconds of audio aired, by campaign (\"\" = none)."
        );
        let _ = writeln!(out, "# TYPE loa_aired_seconds_total counter");
        for (campaign, secs) in &c.seconds_by_campaign {
            let _ = writeln!(
                out,
                "loa_aired_seconds_total{{campaign=\"{}\"}} {secs:.3}",
                escape(campaign)
            );
        }
        let _ = writeln!(
            out,
            "# HELP loa_lateness_seconds How late items started after their scheduled instant."
        );
        let _ = writeln!(out, "# TYPE loa_lateness_seconds histogram");
        for (i, bound) in LATENESS_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "loa_lateness_seconds_bucket{{le=\"{bound}\"}} {}",
                c.lateness[i]
            );
        }
        let _ = writeln!(
            out,
            "loa_lateness_seconds_bucket{{le=\"+Inf\"}} {}",
            c.lateness_count
        );
        let _ = writeln!(out, "loa_lateness_seconds_sum {:.6}", c.lateness_sum);
        let _ = writeln!(out, "loa_lateness_seconds_count {}", c.lateness_count);
        let _ = writeln!(
            out,
            "# HELP loa_output_state Audio output state (1 for the current one)."
        );
        let _ = writeln!(out, "# TYPE loa_output_state gauge");
        let current = match status.output {
            OutputState::Open => "open",
            OutputState::Idle => "idle",
            OutputState::Failed { .. } => "failed",
        };
        for s in ["open", "idle", "failed"] {
            let _ = writeln!(
                out,
                "loa_output_state{{state=\"{s}\"}} {}",
                u8::from(s == current)
            );
        }
        let _ = writeln!(out, "# HELP loa_queue_length Items waiting for the line.");
        let _ = writeln!(out, "# TYPE loa_queue_length gauge");
        let _ = writeln!(out, "loa_queue_length {}", status.queue_length);
        let _ = writeln!(out, "# HELP loa_airing 1 while an item airs.");
        let _ = writeln!(out, "# TYPE loa_airing gauge");
        let _ = writeln!(out, "loa_airing {}", u8::from(status.airing.is_some()));
        let _ = writeln!(out, "# HELP loa_paused 1 while the station is paused.");
        let _ = writeln!(out, "# TYPE loa_paused gauge");
        let _ = writeln!(out, "loa_paused {}", u8::from(status.paused));
        out
    }
}

/// Escape a Prometheus label value.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_gauges() {
        let m = Metrics::default();
        m.outcome(Outcome::Completed, Some("cds-2026"), 60.0);
        m.outcome(Outcome::Missed, None, 0.0);
        m.lateness(0.002);
        m.lateness(120.0);
        let status = Status {
            airing: None,
            queue: Vec::new(),
            queue_length: 0,
            queue_next: None,
            paused: false,
            output: OutputState::Idle,
            emergency: None,
            clock_suspect: false,
        };
        let text = m.render(&status);
        assert!(text.contains("loa_items_total{outcome=\"completed\"} 1"));
        assert!(text.contains("loa_items_total{outcome=\"missed\"} 1"));
        assert!(text.contains("loa_items_total{outcome=\"failed\"} 0"));
        assert!(text.contains("loa_aired_seconds_total{campaign=\"cds-2026\"} 60.000"));
        assert!(text.contains("loa_lateness_seconds_bucket{le=\"0.001\"} 0"));
        assert!(text.contains("loa_lateness_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("loa_lateness_seconds_bucket{le=\"300\"} 2"));
        assert!(text.contains("loa_lateness_seconds_count 2"));
        assert!(text.contains("loa_output_state{state=\"idle\"} 1"));
        assert!(text.contains("loa_queue_length 0"));
    }
}
