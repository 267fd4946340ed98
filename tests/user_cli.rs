//! `loa user` end to end: add, list, passwd, remove, and the refusals an
//! admin meets at the station's terminal.

use crate::common;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn loa(config: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(common::bin::loa())
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("LOA_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run loa");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn users_are_added_listed_changed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("audio")).unwrap();
    let config = dir.path().join("station.toml");
    let addr = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    std::fs::write(
        &config,
        format!(
            "[station]\nname = \"Xã Thử\"\naudio_dir = \"audio\"\ndata_dir = \"var\"\n\
             [output]\nkind = \"null\"\n[api]\nlisten = \"{addr}\"\n"
        ),
    )
    .unwrap();
    let add = [
        "user",
        "add",
        "chu-tich",
        "--role",
        "admin",
        "--password-stdin",
    ];

    let short = loa(&config, &add, Some("ngan\n"));
    assert!(!short.status.success());
    assert!(text(&short.stderr).contains("at least 8 characters"));

    let ok = loa(&config, &add, Some("mat-khau-dai\n"));
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("Đã thêm người dùng"));
    let again = loa(&config, &add, Some("mat-khau-dai\n"));
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already a user"));

    // No terminal and no --password-stdin: told how.
    let no_tty = loa(&config, &["user", "add", "an", "--role", "viewer"], None);
    assert!(!no_tty.status.success());
    assert!(text(&no_tty.stderr).contains("--password-stdin"));

    let list = loa(&config, &["user", "list"], None);
    let out = text(&list.stdout);
    assert!(out.contains("chu-tich") && out.contains("admin"), "{out}");
    assert!(
        !out.contains("an "),
        "the refused user was not added: {out}"
    );

    // The station's web console takes the password; after `passwd` (the
    // station running meanwhile) it takes the new one and refuses the old.
    let daemon = common::Daemon::start(&config, addr);
    common::sign_in(addr, "chu-tich", "mat-khau-dai");
    let pw = loa(
        &config,
        &["user", "passwd", "chu-tich", "--password-stdin"],
        Some("mat-khau-moi-1\n"),
    );
    assert!(pw.status.success(), "{}", text(&pw.stderr));
    common::sign_in(addr, "chu-tich", "mat-khau-moi-1");
    let old = common::try_sign_in(addr, "chu-tich", "mat-khau-dai");
    assert!(
        matches!(old, Err((401, _))),
        "the old password still signs in: {old:?}\n{}",
        daemon.log_text()
    );
    drop(daemon);
    let gone = loa(&config, &["user", "remove", "chu-tich"], None);
    assert!(gone.status.success());
    let gone = loa(&config, &["user", "remove", "chu-tich"], None);
    assert!(text(&gone.stderr).contains("no user `chu-tich`"));
    let list = loa(&config, &["user", "list"], None);
    assert!(text(&list.stdout).contains("Chưa có người dùng"));
}
