//! `loa publish`: the province's side. Sign a bulletin and send it through
//! the broker (`loa publish …`), make a publisher key (`loa publish
//! keygen`), and read back each station's acknowledgements (`loa publish
//! status`). A thin adapter: flags become a typed request for the
//! publishing core (`crate::upstream::publish`), which the console's
//! *Gửi bản tin* page calls too.
//!
//! Targets are `--targets` (the issue wrote `--to`, which also names the
//! last date of the window; here `--from`/`--to` are the window's dates).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};

use crate::config::upstream::Broker;
use crate::signing as keys;
use crate::upstream::cap;
use crate::upstream::manifest::{Level, Manifest};
use crate::upstream::publish::{self, Content, Request};

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
    /// List the stations the broker knows, from their presences (online or not)
    Stations {
        #[command(flatten)]
        conn: Conn,
        #[arg(long, value_enum, default_value = "table")]
        format: StatusFormat,
        /// Seconds to wait for presences after the last one
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
    /// A private CA's certificate (PEM) the broker's mqtts:// certificate is checked against
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
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
        Some(PublishCommand::Stations { conn, format, wait }) => {
            stations(&conn, format, Duration::from_secs(wait.clamp(1, 60)))
        }
        None => send(args.send),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn conn(c: &Conn) -> Result<publish::Conn> {
    let url = c.broker.as_deref().unwrap_or_default();
    Ok(publish::Conn {
        broker: Broker::parse(url).map_err(|e| anyhow::anyhow!("--broker: {e}"))?,
        username: c.username.clone(),
        password_file: c.password_file.clone(),
        ca_file: c.ca_file.clone(),
    })
}

/// The typed request the arguments describe (flags parsed here; the rest
/// is checked by the publishing core).
fn request(a: &SendArgs) -> Result<Request> {
    let content = match (&a.text, &a.file, &a.cap) {
        (Some(t), _, _) => Content::Text(t.clone()),
        (_, Some(f), _) => Content::File(f.clone()),
        (_, _, Some(path)) => {
            let len = std::fs::metadata(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .len();
            if len > cap::MAX_CAP_BYTES as u64 {
                bail!(
                    "{} is larger than {} bytes",
                    path.display(),
                    cap::MAX_CAP_BYTES
                );
            }
            Content::Cap(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            )
        }
        _ => bail!("give --text, --file or --cap"),
    };
    let level = a.priority.map(|l| match l {
        LevelArg::Normal => Level::Normal,
        LevelArg::Priority => Level::Priority,
        LevelArg::Emergency => Level::Emergency,
    });
    let targets = a.targets.clone().unwrap_or_default();
    let mut r = Request::new(&a.publisher, level, content, &targets);
    r.title = a.title.clone();
    if let Some(e) = &a.expires {
        let secs = crate::config::parse_duration(e)
            .with_context(|| format!("--expires `{e}` is not a duration (e.g. 2h, 30m)"))?;
        r.expires = Some(chrono::Duration::seconds(i64::from(secs)));
    }
    for t in &a.at {
        r.at.push(
            crate::config::parse_time_of_day(t)
                .with_context(|| format!("--at `{t}` is not a time (HH:MM or HH:MM:SS)"))?,
        );
    }
    if let Some(d) = &a.days {
        let set = crate::config::parse_days(d).with_context(|| {
            format!("--days `{d}` is not a set of days (mon-fri, weekdays, sat,sun)")
        })?;
        r.days = (0..7u8)
            .filter(|i| set.0 & (1 << i) != 0)
            .map(|i| i + 1)
            .collect();
    }
    (r.from, r.to, r.campaign, r.id) = (a.from, a.to, a.campaign.clone(), a.id.clone());
    if let (Some(every), Some(until)) = (&a.repeat_every, &a.until) {
        let t = crate::config::parse_time_of_day(until)
            .with_context(|| format!("--until `{until}` is not a time (HH:MM)"))?;
        r.repeat = Some((every.clone(), t));
    }
    Ok(r)
}

/// The manifest the arguments describe, and the audio it carries.
fn build(a: &SendArgs, now: DateTime<Utc>) -> Result<(Manifest, Option<Vec<u8>>)> {
    Ok(publish::build(&request(a)?, now)?)
}

fn send(a: SendArgs) -> Result<ExitCode> {
    let now = Utc::now();
    let key = keys::read(a.key.as_deref().unwrap_or_else(|| std::path::Path::new("")))?;
    let (m, audio) = build(&a, now)?;
    let conn = conn(&a.conn)?;
    runtime()?.block_on(publish::send(&conn, &key, &m, audio))?;
    println!("{}", m.id);
    Ok(ExitCode::SUCCESS)
}

fn stations(c: &Conn, format: StatusFormat, quiet: Duration) -> Result<ExitCode> {
    let conn = conn(c)?;
    let known = runtime()?.block_on(publish::stations(&conn, quiet))?;
    match format {
        StatusFormat::Json => println!("{}", serde_json::to_string_pretty(&known)?),
        StatusFormat::Table => {
            let mut t = crate::table::Table::new(&["station", "name", "district", "online"]);
            for p in &known {
                t.row(vec![
                    p.station.clone(),
                    p.name.clone().unwrap_or_default(),
                    p.district.clone().unwrap_or_default(),
                    if p.online { "yes" } else { "no" }.to_string(),
                ]);
            }
            print!("{}", t.render());
            println!("{} station(s) known", known.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn status(c: &Conn, id: &str, format: StatusFormat, quiet: Duration) -> Result<ExitCode> {
    let conn = conn(c)?;
    let acks = runtime()?.block_on(publish::delivery(&conn, id, quiet))?;
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
