//! `loa`: the command line. Each subcommand is a thin wiring of library
//! parts; the work lives in `loa::cli` so it can be tested.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use loa::cli;

#[derive(Parser)]
#[command(
    name = "loa",
    version,
    about = "Broadcast scheduler for commune radio stations (đài truyền thanh cơ sở)",
    long_about = "loa plays scheduled audio bulletins on the loudspeaker line from a TOML \
station file, answers an HTTP control API, and keeps an airtime ledger that officials \
report from.\n\nThe station file is --config PATH, else $LOA_CONFIG, else /etc/loa/station.toml."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct ConfigArg {
    /// The station file [default: $LOA_CONFIG, then /etc/loa/station.toml]
    #[arg(long, short = 'c', env = "LOA_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
}

impl ConfigArg {
    fn path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| PathBuf::from("/etc/loa/station.toml"))
    }
}

#[derive(Args, Clone)]
struct RangeArgs {
    /// First day (YYYY-MM-DD, the station's local date) or instant (RFC 3339)
    #[arg(long, value_name = "WHEN")]
    from: Option<String>,
    /// Last day, inclusive (YYYY-MM-DD), or an instant (RFC 3339, exclusive)
    #[arg(long, value_name = "WHEN")]
    to: Option<String>,
}

/// The ledger rows `loa airtime` and `loa report` read, and their format.
#[derive(Args, Clone)]
struct RowsArgs {
    #[command(flatten)]
    range: RangeArgs,
    /// Only this campaign's rows
    #[arg(long, value_name = "ID")]
    campaign: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    format: loa::report::Format,
}

