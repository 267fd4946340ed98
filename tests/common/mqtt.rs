//! A real Mosquitto on loopback for the province's tests and benchmark
//! (tests/province.rs, benches/province.rs): a password for `tinh` and
//! each station (`pw-USER`, also in `USER.pw`), the shipped ACL
//! (deploy/mosquitto/loa.acl) plus each station's district and any extra
//! lines. Needs `mosquitto` and `mosquitto-clients`; fails loudly without.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(40);

pub struct Broker {
    pub pid: u32,
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    /// Listening with TLS (`mqtts://`).
    pub tls: bool,
}

fn mosquitto(conf: &Path) -> Child {
    Command::new("mosquitto")
        .args(["-c", conf.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto (apt-get install mosquitto; make test-deps)")
}

fn wait_listening(port: u16) {
    let give_up = Instant::now() + PATIENCE;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < give_up,
            "mosquitto did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Broker {
    /// Mosquitto with a password for `tinh` and each station, and the
    /// shipped ACL plus each station's district.
    pub fn start(dir: &Path, stations: &[(&str, &str)], extra_acl: &str) -> Broker {
        let dir = dir.join("broker");
        let (passwd, acl) = users_and_acl(&dir, stations, extra_acl);
        let port = super::free_port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "user root\nper_listener_settings false\nallow_anonymous false\n\
                 password_file {p}\nacl_file {a}\npersistence true\npersistence_location {d}/\n\
                 max_queued_messages 1000\nmessage_size_limit 17000000\n\
                 log_dest file {d}/mosquitto.log\nlistener {port} 127.0.0.1\n",
                p = passwd.display(),
                a = acl.display(),
                d = dir.display(),
            ),
        )
        .unwrap();
        Broker::launch(&conf, port, dir, false)
    }

    /// Mosquitto with `conf`, once it listens on `port`.
    fn launch(conf: &Path, port: u16, dir: PathBuf, tls: bool) -> Broker {
        let child = mosquitto(conf);
        wait_listening(port);
        Broker {
            pid: child.id(),
            child,
            port,
            dir,
            tls,
        }
    }

    /// Mosquitto with the shipped deploy/mosquitto/mosquitto.conf, its
    /// paths substituted and its TLS listener moved to loopback, with a
    /// server certificate for 127.0.0.1 signed by a CA made here with
    /// `openssl` (at `ca.pem` in the broker's folder).
    pub fn start_shipped_tls(dir: &Path, stations: &[(&str, &str)]) -> Broker {
        let dir = dir.join("broker");
        let (passwd, acl) = users_and_acl(&dir, stations, "");
        let (cert, key) = make_ca_and_server(&dir, "ca");
        let port = super::free_port();
        let shipped = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/mosquitto/mosquitto.conf"),
        )
        .unwrap();
        let conf = shipped
            .replace("/etc/mosquitto/loa.passwd", passwd.to_str().unwrap())
            .replace("/etc/mosquitto/loa.acl", acl.to_str().unwrap())
            .replace(
                "/etc/mosquitto/certs/mqtt.tinh.gov.vn.crt",
                cert.to_str().unwrap(),
            )
            .replace(
                "/etc/mosquitto/certs/mqtt.tinh.gov.vn.key",
                key.to_str().unwrap(),
            )
            .replace("listener 8883", &format!("listener {port} 127.0.0.1"));
        assert!(
            conf.contains(&format!("listener {port} 127.0.0.1")),
            "{conf}"
        );
        // Root in a test (mosquitto would drop to its own user), the
        // persistence and the log in the test's folder.
        let conf = format!(
            "user root\npersistence_location {d}/\nlog_dest file {d}/mosquitto.log\n{conf}",
            d = dir.display()
        );
        let path = dir.join("mosquitto.conf");
        std::fs::write(&path, conf).unwrap();
        Broker::launch(&path, port, dir, true)
    }
}

