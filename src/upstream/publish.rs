//! The province's publishing core: build and sign a bulletin from a typed
//! [`Request`], send it (and its audio) through the broker, and read back
//! each station's delivery ([`delivery`]) and the stations the broker knows
//! ([`stations`], from their presences). `loa publish` and the console's *Gửi bản tin* page are
//! both thin adapters over these.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use ed25519_dalek::SigningKey;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

use super::act::Ack;
use super::manifest::{self, AudioRef, Level, Manifest, Repeat, Schedule, Targets};
use super::presence::{self, Presence};
use super::{cap, mqtt, topic};

/// How long a publish waits for the broker's acknowledgements.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Expiry when the request gives none (nor a CAP alert).
pub const DEFAULT_LIFE: chrono::Duration = chrono::Duration::hours(24);
/// Most acknowledgements or stations read in one look (a province has up
/// to two thousand stations).
pub const MAX_READ: usize = 5000;

/// How to reach the broker as the publisher.
pub use crate::config::upstream::Login as Conn;

/// A clean session with a fresh client id starting with `prefix`.
fn options(c: &Conn, prefix: &str) -> anyhow::Result<MqttOptions> {
    mqtt::options(&format!("{prefix}-{}", random_hex(6)?), c, true)
}

/// What a bulletin says: words read aloud, an audio file, or a CAP alert.
#[derive(Debug, Clone)]
pub enum Content {
    Text(String),
    /// An audio file on this host (read, bounded and probed here).
    File(PathBuf),
    /// An OASIS CAP 1.2 alert's XML.
    Cap(String),
}

/// A bulletin to send, typed: what the CLI's flags and the page's form say.
#[derive(Debug, Clone)]
pub struct Request {
    pub publisher: String,
    /// `None`: a CAP alert decides it.
    pub level: Option<Level>,
    pub content: Content,
    pub title: Option<String>,
    /// `all`, `district:NAME` or `station:ID[,ID…]`.
    pub targets: String,
    /// How long it may still air; `None`: the CAP alert's, else 24 h.
    pub expires: Option<chrono::Duration>,
    pub at: Vec<NaiveTime>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// ISO weekdays (1 = Monday); all when empty.
    pub days: Vec<u8>,
    pub campaign: Option<String>,
    /// An emergency airs again every (`"30m"`) until the next such local time.
    pub repeat: Option<(String, NaiveTime)>,
    pub id: Option<String>,
}

impl Request {
    /// A request with only its content, level and targets.
    pub fn new(publisher: &str, level: Option<Level>, content: Content, targets: &str) -> Self {
        Request {
            publisher: publisher.to_string(),
            level,
            content,
            title: None,
            targets: targets.to_string(),
            expires: None,
            at: Vec::new(),
            from: None,
            to: None,
            days: Vec::new(),
            campaign: None,
            repeat: None,
            id: None,
        }
    }
}

/// Why a request cannot be sent, in English (the CLI, logs) and in
/// Vietnamese (the page).
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub en: String,
    pub vi: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.en)
    }
}

impl std::error::Error for Invalid {}

fn invalid(en: impl Into<String>, vi: impl Into<String>) -> Invalid {
    Invalid {
        en: en.into(),
        vi: vi.into(),
    }
}

fn random_hex(n: usize) -> anyhow::Result<String> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    Ok(crate::token::hex(&b))
}

/// A new broadcast id: the local time and random digits.
pub fn new_id(now: DateTime<Utc>) -> String {
    let tz = crate::config::DEFAULT_TIMEZONE;
    format!(
        "b{}-{}",
        now.with_timezone(&tz).format("%Y%m%d-%H%M%S"),
        random_hex(3).unwrap_or_else(|_| format!("{:06x}", now.timestamp_subsec_micros()))
    )
}