impl RowsArgs {
    fn rows(&self) -> cli::Rows<'_> {
        cli::Rows {
            from: self.range.from.as_deref(),
            to: self.range.to.as_deref(),
            campaign: self.campaign.as_deref(),
            format: self.format,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum PlanFormat {
    Table,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum TokenRole {
    Metrics,
    Viewer,
    /// A console user on the province's central host who sends bulletins
    Province,
    Operator,
    Admin,
}

impl From<TokenRole> for loa::config::Role {
    fn from(r: TokenRole) -> Self {
        match r {
            TokenRole::Metrics => loa::config::Role::Metrics,
            TokenRole::Viewer => loa::config::Role::Viewer,
            TokenRole::Province => loa::config::Role::Province,
            TokenRole::Operator => loa::config::Role::Operator,
            TokenRole::Admin => loa::config::Role::Admin,
        }
    }
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a new API token: prints it once, and the lines to paste into the station file
    #[command(after_help = "Example:\n  loa token new van-hoa-xa-hoi operator\n\n\
Roles: metrics (read /metrics only: a province's Prometheus), viewer (read\n\
status, plan, reports), operator (also queue, skip, pause,\n\
emergency, upload), admin (also reload, audit log). The station file keeps only\n\
the token's SHA-256; reload the daemon (SIGHUP) after pasting.")]
    New {
        /// A name for the token, shown in the audit log (letters, digits, - _ .)
        name: String,
        #[arg(value_enum)]
        role: TokenRole,
    },
}

#[derive(Args, Clone)]
struct PasswordArg {
    /// Read the password from the first line of standard input instead of
    /// asking twice on the terminal.
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordArg {
    fn from(&self) -> cli::user::PasswordFrom {
        if self.password_stdin {
            cli::user::PasswordFrom::Stdin
        } else {
            cli::user::PasswordFrom::Terminal
        }
    }
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user who signs in to the web console.
    #[command(
        after_help = "Examples:\n  sudo loa user add chu-tich --role admin\n  \
printf '%s\\n' \"$PASS\" | loa user add van-thu --role operator --password-stdin\n\n\
Roles: viewer (sees the pages), province (cán bộ tỉnh: a viewer who also sends bulletins\n\
to the stations from the central host's /gui-ban-tin), operator (also queues, skips, pauses,\n\
airs emergencies, records and uploads), admin (also manages users on /tai-khoan and may\n\
send bulletins). Passwords: at least 8\n\
characters, kept as argon2 hashes in the ledger. Works while `loa run` runs."
    )]
    Add {
        name: String,
        #[arg(long, value_enum)]
        role: TokenRole,
        #[command(flatten)]
        password: PasswordArg,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Set a new password (the user's sessions end).
    Passwd {
        name: String,
        #[command(flatten)]
        password: PasswordArg,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Remove a user and end their sessions.
    Remove {
        name: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List the web console's users.
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Run the station: play what is due, record it in the ledger
    #[command(after_help = "Example:\n  loa run --config config/station.toml\n\n\
A bulletin whose audio file is missing or broken is recorded failed when due; the rest airs.\n\
A station file that cannot run (syntax, unknown keys, bad times or references) is refused:\n\
the last good copy (data_dir/last-good-station.toml) runs instead, or nothing starts.\n\
SIGTERM/SIGINT: fade out, record the airing item as interrupted, exit.\n\
SIGHUP: reload the station file (one that cannot run is ignored, with its errors logged).\n\
Log level: LOA_LOG=debug (default info).")]
    Run {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Check a station file: every problem at once, audio probed, next occurrences
    #[command(after_help = "Example:\n  loa check --config config/station.toml\n\n\
Exit status: 0 when the file is valid (warnings allowed), 1 when it has errors.")]
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Show what will air, and when
    #[command(
        after_help = "Examples:\n  loa schedule --config config/station.toml\n  \
loa schedule --from 2026-10-01 --to 2026-10-31 --format json\n\n\
Dates are the station's local dates; --to is inclusive. Default: today."
    )]
    Schedule {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        range: RangeArgs,
        #[arg(long, value_enum, default_value = "table")]
        format: PlanFormat,
    },
    /// List the airtime ledger: what aired, was missed, skipped or failed
    #[command(
        after_help = "Examples:\n  loa airtime --from 2026-10-01 --to 2026-10-31 --campaign cds-2026\n  \
loa airtime --format csv > airtime.csv\n\nDefault: today."
    )]
    Airtime {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        rows: RowsArgs,
    },
    /// Report airtime per campaign and bulletin (plays, outcomes, minutes, target)
    #[command(
        after_help = "Examples:\n  loa report --from 2026-10-01 --to 2026-10-31 --campaign cds-2026\n  \
loa report --format csv > bao-cao.csv   (UTF-8 with BOM, opens in Excel)\n\n\
Default: the whole ledger."
    )]
    Report {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        rows: RowsArgs,
        /// The province's report, across stations, from its PostgreSQL
        /// (where stations with `[fleet] postgres` copy their airtime);
        /// --config is not read then
        #[arg(long, value_name = "URL", env = "LOA_POSTGRES", hide_env_values = true)]
        postgres: Option<String>,
        /// With --postgres: only the rows one bulletin of the province aired
        /// (the id `loa publish` printed)
        #[arg(long, value_name = "ID", requires = "postgres")]
        broadcast: Option<String>,
    },
    /// Read a typed notice aloud into a WAV file, to hear it before it airs
    #[command(
        after_help = "Examples:\n  loa say \"Kính thưa bà con, 17:30 ngày 10/10 họp tổ dân phố.\"\n  \
loa say --config config/station.toml --out thong-bao.wav \"...\"\n\n\
Uses the station file's [tts] engine and voice (default: espeak-ng's Vietnamese voice;\n\
without a station file, the default). Prints how numbers, dates and times are read."
    )]
    Say {
        /// The notice, as operators would type it
        text: String,
        /// The WAV file to write
        #[arg(long, short = 'o', value_name = "FILE", default_value = "loa-say.wav")]
        out: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// API tokens
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The web console's users (who signs in to the pages).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The province: send signed bulletins to stations through MQTT
    #[command(
        after_help = "Examples:\n  loa publish keygen --out /etc/loa/tinh.key\n  \
loa publish --broker mqtts://mqtt.tinh.gov.vn --key tinh.key --priority emergency \\\n    \
--text \"Bão số 3 ...\" --targets all --expires 6h --repeat-every 30m --until 18:00\n  \
loa publish status --broker mqtts://mqtt.tinh.gov.vn b20261206-101500-a1b2c3\n  \
loa publish stations --broker mqtts://mqtt.tinh.gov.vn --username tinh --password-file tinh.pw"
    )]
    Publish(Box<cli::publish::PublishArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config } => cli::run(&config.path()),
        Command::Check { config } => cli::check(&config.path()),
        Command::Schedule {
            config,
            range,
            format,
        } => cli::schedule(
            &config.path(),
            range.from.as_deref(),
            range.to.as_deref(),
            matches!(format, PlanFormat::Json),
        ),
        Command::Airtime { config, rows } => cli::airtime(&config.path(), rows.rows()),
        Command::Report {
            postgres: Some(url),
            rows,
            broadcast,
            ..
        } => cli::fleet_report(&url, rows.rows(), broadcast.as_deref()),
        Command::Report {
            config,
            rows,
            postgres: None,
            ..
        } => cli::report(&config.path(), rows.rows()),
        Command::Say { text, out, config } => {
            // The default station file is used when it exists; without one
            // the default engine reads.
            let path = config.config.clone().or_else(|| {
                let p = config.path();
                p.is_file().then_some(p)
            });
            cli::say(path.as_deref(), &text, &out)
        }
        Command::Token {
            command: TokenCommand::New { name, role },
        } => cli::token_new(&name, role.into()),
        Command::Publish(args) => cli::publish::main(*args),
        Command::User { command } => match command {
            UserCommand::Add {
                name,
                role,
                password,
                config,
            } => cli::user::add(&config.path(), &name, role.into(), password.from()),
            UserCommand::Passwd {
                name,
                password,
                config,
            } => cli::user::passwd(&config.path(), &name, password.from()),
            UserCommand::Remove { name, config } => cli::user::remove(&config.path(), &name),
            UserCommand::List { config } => cli::user::list(&config.path()),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loa: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
