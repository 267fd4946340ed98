//! The listener under the two LAN attacks of issue 17, measured on the
//! release binary (`cargo bench --bench attack`; about two minutes):
//!
//! - the daemon's resident memory idle, at its peak during 200 sign-ins
//!   (40 loopback addresses × 5, on 16 concurrent clients: one right
//!   password, four wrong ones under new names from each address), just
//!   after, and after the password thread's idle release;
//! - how long `/healthz` (asked from 127.0.0.1 every 200 ms) is
//!   unavailable while 300 slow request bodies (15 from each of
//!   127.0.0.2…21, one byte every 5 s) are held, and when the server
//!   closed them.
//!
//! Prints, never asserts (tests/attack_http.rs asserts the bounds).

use common::attack;
#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

fn main() {
    let (_dir, daemon) = attack::station();
    let pid = daemon.child.id();
    let _ = common::request(daemon.addr, "GET", "/dang-nhap", None, None);
    std::thread::sleep(Duration::from_millis(500));
    let idle = attack::rss_kb(pid);
    let storm = attack::sign_in_storm(daemon.addr, pid, 10, 40, 5, 16);
    std::thread::sleep(Duration::from_secs(1));
    let after = attack::rss_kb(pid);
    // The password thread gives its buffer back after 30 s without work.
    let settle = Instant::now();
    std::thread::sleep(Duration::from_secs(35));
    let settled = attack::rss_kb(pid);
    println!(
        "200 sign-ins (16 at once, 40 addresses) in {:.1} s: answers {:?}, {} unanswered",
        storm.elapsed.as_secs_f64(),
        storm.statuses,
        storm.failed
    );
    println!(
        "  RSS idle {}, peak {}, 1 s after {}, {:.0} s after {}",
        mib(idle),
        mib(storm.peak_rss_kb),
        mib(after),
        settle.elapsed().as_secs_f64() + 1.0,
        mib(settled)
    );

    let hold = Duration::from_secs(45);
    let a = attack::slow_body_attack(daemon.addr, 300, 2, 15, hold);
    let mut closed: Vec<Duration> = a.closed_after.iter().flatten().copied().collect();
    closed.sort();
    let open = a.closed_after.len() - closed.len();
    let at = |p: f64| {
        closed
            .get(((closed.len() as f64 - 1.0) * p).round() as usize)
            .map_or("-".to_string(), |d| format!("{:.1} s", d.as_secs_f64()))
    };
    println!("300 slow bodies (15 from each of 20 addresses, 1 byte / 5 s), held at most {hold:?}");
    println!(
        "  /healthz from 127.0.0.1: longest without an answer {:.2} s ({} ok, {} failed)",
        a.longest_gap.as_secs_f64(),
        a.healthz_ok,
        a.healthz_failed
    );
    println!(
        "  closed by the server: median {}, p90 {}, last {}; {open} still open at the end",
        at(0.5),
        at(0.9),
        at(1.0)
    );
}