/// An audio file read for sending: its reference and bytes.
fn read_audio(path: &Path) -> Result<(AudioRef, Vec<u8>), Invalid> {
    let shown = path.display();
    let len = std::fs::metadata(path)
        .map_err(|e| {
            invalid(
                format!("cannot read {shown}: {e}"),
                format!("không đọc được tệp âm thanh ({e})"),
            )
        })?
        .len();
    if len > manifest::MAX_AUDIO_BYTES {
        return Err(invalid(
            format!("{shown} is larger than {} bytes", manifest::MAX_AUDIO_BYTES),
            format!(
                "tệp âm thanh lớn hơn {} MB: hãy cắt ngắn hoặc nén lại",
                manifest::MAX_AUDIO_BYTES / 1024 / 1024
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        invalid(
            format!("cannot read {shown}: {e}"),
            format!("không đọc được tệp âm thanh ({e})"),
        )
    })?;
    crate::probe::probe(path).map_err(|e| {
        invalid(
            format!("{shown} does not play: {e}"),
            "tệp này không phát được (không phải âm thanh mp3, wav, ogg, flac, m4a hợp lệ)",
        )
    })?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .ok_or_else(|| {
            invalid(
                "the audio file needs an extension (mp3, wav, ogg, …)",
                "tệp âm thanh cần có đuôi (mp3, wav, ogg, …)",
            )
        })?;
    use sha2::Digest;
    let sha256 = crate::token::hex(&sha2::Sha256::digest(&bytes));
    let size = bytes.len() as u64;
    Ok((AudioRef { sha256, size, ext }, bytes))
}

/// The manifest `r` describes, and the audio it carries.
pub fn build(r: &Request, now: DateTime<Utc>) -> Result<(Manifest, Option<Vec<u8>>), Invalid> {
    let (mut title, mut text, mut audio, mut expires, mut level) =
        (r.title.clone(), None, None, None, r.level);
    match &r.content {
        Content::Text(t) => text = Some(t.clone()),
        Content::File(path) => {
            let (a, bytes) = read_audio(path)?;
            title = title.or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()));
            audio = Some((a, bytes));
        }
        Content::Cap(xml) => {
            let alert = cap::parse(xml).map_err(|e| {
                invalid(
                    format!("the CAP alert: {e}"),
                    format!("cảnh báo CAP không đọc được: {e}"),
                )
            })?;
            title = title.or(Some(alert.title));
            text = Some(alert.text);
            expires = alert.expires;
            level = level.or(Some(alert.level));
        }
    }
    let Some(level) = level else {
        return Err(invalid(
            "--priority is required (normal, priority or emergency)",
            "chưa chọn mức: thông thường, ưu tiên hay khẩn cấp",
        ));
    };
    if let Some(life) = r.expires {
        expires = Some(now + life);
    }
    let expires = expires.unwrap_or(now + DEFAULT_LIFE);
    if expires <= now {
        return Err(invalid(
            format!("the bulletin expired at {expires} (give --expires to send it anyway)"),
            "bản tin đã hết hạn: hãy chọn thời hạn",
        ));
    }
    let schedule = Schedule {
        campaign: r.campaign.clone(),
        from: r.from,
        to: r.to,
        times: r.at.clone(),
        days: r.days.clone(),
    };
    let schedule = (schedule != Schedule::default()).then_some(schedule);
    let repeat = match &r.repeat {
        Some((every, until)) => Some(Repeat {
            every: every.clone(),
            until: next_local(*until, now).ok_or_else(|| {
                invalid(
                    format!("--until `{until}` has no next occurrence"),
                    format!("giờ kết thúc lặp {until} không có lần tới"),
                )
            })?,
        }),
        None => None,
    };
    Targets::parse(&r.targets).map_err(|e| {
        invalid(
            format!("--targets: {e}"),
            format!("nơi nhận không hợp lệ: {e}"),
        )
    })?;
    let m = Manifest {
        id: r.id.clone().unwrap_or_else(|| new_id(now)),
        publisher: r.publisher.clone(),
        issued: now,
        expires,
        priority: level,
        title: title.unwrap_or_default(),
        text: if audio.is_some() { None } else { text },
        audio: audio.as_ref().map(|(a, _)| a.clone()),
        targets: r.targets.clone(),
        schedule,
        repeat,
    };
    manifest::check(&m, now).map_err(|e| {
        invalid(
            format!("the bulletin cannot be sent: {e}"),
            format!("bản tin không gửi được: {e}"),
        )
    })?;
    Ok((m, audio.map(|(_, b)| b)))
}

/// The next `t` in Vietnam's time after `now` (today or tomorrow).
pub fn next_local(t: NaiveTime, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let tz = crate::config::DEFAULT_TIMEZONE;
    let today = now.with_timezone(&tz).date_naive();
    [today, today.succ_opt()?].into_iter().find_map(|d| {
        tz.from_local_datetime(&d.and_time(t))
            .earliest()
            .map(|at| at.with_timezone(&Utc))
            .filter(|at| *at > now)
    })
}

/// Sign `m` and send it with its audio (retained, so a station that comes
/// back later still finds it); answers once the broker has every message.
pub async fn send(
    conn: &Conn,
    key: &SigningKey,
    m: &Manifest,
    audio: Option<Vec<u8>>,
) -> anyhow::Result<()> {
    let signed = manifest::sign(m, key);
    let mut msgs = Vec::new();
    if let (Some(r), Some(bytes)) = (&m.audio, audio) {
        msgs.push((topic::audio(&r.sha256), bytes, true));
    }
    match Targets::parse(&m.targets).map_err(anyhow::Error::msg)? {
        Targets::All => msgs.push((topic::ALL.to_string(), signed, false)),
        Targets::District(d) => msgs.push((topic::district(&d), signed, false)),
        Targets::Stations(ids) => msgs.extend(
            ids.iter()
                .map(|id| (topic::station(id), signed.clone(), false)),
        ),
    }
    publish_all(options(conn, "loa-publish")?, msgs).await
}

