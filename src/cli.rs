//! The subcommands' work: load the station, call the library, print.
//!
//! Output meant for operators and officials (tables, summaries) is
//! Vietnamese first; diagnostics about the station file are for whoever
//! edits it and stay in English, each with its location and a fix.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Duration, Utc};

use crate::check::{self, LoadOptions};
use crate::config::{self, Station};
use crate::range;
use crate::report::{self, Format};
use crate::schedule::{self, ItemKind, Occurrence};
use crate::table::Table;
use crate::timefmt;
use crate::token;

pub mod publish;
pub mod user;

/// Load a station or print why not. Diagnostics go to stderr.
pub fn load_station(path: &Path, opts: LoadOptions) -> Result<Station, ExitCode> {
    let loaded = check::load(path, opts);
    eprint!("{}", loaded.diagnostics);
    match loaded.station {
        Some(s) if !loaded.diagnostics.has_errors() => Ok(s),
        _ => {
            let n = loaded.diagnostics.errors().count();
            eprintln!(
                "loa: {} has {n} error{}; nothing was changed. Fix them and run `loa check --config {}`.",
                path.display(),
                if n == 1 { "" } else { "s" },
                path.display()
            );
            Err(ExitCode::FAILURE)
        }
    }
}

/// Logs go through `tracing`; `LOA_LOG` sets the level. Under systemd
/// (stderr is the journal's stream) they go to journald with structured
/// fields (`LOA_OCCURRENCE=…`, searchable with `journalctl -u loa
/// LOA_OCCURRENCE=…`) and their priority; otherwise plain text to stderr.
pub fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if stderr_is_journal() {
        match tracing_journald::layer() {
            Ok(journal) => {
                let journal = journal.with_field_prefix(Some("LOA".to_string()));
                let _ = tracing_subscriber::registry()
                    .with(filter)
                    .with(journal)
                    .try_init();
                return;
            }
            Err(e) => eprintln!("loa: journald not reachable ({e}); logging to stderr"),
        }
    }
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Whether stderr is the journal stream systemd connected (`JOURNAL_STREAM`
/// is `DEV:INODE` of it). Comparing, not just testing the variable, keeps a
/// command run from a shell inside a service (which inherits the variable
/// but may redirect stderr) writing where its stderr goes.
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = v.to_str().and_then(|v| v.split_once(':')) else {
        return false;
    };
    let meta = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata());
    match (meta, dev.parse::<u64>(), ino.parse::<u64>()) {
        (Ok(m), Ok(dev), Ok(ino)) => m.dev() == dev && m.ino() == ino,
        _ => false,
    }
}

