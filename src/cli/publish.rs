//! `loa publish`: the province's side. Sign a bulletin and send it through
//! the broker (`loa publish …`), make a publisher key (`loa publish
//! keygen`), and read back each station's acknowledgements (`loa publish
//! status`).
//!
//! Targets are `--targets` (the issue wrote `--to`, which also names the
//! last date of the window; here `--from`/`--to` are the window's dates).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use clap::{Args, Subcommand, ValueEnum};
use rumqttc::{AsyncClient, Event, Packet, QoS};

use crate::config::upstream::Broker;
use crate::upstream::act::Ack;
use crate::upstream::manifest::{self, AudioRef, Level, Manifest, Repeat, Schedule, Targets};
use crate::upstream::{cap, keys, mqtt, topic};

/// How long a publish waits for the broker's acknowledgements.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct PublishArgs {
    #[command(subcommand)]
    pub command: Option<PublishCommand>,
    #[command(flatten)]
    pub send: SendArgs,
}

#[derive(Subcommand)]
pub enum PublishCommand {
    /// Make a publisher key (mode 0600) and print the line stations trust
    Keygen {
        /// Where to write the private key (never overwritten)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Show each station's delivery of a bulletin, from its acknowledgement
    Status {
        #[command(flatten)]
        conn: Conn,
        /// The bulletin's id, as `loa publish` printed it
        id: String,
        #[arg(long, value_enum, default_value = "table")]
        format: StatusFormat,
        /// Seconds to wait for acknowledgements after the last one
        #[arg(long, default_value = "2")]
        wait: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum StatusFormat {
    Table,
    Json,
}

#[derive(Args, Clone)]
pub struct Conn {
    /// The broker: mqtt://HOST[:PORT] or mqtts://HOST[:PORT]
    #[arg(long, value_name = "URL", required = true)]
    broker: Option<String>,
    /// The broker user (the province's publisher: `tinh` in the shipped ACL)
    #[arg(long)]
    username: Option<String>,
    /// A file whose first line is the broker password (kept out of `ps`)
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LevelArg {
    Normal,
    Priority,
    Emergency,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("content").required(true).args(["text", "file", "cap"]))]
pub struct SendArgs {
    #[command(flatten)]
    conn: Conn,
    /// The publisher's private key (`loa publish keygen`)
    #[arg(long, value_name = "FILE", required = true)]
    key: Option<PathBuf>,
    /// The publisher's name, as stations' ledgers record who asked
    #[arg(long, default_value = "tinh")]
    publisher: String,
    /// normal | priority | emergency (a CAP alert decides it when not given)
    #[arg(long, value_enum)]
    priority: Option<LevelArg>,
    /// Words each station reads aloud with its own speech engine
    #[arg(long)]
    text: Option<String>,
    /// An audio file sent through the broker (at most 16 MB)
    #[arg(long, value_name = "AUDIO")]
    file: Option<PathBuf>,
    /// An OASIS CAP 1.2 alert (XML)
    #[arg(long, value_name = "ALERT.xml")]
    cap: Option<PathBuf>,
    /// What the bulletin is called at the stations [default: the CAP
    /// headline, the audio file's name]
    #[arg(long)]
    title: Option<String>,
    /// all | district:NAME | station:ID[,ID…]
    #[arg(long, value_name = "TARGETS", required = true)]
    targets: Option<String>,
    /// How long the bulletin may still air (e.g. 2h, 30m) [default: 24h, or the CAP alert's]
    #[arg(long, value_name = "DURATION")]
    expires: Option<String>,
    /// Local times it airs at (normal bulletins), HH:MM[:SS]; repeatable
    #[arg(long, value_name = "HH:MM")]
    at: Vec<String>,
    /// First day of its window (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    from: Option<NaiveDate>,
    /// Last day of its window (YYYY-MM-DD); targets are --targets
    #[arg(long, value_name = "DATE")]
    to: Option<NaiveDate>,
    /// Days it airs, as station files write them: mon-fri, weekdays, sat,sun
    #[arg(long)]
    days: Option<String>,
    #[arg(long, value_name = "ID")]
    campaign: Option<String>,
    /// An emergency airs again this often (e.g. 30m) …
    #[arg(long, value_name = "DURATION", requires = "until")]
    repeat_every: Option<String>,
    /// … until this local time, HH:MM (Vietnam), the next one to come
    #[arg(long, value_name = "HH:MM", requires = "repeat_every")]
    until: Option<String>,
    /// The bulletin's id [default: made from the time and random digits]
    #[arg(long)]
    id: Option<String>,
}

pub fn main(args: PublishArgs) -> Result<ExitCode> {
    match args.command {
        Some(PublishCommand::Keygen { out }) => {
            println!("{}", keys::keygen(&out)?);
            eprintln!(
                "The private key is in {} (mode 0600): keep it on the publishing host only.\n\
                 Stations trust it with the line above in [upstream] keys.",
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(PublishCommand::Status {
            conn,
            id,
            format,
            wait,
        }) => status(&conn, &id, format, Duration::from_secs(wait.clamp(1, 60))),
        None => send(args.send),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn options(conn: &Conn, client_id: &str, clean: bool) -> Result<rumqttc::MqttOptions> {
    let url = conn.broker.as_deref().unwrap_or_default();
    let broker = Broker::parse(url).map_err(|e| anyhow::anyhow!("--broker: {e}"))?;
    mqtt::options(
        client_id,
        &broker,
        conn.username.as_deref(),
        conn.password_file.as_deref(),
        clean,
    )
}

fn random_hex(n: usize) -> Result<String> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    Ok(crate::token::hex(&b))
}

/// The manifest the arguments describe, and the audio it carries.
fn build(a: &SendArgs, now: DateTime<Utc>) -> Result<(Manifest, Option<Vec<u8>>)> {
    let tz = crate::config::DEFAULT_TIMEZONE;
    let level_of = |l: LevelArg| match l {
        LevelArg::Normal => Level::Normal,
        LevelArg::Priority => Level::Priority,
        LevelArg::Emergency => Level::Emergency,
    };
    let (mut title, mut text, mut audio, mut expires, mut level) = (
        a.title.clone(),
        a.text.clone(),
        None,
        None,
        a.priority.map(level_of),
    );
    if let Some(path) = &a.file {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if bytes.len() as u64 > manifest::MAX_AUDIO_BYTES {
            bail!(
                "{} is larger than {} bytes",
                path.display(),
                manifest::MAX_AUDIO_BYTES
            );
        }
        crate::probe::probe(path)
            .map_err(|e| anyhow::anyhow!("{} does not play: {e}", path.display()))?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .context("the audio file needs an extension (mp3, wav, ogg, …)")?;
        use sha2::Digest;
        let sha = crate::token::hex(&sha2::Sha256::digest(&bytes));
        title = title.or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()));
        audio = Some((
            AudioRef {
                sha256: sha,
                size: bytes.len() as u64,
                ext,
            },
            bytes,
        ));
    }
    if let Some(path) = &a.cap {
        let xml = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let alert = cap::parse(&xml).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        title = title.or(Some(alert.title));
        text = Some(alert.text);
        expires = alert.expires;
        level = level.or(Some(alert.level));
    }
    let Some(level) = level else {
        bail!("--priority is required (normal, priority or emergency)")
    };
    if let Some(e) = &a.expires {
        let secs = crate::config::parse_duration(e)
            .with_context(|| format!("--expires `{e}` is not a duration (e.g. 2h, 30m)"))?;
        expires = Some(now + chrono::Duration::seconds(i64::from(secs)));
    }
    let expires = expires.unwrap_or(now + chrono::Duration::hours(24));
    if expires <= now {
        bail!("the bulletin expired at {expires} (give --expires to send it anyway)");
    }
    let schedule = schedule(a)?;
    let repeat = match (&a.repeat_every, &a.until) {
        (Some(every), Some(until)) => Some(Repeat {
            every: every.clone(),
            until: next_local(until, tz, now)?,
        }),
        _ => None,
    };
    let targets = a.targets.clone().unwrap_or_default();
    Targets::parse(&targets).map_err(|e| anyhow::anyhow!("--targets: {e}"))?;
    let id = match &a.id {
        Some(id) => id.clone(),
        None => format!(
            "b{}-{}",
            now.with_timezone(&tz).format("%Y%m%d-%H%M%S"),
            random_hex(3)?
        ),
    };
    let m = Manifest {
        id,
        publisher: a.publisher.clone(),
        issued: now,
        expires,
        priority: level,
        title: title.unwrap_or_default(),
        text: if audio.is_some() { None } else { text },
        audio: audio.as_ref().map(|(r, _)| r.clone()),
        targets,
        schedule,
        repeat,
    };
    manifest::check(&m, now).map_err(|e| anyhow::anyhow!("the bulletin cannot be sent: {e}"))?;
    Ok((m, audio.map(|(_, b)| b)))
}

fn schedule(a: &SendArgs) -> Result<Option<Schedule>> {
    let mut times = Vec::new();
    for t in &a.at {
        times.push(
            crate::config::parse_time_of_day(t)
                .with_context(|| format!("--at `{t}` is not a time (HH:MM or HH:MM:SS)"))?,
        );
    }
    let days = match &a.days {
        None => Vec::new(),
        Some(d) => {
            let set = crate::config::parse_days(d).with_context(|| {
                format!("--days `{d}` is not a set of days (mon-fri, weekdays, sat,sun)")
            })?;
            (0..7u8)
                .filter(|i| set.0 & (1 << i) != 0)
                .map(|i| i + 1)
                .collect()
        }
    };
    let s = Schedule {
        campaign: a.campaign.clone(),
        from: a.from,
        to: a.to,
        times,
        days,
    };
    Ok((s != Schedule::default()).then_some(s))
}

/// The next `HH:MM` in `tz` after `now`.
fn next_local(hhmm: &str, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let t = crate::config::parse_time_of_day(hhmm)
        .with_context(|| format!("--until `{hhmm}` is not a time (HH:MM)"))?;
    let today = now.with_timezone(&tz).date_naive();
    for d in [today, today.succ_opt().unwrap_or(today)] {
        if let Some(at) = tz.from_local_datetime(&d.and_time(t)).earliest() {
            if at.with_timezone(&Utc) > now {
                return Ok(at.with_timezone(&Utc));
            }
        }
    }
    bail!("--until `{hhmm}` has no next occurrence")
}

fn send(a: SendArgs) -> Result<ExitCode> {
    let now = Utc::now();
    let key = keys::read(a.key.as_deref().unwrap_or_else(|| std::path::Path::new("")))?;
    let (m, audio) = build(&a, now)?;
    let signed = manifest::sign(&m, &key);
    let mut msgs = Vec::new();
    if let (Some(r), Some(bytes)) = (&m.audio, audio) {
        // Retained: a station that comes back later still finds it.
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
    let opts = options(&a.conn, &format!("loa-publish-{}", random_hex(6)?), true)?;
    runtime()?.block_on(publish_all(opts, msgs))?;
    println!("{}", m.id);
    Ok(ExitCode::SUCCESS)
}

/// Publish every message with QoS 1 and wait until the broker has them all.
async fn publish_all(opts: rumqttc::MqttOptions, msgs: Vec<(String, Vec<u8>, bool)>) -> Result<()> {
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
                Err(e) => bail!("the broker: {e}"),
            }
        }
        Ok(())
    })
    .await;
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), events.poll()).await;
    match r {
        Ok(r) => r,
        Err(_) => bail!(
            "the broker took {} s and confirmed {acked} of {n} messages",
            SEND_TIMEOUT.as_secs()
        ),
    }
}

