//! The state of the link to the province's broker (`crate::upstream`), as
//! the status, `/metrics` and the console show it.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Default)]
pub struct Link {
    /// The station has an `[upstream]` and its task runs.
    configured: AtomicBool,
    connected: AtomicBool,
    /// Unix milliseconds of the last message from the broker; 0: none yet.
    last_message_ms: AtomicI64,
    refused: AtomicU64,
    /// The connection's client, to acknowledge what operators decide on
    /// the province's bulletins; `None` while no link runs.
    client: std::sync::Mutex<Option<rumqttc::AsyncClient>>,
}

/// The link, read at one instant.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LinkView {
    pub connected: bool,
    pub last_message: Option<DateTime<Utc>>,
    /// Messages refused since the daemon started.
    pub refused: u64,
}

impl Link {
    /// The client of the link that runs now (`None`: none runs).
    pub fn set_client(&self, c: Option<rumqttc::AsyncClient>) {
        *self.client.lock().unwrap_or_else(|e| e.into_inner()) = c;
    }

    pub fn client(&self) -> Option<rumqttc::AsyncClient> {
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// No link runs (stopped for a reload, or no `[upstream]` now).
    pub fn stopped(&self) {
        self.configured.store(false, Ordering::Relaxed);
        self.connected.store(false, Ordering::Relaxed);
        self.set_client(None);
    }

    pub fn set_configured(&self) {
        self.configured.store(true, Ordering::Relaxed);
    }

    pub fn set_connected(&self, up: bool) {
        self.connected.store(up, Ordering::Relaxed);
    }

    pub fn message(&self, at: DateTime<Utc>) {
        self.last_message_ms
            .store(at.timestamp_millis(), Ordering::Relaxed);
    }

    pub fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// `None` when the station has no `[upstream]`.
    pub fn view(&self) -> Option<LinkView> {
        if !self.configured.load(Ordering::Relaxed) {
            return None;
        }
        let ms = self.last_message_ms.load(Ordering::Relaxed);
        Some(LinkView {
            connected: self.connected.load(Ordering::Relaxed),
            last_message: (ms != 0)
                .then(|| DateTime::from_timestamp_millis(ms))
                .flatten(),
            refused: self.refused.load(Ordering::Relaxed),
        })
    }
}
