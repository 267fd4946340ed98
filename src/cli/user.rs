//! `loa user`: the web console's accounts from a terminal on the station
//! (`sudo loa user add NAME --role admin` when nobody can sign in).
//!
//! Works while the daemon runs: it opens the ledger as `loa user` does
//! everything else, through [`Ledger::open_accounts`], which never touches
//! what the daemon airs. Run as root on an installed station, it gives the
//! files it may have created back to the owner of `data_dir`, so the
//! daemon (user `loa`) can still write them.

use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::check::LoadOptions;
use crate::config::{Role, Station};
use crate::ledger::Ledger;
use crate::table::{render_table, Line};
use crate::web::accounts::{check_name, check_password, hash_password};

/// Where the password comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordFrom {
    /// Asked twice on the terminal, not echoed.
    Terminal,
    /// The first line of standard input (scripts, `--password-stdin`).
    Stdin,
}

fn station(config: &Path) -> Result<Station, ExitCode> {
    super::load_station(
        config,
        LoadOptions {
            audio: false,
            ..LoadOptions::default()
        },
    )
}

fn open(station: &Station) -> Result<Ledger> {
    let path = station.ledger_path();
    let ledger = Ledger::open_accounts(&path, station.timezone)
        .with_context(|| format!("opening the ledger {}", path.display()))?;
    give_back(station);
    Ok(ledger)
}

/// Hand the ledger's files to the owner of `data_dir` (the daemon's user)
/// when they belong to someone else: run with sudo, `loa user` may have
/// made a root-owned `-journal` (or, on a ledger an older loa left in WAL
/// mode, `-wal` or `-shm`) that would stop the daemon writing.
/// Only root can do it; for anyone else there is nothing to hand back.
fn give_back(station: &Station) {
    use std::os::unix::fs::MetadataExt;
    let Ok(dir) = std::fs::metadata(&station.data_dir) else {
        return;
    };
    let db = station.ledger_path();
    let mut files = vec![db.clone()];
    for ext in ["-journal", "-wal", "-shm"] {
        let mut p = db.clone().into_os_string();
        p.push(ext);
        files.push(p.into());
    }
    for f in &files {
        let Ok(meta) = std::fs::metadata(f) else {
            continue;
        };
        if meta.uid() == dir.uid() {
            continue;
        }
        if let Err(e) = std::os::unix::fs::chown(f, Some(dir.uid()), Some(dir.gid())) {
            eprintln!(
                "loa: {} belongs to another user than {} and could not be given back ({e}); \
                 the daemon may not be able to write it",
                f.display(),
                station.data_dir.display()
            );
        }
    }
}

fn read_password(from: PasswordFrom) -> Result<String> {
    match from {
        PasswordFrom::Stdin => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            let password = line.trim_end_matches(['\n', '\r']).to_string();
            check_password(&password)?;
            Ok(password)
        }
        PasswordFrom::Terminal => {
            if !std::io::stdin().is_terminal() {
                bail!(
                    "no terminal to ask the password on: pipe it in with --password-stdin, \
                     e.g. `printf '%s\\n' \"$PASS\" | loa user add NAME --role operator --password-stdin`"
                );
            }
            let first = rpassword::prompt_password("Mật khẩu (password): ")
                .context("reading the password")?;
            check_password(&first)?;
            let second =
                rpassword::prompt_password("Nhập lại (again): ").context("reading the password")?;
            if first != second {
                bail!("the two passwords differ; nothing was changed");
            }
            Ok(first)
        }
    }
}

fn or_exit(r: Result<Station, ExitCode>) -> Result<Station, Result<ExitCode>> {
    r.map_err(Ok)
}

/// `loa user add NAME --role ROLE`
pub fn add(config: &Path, name: &str, role: Role, from: PasswordFrom) -> Result<ExitCode> {
    let station = match or_exit(station(config)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    check_name(name)?;
    if role == Role::Metrics {
        bail!(
            "vai trò metrics chỉ dành cho mã truy cập / the metrics role is for API tokens \
             (a province's Prometheus: `loa token new NAME metrics`); a console user is \
             viewer, operator or admin"
        );
    }
    let password = read_password(from)?;
    let hash = hash_password(&password)?;
    let mut ledger = open(&station)?;
    if !ledger.add_user(name, role, &hash)? {
        bail!(
            "there is already a user `{name}`; change their password with `loa user passwd {name}`"
        );
    }
    ledger.audit("loa user", "user add", &format!("{name} ({role})"), "ok")?;
    give_back(&station);
    println!("Đã thêm người dùng (added user) \"{name}\", vai trò (role) {role}.");
    Ok(ExitCode::SUCCESS)
}

/// `loa user passwd NAME`: also ends the user's sessions.
pub fn passwd(config: &Path, name: &str, from: PasswordFrom) -> Result<ExitCode> {
    let station = match or_exit(station(config)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let password = read_password(from)?;
    let hash = hash_password(&password)?;
    let mut ledger = open(&station)?;
    if !ledger.set_password(name, &hash)? {
        bail!("there is no user `{name}` (see `loa user list`)");
    }
    let ended = ledger.end_sessions_of(name)?;
    ledger.audit("loa user", "user password", name, "ok")?;
    give_back(&station);
    println!(
        "Đã đổi mật khẩu của (password changed for) \"{name}\"; {ended} phiên đăng nhập đã kết thúc (sessions ended)."
    );
    Ok(ExitCode::SUCCESS)
}

/// `loa user remove NAME`
pub fn remove(config: &Path, name: &str) -> Result<ExitCode> {
    let station = match or_exit(station(config)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut ledger = open(&station)?;
    if !ledger.remove_user(name)? {
        bail!("there is no user `{name}` (see `loa user list`)");
    }
    ledger.audit("loa user", "user remove", name, "ok")?;
    give_back(&station);
    println!(
        "Đã xoá người dùng (removed user) \"{name}\" và các phiên của họ (and their sessions)."
    );
    Ok(ExitCode::SUCCESS)
}

/// `loa user list`
pub fn list(config: &Path) -> Result<ExitCode> {
    let station = match or_exit(station(config)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let ledger = open(&station)?;
    let users = ledger.users()?;
    if users.is_empty() {
        println!(
            "Chưa có người dùng nào (no users yet): `sudo loa user add NAME --role admin`, \
             or the setup link `loa run` prints."
        );
        return Ok(ExitCode::SUCCESS);
    }
    let lines: Vec<Line> = users
        .iter()
        .map(|u| {
            Line::Row(vec![
                u.name.clone(),
                u.role.to_string(),
                if u.enabled {
                    "đang dùng (enabled)"
                } else {
                    "đã khoá (disabled)"
                }
                .into(),
                u.created_at.clone(),
            ])
        })
        .collect();
    print!(
        "{}",
        render_table(
            &[
                "Tên (name)",
                "Vai trò (role)",
                "Trạng thái (state)",
                "Tạo lúc (created)"
            ],
            &[false; 4],
            &lines
        )
    );
    Ok(ExitCode::SUCCESS)
}