/// `loa run`: the station file, or the last good copy when it cannot run
/// (see `crate::current::load_for_run`); every diagnostic is logged.
pub fn run(path: &Path) -> Result<ExitCode> {
    init_logging();
    let Some(startup) = crate::current::load_for_run(path) else {
        eprintln!(
            "loa: {} cannot run and no last good copy is known; nothing was started. Fix it and run `loa check --config {}`.",
            path.display(),
            path.display()
        );
        return Ok(ExitCode::FAILURE);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("loa-rt")
        .build()
        .context("starting the runtime")?;
    let code = rt.block_on(crate::daemon::run(path.to_path_buf(), startup));
    // A task stuck for good (a wedged engine, the watchdog's case) must not
    // keep the process from exiting once the daemon is done.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

/// `loa check`
pub fn check(path: &Path) -> Result<ExitCode> {
    let loaded = check::load(path, LoadOptions::default());
    let d = &loaded.diagnostics;
    eprint!("{d}");
    let (errors, warnings) = (d.errors().count(), d.warnings().count());
    let Some(station) = loaded.station.filter(|_| errors == 0) else {
        let audio = d.audio_errors().count();
        let runs = if audio == errors {
            " All are about audio files: `loa run` would air the rest and record those bulletins failed when due."
        } else {
            " The station file was not accepted."
        };
        eprintln!(
            "\n✗ {}: {errors} lỗi (errors), {warnings} cảnh báo (warnings).{runs}",
            path.display()
        );
        return Ok(ExitCode::FAILURE);
    };
    measure_loudness(&station);
    print!("{}", describe(&station, Utc::now()));
    // The output is tried, not required: a USB card may come up later, and
    // a running daemon may hold the card right now.
    let mut warnings = warnings;
    match crate::audio::check(&station.output) {
        Ok(_) => println!(
            "\nĐầu ra (output): {} — sẵn sàng (ready)",
            output_name(&station.output)
        ),
        Err(e) => {
            warnings += 1;
            eprintln!(
                "\n{}: warning: [output] {} cannot be opened now: {e}\n  help: if loa is running it may hold the card; otherwise pick another device or kind = \"wav\"",
                path.display(),
                output_name(&station.output)
            );
        }
    }
    println!(
        "\n✓ Hợp lệ (valid): {}, {warnings} cảnh báo (warnings).",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Measure the loudness of every playable file not measured yet, into the
/// cache the daemon reads: `loa check` is where a new station's files are
/// measured, so they air levelled from their first play.
fn measure_loudness(station: &Station) {
    if station.output.loudness_lufs.is_none() {
        return;
    }
    let cache = crate::audio::loudness::cache(&station.data_dir);
    let mut paths: Vec<&Path> = station
        .bulletins
        .iter()
        .filter(|b| b.audio.is_some() && cache.lookup(&b.path).is_none())
        .map(|b| b.path.as_path())
        .collect();
    paths.sort();
    paths.dedup();
    if paths.is_empty() {
        return;
    }
    eprintln!(
        "Đo độ to (measuring loudness, EBU R128) của {} tệp (files)…",
        paths.len()
    );
    for (path, r) in paths
        .iter()
        .zip(check::in_parallel(&paths, |p| cache.level(p)))
    {
        if let Err(e) = r {
            eprintln!("{}: warning: loudness not measured: {e}", path.display());
        }
    }
}

fn output_name(o: &crate::config::Output) -> String {
    match &o.kind {
        crate::config::OutputKind::Device { device } => format!("device \"{device}\""),
        crate::config::OutputKind::Wav { path, .. } => format!("wav {}", path.display()),
        crate::config::OutputKind::Null => "null".to_string(),
    }
}

/// What `loa check` prints about a valid station: audio files and what
/// airs next.
pub fn describe(station: &Station, now: DateTime<Utc>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let tz = station.timezone;
    let _ = writeln!(
        out,
        "Đài (station): {} · mã đài (station id): {}",
        station.name, station.fleet.station_id
    );
    let _ = writeln!(
        out,
        "Múi giờ (timezone): {tz} · {} chiến dịch (campaigns) · {} bản tin (bulletins) · {} chương trình (programmes) · {} tiếp âm (relays)",
        station.campaigns.len(),
        station.bulletins.len(),
        station.programs.len(),
        station.relays.len()
    );
    let mut files: BTreeMap<&str, (&crate::probe::AudioInfo, &Path)> = BTreeMap::new();
    for b in &station.bulletins {
        if let Some(a) = &b.audio {
            files.insert(&b.file, (a, &b.path));
        }
    }
    let _ = writeln!(out, "\nTệp âm thanh (audio files): {}", files.len());
    let mut t = Table::new(&[
        "Tệp (file)",
        "Định dạng",
        "Kênh",
        "Tần số",
        "Thời lượng",
        "Độ to (LUFS)",
        "Đỉnh (dBTP)",
        "Bù (gain)",
    ])
    .right(&[3, 4, 5, 6, 7]);
    let cache = crate::audio::loudness::cache(&station.data_dir);
    for (file, (a, path)) in &files {
        let level = cache.lookup(path);
        let db = |x: f64| {
            if x.is_finite() {
                format!("{x:.1}")
            } else {
                "-∞".to_string()
            }
        };
        let (lufs, peak) = match level {
            Some(l) => (db(l.lufs), db(l.true_peak_dbtp)),
            None => ("chưa đo".to_string(), "chưa đo".to_string()),
        };
        let gain = match (station.output.loudness_lufs, level) {
            (None, _) => "tắt (off)".to_string(),
            (Some(target), Some(l)) => format!("{:+.1} dB", l.gain_db(f64::from(target))),
            (Some(_), None) => "0 dB (chưa đo)".to_string(),
        };
        t.row(vec![
            file.to_string(),
            format!("{}/{}", a.format, a.codec),
            match a.channels {
                1 => "mono".to_string(),
                2 => "stereo".to_string(),
                n => format!("{n} ch"),
            },
            format!("{} Hz", a.sample_rate),
            clock_duration(a.seconds),
            lufs,
            peak,
            gain,
        ]);
    }
    out.push_str(&t.render());
    if !station.relays.is_empty() {
        let _ = writeln!(out, "\nTiếp âm (relays): {}", station.relays.len());
        let mut t = Table::new(&[
            "Mã (id)",
            "Nguồn (source)",
            "Thời lượng",
            "Dự phòng (fallback)",
            "Im lặng (silence)",
        ])
        .right(&[2]);
        for r in &station.relays {
            t.row(vec![
                r.id.clone(),
                r.source.describe(),
                clock_duration(f64::from(r.seconds)),
                r.fallback.map_or("(im lặng)".to_string(), |i| {
                    station.bulletins[i].id.clone()
                }),
                format!(
                    "> {} s dưới {} dBFS",
                    r.silence_after, r.silence_threshold_dbfs
                ),
            ]);
        }
        out.push_str(&t.render());
    }

    let next: Vec<Occurrence> = schedule::schedule(station, now, now + Duration::days(8))
        .into_iter()
        .take(10)
        .collect();
    let _ = writeln!(out, "\nSắp phát (next occurrences):");
    if next.is_empty() {
        let _ = writeln!(
            out,
            "  (không có gì trong 8 ngày tới — nothing in the next 8 days)"
        );
    } else {
        out.push_str(&plan_table(station, &next, false));
    }
    out
}

/// `m:ss` (or `h:mm:ss`) for a number of seconds.
pub fn clock_duration(seconds: f64) -> String {
    let s = seconds.round() as i64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The plan as a table; with a footer of planned minutes per campaign.
fn plan_table(station: &Station, occ: &[Occurrence], footer: bool) -> String {
    let tz = station.timezone;
    let mut t = Table::new(&[
        "Thời gian (time)",
        "Loại (kind)",
        "Mã (id)",
        "Tiêu đề (title)",
        "Mức (priority)",
        "Chiến dịch (campaign)",
        "Thời lượng",
    ])
    .right(&[6]);
    for o in occ {
        t.row(vec![
            o.at.with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            match o.kind {
                ItemKind::Bulletin => "bản tin".to_string(),
                ItemKind::Program => format!("chương trình ({} mục)", o.items.len()),
                ItemKind::Relay => "tiếp âm (relay)".to_string(),
            },
            o.id.to_string(),
            o.title.to_string(),
            report::priority_vi(o.priority).to_string(),
            o.campaign.unwrap_or("").to_string(),
            clock_duration(o.planned_seconds),
        ]);
    }
    let mut out = t.render();
    if footer {
        let mut per: BTreeMap<String, f64> = BTreeMap::new();
        let mut total = 0.0;
        for o in occ {
            total += o.planned_seconds;
            match o.kind {
                ItemKind::Bulletin | ItemKind::Relay => {
                    *per.entry(campaign_name(station, o.campaign)).or_default() += o.planned_seconds
                }
                ItemKind::Program => {
                    for &i in &o.items {
                        let info = station.item_info(i);
                        *per.entry(campaign_name(station, info.campaign))
                            .or_default() += info.seconds;
                    }
                }
            }
        }
        out.push_str(&format!(
            "\n{} lượt phát (occurrences) · dự kiến (planned) {:.1} phút (minutes)\n",
            occ.len(),
            total / 60.0
        ));
        let mut f =
            Table::new(&["Chiến dịch (campaign)", "Phút dự kiến (planned minutes)"]).right(&[1]);
        for (name, secs) in per {
            f.row(vec![name, format!("{:.1}", secs / 60.0)]);
        }
        out.push_str(&f.render());
    }
    out
}

fn campaign_name(station: &Station, id: Option<&str>) -> String {
    match id {
        None => "(không thuộc chiến dịch)".to_string(),
        Some(id) => match station.campaign(id) {
            Some(c) => format!("{} — {}", c.id, c.title),
            None => id.to_string(),
        },
    }
}

/// `--from/--to` as `[from, to)`: today by default (see `crate::range`).
fn day_range(
    station: &Station,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    range::days(station.timezone, from, to, Utc::now()).map_err(flag_error)
}

/// A range error with the fields named as flags.
fn flag_error(e: range::RangeError) -> anyhow::Error {
    anyhow::Error::msg(e.message("--"))
}

/// Longest plan `loa schedule` expands in one go.
const MAX_PLAN_DAYS: i64 = 3 * 366;

/// `loa schedule`
pub fn schedule(path: &Path, from: Option<&str>, to: Option<&str>, json: bool) -> Result<ExitCode> {
    let station = match load_station(path, LoadOptions::default()) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let (from, to) = day_range(&station, from, to)?;
    range::cap(from, to, MAX_PLAN_DAYS).map_err(flag_error)?;
    let occ = schedule::schedule(&station, from, to);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&schedule::plan_json(&station, &occ))?
        );
    } else {
        let tz = station.timezone;
        println!(
            "Lịch phát (plan) {} — {}: {} → {}",
            station.name,
            tz,
            timefmt::rfc3339(from, tz),
            timefmt::rfc3339(to, tz)
        );
        print!("{}", plan_table(&station, &occ, true));
    }
    Ok(ExitCode::SUCCESS)
}

/// Open the ledger of a station for reading commands: read-only, so a
/// report run while the daemon airs never touches the row on air, and never
/// created nor migrated (a root-owned file made by `sudo loa report` would
/// lock the daemon's `loa` user out of it).
fn open_ledger(station: &Station) -> Result<crate::ledger::Ledger> {
    let path = station.ledger_path();
    if !path.exists() {
        bail!(
            "no airtime ledger at {}: the station has not run with this station file yet, or \
             its data_dir is elsewhere; start it with `loa run` (or `systemctl start loa`), \
             or pass the station file it runs with (--config)",
            path.display()
        );
    }
    Ok(crate::ledger::Ledger::open_read_only(
        &path,
        station.timezone,
    )?)
}

/// The station (audio not checked: a missing file must not stop officials
/// from reading the ledger) and its ledger, for the reading commands.
#[allow(clippy::type_complexity)]
fn ledger_station(
    path: &Path,
    campaign: Option<&str>,
) -> Result<Result<(Station, crate::ledger::Ledger), ExitCode>> {
    let opts = LoadOptions {
        audio: false,
        ..Default::default()
    };
    let station = match load_station(path, opts) {
        Ok(s) => s,
        Err(code) => return Ok(Err(code)),
    };
    let ledger = open_ledger(&station)?;
    report::check_campaign(&ledger, &station.campaigns, campaign)?.map_err(anyhow::Error::msg)?;
    Ok(Ok((station, ledger)))
}

/// Which ledger rows `loa airtime` and `loa report` read (`--from`,
/// `--to`, `--campaign`) and how they print them (`--format`).
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub campaign: Option<&'a str>,
    pub format: Format,
}

/// `loa airtime`
pub fn airtime(path: &Path, rows: Rows) -> Result<ExitCode> {
    let (station, ledger) = match ledger_station(path, rows.campaign)? {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let (from, to) = day_range(&station, rows.from, rows.to)?;
    let found = ledger.rows(&crate::ledger::Filter {
        from: Some(from),
        to: Some(to),
        campaign: rows.campaign.map(str::to_string),
    })?;
    print!("{}", report::format_airtime(&found, rows.format));
    Ok(ExitCode::SUCCESS)
}

/// `loa report`
pub fn report(path: &Path, rows: Rows) -> Result<ExitCode> {
    let (station, ledger) = match ledger_station(path, rows.campaign)? {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let filter = report_filter(station.timezone, rows)?;
    let r = report::report(&ledger, &station.campaigns, &filter)?;
    print!("{}", report::format_report(&r, rows.format));
    Ok(ExitCode::SUCCESS)
}

/// `loa say`: read `text` aloud into `out` with the station's `[tts]`
/// engine (the default engine without a station file), for a preview.
pub fn say(config: Option<&Path>, text: &str, out: &Path) -> Result<ExitCode> {
    let tts = match config {
        Some(path) => {
            let opts = LoadOptions {
                audio: false,
                ..LoadOptions::default()
            };
            match load_station(path, opts) {
                Ok(s) => s.tts,
                Err(code) => return Ok(code),
            }
        }
        None => config::Tts::default(),
    };
    let text = text.trim();
    if text.is_empty() {
        bail!("the notice is empty: give the words to read aloud, e.g. loa say \"Kính thưa bà con...\"");
    }
    println!(
        "Đọc là (read as): {}",
        crate::tts::normalize::normalize(text)
    );
    match crate::tts::render(&tts, text, out, crate::tts::Wait::Request) {
        Ok(info) => {
            println!(
                "✓ {} — {} ({:.1} s)",
                out.display(),
                clock_duration(info.seconds),
                info.seconds
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("loa: {}\n  help: {}", e.message, e.hint);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The rows `loa report` sums: `--from`/`--to` read in `tz`.
fn report_filter(tz: chrono_tz::Tz, rows: Rows) -> Result<crate::ledger::Filter> {
    let (from, to) = range::parse(tz, rows.from, rows.to).map_err(flag_error)?;
    Ok(crate::ledger::Filter {
        from,
        to,
        campaign: rows.campaign.map(str::to_string),
    })
}

/// `loa report --postgres URL`: the campaign report across the province's
/// stations, from its database (created or migrated first if needed).
/// Periods are read in Vietnam's time, as the stations' own reports.
pub fn fleet_report(url: &str, rows: Rows, broadcast: Option<&str>) -> Result<ExitCode> {
    print!("{}", fleet_report_text(url, rows, broadcast)?);
    Ok(ExitCode::SUCCESS)
}

/// What `loa report --postgres` prints (the benchmark times it), of one
/// `broadcast` of the province when given (`--broadcast`).
pub fn fleet_report_text(url: &str, rows: Rows, broadcast: Option<&str>) -> Result<String> {
    if let Some(b) = broadcast.filter(|b| !crate::broadcast::usable_id(b)) {
        anyhow::bail!(
            "--broadcast {b:?} is not a broadcast id (letters, digits, -, _, ., at most 64): give \
             the id `loa publish` printed"
        );
    }
    let filter = report_filter(crate::fleet::MONTH_TZ, rows)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let r = crate::fleet::read_report(url, &filter, broadcast)
            .await
            .context("the province's report (--postgres or LOA_POSTGRES)")?;
        anyhow::Ok(crate::fleet::format_fleet_report(&r, rows.format))
    })
}

/// `loa token new NAME ROLE`: a fresh token, printed once, and the station
/// file lines that grant it (its SHA-256 only, never the token).
pub fn token_new(name: &str, role: config::Role) -> Result<ExitCode> {
    print!("{}", token_text(name, role)?);
    Ok(ExitCode::SUCCESS)
}

/// What `loa token new` prints. The name is limited to characters that
/// need no quoting in TOML or in the audit log.
pub fn token_text(name: &str, role: config::Role) -> Result<String> {
    if role == config::Role::Province {
        bail!(
            "the province role is for console users (`loa user add NAME --role province`): \
             bulletins are sent from the console's page /gui-ban-tin or `loa publish`, not the API"
        );
    }
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        bail!(
            "token name `{name}` must be 1 to 64 letters, digits, `-`, `_` or `.`, \
             e.g. `van-hoa-xa-hoi`; it names the token in the audit log"
        );
    }
    let token = token::new_token().context("reading the system's random source")?;
    let hash = token::hex(&token::hash(&token));
    Ok(format!(
        "Mã truy cập mới (new API token) \"{name}\", quyền (role) {role}.\n\
         Lưu lại ngay: mã chỉ hiện một lần, tệp cấu hình chỉ giữ mã băm (store it now: it is shown once):\n\
         \n    {token}\n\n\
         Dán vào tệp cấu hình đài (paste into the station file), rồi nạp lại (then reload: \
         systemctl reload loa, or kill -HUP the daemon):\n\
         \n[[api.token]]\nname = \"{name}\"\nrole = \"{role}\"\nsha256 = \"{hash}\"\n\n\
         Dùng (use): Authorization: Bearer {token}\n"
    ))
}
