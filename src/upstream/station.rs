//! The station's end of the link: one task keeps the connection to the
//! province's broker (persistent session, QoS 1, client id = station id,
//! reconnecting with backoff), and one worker checks and acts on what
//! arrives, in order, acknowledging each message to the broker only once
//! it has been acted on (so a station that dies meanwhile gets it again,
//! and the ids it already obeyed keep it from airing twice).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use rumqttc::{AsyncClient, Event, Packet, Publish, QoS};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::act::{self, Ack, State};
use super::inbox::{Inbox, Received};
use super::manifest::{verify, Manifest, Me, Refusal, MAX_AUDIO_BYTES};
use super::presence;
use super::seen::Seen;
use super::topic;
use crate::config::upstream::Upstream;
use crate::config::Station;
use crate::control::Shared;

/// The longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Messages waiting for the worker (the broker waits beyond them).
const INBOX: usize = 16;
/// Most bulletins waiting for their audio: each holds one of the broker's
/// in-flight places until it is acknowledged (mosquitto's default is 20).
const MAX_PENDING: usize = 8;
/// How often bulletins whose audio never came are given up on.
const SWEEP: Duration = Duration::from_secs(30);

/// What the link is made of: a change to any of it (a reload with another
/// broker, keys, credentials, station id or district) restarts the link.
#[derive(Debug, Clone, PartialEq)]
struct Wanted {
    up: Upstream,
    /// The password file's content, read at each reload.
    password: Option<String>,
    station_id: String,
    /// The station's name, as its presence tells the province.
    name: String,
    district: Option<String>,
    data_dir: PathBuf,
    audio_dir: PathBuf,
}

impl Wanted {
    fn of(station: &Station) -> Option<Wanted> {
        let up = station.upstream.clone()?;
        let password = up
            .login
            .password_file
            .as_deref()
            .and_then(|p| super::mqtt::read_password(p).ok());
        Some(Wanted {
            up,
            password,
            station_id: station.fleet.station_id.clone(),
            name: station.name.clone(),
            district: station.fleet.district.clone(),
            data_dir: station.data_dir.clone(),
            audio_dir: station.audio_dir.clone(),
        })
    }
}

/// A running link: its tasks end when it is dropped.
struct Running {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Keep the link to the province's broker as the station file says: none
/// without `[upstream]`; restarted when a reload changes what it is made
/// of (see [`Wanted`]). Aborting the task ends the link.
pub fn spawn(control: Shared) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut rx = control.current.subscribe();
        loop {
            let want = Wanted::of(&rx.borrow_and_update());
            let running = want.clone().and_then(|w| start(&control, w));
            loop {
                if rx.changed().await.is_err() {
                    return;
                }
                let now = Wanted::of(&rx.borrow_and_update());
                if now != want {
                    break;
                }
            }
            drop(running);
            control.link.stopped();
            info!("[upstream] changed: the link to the province's broker restarts");
        }
    })
}

/// Start the link `w` describes (`None`: it cannot be, logged).
fn start(control: &Shared, w: Wanted) -> Option<Running> {
    let Wanted {
        up,
        station_id: id,
        name,
        district,
        data_dir,
        audio_dir,
        ..
    } = w;
    let opts = match super::mqtt::options(&id, &up.login, false) {
        Ok(mut o) => {
            // Acknowledged once acted on (see the worker).
            o.set_manual_acks(true);
            o.set_last_will(presence::will(&id, &name, district.as_deref()));
            o
        }
        Err(e) => {
            warn!("[upstream]: {e:#}; bulletins from the province will not be received");
            return None;
        }
    };
    control.link.set_configured();
    let (client, events) = AsyncClient::new(opts, 64);
    control.link.set_client(Some(client.clone()));
    let (tx, rx) = mpsc::channel(INBOX);
    let hello = presence::online(&id, &name, district.as_deref());
    let state_topic = presence::topic(&id);
    let topics = {
        let mut t = vec![topic::ALL.to_string(), topic::station(&id)];
        t.extend(district.as_deref().map(topic::district));
        t
    };
    let worker = Worker {
        seen: Seen::open(&data_dir),
        control: control.clone(),
        client: client.clone(),
        station_id: id,
        district,
        up: up.clone(),
        audio_dir,
        data_dir,
        pending: HashMap::new(),
    };
    let worker = tokio::spawn(worker.run(rx));
    let hello = (state_topic, hello);
    let poll = tokio::spawn(poll(
        control.clone(),
        client,
        events,
        up,
        (topics, hello),
        tx,
    ));
    Some(Running {
        tasks: vec![poll, worker],
    })
}

