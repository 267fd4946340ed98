//! A throwaway PostgreSQL for tests and benchmarks: a cluster made with
//! Debian's `initdb` in a temporary directory, served on a free loopback
//! port (no Unix socket), stopped and started again at will, removed when
//! dropped. As root it runs as `nobody`, since PostgreSQL refuses root. A
//! missing server (`make test-deps` installs `postgresql`) is a failure.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    /// Who runs the server: `None` for this process' user.
    user: Option<&'static str>,
}

/// The newest `/usr/lib/postgresql/N/bin` that has `initdb`.
fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b).unwrap_or_else(|| {
        panic!(
            "PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/initdb): \
             run `make test-deps`, or apt-get install postgresql"
        )
    })
}

impl Postgres {
    /// Make a cluster and start it, tuned for speed: fsync off (tests lose
    /// nothing they need if the machine crashes) and `synchronous_commit =
    /// off` by default, which a crash of the server itself (`stop`) would
    /// turn into lost commits unless the client asks for durable ones, as
    /// the shipper does.
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::Builder::new().prefix("loa-pg").tempdir().unwrap();
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let user = root.then_some("nobody");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        if let Some(u) = user {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            run_ok(Command::new("chown").args([u, data.to_str().unwrap()]));
        }
        let pg = Postgres {
            dir,
            bin,
            port: free_port(),
            user,
        };
        pg.as_server(
            &pg.bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "loa",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        pg.start_again();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_server(&self, program: &Path, args: &[&str]) -> Output {
        let mut cmd = match self.user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.args(args).current_dir("/");
        run_ok(&mut cmd)
    }

    /// Start the server (again) on the same port, waiting until it accepts.
    pub fn start_again(&self) {
        let data = self.data();
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off",
            self.port
        );
        self.as_server(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                data.join("server.log").to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stop the server, cutting its clients off at once.
    pub fn stop(&self) {
        let data = self.data();
        self.as_server(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// The connection string `[fleet] postgres` and `--postgres` take.
    pub fn url(&self) -> String {
        format!("host=127.0.0.1 port={} user=loa dbname=postgres", self.port)
    }

    /// Run SQL with psql; its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let out = run_ok(&mut self.psql_command(sql));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// As [`Postgres::psql`], `None` when psql fails (a table not there yet).
    pub fn try_psql(&self, sql: &str) -> Option<String> {
        let out = self.psql_command(sql).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn psql_command(&self, sql: &str) -> Command {
        let mut cmd = Command::new(self.bin.join("psql"));
        cmd.args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "loa",
            "-d",
            "postgres",
            "-c",
            sql,
        ]);
        cmd
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data();
        let mut cmd = match self.user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(self.bin.join("pg_ctl"));
                c
            }
            None => Command::new(self.bin.join("pg_ctl")),
        };
        let _ = cmd
            .args([
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .current_dir("/")
            .output();
    }
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