fn status(conn: &Conn, id: &str, format: StatusFormat, quiet: Duration) -> Result<ExitCode> {
    let opts = options(conn, &format!("loa-status-{}", random_hex(6)?), true)?;
    let mut acks: Vec<Ack> = runtime()?.block_on(read_acks(opts, id, quiet))?;
    acks.sort_by(|a, b| a.station.cmp(&b.station));
    match format {
        StatusFormat::Json => println!("{}", serde_json::to_string_pretty(&acks)?),
        StatusFormat::Table => {
            let mut t = crate::table::Table::new(&["station", "state", "at", "aired at", "reason"]);
            let tz = crate::config::DEFAULT_TIMEZONE;
            let fmt = |t: DateTime<Utc>| crate::timefmt::rfc3339(t, tz);
            for a in &acks {
                t.row(vec![
                    a.station.clone(),
                    serde_json::to_value(a.state)?
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    fmt(a.at),
                    a.aired_at.map(fmt).unwrap_or_default(),
                    a.reason.clone().unwrap_or_default(),
                ]);
            }
            print!("{}", t.render());
            println!("{} station(s) acknowledged {id}", acks.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The retained acknowledgements of `id`, read until `quiet` passes
/// without a new one.
async fn read_acks(opts: rumqttc::MqttOptions, id: &str, quiet: Duration) -> Result<Vec<Ack>> {
    let (client, mut events) = AsyncClient::new(opts, 8);
    client
        .subscribe(topic::ack("+", id), QoS::AtLeastOnce)
        .await?;
    let mut out: Vec<Ack> = Vec::new();
    let mut subscribed = false;
    loop {
        let wait = if subscribed { quiet } else { SEND_TIMEOUT };
        match tokio::time::timeout(wait, events.poll()).await {
            Err(_) if subscribed => break,
            Err(_) => bail!("the broker did not answer in {} s", SEND_TIMEOUT.as_secs()),
            Ok(Err(e)) => bail!("the broker: {e}"),
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => subscribed = true,
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                if let Ok(a) = serde_json::from_slice::<Ack>(&p.payload) {
                    if a.id == id {
                        out.retain(|o| o.station != a.station);
                        out.push(a);
                    }
                }
            }
            Ok(Ok(_)) => {}
        }
    }
    let _ = client.disconnect().await;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: PublishArgs,
    }

    fn args(line: &str) -> SendArgs {
        let words = std::iter::once("loa").chain(line.split('|'));
        Cli::try_parse_from(words).unwrap().a.send
    }

    const BASE: &str = "--broker|mqtt://x|--key|k|--targets|district:bac";

    #[test]
    fn a_normal_bulletin_with_times_days_and_a_window() {
        let now = Utc::now();
        let a = args(&format!(
            "{BASE}|--priority|normal|--text|Họp dân|--at|06:30|--at|17:30:15|--days|mon-fri|\
             --from|2026-12-07|--to|2026-12-20|--campaign|cds"
        ));
        let (m, audio) = build(&a, now).unwrap();
        assert!(audio.is_none());
        assert_eq!(m.priority, Level::Normal);
        assert_eq!(m.expires, now + chrono::Duration::hours(24));
        let s = m.schedule.unwrap();
        assert_eq!(s.days, [1, 2, 3, 4, 5]);
        assert_eq!(s.times.len(), 2);
        assert_eq!(s.campaign.as_deref(), Some("cds"));
        assert_eq!(s.to, NaiveDate::from_ymd_opt(2026, 12, 20));
    }

    #[test]
    fn a_cap_alert_decides_level_title_and_words() {
        let now = Utc::now();
        let cap = format!(
            "{}/tests/fixtures/cap/a2-severe-thunderstorm.xml",
            env!("CARGO_MANIFEST_DIR")
        );
        // The specification's alert expired in 2003: sent only with --expires.
        let err = build(&args(&format!("{BASE}|--cap|{cap}")), now).unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");
        let (m, _) = build(&args(&format!("{BASE}|--cap|{cap}|--expires|1h")), now).unwrap();
        assert_eq!(m.priority, Level::Emergency);
        assert_eq!(m.title, "SEVERE THUNDERSTORM WARNING");
        assert!(m.text.unwrap().ends_with("UNTIL THE STORM PASSES."));
    }

    #[test]
    fn bad_arguments_are_clear_errors() {
        let now = Utc::now();
        let e = |extra: &str| {
            build(&args(&format!("{BASE}|{extra}")), now)
                .unwrap_err()
                .to_string()
        };
        assert!(e("--text|x").contains("--priority is required"));
        assert!(e("--priority|normal|--text|x|--at|25:00").contains("--at `25:00`"));
        assert!(e("--priority|normal|--text|x|--days|someday").contains("--days"));
        assert!(e("--priority|normal|--text|x|--expires|soon").contains("--expires"));
        let until = e("--priority|emergency|--text|x|--repeat-every|1h|--until|9h");
        assert!(until.contains("--until"), "{until}");
        assert!(Cli::try_parse_from([
            "loa", "--broker", "mqtt://x", "--key", "k", "--text", "x", "--to", "all"
        ])
        .is_err());
    }
}