/// `openssl`, which must succeed.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (apt-get install openssl; make test-deps)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`NAME.pem`) and, when `NAME` is `ca`, a server certificate for
/// 127.0.0.1 it signed (`server.crt`, `server.key`) in `dir`.
pub fn make_ca_and_server(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let (ca_key, ca) = (format!("{name}.key"), format!("{name}.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-subj",
            "/CN=Test province CA",
        ],
    );
    if name != "ca" {
        return (dir.join(&ca), dir.join(&ca_key));
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = CA:FALSE\n\
         keyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "server.crt",
            "-extfile",
            "san.ext",
        ],
    );
    (dir.join("server.crt"), dir.join("server.key"))
}

/// The password file (`tinh` and each station, `pw-USER`, also in
/// `USER.pw`) and the shipped ACL plus each station's district and
/// `extra_acl`, in `dir`.
fn users_and_acl(dir: &Path, stations: &[(&str, &str)], extra_acl: &str) -> (PathBuf, PathBuf) {
    {
        std::fs::create_dir_all(dir).unwrap();
        let passwd = dir.join("passwd");
        let mut acl = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/mosquitto/loa.acl"),
        )
        .unwrap();
        let mut users = vec!["tinh"];
        for (id, district) in stations {
            users.push(id);
            acl.push_str(&format!(
                "\nuser {id}\ntopic read loa/v1/district/{district}/bulletin\n"
            ));
        }
        for (i, u) in users.iter().enumerate() {
            std::fs::write(dir.join(format!("{u}.pw")), format!("pw-{u}\n")).unwrap();
            let mut c = Command::new("mosquitto_passwd");
            if i == 0 {
                c.arg("-c");
            }
            let ok = c
                .args(["-b", passwd.to_str().unwrap(), u, &format!("pw-{u}")])
                .status()
                .expect("mosquitto_passwd (apt-get install mosquitto; make test-deps)");
            assert!(ok.success());
        }
        acl.push_str(extra_acl);
        std::fs::write(dir.join("acl"), acl).unwrap();
        (passwd, dir.join("acl"))
    }
}

impl Broker {
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn restart(&mut self) {
        self.child = mosquitto(&self.dir.join("mosquitto.conf"));
        self.pid = self.child.id();
        wait_listening(self.port);
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn password_file(&self, user: &str) -> PathBuf {
        self.dir.join(format!("{user}.pw"))
    }

    /// `mosquitto_pub` as `user`: publish `body` on `topic`, QoS 1.
    pub fn raw_publish(&self, user: &str, topic: &str, body: &[u8]) {
        let file = self.dir.join("raw.msg");
        std::fs::write(&file, body).unwrap();
        let ok = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q", "1"])
            .args(["-u", user, "-P", &format!("pw-{user}"), "-t", topic])
            .args(["-f", file.to_str().unwrap()])
            .status()
            .expect("mosquitto_pub (apt-get install mosquitto-clients)");
        assert!(ok.success());
    }

    /// Capture the next message on `topic` as `user` (in the background).
    /// Answers once subscribed (`mosquitto_sub -d` saw the SUBACK).
    pub fn capture(&self, user: &str, topic: &str) -> Capture {
        // Line-buffered: its debug lines say when it has subscribed.
        let mut child = Command::new("stdbuf")
            .args([
                "-oL",
                "mosquitto_sub",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-q",
                "1",
            ])
            .args(["-u", user, "-P", &format!("pw-{user}"), "-t", topic])
            .args(["-C", "1", "-W", "60", "-d"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("mosquitto_sub (apt-get install mosquitto-clients)");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("SUBACK") {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "mosquitto_sub never subscribed"
            );
        }
        Capture { child, out }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `loa ARGS`, which must succeed: what it printed, trimmed.
pub fn loa(args: &[&str]) -> String {
    let out = Command::new(super::bin::loa()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "loa {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A `mosquitto_sub` waiting for one message.
pub struct Capture {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Capture {
    /// The message (a one-line JSON envelope), as it crossed the wire.
    pub fn message(mut self) -> Vec<u8> {
        let mut line = String::new();
        while !line.starts_with('{') {
            line.clear();
            assert!(
                self.out.read_line(&mut line).unwrap() > 0,
                "no message captured"
            );
        }
        let _ = self.child.wait();
        line.trim_end_matches('\n').as_bytes().to_vec()
    }
}
