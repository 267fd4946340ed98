//! Warnings that need nothing but the station itself: a campaign without
//! bulletins, a bulletin that airs only when queued. (Those that need the
//! schedule are the `check` module's.)

use std::collections::HashSet;

use super::load::Loader;
use super::*;

impl Loader<'_> {
    pub(super) fn warnings(&mut self, station: &Station) {
        self.unscheduled_warnings(station);
        self.campaign_warnings(station);
    }

    /// A warning about a whole item, pointing at its id.
    fn warn_item(&mut self, label: &str, msg: &str, help: impl Into<String>) {
        let span = self.id_spans.get(label).cloned();
        self.at(span).item(label).warn(msg, help);
    }

    /// Bulletins that air only when an operator queues them: no `at` or
    /// `cron`, in no programme, no relay's fallback, and not emergencies.
    fn unscheduled_warnings(&mut self, station: &Station) {
        let in_programme: HashSet<usize> = station
            .programs
            .iter()
            .flat_map(|p| p.items.iter())
            .filter_map(|i| match i {
                ProgramItem::Bulletin(b) => Some(*b),
                ProgramItem::Relay(_) => None,
            })
            .chain(station.relays.iter().filter_map(|r| r.fallback))
            .collect();
        for (i, b) in station.bulletins.iter().enumerate() {
            if b.enabled
                && matches!(b.timing, Timing::Unscheduled)
                && !in_programme.contains(&i)
                && b.priority != Priority::Emergency
            {
                self.warn_item(
                    &item_label("bulletin", &b.id),
                    "has no `at` or `cron` and is in no programme: it airs only when an operator queues it",
                    "add at = [\"HH:MM\"] or put it in a programme's items",
                );
            }
        }
    }

    /// Campaigns that no bulletin or relay belongs to.
    fn campaign_warnings(&mut self, station: &Station) {
        let named: HashSet<&str> = (station.bulletins.iter().map(|b| &b.campaign))
            .chain(station.relays.iter().map(|r| &r.campaign))
            .filter_map(|c| c.as_deref())
            .collect();
        for c in &station.campaigns {
            if !named.contains(c.id.as_str()) {
                self.warn_item(
                    &item_label("campaign", &c.id),
                    "no bulletin belongs to this campaign",
                    format!("set campaign = \"{}\" on its bulletins, or remove it", c.id),
                );
            }
        }
    }
}