/// Publish every message with QoS 1 and wait until the broker has them all.
async fn publish_all(opts: MqttOptions, msgs: Vec<(String, Vec<u8>, bool)>) -> anyhow::Result<()> {
    let n = msgs.len();
    let (client, mut events) = AsyncClient::new(opts, n + 4);
    for (t, body, retain) in msgs {
        client.publish(t, QoS::AtLeastOnce, retain, body).await?;
    }
    let mut acked = 0;
    let r = tokio::time::timeout(SEND_TIMEOUT, async {
        while acked < n {
            match events.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                Ok(_) => {}
                Err(e) => anyhow::bail!("the broker: {}", mqtt::explain(&e)),
            }
        }
        Ok(())
    })
    .await;
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), events.poll()).await;
    match r {
        Ok(r) => r,
        Err(_) => anyhow::bail!(
            "the broker took {} s and confirmed {acked} of {n} messages",
            SEND_TIMEOUT.as_secs()
        ),
    }
}

/// Each station's latest acknowledgement of broadcast `id`, by station,
/// read until `quiet` passes without a new one.
pub async fn delivery(conn: &Conn, id: &str, quiet: Duration) -> anyhow::Result<Vec<Ack>> {
    let opts = options(conn, "loa-status")?;
    let mut acks: Vec<Ack> = Vec::new();
    read_retained(opts, &topic::ack("+", id), quiet, |_, payload| {
        if let Ok(a) = serde_json::from_slice::<Ack>(payload) {
            if a.id == id {
                acks.retain(|o| o.station != a.station);
                acks.push(a);
            }
        }
        acks.len() < MAX_READ
    })
    .await?;
    acks.sort_by(|a, b| a.station.cmp(&b.station));
    Ok(acks)
}

/// The stations the broker knows, from their retained presences, by id.
pub async fn stations(conn: &Conn, quiet: Duration) -> anyhow::Result<Vec<Presence>> {
    let opts = options(conn, "loa-stations")?;
    let mut known: std::collections::BTreeMap<String, Presence> = Default::default();
    read_retained(opts, &presence::topic("+"), quiet, |topic, payload| {
        if let Some(p) = presence::read(topic, payload) {
            known.insert(p.station.clone(), p);
        }
        known.len() < MAX_READ
    })
    .await?;
    Ok(known.into_values().collect())
}

/// Subscribe to `filter` and hand each message's payload to `each` until
/// `quiet` passes without one (or `each` says enough).
pub(crate) async fn read_retained(
    opts: MqttOptions,
    filter: &str,
    quiet: Duration,
    mut each: impl FnMut(&str, &[u8]) -> bool,
) -> anyhow::Result<()> {
    let (client, mut events) = AsyncClient::new(opts, 8);
    client.subscribe(filter, QoS::AtLeastOnce).await?;
    let mut subscribed = false;
    loop {
        let wait = if subscribed { quiet } else { SEND_TIMEOUT };
        match tokio::time::timeout(wait, events.poll()).await {
            Err(_) if subscribed => break,
            Err(_) => anyhow::bail!("the broker did not answer in {} s", SEND_TIMEOUT.as_secs()),
            Ok(Err(e)) => anyhow::bail!("the broker: {}", mqtt::explain(&e)),
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => subscribed = true,
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                if !each(&p.topic, &p.payload) {
                    break;
                }
            }
            Ok(Ok(_)) => {}
        }
    }
    let _ = client.disconnect().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(level: Option<Level>, targets: &str) -> Request {
        Request::new("tinh", level, Content::Text("Họp dân.".into()), targets)
    }

    #[test]
    fn a_typed_request_becomes_a_checked_manifest() {
        let now = Utc::now();
        let mut r = text(Some(Level::Normal), "district:bac");
        r.at = vec![NaiveTime::from_hms_opt(6, 30, 0).unwrap()];
        r.days = vec![1, 2, 3, 4, 5];
        r.expires = Some(chrono::Duration::hours(2));
        let (m, audio) = build(&r, now).unwrap();
        assert!(audio.is_none());
        assert_eq!(m.priority, Level::Normal);
        assert_eq!(m.expires, now + chrono::Duration::hours(2));
        assert_eq!(m.schedule.unwrap().days, [1, 2, 3, 4, 5]);
        assert!(m.id.starts_with('b'), "{}", m.id);
        let default = build(&text(Some(Level::Emergency), "all"), now).unwrap().0;
        assert_eq!(default.expires, now + DEFAULT_LIFE);
        assert!(default.schedule.is_none());
    }

    #[test]
    fn bad_requests_say_why_in_both_languages() {
        let now = Utc::now();
        let e = build(&text(None, "all"), now).unwrap_err();
        assert!(e.en.contains("--priority is required") && e.vi.contains("chưa chọn mức"));
        let e = build(&text(Some(Level::Normal), "province:x"), now).unwrap_err();
        assert!(e.vi.starts_with("nơi nhận"), "{e:?}");
        let mut r = text(Some(Level::Normal), "all");
        r.content = Content::File(PathBuf::from("/nonexistent/a.mp3"));
        assert!(build(&r, now).unwrap_err().vi.contains("không đọc được"));
        r.content = Content::Cap("<not-cap/>".into());
        assert!(build(&r, now).unwrap_err().vi.contains("CAP"));
    }

    #[test]
    fn next_local_is_today_or_tomorrow() {
        let now = Utc::now();
        let t = NaiveTime::from_hms_opt(0, 0, 0).unwrap();
        let at = next_local(t, now).unwrap();
        assert!(at > now && at <= now + chrono::Duration::hours(24));
    }
}