/// Keep the connection: subscribe at each connection and say the station
/// is online (`hello`: its presence topic and message), hand what arrives
/// to the worker, back off when the broker is away.
async fn poll(
    control: Shared,
    client: AsyncClient,
    mut events: rumqttc::EventLoop,
    up: Upstream,
    (topics, hello): (Vec<String>, (String, Vec<u8>)),
    tx: mpsc::Sender<Publish>,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                info!(
                    broker = %up.login.broker.host,
                    session_present = ack.session_present,
                    "connected to the province's broker"
                );
                backoff = Duration::from_secs(1);
                let filters = topics
                    .iter()
                    .map(|t| rumqttc::SubscribeFilter::new(t.clone(), QoS::AtLeastOnce));
                let _ = client.subscribe_many(filters).await;
                // Retained: the publisher sees this station as online
                // until its last will says otherwise.
                let _ = client
                    .publish(&hello.0, QoS::AtLeastOnce, true, hello.1.clone())
                    .await;
            }
            // Up once the broker has the subscriptions: from here on
            // nothing sent to this station is lost.
            Ok(Event::Incoming(Packet::SubAck(_))) => control.link.set_connected(true),
            Ok(Event::Incoming(Packet::Publish(p))) => {
                control.link.message(Utc::now());
                if tx.send(p).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                if control.link.view().is_some_and(|v| v.connected) {
                    warn!("lost the province's broker ({e}); reconnecting");
                } else if matches!(e, rumqttc::ConnectionError::Tls(_)) {
                    // Not a passing outage: said each time, with what to check.
                    warn!(
                        "cannot reach the province's broker: {}",
                        super::mqtt::explain(&e)
                    );
                } else {
                    tracing::debug!("cannot reach the province's broker ({e})");
                }
                control.link.set_connected(false);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

struct Worker {
    control: Shared,
    client: AsyncClient,
    seen: Seen,
    station_id: String,
    district: Option<String>,
    up: Upstream,
    audio_dir: PathBuf,
    data_dir: PathBuf,
    /// Bulletins waiting for their audio, by its SHA-256.
    pending: HashMap<String, Vec<(Publish, Manifest)>>,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::Receiver<Publish>) {
        let mut sweep = tokio::time::interval(SWEEP);
        loop {
            tokio::select! {
                p = rx.recv() => {
                    let Some(p) = p else { return };
                    match p.topic.strip_prefix("loa/v1/audio/").map(str::to_string) {
                        Some(sha) => self.on_audio(&sha, p).await,
                        None => self.on_bulletin(p).await,
                    }
                }
                _ = sweep.tick() => self.sweep().await,
            }
        }
    }

    /// Give up on bulletins whose audio did not come before they expired.
    async fn sweep(&mut self) {
        let now = Utc::now();
        let mut gone = Vec::new();
        for list in self.pending.values_mut() {
            let (old, keep): (Vec<_>, Vec<_>) = list.drain(..).partition(|(_, m)| m.expires <= now);
            *list = keep;
            gone.extend(old);
        }
        let emptied: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, l)| l.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for sha in emptied {
            self.pending.remove(&sha);
            let _ = self.client.unsubscribe(topic::audio(&sha)).await;
        }
        for (p, m) in gone {
            warn!(id = %m.id, "the province's audio never came; bulletin expired");
            let _ = self.seen.insert(&m.id, m.expires, now);
            let _ = self.client.ack(&p).await;
            let ack = Ack::new(&self.station_id, &m.id, State::Missed).reason("audio_never_came");
            self.ack(ack).await;
        }
    }

    async fn on_bulletin(&mut self, p: Publish) {
        let me = Me {
            station_id: &self.station_id,
            district: self.district.as_deref(),
            keys: &self.up.keys,
        };
        let pending = |id: &str| self.pending.values().flatten().any(|(_, m)| m.id == id);
        match verify(&p.payload, &me, Utc::now(), |id| {
            self.seen.contains(id) || pending(id)
        }) {
            Err(r) => {
                self.refuse(&p.topic, &r);
                let _ = self.client.ack(&p).await;
            }
            Ok(m) => {
                self.keep(Received::new(m.clone(), Utc::now())).await;
                self.ack(Ack::new(&self.station_id, &m.id, State::Received))
                    .await;
                match m.audio.clone() {
                    None => self.act(p, m, None).await,
                    Some(a) => {
                        let name = act::audio_name(&a);
                        if self.audio_dir.join(&name).is_file() {
                            self.act(p, m, Some(name)).await;
                        } else if self.pending.values().map(Vec::len).sum::<usize>() >= MAX_PENDING
                        {
                            warn!(id = %m.id, "too many bulletins wait for their audio; refused");
                            let _ = self.client.ack(&p).await;
                            let ack = Ack::new(&self.station_id, &m.id, State::Failed)
                                .reason("too_many_waiting");
                            self.ack(ack).await;
                        } else {
                            let first = !self.pending.contains_key(&a.sha256);
                            self.pending
                                .entry(a.sha256.clone())
                                .or_default()
                                .push((p, m));
                            if first {
                                let _ = self
                                    .client
                                    .subscribe(topic::audio(&a.sha256), QoS::AtLeastOnce)
                                    .await;
                            }
                        }
                    }
                }
            }
        }
    }

    fn refuse(&self, topic: &str, r: &Refusal) {
        warn!(topic, code = r.code(), "refused a bulletin: {r}");
        self.control.link.refused();
        self.control.recorder.audit(
            "province",
            "province bulletin",
            &format!("topic={topic}"),
            &format!("refused ({}): {r}", r.code()),
        );
    }

    async fn on_audio(&mut self, sha: &str, p: Publish) {
        let Some(waiting) = self.pending.remove(sha) else {
            let _ = self.client.ack(&p).await;
            return;
        };
        let ok = p.payload.len() as u64 <= MAX_AUDIO_BYTES
            && crate::token::hex(&sha2::Sha256::digest(&p.payload)) == sha;
        let _ = self.client.ack(&p).await;
        if !ok {
            // Not the audio the bulletins name: they wait for the right one.
            warn!(
                sha,
                "audio from the broker does not match its hash; ignored"
            );
            self.pending.insert(sha.to_string(), waiting);
            return;
        }
        let _ = self.client.unsubscribe(topic::audio(sha)).await;
        for (bp, m) in waiting {
            let a = m.audio.clone().expect("pending bulletins carry audio");
            let name = act::audio_name(&a);
            let path = self.audio_dir.join(&name);
            let bytes = p.payload.clone();
            let (control, file, title) = (self.control.clone(), name.clone(), m.title.clone());
            let stored = tokio::task::spawn_blocking(move || {
                act::store(&path, &bytes)?;
                act::keep_title(&control, &file, &title);
                Ok::<_, std::io::Error>(())
            })
            .await;
            match stored {
                Ok(Ok(())) => {
                    let file = name.clone();
                    self.note(&m.id, move |r| r.file = Some(file)).await;
                    self.ack(Ack::new(&self.station_id, &m.id, State::Stored))
                        .await;
                    self.act(bp, m, Some(name)).await;
                }
                _ => {
                    warn!(file = %name, "cannot store the province's audio");
                    let ack =
                        Ack::new(&self.station_id, &m.id, State::Failed).reason("store_failed");
                    self.ack(ack).await;
                    let _ = self.client.ack(&bp).await;
                }
            }
        }
    }

    /// Air `m` as its level says, remember its id, then acknowledge it.
    async fn act(&mut self, p: Publish, m: Manifest, file: Option<String>) {
        let ack = act::order(&self.control, &self.station_id, &m, file.clone()).await;
        let (occ, failed) = (ack.watch.clone(), ack.reason.clone());
        self.note(&m.id, move |r| {
            r.file = r.file.take().or(file);
            r.add_occurrences(occ.unwrap_or_default());
            r.failed = failed;
        })
        .await;
        if let Err(e) = self.seen.insert(&m.id, m.expires, Utc::now()) {
            warn!("cannot keep the bulletin ids seen ({e}); a redelivery could air again");
        }
        let _ = self.client.ack(&p).await;
        let watch = ack.watch.clone();
        self.ack(ack).await;
        if let Some(occurrences) = watch {
            act::watch_aired(
                self.control.clone(),
                self.client.clone(),
                self.station_id.clone(),
                m,
                occurrences,
            );
        }
    }

    /// Keep `r` for the console (`inbox`).
    async fn keep(&self, r: Received) {
        let inbox = Inbox::at(&self.data_dir);
        match tokio::task::spawn_blocking(move || inbox.put(&r)).await {
            Ok(Ok(())) => {}
            e => warn!("cannot keep the province's bulletin for the console: {e:?}"),
        }
    }

    /// Note what became of the kept bulletin `id`.
    async fn note(&self, id: &str, f: impl FnOnce(&mut Received) + Send + 'static) {
        let (inbox, id) = (Inbox::at(&self.data_dir), id.to_string());
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || inbox.update(&id, f)).await {
            warn!("cannot keep what became of the province's bulletin: {e}");
        }
    }

    async fn ack(&self, ack: Ack) {
        act::publish_ack(&self.client, &ack).await;
    }
}

use sha2::Digest;
